//! Which RayCluster a command acts on when the user named none: none
//! there (say how to make one), one (it), several (ask on a terminal,
//! else fail naming them). Both plugins pick the same way.

use anyhow::{Result, bail};

use crate::app::cli::Ctx;
use crate::clis::kubectl::{Kubectl, Ns};

/// A RayCluster, by name and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub namespace: String,
}

/// The cluster named `wanted`, else the only one, else the one the user
/// chooses; `flag` is how the caller's command names a cluster
/// (`--cluster NAME`), for the messages.
pub fn pick(ctx: &Ctx, kubectl: &Kubectl<'_>, wanted: Option<&str>, flag: &str) -> Result<Cluster> {
    let target_ns = kubectl.target.namespace.clone();
    let place = match &target_ns {
        Some(ns) => format!("namespace {ns}"),
        None => "the current namespace".to_string(),
    };
    let Some(items) = super::list(kubectl, Ns::Current)? else {
        bail!(
            "this Kubernetes cluster does not know RayClusters (the KubeRay operator is not installed): \
             create a Ray cluster with `kubectl ray + yaml/k8s/local-cpu-only.yaml`"
        );
    };
    let clusters: Vec<Cluster> = items
        .into_iter()
        .map(|o| Cluster {
            namespace: o
                .metadata
                .namespace
                .or_else(|| target_ns.clone())
                .unwrap_or_else(|| "default".into()),
            name: o.metadata.name,
        })
        .collect();
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    if let Some(wanted) = wanted {
        return match clusters.iter().find(|c| c.name == wanted) {
            Some(c) => Ok(c.clone()),
            None if clusters.is_empty() => {
                bail!("there is no RayCluster {wanted} in {place}: there is none at all")
            }
            None => bail!(
                "there is no RayCluster {wanted} in {place}; there is {}",
                names.join(", ")
            ),
        };
    }
    match clusters.len() {
        0 => bail!(
            "there is no RayCluster in {place}: create one with `kubectl ray + yaml/k8s/local-cpu-only.yaml`, \
             or name its namespace with -n"
        ),
        1 => Ok(clusters.into_iter().next().expect("one")),
        _ => choose(ctx, clusters, &place, flag),
    }
}

/// Several clusters: ask on a terminal, else fail naming them.
fn choose(ctx: &Ctx, clusters: Vec<Cluster>, place: &str, flag: &str) -> Result<Cluster> {
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    if !ctx.ui.interactive {
        bail!(
            "{} RayClusters in {place}: {}; choose one with {flag}",
            clusters.len(),
            names.join(", ")
        );
    }
    ctx.ui.progress(&format!("RayClusters in {place}:"));
    for (i, name) in names.iter().enumerate() {
        ctx.ui.progress(&format!("  {}) {name}", i + 1));
    }
    let answer = ctx.ui.ask("Which one (number or name)?");
    let answer = answer.trim();
    let picked = answer
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| clusters.get(i))
        .or_else(|| clusters.iter().find(|c| c.name == answer));
    match picked {
        Some(c) => Ok(c.clone()),
        None => bail!(
            "`{answer}` is none of {}; next time pass {flag}",
            names.join(", ")
        ),
    }
}
