//! `kubectl kas` in Kubernetes mode, end to end: the real binary drives the
//! real kubectl (and `kubectl ray +` the real helm) against the Kubernetes
//! API emulator, whose head pods run `exec` commands in a local shell and
//! relay port-forwards to servers these tests run.
//!
//! Every forward a test starts is stopped by a guard (also when the test
//! fails), every wait is bounded, and each test has its own state folder
//! (`XDG_STATE_HOME`) and free ports on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kas_test_support::kube_world::KubeWorld;
use kas_test_support::{free_port, need, root, terminal};

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";
/// How long any one command may take before the test gives up on it.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// An HTTP server that answers every request with `body`.
fn backend(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let reply = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    port
}

/// What an HTTP GET to 127.0.0.1:`port` returns ("" when nothing does).
fn http_get(port: u16) -> String {
    let Ok(mut conn) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    ) else {
        return String::new();
    };
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = conn.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    reply
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

/// Polls `check` every 100 ms for up to `limit`.
fn within(limit: Duration, check: impl FnMut() -> bool) -> bool {
    kas_test_support::within(limit, Duration::from_millis(100), check)
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    exists && !zombie
}

/// The shared Kubernetes world, with kas.yaml's waits and the local port
/// `. dash` forwards to (kas.ports.dashboard).
struct World {
    world: KubeWorld,
    dashboard: u16,
}

impl std::ops::Deref for World {
    type Target = KubeWorld;
    fn deref(&self) -> &KubeWorld {
        &self.world
    }
}

impl World {
    fn new() -> Option<World> {
        let dashboard = free_port();
        let world = KubeWorld::new(&format!(
            "kas:\n  server_wait_seconds: 30\n  ports:\n    dashboard: {dashboard}\n  \
             kubernetes:\n    head_wait_seconds: 60\n    forward_wait_seconds: 30\n"
        ))?;
        Some(World { world, dashboard })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = self.world.command(program);
        cmd.env_remove("CI");
        cmd
    }

    /// Runs to completion (bounded), standard input from `stdin`.
    fn finish(&self, mut cmd: Command, shown: String, stdin: Option<&str>) -> Output {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
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
        self.supervisors.pids();
        eprintln!(
            "$ {shown} -> {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn kas_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_kubectl-kas"));
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.finish(cmd, format!("kubectl kas {}", args.join(" ")), stdin)
    }

    fn kas(&self, args: &[&str]) -> Output {
        self.kas_with(args, &[], None)
    }

    /// `kubectl ray + FILE`: the operator, the cluster, its head Ready.
    fn ray_up(&self, file: &Path) {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_kubectl-ray"));
        cmd.args(["+", file.to_str().unwrap(), "--timeout", "90s"]);
        let out = self.finish(cmd, format!("kubectl ray + {}", file.display()), None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// A copy of local-cpu-only.yaml named `name`, whose head pod's
    /// `ports` are relayed to the given local addresses.
    fn cluster_file(&self, name: &str, ports: &[(u16, u16)]) -> PathBuf {
        let text = std::fs::read_to_string(root().join(LOCAL)).unwrap();
        let mut cluster: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        cluster["metadata"]["name"] = name.into();
        let mut annotations = serde_yaml::Mapping::new();
        for (pod_port, local) in ports {
            annotations.insert(
                format!("emulator.kas.dev/forward-{pod_port}").into(),
                format!("127.0.0.1:{local}").into(),
            );
        }
        let mut metadata = serde_yaml::Mapping::new();
        metadata.insert("annotations".into(), annotations.into());
        cluster["spec"]["headGroupSpec"]["template"]["metadata"] = metadata.into();
        let file = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
        file
    }

    fn pods_of(&self, cluster: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .emu
            .list("", "pods", Some("default"))
            .into_iter()
            .filter(|p| {
                p["metadata"]["labels"]["ray.io/cluster"] == cluster
                    && p["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    fn head_pod(&self, cluster: &str) -> String {
        self.pods_of(cluster)
            .into_iter()
            .find(|n| n.contains("-head-"))
            .expect("a head pod")
    }

    fn kubectl_argv(&self) -> String {
        self.kubectl.argv()
    }

    fn record(&self, local: u16) -> Option<serde_json::Value> {
        let path = self.supervisors.forwards().join(format!("{local}.json"));
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn exec_runs_on_the_head_pod_and_passes_its_exit_status_back() {
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("lab", &[]));

    let calls_before = w.kubectl_argv().lines().count();
    let out = w.kas(&[".", "exec", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    let argv = w.kubectl_argv();
    let calls: Vec<&str> = argv.lines().skip(calls_before).collect();
    assert_eq!(
        calls.len(),
        3,
        "one kubectl each: list the clusters, find the head, exec: {calls:?}"
    );

    let out = w.kas(&[".", "exec", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "the command's own status");

    // `--k8s` is the same as `.`; piped input reaches the shell (`-i`
    // without a terminal, and no `-t`).
    let out = w.kas_with(&["--k8s", "shell"], &[], Some("echo $((6 * 7))\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    let argv = w.kubectl_argv();
    let head = w.head_pod("lab");
    assert!(
        argv.contains(&format!("exec -i {head} --namespace=default -- bash")),
        "{argv}"
    );
    assert!(!argv.contains(" -t "), "no terminal, no -t: {argv}");
}

#[test]
fn kfwd_starts_lists_stops_and_forgets_dead_forwards() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    // A pod port chosen free here, so that `kfwd PORT` (local = PORT) is
    // safe to run on a shared machine.
    let pod_port = free_port();
    w.ray_up(&w.cluster_file("lab", &[(8265, server), (pod_port, server)]));

    let out = w.kas(&["kfwd", &pod_port.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        http_get(pod_port).ends_with("\r\n\r\ndashboard"),
        "127.0.0.1:{pod_port} answers from the server behind the head pod"
    );

    let local = free_port();
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(http_get(local).ends_with("\r\n\r\ndashboard"));
    let record = w.record(local).expect("a record");
    assert_eq!(record["remote"], 8265);
    assert_eq!(record["cluster"], "lab");
    assert_eq!(record["pod"], w.head_pod("lab").as_str());
    let pid = record["pid"].as_i64().unwrap() as i32;
    assert!(pid_alive(pid));

    // Again: the same forward is reused, not doubled.
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already forwarding"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.record(local).unwrap()["pid"], pid);

    let out = w.kas(&["kfwd"]);
    assert_eq!(out.status.code(), Some(0));
    let listed = stdout(&out);
    assert!(
        listed.contains(&format!(
            "127.0.0.1:{local} -> RayCluster default/lab port 8265"
        )),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("127.0.0.1:{pod_port} -> ")),
        "{listed}"
    );

    let out = w.kas(&["kfwd", "8265", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        within(Duration::from_secs(10), || !pid_alive(pid)),
        "the supervisor is gone"
    );
    assert!(
        within(Duration::from_secs(10), || !accepts(local)),
        "the port is closed"
    );
    assert!(w.record(local).is_none(), "the record is removed");

    // A supervisor killed by hand: listing drops its record, and its
    // kubectl went with it.
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pid = w.record(local).unwrap()["pid"].as_i64().unwrap() as i32;
    // SAFETY: the supervisor this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(within(Duration::from_secs(10), || !pid_alive(pid)));
    let out = w.kas(&["kfwd"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !stdout(&out).contains(&format!("127.0.0.1:{local} ")),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains(&format!("forgetting the forward of 127.0.0.1:{local}")));
    assert!(w.record(local).is_none(), "the stale record is dropped");
    assert!(
        within(Duration::from_secs(10), || !accepts(local)),
        "kubectl port-forward ended with its supervisor"
    );

    // `kfwd -` stops the rest.
    let still = w.record(pod_port).unwrap()["pid"].as_i64().unwrap() as i32;
    let out = w.kas(&["kfwd", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(within(Duration::from_secs(10), || !pid_alive(still)));
    assert!(w.record(pod_port).is_none());
    let out = w.kas(&["kfwd"]);
    assert_eq!(stdout(&out), "");
}

#[test]
fn a_local_port_taken_by_another_program_is_named() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let out = w.kas(&["kfwd", "8265", &taken.to_string()]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "127.0.0.1:{taken} is already in use by another program"
        )),
        "{err}"
    );
    assert!(w.record(taken).is_none(), "nothing is left behind");

    // `. dash` says where its local port comes from.
    let _dashboard = TcpListener::bind(("127.0.0.1", w.dashboard)).unwrap();
    let out = w.kas(&[".", "dash"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("kas.ports.dashboard"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{} is already in use", w.dashboard)),
        "{err}"
    );
}

#[test]
fn a_forward_outlives_its_head_pod() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    let local = free_port();
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(http_get(local).ends_with("dashboard"));
    let old = w.head_pod("lab");

    let out = w
        .emu
        .kubectl()
        .args(["delete", "pod", &old, "--timeout=20s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // No command from the user: the supervisor sees its kubectl end, finds
    // the new head pod once it is Ready and forwards to it.
    let log_path = PathBuf::from(w.record(local).unwrap()["log"].as_str().unwrap());
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let start = Instant::now();
    let mut new = String::new();
    let reconnected = within(Duration::from_secs(30), || {
        let Some(head) = w.pods_of("lab").into_iter().find(|p| p.contains("-head-")) else {
            return false;
        };
        new = head;
        new != old
            && log().contains(&format!("reconnecting: 127.0.0.1:{local} -> pod {new}"))
            && http_get(local).ends_with("dashboard")
    });
    eprintln!("{}", log());
    assert!(
        reconnected,
        "127.0.0.1:{local} did not answer from a new head pod within 30 s"
    );
    eprintln!("answering again after {:?}", start.elapsed());
    assert!(log().contains(&format!("kubectl port-forward to pod {old} ended")));
    assert_eq!(
        w.record(local).unwrap()["pod"],
        new.as_str(),
        "the record names the new pod"
    );
    assert_eq!(w.kas(&["kfwd", "-"]).status.code(), Some(0));
}

#[test]
fn several_clusters_need_a_choice_off_a_terminal() {
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("alpha", &[]));
    w.ray_up(&w.cluster_file("beta", &[]));
    let out = w.kas(&[".", "exec", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("2 RayClusters in the current namespace: alpha, beta"),
        "{err}"
    );
    assert!(err.contains("--cluster NAME"), "{err}");

    let out = w.kas(&["--cluster", "beta", ".", "exec", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    let beta = w.head_pod("beta");
    assert!(w.kubectl_argv().contains(&format!("exec {beta} ")));

    let out = w.kas(&["--cluster", "gamma", ".", "exec", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no RayCluster gamma"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_cluster_says_how_to_make_one() {
    let Some(w) = World::new() else { return };
    let out = w.kas(&[".", "exec", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("kubectl ray +"), "{}", stderr(&out));
}

#[test]
fn the_wandb_key_goes_into_its_secret_once_and_never_into_an_argument() {
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("lab", &[]));
    let key = "wandb-key-0123456789abcdef";
    let before = w.pods_of("lab");
    assert_eq!(before.len(), 2, "a head and a worker: {before:?}");

    let out = w.kas_with(
        &[".", "exec", "echo", "hi"],
        &[("WANDB_API_KEY", key)],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    let secret = w
        .emu
        .get("", "secrets", "default", "wandb-secret")
        .expect("wandb-secret");
    let stored =
        kas_infra::exec::base64::decode(secret["data"]["WANDB_API_KEY"].as_str().unwrap()).unwrap();
    assert_eq!(stored, key.as_bytes());
    let after = w.pods_of("lab");
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "every pod was restarted: {before:?} -> {after:?}"
    );
    let deletions = |w: &World| {
        w.emu
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.contains("/pods/"))
            .count()
    };
    assert_eq!(deletions(&w), 2, "one restart: each pod deleted once");

    // The same key again: nothing changes.
    let out = w.kas_with(&[".", "exec", "true"], &[("WANDB_API_KEY", key)], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.pods_of("lab"), after, "no second restart");
    assert_eq!(deletions(&w), 2);

    // Another key: a warning, and the secret stays until --yes.
    let other = "wandb-key-fedcba9876543210";
    let out = w.kas_with(&[".", "exec", "true"], &[("WANDB_API_KEY", other)], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds another W&B key"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(w.pods_of("lab"), after);
    let out = w.kas_with(
        &["--yes", ".", "exec", "true"],
        &[("WANDB_API_KEY", other)],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secret = w.emu.get("", "secrets", "default", "wandb-secret").unwrap();
    let stored =
        kas_infra::exec::base64::decode(secret["data"]["WANDB_API_KEY"].as_str().unwrap()).unwrap();
    assert_eq!(stored, other.as_bytes());
    assert_eq!(deletions(&w), 4, "replacing restarts the pods too");

    let argv = w.kubectl_argv();
    for k in [key, other] {
        assert!(
            !argv.contains(k),
            "a kubectl argument held the key:\n{argv}"
        );
    }
    for r in w.emu.requests() {
        assert!(!r.query.contains(key) && !r.query.contains(other), "{r}");
    }
    let annotations = secret["metadata"]["annotations"].to_string();
    assert!(!annotations.contains("WANDB_API_KEY"), "{annotations}");
}

#[test]
fn dash_forwards_and_opens_the_dashboard() {
    let Some(w) = World::new() else { return };
    let server = backend("ray dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    let opened = w.dir.path().join("opened");
    let browser = w.dir.path().join("bin/record-browser");
    write_script(
        &browser,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    );
    let out = w.kas_with(
        &[".", "dash"],
        &[("BROWSER", browser.to_str().unwrap())],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = format!("http://127.0.0.1:{}", w.dashboard);
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap(),
        format!("{url}\n")
    );
    assert!(http_get(w.dashboard).ends_with("ray dashboard"));

    let out = w.kas(&[".", "dash", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(within(Duration::from_secs(10), || !accepts(w.dashboard)));
    assert!(w.record(w.dashboard).is_none());
}

#[test]
fn a_local_port_of_another_forward_is_named_and_a_deleted_cluster_ends_its_forward() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    let file = w.cluster_file("lab", &[(8265, server)]);
    w.ray_up(&file);
    let local = free_port();
    assert_eq!(
        w.kas(&["kfwd", "8265", &local.to_string()]).status.code(),
        Some(0)
    );
    let out = w.kas(&["kfwd", "6379", &local.to_string()]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("127.0.0.1:{local} is taken by another forward")),
        "{err}"
    );
    assert!(err.contains("kubectl kas kfwd 8265 -"), "{err}");

    let pid = w.record(local).unwrap()["pid"].as_i64().unwrap() as i32;
    let mut cmd = w.command(env!("CARGO_BIN_EXE_kubectl-ray"));
    cmd.args(["-", file.to_str().unwrap(), "--timeout", "60s"]);
    let out = w.finish(cmd, "kubectl ray - lab.yaml".into(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        within(Duration::from_secs(30), || !pid_alive(pid)
            && w.record(local).is_none()),
        "the supervisor of a deleted cluster stops and removes its record"
    );
    assert!(within(Duration::from_secs(10), || !accepts(local)));
}

#[test]
fn a_head_pod_that_is_never_ready_ends_the_wait_with_its_state() {
    let Some(w) = World::new() else { return };
    let config = w.dir.path().join("kas.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("head_wait_seconds: 60", "head_wait_seconds: 2"),
    )
    .unwrap();
    let file = w.cluster_file("stalled", &[]);
    let mut cluster: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    cluster["spec"]["headGroupSpec"]["template"]["metadata"]["annotations"]["emulator.kas.dev/not-ready"] =
        "true".into();
    std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    // `kubectl ray +` waits for the head too: apply the cluster directly.
    let mut cmd = w.command(env!("CARGO_BIN_EXE_kubectl-ray"));
    cmd.args(["+", file.to_str().unwrap(), "--timeout", "1s"]);
    w.finish(cmd, "kubectl ray + stalled.yaml".into(), None);
    assert!(
        w.emu
            .get("ray.io", "rayclusters", "default", "stalled")
            .is_some()
    );

    let out = w.kas(&[".", "exec", "true"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("waiting for the head pod of RayCluster stalled"),
        "{err}"
    );
    assert!(
        err.contains("the head pod of RayCluster stalled is not Ready after 2s: stalled-head-"),
        "{err}"
    );
    assert!(err.contains("kas.kubernetes.head_wait_seconds"), "{err}");
}

#[test]
fn kubeconfig_and_context_flags_reach_exec_and_the_supervisor() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    // A kubeconfig elsewhere, named by flag only: KUBECONFIG points nowhere.
    let config = w.dir.path().join("other-kubeconfig");
    let text = std::fs::read_to_string(w.emu.kubeconfig())
        .unwrap()
        .replace("current-context: emulator", "current-context: none");
    std::fs::write(&config, text).unwrap();
    let nowhere = w.dir.path().join("missing");
    let flags = [
        "--kubeconfig",
        config.to_str().unwrap(),
        "--context",
        "emulator",
        "-n",
        "default",
    ];
    let env = [("KUBECONFIG", nowhere.to_str().unwrap())];
    let args: Vec<&str> = flags
        .iter()
        .copied()
        .chain([".", "exec", "echo", "hi"])
        .collect();
    let out = w.kas_with(&args, &env, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");

    let local = free_port();
    let local_text = local.to_string();
    let args: Vec<&str> = flags
        .iter()
        .copied()
        .chain(["kfwd", "8265", local_text.as_str()])
        .collect();
    let out = w.kas_with(&args, &env, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(http_get(local).ends_with("dashboard"));
    let record = w.record(local).unwrap();
    assert_eq!(record["context"], "emulator");
    assert_eq!(record["kubeconfig"], config.to_str().unwrap());
    assert_eq!(w.kas(&["kfwd", "-"]).status.code(), Some(0));
}

#[test]
fn jlab_and_tboard_start_on_the_head_pod_and_open_their_urls() {
    let Some(w) = World::new() else { return };
    let jupyter = backend("jupyterlab");
    let tensorboard = backend("tensorboard");
    // Stand-ins on the head pod's PATH: screen runs the command detached
    // from the exec's output; the servers print their URLs as theirs do.
    let fake = w.dir.path().join("pod-bin");
    std::fs::create_dir_all(&fake).unwrap();
    write_script(
        &fake.join("screen"),
        "#!/bin/sh\ncase \"$1\" in\n  -ls) exit 1 ;;\n  -dmS) shift 2; \"$@\" >/dev/null 2>&1 </dev/null ;;\nesac\n",
    );
    write_script(
        &fake.join("jupyter"),
        "#!/bin/sh\necho '    http://lab-head:8888/lab?token=t0k'\necho '    http://127.0.0.1:8888/lab?token=t0k'\n",
    );
    write_script(
        &fake.join("tensorboard"),
        "#!/bin/sh\necho \"logdir $2\" >&2\necho 'TensorBoard 2.20.0 at http://lab-head:6006/ (Press CTRL+C to quit)'\n",
    );
    let file = w.cluster_file("lab", &[(8888, jupyter), (6006, tensorboard)]);
    let mut cluster: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let path = format!("{}:/usr/bin:/bin", fake.display());
    cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] =
        serde_yaml::from_str(&format!("[{{name: PATH, value: '{path}'}}]")).unwrap();
    std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    w.ray_up(&file);

    let (lab_port, board_port) = (free_port(), free_port());
    let config = w.dir.path().join("kas.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "  ports:\n",
        &format!("  ports:\n    jupyterlab: {lab_port}\n    tensorboard: {board_port}\n"),
    );
    std::fs::write(&config, text).unwrap();
    let opened = w.dir.path().join("opened");
    let browser = w.dir.path().join("bin/record-browser");
    // A page it is handed is read, as a browser would, and kept for the test.
    write_script(
        &browser,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{0}'\nf=\"${{1#file://}}\"\n\
             if [ -f \"$f\" ]; then stat -c %a \"$f\" >> '{0}.mode'; cat \"$f\" >> '{0}.page'; fi\n",
            opened.display()
        ),
    );
    let env = [("BROWSER", browser.to_str().unwrap())];
    for command in ["jlab", "tboard"] {
        let out = w.kas_with(&["--verbose", ".", command], &env, None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!shown.contains("t0k"), "the token was printed: {shown}");
        if command == "jlab" {
            assert!(
                stdout(&out).contains(&format!("http://127.0.0.1:{lab_port}/lab?token=***")),
                "{shown}"
            );
        }
    }
    let opened = std::fs::read_to_string(&opened).unwrap();
    let lines: Vec<&str> = opened.lines().collect();
    assert_eq!(lines.len(), 2, "{opened}");
    let page = lines[0]
        .strip_prefix("file://")
        .expect("a page for the token");
    assert!(
        page.starts_with(w.dir.path().join("state/kas").to_str().unwrap()),
        "{page}"
    );
    assert!(!Path::new(page).exists(), "the page outlived the command");
    assert_eq!(lines[1], format!("http://127.0.0.1:{board_port}/"));
    let read = |ext: &str| std::fs::read_to_string(w.dir.path().join(ext)).unwrap();
    assert_eq!(read("opened.mode"), "600\n");
    assert!(read("opened.page").contains(&format!("http://127.0.0.1:{lab_port}/lab?token=t0k")));
    assert!(http_get(lab_port).ends_with("jupyterlab"));
    assert!(http_get(board_port).ends_with("tensorboard"));
    assert_eq!(w.record(lab_port).unwrap()["remote"], 8888);
    assert_eq!(w.record(board_port).unwrap()["remote"], 6006);
    assert_eq!(w.kas(&["kfwd", "--all", "-"]).status.code(), Some(0));
    assert!(w.record(lab_port).is_none() && w.record(board_port).is_none());
}

/// Runs `kubectl kas ARGS` on a terminal (util-linux `script` makes one),
/// typing `typed`; returns what the terminal showed and the exit status.
fn on_a_terminal(w: &World, args: &[&str], env: &[(&str, &str)], typed: &str) -> (String, i32) {
    let program = Path::new(env!("CARGO_BIN_EXE_kubectl-kas"));
    let mut cmd = terminal::script_in(w.command("script"), program, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The terminal keeps what is typed until kas reads it; the pipe stays
    // open until the end, as a person's keyboard does.
    stdin.write_all(typed.as_bytes()).unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(COMMAND_DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: the child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!(
                "`kubectl kas {}` on a terminal did not finish",
                args.join(" ")
            );
        }
    };
    drop(stdin);
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    eprintln!(
        "$ (terminal) kubectl kas {} -> {:?}\n{shown}",
        args.join(" "),
        out.status.code()
    );
    (shown, out.status.code().unwrap_or(-1))
}

#[test]
fn on_a_terminal_kas_asks_which_cluster_and_whether_to_replace_the_secret() {
    if !need::tools(
        &["script"],
        "this test needs it (util-linux; Debian: bsdutils) for a terminal",
    ) {
        return;
    }
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("alpha", &[]));
    w.ray_up(&w.cluster_file("beta", &[]));
    let (shown, code) = on_a_terminal(&w, &[".", "exec", "echo", "hi"], &[], "2\n");
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("1) alpha") && shown.contains("2) beta"),
        "{shown}"
    );
    assert!(shown.contains("hi"), "{shown}");
    let beta = w.head_pod("beta");
    let argv = w.kubectl_argv();
    assert!(
        argv.contains(&format!("exec -i -t {beta} --namespace=default -- echo hi")),
        "on a terminal: -i -t\n{argv}"
    );

    // A secret with another key: asked, and replaced on `y`.
    let old = "wandb-key-old-0000";
    let new = "wandb-key-new-1111";
    let out = w.kas_with(
        &["--cluster", "alpha", ".", "exec", "true"],
        &[("WANDB_API_KEY", old)],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (shown, code) = on_a_terminal(
        &w,
        &["--cluster", "alpha", ".", "exec", "true"],
        &[("WANDB_API_KEY", new)],
        "y\n",
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Replace it with WANDB_API_KEY"), "{shown}");
    assert!(
        !shown.contains(new) && !shown.contains(old),
        "a key was shown: {shown}"
    );
    let secret = w.emu.get("", "secrets", "default", "wandb-secret").unwrap();
    let stored =
        kas_infra::exec::base64::decode(secret["data"]["WANDB_API_KEY"].as_str().unwrap()).unwrap();
    assert_eq!(stored, new.as_bytes());
}

/// The pids of the live forward supervisors of local port `local` whose
/// state folder is `forwards`, found by their command lines in /proc (not
/// by their records, which a lost race would not write).
fn supervisors_of(forwards: &Path, local: u16) -> Vec<i32> {
    let dir = serde_json::to_string(forwards).unwrap();
    let local = format!("\"local\":{local},");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("--supervise-forward")
            && cmdline.contains(&local)
            && cmdline.contains(&dir)
            && pid_alive(pid)
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn twenty_double_starts_leave_one_supervisor_each_and_kfwd_stop_leaves_none() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    let forwards = w.supervisors.forwards().to_path_buf();
    let mut ports = Vec::new();
    for trial in 0..20 {
        let local = free_port();
        ports.push(local);
        // Both started before either is waited for, released together.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let outs: Vec<Output> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    let w = &w;
                    s.spawn(move || {
                        barrier.wait();
                        w.kas(&["kfwd", "8265", &local.to_string()])
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for out in &outs {
            assert_eq!(out.status.code(), Some(0), "trial {trial}: {}", stderr(out));
        }
        let already = outs
            .iter()
            .filter(|o| stderr(o).contains("already forwarding"))
            .count();
        assert_eq!(already, 1, "trial {trial}: one start, one reuse");
        let pids = supervisors_of(&forwards, local);
        // Ended with the test even when they have no record (a lost race).
        w.supervisors.remember(&pids);
        assert_eq!(pids.len(), 1, "trial {trial}: supervisors {pids:?}");
        let recorded = w.record(local).expect("a record")["pid"].as_i64().unwrap() as i32;
        assert_eq!(pids, [recorded], "trial {trial}: the one with the record");
        assert!(http_get(local).ends_with("dashboard"), "trial {trial}");
    }
    let out = w.kas(&["kfwd"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().count(), 20, "{}", stdout(&out));

    let out = w.kas(&["kfwd", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for local in ports {
        assert!(
            within(Duration::from_secs(10), || supervisors_of(&forwards, local)
                .is_empty()),
            "a supervisor of {local} outlived `kfwd -`"
        );
        assert!(within(Duration::from_secs(10), || !accepts(local)));
    }
    let left: Vec<_> = std::fs::read_dir(&forwards)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the state folder: {left:?}");
    assert_eq!(stdout(&w.kas(&["kfwd"])), "");
}

#[test]
fn a_failed_write_of_the_wandb_secret_names_it_and_restarts_nothing() {
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("lab", &[]));
    let pods = w.pods_of("lab");
    let key = "wandb-key-refused-2222";
    w.emu.fail_once("POST", "/api/v1/namespaces/*/secrets", 500);
    let out = w.kas_with(&[".", "exec", "true"], &[("WANDB_API_KEY", key)], None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("could not create the secret wandb-secret in namespace default"),
        "{err}"
    );
    assert!(err.contains("unset WANDB_API_KEY"), "{err}");
    assert!(!err.contains(key), "the key was printed: {err}");
    assert!(
        w.emu
            .get("", "secrets", "default", "wandb-secret")
            .is_none()
    );
    assert_eq!(w.pods_of("lab"), pods, "pods were restarted");
}

#[test]
fn a_taken_local_port_is_refused_before_the_secret_or_a_server_changes() {
    let Some(w) = World::new() else { return };
    w.ray_up(&w.cluster_file("lab", &[]));
    let pods = w.pods_of("lab");
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let config = w.dir.path().join("kas.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "  ports:\n",
        &format!("  ports:\n    jupyterlab: {taken}\n"),
    );
    std::fs::write(&config, text).unwrap();
    let key = [("WANDB_API_KEY", "wandb-key-unused-3333")];
    w.emu.clear_requests();
    for args in [
        &["kfwd", "6379", &taken.to_string()][..],
        &[".", "jlab"][..],
    ] {
        let out = w.kas_with(args, &key, None);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "127.0.0.1:{taken} is already in use by another program"
            )),
            "{err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
    }
    assert_eq!(w.emu.mutating_requests(), Vec::new(), "something changed");
    assert!(
        w.emu
            .get("", "secrets", "default", "wandb-secret")
            .is_none()
    );
    assert_eq!(w.pods_of("lab"), pods);
    assert!(!w.kubectl_argv().contains("exec "), "a server was started");
}

#[test]
fn a_second_start_returns_only_once_a_reconnecting_forward_answers() {
    let Some(w) = World::new() else { return };
    let server = backend("dashboard");
    w.ray_up(&w.cluster_file("lab", &[(8265, server)]));
    let local = free_port();
    let out = w.kas(&["kfwd", "8265", &local.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pid = w.record(local).unwrap()["pid"].clone();
    for round in 0..5 {
        // The head pod goes: the supervisor's kubectl ends, and it waits
        // for the new one. A start meanwhile reuses it and returns only
        // when the port answers again.
        let old = w.head_pod("lab");
        let out = w
            .emu
            .kubectl()
            .args(["delete", "pod", &old, "--wait=false"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let out = w.kas(&["kfwd", "8265", &local.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("already forwarding"),
            "{}",
            stderr(&out)
        );
        assert!(
            http_get(local).ends_with("dashboard"),
            "round {round}: returned before the port answered"
        );
        assert_eq!(w.record(local).unwrap()["pid"], pid, "one supervisor");
    }
    assert_eq!(w.kas(&["kfwd", "-"]).status.code(), Some(0));
}
