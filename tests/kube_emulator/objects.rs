//! Objects through kubectl: apply, get with selectors, wait, patches,
//! server-side apply, resource versions, secrets, injected faults.

use std::process::Stdio;

use serde_json::Value;

use crate::support::*;

#[test]
fn apply_get_selectors_and_wait_with_kubectl() {
    let Some(emu) = start() else { return };
    let applied = kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    assert!(applied.contains("namespace/demo created"), "{applied}");
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert!(applied.contains("secret/creds created"), "{applied}");

    wait_in_demo(&emu, &["--for=condition=Ready", "pod", "-l", "app=web"]);
    wait_in_demo(&emu, &["--for=condition=Available", "deployment/web"]);
    let deploy = kubectl_json(&emu, &["get", "deployment", "web", "-n", "demo"]);
    assert_eq!(deploy["status"]["availableReplicas"], 2);
    assert_eq!(
        deploy["status"]["observedGeneration"],
        deploy["metadata"]["generation"]
    );

    let pods = names(&kubectl_json(
        &emu,
        &["get", "pods", "-n", "demo", "-l", "app=web"],
    ));
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(pods.iter().all(|p| p.starts_with("web-")), "{pods:?}");
    let none = kubectl_json(
        &emu,
        &["get", "pods", "-n", "demo", "-l", "app in (db,cache)"],
    );
    assert!(names(&none).is_empty());
    let one = format!("metadata.name={}", pods[0]);
    let picked = kubectl_json(
        &emu,
        &["get", "pods", "-n", "demo", "--field-selector", &one],
    );
    assert_eq!(names(&picked), vec![pods[0].clone()]);
    let running = kubectl_json(
        &emu,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "status.phase=Running",
        ],
    );
    assert_eq!(names(&running), pods);
    let pending = kubectl_json(
        &emu,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "status.phase!=Running",
        ],
    );
    assert!(names(&pending).is_empty());

    // stringData became base64 data, as on a real server.
    let secret = kubectl(
        &emu,
        &[
            "get",
            "secret",
            "creds",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.password}",
        ],
    );
    assert_eq!(secret, "aHVudGVyMg==");

    // A second apply changes nothing that matters and keeps the objects.
    let again = kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");
    let uid_before = deploy["metadata"]["uid"].clone();
    let deploy = kubectl_json(&emu, &["get", "deployment", "web", "-n", "demo"]);
    assert_eq!(deploy["metadata"]["uid"], uid_before);

    // kubectl validated against the served OpenAPI documents.
    let log = emu.requests();
    assert!(
        log.iter()
            .any(|r| r.path == "/openapi/v3" && r.status == 200)
    );
    assert!(
        log.iter()
            .any(|r| r.path == "/openapi/v2" && r.status == 200)
    );
    assert!(!fails(emu.kubectl().args(["get", "pod", "nope", "-n", "demo"])).is_empty());
}

#[test]
fn merge_strategic_and_json_patches() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    let before = kubectl_json(&emu, &["get", "deployment", "web", "-n", "demo"]);

    kubectl(
        &emu,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3}}"#,
        ],
    );
    eventually("three pods run", || {
        names(&kubectl_json(
            &emu,
            &["get", "pods", "-n", "demo", "-l", "app=web"],
        ))
        .len()
            == 3
    });

    // Strategic: the container named web gets a new image and keeps its port.
    let image =
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#;
    kubectl(
        &emu,
        &["patch", "deployment", "web", "-n", "demo", "-p", image],
    );
    let after = kubectl_json(&emu, &["get", "deployment", "web", "-n", "demo"]);
    let container = &after["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.28");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let generation = |d: &Value| d["metadata"]["generation"].as_i64().unwrap();
    assert_eq!(generation(&after), generation(&before) + 2);

    // The new template replaces the pods (new template hash).
    eventually("pods roll to the new image", || {
        let pods = kubectl_json(&emu, &["get", "pods", "-n", "demo", "-l", "app=web"]);
        let items = pods["items"].as_array().unwrap().clone();
        items.len() == 3
            && items
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28")
    });

    let ops = r#"[{"op":"add","path":"/metadata/labels/tier","value":"front"}]"#;
    kubectl(
        &emu,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "demo",
            "--type=json",
            "-p",
            ops,
        ],
    );
    let labelled = kubectl_json(
        &emu,
        &["get", "deployments", "-n", "demo", "-l", "tier=front"],
    );
    assert_eq!(names(&labelled), vec!["web"]);
    let bad = r#"[{"op":"remove","path":"/metadata/labels/nope"}]"#;
    fails(emu.kubectl().args([
        "patch",
        "deployment",
        "web",
        "-n",
        "demo",
        "--type=json",
        "-p",
        bad,
    ]));

    let kinds: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.content_type)
        .collect();
    assert_eq!(
        kinds,
        [
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "application/json-patch+json"
        ]
    );
}

#[test]
fn server_side_apply_creates_then_merges() {
    let Some(emu) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cm.yaml");
    let write = |data: &str| {
        let yaml = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n{data}"
        );
        std::fs::write(&file, yaml).unwrap();
    };
    write("  a: \"1\"\n");
    let out = kubectl(
        &emu,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    );
    assert!(
        out.contains("configmap/settings serverside-applied"),
        "{out}"
    );
    write("  a: \"2\"\n  b: \"3\"\n");
    kubectl(
        &emu,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    );
    let cm = kubectl_json(&emu, &["get", "configmap", "settings"]);
    assert_eq!(cm["data"], serde_json::json!({"a": "2", "b": "3"}));
    let applies: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.content_type == "application/apply-patch+yaml")
        .collect();
    assert_eq!(applies.len(), 2, "{applies:?}");
    assert_eq!(applies[0].status, 201);
    assert_eq!(applies[1].status, 200);
    assert!(
        applies[0].query.contains("fieldManager=kubectl"),
        "{applies:?}"
    );
}

#[test]
fn resource_versions_generate_name_and_the_status_subresource() {
    let Some(emu) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen.yaml");
    std::fs::write(
        &generated,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: run-\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    let first = kubectl(
        &emu,
        &["create", "-f", generated.to_str().unwrap(), "-o", "name"],
    );
    let second = kubectl(
        &emu,
        &["create", "-f", generated.to_str().unwrap(), "-o", "name"],
    );
    assert!(
        first.starts_with("configmap/run-") && second.starts_with("configmap/run-"),
        "{first} {second}"
    );
    assert_ne!(first, second);

    // A replace that carries an old resourceVersion is a conflict.
    let name = first.trim().trim_start_matches("configmap/");
    let stale = kubectl(&emu, &["get", "configmap", name, "-o", "json"]);
    kubectl(
        &emu,
        &[
            "patch",
            "configmap",
            name,
            "--type=merge",
            "-p",
            r#"{"data":{"a":"2"}}"#,
        ],
    );
    let stale_file = dir.path().join("stale.json");
    std::fs::write(&stale_file, stale).unwrap();
    let err = fails(
        emu.kubectl()
            .args(["replace", "-f", stale_file.to_str().unwrap()]),
    );
    assert!(err.contains("the object has been modified"), "{err}");

    // Status is written only through /status; the main resource keeps it.
    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    wait_in_demo(&emu, &["--for=condition=Available", "deployment/web"]);
    let ignored = r#"{"status":{"replicas":7}}"#;
    kubectl(
        &emu,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            ignored,
        ],
    );
    assert_eq!(
        kubectl(
            &emu,
            &[
                "get",
                "deployment",
                "web",
                "-n",
                "demo",
                "-o",
                "jsonpath={.status.replicas}"
            ]
        ),
        "2"
    );
    let before = emu.get("apps", "deployments", "demo", "web").unwrap();
    let patch = r#"{"status":{"conditions":[{"type":"Paused","status":"True"}]}}"#;
    kubectl(
        &emu,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "demo",
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
        ],
    );
    let after = emu.get("apps", "deployments", "demo", "web").unwrap();
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );
    assert!(emu.requests().iter().any(|r| r.path
        == "/apis/apps/v1/namespaces/demo/deployments/web/status"
        && r.status == 200));
}

#[test]
fn secrets_are_checked_like_a_real_server_checks_them() {
    let Some(emu) = start() else { return };
    let create = |yaml: &str| {
        let mut cmd = emu.kubectl();
        cmd.args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), yaml.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let pull = |config: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
            base64(config)
        )
    };
    let bad = create(&pull("not json"));
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains(".dockerconfigjson"),
        "{}",
        text(&bad.stderr)
    );
    let good = create(&pull(
        r#"{"auths":{"europe-docker.pkg.dev":{"auth":"b2F1dGgy"}}}"#,
    ));
    assert!(good.status.success(), "{}", text(&good.stderr));

    // The type of a secret cannot change.
    let retype = r#"{"type":"Opaque"}"#;
    let err = fails(
        emu.kubectl()
            .args(["patch", "secret", "pull", "--type=merge", "-p", retype]),
    );
    assert!(err.contains("field is immutable"), "{err}");
}

#[test]
fn an_injected_fault_fails_one_request_once() {
    let Some(emu) = start() else { return };
    emu.fail_once("POST", "/api/v1/namespaces/*/configmaps", 500);
    let err = fails(emu.kubectl().args(["create", "configmap", "flaky"]));
    assert!(err.contains("injected fault"), "{err}");
    assert!(emu.pending_faults().is_empty());
    assert!(emu.get("", "configmaps", "default", "flaky").is_none());
    kubectl(&emu, &["create", "configmap", "flaky"]);
    let posts: Vec<u16> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/configmaps"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, [500, 201]);

    emu.fail_once("GET", "/api/v1/namespaces/default/configmaps/flaky", 409);
    let err = fails(emu.kubectl().args(["get", "configmap", "flaky"]));
    assert!(
        err.contains("Conflict") || err.contains("injected fault"),
        "{err}"
    );
    kubectl(&emu, &["get", "configmap", "flaky"]);

    // Twice, any method: both attempts fail, the third works.
    emu.clear_requests();
    emu.fail_times("*", "/api/v1/namespaces/default/configmaps/flaky", 503, 2);
    fails(emu.kubectl().args(["label", "configmap", "flaky", "a=b"]));
    fails(emu.kubectl().args(["label", "configmap", "flaky", "a=b"]));
    kubectl(&emu, &["label", "configmap", "flaky", "a=b"]);
    let injected: Vec<String> = emu
        .requests()
        .iter()
        .filter(|r| r.injected)
        .map(|r| r.line())
        .collect();
    assert_eq!(injected.len(), 2, "{injected:?}");
    let changes: Vec<String> = emu.mutating_requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        changes,
        ["PATCH /api/v1/namespaces/default/configmaps/flaky"]
    );
}

#[test]
fn an_annotated_pod_runs_but_never_becomes_ready() {
    let Some(emu) = start() else { return };
    kubectl(
        &emu,
        &[
            "run",
            "slow",
            "--image=x",
            "--annotations=emulator.kas.dev/not-ready=true",
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "pod/slow",
            "--timeout=20s",
        ],
    );
    let err =
        fails(
            emu.kubectl()
                .args(["wait", "--for=condition=Ready", "pod/slow", "--timeout=1s"]),
        );
    assert!(err.contains("timed out"), "{err}");
}
