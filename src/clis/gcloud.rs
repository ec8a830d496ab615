//! Typed gcloud calls: each builds a [`Cmd`] that asks for JSON, and the
//! structs below are what that JSON holds (only the fields we read; serde
//! ignores the rest). Shapes follow the API messages gcloud ships.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exec::cmd::Cmd;
use crate::exec::runner::Output;

/// `gcloud ARGS... --format json`, a query.
pub fn query<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::query("gcloud").args(args).arg("--format=json")
}

/// `gcloud ARGS...`, a change.
pub fn change<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::mutation("gcloud").args(args)
}

/// `gcloud auth print-access-token`: a token of the active account, for
/// registries and package indexes. What it prints is a secret: hand it on
/// in a child's environment or standard input, never in arguments.
pub fn print_access_token() -> Cmd {
    Cmd::query("gcloud").args(["auth", "print-access-token"])
}

/// `gcloud auth configure-docker HOST --quiet`: docker asks gcloud's
/// credential helper for `HOST`.
pub fn configure_docker(host: &str) -> Cmd {
    change(["auth", "configure-docker", host, "--quiet"]).inherit_stdio()
}

/// gcloud's ways of saying "no such thing".
pub fn is_not_found(out: &Output) -> bool {
    let e = &out.stderr;
    // gcloud container prints `ResponseError: code=404` instead.
    e.contains("NOT_FOUND") || e.contains("was not found") || e.contains("code=404")
}

/// Whether an account is a service account (the rest are people).
pub fn is_service_account(account: &str) -> bool {
    account.ends_with(".gserviceaccount.com")
}

pub fn service_account_email(name: &str, project: &str) -> String {
    format!("{name}@{project}.iam.gserviceaccount.com")
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub endpoint: String,
    /// The pods' range.
    #[serde(default)]
    pub cluster_ipv4_cidr: String,
    #[serde(default)]
    pub master_authorized_networks_config: AuthorizedNetworks,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizedNetworks {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub cidr_blocks: Vec<CidrBlock>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CidrBlock {
    pub cidr_block: String,
    #[serde(default)]
    pub display_name: String,
}

/// A GKE operation (`gcloud container operations list`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub operation_type: String,
    #[serde(default)]
    pub target_link: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    pub name: String,
    #[serde(default)]
    pub source_ranges: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Router {
    pub name: String,
    #[serde(default)]
    pub nats: Vec<RouterNat>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RouterNat {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    /// `projects/P/locations/L/repositories/NAME`
    pub name: String,
    #[serde(default)]
    pub format: String,
}

impl Repository {
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
}

/// A service account key, as `gcloud iam service-accounts keys list`
/// prints it.
#[derive(Clone, Debug, Deserialize)]
pub struct ServiceAccountKey {
    /// `projects/P/serviceAccounts/EMAIL/keys/ID`
    pub name: String,
}

impl ServiceAccountKey {
    pub fn id(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

/// gcloud's words when Google refuses the key it signs with: the key was
/// deleted or disabled, or the file does not hold the account's key.
pub fn is_refused_key(out: &Output) -> bool {
    let e = &out.stderr;
    e.contains("invalid_grant") || e.contains("Invalid JWT Signature")
}

/// `gcloud services list --enabled`: one entry per enabled API.
#[derive(Clone, Debug, Deserialize)]
pub struct Service {
    pub config: ServiceConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServiceConfig {
    pub name: String,
}

/// `gcloud auth list`: credentialed accounts, the active one marked.
#[derive(Clone, Debug, Deserialize)]
pub struct AuthAccount {
    pub account: String,
    #[serde(default)]
    pub status: String,
}

impl AuthAccount {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// A project IAM policy. Fields we do not touch (audit configs, version)
/// are kept as they came so a write does not drop them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub etag: String,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Binding {
    pub role: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Policy {
    /// Whether `member` holds `role` unconditionally.
    pub fn has(&self, role: &str, member: &str) -> bool {
        self.bindings.iter().any(|b| {
            b.role == role && b.condition.is_none() && b.members.iter().any(|m| m == member)
        })
    }

    /// Every role `member` holds, conditional or not.
    pub fn roles_of(&self, member: &str) -> Vec<String> {
        let mut roles: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.members.iter().any(|m| m == member))
            .map(|b| b.role.clone())
            .collect();
        roles.dedup();
        roles
    }

    /// Adds `member` to `role`; false when it was there already.
    pub fn grant(&mut self, role: &str, member: &str) -> bool {
        if self.has(role, member) {
            return false;
        }
        match self
            .bindings
            .iter_mut()
            .find(|b| b.role == role && b.condition.is_none())
        {
            Some(binding) => binding.members.push(member.to_string()),
            None => self.bindings.push(Binding {
                role: role.to_string(),
                members: vec![member.to_string()],
                condition: None,
            }),
        }
        true
    }

    /// Removes `member` from `role` (every `role` when `None`); returns the
    /// roles it was removed from.
    pub fn revoke(&mut self, role: Option<&str>, member: &str) -> Vec<String> {
        let mut removed = Vec::new();
        for binding in &mut self.bindings {
            if role.is_some_and(|r| r != binding.role) {
                continue;
            }
            let before = binding.members.len();
            binding.members.retain(|m| m != member);
            if binding.members.len() != before {
                removed.push(binding.role.clone());
            }
        }
        self.bindings.retain(|b| !b.members.is_empty());
        removed
    }
}

/// A Docker image version in Artifact Registry, as `gcloud artifacts
/// docker images list --include-tags` prints it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerImage {
    pub package: String,
    /// `sha256:...`
    pub version: String,
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub update_time: String,
}

/// gcloud has printed tags both as a list and as one comma-joined string.
fn tags<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Option::<Tags>::deserialize(d)? {
        Some(Tags::List(list)) => list,
        Some(Tags::Joined(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        None => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_grant_and_revoke_keep_other_fields() {
        let mut p: Policy = serde_json::from_str(
            r#"{"version":1,"etag":"BwX=","bindings":[{"role":"roles/owner","members":["user:a@x.com"]}]}"#,
        )
        .unwrap();
        assert!(p.grant("roles/owner", "serviceAccount:s@p.iam.gserviceaccount.com"));
        assert!(!p.grant("roles/owner", "serviceAccount:s@p.iam.gserviceaccount.com"));
        assert!(p.grant("roles/viewer", "serviceAccount:s@p.iam.gserviceaccount.com"));
        assert_eq!(
            p.revoke(None, "serviceAccount:s@p.iam.gserviceaccount.com"),
            vec!["roles/owner", "roles/viewer"]
        );
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"version":1,"etag":"BwX=","bindings":[{"role":"roles/owner","members":["user:a@x.com"]}]})
        );
    }

    #[test]
    fn image_tags_in_either_shape() {
        let a: DockerImage =
            serde_json::from_str(r#"{"package":"p","version":"sha256:1","tags":"a, b"}"#).unwrap();
        let b: DockerImage =
            serde_json::from_str(r#"{"package":"p","version":"sha256:1","tags":["a","b"]}"#)
                .unwrap();
        assert_eq!(a.tags, b.tags);
    }
}
