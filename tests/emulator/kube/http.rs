//! A small HTTP/1.1 server on std's TcpListener: one thread per
//! connection, keep-alive, Content-Length and chunked request bodies,
//! chunked streaming for watches, and connection upgrades (WebSocket for
//! exec, SPDY for port-forward) that get the socket split into a reader
//! and a writer, which both protocols need at the same time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use super::Shared;
use super::api::{self, Reply, Request};
use super::exec::{self, Exec};
use super::faults::RequestRecord;
use super::portforward;
use super::store::ApiError;
use super::util::percent_decode;
use super::watch;
use super::websocket;

/// Accepts connections until the emulator shuts down (it connects to
/// itself to wake this loop).
pub fn serve(shared: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.state.lock().expect("state lock").shutdown {
            return;
        }
        let Ok(conn) = conn else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || connection(&shared, conn));
    }
}

fn connection(shared: &Arc<Shared>, conn: TcpStream) {
    let _ = conn.set_nodelay(true);
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
        let closing = req
            .header("Connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if written.is_err() || closing {
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

fn reason(code: u16) -> &'static str {
    match code {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(out: &mut TcpStream, code: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        reason(code),
        body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

fn read_line(
    input: &mut BufReader<TcpStream>,
    budget: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = input.by_ref().take(*budget as u64).read_line(&mut line)?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget.saturating_sub(n);
    if !line.ends_with('\n') {
        return Err(std::io::Error::other("request head too long"));
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// Reads one request; `None` when the client closed the connection.
fn read_request(
    input: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
) -> std::io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    let Some(line) = read_line(input, &mut budget)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::other(format!("bad request line {line:?}")));
    };
    let mut headers = vec![];
    loop {
        let line = read_line(input, &mut budget)?
            .ok_or_else(|| std::io::Error::other("connection closed in the head"))?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![];
    if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        read_chunked(input, &mut body)?;
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(std::io::Error::other("request body too large"));
        }
        body.resize(len, 0);
        input.read_exact(&mut body)?;
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let query = raw_query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(Some(Request {
        method: method.to_ascii_uppercase(),
        path: percent_decode(path),
        raw_query: raw_query.to_string(),
        query,
        content_type: header("content-type").unwrap_or_default(),
        accept: header("accept").unwrap_or_default(),
        server: header("host").unwrap_or_default(),
        headers,
        body,
    }))
}

fn read_chunked(input: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        let mut budget = 1024;
        let line = read_line(input, &mut budget)?
            .ok_or_else(|| std::io::Error::other("truncated chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(input, &mut budget)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(());
        }
        if body.len() + size > MAX_BODY {
            return Err(std::io::Error::other("request body too large"));
        }
        let at = body.len();
        body.resize(at + size, 0);
        input.read_exact(&mut body[at..])?;
        let mut crlf = [0u8; 2];
        input.read_exact(&mut crlf)?;
    }
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
