//! `pods/NAME/exec` over WebSocket (`v5.channel.k8s.io`, or v4), as
//! current kubectl speaks it. The command runs as a local process in the
//! emulator's scratch folder; its output goes back on the stdout (1) and
//! stderr (2) channels and its exit status as a `Status` on channel 3.
//!
//! Standard input is read to its end before the command starts, so piping
//! into `kubectl exec -i` works but an interactive shell does not.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::websocket::{self, BINARY, CLOSE, PING, PONG};

pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

#[derive(Clone, Debug)]
pub struct Exec {
    pub pod: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// `value` entries of the container's `env`.
    pub env: Vec<(String, String)>,
}

type Stream = Box<dyn tiny_http::ReadWrite + Send>;

pub fn run(stream: Stream, exec: &Exec, dir: &Path) {
    let mut stream = stream;
    let mut input = vec![];
    if exec.stdin {
        read_stdin(&mut stream, &mut input);
    }
    let out = Arc::new(Mutex::new(stream));
    let status = match spawn(exec, dir, input, &out) {
        Ok(0) => json!({"metadata": {}, "status": "Success"}),
        Ok(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command {:?}, exit code {code}",
                exec.command
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Err(message) => json!({
            "metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
        }),
    };
    let mut stream = out.lock().expect("stream lock");
    let _ = send(
        &mut **stream,
        3,
        &serde_json::to_vec(&status).expect("JSON"),
    );
    let _ = websocket::write_frame(&mut **stream, CLOSE, &1000u16.to_be_bytes());
}

fn send(stream: &mut dyn Write, channel: u8, data: &[u8]) -> std::io::Result<()> {
    let mut payload = Vec::with_capacity(data.len() + 1);
    payload.push(channel);
    payload.extend_from_slice(data);
    websocket::write_frame(stream, BINARY, &payload)
}

/// Collects channel 0 until the client closes it (v5: `[255, 0]`) or the
/// connection.
fn read_stdin(stream: &mut Stream, input: &mut Vec<u8>) {
    while let Ok((opcode, payload)) = websocket::read_frame(stream) {
        match (opcode, payload.first()) {
            (CLOSE, _) => return,
            (PING, _) => {
                let _ = websocket::write_frame(stream, PONG, &payload);
            }
            (_, Some(0)) => input.extend_from_slice(&payload[1..]),
            (_, Some(255)) if payload.get(1) == Some(&0) => return,
            _ => {}
        }
    }
}

/// Runs the command, streaming its output; returns its exit code.
fn spawn(exec: &Exec, dir: &Path, input: Vec<u8>, out: &Arc<Mutex<Stream>>) -> Result<i32, String> {
    let program = exec.command.first().ok_or("no command given")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut child = Command::new(program)
        .args(&exec.command[1..])
        .current_dir(dir)
        .envs(exec.env.iter().cloned())
        .env("HOSTNAME", &exec.pod)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("exec: {program:?}: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let pumps: Vec<_> = [
        (
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            1u8,
            exec.stdout,
        ),
        (
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            if exec.tty { 1 } else { 2 },
            exec.stderr || exec.tty,
        ),
    ]
    .into_iter()
    .filter_map(|(pipe, channel, wanted)| Some((pipe?, channel, wanted)))
    .map(|(mut pipe, channel, wanted)| {
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if wanted {
                    let mut stream = out.lock().expect("stream lock");
                    let _ = send(&mut **stream, channel, &buf[..n]);
                }
            }
        })
    })
    .collect();
    for pump in pumps {
        let _ = pump.join();
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok(status.code().unwrap_or(128 + 9))
}

/// The exec request from the query: `command` (repeated), `container`,
/// `stdin`, `stdout`, `stderr`, `tty`.
pub fn from_query(pod: &Value, query: &[(String, String)]) -> Result<Exec, String> {
    let flag = |name: &str| {
        query
            .iter()
            .any(|(k, v)| k == name && (v == "true" || v == "1"))
    };
    let command: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    if command.is_empty() {
        return Err("you must specify at least 1 command".into());
    }
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let wanted = query
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.as_str());
    let container = match wanted {
        Some(name) => containers
            .iter()
            .find(|c| c["name"] == name)
            .ok_or_else(|| {
                format!(
                    "container {name} is not valid for pod {}",
                    pod["metadata"]["name"]
                )
            })?,
        None => containers.first().ok_or("the pod has no containers")?,
    };
    let env = container["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    Ok(Exec {
        pod: pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
        command,
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
        tty: flag("tty"),
        env,
    })
}
