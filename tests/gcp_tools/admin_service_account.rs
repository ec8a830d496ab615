use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::emulator::gcp::HUMAN;
use crate::faults::{Case, every_mutation_fails_once};
use crate::harness::Cloud;

const TOOL: &str = "admin-service-account";
const SA: &str = "admin-123@test-project.iam.gserviceaccount.com";
const ROLES: [&str; 6] = [
    "roles/artifactregistry.admin",
    "roles/compute.admin",
    "roles/container.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/resourcemanager.projectIamAdmin",
];

fn admin_state(c: &Cloud) -> Value {
    let mut roles = c.emu.roles_of(&format!("serviceAccount:{SA}"));
    roles.sort();
    let mut services = c.emu.enabled_services();
    services.sort();
    json!({
        "account": c.emu.service_account(SA).is_some(),
        "roles": roles,
        "key_file": c.key_file().exists(),
        "services": services,
    })
}

#[test]
fn up_status_down_round_trip_with_a_person_logged_in() {
    let c = Cloud::new();
    let (status, gcloud) = c.run_costed(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert_eq!(gcloud, 0, "without a key file `=` asks gcloud nothing");
    let (up, _) = c.run_costed(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    let policy_writes = c
        .mutations()
        .iter()
        .filter(|m| m.ends_with(":setIamPolicy"))
        .count();
    assert_eq!(
        policy_writes,
        1,
        "all six roles in one write: {:?}",
        c.mutations()
    );
    let state = admin_state(&c);
    assert_eq!(state["roles"], json!(ROLES));
    assert_eq!(state["account"], true);
    for api in [
        "compute",
        "container",
        "artifactregistry",
        "cloudresourcemanager",
    ] {
        assert!(
            state["services"]
                .to_string()
                .contains(&format!("{api}.googleapis.com")),
            "{state}"
        );
    }
    let mode = std::fs::metadata(c.key_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the key file is readable by its owner only");
    assert!(c.emu.human_revoked(HUMAN), "the person's login was revoked");
    let (status, gcloud) = c.run_costed(TOOL, &["="]);
    assert!(status.ok(), "{status}");
    assert_eq!(gcloud, 1, "is the key file's key still the account's?");
    let env = c.run(TOOL, &["env"]);
    assert!(
        env.stdout
            .contains("export GOOGLE_APPLICATION_CREDENTIALS="),
        "{env}"
    );
    c.reset_counts();
    let again = c.run(TOOL, &["+"]);
    assert!(again.ok(), "{again}");
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "+ again changes nothing"
    );

    c.human_logs_in();
    let (down, _) = c.run_costed(TOOL, &["-"]);
    assert!(down.ok(), "{down}");
    assert_eq!(
        admin_state(&c)["roles"],
        json!([]),
        "the service account's roles are gone"
    );
    assert!(c.emu.service_account(SA).is_none());
    assert!(!c.key_file().exists());
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
    assert_eq!(c.gcloud_runs(), 0, "nothing to undo, nothing asked");
    assert_eq!(c.run(TOOL, &["="]).code, 1);
}

#[test]
fn without_a_person_and_without_a_terminal_it_says_to_log_in() {
    let c = Cloud::logged_out();
    let up = c.run(TOOL, &["+"]);
    assert_eq!(up.code, 3, "{up}");
    assert!(up.stderr.contains("gcloud auth login"), "{up}");
    assert!(c.emu.mutating_requests().is_empty());
}

#[test]
fn faults_in_up() {
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["+"],
        setup: &|_| {},
        end_state: &admin_state,
    });
}

#[test]
fn faults_in_down() {
    let setup = |c: &Cloud| {
        assert!(c.run(TOOL, &["+"]).ok());
        c.human_logs_in();
    };
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["-"],
        setup: &setup,
        end_state: &admin_state,
    });
}

fn key_file_id(c: &Cloud) -> String {
    let key: Value = serde_json::from_slice(&std::fs::read(c.key_file()).unwrap()).unwrap();
    key["private_key_id"].as_str().unwrap().to_string()
}

fn mode(c: &Cloud) -> u32 {
    std::fs::metadata(c.key_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_dead_key_is_reported_and_replaced() {
    let c = Cloud::new();
    assert!(c.run(TOOL, &["+"]).ok());
    let old = key_file_id(&c);
    // The account's key is deleted behind the tool's back.
    c.emu.state().keys.remove(&old);
    let status = c.run(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert!(
        status.stdout.contains(&old) && status.stdout.contains("`+` makes a new one"),
        "{status}"
    );
    // Making a new key needs a person again: the account's own key is dead.
    c.human_logs_in();
    let up = c.run(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    let new = key_file_id(&c);
    assert_ne!(new, old);
    let ids: Vec<String> = c
        .emu
        .keys_of(SA)
        .iter()
        .map(|k| {
            k["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids,
        std::slice::from_ref(&new),
        "the new key is the account's only key"
    );
    assert_eq!(mode(&c), 0o600);
    assert!(!c.key_file().with_file_name(".kas-auth.json.new").exists());
    let status = c.run(TOOL, &["="]);
    assert!(status.ok(), "{status}");
    // And the account works from the new key: a rerun changes nothing.
    c.reset_counts();
    let again = c.run(TOOL, &["+"]);
    assert!(again.ok(), "{again}");
    assert_eq!(c.mutations(), Vec::<String>::new());
}

#[test]
fn a_loosened_key_file_mode_is_reported_and_repaired() {
    let c = Cloud::new();
    assert!(c.run(TOOL, &["+"]).ok());
    std::fs::set_permissions(c.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let status = c.run(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert!(status.stdout.contains("mode 644"), "{status}");
    c.reset_counts();
    let up = c.run(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    assert_eq!(mode(&c), 0o600);
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "no request: a file mode"
    );
    assert!(c.run(TOOL, &["="]).ok());
}
