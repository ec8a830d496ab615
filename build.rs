//! Build script: the version every binary prints, Cargo's version plus the
//! git commit it was built from when git and the repository are at hand
//! (a crate unpacked from an archive has neither, and says only the
//! version).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env!("CARGO_PKG_VERSION");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    // `.git` is a folder in a clone and a file in a worktree; without it
    // git would find an enclosing repository that is not this one.
    let commit = if root.join(".git").exists() {
        git(&["rev-parse", "--short", "HEAD"])
    } else {
        None
    };
    match commit {
        Some(commit) => {
            println!("cargo:rustc-env=KAS_VERSION={version} ({commit})");
            // Rebuild when HEAD moves: HEAD itself (a branch switch) and the
            // branch's ref (a commit), which a worktree keeps in the common
            // folder; packed-refs when the ref was packed.
            // A missing file would make Cargo rerun this on every build.
            let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(git(&["rev-parse", "--git-path", &branch]));
            }
            watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
            for path in watched.into_iter().flatten() {
                if root.join(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
        None => println!("cargo:rustc-env=KAS_VERSION={version}"),
    }
}
