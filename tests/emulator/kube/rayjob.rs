//! A stand-in for KubeRay's RayJob controller: each `RayJob` (ray.io/v1)
//! gets a RayCluster made from its `rayClusterSpec` (or uses the one its
//! `clusterSelector` names), and a status that walks KubeRay's deployment
//! states: Initializing, then Waiting (InteractiveMode, until `spec.jobId`
//! is set) or Running, then Complete or Failed once the job ends. The job
//! itself is run and watched by [`super::job_runner`] when a real Ray backs
//! the cluster; here only the Kubernetes side moves.

use serde_json::{Value, json};

use super::controllers::{builtin, delete, deleting, name_of, namespace_of, owner_ref, save};
use super::store::State;
use super::util::{now_rfc3339, random_suffix};

/// KubeRay's job states that end a job.
pub const TERMINAL: &[&str] = &["SUCCEEDED", "FAILED", "STOPPED"];

pub fn reconcile(state: &mut State) {
    let Some(ty) = state.find_type("ray.io", "rayjobs") else {
        return;
    };
    if state.find_type("ray.io", "rayclusters").is_none() {
        return;
    }
    for job in state.list("ray.io", "rayjobs", None) {
        if deleting(&job) {
            continue;
        }
        let status = next_status(state, &job);
        if job["status"] != status {
            let mut updated = job.clone();
            updated["status"] = status;
            save(state, &ty, updated);
        }
    }
}

fn interactive(job: &Value) -> bool {
    job["spec"]["submissionMode"] == "InteractiveMode"
}

/// The RayCluster a job runs on: its selector's, else the one it made.
fn selected_cluster(job: &Value) -> Option<String> {
    job["spec"]["clusterSelector"]["ray.io/cluster"]
        .as_str()
        .map(String::from)
}

fn next_status(state: &mut State, job: &Value) -> Value {
    let mut status = job["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    let ns = namespace_of(job);
    let deployment = status["jobDeploymentStatus"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if deployment.is_empty() {
        let cluster = selected_cluster(job)
            .unwrap_or_else(|| make_cluster(state, job, &ns).unwrap_or_default());
        let id = job["spec"]["jobId"].as_str().map(String::from).or_else(|| {
            (!interactive(job)).then(|| format!("{}-{}", name_of(job), random_suffix(5)))
        });
        status["rayClusterName"] = json!(cluster);
        status["dashboardURL"] = json!(format!("{cluster}-head-svc.{ns}.svc.cluster.local:8265"));
        status["jobDeploymentStatus"] = json!("Initializing");
        status["jobStatus"] = json!("");
        status["startTime"] = json!(now_rfc3339());
        if let Some(id) = id {
            status["jobId"] = json!(id);
        }
        return status;
    }
    let cluster = status["rayClusterName"].as_str().unwrap_or("").to_string();
    match deployment.as_str() {
        "Initializing" if cluster_ready(state, &ns, &cluster) => {
            let waiting = interactive(job) && job["spec"]["jobId"].as_str().is_none();
            status["jobDeploymentStatus"] = json!(if waiting { "Waiting" } else { "Running" });
            if !waiting {
                status["jobStatus"] = json!("PENDING");
            }
        }
        "Waiting" => {
            if let Some(id) = job["spec"]["jobId"].as_str() {
                status["jobId"] = json!(id);
                status["jobDeploymentStatus"] = json!("Running");
                status["jobStatus"] = json!("PENDING");
            }
        }
        "Running" => {
            let ended = status["jobStatus"]
                .as_str()
                .is_some_and(|s| TERMINAL.contains(&s));
            if ended {
                let ok = status["jobStatus"] == "SUCCEEDED";
                status["jobDeploymentStatus"] = json!(if ok { "Complete" } else { "Failed" });
                status["endTime"] = json!(now_rfc3339());
                if job["spec"]["shutdownAfterJobFinishes"] == true
                    && selected_cluster(job).is_none()
                {
                    remove_cluster(state, &ns, &cluster);
                }
            }
        }
        _ => {}
    }
    status
}

/// Creates the job's RayCluster, owned by the job; its name.
fn make_cluster(state: &mut State, job: &Value, ns: &str) -> Option<String> {
    let ty = state.find_type("ray.io", "rayclusters")?;
    let name = format!("{}-{}", name_of(job), random_suffix(5));
    let cluster = json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "labels": {
                "ray.io/originated-from-crd": "RayJob",
                "ray.io/originated-from-cr-name": name_of(job),
            },
            "ownerReferences": [owner_ref(job)],
        },
        "spec": job["spec"]["rayClusterSpec"],
    });
    state.create(&ty, ns, cluster, false).ok()?;
    Some(name)
}

fn cluster_ready(state: &State, ns: &str, name: &str) -> bool {
    let Some(ty) = state.find_type("ray.io", "rayclusters") else {
        return false;
    };
    state
        .get(&ty, ns, name)
        .is_some_and(|c| c["status"]["state"] == "ready")
}

fn remove_cluster(state: &mut State, ns: &str, name: &str) {
    let ty = builtin(state, "ray.io", "rayclusters");
    if let Some(cluster) = state.get(&ty, ns, name).cloned() {
        delete(state, &ty, &cluster);
    }
}
