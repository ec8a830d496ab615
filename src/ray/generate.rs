//! A RayCluster, or one worker group, made from flags: the shape KubeRay's
//! `kubectl ray create cluster|workergroup` gives them (container names,
//! ports, which resources are requests and which are limits), and on top
//! of it, where a project (kas.yaml) is around, what this project's pods
//! need: its image, shared memory at /dev/shm, the W&B key from
//! `wandb-secret` and the image pull secret that `kubectl ray +` keeps
//! fresh.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::app::config::Config;
use crate::clis::docker;

/// KubeRay's plugin defaults (v1.7).
pub const RAY_VERSION: &str = "2.52.0";
pub const IMAGE_REPOSITORY: &str = "rayproject/ray";
pub const DEFAULT_GROUP: &str = "default-group";
/// The pull secret the project's RayCluster files name (`+` refreshes it).
pub const PULL_SECRET: &str = "pull";
/// The secret `kubectl kas` keeps holding WANDB_API_KEY.
pub const WANDB_SECRET: &str = "wandb-secret";

/// The pod extras this project's clusters carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Project {
    /// The image pull secret to name (when the image is in a registry).
    pub pull_secret: Option<String>,
    /// `/dev/shm` in memory, for Ray's object store.
    pub shm: bool,
    /// `envFrom: wandb-secret` (optional).
    pub wandb: bool,
}

impl Project {
    /// What this project adds to pods running `image` (the pull secret
    /// only for an image in a registry).
    pub fn of(image: &str) -> Project {
        Project {
            pull_secret: docker::registry_host(image).map(|_| PULL_SECRET.to_string()),
            shm: true,
            wandb: true,
        }
    }
}

/// The project's image as kas.yaml names it: `kas.registry/kas.image`, or
/// `REGION-docker.pkg.dev/PROJECT/IMAGES/kas.image` from its gcloud section.
pub fn project_image(config: &Config) -> String {
    format!("{}/{}", config.image_registry(), config.kas.image)
}

/// What one kind of pod asks for; empty strings and zeros are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    pub cpu: String,
    pub memory: String,
    pub gpu: String,
    pub tpu: String,
    pub ephemeral_storage: String,
}

/// A worker group as `create` makes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub image: String,
    pub replicas: i64,
    pub min_replicas: Option<i64>,
    pub max_replicas: Option<i64>,
    pub num_of_hosts: Option<i64>,
    pub sizes: Sizes,
    /// `create workergroup` limits the CPU too; `create cluster` does not.
    pub cpu_limit: bool,
    pub ray_start_params: BTreeMap<String, String>,
    pub node_selectors: BTreeMap<String, String>,
}

/// A RayCluster as `create cluster` makes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewCluster {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub ray_version: String,
    pub image: String,
    pub head: Sizes,
    pub head_ray_start_params: BTreeMap<String, String>,
    pub head_node_selectors: BTreeMap<String, String>,
    pub workers: Vec<Group>,
    /// `v1` or `v2`: in-tree autoscaling with that autoscaler.
    pub autoscaler: Option<String>,
    pub project: Option<Project>,
}

fn quantity_set(pairs: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (name, value) in pairs {
        let zero = super::quantity::Quantity::parse(value).is_some_and(|q| q.is_zero());
        if !value.is_empty() && !zero {
            map.insert((*name).to_string(), json!(value));
        }
    }
    Value::Object(map)
}

/// Requests (CPU too) and limits (CPU only when asked), as KubeRay writes them.
fn resources(sizes: &Sizes, cpu_limit: bool) -> Value {
    let s = sizes;
    let requests = quantity_set(&[
        ("cpu", &s.cpu),
        ("memory", &s.memory),
        ("ephemeral-storage", &s.ephemeral_storage),
        (super::cluster::GPU, &s.gpu),
        (super::cluster::TPU, &s.tpu),
    ]);
    let limit_cpu = if cpu_limit { s.cpu.as_str() } else { "" };
    let limits = quantity_set(&[
        ("cpu", limit_cpu),
        ("memory", &s.memory),
        ("ephemeral-storage", &s.ephemeral_storage),
        (super::cluster::GPU, &s.gpu),
        (super::cluster::TPU, &s.tpu),
    ]);
    json!({"requests": requests, "limits": limits})
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    json!(map)
}

/// A pod template around one container, with the project's extras.
fn template(
    mut container: Value,
    selectors: &BTreeMap<String, String>,
    project: Option<&Project>,
) -> Value {
    let mut spec = json!({"containers": []});
    if !selectors.is_empty() {
        spec["nodeSelector"] = string_map(selectors);
    }
    if let Some(p) = project {
        if p.shm {
            spec["volumes"] = json!([{"name": "dshm", "emptyDir": {"medium": "Memory"}}]);
            container["volumeMounts"] = json!([{"name": "dshm", "mountPath": "/dev/shm"}]);
        }
        if p.wandb {
            container["envFrom"] = json!([{"secretRef": {"name": WANDB_SECRET, "optional": true}}]);
        }
        if let Some(secret) = &p.pull_secret {
            spec["imagePullSecrets"] = json!([{"name": secret}]);
        }
    }
    spec["containers"] = json!([container]);
    json!({"spec": spec})
}

/// One worker group's spec.
pub fn worker_group(group: &Group, project: Option<&Project>) -> Value {
    let container = json!({
        "name": "ray-worker",
        "image": group.image,
        "resources": resources(&group.sizes, group.cpu_limit),
    });
    let mut spec = json!({
        "groupName": group.name,
        "replicas": group.replicas,
        "rayStartParams": string_map(&group.ray_start_params),
        "template": template(container, &group.node_selectors, project),
    });
    if let Some(n) = group.num_of_hosts {
        spec["numOfHosts"] = json!(n);
    }
    if let Some(n) = group.min_replicas {
        spec["minReplicas"] = json!(n);
    }
    if let Some(n) = group.max_replicas {
        spec["maxReplicas"] = json!(n);
    }
    spec
}

/// The whole RayCluster.
pub fn raycluster(c: &NewCluster) -> Value {
    let project = c.project.as_ref();
    let head = json!({
        "name": "ray-head",
        "image": c.image,
        "resources": resources(&c.head, false),
        "ports": [
            {"containerPort": 6379, "name": "gcs-server"},
            {"containerPort": 8265, "name": "dashboard"},
            {"containerPort": 10001, "name": "client"},
        ],
    });
    let mut metadata = json!({"name": c.name});
    if let Some(ns) = &c.namespace {
        metadata["namespace"] = json!(ns);
    }
    if !c.labels.is_empty() {
        metadata["labels"] = string_map(&c.labels);
    }
    if !c.annotations.is_empty() {
        metadata["annotations"] = string_map(&c.annotations);
    }
    let mut spec = json!({
        "rayVersion": c.ray_version,
        "headGroupSpec": {
            "rayStartParams": string_map(&c.head_ray_start_params),
            "template": template(head, &c.head_node_selectors, project),
        },
        "workerGroupSpecs": c.workers.iter().map(|g| worker_group(g, project)).collect::<Vec<_>>(),
    });
    if let Some(version) = &c.autoscaler {
        spec["enableInTreeAutoscaling"] = json!(true);
        spec["autoscalerOptions"] = json!({"version": version});
    }
    json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_and_blanks_are_left_out_and_cpu_is_no_limit() {
        let sizes = Sizes {
            cpu: "2".into(),
            memory: "4Gi".into(),
            gpu: "0".into(),
            ..Sizes::default()
        };
        assert_eq!(
            resources(&sizes, false),
            json!({"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}})
        );
        assert_eq!(resources(&sizes, true)["limits"]["cpu"], "2");
    }

    #[test]
    fn a_project_pod_gets_shm_wandb_and_the_pull_secret() {
        let p = Project::of("europe-west4-docker.pkg.dev/p/images/kas");
        let t = template(json!({"name": "c"}), &BTreeMap::new(), Some(&p));
        assert_eq!(t["spec"]["imagePullSecrets"][0]["name"], "pull");
        assert_eq!(
            t["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
            "/dev/shm"
        );
        assert_eq!(
            t["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"],
            "wandb-secret"
        );
        assert_eq!(Project::of("rayproject/ray:2.52.0").pull_secret, None);
    }
}
