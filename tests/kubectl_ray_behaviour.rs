//! `kubectl ray` for real against a scripted world: waiting, timeouts,
//! finalizers, the pull secret's token, usage errors and recovery, with
//! the subprocesses counted.

use kas_test_support as support;

use support::kube_answers::*;
use support::world::{Run, World, failed, ok, run};

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";

fn error_text(r: &Run) -> String {
    r.ui.iter()
        .filter(|l| l.starts_with("error: "))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

fn pods(ready: bool) -> String {
    serde_json::json!({"kind": "List", "items": [pod("local-cpu-only", ready)]}).to_string()
}

fn up_world() -> std::sync::Arc<World> {
    let w = World::new();
    operator_present(&w);
    token(&w);
    secret_absent(&w, "pull");
    w.on("kubectl create --filename=-", ok("secret/pull created\n"));
    w.on(
        "kubectl apply --filename=yaml/k8s/local-cpu-only.yaml",
        ok("raycluster.ray.io/local-cpu-only created\n"),
    );
    w
}

#[test]
fn up_waits_for_the_head_pod_and_counts_its_calls() {
    let w = up_world();
    let head = head_pods("local-cpu-only");
    w.on(&head, ok(r#"{"kind":"List","items":[]}"#));
    w.on(&head, ok(&pods(false)));
    w.on(&head, ok(&pods(true)));
    let r = run(w, &["+", LOCAL, "--verbose"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    assert!(
        r.ui.contains(
            &"RayCluster local-cpu-only is up: head pod local-cpu-only-head-8x2kq is Ready"
                .to_string()
        ),
        "{:#?}",
        r.ui
    );
    // helm list, CRD, token, secret, apply secret, apply cluster, 3 polls.
    assert_eq!(r.world.ran().len(), 9, "{:#?}", r.world.lines());
}

#[test]
fn the_token_travels_on_stdin_only() {
    let w = up_world();
    w.on(&head_pods("local-cpu-only"), ok(&pods(true)));
    let r = run(w, &["+", LOCAL, "--verbose"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    let ran = r.world.ran();
    for cmd in &ran {
        assert!(
            cmd.args.iter().all(|a| !a.contains(TOKEN)),
            "the token is in an argument: {}",
            cmd.line
        );
    }
    assert!(
        r.ui.iter().all(|l| !l.contains(TOKEN)),
        "the token was printed"
    );
    let apply = ran
        .iter()
        .find(|c| c.line == "kubectl create --filename=- <<< ***")
        .expect("the secret is created from standard input, shown masked");
    let manifest: serde_json::Value =
        serde_json::from_slice(apply.stdin.as_ref().unwrap()).unwrap();
    assert_eq!(manifest["type"], "kubernetes.io/dockerconfigjson");
    let config =
        kas_infra::exec::base64::decode(manifest["data"][".dockerconfigjson"].as_str().unwrap())
            .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    let entry = &config["auths"]["europe-west4-docker.pkg.dev"];
    assert_eq!(entry["username"], "oauth2accesstoken");
    assert_eq!(entry["password"], TOKEN);
}

#[test]
fn up_gives_up_after_the_timeout_and_says_why() {
    let w = up_world();
    w.on(&head_pods("local-cpu-only"), ok(&pods(false)));
    let r = run(w, &["+", LOCAL, "--timeout", "0s"]);
    assert_eq!(r.code, 3);
    let err = error_text(&r);
    assert!(err.contains("is not Ready after 0s"), "{err}");
    assert!(
        err.contains("containers with unready status: [ray-head]"),
        "{err}"
    );
    assert!(
        err.contains("kubectl describe pods --selector=ray.io/cluster=local-cpu-only"),
        "{err}"
    );
}

#[test]
fn up_without_any_head_pod_points_at_the_operator() {
    let w = up_world();
    w.on(
        &head_pods("local-cpu-only"),
        ok(r#"{"kind":"List","items":[]}"#),
    );
    let r = run(w, &["+", LOCAL, "--timeout", "0"]);
    assert_eq!(r.code, 3);
    assert!(
        error_text(&r).contains("is the KubeRay operator running?"),
        "{}",
        error_text(&r)
    );
}

fn stuck_world() -> std::sync::Arc<World> {
    let w = World::new();
    let stuck = raycluster("local-cpu-only", "default", false);
    w.on(&get_cluster("local-cpu-only"), ok(&stuck.to_string()));
    w.on(
        "kubectl delete rayclusters.ray.io local-cpu-only --wait=false --namespace=default",
        ok("raycluster.ray.io \"local-cpu-only\" deleted\n"),
    );
    let deleting = raycluster("local-cpu-only", "default", true);
    w.on(&get_cluster("local-cpu-only"), ok(&deleting.to_string()));
    // `-` also looks for the pull secret it would remove.
    secret_absent(&w, "pull");
    w
}

#[test]
fn finalizers_that_hold_a_deletion_are_named_with_the_way_out() {
    let r = run(stuck_world(), &["-", LOCAL, "--timeout", "0"]);
    assert_eq!(r.code, 3);
    let err = error_text(&r);
    assert!(err.contains("held by finalizers"), "{err}");
    assert!(
        err.contains("ray.io/gcs-ft-redis-cleanup-finalizer"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(
        r.world.lines().iter().all(|l| !l.contains("patch")),
        "without --force nothing is patched"
    );
}

#[test]
fn force_clears_the_finalizers() {
    let w = stuck_world();
    w.on(
        "kubectl patch rayclusters.ray.io local-cpu-only --type=merge",
        ok("raycluster.ray.io/local-cpu-only patched\n"),
    );
    let r = run(w, &["-", LOCAL, "--timeout", "0", "--force"]);
    // Here the cluster stays even without finalizers: said so.
    assert_eq!(r.code, 3);
    assert!(error_text(&r).contains("still there after clearing the finalizers"));
    // Here it goes once they are cleared.
    let w = stuck_world();
    w.on(
        "kubectl patch rayclusters.ray.io local-cpu-only --type=merge",
        ok("raycluster.ray.io/local-cpu-only patched\n"),
    );
    let get = get_cluster("local-cpu-only");
    w.on(
        &get,
        failed(
            1,
            "Error from server (NotFound): rayclusters.ray.io \"local-cpu-only\" not found",
        ),
    );
    let r = run(w, &["-", LOCAL, "--timeout", "0", "--force"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    assert!(
        r.world.lines().contains(
            &r#"kubectl patch rayclusters.ray.io local-cpu-only --type=merge '--patch={"metadata":{"finalizers":null}}' --namespace=default"#
                .to_string()
        ),
        "{:#?}",
        r.world.lines()
    );
}

#[test]
fn a_failed_apply_names_the_command_and_a_rerun_converges() {
    let w = World::new();
    operator_present(&w);
    w.on(&head_pods("gke-cpu-only"), ok(&pods(true)));
    let apply = "kubectl apply --filename=yaml/k8s/gke-cpu-only.yaml";
    w.on(
        apply,
        failed(
            1,
            "Error from server (InternalError): etcdserver: request timed out\n",
        ),
    );
    w.on(apply, ok("raycluster.ray.io/gke-cpu-only created\n"));
    let r = run(w.clone(), &["+", "yaml/k8s/gke-cpu-only.yaml"]);
    assert_eq!(r.code, 3);
    let err = error_text(&r);
    assert!(
        err.contains("`kubectl apply --filename=yaml/k8s/gke-cpu-only.yaml` failed (exit 1)"),
        "{err}"
    );
    assert!(err.contains("etcdserver: request timed out"), "{err}");
    let r = run(w, &["+", "yaml/k8s/gke-cpu-only.yaml"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
}

#[test]
fn a_failed_helm_install_is_reported_and_a_rerun_upgrades() {
    let w = World::new();
    operator_absent(&w);
    w.on(
        "helm install",
        failed(1, "Error: INSTALLATION FAILED: context deadline exceeded\n"),
    );
    let r = run(w, &["++"]);
    assert_eq!(r.code, 3);
    let err = error_text(&r);
    assert!(err.contains("could not create operator"), "{err}");
    assert!(err.contains("INSTALLATION FAILED"), "{err}");
    // The release is now there, failed: the rerun repairs it.
    let w = World::new();
    operator_with_release(&w, "failed");
    w.on(
        "helm upgrade kuberay-operator",
        ok("Release \"kuberay-operator\" has been upgraded.\n"),
    );
    w.on(HELM_LIST, ok(&release("deployed")));
    let r = run(w, &["++"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
}

/// The helm commands a run sent, in order.
fn helm_lines(r: &Run) -> Vec<String> {
    r.world
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("helm "))
        .collect()
}

#[test]
fn an_interrupted_install_is_removed_and_redone() {
    let w = World::new();
    operator_with_release(&w, "pending-install");
    w.on("helm uninstall kuberay-operator", ok(""));
    w.on("helm install kuberay-operator", ok(""));
    w.on(HELM_LIST, ok(&release("deployed")));
    let r = run(w, &["++"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    let helm = helm_lines(&r);
    assert!(
        helm[1].starts_with("helm uninstall kuberay-operator --wait"),
        "{helm:#?}"
    );
    assert!(
        helm[2].starts_with("helm install kuberay-operator"),
        "{helm:#?}"
    );
    assert!(
        r.ui.iter().any(|l| l.contains("stuck in pending-install")),
        "{:#?}",
        r.ui
    );
}

#[test]
fn an_interrupted_upgrade_is_rolled_back_then_redone() {
    let w = World::new();
    operator_with_release(&w, "pending-upgrade");
    w.on("helm rollback kuberay-operator", ok(""));
    w.on("helm upgrade kuberay-operator", ok(""));
    w.on(HELM_LIST, ok(&release("deployed")));
    let r = run(w, &["++"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    let helm = helm_lines(&r);
    assert!(
        helm[1].starts_with("helm rollback kuberay-operator --wait"),
        "{helm:#?}"
    );
    assert!(
        helm[2].starts_with("helm upgrade kuberay-operator"),
        "{helm:#?}"
    );
}

#[test]
fn a_release_helm_left_unrecorded_is_reported() {
    let w = World::new();
    operator_absent(&w);
    w.on("helm install", ok(""));
    w.on(HELM_LIST, ok(&release("pending-install")));
    let r = run(w, &["++"]);
    assert_eq!(r.code, 3);
    assert!(
        error_text(&r).contains(
            "Helm finished, but the helm release kuberay-operator in namespace ray is pending-install"
        ),
        "{}",
        error_text(&r)
    );
}

#[test]
fn uninstall_deletes_in_order_and_waits_for_the_clusters() {
    let w = World::new();
    operator_present(&w);
    w.on(
        LIST_CLUSTERS,
        ok(&serde_json::json!({"kind": "List", "items": [raycluster("local-cpu-only", "default", false)]})
            .to_string()),
    );
    let get = get_cluster("local-cpu-only");
    w.on(
        &format!("{get} --namespace=default"),
        ok(&raycluster("local-cpu-only", "default", true).to_string()),
    );
    w.on(
        &format!("{get} --namespace=default"),
        failed(1, "Error from server (NotFound): not found"),
    );
    w.on("kubectl delete", ok(""));
    w.on(
        "helm uninstall",
        ok("release \"kuberay-operator\" uninstalled\n"),
    );
    let r = run(w, &["--", "--quiet"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    let mutations: Vec<String> = r
        .world
        .lines()
        .into_iter()
        .filter(|l| l.contains(" delete ") || l.starts_with("helm uninstall"))
        .collect();
    assert_eq!(
        mutations,
        [
            "kubectl delete rayclusters.ray.io local-cpu-only --wait=false --namespace=default",
            "helm uninstall kuberay-operator --wait --timeout=600s --namespace=ray",
            "kubectl delete namespaces ray --timeout=600s",
            "kubectl delete customresourcedefinitions rayclusters.ray.io rayjobs.ray.io rayservices.ray.io",
        ]
    );
}

#[test]
fn a_system_namespace_is_never_deleted() {
    let w = World::new();
    w.on("helm list --output=json --namespace=default", ok("[]"));
    w.on(
        GET_CRD,
        failed(1, "Error from server (NotFound): not found"),
    );
    w.on(LIST_CRDS, ok(r#"{"items":[]}"#));
    w.on(
        LIST_CLUSTERS,
        failed(
            1,
            "error: the server doesn't have a resource type \"rayclusters\"",
        ),
    );
    w.on(
        "kubectl get namespaces default",
        ok(r#"{"metadata":{"name":"default"}}"#),
    );
    let r = run(w, &["--", "-n", "default"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    assert!(r.ui.contains(&"> keeping namespace default (a system namespace)".to_string()));
    assert!(r.world.lines().iter().all(|l| !l.contains("delete")));
}

#[test]
fn usage_mistakes_exit_2_and_run_nothing() {
    for args in [
        vec!["+"],
        vec!["==", LOCAL],
        vec!["convert"],
        vec!["+", "-", LOCAL],
        vec!["+", LOCAL, "--timeout", "soon"],
        vec!["operator"],
        vec![],
    ] {
        let w = World::new();
        let r = run(w, &args);
        assert_eq!(r.code, 2, "{args:?}: {:#?}", r.ui);
        assert!(r.world.ran().is_empty(), "{args:?} ran something");
    }
}

#[test]
fn bad_files_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n").unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "spec: [\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    for (file, expected) in [
        (pod, "not a RayCluster"),
        (broken, "is not valid YAML"),
        (missing, "could not read"),
    ] {
        let w = World::new();
        let r = run(w, &["+", file.to_str().unwrap()]);
        assert_eq!(r.code, 3);
        assert!(error_text(&r).contains(expected), "{}", error_text(&r));
        assert!(r.world.ran().is_empty());
    }
}

#[test]
fn a_namespace_flag_that_contradicts_the_file_is_refused() {
    let w = World::new();
    let r = run(
        w,
        &[
            "+",
            "tests/fixtures/legacy/custom-resources.yaml",
            "-n",
            "other",
        ],
    );
    assert_eq!(r.code, 3);
    assert!(error_text(&r).contains("in namespace research, but --namespace says other"));
    assert!(r.world.ran().is_empty());
}

#[test]
fn a_missing_values_file_that_was_configured_is_an_error() {
    let w = World::new();
    operator_absent(&w);
    let mut config = kas_infra::app::config::Config::default();
    config.ray.operator.values = "nope/values.yaml".into();
    let r = support::world::run_with(w, config, &["++"]);
    assert_eq!(r.code, 3);
    assert!(
        error_text(&r).contains("ray.operator.values"),
        "{}",
        error_text(&r)
    );
    assert!(
        r.world
            .lines()
            .iter()
            .all(|l| !l.starts_with("helm install"))
    );
}

#[test]
fn a_local_chart_is_installed_without_repository_or_version() {
    let w = World::new();
    operator_absent(&w);
    w.on("helm install", ok(""));
    let mut config = kas_infra::app::config::Config::default();
    config.ray.operator.chart = "./charts/kuberay-operator".into();
    config.ray.operator.values = String::new();
    w.on(HELM_LIST, ok(&release("deployed")));
    let r = support::world::run_with(w, config, &["++"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    assert!(r.world.lines().contains(
        &"helm install kuberay-operator ./charts/kuberay-operator --create-namespace --wait --timeout=600s --namespace=ray"
            .to_string()
    ));
}

#[test]
fn an_oci_chart_is_installed_with_its_version() {
    let w = World::new();
    operator_absent(&w);
    w.on("helm install", ok(""));
    w.on(HELM_LIST, ok(&release("deployed")));
    let mut config = kas_infra::app::config::Config::default();
    config.ray.operator.chart = "oci://registry.example.test/charts/kuberay-operator".into();
    config.ray.operator.values = String::new();
    let r = support::world::run_with(w, config, &["++"]);
    assert_eq!(r.code, 0, "{:#?}", r.ui);
    assert!(r.world.lines().contains(
        &"helm install kuberay-operator oci://registry.example.test/charts/kuberay-operator --version=1.5.1 --create-namespace --wait --timeout=600s --namespace=ray"
            .to_string()
    ), "{:#?}", r.world.lines());
}

#[test]
fn convert_of_a_kuberay_file_prints_it_unchanged_with_a_warning() {
    let r = run(World::new(), &["convert", LOCAL]);
    assert_eq!(r.code, 0);
    assert!(
        r.ui[0].starts_with("warning: yaml/k8s/local-cpu-only.yaml is already a KubeRay"),
        "{:#?}",
        r.ui
    );
    let printed: serde_yaml::Value = serde_yaml::from_str(&r.ui[1..].join("\n")).unwrap();
    let file: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(LOCAL).unwrap()).unwrap();
    assert_eq!(printed, file);
}
