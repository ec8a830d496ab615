//! The SSH folder mounted into the container: `KAS_SSH_DIR`, default
//! `~/.ssh`, empty to mount none. It must be an absolute path to a folder
//! that holds at least one key `ssh-keygen -l` accepts; each rule has its
//! own error, and all are checked before docker runs.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::exec::cmd::Cmd;
use crate::exec::environment::Env;
use crate::exec::runner::Runner;

const HOW_TO_DISABLE: &str = "set KAS_SSH_DIR= (empty) to mount no SSH folder";

/// The folder to mount, or `None` when `KAS_SSH_DIR` is set and empty.
pub fn ssh_dir(env: &Env, run: &Runner) -> Result<Option<PathBuf>> {
    let dir = match env.get("KAS_SSH_DIR") {
        Some("") => return Ok(None),
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".ssh"),
    };
    if !dir.is_absolute() {
        bail!(
            "KAS_SSH_DIR must be an absolute path, not `{}`: use for example $HOME/.ssh, or {HOW_TO_DISABLE}",
            dir.display()
        );
    }
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        bail!(
            "the SSH folder {} {what} (KAS_SSH_DIR, default ~/.ssh): point KAS_SSH_DIR at the folder that holds your keys, or {HOW_TO_DISABLE}",
            dir.display()
        );
    }
    for candidate in key_candidates(&dir)? {
        let check = Cmd::query("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(path_arg(&candidate));
        if run.run(&check)?.success() {
            return Ok(Some(dir));
        }
    }
    bail!(
        "the SSH folder {} holds no key that `ssh-keygen -l` accepts: create one with `ssh-keygen -t ed25519`, point KAS_SSH_DIR at another folder, or {HOW_TO_DISABLE}",
        dir.display()
    )
}

/// Files that may be keys, the likeliest first (`id_*`, then `*.pub`),
/// leaving out files that are lists of other people's keys.
fn key_candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = file_name(p);
            !(name.starts_with("known_hosts")
                || name.starts_with("authorized_keys")
                || name == "config")
        })
        .collect();
    let rank = |p: &PathBuf| {
        let name = file_name(p);
        match (name.starts_with("id_"), name.ends_with(".pub")) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        }
    };
    files.sort_by_key(|p| (rank(p), p.clone()));
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
