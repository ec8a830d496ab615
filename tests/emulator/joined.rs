//! The two emulators as one emulated cloud (`kas-emulator` or
//! `kas-emulator all`): the Google Cloud APIs, and a Kubernetes API behind
//! every GKE cluster they create (its HTTPS endpoint and CA, so `gcloud
//! container clusters get-credentials`, then kubectl and helm through
//! `gke-gcloud-auth-plugin`, reach it with tokens from the GCP emulator).
//!
//! It also writes an emulated project folder: a `kas.yaml` for the
//! emulator's project (exported as `KAS_CONFIG`, so your own kas.yaml and
//! defaults stay as they are for real clouds), the KubeRay operator chart
//! that `kubectl ray ++` installs (a small stand-in carried in this binary,
//! so no internet is needed), its values, and a stand-in GPU driver
//! installer for `gke-cluster +`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::gcp::{self, GcpEmulator};
use crate::kube::KubeEmulator;

/// The stand-in KubeRay chart (tests/fixtures/charts/kuberay-operator).
const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        include_str!("../fixtures/charts/kuberay-operator/Chart.yaml"),
    ),
    (
        "values.yaml",
        include_str!("../fixtures/charts/kuberay-operator/values.yaml"),
    ),
    (
        "crds/ray.io_rayclusters.yaml",
        include_str!("../fixtures/charts/kuberay-operator/crds/ray.io_rayclusters.yaml"),
    ),
    (
        "crds/ray.io_rayjobs.yaml",
        include_str!("../fixtures/charts/kuberay-operator/crds/ray.io_rayjobs.yaml"),
    ),
    (
        "crds/ray.io_rayservices.yaml",
        include_str!("../fixtures/charts/kuberay-operator/crds/ray.io_rayservices.yaml"),
    ),
    (
        "templates/_helpers.tpl",
        include_str!("../fixtures/charts/kuberay-operator/templates/_helpers.tpl"),
    ),
    (
        "templates/deployment.yaml",
        include_str!("../fixtures/charts/kuberay-operator/templates/deployment.yaml"),
    ),
    (
        "templates/rbac.yaml",
        include_str!("../fixtures/charts/kuberay-operator/templates/rbac.yaml"),
    ),
    (
        "templates/service.yaml",
        include_str!("../fixtures/charts/kuberay-operator/templates/service.yaml"),
    ),
    (
        "templates/serviceaccount.yaml",
        include_str!("../fixtures/charts/kuberay-operator/templates/serviceaccount.yaml"),
    ),
];

const OPERATOR_VALUES: &str = include_str!("../../yaml/k8s/ray-operator.yaml");
/// The main job's cluster file, for runs outside a clone.
pub const GKE_CPU_ONLY: &str = include_str!("../../yaml/k8s/gke-cpu-only.yaml");

/// What `gke-cluster +` applies instead of NVIDIA's installer (on the
/// internet): a DaemonSet of the same name, which the emulator runs.
const GPU_DRIVER_INSTALLER: &str = "\
# Stand-in for NVIDIA's driver installer, for the emulated GKE cluster.
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: nvidia-driver-installer
  namespace: kube-system
spec:
  selector:
    matchLabels:
      name: nvidia-driver-installer
  template:
    metadata:
      labels:
        name: nvidia-driver-installer
    spec:
      containers:
      - name: pause
        image: registry.k8s.io/pause:3.10
";

/// GCP and Kubernetes emulators joined, with the emulated project folder.
/// Dropping it stops both (and every Ray process) and removes the folder.
pub struct Joined {
    pub gcp: GcpEmulator,
    pub kube: KubeEmulator,
    project: tempfile::TempDir,
}

impl Joined {
    /// Starts both; the GCP APIs on `port` (0: a free one), Ray behind the
    /// RayCluster pods when `ray` names an executable.
    pub fn start(port: u16, ray: Option<&Path>) -> Result<Joined> {
        let gcp = GcpEmulator::start_on(port, Some(gcp::HUMAN))?;
        gcp.bind("roles/owner", &format!("user:{}", gcp::HUMAN));
        let mut kube = KubeEmulator::start()?;
        if let Some(ray) = ray {
            kube = kube.with_ray(ray)?;
        }
        gcp.front_kube_api(kube.port())
            .context("cannot put the GKE endpoint before the Kubernetes emulator")?;
        let project = tempfile::Builder::new()
            .prefix("kas-emulated-project.")
            .tempdir()?;
        let joined = Joined { gcp, kube, project };
        joined.write_project()?;
        Ok(joined)
    }

    /// The emulated project folder (kas.yaml, chart, values, key file).
    pub fn project_dir(&self) -> &Path {
        self.project.path()
    }

    fn write_project(&self) -> Result<()> {
        let dir = self.project_dir();
        let chart = dir.join("charts/kuberay-operator");
        for (path, text) in CHART {
            let file = chart.join(path);
            std::fs::create_dir_all(file.parent().expect("a folder"))?;
            std::fs::write(&file, text)?;
        }
        std::fs::write(dir.join("ray-operator.yaml"), OPERATOR_VALUES)?;
        std::fs::write(dir.join("gpu-driver-installer.yaml"), GPU_DRIVER_INSTALLER)?;
        std::fs::write(dir.join("gke-cpu-only.yaml"), GKE_CPU_ONLY)?;
        let kas_yaml = format!(
            "# The emulated project of `kas-emulator` (removed when it stops).\n\
             gcloud:\n  configuration: {}\n  project: {}\n  region: {}\n  zone: {}\n\
             admin:\n  key_file: {}\n\
             gke:\n  gpu_driver_installer: {}\n\
             ray:\n  operator:\n    chart: {}\n    values: {}\n",
            gcp::CONFIGURATION,
            gcp::PROJECT,
            gcp::REGION,
            gcp::ZONE,
            dir.join("admin-key.json").display(),
            dir.join("gpu-driver-installer.yaml").display(),
            chart.display(),
            dir.join("ray-operator.yaml").display(),
        );
        std::fs::write(dir.join("kas.yaml"), kas_yaml)?;
        Ok(())
    }

    /// The variables the tools need: gcloud's (home, endpoints, the
    /// kubeconfig `get-credentials` writes), the project file, and kubectl's
    /// and helm's caches kept with the emulators.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.gcp.gcloud_env();
        let d = |sub: &str| self.kube.dir().join(sub).display().to_string();
        env.extend([
            (
                "KAS_CONFIG".to_string(),
                self.project_dir().join("kas.yaml").display().to_string(),
            ),
            ("KUBECACHEDIR".into(), d("kubectl-cache")),
            ("HELM_CACHE_HOME".into(), d("helm/cache")),
            ("HELM_CONFIG_HOME".into(), d("helm/config")),
            ("HELM_DATA_HOME".into(), d("helm/data")),
        ]);
        env
    }

    /// `export ...` lines for a shell's `eval`.
    pub fn shell_exports(&self) -> String {
        self.env()
            .iter()
            .map(|(k, v)| format!("export {k}='{}'\n", v.replace('\'', r"'\''")))
            .collect()
    }
}

/// The `ray` to back pods with: `--ray PATH`, else `KAS_EMULATOR_RAY`,
/// else `ray` on PATH (`None`: stand-in pods).
pub fn find_ray(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| which::which("ray").ok())
}

/// Said when no Ray is found.
pub const INSTALL_RAY: &str = "no Ray found (KAS_EMULATOR_RAY, --ray or `ray` on PATH): the Ray \
pods are stand-ins. For real Ray nodes behind them, install Ray 2.60 in a virtual environment and \
name it:\n    python3 -m venv ~/.venvs/ray && ~/.venvs/ray/bin/pip install 'ray[default]==2.60.0'\n    \
export KAS_EMULATOR_RAY=~/.venvs/ray/bin/ray";

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The chart carried in the binary is the whole test chart: a file
    /// added to the folder and not to [`super::CHART`] would be missing
    /// from the emulated project.
    #[test]
    fn the_embedded_chart_has_every_file_of_the_test_chart() {
        fn files(dir: &Path, base: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, base, found);
                } else {
                    let relative = path.strip_prefix(base).unwrap();
                    found.push(relative.to_str().unwrap().to_string());
                }
            }
        }
        let chart =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/charts/kuberay-operator");
        let mut on_disk = Vec::new();
        files(&chart, &chart, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = super::CHART.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }
}
