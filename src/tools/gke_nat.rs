//! `gke-nat`: a Cloud Router with a Cloud NAT so pods can reach the
//! internet: router first, then the NAT inside it.

use anyhow::Result;

use crate::app::cli::{Ctx, Outcome, PlainArgs, Run, Tool};
use crate::app::converge::Piece;
use crate::app::grammar::{DOWN, Op, OpSpec, STATUS, UP};
use crate::clis::gcloud::{self, Router};

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN];

pub const TOOL: Tool<PlainArgs, Op> = Tool {
    name: "gke-nat",
    about: "A Cloud Router and Cloud NAT so the cluster's pods can reach the internet",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
gke-nat +                                  # the router, then the NAT
gke-nat =                                  # exit 0 when both are there
gke-nat -                                  # the NAT, then the router
";

fn run(ctx: &Ctx, op: Op, _: &PlainArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let project = ctx.project()?;
    let region = ctx.region()?;
    let nat = &ctx.config.nat;
    let scope = [format!("--region={region}"), format!("--project={project}")];
    // One read answers both pieces: the NATs live inside the router.
    let router: Option<Router> = ctx.run.json_if(
        &gcloud::query(["compute", "routers", "describe", &nat.router]).args(scope.clone()),
        gcloud::is_not_found,
    )?;
    let nat_present = router
        .as_ref()
        .is_some_and(|r| r.nats.iter().any(|n| n.name == nat.name));
    let pieces = vec![
        Piece::new(format!("router {}", nat.router), router.is_some())
            .create(|| {
                ctx.run.check(
                    &gcloud::change(["compute", "routers", "create", &nat.router])
                        .arg(format!("--network={}", nat.network))
                        .args(scope.clone()),
                )?;
                Ok(())
            })
            .delete(|| {
                ctx.run.check(
                    &gcloud::change(["compute", "routers", "delete", &nat.router, "--quiet"])
                        .args(scope.clone()),
                )?;
                Ok(())
            }),
        Piece::new(format!("NAT {}", nat.name), nat_present)
            .create(|| {
                ctx.run.check(
                    &gcloud::change(["compute", "routers", "nats", "create", &nat.name])
                        .arg(format!("--router={}", nat.router))
                        .args([
                            "--auto-allocate-nat-external-ips",
                            "--nat-all-subnet-ip-ranges",
                        ])
                        .args(scope.clone()),
                )?;
                Ok(())
            })
            .delete(|| {
                ctx.run.check(
                    &gcloud::change(["compute", "routers", "nats", "delete", &nat.name, "--quiet"])
                        .arg(format!("--router={}", nat.router))
                        .args(scope.clone()),
                )?;
                Ok(())
            }),
    ];
    ctx.converge(op, pieces, nat_present)
}
