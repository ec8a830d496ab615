//! A stand-in for KubeRay's RayService controller, as far as the plugins
//! need it (`delete`, `log`, `session`): each `RayService` (ray.io/v1) gets
//! a RayCluster from its `rayClusterConfig`, owned by the service, and the
//! services `NAME-head-svc` and `NAME-serve-svc` in front of that cluster's
//! head; its status names the active cluster and turns Running once the
//! cluster is ready. Serve applications are not modelled.

use serde_json::{Value, json};

use super::controllers::{builtin, deleting, name_of, namespace_of, owned_by, owner_ref, save};
use super::store::State;
use super::util::random_suffix;

pub fn reconcile(state: &mut State) {
    let Some(ty) = state.find_type("ray.io", "rayservices") else {
        return;
    };
    let Some(cluster_ty) = state.find_type("ray.io", "rayclusters") else {
        return;
    };
    for service in state.list("ray.io", "rayservices", None) {
        if deleting(&service) {
            continue;
        }
        let ns = namespace_of(&service);
        let clusters = state.list("ray.io", "rayclusters", Some(&ns));
        let cluster = match owned_by(&clusters, &service).first() {
            Some(c) => (*c).clone(),
            None => {
                let made = json!({
                    "apiVersion": "ray.io/v1",
                    "kind": "RayCluster",
                    "metadata": {
                        "name": format!("{}-raycluster-{}", name_of(&service), random_suffix(5)),
                        "labels": {
                            "ray.io/originated-from-crd": "RayService",
                            "ray.io/originated-from-cr-name": name_of(&service),
                        },
                        "ownerReferences": [owner_ref(&service)],
                    },
                    "spec": service["spec"]["rayClusterConfig"],
                });
                match state.create(&cluster_ty, &ns, made, false) {
                    Ok(c) => c,
                    Err(_) => continue,
                }
            }
        };
        let cluster_name = name_of(&cluster);
        for (suffix, ports) in [
            (
                "head-svc",
                json!([{"name": "dashboard", "port": 8265, "targetPort": 8265, "protocol": "TCP"},
                               {"name": "client", "port": 10001, "targetPort": 10001, "protocol": "TCP"}]),
            ),
            (
                "serve-svc",
                json!([{"name": "serve", "port": 8000, "targetPort": 8000, "protocol": "TCP"}]),
            ),
        ] {
            front(state, &service, &cluster_name, suffix, ports);
        }
        let ready = cluster["status"]["state"] == "ready";
        let status = json!({
            "serviceStatus": if ready { "Running" } else { "" },
            "numServeEndpoints": i32::from(ready),
            "activeServiceStatus": {"rayClusterName": cluster_name},
            "observedGeneration": service["metadata"]["generation"],
        });
        if service["status"] != status {
            let mut updated = service.clone();
            updated["status"] = status;
            save(state, &ty, updated);
        }
    }
}

/// The service `SERVICE-suffix` selecting the head of `cluster`.
fn front(state: &mut State, service: &Value, cluster: &str, suffix: &str, ports: Value) {
    let svc_ty = builtin(state, "", "services");
    let ns = namespace_of(service);
    let name = format!("{}-{suffix}", name_of(service));
    if state.get(&svc_ty, &ns, &name).is_some() {
        return;
    }
    let svc = json!({
        "metadata": {
            "name": name,
            "labels": {"ray.io/serve": name_of(service)},
            "ownerReferences": [owner_ref(service)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"ray.io/cluster": cluster, "ray.io/node-type": "head"},
            "ports": ports,
        },
    });
    let _ = state.create(&svc_ty, &ns, svc, false);
}
