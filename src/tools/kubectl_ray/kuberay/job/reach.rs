//! Reaching a RayCluster's dashboard: `--address` as given, else the
//! cluster `-c` names (or the one there is) through `kubectl
//! port-forward` of its Ready head pod on a free local port, ended when
//! the command is done.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::app::cli::{Ctx, UsageError};
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Ns, Target};
use crate::exec::programs::locate;
use crate::ray::jobs::Dashboard;
use crate::ray::{forward, head, pick};

/// Where the dashboard is: the flags every `job` command takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Reach {
    /// The RayCluster whose dashboard to use (default: the only one in the namespace; asks when there are several)
    #[arg(long = "ray-cluster", short = 'c', value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Ray Dashboard base URL (e.g. http://127.0.0.1:8265); skips port-forwarding
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// HTTP headers for every request to the dashboard, as a JSON object
    #[arg(long, value_name = "JSON")]
    pub headers: Option<String>,
    /// How long to wait for the cluster's head pod to be Ready (KubeRay waits 120 s)
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = wait::parse_duration)]
    pub timeout: Duration,
}

/// An open way to the dashboard; the port-forward (if any) ends when this
/// is dropped.
pub struct Reached {
    pub dashboard: Dashboard,
    forward: Option<Child>,
}

impl Drop for Reached {
    fn drop(&mut self) {
        if let Some(child) = &mut self.forward {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Reach {
    /// Refuses bad flags before anything runs.
    pub fn validate(&self) -> Result<()> {
        if let Some(address) = &self.address
            && address.trim().is_empty()
        {
            return Err(UsageError("--address was given but is empty".into()).into());
        }
        if self.address.is_some() && self.cluster.is_some() {
            return Err(UsageError(
                "--address and -c/--cluster both say where the dashboard is: give one".into(),
            )
            .into());
        }
        self.headers()?;
        Ok(())
    }

    fn headers(&self) -> Result<Vec<(String, String)>> {
        let Some(text) = &self.headers else {
            return Ok(Vec::new());
        };
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| UsageError(format!("--headers must be a JSON object: {e}")))?;
        Ok(map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect())
    }

    /// The dashboard, checked to answer `/api/version`.
    pub fn open(&self, ctx: &Ctx, target: &Target) -> Result<Reached> {
        self.open_or(ctx, target, &|| Ok(()))
    }

    /// As [`Reach::open`]; `timed_out` runs first when the head pod is not
    /// Ready in time (a RayJob's clean-up).
    pub fn open_or(
        &self,
        ctx: &Ctx,
        target: &Target,
        timed_out: &dyn Fn() -> Result<()>,
    ) -> Result<Reached> {
        if let Some(address) = &self.address {
            let dashboard = Dashboard::new(address, self.headers()?)?;
            let version = dashboard.version()?;
            ctx.ui.progress(&format!(
                "using {} (Ray {version}, no port-forwarding)",
                dashboard.address()
            ));
            return Ok(Reached {
                dashboard,
                forward: None,
            });
        }
        let kubectl = Kubectl::new(&ctx.run, target);
        let cluster = pick::pick(ctx, &kubectl, self.cluster.as_deref(), "-c CLUSTER")?;
        let pod = self.ready_head(ctx, &kubectl, &cluster, timed_out)?;
        let local = crate::exec::ports::free_port().context("no free local port")?;
        let args = forward::args(&kubectl, &cluster, &pod, &[(local, 8265)]);
        if ctx.common.verbose {
            ctx.ui.trace(&format!("kubectl {}", args.join(" ")));
        }
        let errors = tempfile::tempfile()?;
        let mut child = forward::spawn(
            &locate("kubectl")?,
            &args,
            Stdio::null(),
            Stdio::from(errors.try_clone()?),
            true,
        )?;
        let dashboard = Dashboard::new(&format!("http://127.0.0.1:{local}"), self.headers()?)?;
        let start = Instant::now();
        loop {
            if dashboard.answers() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                let mut said = String::new();
                let mut errors = errors;
                use std::io::Seek;
                errors.rewind()?;
                errors.read_to_string(&mut said)?;
                bail!(
                    "kubectl port-forward to pod {pod} ended ({status}) before the dashboard answered: {}",
                    said.trim()
                );
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the Ray dashboard of RayCluster {} did not answer on 127.0.0.1:{local} \
                     (port-forward of pod {pod}) within 60 s: is the dashboard running on the head \
                     (--include-dashboard)?",
                    cluster.name
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        ctx.ui.progress(&format!(
            "forwarding 127.0.0.1:{local} to port 8265 of pod {pod} (RayCluster {})",
            cluster.name
        ));
        Ok(Reached {
            dashboard,
            forward: Some(child),
        })
    }

    fn ready_head(
        &self,
        ctx: &Ctx,
        kubectl: &Kubectl<'_>,
        cluster: &pick::Cluster,
        timed_out: &dyn Fn() -> Result<()>,
    ) -> Result<String> {
        let ns = Ns::Named(&cluster.namespace);
        let patience = Patience {
            timeout: self.timeout,
            interval: wait::interval(ctx)?,
        };
        let what = format!("the head pod of RayCluster {} to be Ready", cluster.name);
        let (waited, last) = head::wait_ready(ctx, kubectl, &cluster.name, ns, &what, patience)?;
        match waited {
            Waited::Done(pod) => Ok(pod.metadata.name),
            Waited::Planned => Ok(format!("{}-head", cluster.name)),
            Waited::TimedOut => {
                timed_out()?;
                let state = match last.first() {
                    Some(pod) => pod.summary(),
                    None => "no head pod yet".to_string(),
                };
                bail!(
                    "the head pod of RayCluster {} is not Ready after {}: {state} \
                     (see `kubectl describe pods -l {}`; --timeout sets the wait)",
                    cluster.name,
                    wait::show(patience.timeout),
                    head::selector(&cluster.name)
                )
            }
        }
    }
}
