//! `kubectl kas [OPTIONS] [.FLAVOR] COMMAND [ARGS...]`.
//!
//! kubectl hands a plugin its words exactly as typed, so `-`, `--` and
//! anything after the command (options for `docker build`, `docker run`,
//! the command to run in the container) are parsed here: clap takes the
//! options in front, everything from the first other word on is ours.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::app::cli::Common;
use crate::clis::kubectl::Target;

pub const COMMANDS: &str = "\
Commands (Docker mode):
  build [DOCKER_BUILD_ARGS...]       build the image NAME (kas, or kas.FLAVOR)
  push                               push it to the registry and merge the multi-arch list
  run [DOCKER_RUN_ARGS...] [-- CMD...]
                                     run the container NAME (ports, mounts, limits set)
  run -                              remove the container
  exec [CMD...]                      run CMD (default: the shell) in the running container
  shell                              a shell in the container, starting one if none runs
  jlab                               JupyterLab in the container, opened in the browser
  tboard                             TensorBoard over HOME/ray_results, opened in the browser
  dash                               open the Ray dashboard

Kubernetes mode (`kubectl kas . COMMAND`, or --k8s), on the head pod of a RayCluster:
  . exec [CMD...]                    run CMD (default: the shell) on the head pod
  . shell                            a shell on the head pod
  . dash [-]                         forward the dashboard's port and open it; `-` stops that
  . jlab                             JupyterLab on the head pod, forwarded and opened
  . tboard                           TensorBoard on the head pod, forwarded and opened
  kfwd PORT [LOCAL]                  keep 127.0.0.1:LOCAL (default PORT) forwarded to the
                                     head pod's PORT, across head pod restarts
  kfwd PORT -                        stop that forward
  kfwd                               list the forwards (and forget dead ones)
  kfwd - | kfwd --all -              stop every forward
With WANDB_API_KEY set, the secret wandb-secret is kept holding it.

Examples:
  kubectl kas build --build-arg RAY_VERSION=2.60.0
  kubectl kas .dev run -d -- sleep infinity
  kubectl kas exec python -V
  kubectl kas run -
  kubectl kas --cluster gke-gpu-only . exec ray status
  kubectl kas kfwd 8265 18265

Completion: kubectl completes `kubectl kas` by running kubectl_complete-kas (installed beside
kubectl-kas) from PATH.";

#[derive(clap::Parser, Debug)]
#[command(
    name = "kubectl-kas",
    bin_name = "kubectl kas",
    about = "Build, run and push the project's container image",
    override_usage = "kubectl kas [OPTIONS] [.FLAVOR] COMMAND [ARGS...]",
    after_help = COMMANDS,
    version = crate::app::cli::VERSION,
    mut_arg("namespace", |a| a.help("Kubernetes mode: the namespace of the RayCluster (default: the context's)"))
)]
pub struct Args {
    /// Run the read-only queries, print the changes instead of making them
    #[arg(long)]
    pub dry_run: bool,
    /// Print each command as it runs
    #[arg(long, short)]
    pub verbose: bool,
    /// The project file (default: the nearest kas.yaml above this folder, or $KAS_CONFIG)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Kubernetes mode: act on the head pod of a Ray cluster (same as `.`)
    #[arg(long)]
    pub k8s: bool,
    /// Kubernetes mode: the RayCluster to use when there are several
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub target: Target,
    /// Recreate wandb-secret without asking when it differs from WANDB_API_KEY
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// (internal) Run as the supervisor of a port-forward described by this JSON
    #[arg(long, value_name = "JSON", hide = true)]
    pub supervise_forward: Option<String>,
    /// [.FLAVOR] COMMAND [ARGS...]
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true
    )]
    pub words: Vec<String>,
}

impl Args {
    pub fn common(&self) -> Common {
        Common {
            dry_run: self.dry_run,
            verbose: self.verbose,
            config: self.config.clone(),
            ..Common::default()
        }
    }

    /// Where Kubernetes mode connects.
    pub fn target(&self) -> Target {
        self.target.clone()
    }
}

/// Where a command acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The local Docker engine; `Some(F)` for `.F`.
    Docker { flavor: Option<String> },
    /// The head pod of a Ray cluster (`.` or `--k8s`).
    Kubernetes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Build(Vec<String>),
    Push,
    Run {
        docker_args: Vec<String>,
        cmd: Vec<String>,
    },
    Remove,
    Exec(Vec<String>),
    Shell,
    Jlab,
    Tboard,
    Dash {
        stop: bool,
    },
    Kfwd(Kfwd),
}

/// What `kfwd` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kfwd {
    /// `kfwd`: list the forwards.
    List,
    /// `kfwd PORT [LOCAL]`.
    Start { remote: u16, local: u16 },
    /// `kfwd PORT -`.
    Stop { port: u16 },
    /// `kfwd -`, `kfwd --all -`.
    StopAll,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub mode: Mode,
    pub command: Command,
}

/// Reads `[.FLAVOR] COMMAND [ARGS...]`.
pub fn parse_words(words: &[String], k8s: bool) -> Result<Invocation> {
    let mut rest = words;
    let mut mode = if k8s {
        Mode::Kubernetes
    } else {
        Mode::Docker { flavor: None }
    };
    if let Some(first) = rest.first().filter(|w| w.starts_with('.')) {
        mode = match &first[1..] {
            "" => Mode::Kubernetes,
            flavor => Mode::Docker {
                flavor: Some(check_flavor(flavor)?),
            },
        };
        rest = &rest[1..];
    }
    let Some((word, args)) = rest.split_first() else {
        bail!(
            "no command given: expected one of build, push, run, exec, shell, jlab, tboard, dash"
        );
    };
    let args = args.to_vec();
    let no_args = |command: Command| -> Result<Command> {
        if let Some(extra) = args.first() {
            bail!("`{word}` takes no arguments (got `{extra}`)");
        }
        Ok(command)
    };
    let command = match word.as_str() {
        "build" => Command::Build(args),
        "push" => no_args(Command::Push)?,
        "run" if args == ["-"] => Command::Remove,
        "run" => {
            let (docker_args, cmd) = match args.iter().position(|a| a == "--") {
                Some(i) => (args[..i].to_vec(), args[i + 1..].to_vec()),
                None => (args, Vec::new()),
            };
            Command::Run { docker_args, cmd }
        }
        "exec" => Command::Exec(args),
        "shell" => no_args(Command::Shell)?,
        "jlab" => no_args(Command::Jlab)?,
        "tboard" => no_args(Command::Tboard)?,
        "dash" => match args.as_slice() {
            [] => Command::Dash { stop: false },
            [dash] if dash == "-" => Command::Dash { stop: true },
            [other, ..] => bail!("`dash` takes only `-` (got `{other}`)"),
        },
        "kfwd" => {
            mode = Mode::Kubernetes;
            Command::Kfwd(parse_kfwd(&args)?)
        }
        other => bail!(
            "unknown command `{other}`: expected one of build, push, run, exec, shell, jlab, tboard, dash, kfwd"
        ),
    };
    Ok(Invocation { mode, command })
}

fn parse_kfwd(args: &[String]) -> Result<Kfwd> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match words.as_slice() {
        [] => Kfwd::List,
        ["-"] | ["--all", "-"] | ["-", "--all"] => Kfwd::StopAll,
        [port] => Kfwd::Start {
            remote: port_number(port)?,
            local: port_number(port)?,
        },
        [port, "-"] => Kfwd::Stop {
            port: port_number(port)?,
        },
        [port, local] => Kfwd::Start {
            remote: port_number(port)?,
            local: port_number(local)?,
        },
        _ => bail!(
            "`kfwd` takes PORT [LOCAL], PORT -, - or nothing (got `{}`)",
            words.join(" ")
        ),
    })
}

fn port_number(word: &str) -> Result<u16> {
    match word.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => bail!("`{word}` is not a port number (1 to 65535)"),
    }
}

/// A flavor becomes part of image and container names.
fn check_flavor(flavor: &str) -> Result<String> {
    let ok = flavor
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && flavor.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        bail!(
            "`.{flavor}` is not a valid flavor: use lowercase letters, digits, `-` and `_` (as in `.dev`)"
        );
    }
    Ok(flavor.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn parse(line: &str) -> Invocation {
        parse_words(&words(line), false).unwrap()
    }

    #[test]
    fn flavor_then_command() {
        let inv = parse(".dev build --build-arg X=1");
        assert_eq!(
            inv.mode,
            Mode::Docker {
                flavor: Some("dev".into())
            }
        );
        assert_eq!(inv.command, Command::Build(words("--build-arg X=1")));
        assert_eq!(parse("push").mode, Mode::Docker { flavor: None });
    }

    #[test]
    fn run_splits_docker_options_from_the_command() {
        assert_eq!(
            parse("run -d -e A=1 -- sleep 600 -- x").command,
            Command::Run {
                docker_args: words("-d -e A=1"),
                cmd: words("sleep 600 -- x"),
            }
        );
        assert_eq!(
            parse("run").command,
            Command::Run {
                docker_args: vec![],
                cmd: vec![]
            }
        );
        assert_eq!(parse("run -").command, Command::Remove);
    }

    #[test]
    fn a_lone_dot_and_kfwd_are_kubernetes() {
        assert_eq!(parse(". exec echo hi").mode, Mode::Kubernetes);
        assert_eq!(parse("kfwd 8265 -").mode, Mode::Kubernetes);
        assert_eq!(
            parse_words(&words("exec ls"), true).unwrap().mode,
            Mode::Kubernetes
        );
    }

    #[test]
    fn mistakes_are_named() {
        let err = |line: &str| parse_words(&words(line), false).unwrap_err().to_string();
        assert!(err("").contains("no command given"));
        assert!(err(".dev").contains("no command given"));
        assert!(err("biuld").contains("unknown command `biuld`"));
        assert!(err("push now").contains("takes no arguments"));
        assert!(err(".Dev run").contains("not a valid flavor"));
        assert!(err("dash 1").contains("only `-`"));
        assert!(err("kfwd http").contains("not a port number"));
        assert!(err("kfwd 0").contains("not a port number"));
        assert!(err("kfwd 1 2 3").contains("takes PORT [LOCAL]"));
    }

    #[test]
    fn kfwd_forms() {
        let kfwd = |line: &str| match parse(line).command {
            Command::Kfwd(k) => k,
            other => panic!("{other:?}"),
        };
        assert_eq!(kfwd("kfwd"), Kfwd::List);
        assert_eq!(kfwd("kfwd -"), Kfwd::StopAll);
        assert_eq!(kfwd("kfwd --all -"), Kfwd::StopAll);
        assert_eq!(
            kfwd("kfwd 8265"),
            Kfwd::Start {
                remote: 8265,
                local: 8265
            }
        );
        assert_eq!(
            kfwd("kfwd 8265 18265"),
            Kfwd::Start {
                remote: 8265,
                local: 18265
            }
        );
        assert_eq!(kfwd("kfwd 8265 -"), Kfwd::Stop { port: 8265 });
    }

    #[test]
    fn options_before_the_command_are_ours_after_it_dockers() {
        let args = Args::try_parse_from(words(
            "kubectl-kas --dry-run -v --config k.yaml .dev run --dry-run -it",
        ))
        .unwrap();
        assert!(args.dry_run && args.verbose);
        assert_eq!(args.config, Some(PathBuf::from("k.yaml")));
        assert_eq!(args.words, words(".dev run --dry-run -it"));
    }
}
