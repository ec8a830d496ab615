//! The command lines of KubeRay's own kubectl plugin (`kubectl ray get
//! cluster`, `create cluster`, `scale cluster`, `delete`, `version`, `job
//! submit`, `log`, `session`, ...), with the same flags, meaning and table
//! columns, beside this plugin's `+ = - == ++ -- convert`. [`dispatch`]
//! takes a command line whose first word is one of KubeRay's and leaves
//! every other to the symbol grammar.

mod create;
mod delete;
mod flags;
mod get;
mod job;
mod log;
mod resource;
mod scale;
mod session;
mod table;
mod version;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;

use crate::app::cli::{self, Common, Ctx, EXIT_USAGE, Format, VERSION};
use crate::app::driver;
use crate::clis::kubectl::Target;

/// KubeRay's words this module answers (`list` is `get`'s alias, `logs`
/// is `log`'s).
pub const WORDS: &[&str] = &[
    "get", "list", "version", "create", "delete", "scale", "job", "log", "logs", "session",
];

/// What each of KubeRay's words does, for completion.
pub const WORD_HELP: &[(&str, &str)] = &[
    (
        "get",
        "show RayClusters, worker groups, nodes or a cluster's token (KubeRay's `get`)",
    ),
    (
        "create",
        "make a RayCluster or a worker group from flags (KubeRay's `create`)",
    ),
    (
        "scale",
        "set a worker group's replicas and bounds (KubeRay's `scale cluster`)",
    ),
    (
        "delete",
        "delete RayClusters, RayJobs, RayServices (KubeRay's `delete`)",
    ),
    (
        "version",
        "this plugin's version and the KubeRay operator's",
    ),
    (
        "job",
        "submit a Ray job to a RayCluster and follow it; list, status, logs, stop (KubeRay's `job submit`)",
    ),
    (
        "log",
        "download a RayCluster's pod logs and Ray session logs (KubeRay's `log`)",
    ),
    (
        "session",
        "forward the dashboard and client ports of a RayCluster in the foreground (KubeRay's `session`)",
    ),
];

/// The flags every KubeRay word takes: kubectl's connection flags and
/// this project's own.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Global {
    /// The kubeconfig file (default: KUBECONFIG, else ~/.kube/config)
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's)
    #[arg(long, short = 'n', value_name = "NAME", global = true)]
    pub namespace: Option<String>,
    /// Run the read-only queries, print the changes instead of making them
    /// (`create cluster --dry-run`: with the RayCluster YAML in full; `job
    /// submit --dry-run --name`: the RayJob only)
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Print each command as it runs
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// The project file (default: the nearest kas.yaml above this folder, or $KAS_CONFIG)
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub connection: Connection,
}

/// kubectl's other connection flags, which KubeRay's plugin takes from
/// kubectl's own set: each is handed to every kubectl call as given. A
/// token or password on the command line would show in `ps` and in our
/// `--verbose` lines, so those are refused with where to put them instead.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "kubectl connection flags")]
pub struct Connection {
    /// The kubeconfig cluster to use
    #[arg(
        id = "kubectl-cluster",
        long = "cluster",
        value_name = "NAME",
        global = true
    )]
    cluster: Option<String>,
    /// The kubeconfig user to use
    #[arg(id = "kubectl-user", long = "user", value_name = "NAME", global = true)]
    user: Option<String>,
    /// The API server's address and port
    #[arg(
        id = "kubectl-server",
        long = "server",
        short = 's',
        value_name = "URL",
        global = true
    )]
    server: Option<String>,
    /// The user to impersonate
    #[arg(
        id = "kubectl-as-user",
        long = "as",
        value_name = "USER",
        global = true
    )]
    as_user: Option<String>,
    /// A group to impersonate (repeatable)
    #[arg(
        id = "kubectl-as-group",
        long = "as-group",
        value_name = "GROUP",
        global = true
    )]
    as_group: Vec<String>,
    /// The UID to impersonate
    #[arg(
        id = "kubectl-as-uid",
        long = "as-uid",
        value_name = "UID",
        global = true
    )]
    as_uid: Option<String>,
    /// A CA certificate file for the API server
    #[arg(
        id = "kubectl-certificate-authority",
        long = "certificate-authority",
        value_name = "FILE",
        global = true
    )]
    certificate_authority: Option<PathBuf>,
    /// A client certificate file for TLS
    #[arg(
        id = "kubectl-client-certificate",
        long = "client-certificate",
        value_name = "FILE",
        global = true
    )]
    client_certificate: Option<PathBuf>,
    /// A client key file for TLS
    #[arg(
        id = "kubectl-client-key",
        long = "client-key",
        value_name = "FILE",
        global = true
    )]
    client_key: Option<PathBuf>,
    /// Do not check the API server's certificate
    #[arg(
        id = "kubectl-insecure-skip-tls-verify",
        long = "insecure-skip-tls-verify",
        global = true
    )]
    insecure_skip_tls_verify: bool,
    /// The server name for the API server's certificate
    #[arg(
        id = "kubectl-tls-server-name",
        long = "tls-server-name",
        value_name = "NAME",
        global = true
    )]
    tls_server_name: Option<String>,
    /// How long one API request may take (kubectl's --request-timeout)
    #[arg(
        id = "kubectl-request-timeout",
        long = "request-timeout",
        value_name = "DURATION",
        global = true
    )]
    request_timeout: Option<String>,
    #[arg(
        id = "kubectl-token",
        long = "token",
        value_name = "TOKEN",
        global = true,
        hide = true
    )]
    token: Option<String>,
    #[arg(
        id = "kubectl-username",
        long = "username",
        value_name = "NAME",
        global = true,
        hide = true
    )]
    username: Option<String>,
    #[arg(
        id = "kubectl-password",
        long = "password",
        value_name = "PASSWORD",
        global = true,
        hide = true
    )]
    password: Option<String>,
}

impl Connection {
    /// The flags for kubectl, `--name=value` each; a usage error for a
    /// secret given on the command line.
    fn flags(&self) -> Result<Vec<String>, String> {
        if self.token.is_some() || self.password.is_some() || self.username.is_some() {
            return Err(
                "--token, --username and --password would show in the process list: \
                 put the credentials in your kubeconfig (a user entry) and pass --user NAME"
                    .into(),
            );
        }
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let mut out = Vec::new();
        let valued = [
            ("cluster", self.cluster.clone()),
            ("user", self.user.clone()),
            ("server", self.server.clone()),
            ("as", self.as_user.clone()),
            ("as-uid", self.as_uid.clone()),
            ("certificate-authority", path(&self.certificate_authority)),
            ("client-certificate", path(&self.client_certificate)),
            ("client-key", path(&self.client_key)),
            ("tls-server-name", self.tls_server_name.clone()),
            ("request-timeout", self.request_timeout.clone()),
        ];
        for (flag, value) in valued {
            if let Some(v) = value {
                out.push(format!("--{flag}={v}"));
            }
        }
        out.extend(self.as_group.iter().map(|g| format!("--as-group={g}")));
        if self.insecure_skip_tls_verify {
            out.push("--insecure-skip-tls-verify".into());
        }
        Ok(out)
    }
}

impl Global {
    /// Where kubectl connects: these flags and `connection`, kubectl's
    /// other flags as [`Connection::flags`] spelled them.
    pub fn target(&self, connection: Vec<String>) -> Target {
        Target {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            connection,
        }
    }

    fn common(&self, quiet: bool) -> Common {
        Common {
            dry_run: self.dry_run,
            verbose: self.verbose,
            config: self.config.clone(),
            configuration: None,
            output: Format::Text,
            quiet,
        }
    }
}

const GET_EXAMPLES: &str = "\
Examples:
  kubectl ray get cluster -A                  # every RayCluster
  kubectl ray get workergroup -c demo         # the worker groups of demo
  kubectl ray get nodes -c demo -o json       # its pods, as JSON
  kubectl ray get token demo                  # its auth token
";

const CREATE_EXAMPLES: &str = "\
Examples:
  kubectl ray create cluster demo --worker-replicas 2 --wait
  kubectl ray create workergroup big -c demo --worker-cpu 4 --worker-memory 8Gi
";

#[derive(clap::Parser, Debug)]
#[command(
    name = "kubectl-ray",
    bin_name = "kubectl ray",
    version = VERSION,
    about = "KubeRay's kubectl plugin commands (also: kubectl ray --help for + = - == ++ --)",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    word: Word,
}

/// KubeRay's top-level words.
#[derive(clap::Subcommand, Debug)]
enum Word {
    /// Show RayClusters, worker groups, Ray nodes or a cluster's auth token
    #[command(visible_alias = "list", after_help = GET_EXAMPLES)]
    Get(get::GetArgs),
    /// Create a RayCluster, or a worker group in one
    #[command(after_help = CREATE_EXAMPLES)]
    Create(create::CreateArgs),
    /// Set a worker group's replicas, minimum and maximum
    #[command(after_help = scale::EXAMPLES)]
    Scale(scale::ScaleArgs),
    /// Delete RayClusters, RayJobs and RayServices
    #[command(after_help = delete::EXAMPLES)]
    Delete(delete::DeleteArgs),
    /// This plugin's version and the KubeRay operator's image tag
    #[command(
        after_help = "Examples:\n  kubectl ray version --context prod   # the operator of another cluster\n"
    )]
    Version(version::VersionArgs),
    /// Submit Ray jobs to a RayCluster through its dashboard; list them, their status, logs; stop them
    Job(job::JobArgs),
    /// Download a Ray cluster's logs: each pod's output and Ray's session logs
    #[command(visible_alias = "logs", after_help = log::EXAMPLES)]
    Log(log::LogArgs),
    /// Forward local ports to a Ray cluster's head (dashboard 8265, client 10001; RayService: serve 8000)
    #[command(after_help = session::EXAMPLES)]
    Session(session::SessionArgs),
}

/// Runs `argv` when its first word is one of KubeRay's, taking the
/// context maker out of `make_ctx`; `None` (and `make_ctx` untouched) for
/// any other command line.
pub fn dispatch<F>(argv: &[OsString], make_ctx: &mut Option<F>) -> Option<u8>
where
    F: FnOnce(&Common) -> Result<Ctx>,
{
    let word = first_word(argv)?;
    if !WORDS.contains(&word.as_str()) {
        return None;
    }
    let make_ctx = make_ctx.take()?;
    Some(run(argv, make_ctx))
}

/// The symbol grammar's flags that take the next word as their value and
/// KubeRay's global ones do not have (those are read from [`Cli`]).
const SYMBOL_GRAMMAR_TAKES_VALUE: &[&str] = &["--configuration", "-o", "--output", "--timeout"];

/// The first word that is no flag and no flag's value; `None` when an
/// operation symbol of the other grammar comes first.
fn first_word(argv: &[OsString]) -> Option<String> {
    // Built only when a flag's value may follow.
    let kuberay = std::cell::OnceCell::new();
    let mut words = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if ["-", "--", "+", "++", "=", "=="].contains(&word.as_ref()) {
            return None;
        }
        if !word.starts_with('-') {
            return Some(word.into_owned());
        }
        if word.contains('=') {
            continue;
        }
        if SYMBOL_GRAMMAR_TAKES_VALUE.contains(&word.as_ref())
            || cli::takes_value(kuberay.get_or_init(Cli::command))(&word)
        {
            words.next();
        }
    }
    None
}

/// The usage line of the subcommand at `path` (`["get", "cluster"]`).
fn usage(path: &[&str]) -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut here = cmd;
    for name in path {
        match here.find_subcommand(name) {
            Some(sub) => here = sub.clone(),
            None => break,
        }
    }
    here.render_usage().to_string()
}

fn run<F>(argv: &[OsString], make_ctx: F) -> u8
where
    F: FnOnce(&Common) -> Result<Ctx>,
{
    let cli: Cli = match cli::parse(Cli::command(), argv) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let global = cli.global;
    let target = match global.connection.flags() {
        Ok(connection) => global.target(connection),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.word {
        Word::Get(args) => get::run(args, target, &global.common(false), make_ctx),
        Word::Create(args) => create::run(args, target, &global.common(false), make_ctx),
        Word::Scale(args) => {
            let common = global.common(false);
            let command = scale::Scale::new(args, target);
            driver::execute(command, &common, make_ctx, &usage(&["scale", "cluster"]))
        }
        Word::Delete(args) => {
            let common = global.common(args.yes);
            let command = delete::Delete::new(args, target);
            driver::execute(command, &common, make_ctx, &usage(&["delete"]))
        }
        Word::Version(_) => {
            let command = version::Version { target };
            driver::execute(
                command,
                &global.common(false),
                make_ctx,
                &usage(&["version"]),
            )
        }
        Word::Job(args) => job::run(args, target, &global.common(false), make_ctx),
        Word::Log(args) => log::run(args, target, &global.common(false), make_ctx),
        Word::Session(args) => session::run(args, target, &global.common(false), make_ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(words: &[&str]) -> Option<String> {
        let argv: Vec<OsString> = std::iter::once("kubectl-ray")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect();
        first_word(&argv)
    }

    #[test]
    fn the_first_word_skips_flags_and_their_values() {
        assert_eq!(
            first(&["-n", "x", "get", "cluster"]).as_deref(),
            Some("get")
        );
        assert_eq!(
            first(&["--context=lab", "delete", "a"]).as_deref(),
            Some("delete")
        );
        assert_eq!(first(&["+", "get"]), None);
        assert_eq!(first(&["--dry-run", "-"]), None);
        assert_eq!(first(&["-n", "x", "job", "submit"]).as_deref(), Some("job"));
        assert_eq!(
            first(&["--context=lab", "session", "a"]).as_deref(),
            Some("session")
        );
        assert_eq!(first(&["+", "log"]), None);
        assert_eq!(
            first(&["--user", "ops", "-s", "https://k:6443", "get", "cluster"]).as_deref(),
            Some("get")
        );
        assert_eq!(
            first(&["--as-group", "g", "--client-key", "k.pem", "log", "a"]).as_deref(),
            Some("log")
        );
        assert_eq!(first(&["--configuration", "get", "+"]), None);
        assert_eq!(first(&["up", "f.yaml"]).as_deref(), Some("up"));
    }

    #[test]
    fn the_command_line_definition_is_sound() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_examples_in_its_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                let help = sub.get_after_help().map(|h| h.to_string());
                if !help.is_some_and(|h| h.contains("Examples:")) {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "kubectl ray", &mut missing);
        assert!(missing.is_empty(), "no examples: {missing:?}");
    }
}
