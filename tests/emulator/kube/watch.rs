//! Watches, streamed as chunked JSON lines: the current objects first when
//! asked for, then every change after a resource version, with bookmarks.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Shared;
use super::api::Watch;
use super::store::{EventType, State};
use super::table;

/// How often a watch with bookmarks allowed sends one (real servers: about
/// a minute; sooner here also notices clients that went away).
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

/// Streams a watch until its timeout, the emulator's shutdown, or the
/// client going away. Every event is flushed as its own chunk.
pub fn stream(shared: &Shared, out: &mut dyn Write, watch: &Watch) {
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
            if send(out, &line).is_err() {
                return;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if watch.bookmarks && now.duration_since(last_bookmark) >= BOOKMARK_EVERY {
            last_bookmark = now;
            if send(out, &bookmark(watch, cursor, false)).is_err() {
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
    if let Some(include) = &watch.table {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        object = table::table(&watch.ty, &[object], rv, include.as_deref());
    }
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

fn send(out: &mut dyn Write, line: &Value) -> std::io::Result<()> {
    let mut data = serde_json::to_vec(line).expect("JSON values serialize");
    data.push(b'\n');
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(&data)?;
    out.write_all(b"\r\n")?;
    out.flush()
}
