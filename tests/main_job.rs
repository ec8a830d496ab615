//! The main job end to end on the joined emulators with real Ray: the
//! README's `kas-emulator main-job` from an empty emulated project to a
//! RayCluster on the emulated GKE cluster, a worker group scaled so that
//! real head and workers run a Ray job through `kubectl kas . exec python`
//! (the cluster's CPUs equal the pods' CPUs), then every tool's `-` back to
//! an empty project, and a stop that leaves no Ray process, port-forward or
//! temporary folder. Prints its wall time and the peak memory of the
//! emulator and everything it started.
//!
//! Needs gcloud (with gke-gcloud-auth-plugin), kubectl, helm, and Ray in
//! `KAS_TEST_PYTHON_BIN`; skipped with a note without them, failed in CI.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use kas_test_support::{bin, need, root};

const CLUSTER: &str = "gke-cpu-only";
const CLUSTER_FILE: &str = "yaml/k8s/gke-cpu-only.yaml";
/// The job's own bound: the whole main job, Ray starts included.
const UP_DEADLINE: Duration = Duration::from_secs(600);
const COMMAND_DEADLINE: Duration = Duration::from_secs(300);

/// The `ray` executable, or None (skipped; CI fails) with what is missing.
fn ray_and_tools() -> Option<PathBuf> {
    let tools = ["gcloud", "gke-gcloud-auth-plugin", "kubectl", "helm"];
    let hint = "install the Google Cloud SDK with gke-gcloud-auth-plugin; \
                `source .ci/setup-helm.sh` provides kubectl and helm";
    if !need::tools(&tools, hint) {
        return None;
    }
    let ray = std::env::var_os("KAS_TEST_PYTHON_BIN").map(|d| PathBuf::from(d).join("ray"));
    let found = ray.as_ref().is_some_and(|r| r.is_file());
    need::present(
        found,
        "Ray in KAS_TEST_PYTHON_BIN (`source .ci/setup-python.sh` installs ray[default]==2.60.0)",
    )
    .then(|| ray.unwrap())
}

/// The `kas-emulator` binary of the workspace, or None (skipped; CI fails)
/// when it is missing or older than the emulator's sources: this test's
/// package does not build it, `cargo nextest run --workspace` does.
fn kas_emulator() -> Option<PathBuf> {
    let exe = bin("kas-emulator");
    let built = std::fs::metadata(&exe).and_then(|m| m.modified()).ok();
    let newest = newest_change(&root().join("tests/emulator"));
    need::present(
        built.is_some_and(|b| b >= newest),
        format!(
            "{} is missing or older than tests/emulator: build it \
             (`cargo build -p kas-emulator`, or run `cargo nextest run --workspace`)",
            exe.display()
        ),
    )
    .then_some(exe)
}

/// The latest modification time of the files below `dir` (not those of
/// folders named `tests`, which the binary is not built from).
fn newest_change(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.ends_with("tests") {
            continue;
        } else if path.is_dir() {
            newest_change(&path)
        } else {
            let modified = entry.metadata().and_then(|m| m.modified());
            modified.unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(time);
    }
    newest
}

/// The emulator process; killed (with its process group) if the test fails.
struct Emulator {
    child: Child,
    log: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: a signal to the process this test started.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Emulator {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The pids in /proc now.
fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Resident memory of `pid` and all its descendants, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut rss: HashMap<u32, u64> = HashMap::new();
    for p in pids() {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("PPid:") {
                parent.insert(p, v.trim().parse().unwrap_or(0));
            }
            if let Some(v) = line.strip_prefix("VmRSS:") {
                let kib = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                rss.insert(p, kib);
            }
        }
    }
    let in_tree = |mut p: u32| {
        for _ in 0..64 {
            if p == pid {
                return true;
            }
            match parent.get(&p) {
                Some(&up) if up > 1 => p = up,
                _ => return false,
            }
        }
        false
    };
    rss.iter()
        .filter(|(p, _)| in_tree(**p))
        .map(|(_, kib)| kib)
        .sum()
}

/// Live processes whose environment names a Ray node folder below `root`.
fn ray_processes(root: &Path) -> Vec<u32> {
    let marker = format!("KAS_EMULATOR_RAY_NODE={}", root.display());
    let mut found = Vec::new();
    for p in pids() {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        {
            continue;
        }
        let mut env = Vec::new();
        let _ = std::fs::File::open(format!("/proc/{p}/environ"))
            .and_then(|mut f| f.read_to_end(&mut env));
        if env
            .split(|b| *b == 0)
            .any(|e| e.starts_with(marker.as_bytes()))
        {
            found.push(p);
        }
    }
    found
}

struct Shell {
    env: Vec<(String, String)>,
    home: tempfile::TempDir,
}

impl Shell {
    fn run(&self, words: &[&str]) -> Output {
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env_remove("CI")
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        let out = match rx.recv_timeout(COMMAND_DEADLINE) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                // SAFETY: the child this test started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                panic!("`{}` did not finish in time", words.join(" "));
            }
        };
        eprintln!(
            "$ {} -> {:?}\n{}{}",
            words.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, words: &[&str]) -> String {
        let out = self.run(words);
        assert!(out.status.success(), "`{}` failed", words.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn the_main_job_runs_on_the_emulated_cloud_and_leaves_nothing() {
    let Some(ray) = ray_and_tools() else { return };
    let Some(kas_emulator) = kas_emulator() else {
        return;
    };
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("kas-emulator.log");
    let child = Command::new(&kas_emulator)
        .args(["main-job", "--ray"])
        .arg(&ray)
        .env("HOME", work.path())
        .env_remove("KUBECONFIG")
        .env_remove("KAS_CONFIG")
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut emu = Emulator { child, log };

    // Peak memory of the emulator and everything below it, sampled.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(tree_rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    // The export lines come once the main job is up (standard output then
    // closes, as for `eval "$(kas-emulator main-job &)"`).
    let mut stdout = emu.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        tx.send(text)
    });
    let exports = rx
        .recv_timeout(UP_DEADLINE)
        .unwrap_or_else(|_| panic!("the main job did not finish:\n{}", emu.log()));
    let up_time = started.elapsed();
    let progress = emu.log();
    eprintln!("--- kas-emulator main-job\n{progress}---");
    assert!(!exports.is_empty(), "no export lines:\n{progress}");
    // Each command printed before it ran, in the README's order.
    let mut at = 0;
    for command in [
        "$ admin-service-account +",
        "$ artifact-registry +",
        "$ gke-nat +",
        "$ gke-cluster + --cidr 127.0.0.1/32",
        "$ kubectl ray + yaml/k8s/gke-cpu-only.yaml",
        "$ kubectl kas . exec python -c",
    ] {
        let found = progress[at..].find(command);
        assert!(found.is_some(), "{command:?} missing or out of order");
        at += found.unwrap();
    }
    // The head alone: its rayStartParams say 1 CPU, the file 12 GiB.
    assert!(
        progress.contains("Ray 2.60.0 cluster: 1 nodes, 1 CPUs, 12.0 GiB memory"),
        "{progress}"
    );

    let env: Vec<(String, String)> = exports
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let value = |k: &str| {
        env.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {exports}"))
    };
    let project_dir = PathBuf::from(value("KAS_CONFIG"))
        .parent()
        .unwrap()
        .to_path_buf();
    let gcloud_home = PathBuf::from(value("CLOUDSDK_CONFIG"));
    // "... (1 CPU, log /tmp/krXXXX/1/ray-start.log)": the nodes' folder.
    let end = progress
        .find("/1/ray-start.log")
        .expect("the first Ray node's log in the progress");
    let begin = progress[..end].rfind(' ').unwrap() + 1;
    let ray_root = PathBuf::from(&progress[begin..end]);
    let shell = Shell {
        env,
        home: tempfile::tempdir().unwrap(),
    };

    // The user goes on: a worker of 1.6 CPUs (Ray rounds up to 2, as
    // KubeRay does), then a Ray job on the real head and worker. One worker
    // is enough here: tests/ray_backing.rs scales to two.
    let patch = r#"[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":1}]"#;
    shell.ok(&[
        "kubectl",
        "patch",
        "raycluster",
        CLUSTER,
        "--type=json",
        "-p",
        patch,
    ]);
    let pods_cpus = 1 + 2;
    let job = "import ray; ray.init(); print(\"CPUS\", int(ray.cluster_resources()[\"CPU\"]))";
    let want = format!("CPUS {pods_cpus}\n");
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last = String::new();
    while Instant::now() < deadline && !last.contains(&want) {
        std::thread::sleep(Duration::from_secs(3));
        let out = shell.run(&["kubectl", "kas", ".", "exec", "python", "-c", job]);
        last = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    assert!(last.contains(&want), "the job saw {last:?}, want {want:?}");
    let job_time = started.elapsed();

    // Every tool's `-`, in reverse order, back to an empty project.
    shell.ok(&["kubectl", "ray", "-", CLUSTER_FILE]);
    assert!(
        (0..60).any(|_| {
            std::thread::sleep(Duration::from_millis(500));
            ray_processes(&ray_root).is_empty()
        }),
        "Ray processes left after `kubectl ray -`: {:?}",
        ray_processes(&ray_root)
    );
    shell.ok(&["kubectl", "ray", "--"]);
    shell.ok(&["gke-cluster", "-"]);
    shell.ok(&["gke-nat", "-"]);
    shell.ok(&["artifact-registry", "-"]);
    for tool in ["gke-cluster", "gke-nat", "artifact-registry"] {
        let out = shell.run(&[tool, "="]);
        assert_eq!(out.status.code(), Some(1), "{tool} = after {tool} -");
    }
    shell.ok(&[
        "gcloud",
        "auth",
        "activate-refresh-token",
        "tester@example.com",
        "kas-emulator-login:tester@example.com",
    ]);
    shell.ok(&["admin-service-account", "-"]);
    let out = shell.run(&["admin-service-account", "="]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "admin-service-account = after -"
    );
    // `-` logged the person out too: back in, to look at the project.
    shell.ok(&[
        "gcloud",
        "auth",
        "activate-refresh-token",
        "tester@example.com",
        "kas-emulator-login:tester@example.com",
    ]);
    let listed = shell.ok(&[
        "gcloud",
        "iam",
        "service-accounts",
        "list",
        "--project",
        "test-project",
        "--account",
        "tester@example.com",
        "--format",
        "value(email)",
    ]);
    assert_eq!(listed.trim(), "", "service accounts left");

    // Stopping the emulated cloud leaves nothing behind.
    // SAFETY: a signal to the process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let stopped = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        matches!(emu.child.try_wait(), Ok(Some(_)))
    });
    assert!(stopped, "kas-emulator did not stop on SIGTERM");
    // It cleaned up, then died of the signal, as `kill` expects.
    use std::os::unix::process::ExitStatusExt;
    let status = emu.child.try_wait().unwrap().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(ray_processes(&ray_root), Vec::<u32>::new());
    for dir in [&ray_root, &project_dir, &gcloud_home] {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    eprintln!(
        "main job: up in {:.0} s, Ray job on head + worker at {:.0} s, all down at {:.0} s; \
         peak memory of the emulator and its processes {:.2} GB",
        up_time.as_secs_f64(),
        job_time.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        peak.load(Ordering::Relaxed) as f64 / 1024.0 / 1024.0
    );
}
