//! The detached side of `kfwd`: `kubectl-kas --supervise-forward SPEC`.
//! `kubectl port-forward` ends when the pod it picked goes away; this
//! loop then waits for the cluster's new head pod to be Ready and starts
//! it again, logging each (re)connection. It ends by itself only when the
//! RayCluster is gone, or when another program holds the local port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::app::cli::{Common, Ctx};
use crate::app::config::Config;
use crate::clis::kubectl::{Ns, Target};
use crate::exec::environment::Env;
use crate::exec::programs::locate;
use crate::exec::runner::SystemExec;
use crate::exec::ui::Ui;

use super::forward::{Record, Spec, port_taken, write_record};
use super::head::Cluster;
use super::{Kube, Options};
use crate::ray::forward;
use crate::tools::kas::project::Stdin;
use std::process::Stdio;

/// Runs until the cluster is gone; returns the process's exit status.
pub fn supervise(spec_json: &str) -> u8 {
    match run(spec_json) {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error: {e:#}"));
            crate::app::cli::EXIT_ERROR
        }
    }
}

/// One line in the log, with the time.
fn say(line: &str) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    eprintln!("[{}] {line}", clock(secs));
}

/// `HH:MM:SS` (UTC) of a Unix time.
fn clock(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

fn run(spec_json: &str) -> Result<()> {
    let spec: Spec = serde_json::from_str(spec_json).context("the forward's description")?;
    let env = Env::from_process();
    let ctx = Ctx::new(
        Arc::new(SystemExec),
        Arc::new(Ui::std()),
        env,
        Config::default(),
        &Common::default(),
    );
    let opts = Options {
        target: Target {
            kubeconfig: spec.kubeconfig.clone(),
            context: spec.context.clone(),
            namespace: Some(spec.namespace.clone()),
            connection: Vec::new(),
        },
        cluster: Some(spec.cluster.clone()),
        yes: false,
    };
    let kube = Kube::new(&ctx, opts, Stdin::Nothing);
    let cluster = Cluster {
        name: spec.cluster.clone(),
        namespace: spec.namespace.clone(),
    };
    let mut record = Record {
        spec: spec.clone(),
        pid: std::process::id(),
        pod: String::new(),
        log: spec.log_path(),
    };
    write_record(&record)?;
    say(&format!(
        "keeping 127.0.0.1:{} forwarded to port {} of the head pod of RayCluster {}/{}",
        spec.local, spec.remote, spec.namespace, spec.cluster
    ));
    let poll = Duration::from_millis(spec.poll_ms.clamp(50, 5000));
    let kubectl = locate("kubectl")?;
    let mut quick_failures = 0u32;
    let mut connections = 0u32;
    loop {
        let Some(pod) = wait_for_head(&kube, &cluster, poll)? else {
            say(&format!(
                "RayCluster {}/{} is gone: stopping",
                spec.namespace, spec.cluster
            ));
            let _ = std::fs::remove_file(spec.record_path());
            return Ok(());
        };
        if record.pod != pod {
            record.pod = pod.clone();
            write_record(&record)?;
        }
        connections += 1;
        let verb = if connections == 1 {
            "connecting"
        } else {
            "reconnecting"
        };
        say(&format!(
            "{verb}: 127.0.0.1:{} -> pod {pod} port {}",
            spec.local, spec.remote
        ));
        let forward = kube.kubectl().query(
            [
                "port-forward".to_string(),
                "--address=127.0.0.1".to_string(),
                format!("pod/{pod}"),
                format!("{}:{}", spec.local, spec.remote),
            ],
            Ns::Named(&spec.namespace),
        );
        let started = Instant::now();
        let status = port_forward(&kubectl, forward.get_args())?;
        say(&format!(
            "kubectl port-forward to pod {pod} ended ({status})"
        ));
        if started.elapsed() < Duration::from_secs(5) {
            quick_failures += 1;
        } else {
            quick_failures = 0;
        }
        if quick_failures >= 10 && port_taken(spec.local) {
            let _ = std::fs::remove_file(spec.record_path());
            anyhow::bail!(
                "another program holds 127.0.0.1:{}: giving up this forward",
                spec.local
            );
        }
        // Back off a little when kubectl fails at once, again and again.
        std::thread::sleep(poll.max(Duration::from_millis(200)) * quick_failures.min(10));
    }
}

/// The Ready head pod, once there is one; `None` when the cluster is gone
/// (see [`forward::wait_for_head`]).
fn wait_for_head(kube: &Kube, cluster: &Cluster, poll: Duration) -> Result<Option<String>> {
    forward::wait_for_head(&kube.kubectl(), cluster, poll, &say)
}

/// Runs `kubectl port-forward` until it ends (it ends with this process
/// too, so a supervisor killed by hand leaves no kubectl holding the port).
fn port_forward(kubectl: &std::path::Path, args: &[String]) -> Result<String> {
    let mut child = forward::spawn(kubectl, args, Stdio::inherit(), Stdio::inherit(), false)?;
    Ok(child.wait()?.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_shows_utc_time_of_day() {
        assert_eq!(super::clock(86_400 + 3 * 3600 + 4 * 60 + 5), "03:04:05");
    }
}
