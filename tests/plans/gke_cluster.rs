use insta::assert_snapshot;
use kas_infra::tools::gke_cluster::TOOL;

use crate::world::World;

const LIST: &str = "gcloud container clusters list";
const FIREWALL: &str = "gcloud compute firewall-rules describe x-ray-default";
const DRIVER: &str = "kubectl get -f";
pub const CLUSTER: &str = r#"{"name":"x-ray","status":"RUNNING","endpoint":"34.90.1.2",
  "clusterIpv4Cidr":"10.48.0.0/14","masterAuthorizedNetworksConfig":{"enabled":true,
  "cidrBlocks":[{"cidrBlock":"203.0.113.7/32"},{"cidrBlock":"198.51.100.0/24"}]}}"#;
const RULE: &str = r#"{"name":"x-ray-default","sourceRanges":["10.48.0.0/14"]}"#;
const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: x-ray\n  cluster: {server: 'https://34.90.1.2'}\ncontexts:\n- name: x-ray\n  context: {cluster: x-ray, user: x-ray}\nusers:\n- name: x-ray\n  user: {}\ncurrent-context: x-ray\n";
/// `KUBECONFIG` as `kubectl config view -o json` shows it.
const KUBECONFIG_VIEW: &str = r#"{"kind":"Config","clusters":[{"name":"x-ray","cluster":{"server":"https://34.90.1.2"}}],
  "contexts":[{"name":"x-ray","context":{"cluster":"x-ray","user":"x-ray"}}],
  "users":[{"name":"x-ray","user":{}}],"current-context":"x-ray"}"#;
const DAEMONSET: &str =
    r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"nvidia-driver-installer"}}"#;

fn empty() -> World {
    World::new().answer(LIST, "[]").not_found(FIREWALL)
}

/// Everything there, with a kubeconfig holding the short names.
fn full(home: &std::path::Path) -> World {
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    std::fs::write(home.join(".kube/config"), KUBECONFIG).unwrap();
    World::new()
        .home(home)
        .answer(LIST, &format!("[{CLUSTER}]"))
        .answer(FIREWALL, RULE)
        .answer(DRIVER, DAEMONSET)
        .answer("kubectl config view", KUBECONFIG_VIEW)
}

#[test]
fn status_in_an_empty_project_asks_once() {
    assert_snapshot!(empty().transcript(&TOOL, "gke-cluster ="));
}

#[test]
fn status_when_built() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(full(home.path()).transcript(&TOOL, "gke-cluster ="));
}

#[test]
fn up_from_nothing() {
    assert_snapshot!(empty().transcript(&TOOL, "gke-cluster + --dry-run --cidr 203.0.113.7/32"));
}

#[test]
fn up_when_built_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(full(home.path()).transcript(&TOOL, "gke-cluster + --dry-run"));
}

#[test]
fn up_half_built_finishes_the_job() {
    // The cluster exists, but credentials, driver and firewall rule are missing.
    let w = World::new()
        .answer(LIST, &format!("[{CLUSTER}]"))
        .not_found(FIREWALL);
    assert_snapshot!(w.transcript(&TOOL, "gke-cluster + --dry-run"));
}

#[test]
fn up_without_driver_step() {
    let w = empty().config("gke:\n  gpu_driver_installer: ''\n");
    assert_snapshot!(w.transcript(&TOOL, "gke-cluster + --dry-run --cidr 203.0.113.7/32"));
}

#[test]
fn down_when_built() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(full(home.path()).transcript(&TOOL, "gke-cluster - --dry-run"));
}

#[test]
fn down_when_absent_changes_nothing() {
    assert_snapshot!(empty().transcript(&TOOL, "gke-cluster - --dry-run"));
}

#[test]
fn down_half_built() {
    // Only the firewall rule is left from an interrupted `-`.
    let w = World::new().answer(LIST, "[]").answer(FIREWALL, RULE);
    assert_snapshot!(w.transcript(&TOOL, "gke-cluster - --dry-run"));
}

#[test]
fn refresh_credentials() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(full(home.path()).transcript(&TOOL, "gke-cluster , --dry-run"));
}

#[test]
fn refresh_without_cluster_fails() {
    assert_snapshot!(empty().transcript(&TOOL, "gke-cluster refresh"));
}

#[test]
fn usage_errors() {
    assert_snapshot!(
        "bad_cidr",
        empty().transcript(&TOOL, "gke-cluster + --cidr 300.1.1.1/32")
    );
    assert_snapshot!(
        "unknown_op",
        empty().transcript(&TOOL, "gke-cluster sideways")
    );
    assert_snapshot!("two_ops", empty().transcript(&TOOL, "gke-cluster + -"));
}
