//! `kubectl port-forward` to a RayCluster's head pod, run by this process:
//! started so it ends with us (Linux), and the wait for a Ready head pod
//! that a reconnecting forward does between connections. `kubectl kas
//! kfwd`'s supervisor and `kubectl ray session|job` share these.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::clis::kubectl::{Kubectl, Lookup, Ns};

use super::pick::Cluster;

/// `kubectl port-forward --address=127.0.0.1 pod/POD LOCAL:REMOTE...`
/// with the target's connection flags, as arguments for `kubectl`.
pub fn args(
    kubectl: &Kubectl<'_>,
    cluster: &Cluster,
    pod: &str,
    ports: &[(u16, u16)],
) -> Vec<String> {
    let mut words = vec![
        "port-forward".to_string(),
        "--address=127.0.0.1".to_string(),
        format!("pod/{pod}"),
    ];
    words.extend(
        ports
            .iter()
            .map(|(local, remote)| format!("{local}:{remote}")),
    );
    kubectl
        .query(words, Ns::Named(&cluster.namespace))
        .get_args()
        .to_vec()
}

/// Starts `kubectl` with `args`, without waiting. It is told to end with
/// this process (Linux), so a forward never outlives what started it.
/// In its `own_group`, the terminal's Ctrl-C does not reach it: the
/// command that started it decides (a job asks whether to stop).
pub fn spawn(
    kubectl: &Path,
    args: &[String],
    stdout: Stdio,
    stderr: Stdio,
    own_group: bool,
) -> Result<Child> {
    let mut cmd = std::process::Command::new(kubectl);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: getpid before the fork; prctl, getppid, setpgid and
        // _exit are async-signal-safe.
        let parent = unsafe { libc::getpid() };
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
                if own_group {
                    libc::setpgid(0, 0);
                }
                Ok(())
            });
        }
    }
    cmd.spawn()
        .with_context(|| format!("could not start {}", kubectl.display()))
}

/// The Ready head pod, once there is one; `None` when the cluster is
/// gone. While the API server does not answer (a laptop asleep, a VPN
/// down), it is asked less and less often, up to every 30 seconds.
/// `say` gets one line per event worth logging.
pub fn wait_for_head(
    kubectl: &Kubectl<'_>,
    cluster: &Cluster,
    poll: Duration,
    say: &dyn Fn(&str),
) -> Result<Option<String>> {
    let ns = Ns::Named(&cluster.namespace);
    let mut said = false;
    let mut errors = 0u32;
    loop {
        match super::head::pods(kubectl, &cluster.name, ns) {
            Ok(pods) => {
                errors = 0;
                if let Some(pod) = super::head::ready(&pods) {
                    return Ok(Some(pod.metadata.name.clone()));
                }
                if !said {
                    say("waiting for a Ready head pod");
                    said = true;
                }
                if matches!(
                    super::lookup(kubectl, &cluster.name, ns),
                    Ok(Lookup::Missing | Lookup::UnknownKind)
                ) {
                    return Ok(None);
                }
            }
            Err(e) => {
                errors += 1;
                say(&format!("could not list the head pods: {e:#}"));
            }
        }
        std::thread::sleep(backoff(poll, errors));
    }
}

/// `poll`, doubled for each failure in a row, at most 30 seconds.
pub fn backoff(poll: Duration, errors: u32) -> Duration {
    let factor = 1u32 << errors.min(10);
    (poll * factor).min(Duration::from_secs(30)).max(poll)
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_slow_the_polling_down_to_30_seconds() {
        use std::time::Duration;
        let poll = Duration::from_secs(1);
        assert_eq!(super::backoff(poll, 0), poll);
        assert_eq!(super::backoff(poll, 3), Duration::from_secs(8));
        assert_eq!(super::backoff(poll, 50), Duration::from_secs(30));
    }
}
