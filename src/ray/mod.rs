//! What both kubectl plugins know about a RayCluster on Kubernetes: its
//! resource (spelled once here), its head pods and their readiness, and
//! its deletion.

pub mod delete;
pub mod head;

use anyhow::Result;

use crate::clis::kubectl::{Kubectl, Lookup, Ns, Object};

/// The RayCluster resource, as kubectl names it; also the name of its CRD,
/// whose presence says "KubeRay is installed".
pub const RAYCLUSTERS: &str = "rayclusters.ray.io";
/// The API group of every CRD KubeRay installs.
pub const GROUP: &str = "ray.io";

/// `RayCluster NAMESPACE/NAME`, for lists of what goes.
pub fn describe(cluster: &Object) -> String {
    match &cluster.metadata.namespace {
        Some(ns) => format!("RayCluster {ns}/{}", cluster.metadata.name),
        None => format!("RayCluster {}", cluster.metadata.name),
    }
}

/// One RayCluster, telling "no such cluster" from "no RayCluster kind".
pub fn lookup(kubectl: &Kubectl<'_>, name: &str, ns: Ns<'_>) -> Result<Lookup<Object>> {
    kubectl.lookup::<Object>(RAYCLUSTERS, name, ns)
}

/// One RayCluster as it is now, or `None`.
pub fn get(kubectl: &Kubectl<'_>, name: &str, ns: Ns<'_>) -> Result<Option<Object>> {
    kubectl.get::<Object>(RAYCLUSTERS, name, ns)
}

/// Every RayCluster in `ns`; `None` when the cluster has no RayCluster
/// kind (KubeRay is not installed).
pub fn list(kubectl: &Kubectl<'_>, ns: Ns<'_>) -> Result<Option<Vec<Object>>> {
    kubectl.list::<Object>(RAYCLUSTERS, None, ns)
}
