//! `publish-wheel [+|-|=]`: build the project's wheel from a clean copy of
//! its git tree and publish it to the `wheels` repository.
//!
//! The version is `pyproject.toml`'s without its local part, plus
//! `+SHORTCOMMIT` (`+`, the default) or not (`-`). A version the repository
//! already holds is refused before anything is built. The user's files are
//! never written: the version is set in the copy. The published version is
//! recorded in `$XDG_STATE_HOME/kas/PACKAGE-version` for `ray up` and
//! `kubectl ray`.

mod build;
pub mod pyproject;
pub mod repository;
pub mod version;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::app::cli::{Common, Ctx, Format, HasCommon, Outcome, Run, Tool};
use crate::app::grammar::OpSpec;
use crate::clis::git;
use crate::exec::cmd::Cmd;
use crate::exec::environment::Env;
use build::{FrontEnd, Uploader};
use pyproject::{PyProject, normalize_name};
use repository::{Credentials, Repository};
use version::Version;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// What would be published, and whether the repository has it.
    Status,
    /// Publish `VERSION+SHORTCOMMIT`.
    Commit,
    /// Publish `VERSION` itself.
    Release,
}

pub const OPS: &[OpSpec<Op>] = &[
    OpSpec {
        symbol: "+",
        words: &["publish"],
        op: Op::Commit,
        help: "publish VERSION+SHORTCOMMIT (the default when no operation is given)",
    },
    OpSpec {
        symbol: "-",
        words: &["release"],
        op: Op::Release,
        help: "publish VERSION itself, without a local part",
    },
    OpSpec {
        symbol: "=",
        words: &["status"],
        op: Op::Status,
        help: "show the version `+` would publish and whether the repository has it",
    },
];

#[derive(clap::Parser, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Build even with uncommitted changes (the work tree as it is; `+` then
    /// publishes VERSION+SHORTCOMMIT.dirty)
    #[arg(long)]
    pub allow_dirty: bool,
    /// The Python project's folder (default: the nearest pyproject.toml at or above this folder)
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Where to publish (default: wheel.repository in kas.yaml)
    #[arg(long, value_name = "URL")]
    pub repository: Option<String>,
}

impl HasCommon for Args {
    fn common(&self) -> &Common {
        &self.common
    }
}

pub const TOOL: Tool<Args, Op> = Tool {
    name: "publish-wheel",
    about: "Build the project's Python wheel from a clean copy of its git tree and publish it",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
publish-wheel                              # publish VERSION+SHORTCOMMIT (same as `+`)
publish-wheel -                            # publish VERSION itself
publish-wheel =                            # what `+` would publish, and whether it is there
publish-wheel --dry-run                    # the version, the files and the commands
publish-wheel --repository http://127.0.0.1:8080/
";

/// What git says about the tree.
struct Git {
    top: PathBuf,
    short_commit: String,
    /// `git status --porcelain` lines: changed and untracked files.
    changes: Vec<String>,
}

impl Git {
    fn read(ctx: &Ctx, start: &Path) -> Result<Git> {
        let dir = start.to_string_lossy().into_owned();
        let out = ctx.run.run(&git::top_and_short_head(start))?;
        if !out.success() {
            if git::says_not_a_repository(&out.stderr) {
                bail!(
                    "{dir} is not in a git work tree: publish-wheel builds from a clean copy of \
                     the committed tree and names versions after the commit; run it inside the \
                     project's git repository"
                );
            }
            if git::says_no_commit(&out.stderr) {
                bail!("the git repository at {dir} has no commit yet: commit the project first");
            }
            bail!("`git rev-parse` failed in {dir}: {}", out.stderr.trim());
        }
        let mut lines = out.stdout.lines();
        let (Some(top), Some(short_commit)) = (lines.next(), lines.next()) else {
            bail!("could not read `git rev-parse` output: {:?}", out.stdout);
        };
        let top = PathBuf::from(top);
        let status = ctx.run.check(&git::status_porcelain(&top))?;
        Ok(Git {
            top,
            short_commit: short_commit.trim().to_string(),
            changes: status.stdout.lines().map(str::to_string).collect(),
        })
    }
}

/// Where the published version is recorded for `ray up` and `kubectl ray`.
pub fn version_file(env: &Env, package: &str) -> PathBuf {
    let state = match env.non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".local/state"),
    };
    state.join("kas").join(format!("{package}-version"))
}

#[derive(Serialize)]
struct Status<'a> {
    package: &'a str,
    version: String,
    repository: &'a str,
    published: bool,
}

#[derive(Serialize)]
struct Published<'a> {
    package: &'a str,
    version: String,
    wheel: String,
    repository: &'a str,
    recorded_in: String,
}

fn run(ctx: &Ctx, op: Op, args: &Args) -> Result<Outcome> {
    let start = project_folder(args)?;
    let git = Git::read(ctx, &start)?;
    let project = PyProject::load(&PyProject::find(&start, &git.top)?)?;
    let package = &ctx.config.wheel.package;
    if normalize_name(&project.name) != normalize_name(package) {
        bail!(
            "{} names the package `{}`, but wheel.package in kas.yaml is `{package}`: \
             set `wheel: {{package: {}}}` in kas.yaml (or run in the right project)",
            project.path.display(),
            project.name,
            project.name
        );
    }
    let dirty = !git.changes.is_empty();
    let version = match op {
        Op::Release => project.version.public(),
        Op::Status | Op::Commit => {
            let label = if dirty && args.allow_dirty {
                format!("{}.dirty", git.short_commit)
            } else {
                git.short_commit.clone()
            };
            project.version.public().with_local(&label)?
        }
    };

    let template = args
        .repository
        .as_deref()
        .unwrap_or(&ctx.config.wheel.repository);
    let repository = Repository::resolve(template, ctx)?;
    if repository.is_artifact_registry() {
        ctx.check_gcloud_configuration()?;
    }

    if op == Op::Status {
        let published = is_published(ctx, &repository, package, &version)?;
        report_status(ctx, package, &version, &repository, published);
        return Ok(Outcome::Present(published));
    }
    if dirty && !args.allow_dirty {
        refuse_changes(&git)?;
    }

    // Every tool is found before anything runs, so a missing one costs nothing.
    let front_end = build::choose_front_end(&project)?;
    let uploader = build::choose_uploader()?;

    ctx.ui.progress(&format!(
        "publishing {package} {version} to {}",
        repository.url()
    ));
    if is_published(ctx, &repository, package, &version)? {
        bail!(
            "{package} {version} is already in {}: nothing was built. Commit a change (for a new \
             +SHORTCOMMIT) or raise the version in {}",
            repository.url(),
            project.path.display()
        );
    }

    let wheel = build_in_clean_copy(ctx, &git, &project, &version, front_end, |wheel| {
        upload(ctx, &repository, uploader, wheel)
    })?;
    record_and_report(ctx, package, &version, &wheel, &repository)?;
    Ok(Outcome::Done)
}

/// `--project-dir`, else the current folder, as an absolute path.
fn project_folder(args: &Args) -> Result<PathBuf> {
    let start = match &args.project_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("could not read the current folder")?,
    };
    start.canonicalize().with_context(|| {
        format!(
            "the project folder {} does not exist (check --project-dir)",
            start.display()
        )
    })
}

/// Refuses a work tree with uncommitted changes (the version names the
/// commit), listing the first ten.
fn refuse_changes(git: &Git) -> Result<()> {
    let shown: Vec<&str> = git.changes.iter().take(10).map(String::as_str).collect();
    let more = git.changes.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!("\n  ... and {more} more")
    } else {
        String::new()
    };
    bail!(
        "the work tree at {} has uncommitted changes:\n  {}{more}\ncommit them (the version \
         names the commit), or pass --allow-dirty to build the tree as it is",
        git.top.display(),
        shown.join("\n  ")
    )
}

/// Records the published version for `kubectl kas` and says what went where.
fn record_and_report(
    ctx: &Ctx,
    package: &str,
    version: &Version,
    wheel: &Path,
    repository: &Repository,
) -> Result<()> {
    let record = version_file(&ctx.env, package);
    ctx.run
        .act(&format!("record {version} in {}", record.display()), || {
            if let Some(dir) = record.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&record, format!("{version}\n"))?;
            Ok(())
        })?;
    // A plan published nothing: nothing to report.
    ctx.run.for_real(|| {
        match ctx.common.output {
            Format::Json => {
                let published = Published {
                    package,
                    version: version.to_string(),
                    wheel: wheel.display().to_string(),
                    repository: repository.url(),
                    recorded_in: record.display().to_string(),
                };
                ctx.ui
                    .say(&serde_json::to_string_pretty(&published).unwrap_or_default());
            }
            Format::Text => ctx.ui.say(&format!(
                "published {package} {version} ({}) to {}",
                wheel.display(),
                repository.url()
            )),
        }
        Ok(())
    })
}

fn is_published(
    ctx: &Ctx,
    repository: &Repository,
    package: &str,
    version: &Version,
) -> Result<bool> {
    // For another index the query may need the same account as the upload.
    let credentials = if repository.is_artifact_registry() {
        None
    } else {
        repository.credentials(ctx)?
    };
    let published = repository.published_versions(ctx, package, credentials.as_ref())?;
    Ok(published.iter().any(|p| p.same_as(version)))
}

fn report_status(
    ctx: &Ctx,
    package: &str,
    version: &Version,
    repository: &Repository,
    published: bool,
) {
    match ctx.common.output {
        Format::Json => {
            let status = Status {
                package,
                version: version.to_string(),
                repository: repository.url(),
                published,
            };
            ctx.ui
                .say(&serde_json::to_string_pretty(&status).unwrap_or_default());
        }
        Format::Text => {
            let state = if published {
                "published"
            } else {
                "not published"
            };
            ctx.ui.say(&format!(
                "{package} {version}: {state} in {}",
                repository.url()
            ));
        }
    }
}

/// Copies the tree to a temporary folder, sets the version there, builds,
/// and hands the wheel to `then` while the copy still exists. Returns the
/// wheel's file name.
fn build_in_clean_copy(
    ctx: &Ctx,
    git: &Git,
    project: &PyProject,
    version: &Version,
    front_end: FrontEnd,
    then: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let files = build::tree_files(ctx, &git.top)?;
    let scratch = tempfile::Builder::new()
        .prefix("publish-wheel.")
        .tempdir()
        .context("could not make a temporary folder for the build")?;
    let copy = scratch.path().join("src");
    let out_dir = scratch.path().join("dist");
    let rel = project
        .path
        .parent()
        .and_then(|p| p.strip_prefix(&git.top).ok())
        .unwrap_or(Path::new(""));
    let project_copy = if rel.as_os_str().is_empty() {
        copy.clone()
    } else {
        copy.join(rel)
    };
    let pyproject_copy = project_copy.join(pyproject::FILE_NAME);

    ctx.run.act(
        &format!(
            "copy the {} files of {} to {}",
            files.len(),
            git.top.display(),
            copy.display()
        ),
        || build::copy_files(&git.top, &files, &copy),
    )?;
    ctx.run.act(
        &format!(
            "set version = \"{version}\" in {}",
            pyproject_copy.display()
        ),
        || {
            let text = std::fs::read_to_string(&pyproject_copy)?;
            std::fs::write(&pyproject_copy, pyproject::with_version(&text, version)?)?;
            Ok(())
        },
    )?;

    let cmd = build::build_cmd(front_end, &project_copy, &out_dir);
    let out = ctx.run.run(&cmd)?;
    if !out.success() {
        if let Some(hint) = build::explain_build_failure(front_end, &out.stderr) {
            bail!("{hint}");
        }
        return Err(crate::exec::runner::CmdFailed {
            line: cmd.to_string(),
            output: out,
        })
        .context("the wheel build failed");
    }

    let wheel = ctx.run.planned_or(
        || {
            out_dir.join(build::expected_wheel_name(
                &project.name,
                &version.to_string(),
            ))
        },
        || {
            let wheel = build::built_wheel(&out_dir)?;
            check_wheel_version(&wheel, version)?;
            Ok(wheel)
        },
    )?;
    then(&wheel)?;
    Ok(wheel.file_name().map(PathBuf::from).unwrap_or_default())
}

/// A backend that ignores the static version would publish something else
/// than was checked: refuse.
fn check_wheel_version(wheel: &Path, version: &Version) -> Result<()> {
    let name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let built = name.split('-').nth(1).and_then(|v| Version::parse(v).ok());
    match built {
        Some(v) if v.same_as(version) => Ok(()),
        _ => bail!(
            "the build made {name}, whose version is not {version}: does the build backend \
             take its version from somewhere else than pyproject.toml?"
        ),
    }
}

fn upload(ctx: &Ctx, repository: &Repository, uploader: Uploader, wheel: &Path) -> Result<()> {
    let credentials = repository.credentials(ctx)?;
    let cmd = build::upload_cmd(uploader, repository.url(), wheel, credentials.as_ref());
    let out = ctx.run.run(&cmd)?;
    if out.success() {
        return Ok(());
    }
    let said = build::uploader_said(&out);
    if credentials.is_none() && build::missing_credentials(&said) {
        // Nothing set and nothing of the uploader's own (keyring, netrc,
        // .pypirc): an index open to all takes an anonymous upload, which
        // the uploaders only make with some user name.
        ctx.ui.progress(
            "no credentials are set and the uploader found none: uploading as `anonymous`, \
             as an open index takes it",
        );
        let anonymous = Credentials::anonymous();
        let cmd = build::upload_cmd(uploader, repository.url(), wheel, Some(&anonymous));
        let out = ctx.run.run(&cmd)?;
        if out.success() {
            return Ok(());
        }
        return Err(upload_failed(repository, &cmd, &out, Some(&anonymous)));
    }
    Err(upload_failed(repository, &cmd, &out, credentials.as_ref()))
}

/// The uploader's own explanation, and what to do when the index refused
/// the credentials; the password never appears.
fn upload_failed(
    repository: &Repository,
    cmd: &Cmd,
    out: &crate::exec::runner::Output,
    credentials: Option<&Credentials>,
) -> anyhow::Error {
    let mut said = build::uploader_said(out);
    if let Some(c) = credentials.filter(|c| !c.password.is_empty()) {
        said = said.replace(&c.password, "***");
    }
    let status = out
        .code
        .map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
    let hint = if build::refused(&said) {
        format!("\n{}", repository::refused_hint(credentials))
    } else {
        String::new()
    };
    let said = if said.is_empty() {
        "it printed nothing".to_string()
    } else {
        said
    };
    anyhow::anyhow!(
        "the upload to {} failed (`{cmd}`, {status}):\n{said}{hint}",
        repository.url()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_wheel_must_carry_the_checked_version() {
        let v = Version::parse("0.3.1+abc1234").unwrap();
        let ok = Path::new("/t/dist/attack_simulator-0.3.1+abc1234-py3-none-any.whl");
        assert!(check_wheel_version(ok, &v).is_ok());
        let other = Path::new("/t/dist/attack_simulator-0.3.1-py3-none-any.whl");
        let err = check_wheel_version(other, &v).unwrap_err().to_string();
        assert!(err.contains("whose version is not 0.3.1+abc1234"), "{err}");
    }

    #[test]
    fn the_version_file_follows_xdg() {
        let env = Env::from_pairs([("HOME", "/home/u")]);
        assert_eq!(
            version_file(&env, "attack-simulator"),
            PathBuf::from("/home/u/.local/state/kas/attack-simulator-version")
        );
        let env = Env::from_pairs([("HOME", "/home/u"), ("XDG_STATE_HOME", "/s")]);
        assert_eq!(
            version_file(&env, "attack-simulator"),
            PathBuf::from("/s/kas/attack-simulator-version")
        );
    }
}
