//! `kubectl ray job submit|status|logs|list|stop` against a REAL Ray head
//! that the test starts (`ray start --head --block` from the test Python
//! venv, on free ports outside 10002–19999 and in its own temporary
//! folder) and stops. The plugin talks to the dashboard with `--address`
//! (KubeRay's flag that skips port-forwarding) and has no Ray on its PATH:
//! the Jobs REST API and Ray's packaging are its own. The package name it
//! uploads is checked against Ray's own Python function.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kas_test_support::table::rows;
use kas_test_support::{bin, free_port, need, terminal};

/// The job every cluster runs: Ray's view of the cluster it landed on.
const SCRIPT: &str = "import ray\nray.init()\nprint('resources', ray.cluster_resources())\n";

/// The test venv's bin folder holding `ray`, or the skip-or-fail note.
fn ray_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("KAS_TEST_PYTHON_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("KAS_CI_DIR").map(|d| PathBuf::from(d).join("python-venv/bin"))
        });
    match dir {
        Some(dir) if dir.join("ray").is_file() => Some(dir),
        _ => {
            need::missing(
                "these tests need Ray 2.60 (`ray` in KAS_TEST_PYTHON_BIN or $KAS_CI_DIR/python-venv/bin): \
                 run `source .ci/setup-python.sh`",
            );
            None
        }
    }
}

/// A free port outside Ray's default worker range (10002–19999).
fn port() -> u16 {
    loop {
        let p = free_port();
        if !(10002..=19999).contains(&p) {
            return p;
        }
    }
}

/// A Ray head on its own ports and folder; stopped (its whole process
/// group) and removed when dropped.
struct RayHead {
    child: Child,
    dashboard: u16,
    client: u16,
    dir: tempfile::TempDir,
}

impl RayHead {
    fn start(venv: &Path) -> RayHead {
        // Short: Ray's socket paths must fit in 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("kj")
            .tempdir_in("/tmp")
            .unwrap();
        let dashboard = port();
        let client = port();
        let flag = |name: &str, value: String| format!("--{name}={value}");
        let args = vec![
            "start".to_string(),
            "--head".into(),
            "--block".into(),
            flag("port", port().to_string()),
            flag("dashboard-port", dashboard.to_string()),
            "--dashboard-host=127.0.0.1".into(),
            "--include-dashboard=true".into(),
            flag("ray-client-server-port", client.to_string()),
            flag("dashboard-agent-listen-port", port().to_string()),
            flag("dashboard-agent-grpc-port", port().to_string()),
            flag("node-manager-port", port().to_string()),
            flag("object-manager-port", port().to_string()),
            flag("runtime-env-agent-port", port().to_string()),
            flag("metrics-export-port", port().to_string()),
            "--min-worker-port=0".into(),
            "--max-worker-port=0".into(),
            "--node-ip-address=127.0.0.1".into(),
            "--num-cpus=2".into(),
            flag("temp-dir", dir.path().join("ray").display().to_string()),
            "--disable-usage-stats".into(),
        ];
        let path = format!(
            "{}:{}",
            venv.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(dir.path().join("start.log")).unwrap();
        let mut cmd = Command::new(venv.join("ray"));
        cmd.args(&args)
            .env("PATH", path)
            .env("RAY_USAGE_STATS_ENABLED", "0")
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe. Its own group: the test
        // stops Ray's every process at once.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().expect("ray start");
        let head = RayHead {
            child,
            dashboard,
            client,
            dir,
        };
        head.wait_for_dashboard();
        head
    }

    fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.dashboard)
    }

    fn wait_for_dashboard(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.dashboard)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let req = "GET /api/version HTTP/1.0\r\nHost: x\r\n\r\n";
                let mut answer = String::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && answer.split_whitespace().nth(1) == Some("200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let log = std::fs::read_to_string(self.dir.path().join("start.log")).unwrap_or_default();
        panic!("the Ray dashboard did not answer within 120 s; ray start said:\n{log}");
    }
}

impl Drop for RayHead {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: signals to the process group this test started.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Whatever is left of the group (workers, agents).
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// `kubectl-ray ARGS` in `cwd`, with a PATH without Ray or Python's venv.
fn kray(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin("kubectl-ray"))
        .args(args)
        .current_dir(cwd)
        .env("PATH", "/usr/bin:/bin")
        .env("KAS_POLL_MS", "200")
        .env_remove("KAS_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `kubectl ray job submit --address ADDRESS REST...` in `cwd`.
fn submit_to(cwd: &Path, address: &str, rest: &[&str]) -> Output {
    let mut args = vec!["job", "submit", "--address", address];
    args.extend(rest);
    kray(cwd, &args)
}

/// A followed job whose script raised: exit 3, the traceback (with
/// `exception`) printed, Ray's message in the error.
fn raised(out: &Output, exception: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains(exception), "{stdout}");
    assert!(
        stderr.contains("failed: Job entrypoint command failed with exit code 1"),
        "{stderr}"
    );
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ray's own name for the package of `dir` with the default excludes and
/// `extra`.
fn rays_package_name(venv: &Path, dir: &Path, extra: &[&str]) -> String {
    let code = format!(
        "from ray._private.runtime_env.packaging import get_uri_for_directory\n\
         from ray._private.ray_constants import get_runtime_env_default_excludes as d\n\
         print(get_uri_for_directory({:?}, include_gitignore=True, excludes=d() + {:?}))",
        dir.display().to_string(),
        extra
    );
    let out = Command::new(venv.join("python"))
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn jobs_on_a_real_ray_head() {
    let Some(venv) = ray_bin() else { return };
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // A working directory with what Ray leaves out: the default excludes,
    // .gitignore, .rayignore and the runtime env's excludes.
    write(&w.join("job/script.py"), SCRIPT);
    write(
        &w.join("job/fail.py"),
        "raise ValueError('boom from the job')\n",
    );
    write(
        &w.join("job/sleep.py"),
        "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n",
    );
    write(&w.join("job/__pycache__/x.pyc"), "cache");
    write(&w.join("job/.gitignore"), "data/\n");
    write(&w.join("job/data/big.bin"), "not uploaded");
    write(&w.join("job/sub/.rayignore"), "*.log\n");
    write(&w.join("job/sub/run.log"), "not uploaded");
    write(&w.join("job/sub/keep.txt"), "uploaded");
    write(&w.join("job/notes.tmp"), "excluded by the runtime env");
    let head = RayHead::start(&venv);
    let address = head.address();
    let a = address.as_str();
    let venv_ray = Command::new("sh")
        .args(["-c", "command -v ray"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        !venv_ray.status.success(),
        "no ray on the submitting side's PATH"
    );

    // Submit and follow: the job's output streams, exit 0.
    let excludes = r#"{"excludes": ["*.tmp"]}"#;
    let out = submit_to(
        w,
        a,
        &[
            "--working-dir",
            "job",
            "--runtime-env-json",
            excludes,
            "--",
            "python",
            "script.py",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("resources {") && stdout.contains("'CPU': 2.0"),
        "{stdout}"
    );
    assert!(stderr.contains("succeeded"), "{stderr}");
    // The package is the one Ray itself would name.
    let ray_name = rays_package_name(&venv, &w.join("job"), &["*.tmp"]);
    assert!(
        stderr.contains(&format!("uploaded job as {ray_name}")),
        "Ray names it {ray_name}; we said:\n{stderr}"
    );
    // Submitting the same folder again finds the package there.
    let out = submit_to(
        w,
        a,
        &[
            "--working-dir",
            "job",
            "--runtime-env-json",
            excludes,
            "--no-wait",
            "--",
            "python script.py",
        ],
    );
    let (_, stderr) = text(&out);
    assert!(stderr.contains("is on the cluster already"), "{stderr}");

    // KubeRay's "runtime env file that sets working_dir": uploaded from the
    // file's working_dir, its env_vars reach the job.
    write(
        &w.join("env.yaml"),
        "working_dir: job\nenv_vars:\n  GREETING: hello from the runtime env\n",
    );
    write(
        &w.join("job/greet.py"),
        "import os\nprint(os.environ['GREETING'])\n",
    );
    let out = submit_to(
        w,
        a,
        &["--runtime-env", "env.yaml", "--", "python", "greet.py"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("hello from the runtime env"), "{stdout}");
    let out = submit_to(
        w,
        a,
        &[
            "--runtime-env",
            "env.yaml",
            "--runtime-env-json",
            "{}",
            "--",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));

    // A job that raises: non-zero, with Ray's message; its traceback printed.
    let out = submit_to(w, a, &["--working-dir", "job", "--", "python", "fail.py"]);
    raised(&out, "ValueError: boom from the job");

    // --no-wait: the id at once; then status, logs and list see the job.
    let out = submit_to(
        w,
        a,
        &[
            "--working-dir",
            "job",
            "--no-wait",
            "--submission-id",
            "kray-test-1",
            "--metadata-json",
            r#"{"owner": "test"}"#,
            "--entrypoint-num-cpus",
            "1",
            "--",
            "python",
            "script.py",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "kray-test-1");
    let start = Instant::now();
    loop {
        let out = kray(w, &["job", "status", "kray-test-1", "--address", a]);
        let (stdout, _) = text(&out);
        if out.status.code() == Some(0) {
            assert!(stdout.contains("kray-test-1: SUCCEEDED"), "{stdout}");
            break;
        }
        assert_eq!(out.status.code(), Some(1), "still running: {stdout}");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never succeeded"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = kray(w, &["job", "logs", "kray-test-1", "--address", a]);
    assert!(text(&out).0.contains("resources {"), "{:?}", text(&out));
    let out = kray(
        w,
        &["job", "status", "kray-test-1", "--address", a, "-o", "json"],
    );
    let status: serde_json::Value = serde_json::from_str(&text(&out).0).unwrap();
    assert_eq!(status["metadata"]["owner"], "test");
    let out = kray(w, &["job", "list", "--address", a]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("kray-test-1") && stdout.contains("SUCCEEDED"),
        "{stdout}"
    );

    // Stop: a sleeping job ends STOPPED; following it says so, non-zero.
    let out = submit_to(
        w,
        a,
        &[
            "--working-dir",
            "job",
            "--no-wait",
            "--submission-id",
            "kray-sleeper",
            "--",
            "python",
            "sleep.py",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = kray(w, &["job", "stop", "kray-sleeper", "--address", a]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("job kray-sleeper: STOPPED"), "{stderr}");
    let out = kray(
        w,
        &["job", "logs", "kray-sleeper", "--follow", "--address", a],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("job kray-sleeper was stopped"), "{stderr}");
    // Ctrl-C while following, without a terminal: the job keeps running
    // (exit 130); on a terminal, answering y stops it (exit 3, stopped).
    let submit = |id: &str| {
        vec![
            "job".to_string(),
            "submit".into(),
            "--address".into(),
            address.clone(),
            "--working-dir".into(),
            "job".into(),
            "--submission-id".into(),
            id.to_string(),
            "--".into(),
            "python".into(),
            "sleep.py".into(),
        ]
    };
    let running = |id: &str| {
        within(Duration::from_secs(60), || {
            text(&kray(w, &["job", "logs", id, "--address", a]))
                .0
                .contains("sleeping")
        })
    };
    let child = Command::new(bin("kubectl-ray"))
        .args(submit("kray-piped"))
        .current_dir(w)
        .env("PATH", "/usr/bin:/bin")
        .env("KAS_POLL_MS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(running("kray-piped"), "the job never ran");
    // SAFETY: the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("job kray-piped keeps running"), "{stderr}");
    let out = kray(w, &["job", "status", "kray-piped", "--address", a]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "still running: {:?}",
        text(&out)
    );
    assert_eq!(
        kray(w, &["job", "stop", "kray-piped", "--address", a])
            .status
            .code(),
        Some(0)
    );

    let mut child = terminal::script(&bin("kubectl-ray"), &submit("kray-tty"))
        .current_dir(w)
        .env("PATH", "/usr/bin:/bin")
        .env("KAS_POLL_MS", "200")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keys = child.stdin.take().unwrap();
    assert!(running("kray-tty"), "the job never ran");
    keys.write_all(b"\x03").unwrap();
    keys.flush().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    keys.write_all(b"y\n").unwrap();
    keys.flush().unwrap();
    let out = child.wait_with_output().unwrap();
    drop(keys);
    let shown = format!("{}{}", text(&out).0, text(&out).1);
    assert!(shown.contains("Stop job kray-tty?"), "{shown}");
    assert!(shown.contains("job kray-tty was stopped"), "{shown}");
    assert_eq!(out.status.code(), Some(3), "{shown}");

    let out = kray(w, &["job", "status", "no-such-job", "--address", a]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).1.contains("there is no job no-such-job"));
    drop(head);
}

#[test]
fn kuberay_command_line_mistakes_are_usage_errors_and_dry_run_prints_the_rayjob() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // KubeRay's RayJob mode: named, exit 2, nothing done.
    write(
        &d.join("k8s-mode.yaml"),
        "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\nspec: {submissionMode: K8sJobMode}\n",
    );
    for args in [
        &[
            "job",
            "submit",
            "-f",
            "k8s-mode.yaml",
            "--working-dir",
            ".",
            "--",
            "python",
            "x.py",
        ][..],
        &[
            "job",
            "submit",
            "-f",
            "k8s-mode.yaml",
            "-c",
            "demo",
            "--",
            "python",
            "x.py",
        ],
        &[
            "job",
            "submit",
            "--ttl-seconds-after-finished",
            "10",
            "-c",
            "demo",
            "--",
            "x",
        ],
        &[
            "job",
            "submit",
            "--image",
            "rayproject/ray:2.52.0",
            "-c",
            "demo",
            "--",
            "x",
        ],
        &[
            "job",
            "submit",
            "--name",
            "x",
            "--head-cpu",
            "4GB",
            "--",
            "python",
            "x.py",
        ],
        &[
            "job", "submit", "--name", "x", "-c", "demo", "--", "python", "x.py",
        ],
        &[
            "job",
            "submit",
            "--dry-run",
            "-c",
            "demo",
            "--",
            "python",
            "x.py",
        ],
        &[
            "job",
            "submit",
            "--dry-run",
            "--address",
            "http://127.0.0.1:1",
            "--",
            "python",
            "x.py",
        ],
        &["job", "submit", "--address", "", "--", "python", "x.py"],
        &[
            "job",
            "submit",
            "--address",
            "http://127.0.0.1:1",
            "--metadata-json",
            "[1]",
            "--",
            "x",
        ],
        &["job", "submit", "--address", "http://127.0.0.1:1"],
        &["log", "pod/x"],
        &["log", "demo", "--node-type", "gpu"],
        &["log", "demo", "--link", "aws"],
        &["session", "a/b/c"],
        // KubeRay's own documented example misspells --worker-gpu; its
        // plugin refuses the line too.
        &[
            "job",
            "submit",
            "--name",
            "x",
            "--work-gpu",
            "1",
            "--",
            "python",
            "x.py",
        ],
    ] {
        let out = kray(d, args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
    }
    let out = kray(
        d,
        &["job", "submit", "--image", "x", "--", "python", "x.py"],
    );
    assert!(
        text(&out).1.contains("name it with --name"),
        "{:?}",
        text(&out)
    );
    // KubeRay's --dry-run with --name: the generated RayJob, no cluster asked.
    let out = kray(
        d,
        &[
            "job",
            "submit",
            "--dry-run",
            "--name",
            "rayjob-sample",
            "--ray-version",
            "2.52.0",
            "--image",
            "rayproject/ray:2.52.0",
            "--head-cpu",
            "1",
            "--head-memory",
            "5Gi",
            "--worker-replicas",
            "3",
            "--worker-cpu",
            "1",
            "--worker-memory",
            "5Gi",
            "--head-node-selectors",
            "kubernetes.io/os=linux",
            "--worker-gpu",
            "1",
            "--",
            "python",
            "my_script.py",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let job: serde_json::Value = serde_yaml::from_str(&stdout).unwrap();
    assert_eq!(job["kind"], "RayJob");
    assert_eq!(job["spec"]["submissionMode"], "InteractiveMode");
    assert_eq!(job["spec"]["entrypoint"], "python my_script.py");
    assert!(
        job["spec"]["jobId"]
            .as_str()
            .unwrap()
            .starts_with("raysubmit_")
    );
    let spec = &job["spec"]["rayClusterSpec"];
    let head = &spec["headGroupSpec"]["template"]["spec"];
    assert_eq!(
        head["containers"][0]["resources"]["requests"]["memory"],
        "5Gi"
    );
    assert_eq!(head["nodeSelector"]["kubernetes.io/os"], "linux");
    let worker = &spec["workerGroupSpecs"][0];
    assert_eq!(worker["replicas"], 3);
    assert_eq!(
        worker["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        "1"
    );
    // A dashboard that is not there: exit 3, saying where it looked.
    let out = kray(
        d,
        &[
            "job",
            "list",
            "--address",
            &format!("http://127.0.0.1:{}", port()),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).1.contains("could not reach the Ray dashboard"),
        "{:?}",
        text(&out)
    );
}

/// A PATH without Ray: the test's own, less every folder holding `ray`.
fn path_without_ray() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| !dir.join("ray").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// The Kubernetes API emulator, with the stand-in KubeRay chart in a
/// kas.yaml, and a RayCluster `demo` whose head pod relays its ports 8265
/// and 10001 to the real Ray head and whose container tells `exec` where
/// Ray keeps its logs (RAY_TMPDIR, as Ray reads it).
struct Kube {
    emu: kas_emulator::kube::KubeEmulator,
    dir: tempfile::TempDir,
}

impl Kube {
    /// A private folder (kas.yaml naming the stand-in chart, HOME) around
    /// `emu`; `None` (with the skip-or-fail note) without kubectl and helm.
    fn over(emu: impl FnOnce() -> kas_emulator::kube::KubeEmulator) -> Option<Kube> {
        if !need::tools(
            &["kubectl", "helm"],
            "the end-to-end tests of job, log and session need them: `source .ci/setup-helm.sh`",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = kas_test_support::root();
        std::fs::write(
            dir.path().join("kas.yaml"),
            format!(
                "ray:\n  operator:\n    chart: {}\n    values: {}\n",
                root.join("tests/fixtures/charts/kuberay-operator")
                    .display(),
                root.join("yaml/k8s/ray-operator.yaml").display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Some(Kube { emu: emu(), dir })
    }

    fn start(head: &RayHead) -> Option<Kube> {
        let kube = Kube::over(|| kas_emulator::kube::KubeEmulator::start().unwrap())?;
        let root = kas_test_support::root();
        let text = std::fs::read_to_string(root.join("yaml/k8s/local-cpu-only.yaml")).unwrap();
        let mut cluster: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        cluster["metadata"]["name"] = "demo".into();
        let template = &mut cluster["spec"]["headGroupSpec"]["template"];
        template["metadata"] = serde_yaml::from_str(&format!(
            "annotations:\n  emulator.kas.dev/forward-8265: 127.0.0.1:{}\n  \
             emulator.kas.dev/forward-10001: 127.0.0.1:{}\n",
            head.dashboard, head.client
        ))
        .unwrap();
        template["spec"]["containers"][0]["env"] = serde_yaml::from_str(&format!(
            "- name: RAY_TMPDIR\n  value: {}\n",
            head.dir.path().display()
        ))
        .unwrap();
        std::fs::write(
            kube.dir.path().join("demo.yaml"),
            serde_yaml::to_string(&cluster).unwrap(),
        )
        .unwrap();
        let out = kube.kray(&["+", "demo.yaml", "--timeout", "90s"]);
        assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
        Some(kube)
    }

    /// The emulator backed by real Ray (each RayCluster pod a real Ray
    /// node), with `demo` made by `create cluster demo --worker-replicas 1
    /// --wait`.
    fn backed(venv: &Path) -> Option<Kube> {
        let kube = Kube::over(|| {
            kas_emulator::kube::KubeEmulator::start()
                .unwrap()
                .with_ray(&venv.join("ray"))
                .unwrap()
        })?;
        let out = kube.kray(&["++"]);
        assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
        // KubeRay's own way to make it: one worker, real Ray nodes.
        let out = kube.kray(&[
            "create",
            "cluster",
            "demo",
            "--worker-replicas",
            "1",
            "--wait",
            "--timeout",
            "150s",
        ]);
        assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
        Some(kube)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("kubectl-ray"));
        cmd.args(args)
            .envs(self.emu.env())
            .env("PATH", path_without_ray())
            .env("HOME", self.dir.path().join("home"))
            .env("KAS_CONFIG", self.dir.path().join("kas.yaml"))
            .env("KAS_POLL_MS", "100")
            .env("CLOUDSDK_CONFIG", self.dir.path().join("gcloud"))
            .env("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.kray-job")
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Standard output of a run that must succeed.
    fn stdout(&self, args: &[&str]) -> String {
        let out = self.kray(args);
        assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
        text_of(&out).0
    }

    /// The live Ray nodes `ray status` counts on the head pod, `None`
    /// while it cannot tell yet.
    fn ray_nodes(&self) -> Option<usize> {
        let out = self
            .emu
            .kubectl()
            .args(["exec", &self.head_pod(), "--", "sh", "-c", "ray status"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let active = text.split("Active:").nth(1)?.split("Pending:").next()?;
        Some(active.matches("node_").count())
    }

    /// `job submit -c demo --working-dir job -- python script.py`, which
    /// must succeed and print the cluster's resources; its stdout, stderr.
    /// `kubectl ray job submit -c demo REST...`.
    fn submit_on_demo(&self, rest: &[&str]) -> Output {
        let mut args = vec!["job", "submit", "-c", "demo"];
        args.extend(rest);
        self.kray(&args)
    }

    fn submit_script(&self) -> (String, String) {
        let out = self.submit_on_demo(&["--working-dir", "job", "--", "python", "script.py"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains("resources {"), "{stdout}");
        (stdout, stderr)
    }

    /// `args` (a `session`) running in the background until dropped.
    fn background(&self, args: &[&str]) -> Background {
        Background(
            self.command(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    fn kray(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        eprintln!(
            "$ kubectl ray {} -> {:?}",
            args.join(" "),
            out.status.code()
        );
        out
    }

    fn head_pod(&self) -> String {
        self.emu
            .list("", "pods", Some("default"))
            .into_iter()
            .filter(|p| {
                p["metadata"]["labels"]["ray.io/cluster"] == "demo"
                    && p["metadata"]["labels"]["ray.io/node-type"] == "head"
                    && p["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .next()
            .expect("a head pod")
    }
}

fn text_of(out: &Output) -> (String, String) {
    text(out)
}

/// The body of `GET /api/version` on 127.0.0.1:`port`, if it answers 200.
fn version_on(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /api/version HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let ok = answer.split_whitespace().nth(1) == Some("200");
    ok.then_some(answer)
}

/// Polls `check` every 200 ms for up to `limit`.
fn within(limit: Duration, check: impl FnMut() -> bool) -> bool {
    kas_test_support::within(limit, Duration::from_millis(200), check)
}

/// A `kubectl ray session` running in the background, ended (with its
/// kubectl) when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        // SAFETY: the child this test started; Ctrl-C as a user would.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = self.0.wait();
    }
}

#[test]
fn job_log_and_session_through_kubectl_and_the_emulator() {
    let Some(venv) = ray_bin() else { return };
    let head = RayHead::start(&venv);
    let Some(kube) = Kube::start(&head) else {
        return;
    };
    let d = kube.dir.path();
    write(&d.join("job/script.py"), SCRIPT);

    // job submit through a port-forward of the head pod (-c, and the only cluster).
    let (_, stderr) = kube.submit_script();
    assert!(stderr.contains("to port 8265 of pod demo-head"), "{stderr}");
    let out = kube.kray(&["job", "list"]);
    assert!(text(&out).0.contains("SUCCEEDED"), "{:?}", text(&out));
    let (p, q) = (port().to_string(), port().to_string());
    let out = kube.kray(&[
        "session",
        "nope",
        "--dashboard-port",
        &p,
        "--client-port",
        &q,
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out)
            .1
            .contains("there is no RayCluster nope in namespace default"),
        "{:?}",
        text(&out)
    );
    let out = kube.kray(&["job", "list", "-c", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).1.contains("there is no RayCluster nope"),
        "{:?}",
        text(&out)
    );

    // KubeRay's RayJob mode with a file: the RayJob is created with the
    // submission id as its jobId, and the job runs on the cluster KubeRay
    // (here the emulator's stand-in) makes for it.
    let demo: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(d.join("demo.yaml")).unwrap()).unwrap();
    let mut rayjob: serde_yaml::Value = serde_yaml::from_str(
        "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: rj}\n\
         spec: {submissionMode: InteractiveMode, entrypoint: ignored}\n",
    )
    .unwrap();
    rayjob["spec"]["rayClusterSpec"] = demo["spec"].clone();
    std::fs::write(
        d.join("rayjob.yaml"),
        serde_yaml::to_string(&rayjob).unwrap(),
    )
    .unwrap();
    let out = kube.kray(&[
        "job",
        "submit",
        "-f",
        "rayjob.yaml",
        "--working-dir",
        "job",
        "--submission-id",
        "rj-1",
        "--",
        "python",
        "script.py",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("resources {"), "{stdout}");
    assert!(stderr.contains("Submitted RayJob rj."), "{stderr}");
    let job = kube
        .emu
        .get("ray.io", "rayjobs", "default", "rj")
        .expect("the RayJob");
    assert_eq!(job["spec"]["jobId"], "rj-1");

    // log: the head pod's output and Ray's session logs (raylet.out).
    let pod = kube.head_pod();
    kube.emu.append_log("default", &pod, "head pod output\n");
    std::fs::create_dir_all(d.join("logs")).unwrap();
    let out = kube.kray(&["log", "demo", "--out-dir", "logs", "--node-type", "head"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let got = d.join("logs").join(&pod);
    assert_eq!(
        std::fs::read_to_string(got.join("stdout.log")).unwrap(),
        "head pod output\n"
    );
    assert!(
        got.join("raylet.out").is_file(),
        "{:?}",
        std::fs::read_dir(&got).unwrap().collect::<Vec<_>>()
    );
    // Without --out-dir: ./demo (KubeRay's default).
    let out = kube.kray(&["log", "raycluster/demo"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(d.join("demo").join(&pod).join("gcs_server.out").is_file());

    // KubeRay's other `log` lines: each exits 0 and writes each pod's
    // output (workers too), or prints the GKE link.
    let mut service: serde_yaml::Value = serde_yaml::from_str(
        "apiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: svc}\nspec: {}\n",
    )
    .unwrap();
    service["spec"]["rayClusterConfig"] = demo["spec"].clone();
    std::fs::write(d.join("svc.yaml"), serde_yaml::to_string(&service).unwrap()).unwrap();
    let out = kube
        .emu
        .kubectl()
        .args(["apply", "-f"])
        .arg(d.join("svc.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        within(Duration::from_secs(60), || {
            kube.emu
                .get("ray.io", "rayservices", "default", "svc")
                .is_some_and(|s| s["status"]["activeServiceStatus"]["rayClusterName"].is_string())
        }),
        "the RayService never named its cluster"
    );
    for (line, dir, pods) in [
        ("log demo --node-type worker --out-dir w", "w", 1),
        ("log demo --node-type all --out-dir a", "a", 2),
        ("logs demo --out-dir l", "l", 2),
        ("log rayjob/rj --out-dir j", "j", 2),
        ("log RayService/svc --out-dir s", "s", 2),
    ] {
        std::fs::create_dir_all(d.join(dir)).unwrap();
        let args: Vec<&str> = line.split(' ').collect();
        let out = kube.kray(&args);
        assert_eq!(out.status.code(), Some(0), "{line}: {:?}", text(&out));
        let written = std::fs::read_dir(d.join(dir))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().join("stdout.log").is_file())
            .count();
        assert!(written >= pods, "{line}: {written} pods' logs");
    }
    let out = kube.kray(&["log", "demo", "--link", "gke"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        text(&out).0.starts_with(
            "https://console.cloud.google.com/logs/query;query=resource.type%3D%22k8s_container%22"
        ),
        "{:?}",
        text(&out)
    );

    // kubectl's connection flags reach every kubectl call: a kubeconfig
    // whose current context leads nowhere, the context named by --context,
    // KUBECONFIG pointing at no file.
    let config = std::fs::read_to_string(kube.emu.kubeconfig()).unwrap();
    let lab = config
        .replace("- name: emulator\n  context:", "- name: lab\n  context:")
        .replace("current-context: emulator", "current-context: nowhere");
    std::fs::write(d.join("lab.kubeconfig"), lab).unwrap();
    let flags = [
        "--kubeconfig",
        "lab.kubeconfig",
        "--context",
        "lab",
        "-n",
        "default",
    ];
    let with_flags = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags);
        let mut cmd = kube.command(&all);
        cmd.env("KUBECONFIG", d.join("missing"));
        cmd
    };
    let out = with_flags(&["job", "list", "-c", "demo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
    assert!(text(&out).0.contains("SUCCEEDED"));
    std::fs::create_dir_all(d.join("k")).unwrap();
    let out = with_flags(&["log", "demo", "--out-dir", "k", "--node-type", "head"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text_of(&out));
    assert!(
        d.join("k")
            .join(kube.head_pod())
            .join("raylet.out")
            .is_file()
    );
    let (p, q) = (port(), port());
    let session = Background(
        with_flags(&[
            "session",
            "demo",
            "--dashboard-port",
            &p.to_string(),
            "--client-port",
            &q.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    assert!(
        within(Duration::from_secs(60), || version_on(p).is_some()),
        "session with --kubeconfig/--context/-n never answered"
    );
    drop(session);
    let out = kube
        .command(&["job", "list", "-c", "demo"])
        .env("KUBECONFIG", d.join("missing"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "without the flags, kubectl finds no cluster"
    );

    // session of a RayJob (the dashboard only) and a RayService (dashboard and Serve).
    for (what, ports) in [
        ("rayjob/rj", vec!["--dashboard-port"]),
        ("rayservice/svc", vec!["--dashboard-port", "--serve-port"]),
    ] {
        let chosen: Vec<u16> = ports.iter().map(|_| port()).collect();
        let mut args = vec!["session".to_string(), what.to_string()];
        for (flag, p) in ports.iter().zip(&chosen) {
            args.push(flag.to_string());
            args.push(p.to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let session = kube.background(&args);
        assert!(
            within(Duration::from_secs(60), || version_on(chosen[0]).is_some()),
            "session {what}: the dashboard never answered"
        );
        for p in &chosen[1..] {
            assert!(
                within(Duration::from_secs(10), || TcpStream::connect((
                    "127.0.0.1",
                    *p
                ))
                .is_ok()),
                "session {what}: port {p}"
            );
        }
        drop(session);
    }

    // session: the dashboard answers on the local port, and again once the
    // head pod is replaced.
    let (dash, client) = (port(), port());
    let taken = std::net::TcpListener::bind(("127.0.0.1", dash)).unwrap();
    let out = kube.kray(&[
        "session",
        "demo",
        "--dashboard-port",
        &dash.to_string(),
        "--client-port",
        &client.to_string(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let said = text(&out).1;
    assert!(
        said.contains(&format!("127.0.0.1:{dash} is already in use by"))
            && said.contains(&format!("pid {}", std::process::id())),
        "{said}"
    );
    drop(taken);
    let session = kube.background(&[
        "session",
        "demo",
        "--dashboard-port",
        &dash.to_string(),
        "--client-port",
        &client.to_string(),
    ]);
    assert!(
        within(Duration::from_secs(60), || version_on(dash)
            .is_some_and(|v| v.contains("2.60.0"))),
        "the session's 127.0.0.1:{dash} never answered /api/version"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", client)).is_ok(),
        "the client port"
    );
    let out = kube
        .emu
        .kubectl()
        .args(["delete", "pod", &pod, "--timeout=30s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        within(Duration::from_secs(60), || kube.head_pod() != pod
            && version_on(dash).is_some()),
        "the session did not answer again from the new head pod"
    );
    drop(session);
    assert!(
        within(Duration::from_secs(10), || version_on(dash).is_none()),
        "the session's kubectl outlived it"
    );
    drop(kube);
    drop(head);
}

#[test]
fn job_log_and_session_on_the_emulator_backed_by_real_ray() {
    let Some(venv) = ray_bin() else { return };
    let Some(kube) = Kube::backed(&venv) else {
        return;
    };
    let d = kube.dir.path();

    // KubeRay's get and scale on real Ray nodes: `get cluster` shows the
    // cluster `create cluster` made; `scale` to two workers makes three
    // nodes for `get nodes` and for Ray itself, and 2/2 replicas.
    let table = kube.stdout(&["get", "cluster"]);
    let row = &rows(&table)[0];
    assert_eq!(
        [
            &row["NAME"],
            &row["DESIRED WORKERS"],
            &row["AVAILABLE WORKERS"]
        ],
        ["demo", "1", "1"],
        "{table}"
    );
    assert_eq!(
        [&row["CONDITION"], &row["STATUS"]],
        ["RayClusterProvisioned", "ready"],
        "{table}"
    );
    let said = kube.stdout(&["scale", "cluster", "demo", "-w", "default-group", "-r", "2"]);
    assert!(said.contains("Scaled Replicas: 1 to 2"), "{said}");
    let mut nodes = String::new();
    assert!(
        within(Duration::from_secs(180), || {
            nodes = kube.stdout(&["get", "nodes"]);
            rows(&nodes).len() == 3
        }),
        "get nodes never showed three: {nodes}"
    );
    let mut counted = None;
    assert!(
        within(Duration::from_secs(180), || {
            counted = kube.ray_nodes();
            counted == Some(3)
        }),
        "`ray status` on the head never counted three nodes: {counted:?}"
    );
    let groups = kube.stdout(&["get", "workergroup"]);
    assert_eq!(rows(&groups)[0]["REPLICAS"], "2/2", "{groups}");

    write(&d.join("job/script.py"), SCRIPT);
    // job submit through kubectl port-forward to the real head's dashboard.
    kube.submit_script();

    // Through the same way in: a job that raises fails with Ray's message;
    // --no-wait gives the id at once, and status and logs find the job.
    write(&d.join("job/fail.py"), "raise ValueError('boom on demo')\n");
    let out = kube.submit_on_demo(&["--working-dir", "job", "--", "python", "fail.py"]);
    raised(&out, "ValueError: boom on demo");
    let out = kube.submit_on_demo(&[
        "--no-wait",
        "--working-dir",
        "job",
        "--",
        "python",
        "script.py",
    ]);
    let (id, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = id.trim();
    assert!(!id.is_empty() && !id.contains('\n'), "the id alone: {id:?}");
    let mut status = String::new();
    assert!(
        within(Duration::from_secs(120), || {
            let out = kube.kray(&["job", "status", id, "-c", "demo"]);
            status = text(&out).0;
            out.status.code() == Some(0)
        }),
        "job {id} never succeeded: {status}"
    );
    assert!(status.contains(&format!("{id}: SUCCEEDED")), "{status}");
    let logs = kube.stdout(&["job", "logs", id, "-c", "demo"]);
    assert!(logs.contains("resources {"), "{logs}");

    // KubeRay's --name: a generated RayJob (1 CPU head, no workers) whose
    // real head runs the job.
    let out = kube.kray(&[
        "job",
        "submit",
        "--name",
        "gen",
        "--head-cpu",
        "1",
        "--head-memory",
        "1Gi",
        "--worker-replicas",
        "0",
        "--working-dir",
        "job",
        "--timeout",
        "150s",
        "--",
        "python",
        "script.py",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("resources {") && stdout.contains("'CPU': 1.0"),
        "{stdout}"
    );
    let job = kube
        .emu
        .get("ray.io", "rayjobs", "default", "gen")
        .expect("the RayJob");
    assert_eq!(job["spec"]["submissionMode"], "InteractiveMode");

    // log: the head's Ray logs, raylet.out among them.
    let pod = kube.head_pod();
    std::fs::create_dir_all(d.join("D")).unwrap();
    let out = kube.kray(&["log", "demo", "--out-dir", "D"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let raylet = d.join("D").join(&pod).join("raylet.out");
    assert!(
        std::fs::metadata(&raylet).is_ok_and(|m| m.len() > 0),
        "no {}",
        raylet.display()
    );

    // session: 127.0.0.1:8265 (another free port when something else
    // holds 8265 or 10001 on this machine) answers /api/version, and again
    // once the head pod is replaced by a new real head.
    let defaults =
        !kas_infra::exec::ports::port_taken(8265) && !kas_infra::exec::ports::port_taken(10001);
    let (dash, client) = if defaults {
        (8265, 10001)
    } else {
        (port(), port())
    };
    let mut args = vec!["session".to_string(), "demo".into()];
    if !defaults {
        eprintln!("8265 or 10001 is taken here: the session uses {dash} and {client}");
        args.extend(["--dashboard-port".into(), dash.to_string()]);
        args.extend(["--client-port".into(), client.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let session = kube.background(&args);
    assert!(
        within(Duration::from_secs(60), || {
            version_on(dash).is_some_and(|v| v.contains("2.60.0"))
        }),
        "127.0.0.1:{dash} never answered /api/version"
    );
    let first = version_on(dash).unwrap();
    let out = kube
        .emu
        .kubectl()
        .args(["delete", "pod", &pod, "--timeout=60s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A new head is a new Ray session: its session_name differs.
    let session_of = |v: &str| v.split("session_name").nth(1).map(str::to_string);
    assert!(
        within(Duration::from_secs(180), || {
            version_on(dash).is_some_and(|v| session_of(&v) != session_of(&first))
        }),
        "127.0.0.1:{dash} did not answer from the new head"
    );
    drop(session);
    drop(kube);
}
