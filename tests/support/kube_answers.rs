//! Answers of kubectl, helm and gcloud in the world states that matter,
//! in the shapes the real CLIs print (`-o json`, their error lines).

use serde_json::json;

use super::world::{World, failed, ok};

pub const TOKEN: &str = "ya29.test-access-token";

pub const HELM_LIST: &str = "helm list --output=json --namespace=ray";
pub const GET_CRD: &str = "kubectl get customresourcedefinitions rayclusters.ray.io --output=json";
pub const LIST_CRDS: &str = "kubectl get customresourcedefinitions --output=json";
pub const LIST_CLUSTERS: &str = "kubectl get rayclusters.ray.io --output=json --all-namespaces";
pub const GET_NAMESPACE: &str = "kubectl get namespaces ray --output=json";
pub const TOKEN_CMD: &str = "gcloud auth print-access-token";

pub fn get_cluster(name: &str) -> String {
    format!("kubectl get rayclusters.ray.io {name} --output=json")
}

pub fn head_pods(name: &str) -> String {
    format!("kubectl get pods --selector=ray.io/cluster={name},ray.io/node-type=head --output=json")
}

pub fn get_secret(name: &str) -> String {
    format!("kubectl get secrets {name} --output=json")
}

fn not_found(resource: &str, name: &str) -> String {
    format!("Error from server (NotFound): {resource} \"{name}\" not found\n")
}

fn list(items: Vec<serde_json::Value>) -> String {
    json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
        .to_string()
}

pub fn release(status: &str) -> String {
    json!([{
        "name": "kuberay-operator", "namespace": "ray", "revision": "1",
        "updated": "2026-11-27 10:52:14.123456 +0000 UTC", "status": status,
        "chart": "kuberay-operator-1.5.1", "app_version": "v1.5.1"
    }])
    .to_string()
}

fn crd(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "resourceVersion": "412", "uid": "5d1c"},
        "spec": {"group": "ray.io", "names": {"kind": "RayCluster", "plural": "rayclusters"},
                 "scope": "Namespaced"},
        "status": {"conditions": [{"type": "Established", "status": "True"}]}
    })
}

pub fn raycluster(name: &str, namespace: &str, deleting: bool) -> serde_json::Value {
    let mut c = json!({
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1033",
                     "uid": "8e0f", "generation": 1},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": []}}}},
        "status": {"state": "ready"}
    });
    if deleting {
        c["metadata"]["deletionTimestamp"] = json!("2026-11-27T11:00:00Z");
        c["metadata"]["finalizers"] = json!(["ray.io/gcs-ft-redis-cleanup-finalizer"]);
    }
    c
}

pub fn pod(cluster: &str, ready: bool) -> serde_json::Value {
    let status = if ready {
        json!({"phase": "Running", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True"}]})
    } else {
        json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [ray-head]"}]})
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{cluster}-head-8x2kq"), "namespace": "default",
                     "labels": {"ray.io/cluster": cluster, "ray.io/node-type": "head"}},
        "spec": {"containers": [{"name": "ray-head", "image": "kas"}]},
        "status": status
    })
}

/// The RayCluster kind is served but no cluster exists.
pub fn no_clusters(w: &World) {
    w.on(LIST_CLUSTERS, ok(&list(vec![])));
}

pub fn operator_absent(w: &World) {
    w.on(HELM_LIST, ok("[]\n"));
    w.on(
        GET_CRD,
        failed(
            1,
            &not_found(
                "customresourcedefinitions.apiextensions.k8s.io",
                "rayclusters.ray.io",
            ),
        ),
    );
    w.on(LIST_CRDS, ok(&list(vec![])));
    w.on(
        LIST_CLUSTERS,
        failed(
            1,
            "error: the server doesn't have a resource type \"rayclusters\"\n",
        ),
    );
    w.on(GET_NAMESPACE, failed(1, &not_found("namespaces", "ray")));
}

pub fn operator_present(w: &World) {
    operator_with_release(w, "deployed");
}

pub fn operator_with_release(w: &World, status: &str) {
    w.on(HELM_LIST, ok(&release(status)));
    w.on(GET_CRD, ok(&crd("rayclusters.ray.io").to_string()));
    w.on(
        LIST_CRDS,
        ok(&list(vec![
            crd("rayclusters.ray.io"),
            crd("rayjobs.ray.io"),
            crd("rayservices.ray.io"),
        ])),
    );
    w.on(
        GET_NAMESPACE,
        ok(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ray"},
                   "status": {"phase": "Active"}})
            .to_string(),
        ),
    );
}

/// The cluster kind is unknown until the operator is there.
pub fn cluster_unknown_kind(w: &World, name: &str) {
    w.on(
        &get_cluster(name),
        failed(
            1,
            "error: the server doesn't have a resource type \"rayclusters\"\n",
        ),
    );
    w.on(&head_pods(name), ok(&list(vec![])));
}

pub fn cluster_absent(w: &World, name: &str) {
    w.on(
        &get_cluster(name),
        failed(1, &not_found("rayclusters.ray.io", name)),
    );
    w.on(&head_pods(name), ok(&list(vec![])));
}

pub fn cluster_present(w: &World, name: &str, head_ready: bool) {
    w.on(
        &get_cluster(name),
        ok(&raycluster(name, "default", false).to_string()),
    );
    w.on(&head_pods(name), ok(&list(vec![pod(name, head_ready)])));
}

pub fn token(w: &World) {
    w.on(TOKEN_CMD, ok(&format!("{TOKEN}\n")));
}

pub fn secret_absent(w: &World, name: &str) {
    w.on(&get_secret(name), failed(1, &not_found("secrets", name)));
}

/// The secret as `+` left it with `token` for `host`.
pub fn secret_with(w: &World, name: &str, host: &str, token: &str) {
    use kas_infra::exec::base64::encode as base64_encode;
    // Docker's config.json, as Google's registries take an access token.
    let user = "oauth2accesstoken";
    let auth = base64_encode(format!("{user}:{token}").as_bytes());
    let config =
        json!({"auths": {host: {"username": user, "password": token, "auth": auth}}}).to_string();
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64_encode(config.as_bytes())}
    });
    w.on(&get_secret(name), ok(&secret.to_string()));
}

/// A pull secret `kubectl ray +` made (its label says so).
pub fn secret_made_by_kubectl_ray(w: &World, name: &str) {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"app.kubernetes.io/managed-by": "kubectl-ray"}},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": "e30="}
    });
    w.on(&get_secret(name), ok(&secret.to_string()));
}

/// The RayClusters of the current namespace, each naming `secrets` as
/// its head's image pull secrets.
pub fn clusters_here(w: &World, clusters: &[(&str, &[&str])]) {
    let items = clusters
        .iter()
        .map(|(name, secrets)| {
            let mut c = raycluster(name, "default", false);
            let names: Vec<_> = secrets.iter().map(|s| json!({"name": s})).collect();
            c["spec"]["headGroupSpec"]["template"]["spec"]["imagePullSecrets"] = json!(names);
            c
        })
        .collect();
    w.on(
        "kubectl get rayclusters.ray.io --output=json",
        ok(&list(items)),
    );
}
