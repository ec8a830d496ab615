//! `session (RAYCLUSTER | TYPE/NAME)`, as KubeRay's: forwards the Ray
//! dashboard (8265) and client (10001) ports of the cluster's head in the
//! foreground (a RayJob: the dashboard only; a RayService: dashboard and
//! Serve, 8000), with every kubectl connection flag. When the head pod
//! goes, it waits for the new one and forwards again; Ctrl-C ends it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::app::cli::{Common, Ctx, Outcome};
use crate::app::driver::{self, Command};
use crate::app::wait;
use crate::clis::kubectl::{Kubectl, Lookup, Target};
use crate::exec::ports;
use crate::exec::programs::locate;
use crate::ray::forward;
use crate::ray::pick::Cluster;

use super::resource::{Kind, Resource};
use super::usage;

pub const EXAMPLES: &str = "\
Examples:
  # The dashboard on http://localhost:8265 and Ray Client on localhost:10001
  kubectl ray session demo
  kubectl ray session raycluster/demo --context kind-ray -n ray

  # The cluster of a RayJob (dashboard) or a RayService (dashboard and Serve)
  kubectl ray session rayjob/train
  kubectl ray session rayservice/serve

  # Other local ports
  kubectl ray session demo --dashboard-port 18265 --client-port 20001
";

#[derive(clap::Args, Debug)]
pub struct SessionArgs {
    /// RAYCLUSTER, or TYPE/NAME with TYPE one of raycluster, rayjob, rayservice
    #[arg(value_name = "RAYCLUSTER | TYPE/NAME")]
    pub resource: String,
    /// The local port of the Ray dashboard
    #[arg(long, value_name = "PORT", default_value_t = 8265)]
    pub dashboard_port: u16,
    /// The local port of Ray Client (RayCluster)
    #[arg(long, value_name = "PORT", default_value_t = 10001)]
    pub client_port: u16,
    /// The local port of Ray Serve (RayService)
    #[arg(long, value_name = "PORT", default_value_t = 8000)]
    pub serve_port: u16,
}

/// One forwarded port: what it is, local, in the pod.
struct AppPort {
    name: &'static str,
    local: u16,
    remote: u16,
}

pub struct Session {
    args: SessionArgs,
    target: Target,
    resource: Option<Resource>,
}

pub fn run<F>(args: SessionArgs, target: Target, common: &Common, make_ctx: F) -> u8
where
    F: FnOnce(&Common) -> Result<Ctx>,
{
    let command = Session {
        args,
        target,
        resource: None,
    };
    driver::execute(command, common, make_ctx, &usage(&["session"]))
}

impl Session {
    fn ports(&self) -> Vec<AppPort> {
        let a = &self.args;
        let dashboard = AppPort {
            name: "Ray Dashboard",
            local: a.dashboard_port,
            remote: 8265,
        };
        match self.resource.as_ref().map(|r| r.kind) {
            Some(Kind::Job) => vec![dashboard],
            Some(Kind::Service) => vec![
                dashboard,
                AppPort {
                    name: "Ray Serve",
                    local: a.serve_port,
                    remote: 8000,
                },
            ],
            _ => vec![
                dashboard,
                AppPort {
                    name: "Ray Interactive Client",
                    local: a.client_port,
                    remote: 10001,
                },
            ],
        }
    }
}

/// Refuses ports another program holds, naming it.
fn check_ports(ports: &[AppPort]) -> Result<()> {
    for p in ports {
        if ports::port_taken(p.local) {
            bail!(
                "{}: stop that program, or choose another local port for the {} \
                 (--dashboard-port, --client-port, --serve-port)",
                ports::taken_message(p.local),
                p.name
            );
        }
    }
    Ok(())
}

impl Command for Session {
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        self.resource = Some(Resource::parse(&self.args.resource)?);
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let resource = self.resource.as_ref().expect("completed");
        let ports = self.ports();
        check_ports(&ports)?;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let name = resource.cluster(&kubectl)?;
        let namespace = match &self.target.namespace {
            Some(ns) => ns.clone(),
            None => current_namespace(ctx, &kubectl)?,
        };
        let cluster = Cluster { name, namespace };
        let ns = crate::clis::kubectl::Ns::Named(&cluster.namespace);
        match crate::ray::lookup(&kubectl, &cluster.name, ns)? {
            Lookup::Found(_) => {}
            Lookup::Missing => bail!(
                "there is no RayCluster {} in namespace {}",
                cluster.name,
                cluster.namespace
            ),
            Lookup::UnknownKind => bail!(
                "this Kubernetes cluster does not know RayClusters (the KubeRay operator is not installed)"
            ),
        }
        let program = locate("kubectl")?;
        let poll = wait::interval(ctx)?.max(Duration::from_millis(200));
        let pairs: Vec<(u16, u16)> = ports.iter().map(|p| (p.local, p.remote)).collect();
        let say = |line: &str| ctx.ui.progress(line);
        let mut shown = false;
        let mut quick_failures = 0u32;
        loop {
            let Some(pod) = forward::wait_for_head(&kubectl, &cluster, poll, &say)? else {
                bail!(
                    "RayCluster {}/{} is gone: nothing left to forward",
                    cluster.namespace,
                    cluster.name
                );
            };
            let args = forward::args(&kubectl, &cluster, &pod, &pairs);
            if ctx.common.verbose {
                ctx.ui.trace(&format!("kubectl {}", args.join(" ")));
            }
            ctx.ui.progress(&format!(
                "forwarding ports to pod {pod} of RayCluster {}",
                cluster.name
            ));
            if !shown {
                for p in &ports {
                    ctx.ui
                        .say(&format!("{}: http://localhost:{}", p.name, p.local));
                }
                shown = true;
            }
            let started = Instant::now();
            let mut child =
                forward::spawn(&program, &args, Stdio::null(), Stdio::inherit(), false)?;
            let status = child.wait()?;
            if started.elapsed() < Duration::from_secs(5) {
                quick_failures += 1;
            } else {
                quick_failures = 0;
            }
            // A port another program took meanwhile will not come back.
            if quick_failures >= 3 {
                check_ports(&ports)?;
            }
            ctx.ui.progress(&format!(
                "kubectl port-forward to pod {pod} ended ({status}); reconnecting"
            ));
            std::thread::sleep(poll * quick_failures.min(10));
        }
    }
}

/// The namespace kubectl uses without `-n`: the context's, else default.
fn current_namespace(ctx: &Ctx, kubectl: &Kubectl<'_>) -> Result<String> {
    let view = kubectl.query(
        [
            "config",
            "view",
            "--minify",
            "--output=jsonpath={..namespace}",
        ],
        crate::clis::kubectl::Ns::Cluster,
    );
    let ns = ctx.run.run(&view)?.stdout.trim().to_string();
    Ok(if ns.is_empty() { "default".into() } else { ns })
}
