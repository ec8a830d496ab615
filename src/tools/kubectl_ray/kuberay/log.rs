//! `log (RAYCLUSTER | TYPE/NAME) [--out-dir DIR] [--node-type all|head|worker]
//! [--link gke]`, as KubeRay's: for each Ray pod, its first container's
//! output as `DIR/POD/stdout.log` and Ray's session logs
//! (`/tmp/ray/session_latest/logs` in the pod, or where Ray's own rule
//! puts its temporary folder: `$RAY_TMPDIR`, else `$TMPDIR`, else /tmp;
//! through `kubectl exec` and tar) under `DIR/POD/`. Without `--out-dir`,
//! DIR is `./NAME`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::app::cli::{Common, Ctx, Outcome, UsageError};
use crate::app::driver::{self, Command};
use crate::clis::kubectl::{Kubectl, Ns, Target};
use crate::exec::cmd::Cmd;

use super::resource::Resource;
use super::usage;

pub const EXAMPLES: &str = "\
Examples:
  # Every Ray pod's logs of the RayCluster demo into ./demo/POD/
  kubectl ray log demo

  # Into another folder (it must exist), the head only
  kubectl ray log demo --out-dir /tmp/demo-logs --node-type head

  # The cluster of a RayJob
  kubectl ray log rayjob/train

  # A Google Cloud Logging link instead of files
  kubectl ray log demo --link gke
";

/// Where Ray keeps a node's logs in its pod (Ray's default temporary
/// folder, as Ray finds it).
const LOGS_IN_POD: &str = "${RAY_TMPDIR:-${TMPDIR:-/tmp}}/ray/session_latest/logs";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "lower")]
pub enum NodeType {
    All,
    Head,
    Worker,
}

#[derive(clap::Args, Debug)]
pub struct LogArgs {
    /// RAYCLUSTER, or TYPE/NAME with TYPE one of raycluster, rayjob, rayservice
    #[arg(value_name = "RAYCLUSTER | TYPE/NAME")]
    pub resource: String,
    /// The folder to save the logs in (it must exist; default: ./NAME, made)
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Which Ray pods
    #[arg(long, value_enum, ignore_case = true, default_value = "all")]
    pub node_type: NodeType,
    /// Print a link to a cloud console's logs instead ('gke')
    #[arg(long, value_name = "gke")]
    pub link: Option<String>,
}

pub struct Log {
    args: LogArgs,
    target: Target,
    resource: Option<Resource>,
}

pub fn run<F>(args: LogArgs, target: Target, common: &Common, make_ctx: F) -> u8
where
    F: FnOnce(&Common) -> Result<Ctx>,
{
    let command = Log {
        args,
        target,
        resource: None,
    };
    driver::execute(command, common, make_ctx, &usage(&["log"]))
}

impl Command for Log {
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        self.resource = Some(Resource::parse(&self.args.resource)?);
        Ok(())
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        if let Some(link) = &self.args.link {
            if link != "gke" {
                return Err(UsageError(format!(
                    "unsupported link type \"{link}\", only \"gke\" is supported"
                ))
                .into());
            }
            if self.args.out_dir.is_some() {
                return Err(UsageError("--out-dir is incompatible with --link".into()).into());
            }
            return Ok(());
        }
        if let Some(dir) = &self.args.out_dir {
            match std::fs::metadata(dir) {
                Err(_) => bail!(
                    "the folder {} does not exist: create it first",
                    dir.display()
                ),
                Ok(m) if !m.is_dir() => bail!("{} is not a folder", dir.display()),
                Ok(_) => {}
            }
        }
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let resource = self.resource.as_ref().expect("completed");
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let cluster = resource.cluster(&kubectl)?;
        if self.args.link.is_some() {
            ctx.ui
                .say(&gke_link(ctx, &kubectl, &cluster, self.args.node_type)?);
            return Ok(Outcome::Done);
        }
        let selector = match self.args.node_type {
            NodeType::All => format!("ray.io/cluster={cluster}"),
            NodeType::Head => format!("ray.io/node-type=head,ray.io/cluster={cluster}"),
            NodeType::Worker => format!("ray.io/node-type=worker,ray.io/cluster={cluster}"),
        };
        let pods: Vec<serde_json::Value> = kubectl
            .list("pods", Some(&selector), Ns::Current)?
            .unwrap_or_default();
        if pods.is_empty() {
            bail!("no Ray pods found for RayCluster {cluster} (selector {selector})");
        }
        let dir = match &self.args.out_dir {
            Some(dir) => dir.clone(),
            None => {
                let dir = PathBuf::from(&resource.name);
                ctx.run
                    .act(&format!("create the folder {}", dir.display()), || {
                        std::fs::create_dir_all(&dir)
                            .with_context(|| format!("could not create {}", dir.display()))
                    })?;
                dir
            }
        };
        for pod in &pods {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let container = pod["spec"]["containers"][0]["name"]
                .as_str()
                .unwrap_or_default();
            ctx.ui
                .progress(&format!("downloading the logs of Ray pod {name}"));
            download(ctx, &kubectl, name, container, &dir.join(name))?;
        }
        ctx.ui.say(&format!(
            "logs of {} Ray pod{} of RayCluster {cluster} in {}",
            pods.len(),
            if pods.len() == 1 { "" } else { "s" },
            dir.display()
        ));
        Ok(Outcome::Done)
    }
}

/// One pod's output and session logs into `dir`.
fn download(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    pod: &str,
    container: &str,
    dir: &Path,
) -> Result<()> {
    let logs = kubectl.query(
        ["logs", pod, &format!("--container={container}")],
        Ns::Current,
    );
    let output = ctx.run.check(&logs)?.stdout;
    ctx.run.act(
        &format!("write {}", dir.join("stdout.log").display()),
        || {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            std::fs::write(dir.join("stdout.log"), &output)
                .with_context(|| format!("could not write in {}", dir.display()))
        },
    )?;
    // tar's bytes travel as base64: kubectl's output is read as text.
    let script = format!("cd \"{LOGS_IN_POD}\" && tar --warning=no-file-changed -cf - . | base64");
    let exec = kubectl
        .query(
            ["exec", pod, &format!("--container={container}")],
            Ns::Current,
        )
        .args(["--", "sh", "-c", &script]);
    let out = ctx.run.run(&exec)?;
    if !out.success() {
        ctx.ui.warn(&format!(
            "no Ray session logs from pod {pod} ({LOGS_IN_POD}): {}",
            out.stderr.trim()
        ));
        return Ok(());
    }
    let text: String = out.stdout.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(tar) = crate::exec::base64::decode(&text) else {
        bail!("the session logs of pod {pod} came back garbled (not base64)");
    };
    let extract = Cmd::mutation("tar")
        .args(["-xf", "-", "-C"])
        .arg(dir.display().to_string())
        .stdin(tar);
    ctx.run.check(&extract)?;
    Ok(())
}

/// KubeRay's `--link gke`: a Cloud Logging query for the cluster's pods.
fn gke_link(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    cluster: &str,
    node_type: NodeType,
) -> Result<String> {
    let ns = match &kubectl.target.namespace {
        Some(ns) => ns.clone(),
        None => {
            let view = kubectl.query(
                [
                    "config",
                    "view",
                    "--minify",
                    "--output=jsonpath={..namespace}",
                ],
                Ns::Cluster,
            );
            let ns = ctx.run.check(&view)?.stdout.trim().to_string();
            if ns.is_empty() { "default".into() } else { ns }
        }
    };
    let mut lines = vec![
        r#"resource.type="k8s_container""#.to_string(),
        format!(r#"resource.labels.namespace_name="{ns}""#),
        format!(r#"labels."k8s-pod/ray_io/cluster"="{cluster}""#),
    ];
    lines.push(match node_type {
        NodeType::Head => r#"labels."k8s-pod/ray_io/node-type"="head""#.into(),
        NodeType::Worker => r#"labels."k8s-pod/ray_io/node-type"="worker""#.into(),
        NodeType::All => r#"labels."k8s-pod/ray_io/is-ray-node"="yes""#.into(),
    });
    let mut url = format!(
        "https://console.cloud.google.com/logs/query;query={}",
        query_escape(&lines.join("\n"))
    );
    let context = match &kubectl.target.context {
        Some(c) => c.clone(),
        None => {
            let current = kubectl.query(["config", "current-context"], Ns::Cluster);
            ctx.run.run(&current)?.stdout.trim().to_string()
        }
    };
    match context
        .strip_prefix("gke_")
        .and_then(|rest| rest.split('_').next())
    {
        Some(project) => url.push_str(&format!("?project={}", query_escape(project))),
        None => ctx.ui.warn(
            "the current kubectl context does not look like a GKE cluster's: the link may not work",
        ),
    }
    Ok(url)
}

/// Go's `url.QueryEscape`: space as `+`, unreserved bytes kept.
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
