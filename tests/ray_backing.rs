//! The Kubernetes emulator backed by real Ray (`KubeEmulator::with_ray`):
//! the real `kubectl ray`, `kubectl kas`, kubectl and helm against it, and
//! the real Ray 2.60 behind its RayCluster pods. One test, run as a story,
//! because each Ray head costs about 0.6 GB and 7 s on a small machine: it
//! ends by stopping the emulator with the cluster up.
//!
//! Needs `kubectl` and `helm` on PATH and Ray in `KAS_TEST_PYTHON_BIN`
//! (`.ci/setup-python.sh` installs it); without them the test is skipped
//! with a note, or fails under CI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kas_emulator::kube::KubeEmulator;
use kas_emulator::kube::ray_backing::processes_under;
use kas_test_support::{free_port, need, root};

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";
const COMMAND_DEADLINE: Duration = Duration::from_secs(180);
/// Long enough for a Ray node to start on a busy two-core machine.
const RAY_WAIT: Duration = Duration::from_secs(150);

/// The `ray` executable, or None (skipped; CI fails) with what to install.
fn ray_and_tools() -> Option<PathBuf> {
    if !need::tools(&["kubectl", "helm"], "run `source .ci/setup-helm.sh`") {
        return None;
    }
    ray_in_python_bin()
}

/// Ray 2.60 in KAS_TEST_PYTHON_BIN, or None (skipped; CI fails).
fn ray_in_python_bin() -> Option<PathBuf> {
    let ray = std::env::var_os("KAS_TEST_PYTHON_BIN").map(|d| PathBuf::from(d).join("ray"));
    let found = ray.as_ref().is_some_and(|r| r.is_file());
    need::present(
        found,
        "Ray in KAS_TEST_PYTHON_BIN (`source .ci/setup-python.sh` installs ray[default]==2.60.0)",
    )
    .then(|| ray.unwrap())
}

/// The body of an HTTP GET of `path` on 127.0.0.1:`port` ("" when nothing
/// answers).
fn http_get(port: u16, path: &str) -> String {
    let Ok(mut conn) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    ) else {
        return String::new();
    };
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// Polls `check` every 500 ms for up to `limit`.
fn within(limit: Duration, check: impl FnMut() -> bool) -> bool {
    kas_test_support::within(limit, Duration::from_millis(500), check)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills the `kfwd` supervisors recorded in the state folder when the test
/// ends, passed or failed.
struct Forwards(PathBuf);

impl Drop for Forwards {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let record = serde_json::from_str::<serde_json::Value>(&text).ok();
            if let Some(pid) = record.and_then(|r| r["pid"].as_i64()).filter(|p| *p > 1) {
                // SAFETY: a signal to a supervisor this test started (it
                // leads its own process group).
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
        }
    }
}

struct World {
    _forwards: Forwards,
    emu: KubeEmulator,
    dir: tempfile::TempDir,
}

impl World {
    fn new(ray: &Path) -> World {
        let emu = KubeEmulator::start().unwrap().with_ray(ray).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kas.yaml"),
            format!(
                "ray:\n  operator:\n    chart: {}\n    values: {}\n\
                 kas:\n  kubernetes:\n    head_wait_seconds: 150\n    forward_wait_seconds: 30\n",
                root()
                    .join("tests/fixtures/charts/kuberay-operator")
                    .display(),
                root().join("yaml/k8s/ray-operator.yaml").display(),
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let forwards = Forwards(dir.path().join("state/kas/forwards"));
        World {
            _forwards: forwards,
            emu,
            dir,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.emu.env())
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("KAS_CONFIG", self.dir.path().join("kas.yaml"))
            .env("KAS_POLL_MS", "200")
            .env("CLOUDSDK_CONFIG", self.dir.path().join("gcloud"))
            .env("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.ray-backing")
            .env_remove("WANDB_API_KEY")
            .env_remove("CI")
            .current_dir(root());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = self.command(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("{program} {}", args.join(" "));
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        let out = match rx.recv_timeout(COMMAND_DEADLINE) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                // SAFETY: the child this test started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                panic!("`{shown}` did not finish within {COMMAND_DEADLINE:?}");
            }
        };
        eprintln!(
            "$ {shown} -> {:?}\n{}{}",
            out.status.code(),
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn kas(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_kubectl-kas"), args)
    }

    fn ray(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_kubectl-ray"), args)
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.run("kubectl", args)
    }

    fn head_pod(&self, cluster: &str) -> Option<String> {
        self.emu
            .list("", "pods", Some("default"))
            .into_iter()
            .find(|p| {
                p["metadata"]["labels"]["ray.io/cluster"] == cluster
                    && p["metadata"]["labels"]["ray.io/node-type"] == "head"
                    && p["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    }

    /// `ray status` run through `kubectl kas . exec` on the head pod: the
    /// GCS address it was given (RAY_ADDRESS) and the number of live Ray
    /// nodes, `None` while Ray's autoscaler has published no status yet
    /// (a few seconds after the head is up). `None` for both when `ray
    /// status` failed, which it does when it cannot reach the GCS.
    fn ray_status(&self) -> Option<(Option<usize>, String)> {
        let out = self.kas(&[
            ".",
            "exec",
            "sh",
            "-c",
            "echo address=$RAY_ADDRESS; ray status",
        ]);
        if !out.status.success() {
            return None;
        }
        let text = stdout(&out);
        let address = text.lines().next()?.strip_prefix("address=")?.to_string();
        let active = text
            .split("Active:")
            .nth(1)
            .and_then(|a| a.split("Pending:").next());
        Some((active.map(|a| a.matches("node_").count()), address))
    }

    fn wait_for_nodes(&self, nodes: usize) -> String {
        let mut seen = None;
        let reached = within(RAY_WAIT, || {
            seen = self.ray_status();
            seen.as_ref().is_some_and(|(n, _)| *n == Some(nodes))
        });
        assert!(reached, "`ray status` never showed {nodes} nodes: {seen:?}");
        seen.unwrap().1
    }
}

#[test]
fn real_ray_follows_the_pods_of_a_raycluster() {
    let Some(ray) = ray_and_tools() else { return };
    let started = Instant::now();
    let w = World::new(&ray);
    let ray_root = w.emu.ray_root().unwrap();

    // `kubectl ray +` returns once the head pod is Ready, that is once the
    // real head is up: `ray status` inside the pod reaches its GCS at once
    // (the node count may take Ray's autoscaler a few more seconds).
    let out = w.ray(&["+", LOCAL, "--timeout", "150s"]);
    assert_eq!(out.status.code(), Some(0));
    let first = w
        .ray_status()
        .expect("ray status reaches the head right away");
    // The one worker of local-cpu-only.yaml joins a little later.
    let address = w.wait_for_nodes(2);
    assert_eq!(address, first.1);

    // Scaling the worker group changes the nodes Ray counts.
    let patch = r#"[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":2}]"#;
    let out = w.kubectl(&[
        "patch",
        "raycluster",
        "local-cpu-only",
        "--type=json",
        "-p",
        patch,
    ]);
    assert!(out.status.success());
    w.wait_for_nodes(3);
    // A Ray job through `kubectl kas . exec python`: the cluster's CPUs are
    // the head's 0 (rayStartParams) and each worker's 1 (its CPU request).
    let out = w.kas(&[
        ".",
        "exec",
        "python",
        "-c",
        "import ray; ray.init(); print('CPU', int(ray.cluster_resources()['CPU']))",
    ]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("CPU 2\n"), "{}", stdout(&out));

    // `ray job submit` in the pod finds the dashboard through RAY_ADDRESS.
    let out = w.kas(&[
        ".",
        "exec",
        "ray",
        "job",
        "submit",
        "--",
        "python",
        "-c",
        "print(6 * 7)",
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("42\n") && text.contains("succeeded"),
        "{text}"
    );

    // A RayJob on this cluster (clusterSelector): the emulator's RayJob
    // controller submits its entrypoint to the real dashboard and reports
    // how Ray says it ended; no second Ray cluster is started.
    for (name, code, job_status, deployment) in [
        ("fine", "print(6 * 7)", "SUCCEEDED", "Complete"),
        ("broken", "raise SystemExit(3)", "FAILED", "Failed"),
    ] {
        let file = w.dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: ray.io/v1\nkind: RayJob\nmetadata:\n  name: {name}\n  namespace: default\n\
                 spec:\n  entrypoint: python -c '{code}'\n  clusterSelector:\n    ray.io/cluster: local-cpu-only\n"
            ),
        )
        .unwrap();
        assert!(
            w.kubectl(&["apply", "-f", file.to_str().unwrap()])
                .status
                .success()
        );
        let job = || {
            w.emu
                .get("ray.io", "rayjobs", "default", name)
                .unwrap_or_default()
        };
        assert!(
            within(RAY_WAIT, || job()["status"]["jobDeploymentStatus"]
                == deployment),
            "RayJob {name}: {}",
            job()["status"]
        );
        assert_eq!(job()["status"]["jobStatus"], job_status);
        assert_eq!(job()["status"]["rayClusterName"], "local-cpu-only");
    }

    // `kfwd 8265` reaches the real dashboard.
    let local = free_port();
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let mut version = String::new();
    assert!(
        within(Duration::from_secs(30), || {
            version = http_get(local, "/api/version");
            version.contains("\"ray_version\"")
        }),
        "the dashboard's /api/version through kfwd: {version:?}"
    );
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["ray_version"], "2.60.0");
    assert_eq!(w.kas(&["kfwd", "-"]).status.code(), Some(0));

    // A deleted head pod comes back with a new Ray head, which the workers
    // join again; `ray status` then reaches the new one.
    let old_head = w.head_pod("local-cpu-only").unwrap();
    let out = w.kubectl(&["delete", "pod", &old_head, "--wait=true"]);
    assert!(out.status.success());
    assert!(within(RAY_WAIT, || w
        .head_pod("local-cpu-only")
        .is_some_and(|h| h != old_head)));
    let new_address = w.wait_for_nodes(3);
    assert_ne!(new_address, address, "a new head, on new ports");

    // Stopping the emulator with the cluster up (a head and two workers)
    // kills every Ray process it started and removes their folder. (That
    // `kubectl ray -` stops them is tests/main_job.rs's to show: one Ray
    // cluster fewer to start here.)
    assert!(
        !processes_under(&ray_root).is_empty(),
        "no Ray process before the stop"
    );
    drop(w);
    assert_eq!(processes_under(&ray_root), Vec::<i32>::new());
    assert!(!ray_root.exists(), "{} is left", ray_root.display());
    eprintln!(
        "real_ray_follows_the_pods_of_a_raycluster: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
