//! A Kubernetes API server stand-in that the real `kubectl` and `helm` run
//! against, unmodified: discovery, OpenAPI, CRUD, list and watch with
//! selectors, patches, finalizers, namespaces, CRDs, garbage collection,
//! and small controllers (Deployments, Pods, and a KubeRay-like RayCluster
//! controller), plus `exec` (WebSocket), `portforward` (SPDY) and `log`.
//! Plain HTTP/1.1 on 127.0.0.1, served with std alone: upgraded
//! connections need the socket split into a reader and a writer.
//!
//! Tests start one with [`KubeEmulator::start`] and run CLIs through
//! [`KubeEmulator::kubectl`] / [`KubeEmulator::helm`]; people start one
//! with `kas-emulator kube`.

mod admission;
mod api;
mod catalog;
mod controllers;
mod discovery;
mod error;
mod exec;
mod faults;
mod http;
mod inflate;
mod job_runner;
mod openapi;
mod patch;
mod portforward;
mod protobuf;
mod quantity;
pub mod ray_backing;
mod raycluster;
mod rayjob;
mod rayservice;
mod schema;
mod select;
mod spdy;
mod store;
mod table;
mod util;
mod watch;
mod websocket;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::relay;
pub use faults::{Fault, RequestRecord};
use store::State;

/// State and the signal that it changed (wakes watches and controllers).
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Print each request on stderr (the foreground server does).
    echo: bool,
    /// Where `kubectl exec` commands run.
    exec_dir: PathBuf,
}

/// The HTTPS front and the CA that signed its certificate.
struct Tls {
    port: u16,
    ca_pem: String,
    _relay: relay::Relay,
}

pub struct KubeEmulator {
    shared: Arc<Shared>,
    port: u16,
    dir: PathBuf,
    /// The HTTPS front, when started with [`KubeEmulator::start_tls`].
    tls: Option<Tls>,
    /// Removes `dir` when the emulator goes away.
    _temp: tempfile::TempDir,
    threads: Vec<JoinHandle<()>>,
    /// Real Ray processes behind RayCluster pods ([`KubeEmulator::with_ray`]).
    ray: Option<ray_backing::RayBacking>,
}

impl KubeEmulator {
    /// Starts on a free port with a kubeconfig in a fresh temporary folder.
    pub fn start() -> Result<KubeEmulator> {
        KubeEmulator::start_on(0)
    }

    /// Starts on `port` (0: a free one). With `KAS_EMULATOR_TRACE=1` in the
    /// environment each request is printed on standard error.
    pub fn start_on(port: u16) -> Result<KubeEmulator> {
        let temp = tempfile::Builder::new()
            .prefix("kube-emulator.")
            .tempdir()?;
        let trace = std::env::var("KAS_EMULATOR_TRACE").is_ok_and(|v| !v.is_empty() && v != "0");
        KubeEmulator::start_in(port, temp, trace)
    }

    fn start_in(port: u16, temp: tempfile::TempDir, echo: bool) -> Result<KubeEmulator> {
        let dir = temp.path().to_path_buf();
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
            echo,
            exec_dir: dir.join("exec"),
        });
        let threads = vec![
            {
                let shared = shared.clone();
                std::thread::spawn(move || http::serve(shared, listener))
            },
            {
                let shared = shared.clone();
                std::thread::spawn(move || controllers::run(shared))
            },
            {
                let shared = shared.clone();
                std::thread::spawn(move || job_runner::run(shared))
            },
        ];
        let emulator = KubeEmulator {
            shared,
            port,
            dir,
            tls: None,
            _temp: temp,
            threads,
            ray: None,
        };
        std::fs::create_dir_all(emulator.dir.join("kubectl-cache"))?;
        write_private(&emulator.kubeconfig(), &emulator.kubeconfig_text())?;
        Ok(emulator)
    }

    /// Like [`KubeEmulator::start`], and also serves HTTPS (through a
    /// python3 relay, with a throwaway CA made by the `openssl` CLI); the
    /// kubeconfig then names the `https://` server and the CA, as GKE's do.
    pub fn start_tls() -> Result<KubeEmulator> {
        let mut emulator = KubeEmulator::start()?;
        relay::prepare(
            &emulator.dir,
            "127.0.0.1",
            &["IP:127.0.0.1", "DNS:localhost"],
        )?;
        let relay = relay::start(&emulator.dir, relay::Mode::Front, emulator.port)?;
        let ca_pem = std::fs::read_to_string(emulator.dir.join("ca.pem"))?;
        emulator.tls = Some(Tls {
            port: relay.port,
            ca_pem,
            _relay: relay,
        });
        write_private(&emulator.kubeconfig(), &emulator.kubeconfig_text())?;
        Ok(emulator)
    }

    /// Backs RayCluster pods with real Ray nodes started by the `ray`
    /// executable given (see `ray_backing.rs`): their pods turn Ready when
    /// Ray is up, and exec and port-forward reach the real cluster.
    pub fn with_ray(mut self, ray: &Path) -> Result<KubeEmulator> {
        self.ray = Some(ray_backing::RayBacking::start(self.shared.clone(), ray)?);
        self.shared.state.lock().expect("state lock").ray_backed = true;
        Ok(self)
    }

    /// The folder of the Ray nodes' temporary folders (gone after a stop).
    pub fn ray_root(&self) -> Option<PathBuf> {
        self.ray.as_ref().map(|r| r.root().to_path_buf())
    }

    /// `127.0.0.1:PORT` of the HTTPS front, as GKE reports a cluster's
    /// endpoint (for the GCP emulator's `set_kube_endpoint`).
    pub fn tls_endpoint(&self) -> Option<String> {
        self.tls.as_ref().map(|t| format!("127.0.0.1:{}", t.port))
    }

    /// The CA that signed the HTTPS front's certificate (PEM).
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|t| t.ca_pem.clone())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The folder holding the kubeconfig and the CLIs' caches.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    fn kubeconfig_text(&self) -> String {
        let cluster = match &self.tls {
            None => format!("    server: {}\n", self.url()),
            Some(tls) => format!(
                "    server: https://127.0.0.1:{}\n    certificate-authority-data: {}\n",
                tls.port,
                util::base64_encode(tls.ca_pem.as_bytes())
            ),
        };
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: emulator\n  cluster:\n{cluster}\
             users:\n- name: emulator\n  user:\n    token: emulator-token\n\
             contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n\
             current-context: emulator\n"
        )
    }

    /// The lines to `eval` in a shell so that its kubectl and helm use the
    /// emulator (and kubectl keeps its discovery cache with it, not in
    /// `~/.kube/cache`, where a later emulator on the same port would find
    /// it stale).
    pub fn shell_exports(&self) -> String {
        format!(
            "export KUBECONFIG='{}'\nexport KUBECACHEDIR='{}'\n",
            self.kubeconfig().display(),
            self.dir.join("kubectl-cache").display()
        )
    }

    /// Environment that points kubectl and helm here and keeps their caches
    /// in the emulator's folder (a CRD added later must not hide behind a
    /// discovery cache of an earlier emulator on the same port).
    pub fn env(&self) -> Vec<(String, String)> {
        let d = |sub: &str| self.dir.join(sub).display().to_string();
        vec![
            ("KUBECONFIG".into(), self.kubeconfig().display().to_string()),
            ("KUBECACHEDIR".into(), d("kubectl-cache")),
            ("HELM_CACHE_HOME".into(), d("helm/cache")),
            ("HELM_CONFIG_HOME".into(), d("helm/config")),
            ("HELM_DATA_HOME".into(), d("helm/data")),
        ]
    }

    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.envs(self.env());
        cmd
    }

    pub fn helm(&self) -> Command {
        let mut cmd = Command::new("helm");
        cmd.envs(self.env());
        cmd
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.state.lock().expect("state lock").log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.state.lock().expect("state lock").log.clear();
    }

    /// The requests that asked for a change (see
    /// [`RequestRecord::is_mutation`]).
    pub fn mutating_requests(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(RequestRecord::is_mutation)
            .collect()
    }

    /// Makes the next `method` (`*`: any) request whose path matches `path`
    /// (`*` matches anything) fail with `code` and a Kubernetes `Status`
    /// body; later ones are served.
    pub fn fail_once(&self, method: &str, path: &str, code: u16) {
        self.fail_times(method, path, code, 1);
    }

    /// Like [`KubeEmulator::fail_once`], for the next `times` matches.
    pub fn fail_times(&self, method: &str, path: &str, code: u16, times: u32) {
        let fault = Fault {
            method: method.to_string(),
            path: path.to_string(),
            code,
            times,
        };
        self.shared
            .state
            .lock()
            .expect("state lock")
            .faults
            .push(fault);
    }

    /// Faults planned and not hit yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.state.lock().expect("state lock").faults.clone()
    }

    /// One stored object (as the emulator holds it), by group and plural:
    /// `get("", "pods", "ns", "name")`.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.shared.state.lock().expect("state lock");
        let ty = state.find_type(group, plural)?;
        state.get(&ty, namespace, name).cloned()
    }

    /// The folder where `kubectl exec` runs commands (created on first use).
    pub fn exec_dir(&self) -> PathBuf {
        self.shared.exec_dir.clone()
    }

    /// Adds text to what `kubectl logs` shows for a pod.
    pub fn append_log(&self, namespace: &str, pod: &str, text: &str) {
        let mut state = self.shared.state.lock().expect("state lock");
        let key = (namespace.to_string(), pod.to_string());
        state.logs.entry(key).or_default().push_str(text);
    }

    /// Stored objects of a type, in one namespace or (`None`) all.
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        let state = self.shared.state.lock().expect("state lock");
        state.list(group, plural, namespace)
    }
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        self.shared.state.lock().expect("state lock").shutdown = true;
        self.shared.changed.notify_all();
        // Wakes the accept loop, which then sees the shutdown.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
