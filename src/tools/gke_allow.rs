//! `gke-allow`: the networks allowed to reach the cluster's Kubernetes API
//! (master authorized networks), usually the caller's public IP as /32.

use anyhow::{Result, bail};

use crate::app::cidr;
use crate::app::cli::{CidrArgs, Ctx, Outcome, Run, Tool};
use crate::app::converge::Row;
use crate::app::grammar::{DOWN, DOWN2, Op, OpSpec, STATUS, UP, UP2};
use crate::clis::gcloud::{self, Cluster};
use crate::exec::cmd::Cmd;
use crate::exec::lock;
use crate::exec::runner::CmdFailed;

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN, UP2, DOWN2];

pub const TOOL: Tool<CidrArgs, Op> = Tool {
    name: "gke-allow",
    about: "The networks allowed to reach the GKE cluster's Kubernetes API (master authorized networks)",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
gke-allow =                                # exit 0 when your network is allowed
gke-allow + --cidr 198.51.100.0/24         # allow that network too
gke-allow -                                # remove yours, keep the others
gke-allow ++                               # yours alone
gke-allow --                               # nobody
";

/// How many read-modify-write rounds a change gets before giving up.
const ATTEMPTS: u32 = 6;

/// The cluster's authorized networks, read now.
fn read(ctx: &Ctx, name: &str, zonal: &[String]) -> Result<(Vec<String>, bool)> {
    let cluster: Cluster = match ctx.run.json_if(
        &gcloud::query(["container", "clusters", "describe", name]).args(zonal.iter().cloned()),
        gcloud::is_not_found,
    )? {
        Some(c) => c,
        None => bail!("cluster {name} does not exist: create it with `gke-cluster +`"),
    };
    let networks = &cluster.master_authorized_networks_config;
    let current = networks
        .cidr_blocks
        .iter()
        .map(|b| b.cidr_block.clone())
        .collect();
    Ok((current, networks.enabled))
}

/// The list `op` wants, from the list as it is now: `+` and `-` touch
/// only the caller's entry, so a fresh read merges what others wrote.
fn wanted(op: Op, caller: Option<&String>, current: &[String]) -> Vec<String> {
    match (op, caller) {
        (Op::Up, Some(c)) if !current.contains(c) => {
            current.iter().cloned().chain([c.clone()]).collect()
        }
        (Op::Down, Some(c)) => current.iter().filter(|n| *n != c).cloned().collect(),
        (Op::Up2, Some(c)) => vec![c.clone()],
        (Op::Down2, _) => Vec::new(),
        _ => current.to_vec(),
    }
}

/// Whether the list as read back holds what `op` set out to do.
fn holds(op: Op, caller: Option<&String>, after: &[String]) -> bool {
    match (op, caller) {
        (Op::Up, Some(c)) => after.contains(c),
        (Op::Down, Some(c)) => !after.contains(c),
        (Op::Up2, Some(c)) => after == [c.clone()],
        (Op::Down2, _) => after.is_empty(),
        _ => true,
    }
}

/// GKE refuses an update while another operation runs on the cluster.
fn busy(err: &anyhow::Error) -> bool {
    err.downcast_ref::<CmdFailed>().is_some_and(|f| {
        let e = &f.output.stderr;
        e.contains("incompatible operation") || e.contains("not ready for update")
    })
}

fn run(ctx: &Ctx, op: Op, args: &CidrArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let project = ctx.project()?;
    let zone = ctx.zone()?;
    let name = &ctx.config.gke.cluster;
    let zonal = [format!("--zone={zone}"), format!("--project={project}")];
    // This machine's runs take turns for the read-modify-write below.
    let _turn = match op {
        Op::Status => None,
        _ => ctx.run.planned_or(
            || None,
            || {
                let file = format!("gke-allow-{project}-{zone}-{name}.lock");
                lock::exclusive(&lock::lock_dir(&ctx.env).join(file)).map(Some)
            },
        )?,
    };
    let (current, enabled) = read(ctx, name, &zonal)?;
    // Locking everyone out is the one operation that needs no caller.
    let caller = match op {
        Op::Down2 => None,
        _ => Some(cidr::caller(&ctx.run, args.cidr.as_deref())?),
    };
    if op == Op::Status {
        return Ok(status(ctx, &current, caller.as_ref()));
    }
    let first = wanted(op, caller.as_ref(), &current);
    if first == current && enabled {
        ctx.ui.progress(&format!(
            "authorized networks of {name} stay {}",
            shown(&current)
        ));
        return Ok(outcome(op));
    }
    if matches!(op, Op::Down | Op::Down2) {
        let doomed: Vec<String> = current
            .iter()
            .filter(|n| !first.contains(n))
            .map(|n| format!("authorized network {n} of cluster {name}"))
            .collect();
        ctx.confirm_deletion(&doomed)?;
    }
    let site = Site {
        ctx,
        name,
        zonal: &zonal,
    };
    site.write(op, caller.as_ref(), (current, enabled))
}

/// `=`: each authorized network, yours marked, and yours when missing.
fn status(ctx: &Ctx, current: &[String], caller: Option<&String>) -> Outcome {
    let allowed = caller.is_some_and(|c| current.contains(c));
    let rows: Vec<Row> = current
        .iter()
        .map(|n| {
            let row = Row::present(format!("authorized network {n}"), true);
            if Some(n) == caller {
                row.detail("(you)")
            } else {
                row
            }
        })
        .chain((!allowed).then(|| {
            Row::present(
                format!("authorized network {}", caller.cloned().unwrap_or_default()),
                false,
            )
            .detail("(you)")
        }))
        .collect();
    ctx.report(&rows);
    Outcome::Present(allowed)
}

/// The cluster whose list is written.
struct Site<'a> {
    ctx: &'a Ctx,
    name: &'a str,
    /// `--zone=...`, `--project=...`.
    zonal: &'a [String],
}

impl Site<'_> {
    /// Writes the list `op` wants into what was read, reads it back, and
    /// merges and writes again while another writer replaced it (or waits
    /// while GKE is busy), up to [`ATTEMPTS`] rounds.
    fn write(
        &self,
        op: Op,
        caller: Option<&String>,
        mut read_now: (Vec<String>, bool),
    ) -> Result<Outcome> {
        let (ctx, name) = (self.ctx, self.name);
        for attempt in 1..=ATTEMPTS {
            let (current, enabled) = read_now;
            let list = wanted(op, caller, &current);
            if list == current && enabled {
                return Ok(outcome(op));
            }
            ctx.ui
                .progress(&format!("authorized networks of {name}: {}", shown(&list)));
            match ctx.run.check(&self.update(&list)) {
                Ok(_) => {}
                Err(e) if busy(&e) && attempt < ATTEMPTS => {
                    ctx.ui.progress(&format!(
                        "cluster {name} is busy with another operation; trying again"
                    ));
                    std::thread::sleep(std::time::Duration::from_secs(2 * u64::from(attempt)));
                    read_now = read(ctx, name, self.zonal)?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Nothing guards the list against a writer who read it before
            // us: read it back, and when our change was replaced, merge and
            // retry. A plan changed nothing, so there is nothing to read back.
            let read_back = ctx
                .run
                .planned_or(|| None, || read(ctx, name, self.zonal).map(Some))?;
            let Some(after) = read_back else {
                return Ok(outcome(op));
            };
            read_now = after;
            if holds(op, caller, &read_now.0) {
                return Ok(outcome(op));
            }
            ctx.ui.progress(&format!(
                "another change to the authorized networks of {name} replaced ours \
                 (now {}); merging and writing again",
                shown(&read_now.0)
            ));
        }
        bail!(
            "the authorized networks of {name} kept changing under {ATTEMPTS} attempts: \
             run this again, or check who else is changing them"
        )
    }

    /// The update that sets the list to `list`.
    fn update(&self, list: &[String]) -> Cmd {
        let update = gcloud::change(["container", "clusters", "update", self.name])
            .args(self.zonal.to_vec())
            .arg("--enable-master-authorized-networks");
        // Without the list flag gcloud sets an empty list: nobody is let in.
        if list.is_empty() {
            update
        } else {
            update.arg(format!("--master-authorized-networks={}", list.join(",")))
        }
    }
}

fn outcome(op: Op) -> Outcome {
    match op {
        Op::Up | Op::Up2 => Outcome::Present(true),
        Op::Down => Outcome::Gone(true),
        _ => Outcome::Done,
    }
}

fn shown(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}
