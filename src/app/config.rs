//! The project file `kas.yaml`: everything the old scripts hard-coded, with
//! their values as defaults. Found by walking up from the current folder;
//! `--config FILE` or `KAS_CONFIG` name another.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "kas.yaml";

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub gcloud: Gcloud,
    pub admin: Admin,
    pub gke: Gke,
    pub nat: Nat,
    pub registry: Registry,
    pub ray: Ray,
    pub wheel: Wheel,
    pub kas: Kas,
    /// The folder that holds `kas.yaml` (not a key: where it was found).
    #[serde(skip)]
    pub root: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Gcloud {
    /// The gcloud configuration every GCP tool insists is active (the
    /// scripts' `.alias`).
    pub configuration: String,
    /// Used by `admin-service-account +` to set up that configuration.
    pub project: String,
    pub region: String,
    pub zone: String,
}

impl Default for Gcloud {
    fn default() -> Self {
        Gcloud {
            configuration: "kas".into(),
            project: "sentience-reinforce".into(),
            region: "europe-west4".into(),
            zone: "europe-west4-a".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// The service account's name; its email is NAME@PROJECT.iam.gserviceaccount.com.
    pub account: String,
    /// Where its key goes; empty means `~/.CONFIGURATION-auth.json`.
    pub key_file: String,
    pub roles: Vec<String>,
    /// APIs enabled by `+` (never disabled by `-`).
    pub apis: Vec<String>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            account: "admin-123".into(),
            key_file: String::new(),
            roles: [
                "roles/compute.admin",
                "roles/container.admin",
                "roles/artifactregistry.admin",
                "roles/resourcemanager.projectIamAdmin",
                "roles/iam.serviceAccountAdmin",
                "roles/iam.serviceAccountUser",
            ]
            .map(String::from)
            .to_vec(),
            apis: [
                "compute.googleapis.com",
                "container.googleapis.com",
                "artifactregistry.googleapis.com",
                "cloudresourcemanager.googleapis.com",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Gke {
    pub cluster: String,
    pub network: String,
    pub subnetwork: String,
    pub release_channel: String,
    pub master_cidr: String,
    pub max_pods_per_node: u32,
    pub machine_type: String,
    pub disk_type: String,
    pub disk_size_gb: u32,
    pub num_nodes: u32,
    pub min_nodes: u32,
    pub max_nodes: u32,
    pub scopes: Vec<String>,
    pub autoprovisioning: Autoprovisioning,
    /// URL or path of the NVIDIA driver installer DaemonSet; empty: no step.
    pub gpu_driver_installer: String,
    /// Firewall rule for the pods' traffic; empty means `CLUSTER-default`.
    pub firewall_rule: String,
}

impl Default for Gke {
    fn default() -> Self {
        Gke {
            cluster: "x-ray".into(),
            network: "default".into(),
            subnetwork: "default".into(),
            release_channel: "regular".into(),
            master_cidr: "10.13.37.0/28".into(),
            max_pods_per_node: 32,
            machine_type: "e2-standard-2".into(),
            disk_type: "pd-standard".into(),
            disk_size_gb: 100,
            num_nodes: 1,
            min_nodes: 1,
            max_nodes: 16,
            scopes: vec!["cloud-platform".into()],
            autoprovisioning: Autoprovisioning::default(),
            gpu_driver_installer: "https://raw.githubusercontent.com/GoogleCloudPlatform/container-engine-accelerators/master/nvidia-driver-installer/ubuntu/daemonset-preloaded.yaml".into(),
            firewall_rule: String::new(),
        }
    }
}

impl Gke {
    pub fn firewall_rule(&self) -> String {
        if self.firewall_rule.is_empty() {
            format!("{}-default", self.cluster)
        } else {
            self.firewall_rule.clone()
        }
    }
}

/// Node auto-provisioning: per-node limits times `nodes`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Autoprovisioning {
    pub min_cpu_platform: String,
    pub image_type: String,
    pub cpus_per_node: u32,
    pub memory_gb_per_node: u32,
    pub gpus_per_node: u32,
    pub gpu_type: String,
    pub nodes: u32,
    pub scopes: Vec<String>,
}

impl Default for Autoprovisioning {
    fn default() -> Self {
        Autoprovisioning {
            min_cpu_platform: "Intel Skylake".into(),
            image_type: "UBUNTU_CONTAINERD".into(),
            cpus_per_node: 4,
            memory_gb_per_node: 15,
            gpus_per_node: 1,
            gpu_type: "nvidia-tesla-v100".into(),
            nodes: 16,
            scopes: [
                "https://www.googleapis.com/auth/logging.write",
                "https://www.googleapis.com/auth/monitoring",
                "https://www.googleapis.com/auth/devstorage.read_only",
                "https://www.googleapis.com/auth/compute",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Nat {
    pub router: String,
    pub name: String,
    pub network: String,
}

impl Default for Nat {
    fn default() -> Self {
        Nat {
            router: "router-default-x-ray-nat".into(),
            name: "default-x-ray-nat".into(),
            network: "default".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Registry {
    /// The Docker repository (format docker).
    pub images: String,
    /// The Python repository (format python).
    pub wheels: String,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            images: "images".into(),
            wheels: "wheels".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Ray {
    /// Created by Ray's own `ray up`, never by these tools.
    pub autoscaler_account: String,
    pub reader_account: String,
    pub reader_display_name: String,
    /// The KubeRay operator that `kubectl ray ++` installs with Helm.
    pub operator: RayOperator,
}

impl Default for Ray {
    fn default() -> Self {
        Ray {
            autoscaler_account: "ray-autoscaler-sa-v1".into(),
            reader_account: "ray-registry-reader-sa".into(),
            reader_display_name: "Ray registry reader service account".into(),
            operator: RayOperator::default(),
        }
    }
}

/// The KubeRay operator's Helm chart and where it goes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RayOperator {
    /// A chart name in `repository`, a local chart folder or archive, or an
    /// `oci://` reference.
    pub chart: String,
    /// The Helm repository that holds `chart` when it is a plain name.
    pub repository: String,
    /// The chart version (ignored for a local chart).
    pub version: String,
    /// The Helm release name.
    pub release: String,
    /// The namespace the operator runs in (created by `++`, deleted by `--`).
    pub namespace: String,
    /// Helm values file, relative to the folder of kas.yaml; empty: none.
    pub values: String,
}

/// The values file `kubectl ray ++` uses unless configured otherwise.
pub const DEFAULT_OPERATOR_VALUES: &str = "yaml/k8s/ray-operator.yaml";

impl Default for RayOperator {
    fn default() -> Self {
        RayOperator {
            chart: "kuberay-operator".into(),
            repository: "https://ray-project.github.io/kuberay-helm/".into(),
            // KubeRay's newest release line at the time of writing (v1.5,
            // December 2025; 1.5.1 completes its token authentication).
            version: "1.5.1".into(),
            release: "kuberay-operator".into(),
            // The old scripts' `operatorNamespace`.
            namespace: "ray".into(),
            values: DEFAULT_OPERATOR_VALUES.into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Wheel {
    /// The Python package `publish-wheel` builds and publishes.
    pub package: String,
    /// Where it goes. `LOCATION` and `PROJECT` are filled from gcloud's
    /// `artifacts/location` and `core/project`; any other package index's
    /// upload URL works too.
    pub repository: String,
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            package: "attack-simulator".into(),
            repository: "https://LOCATION-python.pkg.dev/PROJECT/wheels/".into(),
        }
    }
}

/// `kubectl kas`: the project's container image and how it runs locally.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Kas {
    /// Image and container name; a flavor `.F` makes it `NAME.F`.
    pub image: String,
    /// The Dockerfile, relative to the repository root.
    pub dockerfile: String,
    /// Where `push` sends images; empty means
    /// `LOCATION-docker.pkg.dev/PROJECT/IMAGES` from gcloud's properties.
    pub registry: String,
    /// `docker run --memory`.
    pub memory: String,
    /// `docker run --shm-size`; empty means a third of `memory`.
    pub shm_size: String,
    /// Host ports on 127.0.0.1 for the container's fixed ports.
    pub ports: KasPorts,
    /// The container's home; empty means the parent of the Dockerfile's
    /// last `WORKDIR`.
    pub home: String,
    /// Mounted read-only at HOME/.gitconfig when it exists; empty: not mounted.
    pub gitconfig: String,
    /// Holds the per-name bash and Python history files; empty: none mounted.
    pub history_dir: String,
    /// More `docker run --volume` values (`~` expanded).
    pub mounts: Vec<String>,
    /// What `shell` and a bare `exec` run.
    pub shell: String,
    /// How long `jlab` and `tboard` wait for the server's URL, in seconds.
    pub server_wait_seconds: u32,
    /// Kubernetes mode (`kubectl kas . ...`, `kfwd`).
    pub kubernetes: KasKubernetes,
}

/// Waits in Kubernetes mode.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KasKubernetes {
    /// How long to wait for the head pod to be Ready, in seconds.
    pub head_wait_seconds: u32,
    /// How long `kfwd` waits for the local port to answer, in seconds.
    pub forward_wait_seconds: u32,
}

impl Default for KasKubernetes {
    fn default() -> Self {
        KasKubernetes {
            head_wait_seconds: 600,
            forward_wait_seconds: 60,
        }
    }
}

impl Default for Kas {
    fn default() -> Self {
        Kas {
            image: "kas".into(),
            dockerfile: "Dockerfile".into(),
            registry: String::new(),
            memory: "8g".into(),
            shm_size: String::new(),
            ports: KasPorts::default(),
            home: String::new(),
            gitconfig: "~/.gitconfig".into(),
            history_dir: "~/.local/state/kas".into(),
            mounts: Vec::new(),
            shell: "bash".into(),
            server_wait_seconds: 120,
            kubernetes: KasKubernetes::default(),
        }
    }
}

/// Host ports (on 127.0.0.1) for the Ray dashboard (8265), TensorBoard
/// (6006) and JupyterLab (8888) inside the container.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KasPorts {
    pub dashboard: u16,
    pub tensorboard: u16,
    pub jupyterlab: u16,
}

impl Default for KasPorts {
    fn default() -> Self {
        KasPorts {
            dashboard: 8265,
            tensorboard: 6006,
            jupyterlab: 8888,
        }
    }
}

impl Config {
    /// Loads the file named by `explicit` (a `--config` flag), else by
    /// `KAS_CONFIG`, else the nearest `kas.yaml` above `cwd`, else defaults.
    pub fn discover(
        explicit: Option<&Path>,
        env_value: Option<&str>,
        cwd: &Path,
    ) -> Result<Config> {
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| env_value.filter(|v| !v.is_empty()).map(PathBuf::from));
        if let Some(path) = named {
            let shown = path.display();
            let source = if explicit.is_some() {
                "--config"
            } else {
                "KAS_CONFIG"
            };
            match std::fs::metadata(&path) {
                Err(_) => bail!("the configuration file {shown} does not exist: check {source}"),
                Ok(m) if m.is_dir() => bail!(
                    "{shown} is a folder: {source} names the project file itself, such as {}",
                    path.join(FILE_NAME).display()
                ),
                Ok(m) if !m.is_file() => {
                    bail!("{shown} is not a regular file: {source} names a kas.yaml file")
                }
                Ok(_) => return Config::load(&path),
            }
        }
        for dir in cwd.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_dir() {
                bail!(
                    "{} is a folder, not the project file: rename it, or name the file with --config",
                    candidate.display()
                );
            }
            if candidate.is_file() {
                return Config::load(&candidate);
            }
        }
        Ok(Config::default())
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let mut config = Config::parse(&text)
            .with_context(|| format!("{} is not a valid kas configuration", path.display()))?;
        config.root = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        crate::app::yaml::check_expansion(text, FILE_NAME)?;
        let config: Config = serde_yaml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// What the types cannot say: values gcloud would refuse late, or
    /// read differently from `=` and `+`.
    fn validate(&self) -> Result<()> {
        let master = &self.gke.master_cidr;
        let normal =
            crate::app::cidr::parse(master).map_err(|e| anyhow::anyhow!("gke.master_cidr: {e}"))?;
        if !normal.ends_with("/28") || normal.contains(':') {
            bail!(
                "gke.master_cidr is `{master}`: GKE needs an IPv4 /28 range for the control plane, such as 10.13.37.0/28"
            );
        }
        Ok(())
    }

    /// Where the project's images live as kas.yaml says it: `kas.registry`,
    /// else `REGION-docker.pkg.dev/PROJECT/IMAGES` from its gcloud and
    /// registry sections.
    pub fn image_registry(&self) -> String {
        if self.kas.registry.is_empty() {
            format!(
                "{}-docker.pkg.dev/{}/{}",
                self.gcloud.region, self.gcloud.project, self.registry.images
            )
        } else {
            self.kas.registry.trim_end_matches('/').to_string()
        }
    }

    /// The admin key file, with `~` expanded against `home`.
    pub fn admin_key_file(&self, home: &Path) -> PathBuf {
        let raw = if self.admin.key_file.is_empty() {
            format!("~/.{}-auth.json", self.gcloud.configuration)
        } else {
            self.admin.key_file.clone()
        };
        expand_home(&raw, home)
    }
}

/// `~/x` becomes `HOME/x`.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_scripts_values() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.gke.cluster, "x-ray");
        assert_eq!(c.gke.firewall_rule(), "x-ray-default");
        assert_eq!(c.admin.roles.len(), 6);
    }

    #[test]
    fn keys_override_defaults_and_typos_are_refused() {
        let c = Config::parse("gke:\n  cluster: y-ray\n  gpu_driver_installer: ''\n").unwrap();
        assert_eq!(c.gke.cluster, "y-ray");
        assert_eq!(c.gke.firewall_rule(), "y-ray-default");
        assert!(c.gke.gpu_driver_installer.is_empty());
        let err = Config::parse("gke:\n  clustr: y\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `clustr`"),
            "{err:#}"
        );
    }

    #[test]
    fn the_ray_operator_keys() {
        let c =
            Config::parse("ray:\n  operator:\n    chart: ./charts/k\n    values: ''\n").unwrap();
        assert_eq!(c.ray.operator.chart, "./charts/k");
        assert!(c.ray.operator.values.is_empty());
        assert_eq!(c.ray.operator.namespace, "ray", "the old operatorNamespace");
        assert_eq!(c.ray.operator.version, "1.5.1");
        assert_eq!(
            c.ray.reader_account, "ray-registry-reader-sa",
            "siblings keep defaults"
        );
        let err = Config::parse("ray:\n  operator:\n    namespce: x\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `namespce`"),
            "{err:#}"
        );
    }

    #[test]
    fn found_by_walking_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "gcloud:\n  configuration: lab\n",
        )
        .unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let c = Config::discover(None, None, &deep).unwrap();
        assert_eq!(c.gcloud.configuration, "lab");
        assert_eq!(c.root.unwrap(), dir.path().canonicalize().unwrap());
    }

    #[test]
    fn the_control_plane_range_is_checked() {
        let err = Config::parse("gke:\n  master_cidr: 10.13.37.5/28\n").unwrap_err();
        assert!(format!("{err:#}").contains("10.13.37.0/28"), "{err:#}");
        let err = Config::parse("gke:\n  master_cidr: 10.13.37.0/24\n").unwrap_err();
        assert!(format!("{err:#}").contains("IPv4 /28"), "{err:#}");
        Config::parse("gke:\n  master_cidr: 172.16.0.16/28\n").unwrap();
    }

    #[test]
    fn what_is_not_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::discover(Some(dir.path()), None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        let err = Config::discover(Some(Path::new("/dev/null")), None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let err = Config::discover(None, None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
    }

    #[test]
    fn a_named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::discover(None, Some("/nope/kas.yaml"), dir.path()).unwrap_err();
        assert!(err.to_string().contains("KAS_CONFIG"));
    }

    #[test]
    fn key_file_defaults_to_the_configuration_name() {
        let c = Config::default();
        assert_eq!(
            c.admin_key_file(Path::new("/home/u")),
            PathBuf::from("/home/u/.kas-auth.json")
        );
    }
}
