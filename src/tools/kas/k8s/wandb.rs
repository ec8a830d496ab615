//! The W&B key on the cluster: with `WANDB_API_KEY` set, the secret
//! `wandb-secret` (which the pod templates read with `envFrom`) holds it.
//! Created when missing, and then the cluster's pods are restarted so they
//! read it; when it differs, a warning, and on a terminal (or with `--yes`)
//! it is replaced. The key reaches kubectl on standard input only, and
//! `create`/`replace` (not `apply`) keep it out of annotations.

use anyhow::{Context, Result};
use serde_json::json;

use crate::clis::kubectl::{Ns, Secret};
use crate::exec::base64;

use super::Kube;
use super::head::Cluster;

pub const SECRET: &str = "wandb-secret";
const KEY: &str = "WANDB_API_KEY";

/// Brings `wandb-secret` in line with `WANDB_API_KEY`, if set.
pub fn sync(kube: &Kube, cluster: &Cluster) -> Result<()> {
    let Some(key) = kube.ctx.env.non_empty(KEY) else {
        return Ok(());
    };
    let ns = Ns::Named(&cluster.namespace);
    let kubectl = kube.kubectl();
    let existing = kubectl.get::<Secret>("secrets", SECRET, ns)?;
    let verb = match existing {
        None => "create",
        Some(secret) if holds(&secret, key) => return Ok(()),
        Some(_) => {
            kube.ctx.ui.warn(&format!(
                "the secret {SECRET} in namespace {} holds another W&B key than WANDB_API_KEY",
                cluster.namespace
            ));
            let replace = kube.opts.yes
                || (kube.ctx.ui.interactive
                    && kube.ctx.ui.confirm(
                        &format!(
                            "Replace it with WANDB_API_KEY and restart the pods of RayCluster {}?",
                            cluster.name
                        ),
                        false,
                    ));
            if !replace {
                kube.ctx.ui.warn(&format!(
                    "{SECRET} left as it is (pass --yes to replace it with WANDB_API_KEY)"
                ));
                return Ok(());
            }
            "replace"
        }
    };
    let write = kubectl
        .mutation([verb, "--filename=-"], ns)
        .secret_stdin(manifest(key));
    kube.ctx.run.check(&write).with_context(|| {
        format!(
            "could not {verb} the secret {SECRET} in namespace {} (it holds WANDB_API_KEY for \
             RayCluster {}); unset WANDB_API_KEY to go on without it",
            cluster.namespace, cluster.name
        )
    })?;
    restart_pods(kube, cluster)?;
    kube.ctx.ui.progress(&format!(
        "{SECRET} holds WANDB_API_KEY; the pods of RayCluster {} restart to read it",
        cluster.name
    ));
    Ok(())
}

/// Deletes the cluster's pods; KubeRay makes new ones, which read the
/// secret as they start.
fn restart_pods(kube: &Kube, cluster: &Cluster) -> Result<()> {
    let selector = format!("--selector=ray.io/cluster={}", cluster.name);
    let delete = kube.kubectl().mutation(
        ["delete", "pods", selector.as_str(), "--wait=false"],
        Ns::Named(&cluster.namespace),
    );
    kube.ctx.run.check(&delete)?;
    Ok(())
}

fn manifest(key: &str) -> String {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET,
            "labels": {"app.kubernetes.io/managed-by": "kubectl-kas"},
        },
        "type": "Opaque",
        "data": {KEY: base64::encode(key.as_bytes())},
    })
    .to_string()
}

fn holds(secret: &Secret, key: &str) -> bool {
    secret
        .data
        .get(KEY)
        .and_then(|v| base64::decode(v))
        .is_some_and(|bytes| bytes == key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_holds_the_key_the_check_reads() {
        let secret: Secret = serde_json::from_str(&manifest("k3y")).unwrap();
        assert!(holds(&secret, "k3y"));
        assert!(!holds(&secret, "other"));
        assert!(!holds(&Secret::default(), "k3y"));
    }
}
