//! What every Docker-mode command derives from the configuration: the
//! image/container name, the repository root, the Dockerfile, the
//! container's home and the registry.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::app::cli::Ctx;
use crate::app::config::{Kas, expand_home};

use super::dockerfile;

/// What standard input is, which decides `docker run|exec` `-i` and `-t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdin {
    /// A person at a terminal: `-i -t`.
    Terminal,
    /// A pipe or a file with something to read: `-i`, so
    /// `echo cmd | kubectl kas shell` reaches the container.
    Data,
    /// Nothing to read (`/dev/null`, closed): neither.
    Nothing,
}

impl Stdin {
    pub fn of_process() -> Stdin {
        use std::io::IsTerminal;
        use std::os::unix::fs::FileTypeExt;
        if std::io::stdin().is_terminal() {
            return Stdin::Terminal;
        }
        match std::fs::metadata("/dev/stdin").map(|m| m.file_type()) {
            Ok(t) if t.is_fifo() || t.is_file() || t.is_socket() => Stdin::Data,
            _ => Stdin::Nothing,
        }
    }

    pub fn docker_flags(self) -> &'static [&'static str] {
        match self {
            Stdin::Terminal => &["-i", "-t"],
            Stdin::Data => &["-i"],
            Stdin::Nothing => &[],
        }
    }
}

pub struct Project<'a> {
    pub ctx: &'a Ctx,
    pub stdin: Stdin,
    /// `kas` or `kas.FLAVOR`: the image's and the container's name.
    pub name: String,
    pub cfg: &'a Kas,
}

impl<'a> Project<'a> {
    pub fn new(ctx: &'a Ctx, flavor: Option<&str>, stdin: Stdin) -> Project<'a> {
        let cfg = &ctx.config.kas;
        let name = match flavor {
            Some(f) => format!("{}.{f}", cfg.image),
            None => cfg.image.clone(),
        };
        Project {
            ctx,
            stdin,
            name,
            cfg,
        }
    }

    /// The build context: the folder of kas.yaml, else the nearest folder
    /// above this one that holds `.git`.
    pub fn root(&self) -> Result<PathBuf> {
        if let Some(root) = &self.ctx.config.root {
            return Ok(root.clone());
        }
        let cwd = std::env::current_dir()?;
        match cwd.ancestors().find(|d| d.join(".git").exists()) {
            Some(dir) => Ok(dir.to_path_buf()),
            None => bail!(
                "not inside the project: no kas.yaml or .git above {}; run kubectl kas from the repository, or name its kas.yaml with --config",
                cwd.display()
            ),
        }
    }

    pub fn dockerfile(&self) -> Result<PathBuf> {
        let path = self.root()?.join(&self.cfg.dockerfile);
        if !path.is_file() {
            bail!(
                "there is no Dockerfile at {}: set kas.dockerfile in kas.yaml (relative to the repository root)",
                path.display()
            );
        }
        Ok(path)
    }

    /// The container's home: kas.home, else the parent of the
    /// Dockerfile's final `WORKDIR`.
    pub fn home(&self) -> Result<String> {
        if !self.cfg.home.is_empty() {
            return Ok(self.cfg.home.trim_end_matches('/').to_string());
        }
        let path = self.dockerfile()?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let workdir =
            dockerfile::final_workdir(&text).with_context(|| format!("in {}", path.display()))?;
        Ok(dockerfile::home_of(workdir.as_deref()))
    }

    /// `REGISTRY/NAME`, where the registry is kas.registry or
    /// `LOCATION-docker.pkg.dev/PROJECT/IMAGES`.
    pub fn remote(&self) -> Result<String> {
        let registry = if self.cfg.registry.is_empty() {
            format!(
                "{}-docker.pkg.dev/{}/{}",
                self.ctx.artifacts_location()?,
                self.ctx.project()?,
                self.ctx.config.registry.images
            )
        } else {
            self.cfg.registry.trim_end_matches('/').to_string()
        };
        Ok(format!("{registry}/{}", self.name))
    }

    pub fn expand(&self, path: &str) -> PathBuf {
        expand_home(path, &self.ctx.env.home())
    }
}

/// A path as a docker argument.
pub fn show(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
