//! Typed git calls: the one place git commands are spelled and git's error
//! wording is read.

use std::path::Path;

use crate::exec::cmd::Cmd;

/// `git -C DIR ARGS...`, a read.
fn query_in<I, S>(dir: &Path, args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::query("git")
        .arg("-C")
        .arg(dir.to_string_lossy())
        .args(args)
}

/// `git rev-parse --show-toplevel --short HEAD`: the work tree's top
/// folder, then the short commit, one a line.
pub fn top_and_short_head(dir: &Path) -> Cmd {
    query_in(dir, ["rev-parse", "--show-toplevel", "--short", "HEAD"])
}

/// `git status --porcelain`: one line a changed or untracked file.
pub fn status_porcelain(dir: &Path) -> Cmd {
    query_in(dir, ["status", "--porcelain"])
}

/// `git ls-files -z --cached --others --exclude-standard`: the files git
/// knows or would add, NUL-separated.
pub fn files_known_or_addable(dir: &Path) -> Cmd {
    query_in(
        dir,
        [
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    )
}

/// git's answer outside a work tree.
pub fn says_not_a_repository(stderr: &str) -> bool {
    stderr.contains("not a git repository")
}

/// git's answer in a repository without a commit (`HEAD` is unborn).
pub fn says_no_commit(stderr: &str) -> bool {
    stderr.contains("HEAD")
}
