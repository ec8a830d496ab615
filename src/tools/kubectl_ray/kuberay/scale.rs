//! `kubectl ray scale cluster CLUSTER -w GROUP [-r N] [--min-replicas N]
//! [--max-replicas N]`: KubeRay's rules (at least one of them; minimum ≤
//! replicas ≤ maximum, counting what the group has now), one JSON patch
//! that first tests the cluster's resourceVersion; nothing changes when a
//! rule is broken or nothing would change.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::app::cli::{Ctx, Outcome, UsageError};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Target};
use crate::ray::RAYCLUSTERS;
use crate::ray::cluster::RayCluster;

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray scale cluster demo -w default-group -r 3                 # three workers
  kubectl ray scale cluster demo -w default-group --max-replicas 10    # a higher ceiling
  kubectl ray scale cluster demo -w default-group --min-replicas 2 --max-replicas 6
  kubectl ray scale cluster demo -w default-group -r 5 --min-replicas 3 --max-replicas 7
";

#[derive(clap::Args, Debug)]
#[command(arg_required_else_help = true)]
pub struct ScaleArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Scale one worker group of a RayCluster
    #[command(after_help = EXAMPLES)]
    Cluster(Args),
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The RayCluster
    #[arg(value_name = "RAYCLUSTER")]
    cluster: String,
    /// The worker group
    #[arg(
        long = "worker-group",
        short = 'w',
        value_name = "WORKERGROUP",
        required = true
    )]
    group: String,
    /// Its replicas
    #[arg(long, short = 'r', value_name = "N", allow_negative_numbers = true)]
    replicas: Option<i32>,
    /// Its minimum replicas
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    min_replicas: Option<i32>,
    /// Its maximum replicas
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    max_replicas: Option<i32>,
}

pub struct Scale {
    args: Args,
    target: Target,
}

impl Scale {
    pub fn new(args: ScaleArgs, target: Target) -> Scale {
        let What::Cluster(args) = args.what;
        Scale { args, target }
    }

    /// A value KubeRay's flags leave unset with -1.
    fn given(v: Option<i32>) -> Option<i64> {
        v.filter(|n| *n != -1).map(i64::from)
    }
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

impl Command for Scale {
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        let a = &self.args;
        let (r, min, max) = (
            Scale::given(a.replicas),
            Scale::given(a.min_replicas),
            Scale::given(a.max_replicas),
        );
        if a.group.is_empty() {
            return Err(usage("must specify -w/--worker-group".into()));
        }
        if r.is_none() && min.is_none() && max.is_none() {
            return Err(usage(
                "must specify at least one of --replicas, --min-replicas, or --max-replicas \
                 (non-negative integers)"
                    .into(),
            ));
        }
        for (flag, v) in [
            ("--replicas", r),
            ("--min-replicas", min),
            ("--max-replicas", max),
        ] {
            if v.is_some_and(|n| n < 0) {
                return Err(usage(format!("{flag} must be a non-negative integer")));
            }
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return Err(usage(format!(
                "--min-replicas ({lo}) cannot be greater than --max-replicas ({hi})"
            )));
        }
        if let Some(n) = r {
            if let Some(lo) = min.filter(|lo| n < *lo) {
                return Err(usage(format!(
                    "--replicas ({n}) cannot be less than --min-replicas ({lo})"
                )));
            }
            if let Some(hi) = max.filter(|hi| n > *hi) {
                return Err(usage(format!(
                    "--replicas ({n}) cannot be greater than --max-replicas ({hi})"
                )));
            }
        }
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let a = &self.args;
        let (name, group) = (&a.cluster, &a.group);
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let ns = Ns::Current;
        let raw: Value = match kubectl.lookup(RAYCLUSTERS, name, ns)? {
            Lookup::Found(c) => c,
            Lookup::Missing => {
                bail!("RayCluster {name} not found: `kubectl ray get cluster` lists them")
            }
            Lookup::UnknownKind => {
                bail!("this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`")
            }
        };
        let cluster: RayCluster = serde_json::from_value(raw.clone())?;
        let place = match &cluster.metadata.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => String::new(),
        };
        let Some((index, current)) = cluster.group(group) else {
            bail!(
                "worker group {group} not found in Ray cluster {name} {place}. Available worker groups: {}",
                cluster.group_names().join(", ")
            );
        };
        let (now_r, now_min, now_max) = (current.replicas(), current.min(), current.max());
        let want_r = Scale::given(a.replicas).unwrap_or(now_r);
        let want_min = Scale::given(a.min_replicas).unwrap_or(now_min);
        let want_max = Scale::given(a.max_replicas).unwrap_or(now_max);
        if want_min > want_max {
            return Err(usage(format!(
                "cannot set --min-replicas ({want_min}) greater than --max-replicas ({want_max})"
            )));
        }
        if want_r < want_min {
            return Err(usage(format!(
                "cannot set --replicas ({want_r}) less than --min-replicas ({want_min}) \
                 (worker group {group} has minimum {now_min})"
            )));
        }
        if want_r > want_max {
            return Err(usage(format!(
                "cannot set --replicas ({want_r}) greater than --max-replicas ({want_max}) \
                 (worker group {group} has maximum {now_max})"
            )));
        }
        let mut ops = vec![json!({
            "op": "test", "path": "/metadata/resourceVersion",
            "value": raw["metadata"]["resourceVersion"],
        })];
        let mut changes = Vec::new();
        // KubeRay's order and wording of the changes.
        let fields = [
            ("minReplicas", "minReplicas", now_min, want_min),
            ("maxReplicas", "maxReplicas", now_max, want_max),
            ("replicas", "Replicas", now_r, want_r),
        ];
        for (field, shown, now, want) in fields.into_iter().filter(|f| f.2 != f.3) {
            ops.push(json!({
                "op": "add",
                "path": format!("/spec/workerGroupSpecs/{index}/{field}"),
                "value": want,
            }));
            changes.push(format!("Scaled {shown}: {now} to {want}"));
        }
        if ops.len() == 1 {
            ctx.ui.say(&format!(
                "Worker group {group} in Ray cluster {name} {place} already matches the \
                 requested configuration. Skipping."
            ));
            return Ok(Outcome::Done);
        }
        let patch = serde_json::Value::Array(ops).to_string();
        ctx.run
            .check(&kubectl.json_patch(RAYCLUSTERS, name, &patch, ns))?;
        ctx.run.for_real(|| {
            ctx.ui.say(&format!(
                "Updated worker group {group} in Ray cluster {name} {place} ({})",
                changes.join(", ")
            ));
            Ok(())
        })?;
        Ok(Outcome::Done)
    }
}
