//! The Compute Engine cluster files (`yaml/gcp`) with the real Ray that CI
//! installs (`.ci/setup-python.sh`, `KAS_TEST_PYTHON_BIN`): Ray's own
//! `prepare_config` and `validate_config` accept each one without a warning,
//! the values shared with `kas.yaml` agree, and Ray's own GCP bootstrap
//! (`bootstrap_gcp`, what `ray up` runs before it creates an instance) runs
//! unchanged against the GCP emulator, followed by `ray-service-account`.
//! Ray's Google client speaks to Google's fixed hosts; it reaches the
//! emulator through the emulator's CONNECT proxy and test CA, named in the
//! environment variables the client reads (`HTTPS_PROXY`,
//! `HTTPLIB2_CA_CERTS`), with the admin account's key, whose token endpoint
//! is the emulator.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::emulator::gcp::{GcpEmulator, PROJECT, REGION, ZONE};
use crate::harness::Cloud;
use kas_infra::app::config::Config;
use kas_infra::tools::ray_service_account::cluster_files;
use serde_json::{Value, json};

const FILES: [&str; 3] = ["cpu-only", "gpu-head", "gpu-only"];
const AUTOSCALER: &str = "ray-autoscaler-sa-v1@test-project.iam.gserviceaccount.com";
const READER: &str = "ray-registry-reader-sa@test-project.iam.gserviceaccount.com";
const ADMIN: &str = "admin-123@test-project.iam.gserviceaccount.com";
/// What Ray's bootstrap grants its account (DEFAULT_SERVICE_ACCOUNT_ROLES).
const RAY_ROLES: [&str; 4] = [
    "roles/compute.admin",
    "roles/iam.roleViewer",
    "roles/iam.serviceAccountUser",
    "roles/storage.objectAdmin",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cluster_file(name: &str) -> PathBuf {
    repo().join("yaml/gcp").join(format!("{name}.yaml"))
}

/// The venv's python with Ray and Google's API client, or `None` (skip)
/// outside CI when there is none.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("KAS_TEST_PYTHON_BIN").map(|b| PathBuf::from(b).join("python"));
    let usable = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import ray, googleapiclient, socks, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if usable {
        return python;
    }
    let why = "these tests need KAS_TEST_PYTHON_BIN: a virtual environment's bin with \
               ray[default]==2.60.0, google-api-python-client and PySocks, as `.ci/setup-python.sh` makes it";
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

fn ray_check(python: &Path, args: &[&str], env: &[(String, String)]) -> (bool, Value, String) {
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/gce/ray_check.py"))
        .args(args)
        .env("RAY_USAGE_STATS_ENABLED", "0");
    // Only the proxy this test names: none inherited from the machine.
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let answer = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (out.status.success(), answer, format!("{stdout}{stderr}"))
}

fn parse(path: &Path) -> serde_yaml::Value {
    let text = std::fs::read_to_string(path).unwrap();
    // serde_yaml refuses a key given twice in one mapping (the old
    // gpu-only's second `scheduling` silently replaced the first).
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn ray_accepts_every_cluster_file_without_a_warning() {
    let Some(python) = python() else { return };
    let paths: Vec<String> = FILES
        .iter()
        .map(|f| cluster_file(f).to_string_lossy().into_owned())
        .collect();
    // The check itself can fail: a legacy `head_node` key, which Ray 2.60
    // drops with a warning (the old files had one).
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("legacy.yaml");
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    std::fs::write(&legacy, format!("{text}\nhead_node: {{}}\n")).unwrap();
    let mut args = vec!["validate"];
    args.extend(paths.iter().map(String::as_str));
    args.push(legacy.to_str().unwrap());
    let (ok, answer, output) = ray_check(&python, &args, &[]);
    assert!(ok, "{output}");
    for path in &paths {
        assert_eq!(
            answer[path],
            json!({"error": null, "logged": [], "printed": "", "warnings": []}),
            "{path}"
        );
    }
    let said = &answer[legacy.to_str().unwrap()]["logged"];
    assert!(
        said.to_string().contains("legacy field head_node"),
        "Ray's warning about a legacy key is collected: {answer}"
    );
}

#[test]
fn the_files_agree_with_kas_yaml() {
    // The repository's own kas.yaml, or the defaults when it has none.
    let config = Config::discover(None, None, repo()).unwrap();
    for name in FILES {
        let file = parse(&cluster_file(name));
        assert_eq!(
            cluster_files::disagreements(&config, &file),
            Vec::<String>::new(),
            "yaml/gcp/{name}.yaml and kas.yaml disagree: edit the file"
        );
    }
    // And a project of its own is told every place to edit.
    let other =
        Config::parse("gcloud: {project: elsewhere, region: us-central1, zone: us-central1-b}")
            .unwrap();
    let found = cluster_files::disagreements(&other, &parse(&cluster_file("gpu-only")));
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn the_files_are_written_for_ray_2_60_on_compute_engine() {
    for name in FILES {
        let path = cluster_file(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let file = parse(&path);
        let at = |key: &str| &file[key];
        // The header says what it makes and how to bring it up and down.
        assert!(text.starts_with("# "), "{name}");
        for command in [
            format!("ray up -y yaml/gcp/{name}.yaml"),
            format!("ray down -y yaml/gcp/{name}.yaml"),
            format!("ray dashboard yaml/gcp/{name}.yaml"),
        ] {
            assert!(text.contains(&command), "{name}: no `{command}`");
        }
        assert_eq!(at("cluster_name").as_str(), Some(name));
        assert!(
            at("head_node").is_null() && at("worker_nodes").is_null(),
            "{name}"
        );
        assert_eq!(
            at("docker")["pull_before_run"],
            serde_yaml::Value::Bool(true),
            "{name}"
        );
        let head = at("head_node_type").as_str().unwrap();
        let types = at("available_node_types").as_mapping().unwrap();
        assert!(types.contains_key(head), "{name}");
        for (type_name, node_type) in types {
            let type_name = type_name.as_str().unwrap();
            let config = &node_type["node_config"];
            let scheduling = &config["scheduling"];
            if type_name != head {
                assert_eq!(
                    scheduling["provisioningModel"].as_str(),
                    Some("SPOT"),
                    "{name}: {type_name}'s scheduling is an object with Spot"
                );
            }
            let image = config["disks"][0]["initializeParams"]["sourceImage"]
                .as_str()
                .unwrap();
            if config["guestAccelerators"].is_sequence() {
                assert_eq!(
                    scheduling["onHostMaintenance"].as_str(),
                    Some("TERMINATE"),
                    "{name}: {type_name} has a GPU"
                );
                assert!(
                    image.contains("common-cu128-"),
                    "{name}: {type_name}: {image}"
                );
            }
        }
        let commands = |key: &str| -> Vec<String> {
            at(key)
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        };
        assert!(
            commands("head_start_ray_commands")
                .iter()
                .any(|c| c.contains("ray start --head") && c.contains("--dashboard-host=0.0.0.0")),
            "{name}"
        );
        // Every pip install names exact versions.
        for key in [
            "setup_commands",
            "head_setup_commands",
            "worker_setup_commands",
        ] {
            for command in commands(key) {
                if let Some(rest) = command.split("pip install").nth(1) {
                    let packages: Vec<&str> = rest
                        .split_whitespace()
                        .filter(|w| !w.starts_with('-'))
                        .collect();
                    assert!(!packages.is_empty(), "{name}: {command}");
                    for p in packages {
                        assert!(
                            p.contains("=="),
                            "{name}: `{p}` is not pinned in `{command}`"
                        );
                    }
                }
            }
        }
    }
}

/// Prints the emulator's requests when the test fails.
struct LogOnFailure<'a>(&'a GcpEmulator);

impl Drop for LogOnFailure<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the emulator's requests:");
            for r in self.0.requests() {
                eprintln!(
                    "  {} -> {} ({})",
                    r.line(),
                    r.status,
                    r.principal.as_deref().unwrap_or("no principal")
                );
            }
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn rays_gcp_bootstrap_against_the_emulator_then_ray_service_account() {
    let Some(python) = python() else { return };
    let c = Cloud::new();
    let _log = LogOnFailure(&c.emu);
    let admin = c.run("admin-service-account", &["+"]);
    assert!(admin.ok(), "{admin}");
    // From here on every write needs a role that grants it, as on Google.
    c.emu.enforce_iam(true);
    let exports = c.run("admin-service-account", &["env"]);
    let key_file = exports
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("export GOOGLE_APPLICATION_CREDENTIALS="))
        .expect("env names the key")
        .trim_matches('\'')
        .to_string();
    let gcloud_env: BTreeMap<String, String> = c.emu.gcloud_env().into_iter().collect();
    let proxy = format!("http://127.0.0.1:{}", gcloud_env["CLOUDSDK_PROXY_PORT"]);
    let ca = c.emu.ca_file().to_string_lossy().into_owned();
    let home = c.home.path().to_string_lossy().into_owned();
    let env: Vec<(String, String)> = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key_file.as_str()),
        ("HOME", &home),
        // httplib2 (the API calls) reads the proxy and its CA from these;
        // the token request goes straight to the emulator's token_uri.
        ("HTTPS_PROXY", &proxy),
        ("https_proxy", &proxy),
        ("NO_PROXY", "127.0.0.1,localhost"),
        ("no_proxy", "127.0.0.1,localhost"),
        ("HTTPLIB2_CA_CERTS", &ca),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let file = cluster_file("cpu-only");
    let args = ["bootstrap", file.to_str().unwrap(), PROJECT, REGION, ZONE];
    c.reset_counts();
    let (ok, resolved, output) = ray_check(&python, &args, &env);
    assert!(ok, "Ray's bootstrap failed:\n{output}");
    let requests: Vec<String> = c
        .emu
        .requests()
        .iter()
        .map(|r| format!("{} -> {}", r.line(), r.status))
        .collect();
    eprintln!(
        "Ray's bootstrap sent {} requests:\n  {}",
        requests.len(),
        requests.join("\n  ")
    );
    // Every API call was the admin account's, through Google's hosts.
    for r in c.emu.api_requests() {
        assert_eq!(r.principal.as_deref(), Some(ADMIN), "{}", r.line());
    }

    // Ray's account, with Ray's roles.
    assert!(c.emu.service_account(AUTOSCALER).is_some());
    assert_eq!(
        sorted(c.emu.roles_of(&format!("serviceAccount:{AUTOSCALER}"))),
        RAY_ROLES
    );
    assert_eq!(
        resolved["head_service_accounts"][0]["email"], AUTOSCALER,
        "the head runs as Ray's account"
    );
    // The SSH key: project-wide metadata, and the private half here.
    let metadata = c.emu.state().project_metadata.clone();
    let keys = metadata["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "ssh-keys")
        .expect("an ssh-keys item")["value"]
        .as_str()
        .unwrap()
        .to_string();
    let private = PathBuf::from(resolved["ssh_private_key"].as_str().unwrap());
    assert!(
        private.starts_with(c.home.path().join(".ssh")),
        "{private:?}"
    );
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    let key_value = public.split_whitespace().nth(1).unwrap();
    assert_eq!(keys, format!("kas:ssh-rsa {key_value} kas"));
    // The network: the region's default subnetwork on every node type.
    for (name, interfaces) in resolved["network_interfaces"].as_object().unwrap() {
        let subnet = interfaces[0]["subnetwork"].as_str().unwrap_or_default();
        assert!(
            subnet.ends_with(&format!(
                "/projects/{PROJECT}/regions/{REGION}/subnetworks/default"
            )),
            "{name}: {interfaces}"
        );
    }

    // A second `ray up` finds everything in place and changes nothing.
    c.reset_counts();
    let (ok, _, output) = ray_check(&python, &args, &env);
    assert!(ok, "{output}");
    assert_eq!(c.mutations(), Vec::<String>::new());

    // Now ours: the reader, and the registry role on both.
    let up = c.run("ray-service-account", &["+"]);
    assert!(up.ok(), "{up}");
    let status = c.run("ray-service-account", &["="]);
    assert!(status.ok(), "{status}");
    let mut with_registry: Vec<&str> = RAY_ROLES.to_vec();
    with_registry.push("roles/artifactregistry.reader");
    with_registry.sort();
    assert_eq!(
        sorted(c.emu.roles_of(&format!("serviceAccount:{AUTOSCALER}"))),
        with_registry
    );
    assert_eq!(
        c.emu.roles_of(&format!("serviceAccount:{READER}")),
        ["roles/artifactregistry.reader"]
    );
    let report = format!("{}{}", status.stdout, status.stderr);
    for expected in [
        AUTOSCALER,
        READER,
        "roles/storage.objectAdmin",
        "roles/artifactregistry.reader",
    ] {
        assert!(report.contains(expected), "`=` names {expected}:\n{status}");
    }

    // `-` removes ours and leaves Ray's account with Ray's roles.
    let down = c.run("ray-service-account", &["-"]);
    assert!(down.ok(), "{down}");
    assert!(c.emu.service_account(READER).is_none());
    assert!(c.emu.service_account(AUTOSCALER).is_some());
    assert_eq!(
        sorted(c.emu.roles_of(&format!("serviceAccount:{AUTOSCALER}"))),
        RAY_ROLES
    );
    assert!(
        c.emu
            .roles_of(&format!("serviceAccount:{READER}"))
            .is_empty()
    );
}
