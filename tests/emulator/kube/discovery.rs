//! What clients ask before anything else: `/version`, API discovery and the
//! OpenAPI documents.

use serde_json::{Value, json};

use super::catalog::ResourceType;

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "gitVersion": "v1.35.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

/// Each non-core group with its versions, in the order types were defined.
fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    for ty in types.iter().filter(|t| !t.group.is_empty()) {
        let at = match out.iter().position(|(g, _)| *g == ty.group) {
            Some(at) => at,
            None => {
                out.push((ty.group.clone(), vec![]));
                out.len() - 1
            }
        };
        for v in &ty.versions {
            if !out[at].1.contains(v) {
                out[at].1.push(v.clone());
            }
        }
    }
    out
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

/// `GET /apis`: a plain `APIGroupList` (clients that ask for aggregated
/// discovery accept it).
pub fn group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = groups(types)
        .iter()
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/GROUP`.
pub fn group(types: &[ResourceType], name: &str) -> Option<Value> {
    let (g, vs) = groups(types).into_iter().find(|(g, _)| g == name)?;
    let mut entry = group_entry(&g, &vs);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// `GET /api/v1` or `GET /apis/GROUP/VERSION`.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let here: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
        .collect();
    if here.is_empty() {
        return None;
    }
    let resources: Vec<Value> = here.iter().flat_map(|t| t.discovery_entries()).collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}
