//! Image pull secrets with fresh registry credentials: a
//! `kubernetes.io/dockerconfigjson` secret holding a gcloud access token
//! for each registry host the pod templates pull from. The token goes to
//! kubectl on standard input, never as an argument; a secret that already
//! holds the same credentials is left alone. `-` removes the secrets `+`
//! made, unless another RayCluster in the namespace still names them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::manifest::ClusterFile;
use crate::app::cli::Ctx;
use crate::app::converge::Piece;
use crate::clis::gcloud;
use crate::clis::kubectl::{Kubectl, Ns, Secret};
use crate::exec::base64;
use crate::ray;

const TYPE: &str = "kubernetes.io/dockerconfigjson";
const KEY: &str = ".dockerconfigjson";
/// The user name Google's registries expect with an access token.
const TOKEN_USER: &str = "oauth2accesstoken";
/// The label that marks the secrets `+` made (so `-` removes no other).
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGER: &str = "kubectl-ray";

/// What `+` reads about the file's pull secrets before it changes
/// anything: the registry token (once) and each secret as it is now. The
/// reading stops at the first failure, kept under the secret it was for:
/// [`pieces`] reports it there, after the same lines as ever.
#[derive(Default)]
pub struct Reads {
    token: Option<String>,
    existing: BTreeMap<String, Result<Option<Secret>>>,
}

/// Reads the token and the secrets that the pull secrets with a registry
/// host need; prints nothing, so it can run beside other reads.
pub fn read(ctx: &Ctx, kubectl: &Kubectl<'_>, file: &ClusterFile, ns: Ns<'_>) -> Reads {
    let mut reads = Reads::default();
    for (name, hosts) in file.pull_secrets() {
        if hosts.is_empty() {
            continue;
        }
        let mut step = || -> Result<Option<Secret>> {
            if reads.token.is_none() {
                reads.token = Some(fetch_token(ctx, &name)?);
            }
            kubectl.get::<Secret>("secrets", &name, ns)
        };
        let existing = step();
        let failed = existing.is_err();
        reads.existing.insert(name, existing);
        if failed {
            break;
        }
    }
    reads
}

/// One piece per pull secret the file's pod templates name, from what
/// [`read`] found.
pub fn pieces<'a>(
    ctx: &'a Ctx,
    kubectl: &'a Kubectl<'a>,
    file: &ClusterFile,
    ns: Ns<'a>,
    mut reads: Reads,
) -> Result<Vec<Piece<'a>>> {
    let mut pieces = Vec::new();
    for (name, hosts) in file.pull_secrets() {
        if hosts.is_empty() {
            ctx.ui.warn(&format!(
                "pull secret {name}: no image in the pod templates that name it has a registry host, \
                 so it is left as it is"
            ));
            continue;
        }
        let existing = match reads.existing.remove(&name) {
            Some(read) => read?,
            None => bail!("pull secret {name} was not read"),
        };
        let Some(token) = &reads.token else {
            bail!("no registry token was read for pull secret {name}");
        };
        let wanted = docker_config(&hosts, token);
        let same = existing.as_ref().is_some_and(|s| holds(s, &wanted));
        let wrong_type = existing.as_ref().is_some_and(|s| s.kind != TYPE);
        let label = format!(
            "pull secret {name} ({})",
            hosts.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let manifest = secret_manifest(&name, &wanted);
        let exists = existing.is_some();
        pieces.push(Piece::new(label, same).create(move || {
            if wrong_type {
                // The type of a secret cannot change in place.
                ctx.run
                    .check(&kubectl.mutation(["delete", "secrets", name.as_str()], ns))?;
            }
            // `create`/`replace`, not `apply`: apply would copy the whole
            // secret, token included, into the last-applied annotation.
            let verb = if exists && !wrong_type {
                "replace"
            } else {
                "create"
            };
            let write = kubectl
                .mutation([verb, "--filename=-"], ns)
                .secret_stdin(manifest);
            ctx.run.check(&write)?;
            Ok(())
        }));
    }
    Ok(pieces)
}

/// The pull secrets of `file` that `+` made and that no other RayCluster
/// in the namespace names: what `-` removes with the cluster.
pub fn leftovers(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    file: &ClusterFile,
    ns: Ns<'_>,
) -> Result<Vec<String>> {
    let mut ours = Vec::new();
    for name in file.pull_secrets().into_keys() {
        let Some(secret) = kubectl.get::<Secret>("secrets", &name, ns)? else {
            continue;
        };
        if secret.metadata.labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGER) {
            ours.push(name);
        } else {
            ctx.ui.progress(&format!(
                "keeping pull secret {name} (not made by kubectl ray)"
            ));
        }
    }
    if ours.is_empty() {
        return Ok(ours);
    }
    let others = ray::list_whole(kubectl, ns)?.unwrap_or_default();
    ours.retain(|name| {
        let user = others.iter().find(|c| {
            c["metadata"]["name"] != file.name.as_str() && ray::pull_secret_names(c).contains(name)
        });
        if let Some(user) = user {
            ctx.ui.progress(&format!(
                "keeping pull secret {name}: RayCluster {} names it too",
                user["metadata"]["name"].as_str().unwrap_or("?")
            ));
        }
        user.is_none()
    });
    Ok(ours)
}

/// Deletes the pull secrets `leftovers` chose.
pub fn remove(ctx: &Ctx, kubectl: &Kubectl<'_>, names: &[String], ns: Ns<'_>) -> Result<()> {
    for name in names {
        ctx.ui.progress(&format!("deleting pull secret {name}"));
        ctx.run.check(&kubectl.mutation(
            ["delete", "secrets", name.as_str(), "--ignore-not-found"],
            ns,
        ))?;
    }
    Ok(())
}

fn fetch_token(ctx: &Ctx, secret: &str) -> Result<String> {
    let cmd = gcloud::print_access_token();
    let out = ctx.run.check(&cmd).with_context(|| {
        format!(
            "could not get registry credentials for the pull secret {secret} \
             (log in with `gcloud auth login` or activate a service account)"
        )
    })?;
    let token = out.stdout.trim().to_string();
    if token.is_empty() {
        bail!("`{cmd}` printed no token for the pull secret {secret}");
    }
    Ok(token)
}

/// Docker's `config.json` with one entry per registry host.
fn docker_config(hosts: &BTreeSet<String>, token: &str) -> serde_json::Value {
    let auth = base64::encode(format!("{TOKEN_USER}:{token}").as_bytes());
    let auths: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|h| {
            (
                h.clone(),
                json!({"username": TOKEN_USER, "password": token, "auth": auth}),
            )
        })
        .collect();
    json!({ "auths": auths })
}

fn secret_manifest(name: &str, config: &serde_json::Value) -> String {
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY: MANAGER},
        },
        "type": TYPE,
        "data": {KEY: base64::encode(config.to_string().as_bytes())},
    });
    manifest.to_string()
}

/// Whether a secret already holds exactly these credentials.
fn holds(secret: &Secret, wanted: &serde_json::Value) -> bool {
    let Some(encoded) = secret.data.get(KEY) else {
        return false;
    };
    let Some(bytes) = base64::decode(encoded) else {
        return false;
    };
    secret.kind == TYPE
        && serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .as_ref()
            == Some(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_the_same_token_is_kept() {
        let hosts: BTreeSet<String> = ["europe-west4-docker.pkg.dev".to_string()].into();
        let wanted = docker_config(&hosts, "tok-1");
        let manifest: serde_json::Value =
            serde_json::from_str(&secret_manifest("pull", &wanted)).unwrap();
        let secret: Secret = serde_json::from_value(manifest).unwrap();
        assert!(holds(&secret, &wanted));
        assert!(!holds(&secret, &docker_config(&hosts, "tok-2")));
        let auth = &wanted["auths"]["europe-west4-docker.pkg.dev"]["auth"];
        assert_eq!(
            base64::decode(auth.as_str().unwrap()).unwrap(),
            b"oauth2accesstoken:tok-1"
        );
    }
}
