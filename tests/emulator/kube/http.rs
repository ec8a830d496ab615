//! The Kubernetes emulator's connections on the shared HTTP server
//! (`crate::http`): requests become API calls, with fault injection and
//! the request log; chunked streaming for watches; and connection upgrades
//! (WebSocket for exec, SPDY for port-forward) that get the socket split
//! into a reader and a writer, which both protocols need at the same time.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use crate::http::{form_decode, parse_query, respond};

use super::Shared;
use super::api::{self, Reply, Request};
use super::exec::{self, Exec};
use super::faults::RequestRecord;
use super::portforward;
use super::store::ApiError;
use super::watch;
use super::websocket;

/// Accepts connections until the emulator shuts down (it connects to
/// itself to wake this loop).
pub fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let stopped = {
        let shared = shared.clone();
        move || shared.state.lock().expect("state lock").shutdown
    };
    crate::http::serve(
        listener,
        stopped,
        Arc::new(move |conn| connection(&shared, conn)),
    );
}

fn connection(shared: &Arc<Shared>, conn: TcpStream) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut input = BufReader::new(read_half);
    let mut out = conn;
    loop {
        let req = match read_request(&mut input, &mut out) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                let error = ApiError::bad_request(format!("malformed HTTP request: {e}"));
                let _ = respond(
                    &mut out,
                    error.code,
                    "application/json",
                    &json_bytes(&error.to_status()),
                );
                return;
            }
        };
        let reply = dispatch(shared, &req);
        let written = match reply {
            Reply::Json(code, body) => {
                respond(&mut out, code, "application/json", &json_bytes(&body))
            }
            Reply::Bytes(code, content_type, body) => respond(&mut out, code, content_type, &body),
            Reply::Watch(spec) => {
                watch::stream(shared, &mut out, &spec);
                Ok(())
            }
            Reply::Exec(spec) => {
                upgrade_to_websocket(shared, input, out, &req, &spec);
                return;
            }
            Reply::PortForward(spec) => {
                upgrade_to_spdy(shared, input, out, &spec);
                return;
            }
        };
        if written.is_err() || req.closes {
            return;
        }
    }
}

/// Fault injection, the API, the request log and waking watchers.
fn dispatch(shared: &Shared, req: &Request) -> Reply {
    let reply = {
        let mut state = shared.state.lock().expect("state lock");
        let fault = state
            .faults
            .iter()
            .position(|f| f.matches(&req.method, &req.path));
        let injected = fault.is_some();
        let reply = match fault {
            Some(at) => {
                let fault = &mut state.faults[at];
                fault.times = fault.times.saturating_sub(1);
                let error = fault.error();
                if fault.times == 0 {
                    state.faults.remove(at);
                }
                error.into()
            }
            None => api::handle(&mut state, req),
        };
        let status = match &reply {
            Reply::Json(code, _) | Reply::Bytes(code, _, _) => *code,
            Reply::Watch(_) => 200,
            Reply::Exec(_) | Reply::PortForward(_) => 101,
        };
        let record = RequestRecord {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.raw_query.clone(),
            content_type: req.content_type.clone(),
            status,
            injected,
        };
        if shared.echo {
            eprintln!("{record}");
        }
        state.log.push(record);
        reply
    };
    if req.method != "GET" {
        shared.changed.notify_all();
    }
    reply
}

fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values serialize")
}

/// Reads one request as the API sees it: path and query decoded.
fn read_request(
    input: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
) -> std::io::Result<Option<Request>> {
    let Some(wire) = crate::http::read_request(input, out)? else {
        return Ok(None);
    };
    let (path, raw_query) = wire.target.split_once('?').unwrap_or((&wire.target, ""));
    let header = |name: &str| wire.header(name).unwrap_or_default().to_string();
    Ok(Some(Request {
        method: wire.method.clone(),
        path: form_decode(path),
        raw_query: raw_query.to_string(),
        query: parse_query(raw_query),
        content_type: header("content-type"),
        accept: header("accept"),
        server: header("host"),
        closes: wire.closes(),
        headers: wire.headers,
        body: wire.body,
    }))
}

/// Answers the WebSocket handshake with a channel protocol both sides
/// speak, then runs the command on the upgraded connection.
fn upgrade_to_websocket(
    shared: &Shared,
    input: BufReader<TcpStream>,
    mut out: TcpStream,
    req: &Request,
    spec: &Exec,
) {
    let offered: Vec<&str> = req
        .header("Sec-WebSocket-Protocol")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let Some(protocol) = exec::PROTOCOLS.iter().find(|p| offered.contains(p)) else {
        let message = format!(
            "no supported WebSocket subprotocol among {offered:?}; want one of {:?}",
            exec::PROTOCOLS
        );
        let error = ApiError::bad_request(message);
        let _ = respond(
            &mut out,
            400,
            "application/json",
            &json_bytes(&error.to_status()),
        );
        return;
    };
    let key = req.header("Sec-WebSocket-Key").unwrap_or("");
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n",
        websocket::accept_key(key)
    );
    if out
        .write_all(head.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return;
    }
    exec::run(input, out, spec, &shared.exec_dir);
}

/// Answers `Upgrade: SPDY/3.1` for `portforward.k8s.io`, then relays.
fn upgrade_to_spdy(
    shared: &Arc<Shared>,
    input: BufReader<TcpStream>,
    mut out: TcpStream,
    spec: &portforward::PortForward,
) {
    let head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
                X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
    if out
        .write_all(head.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return;
    }
    portforward::run(shared, input, out, spec);
}
