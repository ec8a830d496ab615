//! Plan snapshots of `kubectl ray`: for each operation and each world
//! state that matters, what `--dry-run` prints (the commands it would run,
//! its progress and warnings) and its exit status. The read-only queries
//! are answered with the real CLIs' output shapes.

use kas_test_support as support;

use support::kube_answers::*;
use support::world::{World, run};

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";
const GKE: &str = "yaml/k8s/gke-cpu-only.yaml";

fn snap(name: &str, world: std::sync::Arc<World>, args: &[&str]) -> support::world::Run {
    let r = run(world, args);
    insta::assert_snapshot!(name, r.transcript());
    r
}

#[test]
fn operator_status_when_absent() {
    let w = World::new();
    operator_absent(&w);
    let r = snap("operator_status_absent", w, &["=="]);
    assert_eq!(r.code, 1);
}

#[test]
fn operator_status_when_present() {
    let w = World::new();
    operator_present(&w);
    let r = snap("operator_status_present", w, &["operator", "status"]);
    assert_eq!(r.code, 0);
}

#[test]
fn operator_status_as_json() {
    let w = World::new();
    operator_present(&w);
    snap("operator_status_json", w, &["==", "--output", "json"]);
}

#[test]
fn operator_install_when_absent() {
    let w = World::new();
    operator_absent(&w);
    snap("operator_install_absent", w, &["++", "--dry-run"]);
}

#[test]
fn operator_install_when_present_changes_nothing() {
    let w = World::new();
    operator_present(&w);
    let r = snap("operator_install_present", w, &["++", "--dry-run"]);
    assert!(r.ui.iter().all(|l| !l.starts_with("helm ")), "{:?}", r.ui);
}

#[test]
fn operator_install_repairs_a_failed_release() {
    let w = World::new();
    operator_with_release(&w, "failed");
    snap("operator_install_failed_release", w, &["++", "--dry-run"]);
}

#[test]
fn operator_install_with_connection_flags() {
    let w = World::new();
    // Every kubectl and helm call carries the flags.
    w.on(
        "helm list --output=json --kubeconfig=/k/cfg --kube-context=lab --namespace=ops",
        support::world::ok("[]"),
    );
    w.on(
        "kubectl get customresourcedefinitions rayclusters.ray.io --output=json --kubeconfig=/k/cfg --context=lab",
        support::world::failed(1, "Error from server (NotFound): not found"),
    );
    snap(
        "operator_install_flags",
        w,
        &[
            "operator",
            "install",
            "--dry-run",
            "--kubeconfig",
            "/k/cfg",
            "--context",
            "lab",
            "-n",
            "ops",
            "--timeout",
            "3m",
        ],
    );
}

#[test]
fn operator_uninstall_when_present() {
    let w = World::new();
    operator_present(&w);
    cluster_present(&w, "local-cpu-only", true);
    let mut stuck = raycluster("stuck", "research", true);
    stuck["metadata"]["name"] = "stuck".into();
    w.on(
        LIST_CLUSTERS,
        support::world::ok(
            &serde_json::json!({"kind": "List", "items": [raycluster("local-cpu-only", "default", false), stuck]})
                .to_string(),
        ),
    );
    snap("operator_uninstall_present", w, &["--", "--dry-run"]);
}

#[test]
fn operator_uninstall_when_absent_changes_nothing() {
    let w = World::new();
    operator_absent(&w);
    let r = snap("operator_uninstall_absent", w, &["--", "--dry-run"]);
    assert_eq!(r.code, 0);
}

#[test]
fn cluster_status_absent() {
    let w = World::new();
    cluster_absent(&w, "local-cpu-only");
    let r = snap("cluster_status_absent", w, &["=", LOCAL]);
    assert_eq!(r.code, 1);
}

#[test]
fn cluster_status_without_operator() {
    let w = World::new();
    cluster_unknown_kind(&w, "local-cpu-only");
    let r = snap("cluster_status_no_operator", w, &["status", LOCAL]);
    assert_eq!(r.code, 1);
}

#[test]
fn cluster_status_not_ready() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", false);
    let r = snap("cluster_status_not_ready", w, &["=", LOCAL]);
    assert_eq!(r.code, 1);
}

#[test]
fn cluster_status_ready() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    let r = snap("cluster_status_ready", w, &["=", LOCAL]);
    assert_eq!(r.code, 0);
    assert_eq!(r.world.ran().len(), 2, "status costs two kubectl calls");
}

#[test]
fn cluster_up_from_nothing() {
    let w = World::new();
    operator_absent(&w);
    cluster_unknown_kind(&w, "local-cpu-only");
    token(&w);
    secret_absent(&w, "pull");
    snap("cluster_up_nothing", w, &["+", LOCAL, "--dry-run"]);
}

#[test]
fn cluster_up_when_all_is_there() {
    let w = World::new();
    operator_present(&w);
    cluster_present(&w, "local-cpu-only", true);
    token(&w);
    secret_with(&w, "pull", "europe-west4-docker.pkg.dev", TOKEN);
    snap("cluster_up_present", w, &["+", LOCAL, "--dry-run"]);
}

#[test]
fn cluster_up_refreshes_an_old_token() {
    let w = World::new();
    operator_present(&w);
    cluster_present(&w, "local-cpu-only", false);
    token(&w);
    secret_with(&w, "pull", "europe-west4-docker.pkg.dev", "ya29.expired");
    snap("cluster_up_old_token", w, &["up", LOCAL, "--dry-run"]);
}

#[test]
fn cluster_up_without_pull_secret_in_a_namespace() {
    let w = World::new();
    operator_present(&w);
    snap(
        "cluster_up_gke_namespace",
        w,
        &["+", GKE, "--dry-run", "-n", "research"],
    );
}

#[test]
fn cluster_up_from_a_legacy_file() {
    let w = World::new();
    operator_present(&w);
    token(&w);
    w.on(
        "kubectl get secrets registry-pull --output=json --namespace=research",
        support::world::failed(
            1,
            "Error from server (NotFound): secrets \"registry-pull\" not found",
        ),
    );
    snap(
        "cluster_up_legacy",
        w,
        &[
            "+",
            "tests/fixtures/legacy/custom-resources.yaml",
            "--dry-run",
        ],
    );
}

#[test]
fn cluster_down_present() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    secret_absent(&w, "pull");
    snap("cluster_down_present", w, &["-", LOCAL, "--dry-run"]);
}

#[test]
fn cluster_down_absent_changes_nothing() {
    let w = World::new();
    cluster_absent(&w, "local-cpu-only");
    secret_absent(&w, "pull");
    let r = snap("cluster_down_absent", w, &["down", LOCAL, "--dry-run"]);
    assert_eq!(r.code, 0);
}

#[test]
fn cluster_down_removes_the_pull_secret_it_made() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    secret_made_by_kubectl_ray(&w, "pull");
    clusters_here(
        &w,
        &[("local-cpu-only", &["pull"]), ("other", &["elsewhere"])],
    );
    let r = snap(
        "cluster_down_with_its_pull_secret",
        w,
        &["-", LOCAL, "--dry-run"],
    );
    assert_eq!(r.code, 0);
}

#[test]
fn cluster_down_keeps_a_pull_secret_that_another_cluster_names() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    secret_made_by_kubectl_ray(&w, "pull");
    clusters_here(&w, &[("local-cpu-only", &["pull"]), ("other", &["pull"])]);
    let r = snap(
        "cluster_down_with_a_shared_pull_secret",
        w,
        &["-", LOCAL, "--dry-run"],
    );
    assert!(
        !r.transcript().contains("delete secrets"),
        "{}",
        r.transcript()
    );
}

#[test]
fn cluster_down_keeps_a_pull_secret_it_did_not_make() {
    let w = World::new();
    cluster_present(&w, "local-cpu-only", true);
    secret_with(&w, "pull", "europe-west4-docker.pkg.dev", TOKEN);
    let r = snap(
        "cluster_down_with_a_foreign_pull_secret",
        w,
        &["-", LOCAL, "--dry-run"],
    );
    assert!(
        !r.transcript().contains("delete secrets"),
        "{}",
        r.transcript()
    );
}

#[test]
fn cluster_down_of_a_gone_cluster_removes_its_leftover_pull_secret() {
    let w = World::new();
    cluster_absent(&w, "local-cpu-only");
    secret_made_by_kubectl_ray(&w, "pull");
    clusters_here(&w, &[]);
    snap(
        "cluster_down_gone_with_its_pull_secret",
        w,
        &["-", LOCAL, "--dry-run"],
    );
}

#[test]
fn convert_prints_the_kuberay_cluster() {
    let w = World::new();
    let r = snap(
        "convert_legacy",
        w,
        &["convert", "tests/fixtures/legacy/custom-resources.yaml"],
    );
    assert_eq!(r.code, 0);
    assert!(r.world.ran().is_empty(), "convert runs nothing");
}

#[test]
fn operator_install_after_an_interrupted_install() {
    let w = World::new();
    operator_with_release(&w, "pending-install");
    snap("operator_install_pending_install", w, &["++", "--dry-run"]);
}
