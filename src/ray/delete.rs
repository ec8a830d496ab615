//! Deleting RayClusters and waiting until they are gone; finalizers
//! that outlast the wait are reported, or cleared when asked.

use std::cell::RefCell;

use anyhow::{Result, bail};

use super::{RAYCLUSTERS, describe};
use crate::app::cli::Ctx;
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Ns, Object};

/// Deletes RayClusters and waits until they are gone. Finalizers that
/// outlast the timeout are reported, or cleared under `--force`.
pub fn delete_and_wait(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    clusters: &[Object],
    patience: Patience,
    force: bool,
) -> Result<()> {
    for cluster in clusters {
        let ns = Ns::or_current(cluster.metadata.namespace.as_deref());
        let name = cluster.metadata.name.as_str();
        if cluster.metadata.deletion_timestamp.is_some() {
            ctx.ui
                .progress(&format!("{} is already being deleted", describe(cluster)));
            if force && !cluster.metadata.finalizers.is_empty() {
                clear_finalizers(ctx, kubectl, cluster)?;
            }
            continue;
        }
        ctx.ui.progress(&format!("deleting {}", describe(cluster)));
        ctx.run
            .check(&kubectl.mutation(["delete", RAYCLUSTERS, name, "--wait=false"], ns))?;
    }
    let what = if clusters.len() == 1 {
        format!("{} to be gone", describe(&clusters[0]))
    } else {
        format!("{} RayClusters to be gone", clusters.len())
    };
    let left = RefCell::new(Vec::new());
    let remaining = || -> Result<Option<()>> {
        let still = still_there(kubectl, clusters)?;
        let done = still.is_empty();
        *left.borrow_mut() = still;
        Ok(done.then_some(()))
    };
    if ctx.run.wait(&what, patience, remaining)? != Waited::TimedOut {
        return Ok(());
    }
    let stuck = left.borrow().clone();
    let held: Vec<&Object> = stuck
        .iter()
        .filter(|c| !c.metadata.finalizers.is_empty())
        .collect();
    if held.is_empty() {
        bail!(
            "{} still there after {}: rerun to keep waiting",
            stuck.iter().map(describe).collect::<Vec<_>>().join(", "),
            wait::show(patience.timeout)
        );
    }
    if !force {
        let list: Vec<String> = held
            .iter()
            .map(|c| {
                format!(
                    "{} (finalizers: {})",
                    describe(c),
                    c.metadata.finalizers.join(", ")
                )
            })
            .collect();
        bail!(
            "still there after {}, held by finalizers: {}\n\
             The KubeRay operator removes them when it has cleaned up; when it is gone or \
             unhealthy they stay. Rerun with --force to clear them (skipping that clean-up).",
            wait::show(patience.timeout),
            list.join("; ")
        );
    }
    for cluster in &held {
        clear_finalizers(ctx, kubectl, cluster)?;
    }
    let gone = || Ok(still_there(kubectl, clusters)?.is_empty().then_some(()));
    if ctx.run.wait(&what, patience, gone)? == Waited::TimedOut {
        bail!("{what}: still there after clearing the finalizers");
    }
    Ok(())
}

/// Those of `clusters` that still exist, as they are now.
fn still_there(kubectl: &Kubectl<'_>, clusters: &[Object]) -> Result<Vec<Object>> {
    let mut still = Vec::new();
    for c in clusters {
        let ns = Ns::or_current(c.metadata.namespace.as_deref());
        if let Some(found) = kubectl.get::<Object>(RAYCLUSTERS, &c.metadata.name, ns)? {
            still.push(found);
        }
    }
    Ok(still)
}

fn clear_finalizers(ctx: &Ctx, kubectl: &Kubectl<'_>, cluster: &Object) -> Result<()> {
    ctx.ui.warn(&format!(
        "clearing the finalizers of {} ({})",
        describe(cluster),
        cluster.metadata.finalizers.join(", ")
    ));
    let ns = Ns::or_current(cluster.metadata.namespace.as_deref());
    let patch = kubectl.mutation(
        [
            "patch",
            RAYCLUSTERS,
            cluster.metadata.name.as_str(),
            "--type=merge",
            r#"--patch={"metadata":{"finalizers":null}}"#,
        ],
        ns,
    );
    ctx.run.check(&patch)?;
    Ok(())
}
