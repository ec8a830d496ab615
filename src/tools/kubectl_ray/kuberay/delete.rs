//! `kubectl ray delete NAME | raycluster/NAME | rayjob/NAME |
//! rayservice/NAME ...`: looks every one up first (nothing is deleted when
//! one is missing), asks unless `-y`, refuses when nobody can answer;
//! `--wait` until they are gone, with this plugin's handling of
//! finalizers that outlast the wait (`--force` clears them).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::app::cli::{Ctx, Outcome, UsageError};
use crate::app::driver::Command;
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Object, Target};
use crate::ray::{self, RAYCLUSTERS};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray delete demo                       # a RayCluster (asks first)
  kubectl ray delete raycluster/demo -y --wait  # no question; return once it is gone
  kubectl ray delete rayjob/train rayservice/serve -y
  kubectl ray delete demo -y --wait --force     # clear finalizers that outlast the wait
";

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// RAYCLUSTER, or TYPE/NAME with TYPE raycluster, rayjob or rayservice
    #[arg(value_name = "RAYCLUSTER | TYPE/NAME", required = true)]
    names: Vec<String>,
    /// Answer yes: delete without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Return once they are gone
    #[arg(long)]
    wait: bool,
    /// How long --wait waits
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = wait::parse_duration)]
    timeout: Duration,
    /// With --wait: clear the finalizers of a RayCluster whose deletion is stuck
    #[arg(long)]
    force: bool,
}

/// One of KubeRay's kinds, as the user and as kubectl name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kind {
    word: &'static str,
    resource: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        word: "raycluster",
        resource: RAYCLUSTERS,
    },
    Kind {
        word: "rayjob",
        resource: "rayjobs.ray.io",
    },
    Kind {
        word: "rayservice",
        resource: "rayservices.ray.io",
    },
];

pub struct Delete {
    args: DeleteArgs,
    target: Target,
    doomed: Vec<(Kind, String)>,
}

impl Delete {
    pub fn new(args: DeleteArgs, target: Target) -> Delete {
        Delete {
            args,
            target,
            doomed: Vec::new(),
        }
    }
}

/// `NAME` (a RayCluster) or `TYPE/NAME`.
fn parse(arg: &str) -> Result<(Kind, String)> {
    let Some((kind, name)) = arg.split_once('/') else {
        return Ok((KINDS[0], arg.to_string()));
    };
    if name.is_empty() || name.contains('/') {
        bail!(UsageError(format!("invalid resource type/name: {arg}")));
    }
    let kind = kind.to_lowercase();
    let found = KINDS.iter().find(|k| {
        kind == k.word
            || kind == format!("{}s", k.word)
            || kind == k.resource
            || kind == k.resource.trim_end_matches(".ray.io")
    });
    match found {
        Some(k) => Ok((*k, name.to_string())),
        None => bail!(UsageError(format!(
            "unsupported resource type: {arg} (raycluster, rayjob or rayservice)"
        ))),
    }
}

/// Asks on the terminal; without one, refuses (nobody can answer).
fn ask(ctx: &Ctx, listed: &[String]) -> Result<bool> {
    if !ctx.ui.interactive {
        bail!(UsageError(format!(
            "standard input is not a terminal, so nobody can confirm deleting {}: \
             pass -y (--yes) to delete without asking",
            listed.join(", ")
        )));
    }
    ctx.ui
        .progress("Are you sure you want to delete the following resources?");
    for item in listed {
        ctx.ui.progress(&format!("- {item}"));
    }
    Ok(ctx.ui.confirm("Delete them?", false))
}

impl Command for Delete {
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        self.doomed = self
            .args
            .names
            .iter()
            .map(|a| parse(a))
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        if self.args.force && !self.args.wait {
            bail!(UsageError(
                "--force acts on finalizers that outlast --wait: add --wait".into()
            ));
        }
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let ns = Ns::Current;
        let mut found: Vec<(Kind, Object)> = Vec::new();
        for (kind, name) in &self.doomed {
            match kubectl.lookup::<Object>(kind.resource, name, ns)? {
                Lookup::Found(o) => found.push((*kind, o)),
                Lookup::Missing => bail!(
                    "{}/{name} not found (nothing was deleted): `kubectl ray get cluster` lists the RayClusters",
                    kind.word
                ),
                Lookup::UnknownKind => bail!(
                    "this cluster has no {} kind (nothing was deleted): is KubeRay installed? (`kubectl ray ==`)",
                    kind.resource
                ),
            }
        }
        let listed: Vec<String> = found
            .iter()
            .map(|(k, o)| format!("{}/{}", k.word, o.metadata.name))
            .collect();
        // A plan deletes nothing: nothing to ask.
        let go = self.args.yes || ctx.run.planned_or(|| true, || ask(ctx, &listed))?;
        if !go {
            ctx.ui.say("Canceled deletion.");
            return Ok(Outcome::Done);
        }
        let patience = Patience {
            timeout: self.args.timeout,
            interval: wait::interval(ctx)?,
        };
        let clusters: Vec<Object> = found
            .iter()
            .filter(|(k, _)| k.resource == RAYCLUSTERS)
            .map(|(_, o)| o.clone())
            .collect();
        if self.args.wait && !clusters.is_empty() {
            ray::delete::delete_and_wait(ctx, &kubectl, &clusters, patience, self.args.force)?;
        }
        for (kind, object) in &found {
            let name = object.metadata.name.as_str();
            let waited_already = self.args.wait && kind.resource == RAYCLUSTERS;
            if !waited_already {
                ctx.run
                    .check(&kubectl.delete_no_wait(kind.resource, name, ns))?;
            }
            ctx.run.for_real(|| {
                ctx.ui.say(&format!("Deleted {} {name}", kind.word));
                Ok(())
            })?;
        }
        if self.args.wait {
            for (kind, object) in found.iter().filter(|(k, _)| k.resource != RAYCLUSTERS) {
                let name = object.metadata.name.as_str();
                let what = format!("{}/{name} to be gone", kind.word);
                let gone = || {
                    let here = kubectl.get::<Object>(kind.resource, name, ns)?;
                    Ok(here.is_none().then_some(()))
                };
                if ctx.run.wait(&what, patience, gone)? == Waited::TimedOut {
                    bail!(
                        "{}/{name} is still there after {}: its controller may be cleaning up; rerun to keep waiting",
                        kind.word,
                        wait::show(patience.timeout)
                    );
                }
            }
        }
        Ok(Outcome::Done)
    }
}
