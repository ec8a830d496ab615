//! The head pod of a RayCluster, found by KubeRay's labels: listing it,
//! telling whether it is Ready, and waiting until it is.

use std::cell::RefCell;

use anyhow::Result;

use crate::app::cli::Ctx;
use crate::app::wait::{Patience, Waited};
use crate::clis::kubectl::{Kubectl, Ns, Pod};

/// The label selector of a cluster's head pods.
pub fn selector(cluster: &str) -> String {
    format!("ray.io/cluster={cluster},ray.io/node-type=head")
}

/// The head pods of a cluster (normally one; two while one is replaced).
pub fn pods(kubectl: &Kubectl<'_>, cluster: &str, ns: Ns<'_>) -> Result<Vec<Pod>> {
    Ok(kubectl
        .list::<Pod>("pods", Some(&selector(cluster)), ns)?
        .unwrap_or_default())
}

/// The first Ready one.
pub fn ready(pods: &[Pod]) -> Option<&Pod> {
    pods.iter().find(|p| p.is_ready())
}

/// Polls until a head pod is Ready, or the timeout passes; in a plan the
/// wait is one printed line. Also gives the head pods seen last, for the
/// caller's message (or the plan's pod name). `what` is what the progress
/// lines say is awaited.
pub fn wait_ready(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    cluster: &str,
    ns: Ns<'_>,
    what: &str,
    patience: Patience,
) -> Result<(Waited<Pod>, Vec<Pod>)> {
    let last_seen = RefCell::new(Vec::<Pod>::new());
    let waited = ctx.run.wait(what, patience, || {
        let pods = pods(kubectl, cluster, ns)?;
        let found = ready(&pods).cloned();
        *last_seen.borrow_mut() = pods;
        Ok(found)
    })?;
    Ok((waited, last_seen.into_inner()))
}
