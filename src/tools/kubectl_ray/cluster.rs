//! A RayCluster that a file defines: status, up (operator, pull secrets,
//! apply, wait for the head pod) and down (delete, wait, and a way out
//! when finalizers hold it).

use std::cell::RefCell;
use std::path::Path;

use anyhow::{Result, bail};

use super::Args;
use super::manifest::ClusterFile;
use super::operator::Operator;
use super::pull_secret;
use crate::app::cli::{Ctx, Outcome};
use crate::app::converge::{Row, State, up as converge_up};
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Object, Pod};

const RAYCLUSTERS: &str = "rayclusters.ray.io";

/// `RayCluster NAMESPACE/NAME`, for lists of what goes.
pub fn describe(cluster: &Object) -> String {
    match &cluster.metadata.namespace {
        Some(ns) => format!("RayCluster {ns}/{}", cluster.metadata.name),
        None => format!("RayCluster {}", cluster.metadata.name),
    }
}

fn head_selector(name: &str) -> String {
    format!("ray.io/cluster={name},ray.io/node-type=head")
}

/// Reads FILE, saying so when it is a legacy file.
fn load(ctx: &Ctx, path: &Path) -> Result<ClusterFile> {
    let file = ClusterFile::load(path)?;
    if file.converted.is_some() {
        ctx.ui.warn(&format!(
            "{} is a legacy cluster.ray.io/v1 RayCluster: using its KubeRay conversion \
             (`kubectl ray convert {}` prints it)",
            path.display(),
            path.display()
        ));
    }
    for note in &file.notes {
        ctx.ui.warn(note);
    }
    Ok(file)
}

/// The namespace: `-n`, else the file's, else the context's default.
fn namespace(args: &Args, file: &ClusterFile) -> Result<Option<String>> {
    match (&args.target.namespace, &file.namespace) {
        (Some(flag), Some(own)) if flag != own => bail!(
            "{} puts RayCluster {} in namespace {own}, but --namespace says {flag}: \
             drop one of them",
            file.path.display(),
            file.name
        ),
        (flag, own) => Ok(flag.clone().or_else(|| own.clone())),
    }
}

fn patience(ctx: &Ctx, args: &Args) -> Result<Patience> {
    Ok(Patience {
        timeout: args.timeout,
        interval: wait::interval(ctx)?,
    })
}

fn head_pods(kubectl: &Kubectl<'_>, name: &str, ns: Ns<'_>) -> Result<Vec<Pod>> {
    Ok(kubectl
        .list::<Pod>("pods", Some(&head_selector(name)), ns)?
        .unwrap_or_default())
}

pub fn status(ctx: &Ctx, args: &Args, path: &Path) -> Result<Outcome> {
    let file = load(ctx, path)?;
    let ns_name = namespace(args, &file)?;
    let ns = Ns::or_current(ns_name.as_deref());
    let target = args.target();
    let kubectl = Kubectl::new(&ctx.run, &target);
    let name = &file.name;
    let lookup = kubectl.lookup::<Object>(RAYCLUSTERS, name, ns)?;
    let unknown_kind = matches!(lookup, Lookup::UnknownKind);
    let cluster = match lookup {
        Lookup::Found(c) => Some(c),
        _ => None,
    };
    let mut rows = Vec::new();
    let mut ready = false;
    match &cluster {
        None => {
            let mut row = Row::present(format!("RayCluster {name}"), false);
            if unknown_kind {
                row = row.detail(
                    "this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`",
                );
            }
            rows.push(row);
        }
        Some(c) => {
            let mut row = Row::present(describe(c), true);
            if c.metadata.deletion_timestamp.is_some() {
                row = row.detail("being deleted");
            }
            rows.push(row);
            let pods = head_pods(&kubectl, name, ns)?;
            match pods.iter().find(|p| p.is_ready()).or(pods.first()) {
                Some(pod) => {
                    ready = pod.is_ready();
                    let detail = if ready {
                        format!("{} Ready", pod.metadata.name)
                    } else {
                        pod.summary()
                    };
                    let state = if ready {
                        State::Present
                    } else {
                        State::Unknown("not ready".into())
                    };
                    rows.push(Row::new("head pod", state).detail(detail));
                }
                None => rows.push(Row::present("head pod", false)),
            }
        }
    }
    ctx.report(&rows);
    Ok(Outcome::Present(cluster.is_some() && ready))
}

pub fn up(ctx: &Ctx, args: &Args, path: &Path) -> Result<Outcome> {
    let file = load(ctx, path)?;
    let ns_name = namespace(args, &file)?;
    let ns = Ns::or_current(ns_name.as_deref());
    let target = args.target();
    let kubectl = Kubectl::new(&ctx.run, &target);
    let patience = patience(ctx, args)?;

    // The operator lives in its configured namespace, whatever -n says
    // about the cluster.
    let operator = Operator::new(ctx, &target, None);
    let found = operator.find()?;
    let mut pieces = Vec::new();
    if found.release.is_none() && found.crd {
        ctx.ui.progress(&format!(
            "ok       operator (the CRD {} is there without this tool's Helm release: \
             KubeRay was installed another way)",
            super::operator::RAYCLUSTER_CRD
        ));
    } else {
        pieces.push(operator.piece(&found, patience));
    }
    pieces.extend(pull_secret::pieces(ctx, &kubectl, &file, ns)?);
    converge_up(&ctx.run, pieces)?;

    let name = &file.name;
    let apply = match &file.converted {
        Some(yaml) => kubectl
            .mutation(["apply", "--filename=-"], ns)
            .stdin(yaml.as_bytes()),
        None => kubectl.mutation(
            [
                "apply".to_string(),
                format!("--filename={}", path.display()),
            ],
            ns,
        ),
    };
    ctx.ui.progress(&format!("applying RayCluster {name}"));
    let out = ctx.run.check(&apply)?;
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        ctx.ui.progress(&format!("  {}", line.trim()));
    }

    let what = format!("the head pod of RayCluster {name} to be Ready");
    let last_seen = RefCell::new(Vec::<Pod>::new());
    let ready = ctx.run.wait(&what, patience, || {
        let pods = head_pods(&kubectl, name, ns)?;
        let ready = pods.iter().find(|p| p.is_ready()).cloned();
        *last_seen.borrow_mut() = pods;
        Ok(ready)
    })?;
    match ready {
        Waited::Planned => Ok(Outcome::Done),
        Waited::Done(pod) => {
            ctx.ui.say(&format!(
                "RayCluster {name} is up: head pod {} is Ready",
                pod.metadata.name
            ));
            Ok(Outcome::Present(true))
        }
        Waited::TimedOut => {
            let seen = last_seen.into_inner();
            let state = if seen.is_empty() {
                "no head pod exists yet: is the KubeRay operator running? (kubectl ray ==)"
                    .to_string()
            } else {
                seen.iter().map(Pod::summary).collect::<Vec<_>>().join("; ")
            };
            bail!(
                "the head pod of RayCluster {name} is not Ready after {}: {state}\n\
                 Look closer with `kubectl describe pods --selector={}`; \
                 `kubectl ray + {}` again waits some more",
                wait::show(patience.timeout),
                head_selector(name),
                path.display()
            )
        }
    }
}

pub fn down(ctx: &Ctx, args: &Args, path: &Path) -> Result<Outcome> {
    let file = load(ctx, path)?;
    let ns_name = namespace(args, &file)?;
    let ns = Ns::or_current(ns_name.as_deref());
    let target = args.target();
    let kubectl = Kubectl::new(&ctx.run, &target);
    let patience = patience(ctx, args)?;
    let Some(cluster) = kubectl.get::<Object>(RAYCLUSTERS, &file.name, ns)? else {
        ctx.ui
            .progress(&format!("gone     RayCluster {}", file.name));
        return Ok(Outcome::Gone(true));
    };
    ctx.confirm_deletion(&[describe(&cluster)])?;
    delete_and_wait(ctx, &kubectl, &[cluster], patience, args.force)?;
    Ok(Outcome::Gone(true))
}

/// Deletes RayClusters and waits until they are gone. Finalizers that
/// outlast the timeout are reported, or cleared under `--force`.
pub fn delete_and_wait(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    clusters: &[Object],
    patience: Patience,
    force: bool,
) -> Result<()> {
    for cluster in clusters {
        let ns = Ns::or_current(cluster.metadata.namespace.as_deref());
        let name = cluster.metadata.name.as_str();
        if cluster.metadata.deletion_timestamp.is_some() {
            ctx.ui
                .progress(&format!("{} is already being deleted", describe(cluster)));
            if force && !cluster.metadata.finalizers.is_empty() {
                clear_finalizers(ctx, kubectl, cluster)?;
            }
            continue;
        }
        ctx.ui.progress(&format!("deleting {}", describe(cluster)));
        ctx.run
            .check(&kubectl.mutation(["delete", RAYCLUSTERS, name, "--wait=false"], ns))?;
    }
    let what = if clusters.len() == 1 {
        format!("{} to be gone", describe(&clusters[0]))
    } else {
        format!("{} RayClusters to be gone", clusters.len())
    };
    let left = RefCell::new(Vec::new());
    let remaining = || -> Result<Option<()>> {
        let still = still_there(kubectl, clusters)?;
        let done = still.is_empty();
        *left.borrow_mut() = still;
        Ok(done.then_some(()))
    };
    if ctx.run.wait(&what, patience, remaining)? != Waited::TimedOut {
        return Ok(());
    }
    let stuck = left.borrow().clone();
    let held: Vec<&Object> = stuck
        .iter()
        .filter(|c| !c.metadata.finalizers.is_empty())
        .collect();
    if held.is_empty() {
        bail!(
            "{} still there after {}: rerun to keep waiting",
            stuck.iter().map(describe).collect::<Vec<_>>().join(", "),
            wait::show(patience.timeout)
        );
    }
    if !force {
        let list: Vec<String> = held
            .iter()
            .map(|c| {
                format!(
                    "{} (finalizers: {})",
                    describe(c),
                    c.metadata.finalizers.join(", ")
                )
            })
            .collect();
        bail!(
            "still there after {}, held by finalizers: {}\n\
             The KubeRay operator removes them when it has cleaned up; when it is gone or \
             unhealthy they stay. Rerun with --force to clear them (skipping that clean-up).",
            wait::show(patience.timeout),
            list.join("; ")
        );
    }
    for cluster in &held {
        clear_finalizers(ctx, kubectl, cluster)?;
    }
    let gone = || Ok(still_there(kubectl, clusters)?.is_empty().then_some(()));
    if ctx.run.wait(&what, patience, gone)? == Waited::TimedOut {
        bail!("{what}: still there after clearing the finalizers");
    }
    Ok(())
}

/// Those of `clusters` that still exist, as they are now.
fn still_there(kubectl: &Kubectl<'_>, clusters: &[Object]) -> Result<Vec<Object>> {
    let mut still = Vec::new();
    for c in clusters {
        let ns = Ns::or_current(c.metadata.namespace.as_deref());
        if let Some(found) = kubectl.get::<Object>(RAYCLUSTERS, &c.metadata.name, ns)? {
            still.push(found);
        }
    }
    Ok(still)
}

fn clear_finalizers(ctx: &Ctx, kubectl: &Kubectl<'_>, cluster: &Object) -> Result<()> {
    ctx.ui.warn(&format!(
        "clearing the finalizers of {} ({})",
        describe(cluster),
        cluster.metadata.finalizers.join(", ")
    ));
    let ns = Ns::or_current(cluster.metadata.namespace.as_deref());
    let patch = kubectl.mutation(
        [
            "patch",
            RAYCLUSTERS,
            cluster.metadata.name.as_str(),
            "--type=merge",
            r#"--patch={"metadata":{"finalizers":null}}"#,
        ],
        ns,
    );
    ctx.run.check(&patch)?;
    Ok(())
}

pub fn convert(ctx: &Ctx, path: &Path) -> Result<Outcome> {
    let file = ClusterFile::load(path)?;
    for note in &file.notes {
        ctx.ui.warn(note);
    }
    match &file.converted {
        Some(yaml) => ctx.ui.say(yaml),
        None => {
            ctx.ui.warn(&format!(
                "{} is already a KubeRay ray.io/v1 RayCluster: printed as it is",
                path.display()
            ));
            ctx.ui.say(&serde_yaml::to_string(&file.cluster)?);
        }
    }
    Ok(Outcome::Done)
}
