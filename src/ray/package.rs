//! A job's local working directory packaged the way Ray's job SDK does,
//! so a job submitted here finds the same package on the cluster as one
//! submitted with `ray job submit`: the name is `_ray_pkg_<hash>.zip`
//! with Ray's content hash (SHA-1 of each path and file, folded with XOR
//! into 8 bytes), the archive is an uncompressed zip of the files and
//! empty folders, and `.gitignore`/`.rayignore` files, Ray's default
//! excludes and the runtime env's `excludes` leave paths out.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha1::{Digest, Sha1};

use crate::exec::environment::Env;

/// What Ray leaves out of every working directory unless
/// `RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES` says otherwise.
pub const DEFAULT_EXCLUDES: &str = ".git,.venv,venv,__pycache__";
/// The largest package the cluster's object store takes (Ray's gRPC
/// message limit).
pub const MAX_SIZE: usize = 512 * 1024 * 1024;
const PREFIX: &str = "_ray_pkg_";

/// A package ready to upload: its name on the cluster and its bytes.
pub struct Package {
    /// `_ray_pkg_<hash>.zip`.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Package {
    /// The runtime env's reference to it: `gcs://NAME`.
    pub fn uri(&self) -> String {
        format!("gcs://{}", self.name)
    }
}

/// How Ray's SDK would package, from the environment it reads.
pub struct Rules {
    /// `.gitignore` files count (not when RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1).
    pub gitignore: bool,
    /// The default excludes and then the runtime env's.
    pub excludes: Vec<String>,
}

impl Rules {
    pub fn new(env: &Env, user_excludes: &[String]) -> Rules {
        let defaults = env
            .get("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES")
            .unwrap_or(DEFAULT_EXCLUDES);
        let mut excludes: Vec<String> = defaults
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        excludes.extend(user_excludes.iter().cloned());
        Rules {
            gitignore: env.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE") != Some("1"),
            excludes,
        }
    }
}

/// A working directory (a folder, or a `.zip` file used as it is).
pub fn working_dir(path: &Path, rules: &Rules) -> Result<Package> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("the working directory {} does not exist", path.display()))?;
    let package = if meta.is_dir() {
        folder(path, rules)?
    } else if path.extension().is_some_and(|e| e == "zip") {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        let hash = Sha1::digest(&bytes);
        Package {
            name: format!("{PREFIX}{}.zip", hex(&hash)),
            bytes,
        }
    } else {
        bail!(
            "the working directory {} must be a folder or a .zip file",
            path.display()
        );
    };
    if package.bytes.len() >= MAX_SIZE {
        bail!(
            "the working directory {} packs into {} MiB, more than the {} MiB a Ray cluster takes: \
             leave large files out with `excludes` in the runtime env or a .rayignore file",
            path.display(),
            package.bytes.len() / (1024 * 1024),
            MAX_SIZE / (1024 * 1024)
        );
    }
    Ok(package)
}

/// One ignore file's (or the excludes list's) patterns, relative to its
/// folder. A path is matched as Ray's pathspec does: the path itself as
/// a file, its parents as folders.
struct Matcher {
    base: PathBuf,
    rules: Gitignore,
}

impl Matcher {
    fn new(base: &Path, lines: &[String], from: &str) -> Result<Matcher> {
        let mut builder = GitignoreBuilder::new(base);
        for line in lines {
            builder
                .add_line(None, line)
                .with_context(|| format!("the pattern `{line}` in {from}"))?;
        }
        Ok(Matcher {
            base: base.to_path_buf(),
            rules: builder.build()?,
        })
    }

    fn excludes(&self, path: &Path) -> bool {
        match path.strip_prefix(&self.base) {
            Ok(rel) if !rel.as_os_str().is_empty() => self
                .rules
                .matched_path_or_any_parents(rel, false)
                .is_ignore(),
            _ => false,
        }
    }
}

/// The ignore files of one folder.
fn ignore_files(dir: &Path, gitignore: bool) -> Result<Vec<Matcher>> {
    let names: &[&str] = if gitignore {
        &[".gitignore", ".rayignore"]
    } else {
        &[".rayignore"]
    };
    let mut found = Vec::new();
    for name in names {
        let file = dir.join(name);
        if file.is_file() {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            found.push(Matcher::new(dir, &lines, &file.display().to_string())?);
        }
    }
    Ok(found)
}

/// Walks `path` as Ray does: each folder's ignore files apply below it;
/// an excluded path is skipped with everything under it.
fn travel(
    path: &Path,
    excludes: &mut Vec<Matcher>,
    gitignore: bool,
    visit: &mut dyn FnMut(&Path, bool) -> Result<()>,
) -> Result<()> {
    let is_dir = path.is_dir();
    let added = if is_dir {
        ignore_files(path, gitignore)?
    } else {
        Vec::new()
    };
    let count = added.len();
    excludes.extend(added);
    if !excludes.iter().any(|m| m.excludes(path)) {
        visit(path, is_dir)?;
        if is_dir {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("could not read {}", path.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            entries.sort();
            for entry in entries {
                travel(&entry, excludes, gitignore, visit)?;
            }
        }
    }
    excludes.truncate(excludes.len() - count);
    Ok(())
}

/// A path as Ray names it inside the package: relative, `.` for the root.
fn relative(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

fn folder(dir: &Path, rules: &Rules) -> Result<Package> {
    let root = std::path::absolute(dir)?;
    let mut excludes = vec![Matcher::new(&root, &rules.excludes, "the excludes")?];
    let mut hash = *b"00000000";
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    travel(
        &root,
        &mut excludes,
        rules.gitignore,
        &mut |path, is_dir| {
            let rel = relative(path, &root);
            let mut sha = Sha1::new();
            sha.update(rel.as_bytes());
            let content = if is_dir {
                None
            } else {
                // Ray hashes an unreadable file by its name alone.
                std::fs::read(path).ok()
            };
            if let Some(bytes) = &content {
                sha.update(bytes);
            }
            for (h, d) in hash.iter_mut().zip(sha.finalize().iter()) {
                *h ^= d;
            }
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path)?.permissions());
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(mode & 0o7777)
                .large_file(
                    content
                        .as_ref()
                        .is_some_and(|c| c.len() >= u32::MAX as usize),
                );
            if is_dir {
                let empty = std::fs::read_dir(path)?.next().is_none();
                if empty && rel != "." {
                    zip.add_directory(format!("{rel}/"), options)?;
                }
            } else {
                let bytes = content
                    .with_context(|| format!("could not read {} to package it", path.display()))?;
                zip.start_file(rel, options)?;
                zip.write_all(&bytes)?;
            }
            Ok(())
        },
    )?;
    let bytes = zip.finish()?.into_inner();
    Ok(Package {
        name: format!("{PREFIX}{}.zip", hex(&hash)),
        bytes,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(excludes: &[&str]) -> Rules {
        Rules {
            gitignore: true,
            excludes: excludes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn names(package: &Package) -> Vec<String> {
        let mut archive = zip::ZipArchive::new(Cursor::new(&package.bytes)).unwrap();
        let mut names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn excludes_and_ignore_files_leave_paths_out() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src/__pycache__")).unwrap();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        std::fs::write(d.join("script.py"), "print(1)\n").unwrap();
        std::fs::write(d.join("src/a.py"), "").unwrap();
        std::fs::write(d.join("src/__pycache__/a.pyc"), "").unwrap();
        std::fs::write(d.join("src/.rayignore"), "*.log\n").unwrap();
        std::fs::write(d.join("src/run.log"), "").unwrap();
        std::fs::write(d.join("data/big.bin"), "x").unwrap();
        std::fs::write(d.join(".gitignore"), "data/\n").unwrap();
        let package = working_dir(d, &rules(&["__pycache__", "*.tmp"])).unwrap();
        assert_eq!(
            names(&package),
            [
                ".gitignore",
                "empty/",
                "script.py",
                "src/.rayignore",
                "src/a.py"
            ]
        );
        assert!(package.name.starts_with("_ray_pkg_") && package.name.ends_with(".zip"));
        assert_eq!(package.name.len(), "_ray_pkg_".len() + 16 + 4);
        // Content-addressed: the same files give the same name, a change another.
        let again = working_dir(d, &rules(&["__pycache__", "*.tmp"])).unwrap();
        assert_eq!(again.name, package.name);
        std::fs::write(d.join("data/big.bin"), "changed, but excluded").unwrap();
        assert_eq!(
            working_dir(d, &rules(&["__pycache__"])).unwrap().name,
            package.name
        );
        std::fs::write(d.join("script.py"), "print(2)\n").unwrap();
        assert_ne!(
            working_dir(d, &rules(&["__pycache__"])).unwrap().name,
            package.name
        );
    }
}
