//! A RayCluster that a file defines: status, up (operator, pull secrets,
//! apply, wait for the head pod) and down (delete, wait, and a way out
//! when finalizers hold it).

use anyhow::{Result, bail};

use super::operator::Operator;
use super::options::{Given, OnCluster, OnFile, Waits};
use super::pull_secret;
use crate::app::cli::{Ctx, Outcome};
use crate::app::converge::{Row, State, up as converge_up};
use crate::app::driver::Command;
use crate::app::wait::{self, Waited};
use crate::clis::kubectl::{Lookup, Pod};
use crate::exec::runner::together;
use crate::ray::{self, RAYCLUSTERS, describe, head};

/// `= FILE`: whether its RayCluster exists and its head pod is Ready.
pub struct Status(OnCluster);

impl Status {
    pub fn new(given: Given) -> Status {
        Status(OnCluster::new(given, Waits::No))
    }
}

impl Command for Status {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate(false)
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        status(ctx, &self.0)
    }
}

/// `+ FILE`: the operator if missing, pull secrets, apply, wait for the
/// head pod.
pub struct Up(OnCluster);

impl Up {
    pub fn new(given: Given) -> Up {
        Up(OnCluster::new(given, Waits::Yes))
    }
}

impl Command for Up {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    /// The client-side RayCluster checks too: a bad file changes nothing.
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate(true)
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        up(ctx, &self.0)
    }
}

/// `- FILE`: delete its RayCluster (and the pull secrets `+` made) and
/// wait until it is gone.
pub struct Down(OnCluster);

impl Down {
    pub fn new(given: Given) -> Down {
        Down(OnCluster::new(given, Waits::Yes))
    }
}

impl Command for Down {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate(false)
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        down(ctx, &self.0)
    }
}

/// `convert FILE`: a legacy file as KubeRay's RayCluster, printed.
pub struct Convert(OnFile);

impl Convert {
    pub fn new(given: Given) -> Convert {
        Convert(OnFile::new(given))
    }
}

impl Command for Convert {
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        self.0.complete()
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        convert(ctx, &self.0)
    }
}

fn status(ctx: &Ctx, opts: &OnCluster) -> Result<Outcome> {
    let ns = opts.ns();
    let kubectl = opts.kubectl(ctx);
    let name = &opts.file().name;
    let lookup = ray::lookup(&kubectl, name, ns)?;
    let unknown_kind = matches!(lookup, Lookup::UnknownKind);
    let cluster = match lookup {
        Lookup::Found(c) => Some(c),
        _ => None,
    };
    let mut rows = Vec::new();
    let mut ready = false;
    match &cluster {
        None => {
            let mut row = Row::present(format!("RayCluster {name}"), false);
            if unknown_kind {
                row = row.detail(
                    "this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`",
                );
            }
            rows.push(row);
        }
        Some(c) => {
            let mut row = Row::present(describe(c), true);
            if c.metadata.deletion_timestamp.is_some() {
                row = row.detail("being deleted");
            }
            rows.push(row);
            let pods = head::pods(&kubectl, name, ns)?;
            match head::ready(&pods).or(pods.first()) {
                Some(pod) => {
                    ready = pod.is_ready();
                    let detail = if ready {
                        format!("{} Ready", pod.metadata.name)
                    } else {
                        pod.summary()
                    };
                    let state = if ready {
                        State::Present
                    } else {
                        State::Unknown("not ready".into())
                    };
                    rows.push(Row::new("head pod", state).detail(detail));
                }
                None => rows.push(Row::present("head pod", false)),
            }
        }
    }
    ctx.report(&rows);
    Ok(Outcome::Present(cluster.is_some() && ready))
}

fn up(ctx: &Ctx, opts: &OnCluster) -> Result<Outcome> {
    let (file, ns) = (opts.file(), opts.ns());
    let kubectl = opts.kubectl(ctx);
    let patience = opts.patience();

    // The operator lives in its configured namespace, whatever -n says
    // about the cluster.
    let operator = Operator::new(ctx, &opts.given.target, None);
    // The operator and the pull secrets' token and secrets do not depend on
    // one another: read side by side (neither read prints).
    let (found, secrets) = together(
        || operator.find(),
        || pull_secret::read(ctx, &kubectl, file, ns),
    );
    let found = found?;
    let mut pieces = Vec::new();
    if found.release.is_none() && found.crd {
        ctx.ui.progress(&format!(
            "ok       operator (the CRD {} is there without this tool's Helm release: \
             KubeRay was installed another way)",
            RAYCLUSTERS
        ));
    } else {
        pieces.push(operator.piece(&found, patience));
    }
    pieces.extend(pull_secret::pieces(ctx, &kubectl, file, ns, secrets)?);
    converge_up(&ctx.run, pieces)?;

    let name = &file.name;
    let apply = match &file.converted {
        Some(yaml) => kubectl
            .mutation(["apply", "--filename=-"], ns)
            .stdin(yaml.as_bytes()),
        None => kubectl.mutation(
            [
                "apply".to_string(),
                format!("--filename={}", file.path.display()),
            ],
            ns,
        ),
    };
    ctx.ui.progress(&format!("applying RayCluster {name}"));
    let out = ctx.run.check(&apply)?;
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        ctx.ui.progress(&format!("  {}", line.trim()));
    }

    let what = format!("the head pod of RayCluster {name} to be Ready");
    let (waited, seen) = head::wait_ready(ctx, &kubectl, name, ns, &what, patience)?;
    match waited {
        Waited::Planned => Ok(Outcome::Done),
        Waited::Done(pod) => {
            ctx.ui.say(&format!(
                "RayCluster {name} is up: head pod {} is Ready",
                pod.metadata.name
            ));
            Ok(Outcome::Present(true))
        }
        Waited::TimedOut => {
            let state = if seen.is_empty() {
                "no head pod exists yet: is the KubeRay operator running? (kubectl ray ==)"
                    .to_string()
            } else {
                seen.iter().map(Pod::summary).collect::<Vec<_>>().join("; ")
            };
            bail!(
                "the head pod of RayCluster {name} is not Ready after {}: {state}\n\
                 Look closer with `kubectl describe pods --selector={}`; \
                 `kubectl ray + {}` again waits some more",
                wait::show(patience.timeout),
                head::selector(name),
                file.path.display()
            )
        }
    }
}

fn down(ctx: &Ctx, opts: &OnCluster) -> Result<Outcome> {
    let (file, ns) = (opts.file(), opts.ns());
    let kubectl = opts.kubectl(ctx);
    // The cluster and the pull secrets it leaves do not depend on each
    // other: both are read side by side (only the secrets' reading prints).
    let (cluster, secrets) = together(
        || ray::get(&kubectl, &file.name, ns),
        || pull_secret::leftovers(ctx, &kubectl, file, ns),
    );
    let (cluster, secrets) = (cluster?, secrets?);
    let mut doomed: Vec<String> = cluster.iter().map(describe).collect();
    doomed.extend(secrets.iter().map(|s| format!("pull secret {s}")));
    ctx.confirm_deletion(&doomed)?;
    match &cluster {
        None => ctx
            .ui
            .progress(&format!("gone     RayCluster {}", file.name)),
        Some(cluster) => {
            ray::delete::delete_and_wait(
                ctx,
                &kubectl,
                std::slice::from_ref(cluster),
                opts.patience(),
                opts.given.force,
            )?;
        }
    }
    // After the cluster: its pods no longer need them.
    pull_secret::remove(ctx, &kubectl, &secrets, ns)?;
    Ok(Outcome::Gone(true))
}

fn convert(ctx: &Ctx, opts: &OnFile) -> Result<Outcome> {
    let file = opts.file();
    for note in &file.notes {
        ctx.ui.warn(note);
    }
    match &file.converted {
        Some(yaml) => ctx.ui.say(yaml),
        None => {
            ctx.ui.warn(&format!(
                "{} is already a KubeRay ray.io/v1 RayCluster: printed as it is",
                file.path.display()
            ));
            ctx.ui.say(&serde_yaml::to_string(&file.cluster)?);
        }
    }
    Ok(Outcome::Done)
}
