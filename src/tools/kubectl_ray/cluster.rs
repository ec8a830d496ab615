//! A RayCluster that a file defines: status, up (operator, pull secrets,
//! apply, wait for the head pod) and down (delete, wait, and a way out
//! when finalizers hold it).

use std::path::Path;

use anyhow::{Result, bail};

use super::Args;
use super::manifest::ClusterFile;
use super::operator::Operator;
use super::pull_secret;
use crate::app::cli::{Ctx, Outcome};
use crate::app::converge::{Row, State, up as converge_up};
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Pod};
use crate::ray::{self, RAYCLUSTERS, describe, head};

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

pub fn status(ctx: &Ctx, args: &Args, path: &Path) -> Result<Outcome> {
    let file = load(ctx, path)?;
    let ns_name = namespace(args, &file)?;
    let ns = Ns::or_current(ns_name.as_deref());
    let target = args.target();
    let kubectl = Kubectl::new(&ctx.run, &target);
    let name = &file.name;
    let lookup = ray::lookup(&kubectl, name, ns)?;
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
            let pods = head::pods(&kubectl, name, ns)?;
            match head::ready(&pods).or(pods.first()) {
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
    file.check()?;
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
            RAYCLUSTERS
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
    let (waited, seen) = head::wait_ready(ctx, &kubectl, name, ns, &what, patience)?;
    match waited {
        Waited::Planned => Ok(Outcome::Done),
        Waited::Done(pod) => {
            ctx.ui.say(&format!(
                "RayCluster {name} is up: head pod {} is Ready",
                pod.metadata.name
            ));
            Ok(Outcome::Present(true))
        }
        Waited::TimedOut => {
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
                head::selector(name),
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
    let cluster = ray::get(&kubectl, &file.name, ns)?;
    let secrets = pull_secret::leftovers(ctx, &kubectl, &file, ns)?;
    let mut doomed: Vec<String> = cluster.iter().map(describe).collect();
    doomed.extend(secrets.iter().map(|s| format!("pull secret {s}")));
    ctx.confirm_deletion(&doomed)?;
    match &cluster {
        None => ctx
            .ui
            .progress(&format!("gone     RayCluster {}", file.name)),
        Some(cluster) => {
            ray::delete::delete_and_wait(
                ctx,
                &kubectl,
                std::slice::from_ref(cluster),
                patience,
                args.force,
            )?;
        }
    }
    // After the cluster: its pods no longer need them.
    pull_secret::remove(ctx, &kubectl, &secrets, ns)?;
    Ok(Outcome::Gone(true))
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
