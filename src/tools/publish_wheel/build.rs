//! Building the wheel from a clean copy of the tree, and uploading it, with
//! the standard front ends the project would use by hand. Nothing is
//! installed behind the user's back: a missing tool is an error that says
//! what to install.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::pyproject::PyProject;
use super::repository::{Credentials, TOKEN_USER};
use crate::app::cli::Ctx;
use crate::clis::git;
use crate::exec::cmd::Cmd;
use crate::exec::programs::locate;

/// The program that turns the source tree into a wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEnd {
    Poetry,
    Uv,
    /// `python3 -m build` (the PyPA `build` package).
    PythonBuild,
}

/// The program that sends the wheel to the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uploader {
    Uv,
    Twine,
}

fn on_path(program: &str) -> bool {
    locate(program).is_ok()
}

/// A poetry project is built by poetry when it is there; anything else by
/// `uv build`, else `python3 -m build` (both call the declared backend).
pub fn choose_front_end(project: &PyProject) -> Result<FrontEnd> {
    if project.uses_poetry && on_path("poetry") {
        return Ok(FrontEnd::Poetry);
    }
    if on_path("uv") {
        return Ok(FrontEnd::Uv);
    }
    if on_path("python3") {
        return Ok(FrontEnd::PythonBuild);
    }
    let poetry = if project.uses_poetry {
        "poetry (this is a poetry project), "
    } else {
        ""
    };
    bail!(
        "no wheel build tool found on PATH: install {poetry}uv, or python3 with the `build` \
         package (`python3 -m pip install build`)"
    )
}

pub fn choose_uploader() -> Result<Uploader> {
    if on_path("uv") {
        Ok(Uploader::Uv)
    } else if on_path("twine") {
        Ok(Uploader::Twine)
    } else {
        bail!(
            "no wheel upload tool found on PATH: install uv or twine (`python3 -m pip install twine`)"
        )
    }
}

/// The build, run in the project's folder of the clean copy.
pub fn build_cmd(front_end: FrontEnd, project_dir: &Path, out_dir: &Path) -> Cmd {
    let out = out_dir.to_string_lossy().into_owned();
    let cmd = match front_end {
        FrontEnd::Poetry => Cmd::mutation("poetry")
            .args(["build", "--no-interaction", "--format", "wheel", "--output"])
            .arg(out),
        FrontEnd::Uv => Cmd::mutation("uv")
            .args(["build", "--wheel", "--out-dir"])
            .arg(out),
        FrontEnd::PythonBuild => Cmd::mutation("python3")
            .args(["-m", "build", "--wheel", "--outdir"])
            .arg(out)
            .arg("."),
    };
    cmd.cwd(project_dir)
}

/// What a failed build means, when it is a missing tool rather than the
/// project's own error.
pub fn explain_build_failure(front_end: FrontEnd, stderr: &str) -> Option<&'static str> {
    (front_end == FrontEnd::PythonBuild && stderr.contains("No module named build")).then_some(
        "python3 has no `build` package: install uv, or the build package \
         (`python3 -m pip install build`)",
    )
}

/// The upload, credentials in the uploader's environment only.
pub fn upload_cmd(
    uploader: Uploader,
    url: &str,
    wheel: &Path,
    credentials: Option<&Credentials>,
) -> Cmd {
    let wheel = wheel.to_string_lossy().into_owned();
    let (cmd, user_var, password_var) = match uploader {
        Uploader::Uv => (
            // An explicit index: never the trusted-publishing dance, which
            // is for PyPI from CI and hides the real reason of a failure.
            Cmd::mutation("uv")
                .args(["publish", "--publish-url", url])
                .args(["--trusted-publishing", "never"])
                .arg(wheel),
            "UV_PUBLISH_USERNAME",
            "UV_PUBLISH_PASSWORD",
        ),
        Uploader::Twine => (
            Cmd::mutation("twine")
                .args(["upload", "--non-interactive", "--repository-url", url])
                .arg(wheel),
            "TWINE_USERNAME",
            "TWINE_PASSWORD",
        ),
    };
    match credentials {
        // uv takes a token on its own and refuses it beside a user name.
        Some(c) if uploader == Uploader::Uv && c.username == TOKEN_USER => {
            cmd.secret_env("UV_PUBLISH_TOKEN", &c.password)
        }
        Some(c) => {
            let cmd = if uploader == Uploader::Uv {
                cmd.env_remove("UV_PUBLISH_TOKEN")
            } else {
                cmd
            };
            cmd.env(user_var, &c.username)
                .secret_env(password_var, &c.password)
        }
        None => cmd,
    }
}

/// What an uploader said about a failure, from standard error and
/// standard output (twine prints its errors there), colours and progress
/// bars left out.
pub fn uploader_said(out: &crate::exec::runner::Output) -> String {
    let text = format!("{}\n{}", out.stderr, out.stdout);
    let text = strip_ansi(&text);
    let mut lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.contains('━'))
        .collect();
    // An index's error page can be long: its first lines say enough.
    const KEEP: usize = 12;
    let more = lines.len().saturating_sub(KEEP);
    lines.truncate(KEEP);
    let mut said = lines.join("\n");
    if more > 0 {
        said.push_str(&format!("\n({more} more lines)"));
    }
    said
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether the uploader gave up for want of any credentials (none set,
/// none of its own found), as opposed to credentials the index refused.
pub fn missing_credentials(said: &str) -> bool {
    said.contains("Missing credentials") || said.contains("Credential not found for username")
}

/// Whether the index refused the upload's credentials.
pub fn refused(said: &str) -> bool {
    [
        "401",
        "403",
        "Unauthorized",
        "Forbidden",
        "Invalid or non-existent authentication",
    ]
    .iter()
    .any(|w| said.contains(w))
}

/// The files of the work tree that git knows or would add: tracked ones and
/// untracked ones not ignored, relative to `top`.
pub fn tree_files(ctx: &Ctx, top: &Path) -> Result<Vec<PathBuf>> {
    let out = ctx.run.check(&git::files_known_or_addable(top))?;
    let mut files: Vec<PathBuf> = out
        .stdout
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .collect();
    files.dedup();
    Ok(files)
}

/// Copies `files` (relative to `top`) into `dest`. Files deleted in the
/// work tree are left out, as the build would not see them either.
pub fn copy_files(top: &Path, files: &[PathBuf], dest: &Path) -> Result<()> {
    for rel in files {
        copy_entry(&top.join(rel), &dest.join(rel))?;
    }
    Ok(())
}

fn copy_entry(from: &Path, to: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not make {}", parent.display()))?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from)?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, to)
            .with_context(|| format!("could not copy the link {}", from.display()))?;
    } else if meta.is_dir() {
        // A submodule: git lists its folder, not its files.
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_entry(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)
            .with_context(|| format!("could not copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// The one wheel the build left in `out_dir`.
pub fn built_wheel(out_dir: &Path) -> Result<PathBuf> {
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .with_context(|| format!("could not read {}", out_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    match wheels.len() {
        1 => Ok(wheels.remove(0)),
        0 => bail!(
            "the build finished but left no wheel in {}",
            out_dir.display()
        ),
        n => bail!(
            "the build left {n} wheels in {}, expected one",
            out_dir.display()
        ),
    }
}

/// The wheel's file name as the build will most likely write it, for
/// `--dry-run` (the tags are only known after the build).
pub fn expected_wheel_name(package: &str, version: &str) -> String {
    let name: String = super::pyproject::normalize_name(package).replace('-', "_");
    format!("{name}-{version}-*.whl")
}
