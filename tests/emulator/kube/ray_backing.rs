//! Real Ray behind the RayCluster stand-in: when the emulator is given a
//! `ray` executable ([`super::KubeEmulator::with_ray`], `kas-emulator
//! --ray PATH` or `KAS_EMULATOR_RAY`), each head pod is backed by a
//! `ray start --head --block` process and each worker pod by a
//! `ray start --block --address HEAD`, all on 127.0.0.1.
//!
//! - Every process gets its own explicit free ports (outside Ray's worker
//!   range 10002-19999, which Ray refuses for its own ports), its own
//!   `--temp-dir` under one short private folder (Ray's socket paths must
//!   stay under the 107-byte limit of Unix sockets), `--num-cpus`,
//!   `--num-gpus` and `--memory` as KubeRay derives them (the group's
//!   `rayStartParams`, else the container's limits, else its requests),
//!   and a small object store.
//! - A pod is Ready once its process printed "Ray runtime started"; the
//!   head pod's ports 6379, 8265 and 10001 then forward to the real ones
//!   (`emulator.kas.dev/forward-PORT`), and `kubectl exec` on any pod of the
//!   cluster runs with `RAY_ADDRESS` and the Ray installation's folder
//!   first on `PATH` (`emulator.kas.dev/env-NAME`). A backed pod's Ray
//!   folder is `NODE/ray`, and its exec gets `RAY_TMPDIR=NODE`: by Ray's
//!   own rule (`$RAY_TMPDIR/ray`) the pod's Ray logs are where a real
//!   pod's are by default (`/tmp/ray/session_latest/logs`).
//! - A deleted pod's processes are killed (its whole session, and anything
//!   else carrying its marker variable); a replacement pod gets a new
//!   process. Workers follow their head: a new head means new workers.
//! - At most [`max_workers`] worker pods per cluster get a process (each
//!   costs about 0.4 GB); the others are Ready stand-ins, as without Ray.
//! - When the backing stops (the emulator is dropped, or `kas-emulator`
//!   gets SIGINT/SIGTERM/SIGHUP) every process is killed and the folder
//!   removed. Should the emulator itself be killed, each `ray start` gets
//!   SIGTERM from the kernel (parent-death signal) and stops its children.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::Shared;
use super::controllers::{NOT_READY, conditions, name_of, namespace_of, save, uid_of};
use super::exec::ENV_ANNOTATION_PREFIX;
use super::portforward::ANNOTATION_PREFIX as FORWARD_PREFIX;
use super::quantity;

/// Worker pods per cluster that get a real Ray node unless
/// `KAS_EMULATOR_RAY_WORKERS` says otherwise.
pub const DEFAULT_MAX_WORKERS: usize = 2;

/// Set in the environment of every process a Ray node starts, so that
/// stopping a node finds all of them (also those that left its session).
pub const MARKER: &str = "KAS_EMULATOR_RAY_NODE";

/// A `ray start` that does not report within this long is restarted.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// A pod whose process failed this often is left not Ready.
const MAX_FAILURES: u32 = 3;
/// Each node's object store: small, the emulated pods share one machine.
const OBJECT_STORE_BYTES: u64 = 100 * 1024 * 1024;

/// `KAS_EMULATOR_RAY_WORKERS`, else [`DEFAULT_MAX_WORKERS`].
pub fn max_workers() -> usize {
    std::env::var("KAS_EMULATOR_RAY_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_WORKERS)
}

/// The running backing; dropping it stops every Ray process it started.
pub struct RayBacking {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    root: PathBuf,
}

impl RayBacking {
    /// Checks that `ray` runs, then starts backing pods.
    pub(crate) fn start(shared: Arc<Shared>, ray: &Path) -> Result<RayBacking> {
        let version = Command::new(ray)
            .arg("--version")
            .env("RAY_USAGE_STATS_ENABLED", "0")
            .output()
            .with_context(|| format!("cannot run {}", ray.display()))?;
        if !version.status.success() {
            bail!(
                "{} --version failed: {}",
                ray.display(),
                String::from_utf8_lossy(&version.stderr)
            );
        }
        // Short on purpose: Ray's socket paths live below it.
        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let root = tempfile::Builder::new().prefix("kr").tempdir_in(base)?;
        let root_path = root.path().to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let mut nodes = Nodes {
            shared,
            ray: ray.to_path_buf(),
            root,
            procs: HashMap::new(),
            failures: HashMap::new(),
            next_id: 0,
            max_workers: max_workers(),
            capped: Vec::new(),
        };
        let thread = {
            let stop = stop.clone();
            // Processes are started from this thread alone: the parent-death
            // signal fires when the thread that started a child ends.
            std::thread::spawn(move || nodes.run(&stop))
        };
        Ok(RayBacking {
            stop,
            thread: Some(thread),
            root: root_path,
        })
    }

    /// The folder holding every node's temporary folder and log.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for RayBacking {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Pids of live processes whose environment carries [`MARKER`] with a value
/// under `root` (for tests: nothing may be left after a stop).
pub fn processes_under(root: &Path) -> Vec<i32> {
    let prefix = format!("{MARKER}={}", root.display());
    live_pids()
        .into_iter()
        .filter(|pid| environ_has(*pid, &prefix))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    Head,
    Worker,
}

/// One `ray start` backing one pod.
struct Proc {
    id: u32,
    pod_uid: String,
    namespace: String,
    pod: String,
    cluster: (String, String),
    role: Role,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    started: Instant,
    up: bool,
    /// Head: GCS, dashboard and client ports.
    gcs: u16,
    dashboard: u16,
    client: u16,
    /// Worker: the id of the head process it joined.
    head_id: u32,
}

/// A Running, not deleting pod of a RayCluster.
#[derive(Clone)]
struct Pod {
    uid: String,
    namespace: String,
    name: String,
    cluster: (String, String),
    group: String,
    role: Role,
    obj: Value,
}

struct Nodes {
    shared: Arc<Shared>,
    ray: PathBuf,
    root: tempfile::TempDir,
    procs: HashMap<String, Proc>,
    failures: HashMap<String, u32>,
    next_id: u32,
    max_workers: usize,
    /// Clusters already told about the worker cap.
    capped: Vec<(String, String)>,
}

#[derive(Clone, Copy)]
struct HeadPorts {
    id: u32,
    gcs: u16,
    dashboard: u16,
    client: u16,
}

impl Nodes {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let Some((pods, clusters)) = self.snapshot() else {
                break;
            };
            self.step(&pods, &clusters);
            std::thread::sleep(Duration::from_millis(200));
        }
        for (_, proc) in self.procs.drain() {
            kill_node(proc);
        }
        // The TempDir removes the folder when `self` goes.
    }

    /// The ray pods and RayClusters, or None once the emulator shuts down.
    fn snapshot(&self) -> Option<(Vec<Pod>, Vec<Value>)> {
        let state = self.shared.state.lock().expect("state lock");
        if state.shutdown {
            return None;
        }
        let pods = state
            .list("", "pods", None)
            .into_iter()
            .filter(|p| {
                p["metadata"]["labels"]["ray.io/is-ray-node"] == "yes"
                    && p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["phase"] == "Running"
            })
            .map(|p| {
                let labels = &p["metadata"]["labels"];
                let text = |v: &Value| v.as_str().unwrap_or("").to_string();
                Pod {
                    uid: uid_of(&p),
                    namespace: namespace_of(&p),
                    name: name_of(&p),
                    cluster: (namespace_of(&p), text(&labels["ray.io/cluster"])),
                    group: text(&labels["ray.io/group"]),
                    role: if labels["ray.io/node-type"] == "head" {
                        Role::Head
                    } else {
                        Role::Worker
                    },
                    obj: p.clone(),
                }
            })
            .collect();
        Some((pods, state.list("ray.io", "rayclusters", None)))
    }

    fn heads(&self) -> HashMap<(String, String), HeadPorts> {
        self.procs
            .values()
            .filter(|p| p.role == Role::Head && p.up)
            .map(|p| {
                let ports = HeadPorts {
                    id: p.id,
                    gcs: p.gcs,
                    dashboard: p.dashboard,
                    client: p.client,
                };
                (p.cluster.clone(), ports)
            })
            .collect()
    }

    fn step(&mut self, pods: &[Pod], clusters: &[Value]) {
        // Pods that went away take their processes with them.
        let gone: Vec<String> = self
            .procs
            .keys()
            .filter(|uid| !pods.iter().any(|p| &p.uid == *uid))
            .cloned()
            .collect();
        for uid in gone {
            let proc = self.procs.remove(&uid).expect("listed");
            eprintln!(
                "kas-emulator: pod {}/{} is gone: stopping its Ray node",
                proc.namespace, proc.pod
            );
            kill_node(proc);
            self.failures.remove(&uid);
        }
        self.watch_processes();
        for pod in pods.iter().filter(|p| p.role == Role::Head) {
            if !self.procs.contains_key(&pod.uid) && self.may_start(&pod.uid) {
                let params = start_params(clusters, pod);
                self.spawn(pod, &params, None);
            }
        }
        let heads = self.heads();
        // Workers of a head that is gone or was replaced join the new one.
        let stale: Vec<String> = self
            .procs
            .values()
            .filter(|p| {
                p.role == Role::Worker && heads.get(&p.cluster).map(|h| h.id) != Some(p.head_id)
            })
            .map(|p| p.pod_uid.clone())
            .collect();
        for uid in stale {
            let proc = self.procs.remove(&uid).expect("listed");
            kill_node(proc);
        }
        let mut workers: Vec<&Pod> = pods.iter().filter(|p| p.role == Role::Worker).collect();
        workers.sort_by_key(|p| {
            (
                p.obj["metadata"]["creationTimestamp"].to_string(),
                p.name.clone(),
            )
        });
        for pod in workers {
            let Some(head) = heads.get(&pod.cluster).copied() else {
                continue;
            };
            if self.procs.contains_key(&pod.uid) || !self.may_start(&pod.uid) {
                continue;
            }
            if self.backed_workers(&pod.cluster) >= self.max_workers {
                if !self.capped.contains(&pod.cluster) {
                    eprintln!(
                        "kas-emulator: RayCluster {}/{} has more than {} worker pods: the others \
                         are stand-ins without Ray (KAS_EMULATOR_RAY_WORKERS raises the cap)",
                        pod.cluster.0, pod.cluster.1, self.max_workers
                    );
                    self.capped.push(pod.cluster.clone());
                }
                continue;
            }
            let params = start_params(clusters, pod);
            self.spawn(pod, &params, Some(head));
        }
        self.publish(pods);
    }

    fn may_start(&self, uid: &str) -> bool {
        self.failures.get(uid).copied().unwrap_or(0) < MAX_FAILURES
    }

    fn backed_workers(&self, cluster: &(String, String)) -> usize {
        self.procs
            .values()
            .filter(|p| p.role == Role::Worker && &p.cluster == cluster)
            .count()
    }

    /// Marks processes up when they say so; ends those that exited or
    /// never came up (their pods get a new one on the next round).
    fn watch_processes(&mut self) {
        let mut failed = Vec::new();
        for proc in self.procs.values_mut() {
            let exited = matches!(proc.child.try_wait(), Ok(Some(_)) | Err(_));
            if !proc.up && !exited {
                let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
                if text.contains("Ray runtime started") {
                    proc.up = true;
                    eprintln!(
                        "kas-emulator: the Ray {} of pod {}/{} is up after {:.1} s",
                        role_name(proc.role),
                        proc.namespace,
                        proc.pod,
                        proc.started.elapsed().as_secs_f64()
                    );
                }
            }
            let late = !proc.up && proc.started.elapsed() > START_DEADLINE;
            if exited || late {
                eprintln!(
                    "kas-emulator: the Ray {} of pod {}/{} {} (its log is kept in {})",
                    role_name(proc.role),
                    proc.namespace,
                    proc.pod,
                    if exited {
                        "exited"
                    } else {
                        "did not start in time"
                    },
                    self.root.path().display()
                );
                failed.push(proc.pod_uid.clone());
            }
        }
        for uid in failed {
            let proc = self.procs.remove(&uid).expect("listed");
            let keep = self.root.path().join(format!("failed-{}.log", proc.id));
            let _ = std::fs::copy(&proc.log, keep);
            kill_node(proc);
            *self.failures.entry(uid).or_default() += 1;
        }
    }

    fn spawn(&mut self, pod: &Pod, params: &StartParams, head: Option<HeadPorts>) {
        self.next_id += 1;
        let id = self.next_id;
        match self.try_spawn(id, pod, params, head) {
            Ok(proc) => {
                self.procs.insert(pod.uid.clone(), proc);
            }
            Err(e) => {
                eprintln!(
                    "kas-emulator: cannot start Ray for pod {}/{}: {e:#}",
                    pod.namespace, pod.name
                );
                *self.failures.entry(pod.uid.clone()).or_default() += 1;
            }
        }
    }

    fn try_spawn(
        &self,
        id: u32,
        pod: &Pod,
        params: &StartParams,
        head: Option<HeadPorts>,
    ) -> Result<Proc> {
        let dir = self.root.path().join(id.to_string());
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("ray-start.log");
        let out = std::fs::File::create(&log)?;
        let ports = free_ports(9)?;
        let flag = |name: &str, value: &dyn std::fmt::Display| format!("--{name}={value}");
        let (gcs, dashboard, client) = (ports[0], ports[1], ports[2]);
        let mut args: Vec<String> = vec!["start".into(), "--block".into()];
        match head {
            None => args.extend([
                "--head".into(),
                flag("port", &gcs),
                flag("dashboard-host", &"127.0.0.1"),
                flag("dashboard-port", &dashboard),
                flag("ray-client-server-port", &client),
            ]),
            Some(h) => args.push(flag("address", &format!("127.0.0.1:{}", h.gcs))),
        }
        args.extend([
            flag("node-ip-address", &"127.0.0.1"),
            flag("node-manager-port", &ports[3]),
            flag("object-manager-port", &ports[4]),
            flag("dashboard-agent-listen-port", &ports[5]),
            flag("dashboard-agent-grpc-port", &ports[6]),
            flag("runtime-env-agent-port", &ports[7]),
            flag("metrics-export-port", &ports[8]),
            // 0: workers take ports the system hands out, never Ray's range.
            flag("min-worker-port", &0),
            flag("max-worker-port", &0),
            flag("num-cpus", &params.cpus),
            flag("memory", &params.memory),
            flag("object-store-memory", &OBJECT_STORE_BYTES),
            flag("temp-dir", &dir.join("ray").display()),
            "--disable-usage-stats".into(),
        ]);
        if params.gpus > 0 {
            args.push(flag("num-gpus", &params.gpus));
        }
        let mut cmd = Command::new(&self.ray);
        // Ray's Python first on PATH, as in a Ray image: a job's
        // entrypoint `python x.py` imports ray.
        let path = format!(
            "{}:{}",
            self.ray.parent().unwrap_or(Path::new("/")).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.args(&args)
            .current_dir(&dir)
            .env("PATH", path)
            .env("RAY_USAGE_STATS_ENABLED", "0")
            // Ray's other temporary files stay in the node's folder too.
            .env("TMPDIR", &dir)
            .env(MARKER, &dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", self.ray.display()))?;
        eprintln!(
            "kas-emulator: starting a Ray {} for pod {}/{} ({} CPU, log {})",
            role_name(pod.role),
            pod.namespace,
            pod.name,
            params.cpus,
            log.display()
        );
        Ok(Proc {
            id,
            pod_uid: pod.uid.clone(),
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            cluster: pod.cluster.clone(),
            role: pod.role,
            child,
            dir,
            log,
            started: Instant::now(),
            up: false,
            gcs,
            dashboard,
            client,
            head_id: head.map(|h| h.id).unwrap_or(0),
        })
    }

    /// Readiness, forwards and exec environment of every ray pod, written
    /// only when they change.
    fn publish(&self, pods: &[Pod]) {
        let heads = self.heads();
        let path = format!(
            "{}:{}",
            self.ray.parent().unwrap_or(Path::new("/")).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut changes = Vec::new();
        for pod in pods {
            let head = heads.get(&pod.cluster);
            let own = self.procs.get(&pod.uid);
            let ready = match (pod.role, own) {
                (_, Some(p)) => p.up,
                (Role::Head, None) => false,
                // Beyond the cap, or given up on: a stand-in, as without Ray.
                (Role::Worker, None) => {
                    head.is_some()
                        && (!self.may_start(&pod.uid)
                            || self.backed_workers(&pod.cluster) >= self.max_workers)
                }
            };
            let mut annotations = BTreeMap::new();
            if let Some(h) = head {
                let env = |name: &str| format!("{ENV_ANNOTATION_PREFIX}{name}");
                annotations.insert(env("RAY_ADDRESS"), format!("127.0.0.1:{}", h.gcs));
                annotations.insert(env("RAY_USAGE_STATS_ENABLED"), "0".into());
                annotations.insert(env("PATH"), path.clone());
                if let Some(p) = own {
                    annotations.insert(env("RAY_TMPDIR"), p.dir.display().to_string());
                }
                if pod.role == Role::Head && own.is_some_and(|p| p.up) {
                    for (pod_port, real) in [(6379, h.gcs), (8265, h.dashboard), (10001, h.client)]
                    {
                        annotations.insert(
                            format!("{FORWARD_PREFIX}{pod_port}"),
                            format!("127.0.0.1:{real}"),
                        );
                    }
                }
            }
            if let Some(updated) = with_readiness(&pod.obj, ready, &annotations) {
                changes.push((pod, updated));
            }
        }
        if changes.is_empty() {
            return;
        }
        let mut state = self.shared.state.lock().expect("state lock");
        let Some(ty) = state.find_type("", "pods") else {
            return;
        };
        for (pod, updated) in changes {
            // Written over the current object, unless the pod changed hands.
            let Some(current) = state.get(&ty, &pod.namespace, &pod.name).cloned() else {
                continue;
            };
            if uid_of(&current) != pod.uid || !current["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let mut merged = current.clone();
            merged["metadata"]["annotations"] = updated["metadata"]["annotations"].clone();
            merged["status"] = updated["status"].clone();
            if merged != current {
                save(&mut state, &ty, merged);
            }
        }
        drop(state);
        self.shared.changed.notify_all();
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Head => "head",
        Role::Worker => "worker",
    }
}

/// The pod with `annotations` set and readiness `ready` (the
/// [`NOT_READY`] hold gone once ready), or None when nothing changes.
fn with_readiness(
    pod: &Value,
    ready: bool,
    annotations: &BTreeMap<String, String>,
) -> Option<Value> {
    let mut new = pod.clone();
    if !new["metadata"]["annotations"].is_object() {
        new["metadata"]["annotations"] = json!({});
    }
    let map = new["metadata"]["annotations"]
        .as_object_mut()
        .expect("an object");
    for (k, v) in annotations {
        map.insert(k.clone(), json!(v));
    }
    if ready {
        map.remove(NOT_READY);
    }
    new["status"]["conditions"] = conditions(
        pod["status"].get("conditions"),
        &[
            ("PodReadyToStartContainers", true, ""),
            ("Initialized", true, ""),
            ("Ready", ready, ""),
            ("ContainersReady", ready, ""),
            ("PodScheduled", true, ""),
        ],
    );
    if let Some(statuses) = new["status"]["containerStatuses"].as_array_mut() {
        for s in statuses {
            s["ready"] = json!(ready);
        }
    }
    (new != *pod).then_some(new)
}

/// What `ray start` is told about the node's size.
struct StartParams {
    cpus: u64,
    gpus: u64,
    memory: u64,
}

/// As KubeRay derives them: the group's `rayStartParams` first, then the
/// Ray container's limits (rounded up), then its requests; 1 CPU and 1 GiB
/// when nothing says.
fn start_params(clusters: &[Value], pod: &Pod) -> StartParams {
    let cluster = clusters
        .iter()
        .find(|c| namespace_of(c) == pod.cluster.0 && name_of(c) == pod.cluster.1);
    let params = cluster
        .map(|c| match pod.role {
            Role::Head => c["spec"]["headGroupSpec"]["rayStartParams"].clone(),
            Role::Worker => c["spec"]["workerGroupSpecs"]
                .as_array()
                .and_then(|gs| gs.iter().find(|g| g["groupName"] == pod.group.as_str()))
                .map(|g| g["rayStartParams"].clone())
                .unwrap_or(Value::Null),
        })
        .unwrap_or(Value::Null);
    let container = &pod.obj["spec"]["containers"][0];
    let resource = |name: &str| -> Option<i128> {
        let r = &container["resources"];
        [&r["limits"][name], &r["requests"][name]]
            .into_iter()
            .find_map(|v| match v {
                Value::String(s) => quantity::parse(s),
                Value::Number(n) => n.as_f64().map(|f| (f * 1000.0) as i128),
                _ => None,
            })
    };
    let param = |name: &str| -> Option<u64> {
        match &params[name] {
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    };
    let ceil = |milli: i128| ((milli.max(0) + 999) / 1000) as u64;
    StartParams {
        cpus: param("num-cpus")
            .or_else(|| resource("cpu").map(ceil))
            .unwrap_or(1),
        gpus: param("num-gpus")
            .or_else(|| resource("nvidia.com/gpu").map(ceil))
            .unwrap_or(0),
        memory: param("memory")
            .or_else(|| resource("memory").map(|m| (m / 1000) as u64))
            .unwrap_or(1 << 30),
    }
}

/// `n` distinct ports free now, all outside Ray's worker range.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..n * 20 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        held.push(listener);
        if !(10002..=19999).contains(&port) && !ports.contains(&port) {
            ports.push(port);
            if ports.len() == n {
                return Ok(ports);
            }
        }
    }
    bail!("found only {} free ports outside 10002-19999", ports.len())
}

/// Kills a node: its `ray start`, everything in its session and everything
/// carrying its marker, until nothing is left; then reaps it and removes
/// its folder.
fn kill_node(mut proc: Proc) {
    let leader = proc.child.id() as i32;
    let marker = format!("{MARKER}={}", proc.dir.display());
    for _ in 0..100 {
        let victims: Vec<i32> = live_pids()
            .into_iter()
            .filter(|&pid| {
                pid == leader || session_of(pid) == Some(leader) || environ_has(pid, &marker)
            })
            .collect();
        if victims.is_empty() {
            break;
        }
        for pid in victims {
            // SAFETY: a plain signal to a process of this node.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = proc.child.try_wait();
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = proc.child.wait();
    let _ = std::fs::remove_dir_all(&proc.dir);
}

/// Pids of processes that are not zombies.
fn live_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z" && s != "X"))
        })
        .collect()
}

/// The fields of /proc/PID/stat after the command name: state, ppid,
/// pgrp, session, ...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(String::from).collect())
}

fn session_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(3)?.parse().ok()
}

/// Whether the process's environment holds `entry` (`NAME=VALUE`), or a
/// value below it when VALUE is a folder.
fn environ_has(pid: i32, entry: &str) -> bool {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(format!("/proc/{pid}/environ"))
        .and_then(|mut f| f.read_to_end(&mut bytes));
    let below = format!("{entry}/");
    read.is_ok()
        && bytes
            .split(|b| *b == 0)
            .any(|e| e == entry.as_bytes() || e.starts_with(below.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(role: Role, group: &str, resources: Value) -> Pod {
        Pod {
            uid: "u".into(),
            namespace: "default".into(),
            name: "p".into(),
            cluster: ("default".into(), "c".into()),
            group: group.into(),
            role,
            obj: json!({"spec": {"containers": [{"name": "ray-node", "resources": resources}]}}),
        }
    }

    #[test]
    fn node_sizes_come_as_kuberay_derives_them() {
        let cluster = json!({
            "metadata": {"name": "c", "namespace": "default"},
            "spec": {
                "headGroupSpec": {"rayStartParams": {"num-cpus": "1"}},
                "workerGroupSpecs": [{"groupName": "w", "rayStartParams": {}}],
            },
        });
        let clusters = [cluster];
        // rayStartParams win over the container's resources.
        let head = pod(
            Role::Head,
            "headgroup",
            json!({"limits": {"cpu": "3200m", "memory": "12Gi"}}),
        );
        let p = start_params(&clusters, &head);
        assert_eq!((p.cpus, p.memory, p.gpus), (1, 12 << 30, 0));
        // Limits rounded up, then requests.
        let worker = pod(
            Role::Worker,
            "w",
            json!({"limits": {"cpu": "1600m", "nvidia.com/gpu": 1}, "requests": {"memory": "6Gi"}}),
        );
        let p = start_params(&clusters, &worker);
        assert_eq!((p.cpus, p.memory, p.gpus), (2, 6 << 30, 1));
        // Nothing said: 1 CPU, 1 GiB.
        let bare = pod(Role::Worker, "other", json!({}));
        let p = start_params(&clusters, &bare);
        assert_eq!((p.cpus, p.memory, p.gpus), (1, 1 << 30, 0));
    }

    #[test]
    fn ports_are_distinct_and_outside_rays_worker_range() {
        let ports = free_ports(9).unwrap();
        let mut unique = ports.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 9);
        assert!(ports.iter().all(|p| !(10002..=19999).contains(p)));
    }
}
