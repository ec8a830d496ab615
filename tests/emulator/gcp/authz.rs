//! Optional IAM checks on writes (`GcpEmulator::enforce_iam`): the caller
//! must hold, in the project's policy, a role that grants the change, as
//! Google would demand. Reads are not checked (the mapping of read
//! permissions to roles is wide and easy to get wrong).

use super::http::{Reply, Req};
use super::state::State;

/// The permission a write needs, and the roles (predefined, as Google
/// defines them) that carry it. `None`: not a write this checks.
fn needed(req: &Req) -> Option<(&'static str, &'static [&'static str])> {
    const OWNER: &str = "roles/owner";
    const EDITOR: &str = "roles/editor";
    let m = req.method.as_str();
    let p = req.path.as_str();
    let api = p.split('/').nth(1).unwrap_or_default();
    if !matches!(m, "POST" | "PUT" | "PATCH" | "DELETE") || p.ends_with("/wait") {
        return None;
    }
    Some(match api {
        "serviceusage" if p.contains(":enable") || p.contains(":batchEnable") => (
            "serviceusage.services.enable",
            &[OWNER, EDITOR, "roles/serviceusage.serviceUsageAdmin"],
        ),
        "cloudresourcemanager" if p.ends_with(":setIamPolicy") => (
            "resourcemanager.projects.setIamPolicy",
            &[
                OWNER,
                "roles/resourcemanager.projectIamAdmin",
                "roles/iam.securityAdmin",
            ],
        ),
        "iam" if p.contains("/keys") => (
            "iam.serviceAccountKeys.create",
            &[OWNER, EDITOR, "roles/iam.serviceAccountKeyAdmin"],
        ),
        "iam" if !p.ends_with(":getIamPolicy") => (
            "iam.serviceAccounts.create",
            &[OWNER, EDITOR, "roles/iam.serviceAccountAdmin"],
        ),
        "artifactregistry" => (
            "artifactregistry.repositories.create",
            &[
                OWNER,
                EDITOR,
                "roles/artifactregistry.admin",
                "roles/artifactregistry.repoAdmin",
            ],
        ),
        "container" => (
            "container.clusters.create",
            &[
                OWNER,
                EDITOR,
                "roles/container.admin",
                "roles/container.clusterAdmin",
            ],
        ),
        "compute" if p.contains("/firewalls") => (
            "compute.firewalls.create",
            &[
                OWNER,
                EDITOR,
                "roles/compute.admin",
                "roles/compute.securityAdmin",
            ],
        ),
        "compute" if p.ends_with("/setCommonInstanceMetadata") => (
            "compute.projects.setCommonInstanceMetadata",
            &[
                OWNER,
                EDITOR,
                "roles/compute.admin",
                "roles/compute.instanceAdmin.v1",
            ],
        ),
        "compute" => (
            "compute.routers.create",
            &[
                OWNER,
                EDITOR,
                "roles/compute.admin",
                "roles/compute.networkAdmin",
            ],
        ),
        _ => return None,
    })
}

/// `Some(403)` when the caller lacks the permission (or, to create a
/// cluster, `iam.serviceAccounts.actAs` on its nodes' account).
pub fn check(s: &State, req: &Req) -> Option<Reply> {
    let (permission, roles) = needed(req)?;
    let who = req.principal.as_deref().unwrap_or_default();
    let member = if who.ends_with(".gserviceaccount.com") {
        format!("serviceAccount:{who}")
    } else {
        format!("user:{who}")
    };
    let held = s.roles_of(&member);
    let has = |roles: &[&str]| roles.iter().any(|r| held.iter().any(|h| h == r));
    let deny = |permission: &str| {
        Some(Reply::denied(&format!(
            "Permission '{permission}' denied on resource (or it may not exist)."
        )))
    };
    if !has(roles) {
        return deny(permission);
    }
    let creates_cluster = req.path.starts_with("/container/") && req.method == "POST";
    if creates_cluster
        && !has(&[
            "roles/owner",
            "roles/editor",
            "roles/iam.serviceAccountUser",
        ])
    {
        return deny("iam.serviceAccounts.actAs");
    }
    None
}
