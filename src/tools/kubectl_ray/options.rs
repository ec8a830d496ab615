//! The options every `kubectl ray` operation is built from: what its
//! arguments say ([`Given`]), completed once from the context (the FILE
//! read and parsed, the namespace, the wait's patience) and checked before
//! anything runs. Each operation's own type, in `cluster` and `operator`,
//! holds one of these and implements the driver's `Command` with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};

use super::manifest::ClusterFile;
use super::operator::Operator;
use super::{Args, OPS, Op};
use crate::app::cli::{Ctx, UsageError};
use crate::app::wait::{self, Patience};
use crate::clis::kubectl::{Kubectl, Ns, Target};

/// What an operation's arguments say, as parsed.
pub struct Given {
    /// The operation as the user may type it (`=`, `++`), for messages.
    symbol: &'static str,
    path: Option<PathBuf>,
    pub target: Target,
    timeout: Duration,
    pub force: bool,
}

impl Given {
    pub fn new(op: Op, args: Args) -> Given {
        Given {
            symbol: OPS.iter().find(|s| s.op == op).map_or("?", |s| s.symbol),
            path: args.file,
            target: args.target,
            timeout: args.timeout,
            force: args.force,
        }
    }

    /// The FILE, which a RayCluster operation needs.
    pub fn file(&self) -> Result<&Path> {
        let symbol = self.symbol;
        match &self.path {
            Some(path) => Ok(path),
            None => Err(UsageError(format!(
                "`{symbol}` needs a FILE: kubectl ray {symbol} yaml/k8s/local-cpu-only.yaml"
            ))
            .into()),
        }
    }

    /// No FILE: an operator operation takes none.
    pub fn no_file(&self) -> Result<()> {
        match &self.path {
            None => Ok(()),
            Some(file) => Err(UsageError(format!(
                "`{}` acts on the operator and takes no FILE (got {})",
                self.symbol,
                file.display()
            ))
            .into()),
        }
    }

    /// How long a wait lasts (`--timeout`) and how often it looks.
    fn patience(&self, ctx: &Ctx) -> Result<Patience> {
        Ok(Patience {
            timeout: self.timeout,
            interval: wait::interval(ctx)?,
        })
    }
}

/// Whether an operation waits (for the operator, a head pod, a deletion).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Waits {
    No,
    Yes,
}

/// The options of `=`, `+` and `-`: the FILE's RayCluster, read and parsed
/// once, and the namespace it lives in.
pub struct OnCluster {
    pub given: Given,
    waits: Waits,
    file: Option<ClusterFile>,
    namespace: Option<String>,
    patience: Option<Patience>,
}

impl OnCluster {
    pub fn new(given: Given, waits: Waits) -> OnCluster {
        OnCluster {
            given,
            waits,
            file: None,
            namespace: None,
            patience: None,
        }
    }

    /// Reads the FILE (saying so when it is a legacy one), takes its
    /// namespace (`-n`, else the file's, else the context's default) and
    /// the patience. Without a FILE nothing: `validate` refuses that.
    pub fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        let Some(path) = &self.given.path else {
            return Ok(());
        };
        let file = load(ctx, path)?;
        self.namespace = (self.given.target.namespace.clone()).or_else(|| file.namespace.clone());
        self.file = Some(file);
        if self.waits == Waits::Yes {
            self.patience = Some(self.given.patience(ctx)?);
        }
        Ok(())
    }

    /// Refuses a missing FILE; with `check_cluster`, a RayCluster that
    /// KubeRay would take badly (client-side checks); and a `-n` that
    /// disagrees with the file's own namespace.
    pub fn validate(&self, check_cluster: bool) -> Result<()> {
        self.given.file()?;
        let file = self.file();
        if check_cluster {
            file.check()?;
        }
        match (&self.given.target.namespace, &file.namespace) {
            (Some(flag), Some(own)) if flag != own => bail!(
                "{} puts RayCluster {} in namespace {own}, but --namespace says {flag}: \
                 drop one of them",
                file.path.display(),
                file.name
            ),
            _ => Ok(()),
        }
    }

    pub fn file(&self) -> &ClusterFile {
        self.file
            .as_ref()
            .expect("the FILE is read before the command runs")
    }

    pub fn ns(&self) -> Ns<'_> {
        Ns::or_current(self.namespace.as_deref())
    }

    pub fn kubectl<'a>(&'a self, ctx: &'a Ctx) -> Kubectl<'a> {
        Kubectl::new(&ctx.run, &self.given.target)
    }

    pub fn patience(&self) -> Patience {
        self.patience
            .expect("an operation that waits has its patience")
    }
}

/// Reads FILE, saying so when it is a legacy file.
fn load(ctx: &Ctx, path: &Path) -> Result<ClusterFile> {
    let file = ClusterFile::load(path)?;
    if file.converted.is_some() {
        ctx.ui.warn(&format!(
            "{} is a legacy cluster.ray.io/v1 RayCluster: using its KubeRay conversion \
             (`kubectl ray convert {}` prints it)",
            path.display(),
            path.display()
        ));
    }
    for note in &file.notes {
        ctx.ui.warn(note);
    }
    Ok(file)
}

/// The options of `==`, `++` and `--`: the operator, in the namespace `-n`
/// names (else kas.yaml's), and the patience.
pub struct OnOperator {
    pub given: Given,
    waits: Waits,
    patience: Option<Patience>,
}

impl OnOperator {
    pub fn new(given: Given, waits: Waits) -> OnOperator {
        OnOperator {
            given,
            waits,
            patience: None,
        }
    }

    /// The patience, for an operation that waits. With a FILE nothing:
    /// `validate` refuses that.
    pub fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        if self.given.path.is_none() && self.waits == Waits::Yes {
            self.patience = Some(self.given.patience(ctx)?);
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        self.given.no_file()
    }

    pub fn operator<'a>(&'a self, ctx: &'a Ctx) -> Operator<'a> {
        Operator::new(
            ctx,
            &self.given.target,
            self.given.target.namespace.as_deref(),
        )
    }

    pub fn patience(&self) -> Patience {
        self.patience
            .expect("an operation that waits has its patience")
    }
}

/// The options of `convert`: the FILE, read and parsed once.
pub struct OnFile {
    given: Given,
    file: Option<ClusterFile>,
}

impl OnFile {
    pub fn new(given: Given) -> OnFile {
        OnFile { given, file: None }
    }

    pub fn complete(&mut self) -> Result<()> {
        if let Some(path) = &self.given.path {
            self.file = Some(ClusterFile::load(path)?);
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        self.given.file().map(|_| ())
    }

    pub fn file(&self) -> &ClusterFile {
        self.file
            .as_ref()
            .expect("the FILE is read before the command runs")
    }
}
