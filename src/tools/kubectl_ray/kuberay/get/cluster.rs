//! `kubectl ray get cluster [NAME] [-A]`: KubeRay's columns, from the
//! status its operator reports, with one `kubectl get`.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::super::table::{self, Column, col};
use super::{Listing, not_installed, place};
use crate::app::cli::{Ctx, Outcome};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Target};
use crate::ray::RAYCLUSTERS;
use crate::ray::cluster::{RayCluster, shown};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray get cluster                  # the RayClusters in the current namespace
  kubectl ray get cluster demo -n ray      # one of them
  kubectl ray get clusters -A -o json      # every namespace, as JSON
";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the RayCluster with this name
    #[arg(value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    listing: Listing,
}

pub struct GetCluster {
    args: Args,
    target: Target,
}

impl GetCluster {
    pub fn new(args: Args, target: Target) -> GetCluster {
        GetCluster { args, target }
    }
}

const COLUMNS: &[Column] = &[
    col("NAME", "name"),
    col("NAMESPACE", "namespace"),
    col("DESIRED WORKERS", "desiredWorkers"),
    col("AVAILABLE WORKERS", "availableWorkers"),
    col("CPUS", "cpus"),
    col("GPUS", "gpus"),
    col("TPUS", "tpus"),
    col("MEMORY", "memory"),
    col("CONDITION", "condition"),
    col("STATUS", "status"),
    col("AGE", "age"),
];

fn row(c: &RayCluster) -> Vec<Value> {
    let s = &c.status;
    vec![
        json!(c.metadata.name),
        json!(c.metadata.namespace.clone().unwrap_or_default()),
        json!(s.desired_worker_replicas),
        json!(s.available_worker_replicas),
        json!(shown(&s.desired_cpu)),
        json!(shown(&s.desired_gpu)),
        json!(shown(&s.desired_tpu)),
        json!(shown(&s.desired_memory)),
        json!(
            c.relevant_condition()
                .map(|c| c.kind.clone())
                .unwrap_or_default()
        ),
        json!(s.state),
        json!(table::age(c.metadata.creation_timestamp.as_deref())),
    ]
}

impl Command for GetCluster {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let fields = self
            .args
            .name
            .as_ref()
            .map(|n| format!("metadata.name={n}"));
        let clusters = kubectl
            .list_all::<RayCluster>(RAYCLUSTERS, None, fields.as_deref(), self.args.listing.ns())?
            .ok_or_else(not_installed)?;
        if let Some(name) = &self.args.name
            && clusters.is_empty()
        {
            bail!(
                "Ray cluster {name} not found {}",
                place(&self.target, self.args.listing.all_namespaces)
            );
        }
        let rows: Vec<Vec<Value>> = clusters.iter().map(row).collect();
        table::print(ctx, self.args.listing.output, COLUMNS, &rows)?;
        Ok(Outcome::Done)
    }
}
