//! Service Usage (`serviceusage.googleapis.com/v1`): which APIs a project
//! has enabled. Enabling returns an operation under `operations/`.

use serde_json::{Value, json};

use super::http::{Reply, Req};
use super::state::State;

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let Some(seg) = req.segments_after("/serviceusage/v1") else {
        return Reply::not_found("Unknown Service Usage path.");
    };
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["operations", name]) => poll(s, &format!("operations/{name}")),
        (method, ["projects", project, rest @ ..]) => {
            if let Err(denied) = super::check_project(s, project) {
                return denied;
            }
            match (method, rest) {
                ("GET", ["services"]) => list(s, req),
                ("POST", ["services:batchEnable"]) => {
                    let body = match req.json() {
                        Ok(b) => b,
                        Err(e) => return e,
                    };
                    let ids: Vec<String> = body["serviceIds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    enable(s, &ids)
                }
                ("POST", ["services", action]) if action.ends_with(":enable") => {
                    enable(s, &[action.trim_end_matches(":enable").to_string()])
                }
                ("POST", ["services", action]) if action.ends_with(":disable") => {
                    let name = action.trim_end_matches(":disable");
                    s.services.remove(name);
                    let op = format!("operations/acat.p2-{}", s.next_id());
                    done_op(
                        &op,
                        json!({"@type": "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse", "service": service(s, name)}),
                    )
                }
                ("GET", ["services", name]) => Reply::ok(service(s, name)),
                _ => Reply::not_found("Unknown Service Usage method."),
            }
        }
        _ => Reply::not_found("Unknown Service Usage path."),
    }
}

fn service(s: &State, name: &str) -> Value {
    let state = if s.services.contains(name) {
        "ENABLED"
    } else {
        "DISABLED"
    };
    json!({
        "name": format!("projects/{}/services/{name}", s.project_number),
        "parent": format!("projects/{}", s.project_number),
        "config": {"name": name, "title": name.split('.').next().unwrap_or(name)},
        "state": state,
    })
}

fn list(s: &State, req: &Req) -> Reply {
    let filter = req.param("filter").unwrap_or("");
    let only_enabled = filter.contains("state:ENABLED");
    let services: Vec<Value> = s
        .services
        .iter()
        .map(|name| service(s, name))
        .filter(|v| !only_enabled || v["state"] == "ENABLED")
        .collect();
    if services.is_empty() {
        return Reply::ok(json!({}));
    }
    Reply::ok(json!({"services": services}))
}

fn enable(s: &mut State, ids: &[String]) -> Reply {
    if ids.is_empty() {
        return Reply::invalid("serviceIds must not be empty.");
    }
    if let Some(bad) = ids.iter().find(|id| !id.ends_with(".googleapis.com")) {
        return Reply::denied(&format!(
            "Not found or permission denied for service(s): {bad}."
        ));
    }
    let name = format!("operations/acf.p2-{}-emu", s.next_id());
    let ids = ids.to_vec();
    let response = json!({
        "@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse",
        "services": ids.iter().map(|id| {
            let mut v = service(s, id);
            v["state"] = json!("ENABLED");
            v
        }).collect::<Vec<_>>(),
    });
    s.start_op(
        &name,
        json!({"name": name}),
        Some(response),
        Some(Box::new(move |s: &mut State| {
            s.services.extend(ids);
        })),
    );
    Reply::ok(json!({"name": name}))
}

fn done_op(name: &str, response: Value) -> Reply {
    Reply::ok(json!({"name": name, "done": true, "response": response}))
}

fn poll(s: &mut State, name: &str) -> Reply {
    match s.poll_op(name) {
        None => Reply::not_found(&format!("Operation '{name}' not found.")),
        Some((false, running, _)) => Reply::ok(running),
        Some((true, _, response)) => done_op(name, response.unwrap_or(json!({}))),
    }
}
