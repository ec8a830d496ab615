//! What both kubectl plugins know about a RayCluster on Kubernetes: its
//! resource (spelled once here), which one to act on, its head pods and
//! their readiness, forwards to them, its deletion, and Ray's Jobs REST
//! API with Ray's packaging of a working directory.

pub mod cluster;
pub mod delete;
pub mod forward;
pub mod generate;
pub mod head;
pub mod jobs;
pub mod package;
pub mod pick;
pub mod quantity;
pub mod validate;

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

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

/// Every RayCluster in `ns`, whole (spec included); `None` as for [`list`].
pub fn list_whole(kubectl: &Kubectl<'_>, ns: Ns<'_>) -> Result<Option<Vec<Value>>> {
    kubectl.list::<Value>(RAYCLUSTERS, None, ns)
}

/// The image pull secrets a RayCluster's pod templates (head and every
/// worker group) name.
pub fn pull_secret_names(cluster: &Value) -> BTreeSet<String> {
    let spec = &cluster["spec"];
    let workers = spec["workerGroupSpecs"].as_array().into_iter().flatten();
    std::iter::once(&spec["headGroupSpec"])
        .chain(workers)
        .filter_map(|group| group["template"]["spec"]["imagePullSecrets"].as_array())
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_secrets_of_head_and_workers() {
        let cluster = serde_json::json!({"spec": {
            "headGroupSpec": {"template": {"spec": {"imagePullSecrets": [{"name": "a"}]}}},
            "workerGroupSpecs": [
                {"template": {"spec": {"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}}},
                {"template": {"spec": {}}}
            ]
        }});
        let names: Vec<String> = pull_secret_names(&cluster).into_iter().collect();
        assert_eq!(names, ["a", "b"]);
        assert!(pull_secret_names(&serde_json::json!({})).is_empty());
    }
}
