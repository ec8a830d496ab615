//! Server-side printing: `kubectl get` asks for a `Table` (Accept `as=Table`)
//! and prints its columns, so the emulator answers with the columns a real
//! server shows (READY and STATUS for pods, a CRD's printer columns, ...).

use serde_json::{Value, json};

use super::catalog::ResourceType;
use super::util::{dotted, now_unix, parse_rfc3339};

/// Whether the client asked for a Table.
pub fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

struct Column {
    name: String,
    kind: &'static str,
    priority: u8,
    cell: Box<dyn Fn(&Value) -> Value>,
}

fn column(
    name: &str,
    kind: &'static str,
    priority: u8,
    cell: impl Fn(&Value) -> Value + 'static,
) -> Column {
    Column {
        name: name.to_string(),
        kind,
        priority,
        cell: Box::new(cell),
    }
}

fn text(v: &Value, path: &str) -> String {
    match dotted(v, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn or_none(s: String) -> Value {
    json!(if s.is_empty() {
        "<none>".to_string()
    } else {
        s
    })
}

/// `creationTimestamp` as kubectl shows ages: 45s, 3m12s, 2h, 5d.
pub fn age(timestamp: &str) -> String {
    let Some(then) = parse_rfc3339(timestamp) else {
        return "<unknown>".into();
    };
    let s = now_unix().saturating_sub(then);
    match s {
        0..120 => format!("{s}s"),
        120..600 if s % 60 != 0 => format!("{}m{}s", s / 60, s % 60),
        120..10_800 => format!("{}m", s / 60),
        10_800..28_800 if s % 3600 >= 60 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        10_800..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age_column() -> Column {
    column("Age", "string", 0, |o| {
        json!(age(&text(o, "metadata.creationTimestamp")))
    })
}

fn columns(ty: &ResourceType) -> Vec<Column> {
    let name = column("Name", "string", 0, |o| json!(text(o, "metadata.name")));
    let mut cols = vec![name];
    match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "pods") => {
            cols.push(column("Ready", "string", 0, |o| {
                let statuses = o["status"]["containerStatuses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
                let ready = statuses.iter().filter(|c| c["ready"] == true).count();
                json!(format!("{ready}/{total}"))
            }));
            cols.push(column("Status", "string", 0, |o| {
                if o["metadata"]["deletionTimestamp"].is_string() {
                    json!("Terminating")
                } else {
                    json!(text(o, "status.phase"))
                }
            }));
            cols.push(column("Restarts", "integer", 0, |_| json!(0)));
            cols.push(age_column());
            cols.push(column("IP", "string", 1, |o| {
                or_none(text(o, "status.podIP"))
            }));
            cols.push(column("Node", "string", 1, |o| {
                or_none(text(o, "spec.nodeName"))
            }));
        }
        ("apps", "deployments") => {
            cols.push(column("Ready", "string", 0, |o| {
                let ready = o["status"]["readyReplicas"].as_u64().unwrap_or(0);
                json!(format!(
                    "{ready}/{}",
                    o["spec"]["replicas"].as_u64().unwrap_or(1)
                ))
            }));
            cols.push(column("Up-to-date", "integer", 0, |o| {
                json!(o["status"]["updatedReplicas"].as_u64().unwrap_or(0))
            }));
            cols.push(column("Available", "integer", 0, |o| {
                json!(o["status"]["availableReplicas"].as_u64().unwrap_or(0))
            }));
            cols.push(age_column());
        }
        ("", "services") => {
            cols.push(column("Type", "string", 0, |o| json!(text(o, "spec.type"))));
            cols.push(column("Cluster-IP", "string", 0, |o| {
                or_none(text(o, "spec.clusterIP"))
            }));
            cols.push(column("External-IP", "string", 0, |_| json!("<none>")));
            cols.push(column("Port(s)", "string", 0, |o| {
                let ports: Vec<String> = o["spec"]["ports"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                    .collect();
                or_none(ports.join(","))
            }));
            cols.push(age_column());
        }
        ("", "namespaces") => {
            cols.push(column("Status", "string", 0, |o| {
                json!(text(o, "status.phase"))
            }));
            cols.push(age_column());
        }
        ("", "secrets") => {
            cols.push(column("Type", "string", 0, |o| json!(text(o, "type"))));
            cols.push(column("Data", "integer", 0, |o| {
                json!(o["data"].as_object().map_or(0, |d| d.len()))
            }));
            cols.push(age_column());
        }
        ("", "configmaps") => {
            cols.push(column("Data", "integer", 0, |o| {
                json!(o["data"].as_object().map_or(0, |d| d.len()))
            }));
            cols.push(age_column());
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            cols.push(column("Created At", "date", 0, |o| {
                json!(text(o, "metadata.creationTimestamp"))
            }));
        }
        _ if !ty.printer_columns.is_empty() => {
            for printer in &ty.printer_columns {
                let path = printer["jsonPath"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('.')
                    .to_string();
                let kind = match printer["type"].as_str() {
                    Some("integer") => "integer",
                    Some("number") => "number",
                    Some("boolean") => "boolean",
                    _ => "string",
                };
                let is_date = printer["type"] == "date";
                let priority = printer["priority"].as_u64().unwrap_or(0) as u8;
                let label = printer["name"].as_str().unwrap_or("").to_string();
                cols.push(column(&label, kind, priority, move |o| {
                    match dotted(o, &path) {
                        Some(Value::String(s)) if is_date => json!(age(s)),
                        Some(v) if !v.is_null() => v.clone(),
                        _ => Value::Null,
                    }
                }));
            }
        }
        _ => cols.push(age_column()),
    }
    cols
}

/// A Table of `objects`; rows carry the object as `includeObject` asks
/// (`Metadata` by default, `Object`, or `None`).
pub fn table(
    ty: &ResourceType,
    objects: &[Value],
    resource_version: u64,
    include: Option<&str>,
) -> Value {
    let cols = columns(ty);
    let definitions: Vec<Value> = cols
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| (c.cell)(o)).collect();
            let object = match include.unwrap_or("Metadata") {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                }),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}
