//! A Kubernetes API server stand-in that the real `kubectl` and `helm` run
//! against, unmodified: discovery, OpenAPI, CRUD, list and watch with
//! selectors, patches, finalizers, namespaces, CRDs, garbage collection,
//! and small controllers (Deployments, Pods, and a KubeRay-like RayCluster
//! controller). Plain HTTP on 127.0.0.1.
//!
//! Tests start one with [`KubeEmulator::start`] and run CLIs through
//! [`KubeEmulator::kubectl`] / [`KubeEmulator::helm`]; people start one
//! with `kas-emulator kube` ([`run_foreground`]).

// Shared by the test crates and the `kas-emulator` binary; each uses part.
#![allow(dead_code)]

mod admission;
mod api;
mod catalog;
mod controllers;
mod discovery;
mod faults;
mod http;
mod openapi;
mod patch;
mod protobuf;
mod raycluster;
mod select;
mod store;
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

pub use controllers::NOT_READY;
use faults::Fault;
pub use faults::RequestRecord;
use store::State;

/// State and the signal that it changed (wakes watches and controllers).
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Print each request on stderr (the foreground server does).
    echo: bool,
}

pub struct KubeEmulator {
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    port: u16,
    dir: PathBuf,
    /// Removes `dir` when the emulator goes away (tests); `None` keeps it.
    _temp: Option<tempfile::TempDir>,
    threads: Vec<JoinHandle<()>>,
}

impl KubeEmulator {
    /// Starts on a free port with a kubeconfig in a fresh temporary folder.
    pub fn start() -> Result<KubeEmulator> {
        let temp = tempfile::Builder::new()
            .prefix("kube-emulator.")
            .tempdir()?;
        let dir = temp.path().to_path_buf();
        KubeEmulator::start_in(None, dir, Some(temp), false)
    }

    fn start_in(
        port: Option<u16>,
        dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        echo: bool,
    ) -> Result<KubeEmulator> {
        let server = tiny_http::Server::http(("127.0.0.1", port.unwrap_or(0)))
            .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{}: {e}", port.unwrap_or(0)))?;
        let port = server
            .server_addr()
            .to_ip()
            .context("the emulator listens on TCP")?
            .port();
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
            echo,
        });
        let threads = vec![
            {
                let (shared, server) = (shared.clone(), server.clone());
                std::thread::spawn(move || http::serve(shared, server))
            },
            {
                let shared = shared.clone();
                std::thread::spawn(move || controllers::run(shared))
            },
        ];
        let emulator = KubeEmulator {
            shared,
            server,
            port,
            dir,
            _temp: temp,
            threads,
        };
        std::fs::create_dir_all(emulator.dir.join("kubectl-cache"))?;
        write_private(&emulator.kubeconfig(), &emulator.kubeconfig_text())?;
        Ok(emulator)
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
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: emulator\n  cluster:\n    server: {}\n\
             users:\n- name: emulator\n  user:\n    token: emulator-token\n\
             contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n\
             current-context: emulator\n",
            self.url()
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

    /// Makes the next `method` request whose path matches `path` (`*`
    /// matches anything) fail with `code` and a Kubernetes `Status` body.
    pub fn fail_once(&self, method: &str, path: &str, code: u16) {
        let fault = Fault {
            method: method.to_string(),
            path: path.to_string(),
            code,
        };
        self.shared
            .state
            .lock()
            .expect("state lock")
            .faults
            .push(fault);
    }

    /// Faults injected and not yet triggered.
    pub fn pending_faults(&self) -> usize {
        self.shared.state.lock().expect("state lock").faults.len()
    }

    /// One stored object (as the emulator holds it), by group and plural:
    /// `get("", "pods", "ns", "name")`.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.shared.state.lock().expect("state lock");
        let ty = state.find_type(group, plural)?;
        state.get(&ty, namespace, name).cloned()
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
        self.server.unblock();
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

/// Serves until killed, printing each request on stderr. Prints the line
/// that points kubectl and helm at it.
pub fn run_foreground(port: Option<u16>) -> Result<()> {
    let base = std::env::temp_dir().join(format!("kas-kube-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let emulator = KubeEmulator::start_in(port, base, None, true)?;
    println!("export KUBECONFIG={}", emulator.kubeconfig().display());
    eprintln!(
        "Kubernetes API emulator on {} (Ctrl-C to stop)",
        emulator.url()
    );
    loop {
        std::thread::park();
    }
}
