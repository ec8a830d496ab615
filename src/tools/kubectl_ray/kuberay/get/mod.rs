//! `kubectl ray get cluster|workergroup|node|token`: KubeRay's tables,
//! each read with one kubectl call however many clusters there are, and
//! `-o json|yaml` for scripts.

mod cluster;
mod nodes;
mod token;
mod workergroup;

use anyhow::Result;

use super::table::Output;
use super::usage;
use crate::app::cli::{Common, Ctx};
use crate::app::driver;
use crate::clis::kubectl::{Ns, Target};

#[derive(clap::Args, Debug)]
#[command(arg_required_else_help = true)]
pub struct GetArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// RayClusters: workers, resources, condition, state, age
    #[command(visible_alias = "clusters", after_help = cluster::EXAMPLES)]
    Cluster(cluster::Args),
    /// Worker groups: bounds, ready/desired replicas, resources
    #[command(visible_alias = "workergroups", after_help = workergroup::EXAMPLES)]
    Workergroup(workergroup::Args),
    /// Ray nodes (the pods KubeRay made): resources, cluster, type, group, age
    #[command(visible_alias = "nodes", after_help = nodes::EXAMPLES)]
    Node(nodes::Args),
    /// Print the auth token of a RayCluster that uses token authentication
    #[command(after_help = token::EXAMPLES)]
    Token(token::Args),
}

/// The flags of every table.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Listing {
    /// Across all namespaces (the NAMESPACE column says which)
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// A table, or the rows as JSON or YAML
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl Listing {
    pub fn ns(&self) -> Ns<'static> {
        if self.all_namespaces {
            Ns::All
        } else {
            Ns::Current
        }
    }
}

/// "in namespace X", "in any namespace", as KubeRay says where it looked.
pub fn place(target: &Target, all: bool) -> String {
    match (&target.namespace, all) {
        (_, true) => "in any namespace".to_string(),
        (Some(ns), false) => format!("in namespace {ns}"),
        (None, false) => "in the current namespace".to_string(),
    }
}

pub fn not_installed() -> anyhow::Error {
    anyhow::anyhow!("this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`")
}

pub fn run(
    args: GetArgs,
    target: Target,
    common: &Common,
    make_ctx: impl FnOnce(&Common) -> Result<Ctx>,
) -> u8 {
    match args.what {
        What::Cluster(a) => {
            let c = cluster::GetCluster::new(a, target);
            driver::execute(c, common, make_ctx, &usage(&["get", "cluster"]))
        }
        What::Workergroup(a) => {
            let c = workergroup::GetWorkerGroups::new(a, target);
            driver::execute(c, common, make_ctx, &usage(&["get", "workergroup"]))
        }
        What::Node(a) => {
            let c = nodes::GetNodes::new(a, target);
            driver::execute(c, common, make_ctx, &usage(&["get", "node"]))
        }
        What::Token(a) => {
            let c = token::GetToken::new(a, target);
            driver::execute(c, common, make_ctx, &usage(&["get", "token"]))
        }
    }
}
