//! Plan snapshots of KubeRay's command lines in `kubectl ray` (`create
//! cluster|workergroup`, `scale cluster`, `delete`) under `--dry-run`: the
//! RayCluster YAML as `create` would send it (KubeRay's defaults, and a
//! project's), the patches, and that nothing else would change.

use kas_test_support as support;

use kas_infra::app::config::Config;
use support::kube_answers::*;
use support::world::{World, ok, run, run_with};

fn snap(name: &str, r: &support::world::Run) {
    insta::assert_snapshot!(name, r.transcript());
}

/// A kas.yaml was found: the project's defaults apply.
fn project() -> Config {
    Config {
        root: Some("/home/test/kas".into()),
        ..Config::default()
    }
}

fn mutations(r: &support::world::Run) -> Vec<String> {
    r.world
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with("kubectl get") && !l.starts_with("gcloud auth"))
        .collect()
}

#[test]
fn create_cluster_with_kuberay_defaults() {
    let w = World::new();
    cluster_absent(&w, "demo");
    let r = run(w, &["create", "cluster", "demo", "--dry-run"]);
    snap("kuberay_create_cluster_defaults", &r);
    assert_eq!(r.code, 0);
    assert_eq!(
        mutations(&r),
        Vec::<String>::new(),
        "a plan runs queries only"
    );
}

#[test]
fn create_cluster_in_a_project() {
    let w = World::new();
    cluster_absent(&w, "demo");
    token(&w);
    secret_absent(&w, "pull");
    let r = run_with(
        w,
        project(),
        &[
            "create",
            "cluster",
            "demo",
            "--dry-run",
            "--worker-replicas",
            "2",
            "--worker-cpu",
            "1",
            "--head-ray-start-params",
            "num-cpus=0,dashboard-host=0.0.0.0",
            "--labels",
            "app=ray",
            "--autoscaler",
            "v2",
            "--wait",
        ],
    );
    snap("kuberay_create_cluster_project", &r);
    assert_eq!(r.code, 0);
}

#[test]
fn create_cluster_refuses_bad_sizes_before_any_call() {
    let w = World::new();
    let r = run(w, &["create", "cluster", "demo", "--worker-memory", "lots"]);
    assert_eq!(r.code, 2);
    assert!(r.world.lines().is_empty(), "{:?}", r.world.lines());
    let w = World::new();
    let r = run(w, &["create", "cluster", "demo", "--worker-tpu", "1"]);
    assert_eq!(r.code, 2, "TPUs without the GKE node selectors");
}

#[test]
fn create_workergroup_patches_after_testing_the_version() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    let r = run(
        w,
        &[
            "create",
            "workergroup",
            "big",
            "-c",
            "local-cpu-only",
            "--dry-run",
            "--worker-cpu",
            "4",
        ],
    );
    snap("kuberay_create_workergroup", &r);
    assert_eq!(r.code, 0);
}

#[test]
fn scale_patches_only_what_changes() {
    let w = World::new();
    let mut c = raycluster("demo", "default", false);
    c["spec"]["workerGroupSpecs"] = serde_json::json!([
        {"groupName": "cpu", "replicas": 1, "minReplicas": 1, "maxReplicas": 4,
         "template": {"spec": {"containers": []}}}
    ]);
    w.on(&get_cluster("demo"), ok(&c.to_string()));
    let r = run(
        w.clone(),
        &[
            "scale",
            "cluster",
            "demo",
            "-w",
            "cpu",
            "-r",
            "3",
            "--max-replicas",
            "4",
            "--dry-run",
        ],
    );
    snap("kuberay_scale", &r);
    assert_eq!(r.code, 0);
    let r = run(
        w.clone(),
        &["scale", "cluster", "demo", "-w", "cpu", "-r", "5"],
    );
    assert_eq!(r.code, 2, "above the group's maximum: {:?}", r.ui);
    let r = run(
        w.clone(),
        &[
            "scale",
            "cluster",
            "demo",
            "-w",
            "cpu",
            "--min-replicas",
            "2",
        ],
    );
    assert_eq!(r.code, 2, "the minimum above the replicas: {:?}", r.ui);
    let r = run(w, &["scale", "cluster", "demo", "-w", "gpu", "-r", "1"]);
    assert_eq!(r.code, 3, "no such group: {:?}", r.ui);
    assert!(
        r.ui.iter()
            .any(|l| l.contains("Available worker groups: cpu"))
    );
}

#[test]
fn delete_plans_without_asking() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    let r = run(w, &["delete", "local-cpu-only", "--dry-run"]);
    snap("kuberay_delete", &r);
    assert_eq!(r.code, 0);
}

#[test]
fn get_token_reads_the_cluster_and_its_secret_at_once() {
    let w = World::new();
    let mut c = raycluster("secure", "default", false);
    c["spec"]["authOptions"] = serde_json::json!({"mode": "token"});
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "secure"}, "data": {"auth_token": "c2VjcmV0LXRva2Vu"}});
    let both = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [c, secret]});
    let line = "kubectl get rayclusters.ray.io/secure secrets/secure --output=json";
    w.on(line, ok(&both.to_string()));
    let r = run(w, &["get", "token", "secure"]);
    assert_eq!(
        (r.code, r.ui.clone()),
        (0, vec!["secret-token".to_string()])
    );
    assert_eq!(r.world.lines(), [line], "one kubectl call");

    let w = World::new();
    let plain = raycluster("local-cpu-only", "default", false);
    let answer = kas_infra::exec::runner::Output {
        code: Some(1),
        stdout: plain.to_string(),
        stderr: "Error from server (NotFound): secrets \"local-cpu-only\" not found\n".into(),
    };
    w.on(
        "kubectl get rayclusters.ray.io/local-cpu-only secrets/local-cpu-only",
        answer,
    );
    let r = run(w, &["get", "token", "local-cpu-only"]);
    assert_eq!(r.code, 3, "{:?}", r.ui);
    assert!(
        r.ui.iter()
            .any(|l| l.contains("not configured to use authentication tokens")),
        "{:?}",
        r.ui
    );
}
