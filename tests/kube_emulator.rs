//! The Kubernetes API emulator, driven by the real kubectl and helm.
//!
//! Every command runs with a deadline, and every wait is bounded.

#[path = "emulator/kube/mod.rs"]
mod kube;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kube::KubeEmulator;
use serde_json::Value;

const CHART: &str = "tests/fixtures/charts/kuberay-operator";
const CRD: &str = "tests/fixtures/charts/kuberay-operator/crds/ray.io_rayclusters.yaml";
const DEADLINE: Duration = Duration::from_secs(60);

/// Whether `tool` is on PATH. Missing in CI is a failure that says what to
/// install; elsewhere the test is skipped with a note.
fn have(tool: &str) -> bool {
    if which::which(tool).is_ok() {
        return true;
    }
    let hint = match tool {
        "helm" => "helm: run `source .ci/setup-helm.sh` (or install Helm 3.x/4.x)",
        _ => "kubectl: install it (Debian: `apt-get install kubectl`, or from .ci/setup-helm.sh)",
    };
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is not on PATH; {hint}");
    }
    eprintln!("skipping: {tool} is not on PATH; {hint}");
    false
}

fn start() -> Option<KubeEmulator> {
    have("kubectl").then(|| KubeEmulator::start().expect("the emulator starts"))
}

/// Runs a command to completion within [`DEADLINE`].
fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("the command ran"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("{shown} did not finish within {DEADLINE:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs and expects failure; returns stderr.
fn fails(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        !out.status.success(),
        "{shown} should have failed:\n{}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

fn kubectl(emu: &KubeEmulator, args: &[&str]) -> String {
    ok(emu.kubectl().args(args))
}

fn kubectl_json(emu: &KubeEmulator, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(emu, &all)).expect("kubectl prints JSON")
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Polls until `check` holds (bounded).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

#[test]
fn apply_get_selectors_and_wait_with_kubectl() {
    let Some(emu) = start() else { return };
    let applied = kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    assert!(applied.contains("namespace/demo created"), "{applied}");
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert!(applied.contains("secret/creds created"), "{applied}");

    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
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
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
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

/// Starts `kubectl ARGS` and hands back its output lines as they come.
fn stream_lines(
    emu: &KubeEmulator,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = emu
        .kubectl()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

#[test]
fn kubectl_get_watch_sees_a_change() {
    let Some(emu) = start() else { return };
    let (mut names_watch, names) =
        stream_lines(&emu, &["get", "configmaps", "--watch-only", "-o", "name"]);
    // The human form: rows of the server's Tables, header first.
    let (mut table_watch, rows) = stream_lines(&emu, &["get", "pods", "--watch"]);
    eventually("kubectl watches", || {
        let log = emu.requests();
        let watching = |path: &str| {
            log.iter()
                .any(|r| r.path == path && r.query.contains("watch=true"))
        };
        watching("/api/v1/namespaces/default/configmaps")
            && watching("/api/v1/namespaces/default/pods")
    });
    kubectl(&emu, &["create", "configmap", "seen"]);
    kubectl(&emu, &["run", "watched", "--image=x"]);
    let line = names.recv_timeout(Duration::from_secs(20));
    let mut printed = vec![];
    while let Ok(row) = rows.recv_timeout(Duration::from_secs(5)) {
        printed.push(row);
        if printed.iter().any(|r| r.contains("Running")) {
            break;
        }
    }
    for child in [&mut names_watch, &mut table_watch] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        line.expect("the watch printed the new configmap"),
        "configmap/seen"
    );
    assert!(
        printed[0].starts_with("NAME") && printed[0].contains("STATUS"),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|r| r.starts_with("watched ") && r.contains("Running")),
        "{printed:?}"
    );
}

#[test]
fn helm_installs_waits_lists_and_uninstalls_the_stand_in_chart() {
    let Some(emu) = start() else { return };
    if !have("helm") {
        return;
    }
    let out = ok(emu.helm().args([
        "install",
        "kuberay-operator",
        CHART,
        "-n",
        "ray-system",
        "--create-namespace",
        "--wait",
        "--timeout",
        "60s",
    ]));
    assert!(out.contains("STATUS: deployed"), "{out}");

    let list: Value = serde_json::from_str(&ok(emu.helm().args([
        "list",
        "-n",
        "ray-system",
        "-o",
        "json",
    ])))
    .unwrap();
    assert_eq!(list[0]["name"], "kuberay-operator");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "kuberay-operator-1.7.0");

    let crd = kubectl_json(&emu, &["get", "crd", "rayclusters.ray.io"]);
    let established = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established, "{crd}");
    let deploy = kubectl_json(
        &emu,
        &["get", "deployment", "kuberay-operator", "-n", "ray-system"],
    );
    assert_eq!(deploy["status"]["availableReplicas"], 1);
    kubectl(
        &emu,
        &[
            "get",
            "serviceaccount",
            "kuberay-operator",
            "-n",
            "ray-system",
        ],
    );
    kubectl(&emu, &["get", "clusterrolebinding", "kuberay-operator"]);
    let resources = kubectl(&emu, &["api-resources", "--api-group=ray.io", "-o", "name"]);
    assert_eq!(resources.trim(), "rayclusters.ray.io");

    // Helm keeps the release in a Secret it writes as protobuf.
    let log = emu.requests();
    assert!(log.iter().any(|r| r.method == "POST"
        && r.path == "/api/v1/namespaces/ray-system/secrets"
        && r.content_type == "application/vnd.kubernetes.protobuf"
        && r.status == 201));

    let out = ok(emu.helm().args([
        "uninstall",
        "kuberay-operator",
        "-n",
        "ray-system",
        "--wait",
        "--timeout",
        "60s",
    ]));
    assert!(out.contains("uninstalled"), "{out}");
    assert!(
        emu.list("apps", "deployments", Some("ray-system"))
            .is_empty()
    );
    assert!(emu.list("", "secrets", Some("ray-system")).is_empty());
    let list = ok(emu.helm().args(["list", "-A", "-q"]));
    assert_eq!(list.trim(), "");
    // As with any Helm chart, CRDs from crds/ stay; deleting one removes
    // its resources from discovery.
    kubectl(&emu, &["get", "crd", "rayclusters.ray.io"]);
    kubectl(
        &emu,
        &["delete", "crd", "rayclusters.ray.io", "--timeout=20s"],
    );
    assert_eq!(
        kubectl(&emu, &["api-resources", "--api-group=ray.io", "-o", "name"]),
        ""
    );
    fails(emu.kubectl().args(["get", "rayclusters"]));
}

#[test]
fn the_raycluster_controller_brings_up_and_replaces_pods() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", CRD]);
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Established",
            "crd/rayclusters.ray.io",
            "--timeout=20s",
        ],
    );
    kubectl(
        &emu,
        &["apply", "-f", "tests/fixtures/kube/raycluster.yaml"],
    );
    let head_selector = "ray.io/cluster=raytest,ray.io/node-type=head";
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            head_selector,
            "--timeout=20s",
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=jsonpath={.status.state}=ready",
            "raycluster/raytest",
            "--timeout=20s",
        ],
    );

    let heads = kubectl_json(&emu, &["get", "pods", "-l", head_selector]);
    let head = &heads["items"][0];
    let first_head = head["metadata"]["name"].as_str().unwrap().to_string();
    assert!(first_head.starts_with("raytest-head-"), "{first_head}");
    assert_eq!(head["metadata"]["labels"]["ray.io/group"], "headgroup");
    assert_eq!(head["metadata"]["labels"]["team"], "kas");
    assert_eq!(
        head["metadata"]["annotations"]["emulator.kas.dev/forward-8265"],
        "127.0.0.1:9"
    );
    assert_eq!(head["metadata"]["ownerReferences"][0]["kind"], "RayCluster");

    let workers = kubectl_json(
        &emu,
        &[
            "get",
            "pods",
            "-l",
            "ray.io/cluster=raytest,ray.io/node-type=worker,ray.io/group=cpu",
        ],
    );
    assert_eq!(names(&workers).len(), 2);
    assert!(
        names(&workers)
            .iter()
            .all(|n| n.starts_with("raytest-cpu-worker-"))
    );

    let svc = kubectl_json(&emu, &["get", "service", "raytest-head-svc"]);
    let ports: Vec<i64> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [6379, 8265, 10001]);
    assert_eq!(svc["spec"]["selector"]["ray.io/node-type"], "head");

    let printed = kubectl(&emu, &["get", "raycluster", "raytest"]);
    assert!(
        printed.lines().next().unwrap().contains("DESIRED WORKERS"),
        "{printed}"
    );
    assert!(
        printed.lines().nth(1).unwrap().contains(" ready "),
        "{printed}"
    );
    let cluster = kubectl_json(&emu, &["get", "raycluster", "raytest"]);
    let status = &cluster["status"];
    assert_eq!(status["state"], "ready");
    assert_eq!(status["head"]["podName"], first_head.as_str());
    assert_eq!(status["head"]["podIP"], head["status"]["podIP"]);
    assert_eq!(status["head"]["serviceIP"], svc["spec"]["clusterIP"]);
    assert_eq!(status["availableWorkerReplicas"], 2);
    assert_eq!(status["endpoints"]["dashboard"], "8265");
    // One head (1 CPU, 2Gi) and two workers (500m, 1Gi each, from limits).
    assert_eq!(status["desiredCPU"], "2");
    assert_eq!(status["desiredMemory"], "4Gi");
    assert_eq!(status["desiredGPU"], "0");

    // A deleted head pod comes back under a new name, Ready.
    kubectl(&emu, &["delete", "pod", &first_head, "--timeout=20s"]);
    eventually("a new head pod is Ready", || {
        let heads = kubectl_json(&emu, &["get", "pods", "-l", head_selector]);
        heads["items"].as_array().unwrap().iter().any(|p| {
            p["metadata"]["name"] != first_head.as_str() && p["status"]["phase"] == "Running"
        })
    });
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            head_selector,
            "--timeout=20s",
        ],
    );

    // Scaling the worker group through the custom resource (merge patch).
    let scale = r#"{"spec":{"workerGroupSpecs":[{"groupName":"cpu","replicas":1,"minReplicas":0,"maxReplicas":4,"template":{"spec":{"containers":[{"name":"ray-worker","image":"rayproject/ray:2.40.0"}]}}}]}}"#;
    kubectl(
        &emu,
        &[
            "patch",
            "raycluster",
            "raytest",
            "--type=merge",
            "-p",
            scale,
        ],
    );
    eventually("one worker is left", || {
        emu.list("", "pods", Some("default")).len() == 2
    });

    // Deleting the cluster takes its pods and service with it.
    kubectl(&emu, &["delete", "raycluster", "raytest", "--timeout=20s"]);
    eventually("the cluster's pods and service are gone", || {
        emu.list("", "pods", Some("default")).is_empty()
            && emu
                .get("", "services", "default", "raytest-head-svc")
                .is_none()
    });
}

#[test]
fn an_injected_fault_fails_one_request_once() {
    let Some(emu) = start() else { return };
    emu.fail_once("POST", "/api/v1/namespaces/*/configmaps", 500);
    let err = fails(emu.kubectl().args(["create", "configmap", "flaky"]));
    assert!(err.contains("injected fault"), "{err}");
    assert_eq!(emu.pending_faults(), 0);
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
}

#[test]
fn exec_runs_commands_over_websocket_and_returns_their_status() {
    let Some(emu) = start() else { return };
    kubectl(
        &emu,
        &["run", "box", "--image=busybox", "--env=GREETING=hello"],
    );
    kubectl(
        &emu,
        &["wait", "--for=condition=Ready", "pod/box", "--timeout=20s"],
    );

    let out = kubectl(&emu, &["exec", "box", "--", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let out = kubectl(
        &emu,
        &[
            "exec",
            "box",
            "--",
            "sh",
            "-c",
            "echo $GREETING $HOSTNAME; pwd; echo oops >&2",
        ],
    );
    assert_eq!(out, format!("hello box\n{}\n", emu.exec_dir().display()));

    let failed = run(emu
        .kubectl()
        .args(["exec", "box", "--", "sh", "-c", "exit 3"]));
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));

    // Standard input reaches the command (read to its end first).
    let mut piped = emu.kubectl();
    piped
        .args(["exec", "-i", "box", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = piped.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"shout\n").unwrap();
    let upper = child.wait_with_output().unwrap();
    assert_eq!(text(&upper.stdout), "SHOUT\n");

    let exec = emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/pods/box/exec"))
        .unwrap();
    assert_eq!(exec.status, 101);
    assert!(exec.query.contains("command=echo&command=hi"), "{exec}");

    emu.append_log("default", "box", "started\n");
    assert_eq!(kubectl(&emu, &["logs", "box"]), "started\n");
}

/// A one-line HTTP server standing behind a pod port; counts connections.
fn tiny_server(body: &'static str) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let reply = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    (port, count)
}

fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    reply
}

#[test]
fn port_forward_relays_to_the_annotated_address_until_the_pod_goes() {
    let Some(emu) = start() else { return };
    let (backend, connections) = tiny_server("dashboard");
    let annotation = format!("emulator.kas.dev/forward-8265=127.0.0.1:{backend}");
    kubectl(
        &emu,
        &["run", "head", "--image=ray", "--annotations", &annotation],
    );
    kubectl(
        &emu,
        &["wait", "--for=condition=Ready", "pod/head", "--timeout=20s"],
    );

    let mut forward = emu
        .kubectl()
        .args(["port-forward", "pod/head", ":8265", ":6379"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = forward.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut local = HashMap::new();
    while local.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("kubectl port-forward starts");
        // "Forwarding from 127.0.0.1:43567 -> 8265"
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
            let (l, r) = rest.split_once(" -> ").unwrap();
            local.insert(r.to_string(), l.parse::<u16>().unwrap());
        }
    }
    for _ in 0..3 {
        let reply = http_get(local["8265"]);
        assert!(reply.ends_with("\r\n\r\ndashboard"), "{reply:?}");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Nothing is behind 6379: the error reaches kubectl, which says so.
    let reply = http_get(local["6379"]);
    assert_eq!(reply, "");

    // Like the kubelet, the emulator drops the connection with the pod, and
    // kubectl port-forward exits.
    kubectl(&emu, &["delete", "pod", "head", "--timeout=20s"]);
    let (tx, done) = mpsc::channel();
    std::thread::spawn(move || tx.send(forward.wait_with_output()));
    let out = done
        .recv_timeout(Duration::from_secs(20))
        .expect("kubectl port-forward exits")
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nothing behind port 6379"), "{stderr}");
    assert!(stderr.contains("lost connection to pod"), "{stderr}");
}

#[test]
fn cascading_deletion_foreground_and_orphan() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", "tests/fixtures/kube/basics.yaml"]);
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
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
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
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

fn base64(text: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                B64[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
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
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=20s",
        ],
    );
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
