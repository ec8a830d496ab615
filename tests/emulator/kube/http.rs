//! The HTTP side: one thread per request on tiny_http, JSON answers, and
//! watches streamed as chunked JSON lines on the raw connection.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Shared;
use super::api::{self, Reply, Request, Watch};
use super::faults::RequestRecord;
use super::store::{EventType, State};
use super::util::percent_decode;

/// How often a watch with bookmarks allowed sends one (real servers: about
/// a minute; sooner here also notices clients that went away).
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

pub fn serve(shared: Arc<Shared>, server: Arc<tiny_http::Server>) {
    for request in server.incoming_requests() {
        let shared = shared.clone();
        std::thread::spawn(move || handle(&shared, request));
    }
}

fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let req = read_request(&mut request);
    let reply = {
        let mut state = shared.state.lock().expect("state lock");
        let fault = state
            .faults
            .iter()
            .position(|f| f.matches(&req.method, &req.path));
        let reply = match fault {
            Some(at) => state.faults.remove(at).error().into(),
            None => api::handle(&mut state, &req),
        };
        let status = match &reply {
            Reply::Json(code, _) | Reply::Bytes(code, _, _) => *code,
            Reply::Watch(_) => 200,
        };
        let record = RequestRecord {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.raw_query.clone(),
            content_type: req.content_type.clone(),
            status,
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
    match reply {
        Reply::Json(code, body) => {
            let bytes = serde_json::to_vec(&body).expect("JSON values serialize");
            respond(request, code, "application/json", bytes);
        }
        Reply::Bytes(code, content_type, bytes) => respond(request, code, content_type, bytes),
        Reply::Watch(watch) => stream(shared, request.into_writer(), &watch),
    }
}

fn read_request(request: &mut tiny_http::Request) -> Request {
    let url = request.url().to_string();
    let (path, raw_query) = url.split_once('?').unwrap_or((&url, ""));
    let query = raw_query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
            .unwrap_or_default()
    };
    let (content_type, accept, host) = (header("Content-Type"), header("Accept"), header("Host"));
    let mut body = vec![];
    let _ = request.as_reader().read_to_end(&mut body);
    Request {
        method: request.method().as_str().to_ascii_uppercase(),
        path: percent_decode(path),
        raw_query: raw_query.to_string(),
        query,
        content_type,
        accept,
        body,
        server: host,
    }
}

fn respond(request: tiny_http::Request, code: u16, content_type: &str, bytes: Vec<u8>) {
    let header = tiny_http::Header::from_bytes("Content-Type", content_type).expect("valid header");
    let response = tiny_http::Response::from_data(bytes)
        .with_status_code(code)
        .with_header(header);
    let _ = request.respond(response);
}

/// Streams a watch until its timeout, the emulator's shutdown, or the
/// client going away. Writes the HTTP response by hand so that every event
/// is flushed as its own chunk.
fn stream(shared: &Shared, mut out: Box<dyn Write + Send>, watch: &Watch) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n";
    if out
        .write_all(head.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return;
    }
    let deadline = Instant::now() + watch.timeout;
    let mut last_bookmark = Instant::now();
    let (mut lines, mut cursor) = {
        let state = shared.state.lock().expect("state lock");
        initial_events(&state, watch)
    };
    loop {
        for line in lines.drain(..) {
            if send(&mut out, &line).is_err() {
                return;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if watch.bookmarks && now.duration_since(last_bookmark) >= BOOKMARK_EVERY {
            last_bookmark = now;
            if send(&mut out, &bookmark(watch, cursor, false)).is_err() {
                return;
            }
        }
        let mut state = shared.state.lock().expect("state lock");
        if state.shutdown {
            break;
        }
        if state.rv <= cursor {
            let wait = deadline
                .saturating_duration_since(now)
                .min(Duration::from_secs(1));
            state = shared
                .changed
                .wait_timeout(state, wait)
                .expect("state lock")
                .0;
        }
        let start = state.events.partition_point(|e| e.rv <= cursor);
        for event in &state.events[start..] {
            cursor = event.rv;
            if let Some(line) = view(watch, event) {
                lines.push(line);
            }
        }
        cursor = cursor.max(state.rv);
    }
    let _ = out.write_all(b"0\r\n\r\n").and_then(|_| out.flush());
}

/// The current objects as ADDED events when the watch asked for them.
fn initial_events(state: &State, watch: &Watch) -> (Vec<Value>, u64) {
    let Some(since) = watch.since else {
        let ns = watch.namespace.as_deref();
        let mut lines: Vec<Value> = state
            .list(&watch.ty.group, &watch.ty.plural, ns)
            .into_iter()
            .filter(|o| watch.labels.matches(o) && watch.fields.matches(o))
            .map(|o| event_line(watch, "ADDED", o))
            .collect();
        if watch.initial_events_end {
            lines.push(bookmark(watch, state.rv, true));
        }
        return (lines, state.rv);
    };
    (vec![], since)
}

/// How one stored change looks through this watch's filters: an object
/// that starts or stops matching is ADDED or DELETED, as on a real server.
fn view(watch: &Watch, event: &super::store::Event) -> Option<Value> {
    if event.group != watch.ty.group || event.plural != watch.ty.plural {
        return None;
    }
    let now = watch.matches(&event.namespace, &event.object);
    let before = event
        .old
        .as_ref()
        .is_some_and(|o| watch.matches(&event.namespace, o));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => "ADDED",
        (EventType::Deleted, _, true) => "DELETED",
        (EventType::Modified, true, true) => "MODIFIED",
        (EventType::Modified, false, true) => "ADDED",
        (EventType::Modified, true, false) => "DELETED",
        _ => return None,
    };
    Some(event_line(watch, kind, event.object.clone()))
}

fn event_line(watch: &Watch, kind: &str, mut object: Value) -> Value {
    object["apiVersion"] = json!(watch.ty.api_version(&watch.version));
    json!({"type": kind, "object": object})
}

fn bookmark(watch: &Watch, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({
        "type": "BOOKMARK",
        "object": {
            "kind": watch.ty.kind,
            "apiVersion": watch.ty.api_version(&watch.version),
            "metadata": metadata,
        }
    })
}

fn send(out: &mut Box<dyn Write + Send>, line: &Value) -> std::io::Result<()> {
    let mut data = serde_json::to_vec(line).expect("JSON values serialize");
    data.push(b'\n');
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(&data)?;
    out.write_all(b"\r\n")?;
    out.flush()
}
