//! `pods/NAME/exec` over WebSocket (`v5.channel.k8s.io`, or v4), as
//! current kubectl speaks it. The command runs as a local process in the
//! emulator's scratch folder; its output goes back on the stdout (1) and
//! stderr (2) channels and its exit status as a `Status` on channel 3.
//!
//! There is no terminal: `-t` merges stderr into stdout and resizes are
//! ignored.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::websocket::{self, BINARY, CLOSE, PING, PONG};

pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Pod annotation `emulator.kas.dev/env-NAME: VALUE`: exec commands in the
/// pod also get `NAME=VALUE` (the Ray backing sets `RAY_ADDRESS` this way).
pub const ENV_ANNOTATION_PREFIX: &str = "emulator.kas.dev/env-";

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

/// Runs the command and relays its streams until it exits. Standard input
/// is read as it arrives, so `kubectl exec -i` streams into the command.
pub fn run(mut input: BufReader<TcpStream>, out: TcpStream, exec: &Exec, dir: &Path) {
    let socket = out.try_clone().ok();
    let out = Arc::new(Mutex::new(out));
    let status = match spawn(exec, dir, &mut input, &out) {
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
    {
        let mut out = out.lock().expect("stream lock");
        let _ = send(&mut *out, 3, &serde_json::to_vec(&status).expect("JSON"));
        let _ = websocket::write_frame(&mut *out, CLOSE, &1000u16.to_be_bytes());
    }
    if let Some(socket) = socket {
        // Also ends the thread still reading standard input.
        let _ = socket.shutdown(Shutdown::Both);
    }
}

fn send(stream: &mut dyn Write, channel: u8, data: &[u8]) -> std::io::Result<()> {
    let mut payload = Vec::with_capacity(data.len() + 1);
    payload.push(channel);
    payload.extend_from_slice(data);
    websocket::write_frame(stream, BINARY, &payload)
}

/// Feeds channel 0 to the command until the client closes it (v5:
/// `[255, 0]`) or the connection; answers pings; ignores resizes.
fn pump_stdin(
    mut input: BufReader<TcpStream>,
    mut stdin: Option<ChildStdin>,
    out: Arc<Mutex<TcpStream>>,
) {
    while let Ok((opcode, payload)) = websocket::read_frame(&mut input) {
        match (opcode, payload.first()) {
            (CLOSE, _) => return,
            (PING, _) => {
                let mut out = out.lock().expect("stream lock");
                let _ = websocket::write_frame(&mut *out, PONG, &payload);
            }
            (_, Some(0)) => {
                if let Some(pipe) = stdin.as_mut()
                    && pipe.write_all(&payload[1..]).is_err()
                {
                    stdin = None;
                }
            }
            (_, Some(255)) if payload.get(1) == Some(&0) => stdin = None,
            _ => {}
        }
    }
}

/// Runs the command, streaming its output; returns its exit code.
fn spawn(
    exec: &Exec,
    dir: &Path,
    input: &mut BufReader<TcpStream>,
    out: &Arc<Mutex<TcpStream>>,
) -> Result<i32, String> {
    let program = exec.command.first().ok_or("no command given")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let child = Command::new(program)
        .args(&exec.command[1..])
        .current_dir(dir)
        .envs(exec.env.iter().cloned())
        .env("HOSTNAME", &exec.pod)
        .stdin(if exec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            // As containerd reports it: a message, then exit code 126.
            let message = format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: {program:?}: {e}: unknown\r\n"
            );
            let mut out = out.lock().expect("stream lock");
            let _ = send(&mut *out, 1, message.as_bytes());
            return Ok(126);
        }
    };
    let stdin = child.stdin.take();
    if let Ok(socket) = input.get_ref().try_clone() {
        let reader = std::mem::replace(input, BufReader::new(socket));
        let out = out.clone();
        std::thread::spawn(move || pump_stdin(reader, stdin, out));
    }
    let stderr_channel = if exec.tty { 1 } else { 2 };
    let pipes: Vec<(Box<dyn Read + Send>, u8, bool)> = [
        child
            .stdout
            .take()
            .map(|s| (Box::new(s) as Box<dyn Read + Send>, 1u8, exec.stdout)),
        child.stderr.take().map(|s| {
            (
                Box::new(s) as Box<dyn Read + Send>,
                stderr_channel,
                exec.stderr || exec.tty,
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let pumps: Vec<_> = pipes
        .into_iter()
        .map(|(mut pipe, channel, wanted)| {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if wanted {
                        let mut out = out.lock().expect("stream lock");
                        let _ = send(&mut *out, channel, &buf[..n]);
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
    let mut env: Vec<(String, String)> = container["env"]
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
    if let Some(annotations) = pod["metadata"]["annotations"].as_object() {
        env.extend(annotations.iter().filter_map(|(k, v)| {
            let name = k.strip_prefix(ENV_ANNOTATION_PREFIX)?;
            Some((name.to_string(), v.as_str()?.to_string()))
        }));
    }
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
