//! `kubectl ray create cluster|workergroup`: a RayCluster, or one more
//! worker group in one, from flags with KubeRay's defaults; in a project
//! (a kas.yaml is found) its image, /dev/shm, W&B secret and pull secret
//! too, unless `--kuberay-defaults`.

mod cluster;
mod workergroup;

pub use super::flags::{Pairs, check_quantity, merged, parse_pairs};

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
