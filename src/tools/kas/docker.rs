//! Docker mode: `build`, `run`, `run -`, `exec` and `shell`, each one or a
//! few `docker` commands through the runner (so `--dry-run` prints them
//! and tests can count them).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::clis::docker;
use crate::exec::cmd::Cmd;
use crate::exec::runner::Output;

use super::project::{Project, show};
use super::ssh_dir::ssh_dir;

/// Ports the servers inside listen on.
pub const DASHBOARD_PORT: u16 = 8265;
pub const TENSORBOARD_PORT: u16 = 6006;
pub const JUPYTERLAB_PORT: u16 = 8888;

/// Left-overs of tests and tools that should not go into the image.
const CONTEXT_CLUTTER: [&str; 3] = ["__pycache__", ".tox", ".coverage"];

/// `docker build --tag NAME --file DOCKERFILE ARGS CONTEXT`, after clearing
/// the context of `__pycache__`, `.tox` and `.coverage`.
pub fn build(p: &Project, user_args: &[String]) -> Result<u8> {
    let root = p.root()?;
    let dockerfile = p.dockerfile()?;
    // Every prerequisite before the first change (the clean-up below).
    require_docker(p)?;
    let clutter = find_clutter(&root);
    if !clutter.is_empty() {
        let description = format!(
            "remove {} from the build context",
            describe(&root, &clutter)
        );
        p.ctx.run.act(&description, || {
            for path in &clutter {
                remove(path).with_context(|| format!("could not remove {}", path.display()))?;
            }
            Ok(())
        })?;
    }
    let cmd = docker::change(["build", "--tag", &p.name, "--file", &show(&dockerfile)])
        .args(user_args.iter().cloned())
        .arg(show(&root))
        .inherit_stdio();
    // docker has printed why; the status says it failed.
    p.ctx.run.check(&cmd)?;
    Ok(0)
}

/// `docker run` with the defaults, then the user's docker options, the
/// image and the command.
pub fn run(p: &Project, docker_args: &[String], cmd: &[String]) -> Result<u8> {
    let run = run_command(p, p.stdin.docker_flags())?
        .args(docker_args.iter().cloned())
        .arg(&p.name)
        .args(cmd.iter().cloned())
        .inherit_stdio();
    passthrough(p.ctx.run.run(&run)?)
}

/// `docker run --name NAME --rm [-i [-t]]`, limits, ports on 127.0.0.1,
/// `WANDB_API_KEY` by name, and the mounts. Checks the SSH folder first,
/// and makes the history files so docker does not make folders of them.
pub fn run_command(p: &Project, stdin_flags: &[&str]) -> Result<Cmd> {
    docker_run(p, stdin_flags, true)
}

/// [`run_command`]; `check_docker` false when the engine has just
/// answered another query.
fn docker_run(p: &Project, stdin_flags: &[&str], check_docker: bool) -> Result<Cmd> {
    let ctx = p.ctx;
    let ssh = ssh_dir(&ctx.env, &ctx.run)?;
    // The last check before the history files are made.
    if check_docker {
        require_docker(p)?;
    }
    let home = p.home()?;
    let memory = &p.cfg.memory;
    let shm = if p.cfg.shm_size.is_empty() {
        third_of(memory)?
    } else {
        p.cfg.shm_size.clone()
    };
    let mut cmd =
        docker::change(["run", "--name", &p.name, "--rm"]).args(stdin_flags.iter().copied());
    cmd = cmd
        .arg(format!("--memory={memory}"))
        .arg(format!("--shm-size={shm}"));
    let ports = &p.cfg.ports;
    for (host, container) in [
        (ports.dashboard, DASHBOARD_PORT),
        (ports.tensorboard, TENSORBOARD_PORT),
        (ports.jupyterlab, JUPYTERLAB_PORT),
    ] {
        cmd = cmd.args([
            "--publish".to_string(),
            format!("127.0.0.1:{host}:{container}"),
        ]);
    }
    if ctx.env.get("WANDB_API_KEY").is_some() {
        // By name only: docker copies the value from its own environment.
        cmd = cmd.args(["--env", "WANDB_API_KEY"]);
    }
    if !p.cfg.gitconfig.is_empty() {
        let gitconfig = p.expand(&p.cfg.gitconfig);
        if gitconfig.is_file() {
            cmd = cmd.args([
                "--volume".to_string(),
                volume(&gitconfig, &format!("{home}/.gitconfig"), true),
            ]);
        }
    }
    if let Some(dir) = ssh {
        cmd = cmd.args([
            "--volume".to_string(),
            volume(&dir, &format!("{home}/.ssh"), false),
        ]);
    }
    if !p.cfg.history_dir.is_empty() {
        let dir = p.expand(&p.cfg.history_dir);
        for (kind, target) in [("bash", ".bash_history"), ("python", ".python_history")] {
            let file = dir.join(format!("{}.{kind}_history", p.name));
            if !file.is_file() {
                ctx.run.act(&format!("create {}", file.display()), || {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&file)?;
                    Ok(())
                })?;
            }
            cmd = cmd.args([
                "--volume".to_string(),
                volume(&file, &format!("{home}/{target}"), false),
            ]);
        }
    }
    for mount in &p.cfg.mounts {
        let expanded = match mount.split_once(':') {
            Some((source, rest)) => format!("{}:{rest}", show(&p.expand(source))),
            None => mount.clone(),
        };
        cmd = cmd.args(["--volume".to_string(), expanded]);
    }
    Ok(cmd)
}

/// The docker CLI is there and its engine answers; else an error that
/// says which is missing. Commands call this before they change anything.
pub fn require_docker(p: &Project) -> Result<()> {
    let version = Cmd::query("docker").args(["version", "--format", "{{.Server.Version}}"]);
    let out = p
        .ctx
        .run
        .run(&version)
        .context("docker is needed here; nothing was changed")?;
    if out.success() {
        return Ok(());
    }
    let said = out.stderr.trim();
    bail!(
        "the Docker engine does not answer (`{version}`: {}); nothing was changed. \
         Start it (`sudo systemctl start docker`, or Docker Desktop), or point DOCKER_HOST at a running one",
        if said.is_empty() {
            "no reason given"
        } else {
            said
        }
    )
}

/// `run -`: force-removes the container, if there is one.
pub fn remove_container(p: &Project) -> Result<u8> {
    if container_state(p)?.is_none() {
        p.ctx.ui.progress(&format!("no container {}", p.name));
        return Ok(0);
    }
    p.ctx.run.check(&docker::remove_container(&p.name))?;
    Ok(0)
}

/// `exec [CMD...]`: the command (default: the shell) in the running
/// container; its exit status is ours.
pub fn exec(p: &Project, cmd: &[String]) -> Result<u8> {
    let cmd: Vec<String> = if cmd.is_empty() {
        vec![p.cfg.shell.clone()]
    } else {
        cmd.to_vec()
    };
    let exec = docker::change(["exec"])
        .args(p.stdin.docker_flags().iter().copied())
        .arg(&p.name)
        .args(cmd)
        .inherit_stdio();
    let out = p.ctx.run.run(&exec)?;
    // docker says 1 both for "no such container" and for a command that
    // failed with 1: only then is it worth asking which.
    // (A plan only prints the exec: it answers 0, so nothing is asked.)
    if out.code == Some(1) && container_state(p)? != Some(true) {
        bail!(
            "the container {0} is not running: start it with `kubectl kas run -d` (or use `kubectl kas shell`, which starts one)",
            p.name
        );
    }
    passthrough(out)
}

/// `shell`: into the running container, or a new one.
pub fn shell(p: &Project) -> Result<u8> {
    if container_state(p)? == Some(true) {
        exec(p, &[])
    } else {
        run(p, &[], std::slice::from_ref(&p.cfg.shell))
    }
}

/// Starts the container in the background (its default command kept alive
/// by a terminal) unless it is running.
pub fn ensure_running(p: &Project) -> Result<()> {
    match container_state(p)? {
        Some(true) => return Ok(()),
        Some(false) => bail!(
            "the container {} exists but is not running: remove it with `kubectl kas run -`, then try again",
            p.name
        ),
        None => {}
    }
    // container_state has just heard from the engine.
    let start = docker_run(p, &[], false)?
        .args(["--detach", "--interactive", "--tty"])
        .arg(&p.name);
    p.ctx.run.check(&start)?;
    Ok(())
}

/// `Some(running)` for an existing container, `None` for none.
pub fn container_state(p: &Project) -> Result<Option<bool>> {
    let inspect = docker::container_running(&p.name);
    let out = p.ctx.run.run(&inspect)?;
    if out.success() {
        return Ok(Some(out.stdout.trim() == "true"));
    }
    if docker::says_no_such_object(&out.stderr) {
        return Ok(None);
    }
    Err(crate::exec::runner::CmdFailed {
        line: inspect.to_string(),
        output: out,
    }
    .into())
}

/// A container's (or docker's) exit status as ours.
fn passthrough(out: Output) -> Result<u8> {
    match out.code {
        Some(code) => Ok(u8::try_from(code).unwrap_or(crate::app::cli::EXIT_ERROR)),
        None => bail!("docker was killed by a signal"),
    }
}

fn volume(source: &Path, target: &str, read_only: bool) -> String {
    let ro = if read_only { ":ro" } else { "" };
    format!("{}:{target}{ro}", show(source))
}

/// A third of a docker memory size (`8g`), in whole MiB (`2730m`).
pub fn third_of(memory: &str) -> Result<String> {
    let bytes = parse_size(memory)?;
    Ok(format!("{}m", bytes / 3 / (1 << 20)))
}

/// Docker's sizes: a number with an optional b, k, m or g suffix.
fn parse_size(size: &str) -> Result<u64> {
    let lower = size.trim().to_ascii_lowercase();
    // `8gb` is `8g`; a `b` right after the digits means bytes.
    let lower = lower
        .strip_suffix('b')
        .filter(|s| !s.is_empty() && !s.ends_with(char::is_numeric))
        .unwrap_or(&lower);
    let (digits, unit) = match lower.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => lower.split_at(i),
        None => (lower, ""),
    };
    let shift = match unit {
        "" | "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => bail!(
            "kas.memory `{size}` is not a size docker understands: use for example 8g or 512m"
        ),
    };
    let n: u64 = digits.parse().with_context(|| {
        format!("kas.memory `{size}` is not a size: use for example 8g or 512m")
    })?;
    Ok(n << shift)
}

/// `__pycache__` folders, `.tox` and `.coverage` anywhere in the context
/// (not inside `.git`).
fn find_clutter(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if CONTEXT_CLUTTER.contains(&name.as_str()) {
                found.push(path);
            } else if is_dir && name != ".git" {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `a/__pycache__, .tox` (relative to `root`), at most five named.
fn describe(root: &Path, paths: &[std::path::PathBuf]) -> String {
    let mut named: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| show(p.strip_prefix(root).unwrap_or(p)))
        .collect();
    if paths.len() > 5 {
        named.push(format!("and {} more", paths.len() - 5));
    }
    named.join(", ")
}

fn remove(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_memory_is_a_third() {
        assert_eq!(third_of("8g").unwrap(), "2730m");
        assert_eq!(third_of("8GB").unwrap(), "2730m");
        assert_eq!(third_of("3072m").unwrap(), "1024m");
        assert_eq!(third_of("3221225472").unwrap(), "1024m");
        assert!(
            third_of("lots")
                .unwrap_err()
                .to_string()
                .contains("kas.memory")
        );
        assert!(third_of("8q").is_err());
    }

    #[test]
    fn clutter_is_found_anywhere_but_in_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["a/__pycache__", ".tox/x", ".git/__pycache__", "b/c"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("b/.coverage"), "").unwrap();
        std::fs::write(root.join("b/c/keep.py"), "").unwrap();
        let found: Vec<String> = find_clutter(root)
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(found, [".tox", "a/__pycache__", "b/.coverage"]);
    }
}
