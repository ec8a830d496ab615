//! The GCP API emulator against the real `gcloud`: each test starts its own
//! emulator (and gcloud home), runs a few gcloud commands and checks both
//! what gcloud printed and what the emulator now holds.
//!
//! Needs `gcloud`, `openssl` and `python3` on PATH.

use kas_emulator as emulator;

use std::process::Command;

use emulator::gcp::{GcpEmulator, HUMAN, PROJECT, REGION, ZONE};
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "gcloud failed:\n{}", self.stderr);
        self
    }

    fn failed(self) -> Run {
        assert_ne!(self.code, 0, "gcloud should have failed:\n{}", self.stdout);
        self
    }
}

fn gcloud_on_path() {
    if which::which("gcloud").is_err() {
        panic!(
            "these tests run the real gcloud: install the Google Cloud SDK (Debian: google-cloud-cli)"
        );
    }
}

/// Runs the real gcloud against the emulator.
fn gcloud(emu: &GcpEmulator, args: &[&str]) -> Run {
    gcloud_on_path();
    let mut cmd = Command::new("gcloud");
    cmd.args(args);
    emu.apply_env(&mut cmd);
    let out = cmd.output().expect("running gcloud");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `gcloud iam service-accounts keys create KEY_FILE --iam-account EMAIL`.
fn create_key(emu: &GcpEmulator, email: &str, key_file: &std::path::Path) -> Run {
    let path = key_file.to_str().unwrap();
    gcloud(
        emu,
        &[
            "iam",
            "service-accounts",
            "keys",
            "create",
            path,
            "--iam-account",
            email,
        ],
    )
}

fn start() -> GcpEmulator {
    GcpEmulator::start().expect("starting the GCP emulator")
}

fn sa(name: &str) -> String {
    format!("{name}@{PROJECT}.iam.gserviceaccount.com")
}

#[test]
fn service_usage_lists_and_enables_apis() {
    let emu = start();
    let listed = gcloud(&emu, &["services", "list", "--enabled", "--format", "json"]).ok();
    assert_eq!(listed.json(), serde_json::json!([]));
    assert!(emu.mutating_requests().is_empty(), "a list changes nothing");

    gcloud(
        &emu,
        &[
            "services",
            "enable",
            "compute.googleapis.com",
            "container.googleapis.com",
        ],
    )
    .ok();
    assert_eq!(
        emu.enabled_services(),
        ["compute.googleapis.com", "container.googleapis.com"]
    );
    let lines: Vec<String> = emu.mutating_requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [format!(
            "POST /serviceusage/v1/projects/{PROJECT}/services:batchEnable"
        )]
    );
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.path.starts_with("/serviceusage/v1/operations/")),
        "gcloud waited on the operation"
    );

    let listed = gcloud(&emu, &["services", "list", "--enabled", "--format", "json"]).ok();
    let listed = listed.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["config"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["compute.googleapis.com", "container.googleapis.com"]
    );
}

#[test]
fn iam_policy_write_with_a_stale_etag_is_aborted() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("policy.json");
    let read = gcloud(
        &emu,
        &["projects", "get-iam-policy", PROJECT, "--format", "json"],
    )
    .ok();
    assert_eq!(read.json()["bindings"][0]["role"], "roles/owner");
    std::fs::write(&stale, &read.stdout).unwrap();

    // Someone else changes the policy in between.
    gcloud(
        &emu,
        &[
            "projects",
            "add-iam-policy-binding",
            PROJECT,
            "--member",
            "user:other@example.com",
            "--role",
            "roles/viewer",
            "--condition=None",
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(emu.roles_of("user:other@example.com"), ["roles/viewer"]);

    let write = gcloud(
        &emu,
        &[
            "projects",
            "set-iam-policy",
            PROJECT,
            stale.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .failed();
    assert!(
        write.stderr.contains("concurrent policy changes"),
        "{}",
        write.stderr
    );
    let last = emu.requests().pop().unwrap();
    assert_eq!(
        (last.path.ends_with(":setIamPolicy"), last.status),
        (true, 409)
    );
    assert_eq!(
        emu.roles_of("user:other@example.com"),
        ["roles/viewer"],
        "the stale write changed nothing"
    );
}

#[test]
fn service_accounts_keys_and_offline_activation() {
    let emu = start();
    let email = sa("admin-123");
    gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "create",
            "admin-123",
            "--display-name",
            "Administrator",
        ],
    )
    .ok();
    assert_eq!(emu.service_accounts(), std::slice::from_ref(&email));
    assert_eq!(
        emu.service_account(&email).unwrap()["displayName"],
        "Administrator"
    );

    let again = gcloud(&emu, &["iam", "service-accounts", "create", "admin-123"]).failed();
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    create_key(&emu, &email, &key_file).ok();
    let key: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(key["client_email"], email.as_str());
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .contains("BEGIN PRIVATE KEY")
    );
    assert_eq!(emu.keys_of(&email).len(), 1);

    let keys = gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "keys",
            "list",
            "--iam-account",
            &email,
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(keys.json().as_array().unwrap().len(), 1);

    // The key is real: gcloud signs an assertion that the emulator checks.
    gcloud(
        &emu,
        &[
            "auth",
            "activate-service-account",
            "--key-file",
            key_file.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    )
    .ok();
    let token = gcloud(&emu, &["auth", "print-access-token"]).ok();
    assert_eq!(
        emu.state().tokens.get(token.stdout.trim()),
        Some(&email),
        "the token was issued to the service account"
    );
    let accounts = gcloud(&emu, &["auth", "list", "--format", "json"])
        .ok()
        .json();
    let active: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "ACTIVE")
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(active, [email.as_str()]);
}

#[test]
fn a_forged_key_gets_no_token() {
    let emu = start();
    let email = emu.add_service_account("forged-sa", "");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    create_key(&emu, &email, &key_file).ok();
    // Same key id, another private key: the signature no longer verifies.
    let mut key: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    let (other, _) = emulator::gcp::crypto::rsa_key_pair().unwrap();
    key["private_key"] = Value::String(other);
    std::fs::write(&key_file, key.to_string()).unwrap();
    let run = gcloud(
        &emu,
        &[
            "auth",
            "activate-service-account",
            "--key-file",
            key_file.to_str().unwrap(),
        ],
    )
    .failed();
    assert!(
        run.stderr.contains("Invalid JWT Signature"),
        "{}",
        run.stderr
    );
}

#[test]
fn deleting_a_service_account_keeps_its_bindings_renamed() {
    let emu = start();
    let email = emu.add_service_account("ray-registry-reader-sa", "reader");
    emu.bind(
        "roles/artifactregistry.reader",
        &format!("serviceAccount:{email}"),
    );
    let described = gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "describe",
            &email,
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(described.json()["email"], email.as_str());
    gcloud(
        &emu,
        &["iam", "service-accounts", "delete", &email, "--quiet"],
    )
    .ok();
    assert!(emu.service_accounts().is_empty());
    assert!(emu.roles_of(&format!("serviceAccount:{email}")).is_empty());
    let members = emu.state().members_of("roles/artifactregistry.reader");
    assert_eq!(members.len(), 1);
    assert!(members[0].starts_with(&format!("deleted:serviceAccount:{email}?uid=")));

    let gone = gcloud(&emu, &["iam", "service-accounts", "describe", &email]).failed();
    assert!(gone.stderr.contains("NOT_FOUND"), "{}", gone.stderr);
}

#[test]
fn a_human_account_from_credentials_db_lists_refreshes_and_revokes() {
    let emu = GcpEmulator::start_logged_out().unwrap();
    let none = gcloud(&emu, &["auth", "list", "--format", "json"]).ok();
    assert_eq!(none.json(), serde_json::json!([]));

    emu.add_human_account("alice@example.com").unwrap();
    emu.set_active_account(Some("alice@example.com")).unwrap();
    let listed = gcloud(&emu, &["auth", "list", "--format", "json"])
        .ok()
        .json();
    assert_eq!(listed[0]["account"], "alice@example.com");
    assert_eq!(listed[0]["status"], "ACTIVE");

    let token = gcloud(&emu, &["auth", "print-access-token"]).ok();
    assert_eq!(
        emu.state()
            .tokens
            .get(token.stdout.trim())
            .map(String::as_str),
        Some("alice@example.com")
    );

    // Revoking goes to Google's fixed URL, through the emulator's proxy.
    gcloud(&emu, &["auth", "revoke", "alice@example.com"]).ok();
    assert!(emu.human_revoked("alice@example.com"));
    let after = gcloud(&emu, &["auth", "list", "--format", "json"]).ok();
    assert_eq!(after.json(), serde_json::json!([]));
    let revoke = emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/revoke")
        .unwrap();
    assert_eq!(revoke.query, "token=***", "the log keeps no token");
}

#[test]
fn artifact_registry_repositories() {
    let emu = start();
    let loc = ["--location", REGION];
    gcloud(
        &emu,
        &[
            &[
                "artifacts",
                "repositories",
                "create",
                "images",
                "--repository-format",
                "docker",
            ][..],
            &loc,
        ]
        .concat(),
    )
    .ok();
    gcloud(
        &emu,
        &[
            &[
                "artifacts",
                "repositories",
                "create",
                "wheels",
                "--repository-format",
                "python",
            ][..],
            &loc,
        ]
        .concat(),
    )
    .ok();
    assert_eq!(emu.repositories(), ["images", "wheels"]);
    assert_eq!(emu.repository("images").unwrap()["format"], "DOCKER");
    assert_eq!(emu.repository("wheels").unwrap()["format"], "PYTHON");

    let again = gcloud(
        &emu,
        &[
            &[
                "artifacts",
                "repositories",
                "create",
                "images",
                "--repository-format",
                "docker",
            ][..],
            &loc,
        ]
        .concat(),
    )
    .failed();
    assert!(again.stderr.contains("ALREADY_EXISTS"), "{}", again.stderr);

    let listed = gcloud(
        &emu,
        &[
            &["artifacts", "repositories", "list", "--format", "json"][..],
            &loc,
        ]
        .concat(),
    )
    .ok();
    assert_eq!(listed.json().as_array().unwrap().len(), 2);

    gcloud(
        &emu,
        &[
            &["artifacts", "repositories", "delete", "wheels", "--quiet"][..],
            &loc,
        ]
        .concat(),
    )
    .ok();
    assert_eq!(emu.repositories(), ["images"]);
    let gone = gcloud(
        &emu,
        &[
            &["artifacts", "repositories", "describe", "wheels"][..],
            &loc,
        ]
        .concat(),
    )
    .failed();
    assert!(gone.stderr.contains("NOT_FOUND"), "{}", gone.stderr);
}

#[test]
fn artifact_registry_versions_and_docker_images() {
    let emu = start();
    emu.add_repository("images", "DOCKER");
    emu.add_repository("wheels", "PYTHON");
    let (old, new) = (
        format!("sha256:{}", "a".repeat(64)),
        format!("sha256:{}", "b".repeat(64)),
    );
    emu.add_version_at(
        "images",
        "kas",
        &old,
        &["2024-01", "stable"],
        "2024-01-02T03:04:05Z",
    );
    emu.add_version("images", "kas", &new, &["latest"]);
    emu.add_version("wheels", "attack-simulator", "1.2.3", &[]);
    emu.add_version("wheels", "attack-simulator", "1.2.4+abc1234", &[]);

    let versions = gcloud(
        &emu,
        &[
            "artifacts",
            "versions",
            "list",
            "--package",
            "attack-simulator",
            "--repository",
            "wheels",
            "--location",
            REGION,
            "--format",
            "json",
        ],
    )
    .ok();
    let names: Vec<String> = versions
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["1.2.3", "1.2.4+abc1234"]);

    let image = format!("{REGION}-docker.pkg.dev/{PROJECT}/images/kas");
    let images = gcloud(
        &emu,
        &[
            "artifacts",
            "docker",
            "images",
            "list",
            &image,
            "--include-tags",
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    let listed: Vec<(String, Value)> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["version"].as_str().unwrap().to_string(),
                i["tags"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (old.clone(), serde_json::json!(["2024-01", "stable"])),
            (new.clone(), serde_json::json!(["latest"]))
        ]
    );

    let tags = gcloud(
        &emu,
        &[
            "artifacts",
            "docker",
            "tags",
            "list",
            &image,
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    let tags: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(tags, ["2024-01", "latest", "stable"]);

    gcloud(
        &emu,
        &[
            "artifacts",
            "docker",
            "images",
            "delete",
            &format!("{image}@{old}"),
            "--delete-tags",
            "--quiet",
        ],
    )
    .ok();
    let left = emu.versions("images", "kas");
    assert_eq!(left.keys().collect::<Vec<_>>(), [&new]);
    assert_eq!(left[&new], ["latest"]);
}

const CREATE: &[&str] = &[
    "container",
    "clusters",
    "create",
    "x-ray",
    "--zone",
    ZONE,
    "--network",
    "default",
    "--subnetwork",
    "default",
    "--release-channel",
    "regular",
    "--enable-private-nodes",
    "--enable-ip-alias",
    "--enable-master-authorized-networks",
    "--master-authorized-networks",
    "203.0.113.7/32",
    "--master-ipv4-cidr",
    "10.13.37.0/28",
    "--default-max-pods-per-node",
    "32",
    "--machine-type",
    "e2-standard-2",
    "--disk-type",
    "pd-standard",
    "--disk-size",
    "100",
    "--num-nodes",
    "1",
    "--enable-autoscaling",
    "--min-nodes",
    "1",
    "--max-nodes",
    "16",
    "--scopes",
    "cloud-platform",
    "--enable-autoprovisioning",
    "--autoprovisioning-min-cpu-platform",
    "Intel Skylake",
    "--autoprovisioning-image-type",
    "UBUNTU_CONTAINERD",
    "--min-cpu",
    "0",
    "--max-cpu",
    "64",
    "--min-memory",
    "0",
    "--max-memory",
    "240",
    "--max-accelerator",
    "type=nvidia-tesla-v100,count=16",
    "--autoprovisioning-scopes",
    "https://www.googleapis.com/auth/logging.write,https://www.googleapis.com/auth/monitoring,https://www.googleapis.com/auth/devstorage.read_only,https://www.googleapis.com/auth/compute",
    "--format",
    "json",
];

#[test]
fn gke_cluster_create_credentials_update_delete() {
    let emu = start();
    let listed = gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "list",
            "--zone",
            ZONE,
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(listed.json(), serde_json::json!([]));

    gcloud(&emu, CREATE).ok();
    let c = emu.cluster("x-ray").expect("created");
    assert_eq!(c["status"], "RUNNING", "the operation completed");
    assert_eq!(emu.authorized_networks("x-ray"), ["203.0.113.7/32"]);
    assert_eq!(c["privateClusterConfig"]["enablePrivateNodes"], true);
    assert_eq!(
        c["privateClusterConfig"]["masterIpv4CidrBlock"],
        "10.13.37.0/28"
    );
    assert_eq!(c["ipAllocationPolicy"]["useIpAliases"], true);
    assert_eq!(c["releaseChannel"]["channel"], "REGULAR");
    assert_eq!(c["defaultMaxPodsConstraint"]["maxPodsPerNode"], "32");
    let pool = &c["nodePools"][0];
    assert_eq!(pool["config"]["machineType"], "e2-standard-2");
    assert_eq!(pool["config"]["diskType"], "pd-standard");
    assert_eq!(pool["config"]["diskSizeGb"], 100);
    assert_eq!(pool["autoscaling"]["maxNodeCount"], 16);
    let limits = &c["autoscaling"]["resourceLimits"];
    assert!(
        limits
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["resourceType"] == "nvidia-tesla-v100" && l["maximum"] == "16")
    );
    assert_eq!(
        c["autoscaling"]["autoprovisioningNodePoolDefaults"]["minCpuPlatform"],
        "Intel Skylake"
    );
    assert!(c["clusterIpv4Cidr"].as_str().unwrap().ends_with("/14"));
    let polls = emu
        .requests()
        .iter()
        .filter(|r| r.path.contains("/operations/"))
        .count();
    assert!(polls >= 1, "gcloud polled the operation");

    // create already wrote a kubeconfig entry; get-credentials rewrites it.
    gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "get-credentials",
            "x-ray",
            "--zone",
            ZONE,
        ],
    )
    .ok();
    let kubeconfig = std::fs::read_to_string(emu.kubeconfig()).unwrap();
    assert!(
        kubeconfig.contains("server: https://203.0.113.100"),
        "{kubeconfig}"
    );
    assert!(
        kubeconfig.contains(&format!("gke_{PROJECT}_{ZONE}_x-ray")),
        "{kubeconfig}"
    );
    assert!(
        kubeconfig.contains("gke-gcloud-auth-plugin"),
        "{kubeconfig}"
    );

    gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "update",
            "x-ray",
            "--zone",
            ZONE,
            "--enable-master-authorized-networks",
            "--master-authorized-networks",
            "203.0.113.7/32,198.51.100.0/24",
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(
        emu.authorized_networks("x-ray"),
        ["203.0.113.7/32", "198.51.100.0/24"]
    );
    gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "update",
            "x-ray",
            "--zone",
            ZONE,
            "--enable-master-authorized-networks",
            "--format",
            "json",
        ],
    )
    .ok();
    assert!(emu.authorized_networks("x-ray").is_empty());
    assert_eq!(
        emu.cluster("x-ray").unwrap()["masterAuthorizedNetworksConfig"]["enabled"],
        true
    );

    let dup = gcloud(&emu, CREATE).failed();
    assert!(dup.stderr.contains("Already exists"), "{}", dup.stderr);

    gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "delete",
            "x-ray",
            "--zone",
            ZONE,
            "--quiet",
        ],
    )
    .ok();
    assert!(emu.clusters().is_empty());
    let gone = gcloud(
        &emu,
        &["container", "clusters", "describe", "x-ray", "--zone", ZONE],
    )
    .failed();
    assert!(gone.stderr.contains("code=404"), "{}", gone.stderr);
}

#[test]
fn compute_firewall_rules_with_a_slow_operation() {
    let emu = start();
    emu.set_operation_polls(3);
    let pod_range = emu.add_cluster("x-ray", &["203.0.113.7/32"]);
    gcloud(
        &emu,
        &[
            "compute",
            "firewall-rules",
            "create",
            "x-ray-default",
            "--network",
            "default",
            "--direction",
            "INGRESS",
            "--allow",
            "all",
            "--source-ranges",
            &pod_range,
            "--format",
            "json",
        ],
    )
    .ok();
    let waits = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/wait"))
        .count();
    assert_eq!(waits, 3, "gcloud waited until the operation was done");
    let fw = emu.firewall("x-ray-default").unwrap();
    assert_eq!(fw["sourceRanges"], serde_json::json!([pod_range]));
    assert_eq!(fw["allowed"], serde_json::json!([{"IPProtocol": "all"}]));
    assert!(
        fw["network"]
            .as_str()
            .unwrap()
            .ends_with("/global/networks/default")
    );

    let again = gcloud(
        &emu,
        &[
            "compute",
            "firewall-rules",
            "create",
            "x-ray-default",
            "--network",
            "default",
            "--allow",
            "all",
            "--source-ranges",
            &pod_range,
        ],
    )
    .failed();
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    gcloud(
        &emu,
        &[
            "compute",
            "firewall-rules",
            "delete",
            "x-ray-default",
            "--quiet",
        ],
    )
    .ok();
    assert!(emu.firewalls().is_empty());
    let gone = gcloud(
        &emu,
        &["compute", "firewall-rules", "describe", "x-ray-default"],
    )
    .failed();
    assert!(gone.stderr.contains("was not found"), "{}", gone.stderr);
}

#[test]
fn compute_router_and_nat() {
    let emu = start();
    let region = ["--region", REGION];
    let router = "router-default-x-ray-nat";
    gcloud(
        &emu,
        &[
            &[
                "compute",
                "routers",
                "create",
                router,
                "--network",
                "default",
            ][..],
            &region,
        ]
        .concat(),
    )
    .ok();
    assert!(emu.router(router).is_some());
    gcloud(
        &emu,
        &[
            &[
                "compute",
                "routers",
                "nats",
                "create",
                "default-x-ray-nat",
                "--router",
                router,
                "--auto-allocate-nat-external-ips",
                "--nat-all-subnet-ip-ranges",
            ][..],
            &region,
        ]
        .concat(),
    )
    .ok();
    let nat = emu
        .nat(router, "default-x-ray-nat")
        .expect("NAT inside the router");
    assert_eq!(nat["natIpAllocateOption"], "AUTO_ONLY");
    assert_eq!(
        nat["sourceSubnetworkIpRangesToNat"],
        "ALL_SUBNETWORKS_ALL_IP_RANGES"
    );
    assert!(
        emu.mutating_requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path.ends_with(router)),
        "gcloud PATCHes the router to add a NAT"
    );
    let listed = gcloud(
        &emu,
        &[
            &[
                "compute", "routers", "nats", "list", "--router", router, "--format", "json",
            ][..],
            &region,
        ]
        .concat(),
    )
    .ok();
    assert_eq!(listed.json()[0]["name"], "default-x-ray-nat");

    gcloud(
        &emu,
        &[
            &[
                "compute",
                "routers",
                "nats",
                "delete",
                "default-x-ray-nat",
                "--router",
                router,
                "--quiet",
            ][..],
            &region,
        ]
        .concat(),
    )
    .ok();
    assert!(emu.nat(router, "default-x-ray-nat").is_none());
    gcloud(
        &emu,
        &[
            &["compute", "routers", "delete", router, "--quiet"][..],
            &region,
        ]
        .concat(),
    )
    .ok();
    assert!(emu.routers().is_empty());
    let gone = gcloud(
        &emu,
        &[&["compute", "routers", "describe", router][..], &region].concat(),
    )
    .failed();
    assert!(gone.stderr.contains("was not found"), "{}", gone.stderr);
}

#[test]
fn an_injected_fault_fails_once_and_the_retry_succeeds() {
    let emu = start();
    emu.fail_once("POST", "*/serviceAccounts", 403);
    let failed = gcloud(
        &emu,
        &["iam", "service-accounts", "create", "ray-autoscaler-sa-v1"],
    )
    .failed();
    assert!(
        failed.stderr.contains("PERMISSION_DENIED") || failed.stderr.contains("Injected fault"),
        "{}",
        failed.stderr
    );
    assert!(
        emu.service_accounts().is_empty(),
        "the failed request changed nothing"
    );
    assert!(emu.pending_faults().is_empty(), "the fault was spent");

    gcloud(
        &emu,
        &["iam", "service-accounts", "create", "ray-autoscaler-sa-v1"],
    )
    .ok();
    assert_eq!(emu.service_accounts(), [sa("ray-autoscaler-sa-v1")]);
    let creates: Vec<(u16, bool)> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/serviceAccounts"))
        .map(|r| (r.status, r.injected))
        .collect();
    assert_eq!(creates, [(403, true), (200, false)]);

    // gcloud's IAM client retries server errors, even a POST: a single 503
    // goes unnoticed ...
    emu.fail_once("POST", "*/serviceAccounts", 503);
    gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "create",
            "ray-registry-reader-sa",
        ],
    )
    .ok();
    let creates: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/serviceAccounts"))
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [403, 200, 503, 200]);

    // ... while gcloud compute gives up at once.
    emu.fail_once("POST", "*/global/firewalls", 503);
    let failed = gcloud(
        &emu,
        &[
            "compute",
            "firewall-rules",
            "create",
            "x-ray-default",
            "--allow",
            "all",
        ],
    )
    .failed();
    assert!(
        failed.stderr.contains("Injected fault"),
        "{}",
        failed.stderr
    );
    assert!(emu.firewalls().is_empty());
}

#[test]
fn other_projects_are_permission_denied_and_config_validates_zones() {
    let emu = start();
    let denied = gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "list",
            "--project",
            "someone-else",
        ],
    )
    .failed();
    assert!(
        denied
            .stderr
            .contains("Permission denied on resource project someone-else"),
        "{}",
        denied.stderr
    );

    gcloud(&emu, &["config", "set", "compute/zone", "europe-west4-b"]).ok();
    let config =
        std::fs::read_to_string(emu.config_dir().join("configurations/config_kas")).unwrap();
    assert!(config.contains("zone = europe-west4-b"), "{config}");
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.path.ends_with("/zones/europe-west4-b"))
    );
    assert!(emu.mutating_requests().is_empty());
    // Every API call was made with the human account's token.
    assert!(
        emu.api_requests()
            .iter()
            .all(|r| r.principal.as_deref() == Some(HUMAN) || r.status == 403)
    );
}

#[test]
fn requests_without_a_known_token_are_unauthenticated() {
    let emu = start();
    let reply = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import urllib.request,urllib.error\ntry:\n urllib.request.urlopen('{}/iam/v1/projects/{PROJECT}/serviceAccounts')\nexcept urllib.error.HTTPError as e:\n print(e.code, e.read().decode())",
            emu.url()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&reply.stdout);
    assert!(text.starts_with("401 "), "{text}");
    assert!(text.contains("\"status\":\"UNAUTHENTICATED\""), "{text}");
}

#[test]
fn disabled_apis_are_refused_until_enabled() {
    let emu = start();
    emu.require_enabled_services(true);
    let refused = gcloud(&emu, &["container", "clusters", "list", "--zone", ZONE]).failed();
    assert!(
        refused.stderr.contains("has not been used in project"),
        "{}",
        refused.stderr
    );

    gcloud(&emu, &["services", "enable", "container.googleapis.com"]).ok();
    gcloud(&emu, &["container", "clusters", "list", "--zone", ZONE]).ok();
}

#[test]
fn an_eleventh_key_is_refused() {
    let emu = start();
    let email = emu.add_service_account("admin-123", "");
    {
        let mut s = emu.state();
        for i in 0..10 {
            let id = format!("{i:040x}");
            s.keys.insert(
                id.clone(),
                emulator::gcp::state::KeyRecord {
                    account: email.clone(),
                    id,
                    public_pem: String::new(),
                    meta: serde_json::json!({}),
                },
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    let run = create_key(&emu, &email, &key_file).failed();
    assert!(
        run.stderr.contains("Precondition check failed"),
        "{}",
        run.stderr
    );
    // gcloud opens the key file before it asks: a failed create leaves it,
    // empty, behind (what a tool checking "the key file exists" must know).
    assert_eq!(std::fs::read(&key_file).map(|b| b.len()).ok(), Some(0));
}

/// A cluster's endpoint can lead to a Kubernetes API: `get-credentials`,
/// then kubectl through `gke-gcloud-auth-plugin` with a token from the
/// emulator, over TLS that the cluster's CA certificate vouches for.
#[test]
fn get_credentials_leads_kubectl_to_a_kubernetes_api_behind_the_cluster() {
    let emu = start();
    // A stand-in Kubernetes API that remembers who called. (This
    // machine's kubectl may be gcloud's dispatcher, which first asks
    // `/version?timeout=5s` to pick a kubectl, so serve until told to stop.)
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    api.set_nonblocking(true).unwrap();
    let api_port = api.local_addr().unwrap().port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::SeqCst)
                && std::time::Instant::now() < deadline
            {
                match api.accept() {
                    Ok((stream, _)) => seen.push(answer_version(stream)),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
            seen
        })
    };
    let endpoint = emu.front_kube_api(api_port).unwrap();
    emu.add_cluster("x-ray", &[]);
    gcloud(
        &emu,
        &[
            "container",
            "clusters",
            "get-credentials",
            "x-ray",
            "--zone",
            ZONE,
        ],
    )
    .ok();
    let kubeconfig = std::fs::read_to_string(emu.kubeconfig()).unwrap();
    assert!(
        kubeconfig.contains(&format!("server: https://{endpoint}")),
        "{kubeconfig}"
    );

    for tool in ["kubectl", "gke-gcloud-auth-plugin"] {
        if which::which(tool).is_err() {
            panic!(
                "this test runs {tool}: install it (Debian: kubectl, \
                 google-cloud-cli-gke-gcloud-auth-plugin)"
            );
        }
    }
    let mut kubectl = Command::new("kubectl");
    kubectl.args(["get", "--raw", "/version"]);
    emu.apply_env(&mut kubectl);
    let out = kubectl.output().expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("v1.33.5"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = seen.join().unwrap();
    let (url, auth) = seen.last().expect("kubectl reached the API").clone();
    assert_eq!(url, "/version");
    let token = auth.unwrap().strip_prefix("Bearer ").unwrap().to_string();
    assert_eq!(
        emu.state().tokens.get(&token).map(String::as_str),
        Some(HUMAN),
        "the auth plugin got its token from the emulator"
    );
}

/// Reads one HTTP request, answers a Kubernetes `/version`, and returns the
/// request's path and `Authorization` header.
fn answer_version(stream: std::net::TcpStream) -> (String, Option<String>) {
    use std::io::{BufRead, BufReader, Write};
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let body = r#"{"major":"1","minor":"33","gitVersion":"v1.33.5-gke.1000000"}"#;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let url = head
        .first()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_string();
    let auth = head.iter().find_map(|h| {
        let (name, value) = h.split_once(": ")?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.to_string())
    });
    (url, auth)
}

#[test]
fn with_iam_enforced_writes_need_a_role_that_grants_them() {
    let emu = start();
    emu.enforce_iam(true);
    let reader = emu.add_service_account("reader-only", "");
    emu.bind(
        "roles/artifactregistry.reader",
        &format!("serviceAccount:{reader}"),
    );
    emu.add_service_account_login(&reader).unwrap();
    emu.set_active_account(Some(&reader)).unwrap();
    gcloud(
        &emu,
        &["artifacts", "repositories", "list", "--location", REGION],
    )
    .ok();
    let denied = gcloud(
        &emu,
        &[
            "artifacts",
            "repositories",
            "create",
            "images",
            "--repository-format",
            "docker",
            "--location",
            REGION,
        ],
    )
    .failed();
    assert!(
        denied
            .stderr
            .contains("artifactregistry.repositories.create"),
        "{}",
        denied.stderr
    );
    assert!(emu.repositories().is_empty());

    // The owner (the person) may.
    emu.set_active_account(Some(HUMAN)).unwrap();
    gcloud(
        &emu,
        &[
            "artifacts",
            "repositories",
            "create",
            "images",
            "--repository-format",
            "docker",
            "--location",
            REGION,
        ],
    )
    .ok();
    assert_eq!(emu.repositories(), ["images"]);
}

/// Without a browser, a person logs in to the emulator with a refresh token
/// of the form `kas-emulator-login:EMAIL` (how a shell user gets the person
/// back after `admin-service-account +` revoked them).
#[test]
fn a_person_logs_in_with_an_emulator_login_token() {
    let emu = GcpEmulator::start_logged_out().unwrap();
    let login = format!("kas-emulator-login:{HUMAN}");
    gcloud(&emu, &["auth", "activate-refresh-token", HUMAN, &login]).ok();
    let listed = gcloud(&emu, &["auth", "list", "--format", "json"])
        .ok()
        .json();
    assert_eq!(listed[0]["account"], HUMAN);
    assert_eq!(listed[0]["status"], "ACTIVE");
    let token = gcloud(&emu, &["auth", "print-access-token"]).ok();
    assert_eq!(
        emu.state()
            .tokens
            .get(token.stdout.trim())
            .map(String::as_str),
        Some(HUMAN)
    );
}

/// A tool may leave the emulator's configuration for a fresh one (as
/// `admin-service-account -` does with `default`): gcloud must still reach
/// the emulator, and revoking a person must still work.
#[test]
fn a_fresh_configuration_still_reaches_the_emulator() {
    let emu = start();
    gcloud(&emu, &["config", "configurations", "create", "default"]).ok();
    let listed = gcloud(
        &emu,
        &[
            "iam",
            "service-accounts",
            "list",
            "--project",
            PROJECT,
            "--account",
            HUMAN,
            "--format",
            "json",
        ],
    )
    .ok();
    assert_eq!(listed.json(), serde_json::json!([]));
    gcloud(&emu, &["auth", "revoke", HUMAN]).ok();
    assert!(emu.human_revoked(HUMAN));
}
