//! An advisory lock on a file (`flock`), held until dropped: serialises a
//! read-modify-write among this machine's runs. The kernel releases it when
//! the process ends, however it ends.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exec::environment::Env;

/// `$XDG_STATE_HOME/kas/locks`, else `~/.local/state/kas/locks`.
pub fn lock_dir(env: &Env) -> PathBuf {
    let base = match env.non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".local/state"),
    };
    base.join("kas").join("locks")
}

/// A held lock; dropping it (or the process ending) releases it.
pub struct FileLock {
    _file: File,
}

/// Waits for the exclusive lock on `path` (created when missing).
pub fn exclusive(path: &Path) -> Result<FileLock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("could not open the lock file {}", path.display()))?;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(FileLock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("could not lock {}", path.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.lock");
        let first = exclusive(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let _second = exclusive(&p).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }
}
