//! `pods/NAME/portforward` over SPDY/3.1 (`portforward.k8s.io`), as
//! kubectl speaks it after upgrading the connection. Each forwarded
//! connection is a pair of client streams (error and data) sharing a
//! request id; the data stream is relayed to the address named by the
//! pod's annotation `emulator.kas.dev/forward-PORT: HOST:PORT`, so a test
//! can put a real server behind a pod port. Like the kubelet, the emulator
//! drops the whole connection when the pod goes away.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::Shared;
use super::spdy::{self, FLAG_FIN, Frame, HeaderReader, HeaderWriter};

pub const ANNOTATION_PREFIX: &str = "emulator.kas.dev/forward-";

#[derive(Clone, Debug)]
pub struct PortForward {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    /// Pod port -> local address, from the pod's annotations.
    pub targets: HashMap<u16, String>,
}

pub fn from_pod(pod: &Value) -> PortForward {
    let meta = &pod["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let targets = meta["annotations"]
        .as_object()
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| {
                    let port = k.strip_prefix(ANNOTATION_PREFIX)?.parse().ok()?;
                    Some((port, v.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    PortForward {
        namespace: text(&meta["namespace"]),
        pod: text(&meta["name"]),
        uid: text(&meta["uid"]),
        targets,
    }
}

#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
}

type Out = Arc<Mutex<TcpStream>>;

pub fn run(
    shared: &Arc<Shared>,
    mut input: BufReader<TcpStream>,
    out: TcpStream,
    spec: &PortForward,
) {
    let socket = out.try_clone().ok();
    let out: Out = Arc::new(Mutex::new(out));
    let done = Arc::new(AtomicBool::new(false));
    if let Some(socket) = socket.as_ref().and_then(|s| s.try_clone().ok()) {
        watch_pod(shared.clone(), spec.clone(), socket, done.clone());
    }
    let mut headers = HeaderReader::default();
    let mut replies = HeaderWriter::default();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut targets: HashMap<u32, TcpStream> = HashMap::new();
    while let Ok(frame) = spdy::read_frame(&mut input) {
        match frame {
            Frame::Control {
                kind: spdy::SYN_STREAM,
                data,
                ..
            } if data.len() >= 10 => {
                let stream = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) & 0x7fff_ffff;
                let Ok(pairs_in) = headers.next(&data[10..]) else {
                    break;
                };
                let mut reply = stream.to_be_bytes().to_vec();
                reply.extend_from_slice(&replies.empty_block());
                if write(&out, |o| spdy::write_control(o, spdy::SYN_REPLY, 0, &reply)).is_err() {
                    break;
                }
                let header = |name: &str| {
                    pairs_in
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let pair = pairs.entry(header("requestid")).or_default();
                pair.port = header("port").parse().unwrap_or(0);
                match header("streamtype").as_str() {
                    "error" => pair.error = Some(stream),
                    "data" => pair.data = Some(stream),
                    _ => {}
                }
                if let (Some(error), Some(data)) = (pair.error, pair.data)
                    && let Some(target) = connect(spec, pair.port, error, data, &out)
                {
                    targets.insert(data, target);
                }
            }
            Frame::Control {
                kind: spdy::RST_STREAM,
                data,
                ..
            } if data.len() >= 4 => {
                let stream = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) & 0x7fff_ffff;
                if let Some(target) = targets.remove(&stream) {
                    let _ = target.shutdown(Shutdown::Both);
                }
            }
            Frame::Control {
                kind: spdy::PING,
                data,
                ..
            } => {
                let _ = write(&out, |o| spdy::write_control(o, spdy::PING, 0, &data));
            }
            Frame::Control {
                kind: spdy::GOAWAY, ..
            } => break,
            Frame::Control { .. } => {}
            Frame::Data {
                stream,
                flags,
                data,
            } => {
                if let Some(target) = targets.get_mut(&stream) {
                    if !data.is_empty() && target.write_all(&data).is_err() {
                        let _ = target.shutdown(Shutdown::Both);
                    }
                    if flags & FLAG_FIN != 0 {
                        let _ = target.shutdown(Shutdown::Write);
                    }
                }
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for target in targets.values() {
        let _ = target.shutdown(Shutdown::Both);
    }
    if let Some(socket) = socket {
        let _ = socket.shutdown(Shutdown::Both);
    }
}

fn write(out: &Out, f: impl FnOnce(&mut TcpStream) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = out.lock().expect("stream lock");
    f(&mut out)
}

/// Opens the pod port's target and relays target -> client on a thread.
/// A port without a target, or a target that refuses, is reported on the
/// error stream, which kubectl prints.
fn connect(spec: &PortForward, port: u16, error: u32, data: u32, out: &Out) -> Option<TcpStream> {
    let target = match spec.targets.get(&port) {
        None => Err(format!(
            "the emulator has nothing behind port {port} of pod {}: annotate it {ANNOTATION_PREFIX}{port}: HOST:PORT",
            spec.pod
        )),
        Some(addr) => addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("bad address {addr:?} in {ANNOTATION_PREFIX}{port}"))
            .and_then(|a| {
                TcpStream::connect_timeout(&a, Duration::from_secs(5))
                    .map_err(|e| format!("failed to connect to {addr} for pod port {port}: {e}"))
            }),
    };
    match target {
        Err(message) => {
            let _ = write(out, |o| {
                spdy::write_data(o, error, 0, message.as_bytes())?;
                spdy::write_data(o, error, FLAG_FIN, &[])?;
                spdy::write_data(o, data, FLAG_FIN, &[])
            });
            None
        }
        Ok(target) => {
            let mut reader = target.try_clone().ok()?;
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if write(&out, |o| spdy::write_data(o, data, 0, &buf[..n])).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = write(&out, |o| {
                    spdy::write_data(o, data, FLAG_FIN, &[])?;
                    spdy::write_data(o, error, FLAG_FIN, &[])
                });
            });
            Some(target)
        }
    }
}

/// Closes the connection when the pod is deleted (or replaced by one with
/// the same name), as the kubelet's streaming server does.
fn watch_pod(shared: Arc<Shared>, spec: PortForward, socket: TcpStream, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            let alive = {
                let state = shared.state.lock().expect("state lock");
                if state.shutdown {
                    false
                } else {
                    state
                        .list("", "pods", Some(&spec.namespace))
                        .iter()
                        .any(|p| {
                            p["metadata"]["uid"] == spec.uid.as_str()
                                && p["metadata"]["deletionTimestamp"].is_null()
                        })
                }
            };
            if !alive {
                let _ = socket.shutdown(Shutdown::Both);
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}
