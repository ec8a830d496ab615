//! Deletion as a real server does it: finalizers, namespaces that empty
//! themselves, foreground and orphan cascades.

use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;

#[test]
fn a_finalizer_holds_deletion_until_patched_away() {
    let Some(emu) = start() else { return };
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}"#;
    let mut create = emu.kubectl();
    create.args(["create", "-f", "-"]).stdin(Stdio::piped());
    let mut child = create.stdout(Stdio::null()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), cm.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());

    // `kubectl delete` waits for the object to go; run it in the background.
    let mut delete = emu.kubectl();
    delete.args(["delete", "configmap", "held", "--timeout=30s"]);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(run(&mut delete)));
    eventually("the configmap is marked for deletion", || {
        emu.get("", "configmaps", "default", "held")
            .is_some_and(|o| o["metadata"]["deletionTimestamp"].is_string())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        rx.try_recv().is_err(),
        "kubectl delete returned while the finalizer held"
    );
    let still = kubectl_json(&emu, &["get", "configmap", "held"]);
    assert_eq!(still["metadata"]["finalizers"][0], "example.com/hold");

    // New finalizers cannot be added to an object being deleted.
    let add = r#"{"metadata":{"finalizers":["example.com/hold","example.com/more"]}}"#;
    fails(
        emu.kubectl()
            .args(["patch", "configmap", "held", "--type=merge", "-p", add]),
    );

    kubectl(
        &emu,
        &[
            "patch",
            "configmap",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    let deleted = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("kubectl delete returns");
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    assert!(text(&deleted.stdout).contains("configmap \"held\" deleted"));
    assert!(emu.get("", "configmaps", "default", "held").is_none());
    let err = fails(emu.kubectl().args(["get", "configmap", "held"]));
    assert!(
        err.contains("NotFound") && err.contains("\"held\" not found"),
        "{err}"
    );
}

#[test]
fn deleting_a_namespace_cascades() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    wait_in_demo(&emu, &["--for=condition=Ready", "pod", "-l", "app=web"]);
    kubectl(&emu, &["create", "configmap", "keep", "-n", "demo"]);
    kubectl(
        &emu,
        &[
            "patch",
            "configmap",
            "keep",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/keep"]}}"#,
        ],
    );

    kubectl(&emu, &["delete", "namespace", "demo", "--wait=false"]);
    eventually("everything but the held configmap is gone", || {
        let left: Vec<String> = ["pods", "secrets"]
            .iter()
            .flat_map(|p| emu.list("", p, Some("demo")))
            .chain(emu.list("apps", "deployments", Some("demo")))
            .map(|o| o["metadata"]["name"].to_string())
            .collect();
        left.is_empty()
    });
    let ns = kubectl_json(&emu, &["get", "namespace", "demo"]);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let refused = fails(
        emu.kubectl()
            .args(["create", "configmap", "late", "-n", "demo"]),
    );
    assert!(refused.contains("being terminated"), "{refused}");

    kubectl(
        &emu,
        &[
            "patch",
            "configmap",
            "keep",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    kubectl(
        &emu,
        &["wait", "--for=delete", "namespace/demo", "--timeout=20s"],
    );
    assert!(emu.get("", "namespaces", "", "demo").is_none());
}

#[test]
fn cascading_deletion_foreground_and_orphan() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    wait_in_demo(&emu, &["--for=condition=Available", "deployment/web"]);
    kubectl(
        &emu,
        &[
            "delete",
            "deployment",
            "web",
            "-n",
            "demo",
            "--cascade=foreground",
            "--timeout=20s",
        ],
    );
    assert!(emu.list("", "pods", Some("demo")).is_empty());
    assert!(emu.get("apps", "deployments", "demo", "web").is_none());
    let delete = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.path, "/apis/apps/v1/namespaces/demo/deployments/web");

    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    wait_in_demo(&emu, &["--for=condition=Available", "deployment/web"]);
    kubectl(
        &emu,
        &[
            "delete",
            "deployment",
            "web",
            "-n",
            "demo",
            "--cascade=orphan",
            "--timeout=20s",
        ],
    );
    let pods = emu.list("", "pods", Some("demo"));
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter().all(|p| p["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(Vec::is_empty)),
        "{pods:?}"
    );
}
