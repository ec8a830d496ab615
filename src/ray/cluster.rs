//! A RayCluster as the `get` commands read it: its worker groups, the
//! status KubeRay's operator reports, and the sums KubeRay's plugin shows
//! (resources a group asks for, workers that are ready, what one pod asks
//! for), with the labels KubeRay puts on the pods it makes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::quantity::Quantity;
use crate::clis::kubectl::{Condition, ObjectMeta};

/// The labels KubeRay's operator puts on every pod it makes.
pub const LABEL_CLUSTER: &str = "ray.io/cluster";
pub const LABEL_NODE_TYPE: &str = "ray.io/node-type";
pub const LABEL_GROUP: &str = "ray.io/group";
pub const LABEL_IS_RAY_NODE: &str = "ray.io/is-ray-node";
/// The extended resources KubeRay's plugin counts.
pub const GPU: &str = "nvidia.com/gpu";
pub const TPU: &str = "google.com/tpu";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RayCluster {
    pub metadata: ObjectMeta,
    pub spec: Spec,
    pub status: Status,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    pub worker_group_specs: Vec<WorkerGroup>,
    pub auth_options: Option<AuthOptions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthOptions {
    pub mode: String,
    pub secret_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkerGroup {
    pub group_name: String,
    pub replicas: Option<i64>,
    pub min_replicas: Option<i64>,
    pub max_replicas: Option<i64>,
    pub suspend: Option<bool>,
    pub template: Value,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    pub desired_worker_replicas: i64,
    pub available_worker_replicas: i64,
    #[serde(rename = "desiredCPU")]
    pub desired_cpu: Value,
    #[serde(rename = "desiredGPU")]
    pub desired_gpu: Value,
    #[serde(rename = "desiredTPU")]
    pub desired_tpu: Value,
    pub desired_memory: Value,
    pub conditions: Vec<Condition>,
    pub state: String,
}

/// CPU, GPU, TPU and memory, as the tables show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu: Quantity,
    pub gpu: Quantity,
    pub tpu: Quantity,
    pub memory: Quantity,
}

impl Resources {
    fn from_map(map: &BTreeMap<String, Quantity>) -> Resources {
        let get = |k: &str| map.get(k).copied().unwrap_or_default();
        Resources {
            cpu: get("cpu"),
            gpu: get(GPU),
            tpu: get(TPU),
            memory: get("memory"),
        }
    }
}

/// A status quantity as KubeRay prints it ("0" when not reported).
pub fn shown(value: &Value) -> String {
    Quantity::of_json(value).unwrap_or_default().to_string()
}

impl RayCluster {
    /// The condition KubeRay's plugin shows: the first of Provisioned,
    /// HeadPodReady, ReplicaFailure, Suspended, Suspending that is True.
    pub fn relevant_condition(&self) -> Option<&Condition> {
        const ORDER: [&str; 5] = [
            "RayClusterProvisioned",
            "HeadPodReady",
            "RayClusterReplicaFailure",
            "RayClusterSuspended",
            "RayClusterSuspending",
        ];
        ORDER.iter().find_map(|kind| {
            self.status
                .conditions
                .iter()
                .find(|c| c.kind == *kind && c.status == "True")
        })
    }

    /// What `create cluster --wait` waits for, as KubeRay's plugin:
    /// Provisioned, or the state `ready`.
    pub fn provisioned(&self) -> bool {
        self.status.state == "ready"
            || self
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "RayClusterProvisioned" && c.status == "True")
    }

    pub fn group(&self, name: &str) -> Option<(usize, &WorkerGroup)> {
        self.spec
            .worker_group_specs
            .iter()
            .enumerate()
            .find(|(_, g)| g.group_name == name)
    }

    pub fn group_names(&self) -> Vec<&str> {
        self.spec
            .worker_group_specs
            .iter()
            .map(|g| g.group_name.as_str())
            .collect()
    }
}

impl WorkerGroup {
    pub fn replicas(&self) -> i64 {
        self.replicas.unwrap_or(0)
    }

    /// KubeRay's defaults: 0 and the largest int32.
    pub fn min(&self) -> i64 {
        self.min_replicas.unwrap_or(0)
    }

    pub fn max(&self) -> i64 {
        self.max_replicas.unwrap_or(i64::from(i32::MAX))
    }

    /// What all its replicas ask for (nothing while suspended).
    pub fn totals(&self) -> Resources {
        if self.suspend == Some(true) {
            return Resources::default();
        }
        let each = pod_resources(&self.template["spec"]);
        let n = self.replicas();
        let times: BTreeMap<String, Quantity> =
            each.into_iter().map(|(k, q)| (k, q.times(n))).collect();
        Resources::from_map(&times)
    }
}

/// What a pod spec's containers ask for: each container's requests, its
/// limits where it names no request.
pub fn pod_resources(pod_spec: &Value) -> BTreeMap<String, Quantity> {
    let mut total: BTreeMap<String, Quantity> = BTreeMap::new();
    for container in pod_spec["containers"].as_array().into_iter().flatten() {
        let mut own: BTreeMap<String, Quantity> = BTreeMap::new();
        for kind in ["requests", "limits"] {
            for (name, value) in container["resources"][kind]
                .as_object()
                .into_iter()
                .flatten()
            {
                if let Some(q) = Quantity::of_json(value) {
                    own.entry(name.clone()).or_insert(q);
                }
            }
        }
        for (name, q) in own {
            let sum = total.get(&name).copied().unwrap_or_default().plus(q);
            total.insert(name, sum);
        }
    }
    total
}

/// A pod KubeRay made, as `get nodes` and `get workergroup` read it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RayPod {
    pub metadata: ObjectMeta,
    pub spec: Value,
    pub status: crate::clis::kubectl::PodStatus,
}

impl RayPod {
    fn label(&self, key: &str) -> &str {
        self.metadata.labels.get(key).map_or("", String::as_str)
    }

    pub fn cluster(&self) -> &str {
        self.label(LABEL_CLUSTER)
    }

    pub fn node_type(&self) -> &str {
        self.label(LABEL_NODE_TYPE)
    }

    pub fn group(&self) -> &str {
        self.label(LABEL_GROUP)
    }

    pub fn is_ray_node(&self) -> bool {
        self.label(LABEL_IS_RAY_NODE) == "yes"
    }

    /// Running and Ready: what KubeRay's plugin counts as a ready worker.
    pub fn running_and_ready(&self) -> bool {
        self.status.phase == "Running"
            && self
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True")
    }

    /// What its first container requests (KubeRay's `get nodes` columns).
    pub fn requests(&self) -> Resources {
        let mut map = BTreeMap::new();
        let requests = &self.spec["containers"][0]["resources"]["requests"];
        for (name, value) in requests.as_object().into_iter().flatten() {
            if let Some(q) = Quantity::of_json(value) {
                map.insert(name.clone(), q);
            }
        }
        Resources::from_map(&map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_group_totals_its_replicas_requests_or_limits() {
        let group: WorkerGroup = serde_json::from_value(json!({
            "groupName": "g", "replicas": 3,
            "template": {"spec": {"containers": [
                {"resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": 1, "memory": "1Gi"}}},
                {"resources": {"requests": {"nvidia.com/gpu": 1}}}
            ]}}
        }))
        .unwrap();
        let t = group.totals();
        assert_eq!(
            (t.cpu.to_string(), t.memory.to_string(), t.gpu.to_string()),
            ("1500m".into(), "3Gi".into(), "3".into())
        );
        assert_eq!((group.min(), group.max()), (0, 2147483647));
    }

    #[test]
    fn the_relevant_condition_is_the_first_true_one() {
        let c: RayCluster = serde_json::from_value(json!({"status": {"conditions": [
            {"type": "HeadPodReady", "status": "True"},
            {"type": "RayClusterProvisioned", "status": "False"}
        ]}}))
        .unwrap();
        assert_eq!(c.relevant_condition().unwrap().kind, "HeadPodReady");
        assert!(!c.provisioned());
    }
}
