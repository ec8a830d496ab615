//! Tracked port-forwards. Each forward is a detached supervisor (this
//! binary, re-run with a hidden flag) that keeps `kubectl port-forward`
//! running to the current head pod. Its record, `LOCAL.json` in
//! `$XDG_STATE_HOME/kas/forwards` (else `~/.local/state/kas/forwards`),
//! holds its pid, ports, cluster, pod and log file, so forwards are found
//! by their records, not by searching command lines. Starting, stopping
//! and listing hold the port's lock ([`PortLock`]), so they never overlap
//! for one local port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::exec::environment::Env;

use super::Kube;
use super::head::Cluster;
use super::port_lock::{PortLock, locked_ports};

/// What a supervisor keeps forwarded, and where it reports.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Spec {
    pub cluster: String,
    pub namespace: String,
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default)]
    pub context: Option<String>,
    /// The head pod's port.
    pub remote: u16,
    /// The port on 127.0.0.1.
    pub local: u16,
    /// The folder of records and logs.
    pub dir: PathBuf,
    /// How often to look for a new head pod, in milliseconds.
    pub poll_ms: u64,
}

impl Spec {
    pub fn record_path(&self) -> PathBuf {
        record_path(&self.dir, self.local)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.local))
    }

    fn same_target(&self, other: &Spec) -> bool {
        (
            &self.cluster,
            &self.namespace,
            &self.kubeconfig,
            &self.context,
            self.remote,
        ) == (
            &other.cluster,
            &other.namespace,
            &other.kubeconfig,
            &other.context,
            other.remote,
        )
    }
}

/// A running (or once running) forward, as its supervisor wrote it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Record {
    #[serde(flatten)]
    pub spec: Spec,
    pub pid: u32,
    /// The head pod it forwards to now; empty while it waits for one.
    pub pod: String,
    pub log: PathBuf,
}

impl Record {
    fn describe(&self) -> String {
        let pod = if self.pod.is_empty() {
            "waiting for a head pod".to_string()
        } else {
            format!("pod {}", self.pod)
        };
        format!(
            "127.0.0.1:{} -> RayCluster {}/{} port {} ({pod}, pid {}, log {})",
            self.spec.local,
            self.spec.namespace,
            self.spec.cluster,
            self.spec.remote,
            self.pid,
            self.log.display()
        )
    }
}

/// `$XDG_STATE_HOME/kas/forwards`, else `~/.local/state/kas/forwards`.
pub fn state_dir(env: &Env) -> PathBuf {
    let base = match env.non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".local/state"),
    };
    base.join("kas").join("forwards")
}

fn record_path(dir: &Path, local: u16) -> PathBuf {
    dir.join(format!("{local}.json"))
}

pub fn write_record(record: &Record) -> Result<()> {
    let path = record.spec.record_path();
    let temp = path.with_extension("json.new");
    std::fs::write(&temp, serde_json::to_vec_pretty(record)?)
        .with_context(|| format!("could not write {}", temp.display()))?;
    std::fs::rename(&temp, &path).with_context(|| format!("could not write {}", path.display()))
}

fn read_record(path: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every record in the folder, by local port.
fn records(dir: &Path) -> Vec<(PathBuf, Option<Record>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Option<Record>)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let record = read_record(&p);
            (p, record)
        })
        .collect();
    found.sort_by_key(|(_, r)| r.as_ref().map(|r| r.spec.local));
    found
}

/// The forwards whose supervisor lives, by local port; nothing is
/// removed (completion reads these while the user types).
pub fn live(env: &Env) -> Vec<Record> {
    records(&state_dir(env))
        .into_iter()
        .filter_map(|(_, r)| r)
        .filter(|r| alive(r.pid))
        .collect()
}

/// `kfwd PORT [LOCAL]`: starts a supervisor unless one already forwards
/// the same target, and returns once the local port accepts connections.
/// `head` is the Ready head pod the caller found.
pub fn start(kube: &Kube, cluster: &Cluster, head: &str, remote: u16, local: u16) -> Result<()> {
    let dir = state_dir(&kube.ctx.env);
    let lock = PortLock::acquire(&dir, local)?;
    let result = start_locked(kube, cluster, head, remote, local);
    release(lock, &dir, local);
    result
}

/// Lets go of a port's lock, removing its file when nothing is forwarded
/// there any more.
fn release(lock: PortLock, dir: &Path, local: u16) {
    if record_path(dir, local).exists() {
        drop(lock);
    } else {
        lock.release_and_remove();
    }
}

fn start_locked(kube: &Kube, cluster: &Cluster, head: &str, remote: u16, local: u16) -> Result<()> {
    let dir = state_dir(&kube.ctx.env);
    let target = &kube.opts.target;
    let spec = Spec {
        cluster: cluster.name.clone(),
        namespace: cluster.namespace.clone(),
        kubeconfig: target.kubeconfig.clone(),
        context: target.context.clone(),
        remote,
        local,
        dir: dir.clone(),
        poll_ms: crate::app::wait::interval(kube.ctx)?.as_millis() as u64,
    };
    if let Some(existing) = read_record(&spec.record_path()) {
        if alive(existing.pid) {
            if existing.spec.same_target(&spec) {
                kube.ctx
                    .ui
                    .progress(&format!("already forwarding: {}", existing.describe()));
                // It may still wait for a head pod, or still hold a
                // connection to the old one: answer only once it forwards
                // to the Ready head pod and its port does, as a first
                // start would.
                kube.ctx.run.for_real(|| {
                    let wait = Duration::from_secs(kube.cfg.kubernetes.forward_wait_seconds.into());
                    let ready = wait_for_pod(&spec.record_path(), head, wait)
                        .and_then(|()| wait_for_listener(local, existing.pid, wait));
                    ready.with_context(|| {
                        format!(
                            "the forward of port {remote} to 127.0.0.1:{local} runs but does not \
                             accept connections yet; its log: {}",
                            existing.log.display()
                        )
                    })?;
                    Ok(())
                })?;
                return Ok(());
            }
            bail!(
                "127.0.0.1:{local} is taken by another forward: {}; stop it with `kubectl kas kfwd {} -`, \
                 or choose another local port: `kubectl kas kfwd {remote} LOCAL`",
                existing.describe(),
                existing.spec.remote
            );
        }
        forget(kube, &existing)?;
    }
    if port_taken(local) {
        bail!(
            "127.0.0.1:{local} is already in use by another program: choose another local port \
             (`kubectl kas kfwd {remote} LOCAL`) or stop that program"
        );
    }
    let log = spec.log_path();
    let started = kube.ctx.run.act_returning(
        &format!(
            "start a supervisor that keeps 127.0.0.1:{local} forwarded to port {remote} of the head pod \
             of RayCluster {}, reconnecting when the pod changes (log: {})",
            cluster.name,
            log.display()
        ),
        || spawn_supervisor(&spec),
    )?;
    let Some(pid) = started else {
        return Ok(());
    };
    let wait = Duration::from_secs(kube.cfg.kubernetes.forward_wait_seconds.into());
    if let Err(e) = wait_for_listener(local, pid, wait) {
        kill_group(pid);
        let _ = std::fs::remove_file(spec.record_path());
        let tail = log_tail(&log);
        return Err(e.context(format!(
            "the forward of port {remote} to 127.0.0.1:{local} did not start; its log ({}) ends with:\n{tail}",
            log.display()
        )));
    }
    kube.ctx.ui.say(&format!(
        "127.0.0.1:{local} -> RayCluster {} port {remote} (pid {pid}; stop it with `kubectl kas kfwd {remote} -`)",
        cluster.name
    ));
    Ok(())
}

/// Before anything changes (the W&B secret, a server on the head pod):
/// refuses a local port that another program holds. A port held by one
/// of our forwards is left to [`start`], which reuses or names it.
pub fn check_port(kube: &Kube, remote: u16, local: u16) -> Result<()> {
    let dir = state_dir(&kube.ctx.env);
    // Under the port's lock: a start under way holds it until its
    // supervisor's record is written and its port answers, so a port
    // bound by our own new forward is never taken for another program's.
    let lock = PortLock::acquire(&dir, local)?;
    let ours = read_record(&record_path(&dir, local)).is_some_and(|r| alive(r.pid));
    let taken = !ours && port_taken(local);
    release(lock, &dir, local);
    if taken {
        bail!(
            "127.0.0.1:{local} is already in use by another program: choose another local port \
             (`kubectl kas kfwd {remote} LOCAL`) or stop that program; nothing was changed"
        );
    }
    Ok(())
}

/// Starts `kubectl-kas --supervise-forward SPEC` in its own session, its
/// output in the log, and returns its pid without waiting for it.
fn spawn_supervisor(spec: &Spec) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(&spec.dir)
        .with_context(|| format!("could not create {}", spec.dir.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spec.log_path())
        .with_context(|| format!("could not open {}", spec.log_path().display()))?;
    let exe = std::env::current_exe().context("could not find the kubectl-kas program")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--supervise-forward")
        .arg(serde_json::to_string(spec)?)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe. Its own session: the user's
    // Ctrl-C or closed terminal does not reach it, and stopping the group
    // stops its kubectl too.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .context("could not start the forward's supervisor")?;
    // Not waited for: it outlives this command (and is reaped by init).
    Ok(child.id())
}

/// Waits until the record at `path` says its supervisor forwards to `pod`.
fn wait_for_pod(path: &Path, pod: &str, within: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if read_record(path).is_some_and(|r| r.pod == pod) {
            return Ok(());
        }
        if start.elapsed() >= within {
            bail!(
                "the forward has not reached head pod {pod} within {}s \
                 (kas.kubernetes.forward_wait_seconds)",
                within.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until 127.0.0.1:`port` accepts connections, while `pid` lives.
fn wait_for_listener(port: u16, pid: u32, within: Duration) -> Result<()> {
    let start = Instant::now();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            return Ok(());
        }
        if !alive(pid) {
            bail!("the supervisor (pid {pid}) ended");
        }
        if start.elapsed() >= within {
            bail!(
                "127.0.0.1:{port} did not accept connections within {}s (kas.kubernetes.forward_wait_seconds)",
                within.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until a server behind 127.0.0.1:`port` answers an HTTP request.
pub fn wait_for_answer(port: u16, within: Duration) -> Result<()> {
    let start = Instant::now();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if answers(&addr) {
            return Ok(());
        }
        if start.elapsed() >= within {
            bail!(
                "nothing answered on 127.0.0.1:{port} within {}s",
                within.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn answers(addr: &SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut first = [0u8; 5];
    matches!(stream.read(&mut first), Ok(n) if n > 0)
}

pub use crate::exec::ports::port_taken;

/// `kfwd`: the live forwards; records of dead ones are removed.
pub fn list(kube: &Kube) -> Result<u8> {
    let dir = state_dir(&kube.ctx.env);
    let mut live = 0;
    for (path, record) in records(&dir) {
        let port = record.as_ref().map(|r| r.spec.local);
        let lock = match port {
            Some(port) => Some(PortLock::acquire(&dir, port)?),
            None => None,
        };
        // Read again under the lock: a start or stop may have just ended.
        let record = match port {
            Some(_) if !path.exists() => continue,
            Some(_) => read_record(&path),
            None => record,
        };
        let result = list_one(kube, &path, record, &mut live);
        if let (Some(lock), Some(port)) = (lock, port) {
            release(lock, &dir, port);
        }
        result?;
    }
    if live == 0 {
        kube.ctx.ui.progress("no port-forwards");
    }
    Ok(0)
}

fn list_one(kube: &Kube, path: &Path, record: Option<Record>, live: &mut u32) -> Result<()> {
    {
        match record {
            Some(r) if alive(r.pid) => {
                *live += 1;
                kube.ctx.ui.say(&r.describe());
            }
            Some(r) => {
                kube.ctx.ui.progress(&format!(
                    "forgetting the forward of 127.0.0.1:{} (its supervisor, pid {}, is gone)",
                    r.spec.local, r.pid
                ));
                forget(kube, &r)?;
            }
            None => {
                kube.ctx.run.act(
                    &format!("remove the unreadable record {}", path.display()),
                    || Ok(std::fs::remove_file(path)?),
                )?;
            }
        }
    }
    Ok(())
}

/// `kfwd PORT -`: stops the forwards of the head pod's PORT (or, if none,
/// the one on local port PORT).
pub fn stop_port(kube: &Kube, port: u16) -> Result<u8> {
    let dir = state_dir(&kube.ctx.env);
    let all: Vec<Record> = records(&dir).into_iter().filter_map(|(_, r)| r).collect();
    let mut chosen: Vec<&Record> = all.iter().filter(|r| r.spec.remote == port).collect();
    if chosen.is_empty() {
        chosen = all.iter().filter(|r| r.spec.local == port).collect();
    }
    if chosen.is_empty() {
        kube.ctx.ui.progress(&format!("no forward of port {port}"));
    }
    for record in chosen {
        stop_locked(kube, &dir, record.spec.local)?;
    }
    Ok(0)
}

/// Stops the forward on local port `local` under its lock, as it is once
/// any start or stop under way has ended.
fn stop_locked(kube: &Kube, dir: &Path, local: u16) -> Result<bool> {
    let lock = PortLock::acquire(dir, local)?;
    let result = match read_record(&record_path(dir, local)) {
        Some(record) => stop(kube, &record).map(|()| true),
        None => Ok(false),
    };
    release(lock, dir, local);
    result
}

/// `kfwd -`: stops every forward.
pub fn stop_all(kube: &Kube) -> Result<u8> {
    let dir = state_dir(&kube.ctx.env);
    // Also the ports whose start is under way (a lock file, no record yet).
    let mut ports: Vec<u16> = records(&dir)
        .into_iter()
        .filter_map(|(_, r)| r.map(|r| r.spec.local))
        .chain(locked_ports(&dir))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let mut stopped = 0;
    for port in ports {
        if stop_locked(kube, &dir, port)? {
            stopped += 1;
        }
    }
    if stopped == 0 {
        kube.ctx.ui.progress("no port-forwards");
    }
    Ok(0)
}

/// Stops the supervisor (and its kubectl) and removes the record.
pub fn stop(kube: &Kube, record: &Record) -> Result<()> {
    let live = alive(record.pid);
    let what = format!(
        "stop the forward of 127.0.0.1:{} (pid {})",
        record.spec.local, record.pid
    );
    kube.ctx.run.act(&what, || {
        if live {
            kill_group(record.pid);
        }
        remove_files(record);
        kube.ctx.ui.progress(&format!(
            "stopped the forward of 127.0.0.1:{} to port {}",
            record.spec.local, record.spec.remote
        ));
        Ok(())
    })
}

fn forget(kube: &Kube, record: &Record) -> Result<()> {
    kube.ctx.run.act(
        &format!("remove {}", record.spec.record_path().display()),
        || {
            remove_files(record);
            Ok(())
        },
    )
}

fn remove_files(record: &Record) {
    let _ = std::fs::remove_file(record.spec.record_path());
    let _ = std::fs::remove_file(&record.log);
}

/// The last lines of a log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Whether `pid` is a live forward supervisor (not a zombie, not a
/// process that got the number later).
pub fn alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid_t <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !Path::new("/proc/self").exists() {
        return true;
    }
    let zombie = std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true);
    let ours = std::fs::read(proc_dir.join("cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("--supervise-forward"))
        .unwrap_or(false);
    !zombie && ours
}

/// SIGTERM to the supervisor's process group (it and its kubectl), then
/// SIGKILL if it has not gone within five seconds.
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: plain signals to a process group this tool started.
    unsafe {
        if libc::kill(-pid, libc::SIGTERM) != 0 {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if !alive(pid as u32) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_follows_xdg() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_STATE_HOME", "/s")]);
        assert_eq!(state_dir(&env), PathBuf::from("/s/kas/forwards"));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_STATE_HOME", "")]);
        assert_eq!(
            state_dir(&env),
            PathBuf::from("/h/.local/state/kas/forwards")
        );
    }

    #[test]
    fn a_process_that_is_not_a_supervisor_is_not_alive() {
        assert!(
            !alive(std::process::id()),
            "the test runner is no supervisor"
        );
        assert!(!alive(0));
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn a_bound_port_is_taken() {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(port_taken(port));
        drop(listener);
        assert!(!port_taken(port));
    }
}
