//! The KubeRay operator: a Helm release of KubeRay's chart, and the CRDs
//! the chart brings (`rayclusters.ray.io` and its siblings).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::options::{Given, OnOperator, Waits};
use crate::app::cli::{Ctx, Outcome};
use crate::app::config::{DEFAULT_OPERATOR_VALUES, RayOperator};
use crate::app::converge::{Piece, Row, State, down, up};
use crate::app::driver::Command;
use crate::app::wait::Patience;
use crate::clis::helm::{ChartSource, Helm, Install, Release};
use crate::clis::kubectl::{Crd, Kubectl, Ns, Object, Target};
use crate::exec::runner::together;
use crate::ray::{self, GROUP, RAYCLUSTERS};

const CRDS: &str = "customresourcedefinitions";
/// Namespaces a Kubernetes cluster cannot do without: never deleted.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The operator as configured, in a namespace.
pub struct Operator<'a> {
    pub ctx: &'a Ctx,
    pub target: &'a Target,
    pub config: &'a RayOperator,
    pub namespace: String,
}

/// What is there now.
pub struct Found {
    pub release: Option<Release>,
    pub crd: bool,
}

impl Found {
    pub fn installed(&self) -> bool {
        self.crd && self.release.as_ref().is_some_and(Release::is_deployed)
    }
}

impl<'a> Operator<'a> {
    /// `namespace` from `-n`, else the configured one.
    pub fn new(ctx: &'a Ctx, target: &'a Target, namespace: Option<&str>) -> Operator<'a> {
        let config = &ctx.config.ray.operator;
        Operator {
            ctx,
            target,
            config,
            namespace: namespace.unwrap_or(&config.namespace).to_string(),
        }
    }

    fn kubectl(&self) -> Kubectl<'a> {
        Kubectl::new(&self.ctx.run, self.target)
    }

    fn helm(&self) -> Helm<'a> {
        Helm::new(&self.ctx.run, self.target)
    }

    fn release_label(&self) -> String {
        format!(
            "helm release {} in namespace {}",
            self.config.release, self.namespace
        )
    }

    /// The Helm release and the CRD, read side by side.
    pub fn find(&self) -> Result<Found> {
        let (release, crd) = together(
            || self.helm().release(&self.config.release, &self.namespace),
            || self.kubectl().get::<Object>(CRDS, RAYCLUSTERS, Ns::Cluster),
        );
        Ok(Found {
            release: release?,
            crd: crd?.is_some(),
        })
    }

    /// A path in kas.yaml is relative to the folder that holds kas.yaml.
    fn project_path(&self, path: &str) -> PathBuf {
        match &self.ctx.config.root {
            Some(root) if Path::new(path).is_relative() => root.join(path),
            _ => PathBuf::from(path),
        }
    }

    pub fn chart(&self) -> ChartSource {
        let chart = &self.config.chart;
        if chart.starts_with("oci://") {
            return ChartSource::Oci {
                reference: chart.clone(),
                version: self.config.version.clone(),
            };
        }
        let local = chart.contains('/') || chart.ends_with(".tgz") || chart.starts_with('.');
        if local {
            let path = self.project_path(chart);
            return ChartSource::Local(path.display().to_string());
        }
        ChartSource::Repo {
            name: chart.clone(),
            url: self.config.repository.clone(),
            version: self.config.version.clone(),
        }
    }

    /// The values file, if one is configured and there. The default one
    /// may be missing (the chart's defaults then apply); a configured one
    /// may not.
    fn values(&self) -> Result<Option<String>> {
        if self.config.values.is_empty() {
            return Ok(None);
        }
        let path = self.project_path(&self.config.values);
        if path.is_file() {
            return Ok(Some(path.display().to_string()));
        }
        if self.config.values == DEFAULT_OPERATOR_VALUES {
            self.ctx.ui.warn(&format!(
                "no {}: installing the operator with the chart's default values",
                path.display()
            ));
            return Ok(None);
        }
        bail!(
            "the operator's values file {} does not exist: fix ray.operator.values in kas.yaml \
             (empty for the chart's defaults)",
            path.display()
        )
    }

    /// Installs the chart, or repairs a release that failed or was
    /// interrupted, then checks that Helm recorded it as deployed.
    pub fn install(&self, found: &Found, patience: Patience) -> Result<()> {
        let status = found.release.as_ref().map(|r| r.status.as_str());
        if status == Some("deployed") && !found.crd {
            bail!(
                "the {} is deployed but the CRD {RAYCLUSTERS} is missing (deleted by hand?): \
                 run `kubectl ray --` and then `kubectl ray ++`",
                self.release_label()
            );
        }
        let chart = self.chart();
        let values = self.values()?;
        let how = Install {
            release: &self.config.release,
            namespace: &self.namespace,
            chart: &chart,
            values: values.as_deref(),
            timeout_secs: patience.timeout.as_secs(),
        };
        let helm = self.helm();
        let secs = patience.timeout.as_secs();
        let release = &self.config.release;
        let upgrade = match status {
            None => false,
            // An install that never finished: Helm refuses to touch the
            // release until it is gone.
            Some("pending-install") => {
                self.ctx.ui.warn(&format!(
                    "the {} is stuck in pending-install (an interrupted install): removing it first",
                    self.release_label()
                ));
                helm.uninstall(release, &self.namespace, secs)?;
                false
            }
            Some(s @ ("pending-upgrade" | "pending-rollback")) => {
                self.ctx.ui.warn(&format!(
                    "the {} is stuck in {s}: rolling back first",
                    self.release_label()
                ));
                helm.rollback(release, &self.namespace, secs)?;
                true
            }
            Some(_) => true,
        };
        helm.install(&how, upgrade)?;
        // Helm can finish with success yet leave the release unrecorded
        // (a failed write of its own record): say so now, not later.
        self.ctx
            .run
            .for_real(|| match helm.release(release, &self.namespace)? {
                Some(r) if r.is_deployed() => Ok(()),
                Some(r) => bail!(
                    "Helm finished, but the {} is {}: run `kubectl ray ++` again to repair it",
                    self.release_label(),
                    r.status
                ),
                None => bail!(
                    "Helm finished, but there is no {}: run `kubectl ray ++` again",
                    self.release_label()
                ),
            })
    }

    pub fn piece<'s>(&'s self, found: &'s Found, patience: Patience) -> Piece<'s> {
        let name = format!("operator ({})", self.release_label());
        let installed = found.installed();
        Piece::new(name, installed).create(move || self.install(found, patience))
    }
}

/// `==`: whether the operator is installed (its release and the CRD).
pub struct OperatorStatus(OnOperator);

impl OperatorStatus {
    pub fn new(given: Given) -> OperatorStatus {
        OperatorStatus(OnOperator::new(given, Waits::No))
    }
}

impl Command for OperatorStatus {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        status(ctx, &self.0)
    }
}

/// `++`: install (or repair) the operator with Helm.
pub struct OperatorInstall(OnOperator);

impl OperatorInstall {
    pub fn new(given: Given) -> OperatorInstall {
        OperatorInstall(OnOperator::new(given, Waits::Yes))
    }
}

impl Command for OperatorInstall {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        install(ctx, &self.0)
    }
}

/// `--`: every RayCluster, then the operator, its namespace and the CRDs.
pub struct OperatorUninstall(OnOperator);

impl OperatorUninstall {
    pub fn new(given: Given) -> OperatorUninstall {
        OperatorUninstall(OnOperator::new(given, Waits::Yes))
    }
}

impl Command for OperatorUninstall {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.complete(ctx)
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.0.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        uninstall(ctx, &self.0)
    }
}

fn status(ctx: &Ctx, opts: &OnOperator) -> Result<Outcome> {
    let operator = opts.operator(ctx);
    let found = operator.find()?;
    let release_row = match &found.release {
        Some(r) => {
            let state = if r.is_deployed() {
                State::Present
            } else {
                State::Unknown(r.status.clone())
            };
            Row::new(operator.release_label(), state).detail(r.chart.clone())
        }
        None => Row::present(operator.release_label(), false),
    };
    let rows = vec![
        release_row,
        Row::present(format!("CRD {RAYCLUSTERS}"), found.crd),
    ];
    ctx.report(&rows);
    Ok(Outcome::Present(found.installed()))
}

fn install(ctx: &Ctx, opts: &OnOperator) -> Result<Outcome> {
    let operator = opts.operator(ctx);
    let found = operator.find()?;
    if found.release.is_none() && found.crd {
        ctx.ui.warn(&format!(
            "the CRD {RAYCLUSTERS} exists but there is no {}: \
             installing the chart anyway (Helm keeps CRDs that exist)",
            operator.release_label()
        ));
    }
    up(&ctx.run, vec![operator.piece(&found, opts.patience())])?;
    Ok(Outcome::Present(true))
}

/// What `--` finds before it deletes anything.
struct Installed {
    clusters: Vec<Object>,
    found: Found,
    namespace_present: bool,
    /// KubeRay's CRDs (group `ray.io`) by name.
    crds: Vec<String>,
}

impl Installed {
    /// Four reads that do not depend on one another, all side by side (the
    /// operator's two among them); their errors in the order they were
    /// once asked.
    fn read(operator: &Operator<'_>, kubectl: &Kubectl<'_>) -> Result<Installed> {
        let namespace = operator.namespace.as_str();
        let ((clusters, found), (namespace_present, crds)) = together(
            || together(|| ray::list(kubectl, Ns::All), || operator.find()),
            || {
                together(
                    || kubectl.get::<Object>("namespaces", namespace, Ns::Cluster),
                    || kubectl.list::<Crd>(CRDS, None, Ns::Cluster),
                )
            },
        );
        Ok(Installed {
            clusters: clusters?.unwrap_or_default(),
            found: found?,
            namespace_present: namespace_present?.is_some(),
            crds: crds?
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.spec.group == GROUP)
                .map(|c| c.metadata.name)
                .collect(),
        })
    }

    /// What will go, for the question before it goes.
    fn doomed(&self, operator: &Operator<'_>, keep_namespace: bool) -> Vec<String> {
        let mut doomed: Vec<String> = self.clusters.iter().map(ray::describe).collect();
        if self.found.release.is_some() {
            doomed.push(operator.release_label());
        }
        if self.namespace_present && !keep_namespace {
            doomed.push(format!("namespace {}", operator.namespace));
        }
        doomed.extend(self.crds.iter().map(|c| format!("CRD {c}")));
        doomed
    }
}

fn uninstall(ctx: &Ctx, opts: &OnOperator) -> Result<Outcome> {
    let operator = opts.operator(ctx);
    let kubectl = operator.kubectl();
    let patience = opts.patience();
    let namespace = operator.namespace.as_str();
    let keep_namespace = SYSTEM_NAMESPACES.contains(&namespace);
    let installed = Installed::read(&operator, &kubectl)?;
    ctx.confirm_deletion(&installed.doomed(&operator, keep_namespace))?;
    let Installed {
        clusters,
        found,
        namespace_present,
        crds,
    } = installed;

    // In the order `++` builds them; `down` removes them last to first.
    let mut pieces = vec![
        Piece::new(format!("CRDs {GROUP}"), !crds.is_empty()).delete(|| {
            let mut words = vec!["delete".to_string(), CRDS.to_string()];
            words.extend(crds.iter().cloned());
            ctx.run.check(&kubectl.mutation(words, Ns::Cluster))?;
            Ok(())
        }),
    ];
    if keep_namespace {
        ctx.ui.progress(&format!(
            "keeping namespace {namespace} (a system namespace)"
        ));
    } else {
        pieces.push(
            Piece::new(format!("namespace {namespace}"), namespace_present).delete(|| {
                let words = [
                    "delete".to_string(),
                    "namespaces".to_string(),
                    namespace.to_string(),
                    format!("--timeout={}s", patience.timeout.as_secs()),
                ];
                ctx.run.check(&kubectl.mutation(words, Ns::Cluster))?;
                Ok(())
            }),
        );
    }
    pieces.push(
        Piece::new(operator.release_label(), found.release.is_some()).delete(|| {
            operator.helm().uninstall(
                &operator.config.release,
                namespace,
                patience.timeout.as_secs(),
            )
        }),
    );
    pieces.push(
        Piece::new(
            format!("RayClusters ({})", clusters.len()),
            !clusters.is_empty(),
        )
        .delete(|| {
            ray::delete::delete_and_wait(ctx, &kubectl, &clusters, patience, opts.given.force)
        }),
    );
    down(&ctx.run, pieces)?;
    Ok(Outcome::Gone(true))
}
