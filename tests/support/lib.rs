//! What kas-infra's test suites share: the skip-or-fail rule for what a
//! test needs ([`need`]), the repository, free ports and the package's
//! binaries (here), scripted worlds for plan snapshots ([`world`],
//! [`kube_answers`]), a Kubernetes world over the emulator
//! ([`kube_world`], feature `kube-world`), a PATH whose CLIs record their arguments
//! ([`recorder`]), the publish-wheel sandbox ([`wheel`]) and the rows of
//! `kubectl ray get` tables ([`table`]) and a terminal to type into
//! ([`terminal`]).

pub mod kube_answers;
#[cfg(feature = "kube-world")]
pub mod kube_world;
pub mod need;
pub mod openapi;
pub mod recorder;
pub mod shared;
pub mod table;
pub mod terminal;
pub mod wheel;
pub mod world;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The repository's root folder (where `Cargo.toml` of kas-infra is).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .expect("tests/support is two levels below the repository")
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A binary of the kas-infra package, built by cargo for the integration
/// test that calls this (nextest names it in `NEXTEST_BIN_EXE_<name>`; cargo
/// puts it beside the test's own `deps/` folder).
pub fn bin(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(format!("NEXTEST_BIN_EXE_{name}")) {
        return path.into();
    }
    let test = std::env::current_exe().expect("the test knows its own path");
    let dir = test.parent().and_then(|deps| deps.parent());
    dir.expect("the test runs from target/<profile>/deps")
        .join(name)
}

/// Whether `check` holds within `limit`, asked every `every` (and once
/// more at the end, so a slow last poll is not lost).
pub fn within(limit: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(every);
    }
    check()
}
