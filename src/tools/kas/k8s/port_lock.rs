//! One forward's start, stop and listing at a time, per local port: an
//! advisory lock (`flock`) on `LOCAL.lock` in the state folder. Without
//! it, two `kfwd` started at the same instant both find no record (the
//! supervisor writes it only once it runs) and both start a supervisor.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Held until dropped; the kernel also lets go when the process ends.
pub struct PortLock {
    file: File,
    path: PathBuf,
}

pub fn lock_path(dir: &Path, local: u16) -> PathBuf {
    dir.join(format!("{local}.lock"))
}

impl PortLock {
    /// Waits for the lock of `local`, creating the state folder if needed.
    pub fn acquire(dir: &Path, local: u16) -> Result<PortLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let path = lock_path(dir, local);
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("could not open {}", path.display()))?;
            // SAFETY: flock on a descriptor this function owns.
            while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(err).with_context(|| format!("could not lock {}", path.display()));
                }
            }
            // The holder before us may have removed the file: our lock is
            // then on a file nobody else will open, so start again.
            let ours = file.metadata()?;
            match std::fs::metadata(&path) {
                Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {
                    return Ok(PortLock { file, path });
                }
                _ => continue,
            }
        }
    }

    /// Lets go and removes the lock file (nothing is forwarded on this
    /// port any more). Removed while still held, so the next holder
    /// notices and takes a fresh one.
    pub fn release_and_remove(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// The local ports that have a lock file (a start may be under way).
pub fn locked_ports(dir: &Path) -> Vec<u16> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ports: Vec<u16> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".lock")?.parse().ok()
        })
        .collect();
    ports.sort_unstable();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier, Mutex};

    #[test]
    fn holders_of_one_port_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let inside = Arc::new(Mutex::new((0u32, 0u32)));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (dir, inside, barrier) =
                    (dir.path().to_owned(), inside.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let lock = PortLock::acquire(&dir, 7000).unwrap();
                    {
                        let mut g = inside.lock().unwrap();
                        g.0 += 1;
                        g.1 = g.1.max(g.0);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.lock().unwrap().0 -= 1;
                    if i % 2 == 0 {
                        lock.release_and_remove();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(inside.lock().unwrap().1, 1, "never two holders at once");
    }
}
