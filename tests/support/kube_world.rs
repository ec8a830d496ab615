//! A Kubernetes world for end-to-end tests of the plugins: the Kubernetes
//! API emulator, a private folder holding a kas.yaml that names the
//! stand-in KubeRay chart, HOME, the state folder and a throwaway gcloud
//! configuration, a `kubectl` on PATH that records its arguments, and the
//! forward supervisors the test started, killed when the world goes (a
//! failed assertion included).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use kas_emulator::kube::KubeEmulator;

use crate::recorder::Recorder;
use crate::{need, root};

/// The gcloud access token every world hands its tools (a test asserts it
/// never shows in an argument, a log line or an annotation).
pub const TOKEN: &str = "ya29.e2e-access-token";

/// Fields drop in order: the supervisors go before the emulator.
pub struct KubeWorld {
    pub supervisors: Supervisors,
    pub emu: KubeEmulator,
    pub dir: tempfile::TempDir,
    pub kubectl: Recorder,
}

impl KubeWorld {
    /// A world over a fresh emulator; `None` (with a note) outside CI when
    /// kubectl, helm or gcloud is missing. `kas_extra` is appended to the
    /// kas.yaml (top-level keys other than `ray`).
    pub fn new(kas_extra: &str) -> Option<KubeWorld> {
        if !tools_present() {
            return None;
        }
        Some(KubeWorld::over(KubeEmulator::start().unwrap(), kas_extra))
    }

    /// A world over an emulator the test started itself (for example one
    /// backed by real Ray).
    pub fn over(emu: KubeEmulator, kas_extra: &str) -> KubeWorld {
        let dir = tempfile::tempdir().unwrap();
        let chart = root().join("tests/fixtures/charts/kuberay-operator");
        let values = root().join("yaml/k8s/ray-operator.yaml");
        std::fs::write(
            dir.path().join("kas.yaml"),
            format!(
                "ray:\n  operator:\n    chart: {}\n    values: {}\n{kas_extra}",
                chart.display(),
                values.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let kubectl = Recorder::wrap(dir.path(), "kubectl");
        let supervisors = Supervisors {
            forwards: dir.path().join("state/kas/forwards"),
            seen: Mutex::default(),
        };
        KubeWorld {
            supervisors,
            emu,
            dir,
            kubectl,
        }
    }

    /// The world's private folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `program` with the world's environment: the emulator's kubeconfig,
    /// the recording PATH, HOME, state and gcloud folders inside the world,
    /// kas.yaml, fast polls, no prompts; run from the repository root.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let dir = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.envs(self.emu.env())
            .env("PATH", self.kubectl.path())
            .env("HOME", dir.join("home"))
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("KAS_CONFIG", dir.join("kas.yaml"))
            .env("KAS_POLL_MS", "100")
            .env("CLOUDSDK_CONFIG", dir.join("gcloud"))
            .env("CLOUDSDK_AUTH_ACCESS_TOKEN", TOKEN)
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .env_remove("WANDB_API_KEY")
            .env_remove("BROWSER")
            .current_dir(root());
        cmd
    }

    /// Runs `cmd` to completion, prints it as `$ shown -> status` with its
    /// output for the test's log, and notes the supervisors it started.
    pub fn output(&self, mut cmd: Command, shown: &str) -> Output {
        let out = cmd.output().unwrap();
        self.supervisors.pids();
        eprintln!(
            "$ {shown} -> {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The changing requests the emulator saw since the last call.
    pub fn take_mutations(&self) -> Vec<String> {
        let all = self.emu.requests();
        self.emu.clear_requests();
        all.into_iter()
            .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The pod of RayCluster `name` of node type `head` in `default`.
    pub fn head_pod(&self, name: &str) -> Option<serde_json::Value> {
        self.emu
            .list("", "pods", Some("default"))
            .into_iter()
            .find(|p| {
                p["metadata"]["labels"]["ray.io/cluster"] == name
                    && p["metadata"]["labels"]["ray.io/node-type"] == "head"
            })
    }
}

/// The CLIs the plugins drive, or a note that says what to install.
pub fn tools_present() -> bool {
    need::tools(
        &["kubectl", "helm", "gcloud"],
        "plugin end-to-end tests need them (helm: .ci/setup-helm.sh; \
         gcloud: the Google Cloud CLI)",
    )
}

/// Kills every forward supervisor whose record is in the world's state
/// folder, and every pid it was seen with, when it goes away.
pub struct Supervisors {
    forwards: PathBuf,
    seen: Mutex<Vec<i32>>,
}

impl Supervisors {
    /// The folder of the forwards' records.
    pub fn forwards(&self) -> &Path {
        &self.forwards
    }

    /// Remembers `pids` too, for the drop.
    pub fn remember(&self, pids: &[i32]) {
        self.seen.lock().unwrap().extend(pids);
    }

    /// The supervisors recorded now (remembered for the drop).
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(&self.forwards).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let record = serde_json::from_str::<serde_json::Value>(&text);
                if let Some(pid) = record.ok().and_then(|v| v["pid"].as_i64()) {
                    pids.push(pid as i32);
                }
            }
        }
        self.seen.lock().unwrap().extend(pids.iter().copied());
        pids
    }
}

impl Drop for Supervisors {
    fn drop(&mut self) {
        let mut pids = self.pids();
        pids.extend(self.seen.lock().unwrap().iter().copied());
        for pid in pids {
            if pid > 1 {
                // SAFETY: plain signals to the supervisors this test started
                // (each leads its own process group).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}
