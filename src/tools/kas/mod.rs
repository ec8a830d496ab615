//! `kubectl kas`: build, run and push the project's container image, and
//! open its servers. Installed as `kubectl-kas`, so kubectl finds it as a
//! plugin. Docker mode works on the local engine; Kubernetes mode (`.`,
//! `--k8s`, `kfwd`) on the head pod of a RayCluster ([`k8s`]).

mod args;
mod browser;
pub mod complete;
mod docker;
mod dockerfile;
mod k8s;
mod manifest;
mod project;
mod push;
mod servers;
mod ssh_dir;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::app::cli::{Common, Ctx, EXIT_USAGE, Outcome};
use crate::app::driver;

pub use args::{Command, Invocation, Mode, parse_words};
pub use project::Stdin;

/// Runs as the process `kubectl-kas`.
pub fn main() -> ExitCode {
    crate::exec::interrupt::outlive_children_on_ctrl_c();
    ExitCode::from(drive(
        std::env::args_os().collect(),
        Stdin::of_process(),
        Ctx::from_process,
    ))
}

/// Parses `argv`, builds the context with `make_ctx`, runs, and returns
/// the exit status: the container's own for `run` and `exec`, 2 for a
/// usage error, 3 for any other error. `stdin` says what standard input is.
pub fn drive(
    argv: Vec<OsString>,
    stdin: Stdin,
    make_ctx: impl FnOnce(&Common) -> Result<Ctx>,
) -> u8 {
    let command = <args::Args as clap::CommandFactory>::command();
    if let Some(code) = crate::app::docs::answer(&argv, &command, None) {
        return code;
    }
    let parsed = match args::Args::try_parse_from(&argv) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    if let Some(spec) = &parsed.supervise_forward {
        return k8s::supervise(spec);
    }
    if parsed.words.is_empty() {
        let mut command = command;
        eprintln!("{}", command.render_help());
        return EXIT_USAGE;
    }
    let invocation = match parse_words(&parsed.words, parsed.k8s) {
        Ok(invocation) => invocation,
        Err(e) => return driver::usage_error(&e.to_string(), USAGE),
    };
    let command = KasCommand {
        invocation,
        opts: k8s::Options {
            target: parsed.target(),
            cluster: parsed.cluster.clone(),
            yes: parsed.yes,
        },
        stdin,
    };
    driver::execute(command, &parsed.common(), make_ctx, USAGE)
}

const USAGE: &str =
    "usage: kubectl kas [OPTIONS] [.FLAVOR] COMMAND [ARGS...] (see kubectl kas --help)";

/// The options value of one `kubectl kas` command line.
struct KasCommand {
    invocation: Invocation,
    opts: k8s::Options,
    stdin: Stdin,
}

impl driver::Command for KasCommand {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        run(ctx, &self.invocation, self.opts.clone(), self.stdin).map(Outcome::Exit)
    }
}

pub fn run(ctx: &Ctx, invocation: &Invocation, opts: k8s::Options, stdin: Stdin) -> Result<u8> {
    let flavor = match &invocation.mode {
        Mode::Docker { flavor } => flavor.as_deref(),
        Mode::Kubernetes => return k8s::run(ctx, opts, &invocation.command, stdin),
    };
    let p = project::Project::new(ctx, flavor, stdin);
    match &invocation.command {
        Command::Build(user_args) => docker::build(&p, user_args),
        Command::Push => push::push(&p),
        Command::Run { docker_args, cmd } => docker::run(&p, docker_args, cmd),
        Command::Remove => docker::remove_container(&p),
        Command::Exec(cmd) => docker::exec(&p, cmd),
        Command::Shell => docker::shell(&p),
        Command::Jlab => servers::jlab(&p),
        Command::Tboard => servers::tboard(&p),
        Command::Dash { stop } => servers::dash(&p, *stop),
        Command::Kfwd(_) => unreachable!("kfwd is always Kubernetes mode"),
    }
}
