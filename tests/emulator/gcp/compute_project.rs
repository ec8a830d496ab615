//! Compute Engine's project resource and the default network's subnetworks,
//! as Ray's GCP bootstrap uses them: `projects.get` (the project-wide
//! metadata, where Ray keeps its SSH key), `setCommonInstanceMetadata`
//! (guarded by the metadata's fingerprint, as on Google) and
//! `subnetworks.list`/`get` in a region.

use serde_json::{Value, json};

use super::crypto;
use super::http::{Reply, Req};
use super::state::{State, now_rfc3339};

/// The project's metadata before anyone wrote to it.
pub fn initial_metadata() -> Value {
    json!({"kind": "compute#metadata", "fingerprint": fingerprint(0)})
}

/// `GET projects/P` and `POST projects/P/setCommonInstanceMetadata`.
pub fn project(s: &mut State, req: &Req, base: &str, rest: &[&str]) -> Reply {
    match (req.method.as_str(), rest) {
        ("GET", []) => Reply::ok(json!({
            "kind": "compute#project",
            "name": s.project,
            "id": s.project_number.to_string(),
            "creationTimestamp": "2024-01-01T00:00:00.000-08:00",
            "selfLink": base,
            "commonInstanceMetadata": s.project_metadata,
            "defaultServiceAccount": format!("{}-compute@developer.gserviceaccount.com", s.project_number),
            "defaultNetworkTier": "PREMIUM",
            "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
        })),
        ("POST", ["setCommonInstanceMetadata"]) => set_metadata(s, req, base),
        _ => Reply::not_found("Unknown Compute project method."),
    }
}

fn set_metadata(s: &mut State, req: &Req, base: &str) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    // Google demands the fingerprint of the metadata being replaced, so
    // that two writers cannot lose each other's keys.
    if body["fingerprint"] != s.project_metadata["fingerprint"] {
        return precondition_failed();
    }
    let mut items = Vec::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let (Some(key), Some(value)) = (item["key"].as_str(), item["value"].as_str()) else {
            return Reply::invalid(
                "Invalid value for field 'resource.items': every item needs a key and a value.",
            );
        };
        if items.iter().any(|i: &Value| i["key"] == key) {
            return Reply::invalid(&format!("Duplicate metadata key '{key}'."));
        }
        items.push(json!({"key": key, "value": value}));
    }
    let n = s.next_id();
    let mut metadata = json!({"kind": "compute#metadata", "fingerprint": fingerprint(n)});
    if !items.is_empty() {
        metadata["items"] = json!(items);
    }
    s.project_metadata = metadata;
    let id = s.project_number;
    super::compute::operation(
        s,
        req,
        base,
        "global",
        "compute.projects.setCommonInstanceMetadata",
        base,
        id,
    )
}

fn precondition_failed() -> Reply {
    let message = "Supplied fingerprint does not match current metadata fingerprint.";
    Reply::json(
        412,
        &json!({"error": {
            "code": 412,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "conditionNotMet",
                        "location": "If-Match", "locationType": "header"}],
        }}),
    )
}

fn fingerprint(n: u64) -> String {
    crypto::b64(&(0x6b61_7300_0000_0000u64 + n).to_be_bytes())
}

/// The `default` subnetwork that an auto-mode network has in each region
/// (Google's fixed ranges for the regions listed; none elsewhere here).
fn default_range(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-central1" => "10.128.0.0/20",
        "europe-west1" => "10.132.0.0/20",
        "us-east1" => "10.142.0.0/20",
        "europe-west4" => "10.164.0.0/20",
        "europe-west3" => "10.156.0.0/20",
        "us-west1" => "10.138.0.0/20",
        _ => return None,
    })
}

/// `GET projects/P/regions/R/subnetworks[/NAME]`.
pub fn subnetworks(s: &State, req: &Req, base: &str, region: &str, rest: &[&str]) -> Reply {
    let collection = format!("{base}/regions/{region}/subnetworks");
    let subnet = default_range(region).map(|range| {
        let gateway = range.replace(".0/20", ".1");
        json!({
            "kind": "compute#subnetwork",
            "id": format!("{}", 6_000_000_000_000_000_000u64 + region.len() as u64),
            "creationTimestamp": now_rfc3339(),
            "name": "default",
            "network": format!("{base}/global/networks/default"),
            "ipCidrRange": range,
            "gatewayAddress": gateway,
            "region": format!("{base}/regions/{region}"),
            "selfLink": format!("{collection}/default"),
            "privateIpGoogleAccess": false,
            "fingerprint": fingerprint(1),
            "purpose": "PRIVATE",
            "stackType": "IPV4_ONLY",
        })
    });
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            let mut list =
                json!({"kind": "compute#subnetworkList", "id": collection, "selfLink": collection});
            if let Some(subnet) = subnet {
                list["items"] = json!([subnet]);
            }
            Reply::ok(list)
        }
        ("GET", [name]) => match subnet {
            Some(subnet) if *name == "default" => Reply::ok(subnet),
            _ => Reply::not_found(&format!(
                "The resource 'projects/{}/regions/{region}/subnetworks/{name}' was not found",
                s.project
            )),
        },
        _ => Reply::not_found("Unknown subnetwork method."),
    }
}
