//! Finding the RayCluster (none: say how to make one; one: it; several:
//! `--cluster`, or ask on a terminal) and waiting for its head pod, found
//! by KubeRay's labels, to be Ready.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Lookup, Ns, Pod};
use crate::ray::{self, head};

use super::Kube;

/// A RayCluster, by name and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub namespace: String,
}

pub fn find_cluster(kube: &Kube) -> Result<Cluster> {
    let target = &kube.opts.target;
    let place = match &target.namespace {
        Some(ns) => format!("namespace {ns}"),
        None => "the current namespace".to_string(),
    };
    let Some(items) = ray::list(&kube.kubectl(), Ns::Current)? else {
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
                .or_else(|| target.namespace.clone())
                .unwrap_or_else(|| "default".into()),
            name: o.metadata.name,
        })
        .collect();
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    if let Some(wanted) = &kube.opts.cluster {
        return match clusters.iter().find(|c| &c.name == wanted) {
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
        _ => choose(kube, clusters, &place),
    }
}

/// Several clusters: ask on a terminal, else fail naming them.
fn choose(kube: &Kube, clusters: Vec<Cluster>, place: &str) -> Result<Cluster> {
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    if !kube.ctx.ui.interactive {
        bail!(
            "{} RayClusters in {place}: {}; choose one with --cluster NAME",
            clusters.len(),
            names.join(", ")
        );
    }
    kube.ctx.ui.progress(&format!("RayClusters in {place}:"));
    for (i, name) in names.iter().enumerate() {
        kube.ctx.ui.progress(&format!("  {}) {name}", i + 1));
    }
    let answer = kube.ctx.ui.ask("Which one (number or name)?");
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
            "`{answer}` is none of {}; next time pass --cluster NAME",
            names.join(", ")
        ),
    }
}

/// The head pods of a cluster (normally one; two while one is replaced).
pub fn head_pods(kube: &Kube, cluster: &Cluster) -> Result<Vec<Pod>> {
    head::pods(
        &kube.kubectl(),
        &cluster.name,
        Ns::Named(&cluster.namespace),
    )
}

/// Whether the RayCluster still exists (a forward of a deleted one ends).
pub fn exists(kube: &Kube, cluster: &Cluster) -> Result<bool> {
    let found = ray::lookup(
        &kube.kubectl(),
        &cluster.name,
        Ns::Named(&cluster.namespace),
    )?;
    Ok(matches!(found, Lookup::Found(_)))
}

/// The name of the head pod once it is Ready (a spinner meanwhile).
pub fn ready_head(kube: &Kube, cluster: &Cluster) -> Result<String> {
    let pods = head_pods(kube, cluster)?;
    if let Some(pod) = head::ready(&pods) {
        return Ok(pod.metadata.name.clone());
    }
    let patience = Patience {
        timeout: Duration::from_secs(kube.cfg.kubernetes.head_wait_seconds.into()),
        interval: wait::interval(kube.ctx)?,
    };
    let what = format!("the head pod of RayCluster {} to be Ready", cluster.name);
    let kubectl = kube.kubectl();
    let ns = Ns::Named(&cluster.namespace);
    let (waited, last) = head::wait_ready(kube.ctx, &kubectl, &cluster.name, ns, &what, patience)?;
    match waited {
        Waited::Done(pod) => Ok(pod.metadata.name),
        // The plan goes on with the pod that is there, or the name KubeRay
        // gives a new one.
        Waited::Planned => Ok(pods
            .first()
            .map(|p| p.metadata.name.clone())
            .unwrap_or_else(|| format!("{}-head", cluster.name))),
        Waited::TimedOut => {
            let state = match last.first() {
                Some(pod) => pod.summary(),
                None => "no head pod yet".to_string(),
            };
            bail!(
                "the head pod of RayCluster {} is not Ready after {}: {state} \
                 (see `kubectl describe pods -l {}`; \
                 kas.kubernetes.head_wait_seconds sets the wait)",
                cluster.name,
                wait::show(patience.timeout),
                head::selector(&cluster.name)
            )
        }
    }
}
