//! Resource Manager (`cloudresourcemanager.googleapis.com/v1`): the project
//! and its IAM policy, whose writes are guarded by an etag.

use serde_json::json;

use super::http::{Reply, Req};
use super::state::State;

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let seg = req
        .segments_after("/cloudresourcemanager/v1")
        .or_else(|| req.segments_after("/cloudresourcemanager/v3"))
        .unwrap_or_default();
    let [first, target] = seg.as_slice() else {
        return Reply::not_found("Unknown Resource Manager path.");
    };
    if *first != "projects" {
        return Reply::not_found("Unknown Resource Manager path.");
    }
    let (project, action) = target.split_once(':').unwrap_or((target, ""));
    if let Err(denied) = super::check_project(s, project) {
        return denied;
    }
    match (req.method.as_str(), action) {
        ("GET", "") => Reply::ok(json!({
            "projectNumber": s.project_number.to_string(),
            "projectId": s.project,
            "lifecycleState": "ACTIVE",
            "name": s.project,
            "createTime": "2024-01-01T00:00:00.000Z",
            "parent": {"type": "organization", "id": "1000000000001"},
        })),
        ("POST", "getIamPolicy") => {
            let read = Reply::ok(s.policy_with_etag());
            if let Some((role, member)) = s.concurrent_grant.take() {
                s.bind(&role, &member);
            }
            read
        }
        ("POST", "setIamPolicy") => set_policy(s, req),
        ("POST", "testIamPermissions") => {
            let body = req.json().unwrap_or_default();
            Reply::ok(json!({"permissions": body["permissions"]}))
        }
        _ => Reply::not_found("Unknown Resource Manager method."),
    }
}

fn set_policy(s: &mut State, req: &Req) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let policy = body["policy"].clone();
    if !policy.is_object() {
        return Reply::invalid("Request contains an invalid argument: policy is required.");
    }
    // A write without an etag overwrites (as on Google); with a stale one
    // it is refused so the caller rereads.
    if let Some(etag) = policy["etag"].as_str()
        && etag != s.etag()
    {
        return Reply::aborted(
            "There were concurrent policy changes. Please retry the whole \
             read-modify-write with exponential backoff.",
        );
    }
    if let Some(problem) = invalid_member(s, &policy) {
        return Reply::invalid(&problem);
    }
    s.replace_policy(policy);
    Reply::ok(s.policy_with_etag())
}

/// A member that is not `kind:id`, or names a service account that does
/// not exist (Google refuses those too).
fn invalid_member(s: &State, policy: &serde_json::Value) -> Option<String> {
    let own_domain = format!("@{}.iam.gserviceaccount.com", s.project);
    let members = policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["members"].as_array().cloned().unwrap_or_default());
    for m in members {
        let m = m.as_str().unwrap_or_default().to_string();
        if !m.contains(':') && m != "allUsers" && m != "allAuthenticatedUsers" {
            return Some(format!(
                "Invalid principal: {m}. Principals must be of the form type:id."
            ));
        }
        if let Some(email) = m.strip_prefix("serviceAccount:")
            && email.ends_with(&own_domain)
            && !s.service_accounts.contains_key(email)
        {
            return Some(format!("Service account {email} does not exist."));
        }
    }
    None
}
