//! Finding the RayCluster (as [`crate::ray::pick`] does) and waiting for its head pod, found
//! by KubeRay's labels, to be Ready.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Ns, Pod};
use crate::ray::{head, pick};

use super::Kube;

pub use crate::ray::pick::Cluster;

/// The cluster `--cluster` names, else the only one, else the user's
/// choice (see [`crate::ray::pick`]).
pub fn find_cluster(kube: &Kube) -> Result<Cluster> {
    pick::pick(
        kube.ctx,
        &kube.kubectl(),
        kube.opts.cluster.as_deref(),
        "--cluster NAME",
    )
}

/// The head pods of a cluster (normally one; two while one is replaced).
pub fn head_pods(kube: &Kube, cluster: &Cluster) -> Result<Vec<Pod>> {
    head::pods(
        &kube.kubectl(),
        &cluster.name,
        Ns::Named(&cluster.namespace),
    )
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
