//! `kubectl ray create cluster|workergroup`: a RayCluster, or one more
//! worker group in one, from flags with KubeRay's defaults; in a project
//! (a kas.yaml is found) its image, /dev/shm, W&B secret and pull secret
//! too, unless `--kuberay-defaults`.

mod cluster;
mod workergroup;

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::usage;
use crate::app::cli::{Common, Ctx, UsageError};
use crate::app::driver;
use crate::clis::kubectl::Target;
use crate::ray::quantity::Quantity;

#[derive(clap::Args, Debug)]
#[command(arg_required_else_help = true)]
pub struct CreateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Create a RayCluster from flags
    #[command(after_help = cluster::EXAMPLES)]
    Cluster(Box<cluster::Args>),
    /// Add a worker group to an existing RayCluster
    #[command(after_help = workergroup::EXAMPLES)]
    Workergroup(Box<workergroup::Args>),
}

pub fn run(
    args: CreateArgs,
    target: Target,
    common: &Common,
    make_ctx: impl FnOnce(&Common) -> Result<Ctx>,
) -> u8 {
    match args.what {
        What::Cluster(a) => {
            let c = cluster::CreateCluster::new(*a, target);
            driver::execute(c, common, make_ctx, &usage(&["create", "cluster"]))
        }
        What::Workergroup(a) => {
            let c = workergroup::CreateWorkerGroup::new(*a, target);
            driver::execute(c, common, make_ctx, &usage(&["create", "workergroup"]))
        }
    }
}

/// A `KEY=VALUE,KEY=VALUE` flag (KubeRay's string-to-string maps); given
/// more than once, the pairs add up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub BTreeMap<String, String>);

pub fn parse_pairs(text: &str) -> Result<Pairs, String> {
    let mut map = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not KEY=VALUE"))?;
        map.insert(k.trim().to_string(), v.to_string());
    }
    Ok(Pairs(map))
}

pub fn merged(all: &[Pairs]) -> BTreeMap<String, String> {
    all.iter().flat_map(|p| p.0.clone()).collect()
}

/// Refuses a size that is no quantity or is negative, naming its flag.
pub fn check_quantity(flag: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    match Quantity::parse(value) {
        None => Err(UsageError(format!(
            "--{flag} {value} is not a valid resource quantity (such as 2, 500m, 4Gi)"
        ))
        .into()),
        Some(q) if q.is_negative() => {
            Err(UsageError(format!("--{flag} cannot be negative (got {value})")).into())
        }
        Some(_) => Ok(()),
    }
}

/// The GKE node selectors a TPU worker group needs (KubeRay's rule).
pub const TPU_ACCELERATOR: &str = "cloud.google.com/gke-tpu-accelerator";
pub const TPU_TOPOLOGY: &str = "cloud.google.com/gke-tpu-topology";

pub fn check_tpu(tpu: &str, hosts: i32, selectors: &BTreeMap<String, String>) -> Result<()> {
    if Quantity::parse(tpu).is_none_or(|q| q.is_zero()) {
        return Ok(());
    }
    if hosts == 0 {
        bail!(UsageError("--num-of-hosts cannot be 0 with TPUs".into()));
    }
    for key in [TPU_ACCELERATOR, TPU_TOPOLOGY] {
        if !selectors.contains_key(key) {
            bail!(UsageError(format!(
                "TPU workers need {key} in --worker-node-selectors, such as \
                 --worker-node-selectors {TPU_ACCELERATOR}=tpu-v5-lite-podslice,{TPU_TOPOLOGY}=1x1"
            )));
        }
    }
    Ok(())
}
