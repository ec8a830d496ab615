//! A stand-in for the KubeRay operator: each `RayCluster` (ray.io/v1) gets
//! a head pod, its worker pods and the head service `NAME-head-svc`, all
//! owned by the cluster, and a status that turns `ready` once they run.
//! Pods that go away are replaced, as KubeRay does.

use serde_json::{Value, json};

use super::controllers::{
    builtin, conditions, delete, deleting, name_of, namespace_of, owned_by, owner_ref, pod_ready,
    save,
};
use super::quantity;
use super::store::State;

/// Ports KubeRay puts on the head service when the head container names none.
const DEFAULT_PORTS: &[(&str, u64)] = &[
    ("gcs-server", 6379),
    ("dashboard", 8265),
    ("client", 10001),
    ("metrics", 8080),
];

pub fn reconcile(state: &mut State) {
    let Some(ty) = state.find_type("ray.io", "rayclusters") else {
        return;
    };
    for cluster in state.list("ray.io", "rayclusters", None) {
        if deleting(&cluster) {
            continue;
        }
        let suspended = cluster["spec"]["suspend"] == true;
        head_service(state, &cluster);
        let mut groups = vec![Group {
            name: "headgroup".to_string(),
            node_type: "head",
            replicas: usize::from(!suspended),
            template: cluster["spec"]["headGroupSpec"]["template"].clone(),
        }];
        for spec in cluster["spec"]["workerGroupSpecs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let min = spec["minReplicas"].as_u64().unwrap_or(0);
            let max = spec["maxReplicas"].as_u64().unwrap_or(u64::from(u32::MAX));
            let replicas = spec["replicas"]
                .as_u64()
                .unwrap_or(min)
                .clamp(min, max.max(min));
            let hosts = spec["numOfHosts"].as_u64().unwrap_or(1).max(1);
            groups.push(Group {
                name: spec["groupName"].as_str().unwrap_or("workers").to_string(),
                node_type: "worker",
                replicas: if suspended {
                    0
                } else {
                    (replicas * hosts) as usize
                },
                template: spec["template"].clone(),
            });
        }
        for group in &groups {
            scale(state, &cluster, group);
        }
        let status = status(state, &cluster, &groups, suspended);
        if cluster["status"] != status {
            let mut updated = cluster.clone();
            updated["status"] = status;
            save(state, &ty, updated);
        }
    }
}

struct Group {
    name: String,
    node_type: &'static str,
    replicas: usize,
    template: Value,
}

fn pods_of(state: &State, cluster: &Value, group: &str) -> Vec<Value> {
    let pods = state.list("", "pods", Some(&namespace_of(cluster)));
    owned_by(&pods, cluster)
        .into_iter()
        .filter(|p| !deleting(p) && p["metadata"]["labels"]["ray.io/group"] == group)
        .cloned()
        .collect()
}

fn scale(state: &mut State, cluster: &Value, group: &Group) {
    let pod_ty = builtin(state, "", "pods");
    let have = pods_of(state, cluster, &group.name);
    for extra in have.iter().skip(group.replicas) {
        delete(state, &pod_ty, extra);
    }
    let name = name_of(cluster);
    for _ in have.len()..group.replicas {
        let mut labels = group.template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        let identifier = format!("{name}-{}", group.node_type);
        for (k, v) in [
            ("ray.io/cluster", name.as_str()),
            ("ray.io/node-type", group.node_type),
            ("ray.io/group", group.name.as_str()),
            ("ray.io/identifier", identifier.as_str()),
            ("ray.io/is-ray-node", "yes"),
            ("app.kubernetes.io/name", "kuberay"),
            ("app.kubernetes.io/created-by", "kuberay-operator"),
        ] {
            labels[k] = json!(v);
        }
        let prefix = match group.node_type {
            "head" => format!("{name}-head-"),
            _ => format!("{name}-{}-worker-", group.name),
        };
        let mut pod = json!({
            "metadata": {
                "generateName": prefix,
                "labels": labels,
                "annotations": group.template["metadata"].get("annotations").cloned().unwrap_or(json!({})),
                "ownerReferences": [owner_ref(cluster)],
            },
            "spec": group.template["spec"],
        });
        if state.ray_backed {
            // Ready once its Ray node is up (ray_backing.rs).
            if !pod["metadata"]["annotations"].is_object() {
                pod["metadata"]["annotations"] = json!({});
            }
            pod["metadata"]["annotations"][super::controllers::NOT_READY] = json!("ray starting");
        }
        let _ = state.create(&pod_ty, &namespace_of(cluster), pod, false);
    }
}

fn head_service(state: &mut State, cluster: &Value) {
    let svc_ty = builtin(state, "", "services");
    let name = format!("{}-head-svc", name_of(cluster));
    let ns = namespace_of(cluster);
    if state.get(&svc_ty, &ns, &name).is_some() {
        return;
    }
    let head = &cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0];
    let mut ports: Vec<Value> = head["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            json!({
                "name": p.get("name").cloned().unwrap_or(json!(format!("port-{}", p["containerPort"]))),
                "port": p["containerPort"],
                "targetPort": p["containerPort"],
                "protocol": "TCP",
            })
        })
        .collect();
    if ports.is_empty() {
        ports = DEFAULT_PORTS
            .iter()
            .map(|(n, p)| json!({"name": n, "port": p, "targetPort": p, "protocol": "TCP"}))
            .collect();
    }
    let cluster_name = name_of(cluster);
    let svc = json!({
        "metadata": {
            "name": name,
            "labels": {
                "ray.io/cluster": cluster_name,
                "ray.io/node-type": "head",
                "ray.io/identifier": format!("{cluster_name}-head"),
                "app.kubernetes.io/name": "kuberay",
                "app.kubernetes.io/created-by": "kuberay-operator",
            },
            "ownerReferences": [owner_ref(cluster)],
        },
        "spec": {
            "type": cluster["spec"]["headGroupSpec"]["serviceType"].as_str().unwrap_or("ClusterIP"),
            "selector": {"ray.io/cluster": cluster_name, "ray.io/node-type": "head"},
            "ports": ports,
        },
    });
    let _ = state.create(&svc_ty, &ns, svc, false);
}

fn status(state: &State, cluster: &Value, groups: &[Group], suspended: bool) -> Value {
    let name = name_of(cluster);
    let ns = namespace_of(cluster);
    let head = pods_of(state, cluster, "headgroup").into_iter().next();
    let head_ready = head.as_ref().is_some_and(pod_ready);
    let (mut desired, mut ready, mut running) = (0, 0, 0);
    for group in groups.iter().filter(|g| g.node_type == "worker") {
        desired += group.replicas;
        let pods = pods_of(state, cluster, &group.name);
        ready += pods.iter().filter(|p| pod_ready(p)).count();
        running += pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count();
    }
    let svc_name = format!("{name}-head-svc");
    let svc_ty = builtin(state, "", "services");
    let svc = state.get(&svc_ty, &ns, &svc_name);
    let mut endpoints = json!({});
    for port in svc
        .and_then(|s| s["spec"]["ports"].as_array())
        .cloned()
        .unwrap_or_default()
    {
        endpoints[port["name"].as_str().unwrap_or("port")] = json!(port["port"].to_string());
    }
    let (mut min, mut max) = (0, 0);
    for spec in cluster["spec"]["workerGroupSpecs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        min += spec["minReplicas"].as_u64().unwrap_or(0);
        max += spec["maxReplicas"].as_u64().unwrap_or(0);
    }
    let all_up = head_ready && ready == desired && running == desired;
    let totals = desired_resources(groups);
    let old = cluster["status"].get("conditions");
    let mut status = json!({
        "observedGeneration": cluster["metadata"]["generation"],
        "desiredWorkerReplicas": desired,
        "availableWorkerReplicas": ready,
        "readyWorkerReplicas": ready,
        "minWorkerReplicas": min,
        "maxWorkerReplicas": max,
        "endpoints": endpoints,
        "desiredCPU": totals[0],
        "desiredMemory": totals[1],
        "desiredGPU": totals[2],
        "desiredTPU": totals[3],
        "head": {
            "podName": head.as_ref().map(name_of).unwrap_or_default(),
            "podIP": head.as_ref().and_then(|h| h["status"]["podIP"].as_str()).unwrap_or(""),
            "serviceName": svc_name,
            "serviceIP": svc.and_then(|s| s["spec"]["clusterIP"].as_str()).unwrap_or(""),
        },
        "conditions": conditions(old, &[
            ("HeadPodReady", head_ready, if head_ready { "HeadPodRunningAndReady" } else { "HeadPodNotFound" }),
            ("RayClusterProvisioned", all_up, if all_up { "AllPodRunningAndReadyFirstTime" } else { "RayClusterPodsProvisioning" }),
        ]),
    });
    if suspended {
        status["state"] = json!("suspended");
    } else if all_up {
        status["state"] = json!("ready");
    }
    // Keep the time of the last real change, as KubeRay's lastUpdateTime.
    let mut previous = cluster["status"].clone();
    if let Some(map) = previous.as_object_mut() {
        map.remove("lastUpdateTime");
    }
    status["lastUpdateTime"] = if previous == status {
        cluster["status"]["lastUpdateTime"].clone()
    } else {
        json!(super::util::now_rfc3339())
    };
    status
}

/// CPU, memory, GPUs and TPUs that all the cluster's pods ask for, as
/// KubeRay totals them: each container's request, or its limit when it
/// names no request.
fn desired_resources(groups: &[Group]) -> [String; 4] {
    let names = ["cpu", "memory", "nvidia.com/gpu", "google.com/tpu"];
    let mut totals = [0i128; 4];
    for group in groups {
        let containers = group.template["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for container in &containers {
            let resources = &container["resources"];
            for (i, name) in names.iter().enumerate() {
                let value = resources["requests"][*name]
                    .as_str()
                    .or_else(|| resources["limits"][*name].as_str())
                    .map(String::from)
                    .or_else(|| resources["requests"][*name].as_i64().map(|n| n.to_string()))
                    .or_else(|| resources["limits"][*name].as_i64().map(|n| n.to_string()));
                let each = value.as_deref().and_then(quantity::parse).unwrap_or(0);
                totals[i] += each * group.replicas as i128;
            }
        }
    }
    totals.map(quantity::format)
}
