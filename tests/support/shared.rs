//! The project's `shared/` folder (reference data: the old scripts' YAML),
//! which sits beside the repository on the developers' machines and in CI.

use std::path::PathBuf;

/// `shared/`, from `KAS_SHARED_DIR` or beside the repository. Outside CI a
/// missing folder skips the caller (`None`); in CI it is a failure.
pub fn dir() -> Option<PathBuf> {
    let root = crate::root();
    let candidates = std::env::var_os("KAS_SHARED_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join("../shared"), root.join("../../shared")]);
    for dir in candidates {
        if dir.join("seed/yaml/k8s").is_dir() {
            return Some(dir);
        }
    }
    crate::need::missing(
        "the shared/ folder (seed/yaml/k8s) is not beside the repository: \
         set KAS_SHARED_DIR to it",
    );
    None
}

/// The old scripts' Kubernetes cluster files.
pub fn legacy_cluster_files() -> Option<Vec<PathBuf>> {
    let dir = dir()?.join("seed/yaml/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "ray-operator.yaml"))
        .collect();
    files.sort();
    Some(files)
}
