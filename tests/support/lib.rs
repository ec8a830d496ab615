//! Shared by the kubectl-ray tests.

pub mod kube_answers;
pub mod openapi;
pub mod shared;
pub mod wheel;
pub mod world;

/// A binary of the kas-infra package, built by cargo for the integration
/// test that calls this (nextest names it in `NEXTEST_BIN_EXE_<name>`; cargo
/// puts it beside the test's own `deps/` folder).
pub fn bin(name: &str) -> std::path::PathBuf {
    if let Some(path) = std::env::var_os(format!("NEXTEST_BIN_EXE_{name}")) {
        return path.into();
    }
    let test = std::env::current_exe().expect("the test knows its own path");
    let dir = test.parent().and_then(|deps| deps.parent());
    dir.expect("the test runs from target/<profile>/deps")
        .join(name)
}
