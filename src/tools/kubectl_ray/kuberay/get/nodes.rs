//! `kubectl ray get node [NODE] [-c CLUSTER] [-A]`: the pods KubeRay made
//! (label `ray.io/is-ray-node=yes`), with what their Ray container asks
//! for, their cluster, type and group; one `kubectl get pods`.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::super::table::{self, Column, col};
use super::{Listing, place};
use crate::app::cli::{Ctx, Outcome};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Target};
use crate::ray::cluster::{LABEL_CLUSTER, LABEL_IS_RAY_NODE, RayPod};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray get nodes                        # every Ray node in the current namespace
  kubectl ray get nodes -c demo                # those of RayCluster demo
  kubectl ray get node demo-head-x7k2p -c demo # one of them
  kubectl ray get nodes -A -o json             # everywhere, as JSON
";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the node (pod) with this name
    #[arg(value_name = "NODE")]
    node: Option<String>,
    /// Only the nodes of this RayCluster
    #[arg(long = "ray-cluster", short = 'c', value_name = "RAYCLUSTER")]
    cluster: Option<String>,
    #[command(flatten)]
    listing: Listing,
}

pub struct GetNodes {
    args: Args,
    target: Target,
}

impl GetNodes {
    pub fn new(args: Args, target: Target) -> GetNodes {
        GetNodes { args, target }
    }
}

const NAMESPACE: Column = col("NAMESPACE", "namespace");
const COLUMNS: &[Column] = &[
    col("NAME", "name"),
    col("CPUS", "cpus"),
    col("GPUS", "gpus"),
    col("TPUS", "tpus"),
    col("MEMORY", "memory"),
    col("CLUSTER", "cluster"),
    col("TYPE", "type"),
    col("WORKER GROUP", "workerGroup"),
    col("AGE", "age"),
];

impl Command for GetNodes {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let a = &self.args;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let mut labels = format!("{LABEL_IS_RAY_NODE}=yes");
        if let Some(c) = &a.cluster {
            labels.push_str(&format!(",{LABEL_CLUSTER}={c}"));
        }
        let fields = a.node.as_ref().map(|n| format!("metadata.name={n}"));
        let pods: Vec<RayPod> = kubectl
            .list_all("pods", Some(&labels), fields.as_deref(), a.listing.ns())?
            .unwrap_or_default();
        if let Some(node) = &a.node
            && pods.is_empty()
        {
            let in_cluster = match &a.cluster {
                Some(c) => format!("in Ray cluster {c}"),
                None => "in any Ray cluster".to_string(),
            };
            bail!(
                "Ray node {node} not found {} {in_cluster}",
                place(&self.target, a.listing.all_namespaces)
            );
        }
        let rows: Vec<Vec<Value>> = pods
            .iter()
            .map(|p| {
                let r = p.requests();
                let mut row = Vec::new();
                if a.listing.all_namespaces {
                    row.push(json!(p.metadata.namespace.clone().unwrap_or_default()));
                }
                row.extend([
                    json!(p.metadata.name),
                    json!(r.cpu.to_string()),
                    json!(r.gpu.to_string()),
                    json!(r.tpu.to_string()),
                    json!(r.memory.to_string()),
                    json!(p.cluster()),
                    json!(p.node_type()),
                    json!(p.group()),
                    json!(table::age(p.metadata.creation_timestamp.as_deref())),
                ]);
                row
            })
            .collect();
        let mut columns: Vec<Column> = Vec::new();
        if a.listing.all_namespaces {
            columns.push(NAMESPACE);
        }
        columns.extend(COLUMNS.iter().map(|c| col(c.header, c.key)));
        table::print(ctx, a.listing.output, &columns, &rows)?;
        Ok(Outcome::Done)
    }
}
