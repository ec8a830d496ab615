//! `artifact-registry`: the `images` (docker) and `wheels` (python)
//! repositories. Both directions are idempotent (the script failed when a
//! repository already existed).

use anyhow::Result;

use crate::app::cli::{Ctx, Outcome, PlainArgs, Run, Tool};
use crate::app::converge::Piece;
use crate::app::grammar::{DOWN, Op, OpSpec, STATUS, UP};
use crate::clis::gcloud::{self, Repository};

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN];

pub const TOOL: Tool<PlainArgs, Op> = Tool {
    name: "artifact-registry",
    about: "Artifact Registry repositories for the project's images (docker) and wheels (python)",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
artifact-registry +                        # the images and wheels repositories
artifact-registry = -o json                # their status as JSON
artifact-registry -                        # delete both
";

fn run(ctx: &Ctx, op: Op, _: &PlainArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let project = ctx.project()?;
    let location = ctx.artifacts_location()?;
    let scope = [
        format!("--location={location}"),
        format!("--project={project}"),
    ];
    let existing: Vec<Repository> = ctx
        .run
        .json(&gcloud::query(["artifacts", "repositories", "list"]).args(scope.clone()))?;
    let wanted = [
        (ctx.config.registry.images.as_str(), "docker"),
        (ctx.config.registry.wheels.as_str(), "python"),
    ];
    let pieces: Vec<Piece> = wanted
        .iter()
        .map(|&(name, format)| {
            let present = existing.iter().any(|r| r.short_name() == name);
            let scope = scope.clone();
            let scope2 = scope.clone();
            Piece::new(format!("repository {name} ({format})"), present)
                .create(move || {
                    ctx.run.check(
                        &gcloud::change(["artifacts", "repositories", "create", name])
                            .arg(format!("--repository-format={format}"))
                            .args(scope),
                    )?;
                    Ok(())
                })
                .delete(move || {
                    ctx.run.check(
                        &gcloud::change(["artifacts", "repositories", "delete", name, "--quiet"])
                            .args(scope2),
                    )?;
                    Ok(())
                })
        })
        .collect();
    let all_present = pieces.iter().all(Piece::is_present);
    ctx.converge(op, pieces, all_present)
}
