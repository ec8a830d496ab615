//! Kubernetes mode (`kubectl kas . COMMAND`, `--k8s`, `kfwd`): the head pod
//! of a RayCluster instead of a local container. Every kubectl call goes
//! through [`crate::clis::kubectl::Kubectl`], so `--kubeconfig`, `--context` and
//! `--namespace` reach all of them.

mod forward;
mod head;
mod port_lock;
mod servers;
mod supervisor;
mod wandb;

use anyhow::{Result, bail};

use crate::app::cli::Ctx;
use crate::app::config::Kas;
use crate::clis::kubectl::{Kubectl, Ns, Target};

use super::args::{Command, Kfwd};
use super::project::Stdin;

pub use supervisor::supervise;
// For completion (`kfwd PORT`).
pub(super) use forward::{Record as ForwardRecord, live as live_forwards};

use head::Cluster;

/// What the user said about where to act.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub target: Target,
    /// `--cluster NAME`.
    pub cluster: Option<String>,
    /// `--yes`: recreate a differing wandb-secret without asking.
    pub yes: bool,
}

pub struct Kube<'a> {
    pub ctx: &'a Ctx,
    pub opts: Options,
    pub stdin: Stdin,
    pub cfg: &'a Kas,
}

impl<'a> Kube<'a> {
    pub fn new(ctx: &'a Ctx, opts: Options, stdin: Stdin) -> Kube<'a> {
        Kube {
            ctx,
            opts,
            stdin,
            cfg: &ctx.config.kas,
        }
    }

    pub fn kubectl(&self) -> Kubectl<'_> {
        Kubectl::new(&self.ctx.run, &self.opts.target)
    }

    /// The cluster, its W&B secret up to date, and its head pod Ready.
    fn prepare(&self) -> Result<(Cluster, String)> {
        let cluster = head::find_cluster(self)?;
        wandb::sync(self, &cluster)?;
        let pod = head::ready_head(self, &cluster)?;
        Ok((cluster, pod))
    }
}

pub fn run(ctx: &Ctx, opts: Options, command: &Command, stdin: Stdin) -> Result<u8> {
    let kube = Kube::new(ctx, opts, stdin);
    match command {
        Command::Exec(cmd) => exec(&kube, cmd),
        Command::Shell => exec(&kube, &[]),
        Command::Dash { stop } => servers::dash(&kube, *stop),
        Command::Jlab => servers::jlab(&kube),
        Command::Tboard => servers::tboard(&kube),
        Command::Kfwd(Kfwd::List) => forward::list(&kube),
        Command::Kfwd(Kfwd::Stop { port }) => forward::stop_port(&kube, *port),
        Command::Kfwd(Kfwd::StopAll) => forward::stop_all(&kube),
        Command::Kfwd(Kfwd::Start { remote, local }) => {
            forward::check_port(&kube, *remote, *local)?;
            let (cluster, head) = kube.prepare()?;
            forward::start(&kube, &cluster, &head, *remote, *local)?;
            Ok(0)
        }
        Command::Build(_) | Command::Push | Command::Run { .. } | Command::Remove => bail!(
            "build, push and run work on the local Docker engine: leave out `.` / --k8s (`kubectl kas build`)"
        ),
    }
}

/// `. exec [CMD...]` and `. shell`: `kubectl exec` on the head pod, with
/// `-i -t` only on a terminal; the command's exit status is ours.
fn exec(kube: &Kube, cmd: &[String]) -> Result<u8> {
    let (cluster, pod) = kube.prepare()?;
    let cmd: Vec<String> = if cmd.is_empty() {
        vec![kube.cfg.shell.clone()]
    } else {
        cmd.to_vec()
    };
    let mut words = vec!["exec".to_string()];
    words.extend(kube.stdin.docker_flags().iter().map(|f| f.to_string()));
    words.push(pod);
    let exec = kube
        .kubectl()
        .mutation(words, Ns::Named(&cluster.namespace))
        // After the connection flags, so they are kubectl's, not the command's.
        .arg("--")
        .args(cmd)
        .inherit_stdio();
    let out = kube.ctx.run.run(&exec)?;
    match out.code {
        Some(code) => Ok(u8::try_from(code).unwrap_or(crate::app::cli::EXIT_ERROR)),
        None => bail!("kubectl exec was killed by a signal"),
    }
}
