//! `gke-allow`: the networks allowed to reach the cluster's Kubernetes API
//! (master authorized networks), usually the caller's public IP as /32.

use anyhow::{Result, bail};

use crate::app::cidr;
use crate::app::cli::{CidrArgs, Ctx, Outcome, Tool};
use crate::app::converge::Row;
use crate::app::grammar::{DOWN, DOWN2, Op, OpSpec, STATUS, UP, UP2};
use crate::clis::gcloud::{self, Cluster};

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN, UP2, DOWN2];

pub const TOOL: Tool<CidrArgs, Op> = Tool {
    name: "gke-allow",
    about: "The networks allowed to reach the GKE cluster's Kubernetes API (master authorized networks)",
    ops: OPS,
    examples: EXAMPLES,
    run,
};

const EXAMPLES: &str = "\
gke-allow =                                # exit 0 when your network is allowed
gke-allow + --cidr 198.51.100.0/24         # allow that network too
gke-allow -                                # remove yours, keep the others
gke-allow ++                               # yours alone
gke-allow --                               # nobody
";

fn run(ctx: &Ctx, op: Op, args: &CidrArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let project = ctx.project()?;
    let zone = ctx.zone()?;
    let name = &ctx.config.gke.cluster;
    let zonal = [format!("--zone={zone}"), format!("--project={project}")];
    let cluster: Cluster = match ctx.run.json_if_found(
        &gcloud::query(["container", "clusters", "describe", name]).args(zonal.clone()),
    )? {
        Some(c) => c,
        None => bail!("cluster {name} does not exist: create it with `gke-cluster +`"),
    };
    let networks = &cluster.master_authorized_networks_config;
    let current: Vec<String> = networks
        .cidr_blocks
        .iter()
        .map(|b| b.cidr_block.clone())
        .collect();
    // Locking everyone out is the one operation that needs no caller.
    let caller = match op {
        Op::Down2 => None,
        _ => Some(cidr::caller(&ctx.run, args.cidr.as_deref())?),
    };
    let allowed = caller.as_ref().is_some_and(|c| current.contains(c));
    let wanted: Vec<String> = match (op, &caller) {
        (Op::Up, Some(c)) if !allowed => current.iter().cloned().chain([c.clone()]).collect(),
        (Op::Down, Some(c)) => current.iter().filter(|n| *n != c).cloned().collect(),
        (Op::Up2, Some(c)) => vec![c.clone()],
        (Op::Down2, _) => Vec::new(),
        _ => current.clone(),
    };
    if op == Op::Status {
        let rows: Vec<Row> = current
            .iter()
            .map(|n| {
                let row = Row::present(format!("authorized network {n}"), true);
                if Some(n) == caller.as_ref() {
                    row.detail("(you)")
                } else {
                    row
                }
            })
            .chain((!allowed).then(|| {
                Row::present(
                    format!("authorized network {}", caller.clone().unwrap_or_default()),
                    false,
                )
                .detail("(you)")
            }))
            .collect();
        ctx.report(&rows);
        return Ok(Outcome::Present(allowed));
    }
    if wanted != current || !networks.enabled {
        if matches!(op, Op::Down | Op::Down2) {
            let doomed: Vec<String> = current
                .iter()
                .filter(|n| !wanted.contains(n))
                .map(|n| format!("authorized network {n} of cluster {name}"))
                .collect();
            ctx.confirm_deletion(&doomed)?;
        }
        let mut update = gcloud::change(["container", "clusters", "update", name])
            .args(zonal)
            .arg("--enable-master-authorized-networks");
        // Without the list flag gcloud sets an empty list: nobody is let in.
        if !wanted.is_empty() {
            update = update.arg(format!("--master-authorized-networks={}", wanted.join(",")));
        }
        ctx.ui.progress(&format!(
            "authorized networks of {name}: {}",
            shown(&wanted)
        ));
        ctx.run.check(&update)?;
    } else {
        ctx.ui.progress(&format!(
            "authorized networks of {name} stay {}",
            shown(&current)
        ));
    }
    Ok(match op {
        Op::Up | Op::Up2 => Outcome::Present(true),
        Op::Down => Outcome::Gone(true),
        _ => Outcome::Done,
    })
}

fn shown(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}
