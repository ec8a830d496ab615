//! Long-lived connections: watches, exec over WebSocket, port-forward over
//! SPDY.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::kube;
use crate::support::*;

#[test]
fn kubectl_get_watch_sees_a_change() {
    let Some(emu) = start() else { return };
    let (mut names_watch, names) =
        stream_lines(&emu, &["get", "configmaps", "--watch-only", "-o", "name"]);
    // The human form: rows of the server's Tables, header first.
    let (mut table_watch, rows) = stream_lines(&emu, &["get", "pods", "--watch"]);
    eventually("kubectl watches", || {
        let log = emu.requests();
        let watching = |path: &str| {
            log.iter()
                .any(|r| r.path == path && r.query.contains("watch=true"))
        };
        watching("/api/v1/namespaces/default/configmaps")
            && watching("/api/v1/namespaces/default/pods")
    });
    kubectl(&emu, &["create", "configmap", "seen"]);
    kubectl(&emu, &["run", "watched", "--image=x"]);
    let line = names.recv_timeout(Duration::from_secs(20));
    let mut printed = vec![];
    while let Ok(row) = rows.recv_timeout(Duration::from_secs(5)) {
        printed.push(row);
        if printed.iter().any(|r| r.contains("Running")) {
            break;
        }
    }
    for child in [&mut names_watch, &mut table_watch] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        line.expect("the watch printed the new configmap"),
        "configmap/seen"
    );
    assert!(
        printed[0].starts_with("NAME") && printed[0].contains("STATUS"),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|r| r.starts_with("watched ") && r.contains("Running")),
        "{printed:?}"
    );
}

#[test]
fn exec_runs_commands_over_websocket_and_returns_their_status() {
    let Some(emu) = start() else { return };
    kubectl(
        &emu,
        &["run", "box", "--image=busybox", "--env=GREETING=hello"],
    );
    kubectl(
        &emu,
        &["wait", "--for=condition=Ready", "pod/box", "--timeout=20s"],
    );

    let out = kubectl(&emu, &["exec", "box", "--", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let out = kubectl(
        &emu,
        &[
            "exec",
            "box",
            "--",
            "sh",
            "-c",
            "echo $GREETING $HOSTNAME; pwd; echo oops >&2",
        ],
    );
    assert_eq!(out, format!("hello box\n{}\n", emu.exec_dir().display()));

    let failed = run(emu
        .kubectl()
        .args(["exec", "box", "--", "sh", "-c", "exit 3"]));
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    let missing = run(emu.kubectl().args(["exec", "box", "--", "no-such-command"]));
    assert_eq!(
        missing.status.code(),
        Some(126),
        "{}",
        text(&missing.stderr)
    );
    assert!(
        text(&missing.stdout).contains("\"no-such-command\""),
        "{}",
        text(&missing.stdout)
    );

    // Standard input reaches the command.
    let mut piped = emu.kubectl();
    piped
        .args(["exec", "-i", "box", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = piped.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"shout\n").unwrap();
    let upper = child.wait_with_output().unwrap();
    assert_eq!(text(&upper.stdout), "SHOUT\n");

    let exec = emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/pods/box/exec"))
        .unwrap();
    assert_eq!(exec.status, 101);
    assert!(exec.query.contains("command=echo&command=hi"), "{exec}");

    emu.append_log("default", "box", "started\n");
    assert_eq!(kubectl(&emu, &["logs", "box"]), "started\n");
}

#[test]
fn port_forward_relays_to_the_annotated_address_until_the_pod_goes() {
    let Some(emu) = start() else { return };
    let (backend, connections) = tiny_server("dashboard");
    let annotation = format!("emulator.kas.dev/forward-8265=127.0.0.1:{backend}");
    kubectl(
        &emu,
        &["run", "head", "--image=ray", "--annotations", &annotation],
    );
    kubectl(
        &emu,
        &["wait", "--for=condition=Ready", "pod/head", "--timeout=20s"],
    );

    let mut forward = emu
        .kubectl()
        .args(["port-forward", "pod/head", ":8265", ":6379"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = forward.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut local = HashMap::new();
    while local.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("kubectl port-forward starts");
        // "Forwarding from 127.0.0.1:43567 -> 8265"
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
            let (l, r) = rest.split_once(" -> ").unwrap();
            local.insert(r.to_string(), l.parse::<u16>().unwrap());
        }
    }
    for _ in 0..3 {
        let reply = http_get(local["8265"]);
        assert!(reply.ends_with("\r\n\r\ndashboard"), "{reply:?}");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Nothing is behind 6379: the error reaches kubectl, which says so.
    let reply = http_get(local["6379"]);
    assert_eq!(reply, "");

    // Like the kubelet, the emulator drops the connection with the pod, and
    // kubectl port-forward exits.
    kubectl(&emu, &["delete", "pod", "head", "--timeout=20s"]);
    let (tx, done) = mpsc::channel();
    std::thread::spawn(move || tx.send(forward.wait_with_output()));
    let out = done
        .recv_timeout(Duration::from_secs(20))
        .expect("kubectl port-forward exits")
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nothing behind port 6379"), "{stderr}");
    assert!(stderr.contains("lost connection to pod"), "{stderr}");
}

#[test]
fn kubectl_and_helm_reach_the_https_front_with_its_ca() {
    let Some(_) = start() else { return };
    for tool in ["openssl", "python3"] {
        if !have(tool) {
            return;
        }
    }
    let emu = kube::KubeEmulator::start_tls().expect("the HTTPS front starts");
    let endpoint = emu.tls_endpoint().unwrap();
    let config = std::fs::read_to_string(emu.kubeconfig()).unwrap();
    assert!(
        config.contains(&format!("server: https://{endpoint}")),
        "{config}"
    );
    assert!(
        emu.ca_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let out = kubectl(&emu, &["get", "namespaces", "-o", "name"]);
    assert!(out.contains("namespace/default"), "{out}");
    kubectl(&emu, &["run", "box", "--image=x"]);
    kubectl(
        &emu,
        &["wait", "--for=condition=Ready", "pod/box", "--timeout=20s"],
    );
    // An upgraded connection passes the relay too.
    assert_eq!(
        kubectl(&emu, &["exec", "box", "--", "echo", "over tls"]),
        "over tls\n"
    );
    if have("helm") {
        ok(emu.helm().args(["list", "-A"]));
    }
}
