//! The RayClusters the project ships (`yaml/k8s/`) and those the legacy
//! conversion makes are valid against the RayCluster CRD's schema, as the
//! API server would check them.

use kas_test_support as support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kas_infra::tools::kubectl_ray::ClusterFile;
use serde_json::Value;
use support::openapi::{crd_schema, validate};
use support::root;

fn schema() -> &'static Value {
    static CRD: OnceLock<Value> = OnceLock::new();
    let crd = CRD.get_or_init(|| {
        let text =
            std::fs::read_to_string(root().join("tests/fixtures/crds/ray.io_rayclusters.yaml"))
                .unwrap();
        serde_yaml::from_str(&text).unwrap()
    });
    crd_schema(crd, "v1")
}

fn as_json(value: &serde_yaml::Value) -> Value {
    serde_json::to_value(value).unwrap()
}

fn assert_valid(what: &str, cluster: &serde_yaml::Value) {
    let errors = validate(schema(), &as_json(cluster));
    assert!(
        errors.is_empty(),
        "{what} breaks the RayCluster schema:\n{}",
        errors.join("\n")
    );
}

fn shipped_clusters() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("yaml/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "ray-operator.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_cluster_is_a_valid_kuberay_raycluster() {
    let files = shipped_clusters();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "gke-cpu-only.yaml",
            "gke-gpu-head.yaml",
            "gke-gpu-only.yaml",
            "local-cpu-only.yaml"
        ]
    );
    for path in files {
        let file = ClusterFile::load(&path).unwrap();
        assert!(
            file.converted.is_none(),
            "{} is not ray.io/v1",
            path.display()
        );
        assert_valid(&path.display().to_string(), &file.cluster);
        // The client-side checks of `+` agree: nothing to refuse.
        file.check().unwrap();
    }
}

fn converted(path: &Path) -> serde_yaml::Value {
    let file = ClusterFile::load(path).unwrap();
    assert!(file.converted.is_some(), "{} is not legacy", path.display());
    file.cluster
}

#[test]
fn the_tests_own_legacy_file_converts_to_a_valid_raycluster() {
    let path = root().join("tests/fixtures/legacy/custom-resources.yaml");
    let cluster = converted(&path);
    assert_valid("the converted custom-resources.yaml", &cluster);
    let workers = &cluster["spec"]["workerGroupSpecs"][0];
    assert_eq!(
        workers["maxReplicas"], 4,
        "capped by the cluster's maxWorkers"
    );
    assert_eq!(
        workers["template"]["spec"]["tolerations"][0]["key"],
        "cloud.google.com/gke-spot"
    );
    assert_eq!(
        cluster["spec"]["autoscalerOptions"]["upscalingMode"],
        "Conservative"
    );
    assert_eq!(
        cluster["spec"]["headGroupSpec"]["rayStartParams"]["metrics-export-port"],
        "8080"
    );
}

#[test]
fn every_legacy_seed_converts_to_a_valid_raycluster() {
    let Some(files) = support::shared::legacy_cluster_files() else {
        return;
    };
    assert_eq!(files.len(), 4, "{files:?}");
    for path in files {
        assert_valid(
            &format!("the conversion of {}", path.display()),
            &converted(&path),
        );
        ClusterFile::load(&path).unwrap().check().unwrap();
    }
}

/// The shipped files are what the conversion makes of the old ones, so
/// they keep the old sizes, ports, GPUs, selectors, tolerations, secrets
/// and /dev/shm (their comments aside).
#[test]
fn shipped_clusters_are_the_conversions_of_the_old_files() {
    let Some(files) = support::shared::legacy_cluster_files() else {
        return;
    };
    for old in files {
        let name = old.file_name().unwrap();
        let new = ClusterFile::load(&root().join("yaml/k8s").join(name)).unwrap();
        assert_eq!(
            as_json(&new.cluster),
            as_json(&converted(&old)),
            "yaml/k8s/{} differs from `kubectl ray convert` of the old file",
            name.to_string_lossy()
        );
    }
}

/// The validator is not a rubber stamp: each kind of mistake is caught.
#[test]
fn the_validator_catches_mistakes() {
    let good = ClusterFile::load(&root().join("yaml/k8s/local-cpu-only.yaml"))
        .unwrap()
        .cluster;
    type BreakIt = Box<dyn Fn(&mut serde_yaml::Value)>;
    let mistakes: Vec<(&str, BreakIt, &str)> = vec![
        (
            "unknown field",
            Box::new(|c| c["spec"]["workerGroupSpec"] = serde_yaml::Value::Null),
            ".spec.workerGroupSpec: unknown field",
        ),
        (
            "wrong type",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["replicas"] = "two".into()),
            ".spec.workerGroupSpecs[0].replicas: expected integer, got string",
        ),
        (
            "missing required",
            Box::new(|c| {
                c["spec"]["workerGroupSpecs"][0]
                    .as_mapping_mut()
                    .unwrap()
                    .remove("groupName");
            }),
            ".spec.workerGroupSpecs[0]: missing required field `groupName`",
        ),
        (
            "enum",
            Box::new(|c| c["spec"]["autoscalerOptions"]["upscalingMode"] = "Fast".into()),
            ".spec.autoscalerOptions.upscalingMode: \"Fast\" is not one of",
        ),
        (
            "int-or-string",
            Box::new(|c| {
                c["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                    ["cpu"] = true.into()
            }),
            "limits.cpu: expected an integer or a string, got boolean",
        ),
        (
            "string map",
            Box::new(|c| c["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0.into()),
            "rayStartParams.num-cpus: expected string, got integer",
        ),
    ];
    assert!(validate(schema(), &as_json(&good)).is_empty());
    for (what, break_it, expected) in mistakes {
        let mut bad = good.clone();
        break_it(&mut bad);
        let errors = validate(schema(), &as_json(&bad));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
}
