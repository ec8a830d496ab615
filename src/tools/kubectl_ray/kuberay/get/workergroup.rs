//! `kubectl ray get workergroup [GROUP] [-c CLUSTER] [-A]`: each worker
//! group's bounds, ready/desired replicas and what its replicas ask for.
//! The RayClusters and their pods come from one `kubectl get
//! rayclusters,pods`, so the cost does not grow with the groups.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::super::table::{self, Column, col};
use super::{Listing, not_installed};
use crate::app::cli::{Ctx, Outcome};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Target};
use crate::ray::RAYCLUSTERS;
use crate::ray::cluster::{RayCluster, RayPod};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray get workergroup                         # every group in the current namespace
  kubectl ray get workergroup -c demo                 # the groups of RayCluster demo
  kubectl ray get workergroup default-group -c demo   # one of them
  kubectl ray get workergroups -A -o yaml             # everywhere, as YAML
";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the worker groups with this name
    #[arg(value_name = "GROUP")]
    group: Option<String>,
    /// Only the groups of this RayCluster
    #[arg(long = "ray-cluster", short = 'c', value_name = "RAYCLUSTER")]
    cluster: Option<String>,
    #[command(flatten)]
    listing: Listing,
}

pub struct GetWorkerGroups {
    args: Args,
    target: Target,
}

impl GetWorkerGroups {
    pub fn new(args: Args, target: Target) -> GetWorkerGroups {
        GetWorkerGroups { args, target }
    }
}

const NAMESPACE: Column = col("NAMESPACE", "namespace");
const COLUMNS: &[Column] = &[
    col("NAME", "name"),
    col("MIN", "min"),
    col("MAX", "max"),
    col("REPLICAS", "replicas"),
    col("CPUS", "cpus"),
    col("GPUS", "gpus"),
    col("TPUS", "tpus"),
    col("MEMORY", "memory"),
    col("CLUSTER", "cluster"),
];

impl Command for GetWorkerGroups {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let a = &self.args;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let resources = format!("{RAYCLUSTERS},pods");
        let items = kubectl
            .list_all::<Value>(&resources, None, None, a.listing.ns())?
            .ok_or_else(not_installed)?;
        let (clusters, pods): (Vec<Value>, Vec<Value>) =
            items.into_iter().partition(|i| i["kind"] == "RayCluster");
        let clusters: Vec<RayCluster> = clusters
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()?;
        let pods: Vec<RayPod> = pods
            .into_iter()
            .filter(|p| p["kind"] == "Pod")
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()?;
        let wanted = |c: &&RayCluster| a.cluster.as_ref().is_none_or(|n| &c.metadata.name == n);
        let clusters: Vec<&RayCluster> = clusters.iter().filter(wanted).collect();
        let place = super::place(&self.target, a.listing.all_namespaces);
        if let Some(name) = &a.cluster
            && clusters.is_empty()
        {
            bail!("Ray cluster {name} not found {place}");
        }
        let mut rows = Vec::new();
        for cluster in &clusters {
            let ns = cluster.metadata.namespace.clone().unwrap_or_default();
            for group in &cluster.spec.worker_group_specs {
                if a.group.as_ref().is_some_and(|g| g != &group.group_name) {
                    continue;
                }
                let ready = pods
                    .iter()
                    .filter(|p| {
                        p.metadata.namespace.clone().unwrap_or_default() == ns
                            && p.node_type() == "worker"
                            && p.group() == group.group_name
                            && p.cluster() == cluster.metadata.name
                            && p.running_and_ready()
                    })
                    .count();
                let t = group.totals();
                let mut row = Vec::new();
                if a.listing.all_namespaces {
                    row.push(json!(ns));
                }
                row.extend([
                    json!(group.group_name),
                    json!(group.min()),
                    json!(group.max()),
                    json!(format!("{ready}/{}", group.replicas())),
                    json!(t.cpu.to_string()),
                    json!(t.gpu.to_string()),
                    json!(t.tpu.to_string()),
                    json!(t.memory.to_string()),
                    json!(cluster.metadata.name),
                ]);
                rows.push(row);
            }
        }
        if let Some(group) = &a.group
            && rows.is_empty()
        {
            let in_cluster = match &a.cluster {
                Some(c) => format!("in Ray cluster {c}"),
                None => "in any Ray cluster".to_string(),
            };
            bail!("Ray worker group {group} not found {place} {in_cluster}");
        }
        let mut columns: Vec<Column> = Vec::new();
        if a.listing.all_namespaces {
            columns.push(NAMESPACE);
        }
        columns.extend(COLUMNS.iter().map(|c| col(c.header, c.key)));
        table::print(ctx, a.listing.output, &columns, &rows)?;
        Ok(Outcome::Done)
    }
}
