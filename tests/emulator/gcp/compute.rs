//! Compute Engine (`compute.googleapis.com/compute/v1`): firewall rules,
//! the project and its subnetworks (in `compute_project`),
//! Cloud Routers with their NATs (gcloud PATCHes the router to change a
//! NAT), zones and regions (gcloud config validates against them), and
//! global, regional and zonal operations.

use serde_json::{Value, json};

use super::http::{Reply, Req};
use super::state::{State, now_rfc3339};

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let seg = req.segments_after("/compute/v1").unwrap_or_default();
    let ["projects", project, rest @ ..] = seg.as_slice() else {
        return Reply::not_found("Unknown Compute path.");
    };
    if let Err(denied) = super::check_project(s, project) {
        return denied;
    }
    let base = format!("{}/compute/v1/projects/{}", req.base, s.project);
    let m = req.method.as_str();
    match (m, rest) {
        (_, [] | ["setCommonInstanceMetadata"]) => {
            super::compute_project::project(s, req, &base, rest)
        }
        (_, ["regions", region, "subnetworks", rest @ ..]) => {
            super::compute_project::subnetworks(s, req, &base, region, rest)
        }
        ("GET", ["zones", zone]) => match region_of_zone(zone) {
            Some(region) => Reply::ok(json!({
                "kind": "compute#zone", "name": zone, "status": "UP",
                "region": format!("{base}/regions/{region}"),
                "selfLink": format!("{base}/zones/{zone}"),
            })),
            None => not_found(&format!("projects/{}/zones/{zone}", s.project)),
        },
        ("GET", ["regions", region]) if valid_region(region) => {
            let zones: Vec<String> = ["a", "b", "c"]
                .iter()
                .map(|z| format!("{base}/zones/{region}-{z}"))
                .collect();
            Reply::ok(json!({
                "kind": "compute#region", "name": region, "status": "UP", "zones": zones,
                "selfLink": format!("{base}/regions/{region}"),
            }))
        }
        ("GET", ["regions", region]) => {
            not_found(&format!("projects/{}/regions/{region}", s.project))
        }
        (_, ["global", "operations", op, rest @ ..]) => poll(s, &format!("global/{op}"), rest),
        (_, ["regions", r, "operations", op, rest @ ..]) => {
            poll(s, &format!("regions/{r}/{op}"), rest)
        }
        (_, ["zones", z, "operations", op, rest @ ..]) => poll(s, &format!("zones/{z}/{op}"), rest),
        (_, ["global", "firewalls", rest @ ..]) => firewalls(s, req, &base, rest),
        (_, ["regions", region, "routers", rest @ ..]) => routers(s, req, &base, region, rest),
        ("GET", ["global", "networks", name]) if *name == "default" => Reply::ok(json!({
            "kind": "compute#network", "name": name, "autoCreateSubnetworks": true,
            "selfLink": format!("{base}/global/networks/{name}"),
        })),
        ("GET", ["global", "networks", name]) => {
            not_found(&format!("projects/{}/global/networks/{name}", s.project))
        }
        _ => Reply::not_found("Unknown Compute method."),
    }
}

fn firewalls(s: &mut State, req: &Req, base: &str, rest: &[&str]) -> Reply {
    let collection = format!("{base}/global/firewalls");
    match (req.method.as_str(), rest) {
        ("GET", []) => list(
            "compute#firewallList",
            &collection,
            s.firewalls.values().cloned().collect(),
        ),
        ("POST", []) => {
            let mut body = match req.json() {
                Ok(b) => b,
                Err(e) => return e,
            };
            let Some(name) = body["name"].as_str().map(str::to_string) else {
                return Reply::invalid("Required field 'resource.name' not specified");
            };
            if s.firewalls.contains_key(&name) {
                return already_exists(&format!("projects/{}/global/firewalls/{name}", s.project));
            }
            let id = s.next_id();
            fill_resource(
                &mut body,
                "compute#firewall",
                &format!("{collection}/{name}"),
                id,
            );
            if body["direction"].is_null() {
                body["direction"] = json!("INGRESS");
            }
            if body["priority"].is_null() {
                body["priority"] = json!(1000);
            }
            body["disabled"] = json!(body["disabled"].as_bool().unwrap_or(false));
            s.firewalls.insert(name.clone(), body);
            operation(
                s,
                req,
                base,
                "global",
                "insert",
                &format!("{collection}/{name}"),
                id,
            )
        }
        (m, [name]) => {
            let Some(_) = s.firewalls.get(*name) else {
                return not_found(&format!("projects/{}/global/firewalls/{name}", s.project));
            };
            let link = format!("{collection}/{name}");
            match m {
                "GET" => Reply::ok(s.firewalls[*name].clone()),
                "DELETE" => {
                    let id = id_of(&s.firewalls[*name]);
                    s.firewalls.remove(*name);
                    operation(s, req, base, "global", "delete", &link, id)
                }
                "PATCH" => {
                    let patch = match req.json() {
                        Ok(b) => b,
                        Err(e) => return e,
                    };
                    let fw = s.firewalls.get_mut(*name).expect("checked");
                    merge(fw, &patch);
                    let id = id_of(fw);
                    operation(s, req, base, "global", "patch", &link, id)
                }
                _ => Reply::not_found("Unknown firewall method."),
            }
        }
        _ => Reply::not_found("Unknown firewall method."),
    }
}

fn routers(s: &mut State, req: &Req, base: &str, region: &str, rest: &[&str]) -> Reply {
    let collection = format!("{base}/regions/{region}/routers");
    let scope = format!("regions/{region}");
    let key = |name: &str| format!("{region}/{name}");
    match (req.method.as_str(), rest) {
        ("GET", []) => list(
            "compute#routerList",
            &collection,
            s.routers
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{region}/")))
                .map(|(_, r)| r.clone())
                .collect(),
        ),
        ("POST", []) => {
            let mut body = match req.json() {
                Ok(b) => b,
                Err(e) => return e,
            };
            let Some(name) = body["name"].as_str().map(str::to_string) else {
                return Reply::invalid("Required field 'resource.name' not specified");
            };
            if s.routers.contains_key(&key(&name)) {
                return already_exists(&format!(
                    "projects/{}/regions/{region}/routers/{name}",
                    s.project
                ));
            }
            let id = s.next_id();
            fill_resource(
                &mut body,
                "compute#router",
                &format!("{collection}/{name}"),
                id,
            );
            body["region"] = json!(format!("{base}/regions/{region}"));
            if let Err(e) = check_nats(&body) {
                return e;
            }
            s.routers.insert(key(&name), body);
            operation(
                s,
                req,
                base,
                &scope,
                "insert",
                &format!("{collection}/{name}"),
                id,
            )
        }
        (m, [name, rest @ ..]) => {
            if !s.routers.contains_key(&key(name)) {
                return not_found(&format!(
                    "projects/{}/regions/{region}/routers/{name}",
                    s.project
                ));
            }
            let link = format!("{collection}/{name}");
            match (m, rest) {
                ("GET", []) => Reply::ok(s.routers[&key(name)].clone()),
                ("GET", ["getRouterStatus"]) => Reply::ok(json!({
                    "kind": "compute#routerStatusResponse",
                    "result": {"network": s.routers[&key(name)]["network"], "natStatus": []},
                })),
                ("DELETE", []) => {
                    let id = id_of(&s.routers[&key(name)]);
                    s.routers.remove(&key(name));
                    operation(s, req, base, &scope, "delete", &link, id)
                }
                ("PATCH" | "PUT", []) => {
                    let patch = match req.json() {
                        Ok(b) => b,
                        Err(e) => return e,
                    };
                    if let Err(e) = check_nats(&patch) {
                        return e;
                    }
                    let router = s.routers.get_mut(&key(name)).expect("checked");
                    if m == "PUT" {
                        let keep = ["id", "kind", "selfLink", "creationTimestamp", "region"];
                        let mut replaced = patch.clone();
                        for k in keep {
                            replaced[k] = router[k].clone();
                        }
                        *router = replaced;
                    } else {
                        merge(router, &patch);
                    }
                    let id = id_of(router);
                    operation(s, req, base, &scope, "patch", &link, id)
                }
                _ => Reply::not_found("Unknown router method."),
            }
        }
        _ => Reply::not_found("Unknown router method."),
    }
}

/// NAT names must be unique within a router.
fn check_nats(router: &Value) -> Result<(), Reply> {
    let mut seen = std::collections::BTreeSet::new();
    for nat in router["nats"].as_array().into_iter().flatten() {
        let name = nat["name"].as_str().unwrap_or_default();
        if !seen.insert(name) {
            return Err(Reply::invalid(&format!(
                "Invalid value for field 'resource.nats[1].name': '{name}'. Duplicate NAT name."
            )));
        }
    }
    Ok(())
}

/// Top-level merge, as compute's PATCH does (lists are replaced whole).
fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if ["id", "kind", "selfLink", "creationTimestamp"].contains(&k.as_str()) {
                continue;
            }
            // Google leaves empty lists out of its answers.
            if v.as_array().is_some_and(|a| a.is_empty()) {
                t.remove(k);
                continue;
            }
            t.insert(k.clone(), v.clone());
        }
    }
}

fn fill_resource(body: &mut Value, kind: &str, self_link: &str, id: u64) {
    body["kind"] = json!(kind);
    body["id"] = json!(format!("{}", 7_000_000_000_000_000_000u64 + id));
    body["creationTimestamp"] = json!(now_rfc3339());
    body["selfLink"] = json!(self_link);
}

fn id_of(resource: &Value) -> u64 {
    resource["id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|n| n - 7_000_000_000_000_000_000u64)
        .unwrap_or(0)
}

fn list(kind: &str, self_link: &str, items: Vec<Value>) -> Reply {
    let mut out = json!({"kind": kind, "id": self_link, "selfLink": self_link});
    if !items.is_empty() {
        out["items"] = json!(items);
    }
    Reply::ok(out)
}

pub(super) fn operation(
    s: &mut State,
    req: &Req,
    base: &str,
    scope: &str,
    kind: &str,
    target: &str,
    target_id: u64,
) -> Reply {
    let n = s.next_id();
    let name = format!("operation-{}-{:012x}", 1_700_000_000_000u64 + n, n * 7919);
    let mut op = json!({
        "kind": "compute#operation",
        "id": format!("{}", 8_000_000_000_000_000_000u64 + n),
        "name": name,
        "operationType": kind,
        "targetLink": target,
        "targetId": format!("{}", 7_000_000_000_000_000_000u64 + target_id),
        "status": "RUNNING",
        "user": req.principal.clone().unwrap_or_default(),
        "progress": 0,
        "insertTime": now_rfc3339(),
        "startTime": now_rfc3339(),
        "selfLink": format!("{base}/{scope}/operations/{name}"),
    });
    if let Some(region) = scope.strip_prefix("regions/") {
        op["region"] = json!(format!("{base}/regions/{region}"));
    }
    if let Some(zone) = scope.strip_prefix("zones/") {
        op["zone"] = json!(format!("{base}/zones/{zone}"));
    }
    let key = match scope {
        "global" => format!("global/{name}"),
        other => format!("{other}/{name}"),
    };
    s.start_op(&key, op.clone(), None, None);
    Reply::ok(op)
}

fn poll(s: &mut State, key: &str, rest: &[&str]) -> Reply {
    if !(rest.is_empty() || rest == ["wait"]) {
        return Reply::not_found("Unknown operation method.");
    }
    match s.poll_op(key) {
        None => Reply::not_found(&format!("The resource '{key}' was not found")),
        Some((false, running, _)) => Reply::ok(running),
        Some((true, mut op, _)) => {
            op["status"] = json!("DONE");
            op["progress"] = json!(100);
            op["endTime"] = json!(now_rfc3339());
            Reply::ok(op)
        }
    }
}

fn not_found(resource: &str) -> Reply {
    Reply::not_found(&format!("The resource '{resource}' was not found"))
}

fn already_exists(resource: &str) -> Reply {
    Reply::already_exists(&format!("The resource '{resource}' already exists"))
}

fn valid_region(region: &str) -> bool {
    // e.g. europe-west4, us-central1, asia-northeast3.
    let mut parts = region.split('-');
    let (Some(area), Some(place), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    [
        "europe",
        "us",
        "asia",
        "australia",
        "southamerica",
        "northamerica",
        "me",
        "africa",
    ]
    .contains(&area)
        && place.ends_with(|c: char| c.is_ascii_digit())
        && place.starts_with(|c: char| c.is_ascii_lowercase())
}

fn region_of_zone(zone: &str) -> Option<&str> {
    let (region, letter) = zone.rsplit_once('-')?;
    (valid_region(region) && ["a", "b", "c", "d", "f"].contains(&letter)).then_some(region)
}
