//! The RayJob and RayService stand-ins: a RayJob makes its RayCluster and
//! walks KubeRay's deployment states, submitting to (and reading from) the
//! Jobs API its head forwards to; a RayService makes its cluster and the
//! services in front of it. The Jobs API here is a small local server
//! that plays Ray's dashboard.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::kube::KubeEmulator;
use crate::support::*;

const CRDS: &str = "tests/fixtures/charts/kuberay-operator/crds";

fn with_crds() -> Option<KubeEmulator> {
    let emu = start()?;
    kubectl(&emu, &["apply", "-f", CRDS]);
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Established",
            "crd/rayclusters.ray.io",
            "crd/rayjobs.ray.io",
            "crd/rayservices.ray.io",
            "--timeout=20s",
        ],
    );
    Some(emu)
}

/// A Jobs API that knows no job until one is POSTed, then reports it as
/// `status`; the bodies it was sent.
fn jobs_api(status: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let posted = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = posted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let request = read_request(&mut stream);
            let body = request.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let known = !seen.lock().unwrap().is_empty();
            let (code, answer) = if request.starts_with("POST /api/jobs/") {
                seen.lock().unwrap().push(body.to_string());
                ("200 OK", r#"{"submission_id":"x"}"#.to_string())
            } else if known {
                (
                    "200 OK",
                    format!(r#"{{"status":"{status}","message":"Job finished: {status}"}}"#),
                )
            } else {
                ("404 Not Found", "{}".to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, posted)
}

/// A whole request: its head, then as many body bytes as it announces.
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&raw).into_owned(),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// A RayJob over the fixture cluster's spec, its head forwarding 8265 to
/// `dashboard`.
fn rayjob(name: &str, dashboard: u16, extra: &str) -> String {
    let cluster: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            kas_test_support::root().join("tests/fixtures/kube/raycluster.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut spec = cluster["spec"].clone();
    spec["headGroupSpec"]["template"]["metadata"]["annotations"]["emulator.kas.dev/forward-8265"] =
        format!("127.0.0.1:{dashboard}").into();
    let mut job: serde_yaml::Value = serde_yaml::from_str(&format!(
        "apiVersion: ray.io/v1\nkind: RayJob\nmetadata:\n  name: {name}\n  namespace: default\n\
         spec:\n  entrypoint: python -c 'print(1)'\n  runtimeEnvYAML: |\n    env_vars: {{A: b}}\n{extra}"
    ))
    .unwrap();
    job["spec"]["rayClusterSpec"] = spec;
    serde_yaml::to_string(&job).unwrap()
}

fn apply(emu: &KubeEmulator, yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("object.yaml");
    std::fs::write(&file, yaml).unwrap();
    kubectl(emu, &["apply", "-f", file.to_str().unwrap()]);
}

fn job(emu: &KubeEmulator, name: &str) -> Value {
    emu.get("ray.io", "rayjobs", "default", name)
        .unwrap_or(Value::Null)
}

#[test]
fn a_rayjob_makes_its_cluster_submits_and_completes_then_its_cluster_goes() {
    let Some(emu) = with_crds() else { return };
    let (port, posted) = jobs_api("SUCCEEDED");
    apply(
        &emu,
        &rayjob("hello", port, "  shutdownAfterJobFinishes: true\n"),
    );
    eventually("the job completes", || {
        job(&emu, "hello")["status"]["jobDeploymentStatus"] == "Complete"
    });
    let status = &job(&emu, "hello")["status"];
    assert_eq!(status["jobStatus"], "SUCCEEDED");
    assert_eq!(status["message"], "Job finished: SUCCEEDED");
    let cluster = status["rayClusterName"].as_str().unwrap().to_string();
    assert!(cluster.starts_with("hello-"), "{cluster}");
    assert!(status["endTime"].is_string());

    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "submitted once: {bodies:?}");
    let body: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(body["entrypoint"], "python -c 'print(1)'");
    assert_eq!(body["submission_id"], status["jobId"]);
    assert_eq!(body["runtime_env"]["env_vars"]["A"], "b");

    // shutdownAfterJobFinishes: the cluster it made is deleted.
    eventually("the job's cluster is deleted", || {
        emu.get("ray.io", "rayclusters", "default", &cluster)
            .is_none()
    });
}

#[test]
fn an_interactive_rayjob_waits_for_its_job_id_and_a_deleted_job_takes_its_cluster() {
    let Some(emu) = with_crds() else { return };
    let (port, posted) = jobs_api("FAILED");
    apply(
        &emu,
        &rayjob("talk", port, "  submissionMode: InteractiveMode\n"),
    );
    eventually("the job waits for its id", || {
        job(&emu, "talk")["status"]["jobDeploymentStatus"] == "Waiting"
    });
    let cluster = job(&emu, "talk")["status"]["rayClusterName"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        emu.get("ray.io", "rayclusters", "default", &cluster)
            .is_some()
    );
    // The client submits (here: straight to the Jobs API), then names the id.
    posted.lock().unwrap().push("{}".into());
    kubectl(
        &emu,
        &[
            "patch",
            "rayjob",
            "talk",
            "--type=merge",
            "-p",
            r#"{"spec":{"jobId":"talk-1"}}"#,
        ],
    );
    eventually("the job fails as Ray says", || {
        job(&emu, "talk")["status"]["jobDeploymentStatus"] == "Failed"
    });
    assert_eq!(job(&emu, "talk")["status"]["jobId"], "talk-1");
    assert_eq!(job(&emu, "talk")["status"]["jobStatus"], "FAILED");
    assert_eq!(posted.lock().unwrap().len(), 1, "nothing submitted for it");

    kubectl(&emu, &["delete", "rayjob", "talk", "--timeout=20s"]);
    eventually("its cluster goes with it", || {
        emu.get("ray.io", "rayclusters", "default", &cluster)
            .is_none()
    });
}

#[test]
fn a_rayservice_makes_its_cluster_and_the_services_in_front() {
    let Some(emu) = with_crds() else { return };
    let cluster: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            kas_test_support::root().join("tests/fixtures/kube/raycluster.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut service: serde_yaml::Value = serde_yaml::from_str(
        "apiVersion: ray.io/v1\nkind: RayService\nmetadata:\n  name: serve\n  namespace: default\nspec:\n  serveConfigV2: ''\n",
    )
    .unwrap();
    service["spec"]["rayClusterConfig"] = cluster["spec"].clone();
    apply(&emu, &serde_yaml::to_string(&service).unwrap());
    let get = || {
        emu.get("ray.io", "rayservices", "default", "serve")
            .unwrap()
    };
    eventually("the service runs", || {
        get()["status"]["serviceStatus"] == "Running"
    });
    let active = get()["status"]["activeServiceStatus"]["rayClusterName"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(active.starts_with("serve-raycluster-"), "{active}");
    for svc in ["serve-head-svc", "serve-serve-svc"] {
        let svc = emu.get("", "services", "default", svc).expect(svc);
        assert_eq!(svc["spec"]["selector"]["ray.io/cluster"], active.as_str());
    }
    kubectl(&emu, &["delete", "rayservice", "serve", "--timeout=20s"]);
    eventually("its cluster goes with it", || {
        emu.get("ray.io", "rayclusters", "default", &active)
            .is_none()
    });
}
