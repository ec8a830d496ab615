use serde_json::{Value, json};

use crate::faults::{Case, every_mutation_fails_once};
use crate::harness::Cloud;

const TOOL: &str = "ray-service-account";
const AUTOSCALER: &str = "serviceAccount:ray-autoscaler-sa-v1@test-project.iam.gserviceaccount.com";
const READER: &str = "serviceAccount:ray-registry-reader-sa@test-project.iam.gserviceaccount.com";

fn accounts_and_roles(c: &Cloud) -> Value {
    let mut accounts = c.emu.service_accounts();
    accounts.sort();
    let mut a = c.emu.roles_of(AUTOSCALER);
    a.sort();
    let mut r = c.emu.roles_of(READER);
    r.sort();
    json!({"accounts": accounts, "autoscaler": a, "reader": r})
}

fn with_autoscaler(c: &Cloud) {
    c.emu
        .add_service_account("ray-autoscaler-sa-v1", "Ray autoscaler");
}

#[test]
fn up_needs_the_autoscaler_account_and_creates_nothing_without_it() {
    let c = Cloud::new();
    c.reset_counts();
    let run = c.run(TOOL, &["+"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("ray up"), "{run}");
    assert_eq!(c.mutations(), Vec::<String>::new());
    assert!(c.emu.service_accounts().is_empty());
}

#[test]
fn up_status_down_round_trip() {
    let c = Cloud::new();
    with_autoscaler(&c);
    assert_eq!(c.run_costed(TOOL, &["="]).0.code, 1);
    let (up, _) = c.run_costed(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    let state = accounts_and_roles(&c);
    assert_eq!(
        state["autoscaler"],
        json!([
            "roles/artifactregistry.reader",
            "roles/iam.serviceAccountUser"
        ])
    );
    assert_eq!(state["reader"], json!(["roles/artifactregistry.reader"]));
    let reader = c
        .emu
        .service_account("ray-registry-reader-sa@test-project.iam.gserviceaccount.com")
        .unwrap();
    assert_eq!(reader["displayName"], "Ray registry reader service account");
    let (status, gcloud) = c.run_costed(TOOL, &["="]);
    assert!(status.ok(), "{status}");
    assert_eq!(
        gcloud, 2,
        "accounts and the IAM policy: two reads, side by side"
    );
    c.reset_counts();
    assert!(c.run(TOOL, &["+"]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
    let (down, _) = c.run_costed(TOOL, &["-"]);
    assert!(down.ok(), "{down}");
    assert_eq!(
        accounts_and_roles(&c),
        json!({
            "accounts": ["ray-autoscaler-sa-v1@test-project.iam.gserviceaccount.com"],
            "autoscaler": ["roles/iam.serviceAccountUser"],
            "reader": [],
        }),
        "the reader and its bindings gone, the registry role taken from Ray's account; \
         Ray's account stays with the role Ray's bootstrap grants it too"
    );
    assert!(down.stderr.contains("kept"), "{down}");
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
    assert_eq!(c.run(TOOL, &["="]).code, 1);
}

#[test]
fn down_removes_bindings_before_deleting() {
    let c = Cloud::new();
    with_autoscaler(&c);
    assert!(c.run(TOOL, &["+"]).ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    let order = c.mutations();
    let policy = order
        .iter()
        .position(|m| m.ends_with(":setIamPolicy"))
        .expect("a policy write");
    let first_delete = order
        .iter()
        .position(|m| m.starts_with("DELETE"))
        .expect("a delete");
    assert!(policy < first_delete, "{order:?}");
}

#[test]
fn faults_in_up_and_down() {
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["+"],
        setup: &with_autoscaler,
        end_state: &accounts_and_roles,
    });
    let setup = |c: &Cloud| {
        with_autoscaler(c);
        assert!(c.run(TOOL, &["+"]).ok());
    };
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["-"],
        setup: &setup,
        end_state: &accounts_and_roles,
    });
}

#[test]
fn a_policy_write_that_loses_a_race_reads_again_and_keeps_both_changes() {
    let c = Cloud::new();
    with_autoscaler(&c);
    c.emu
        .race_next_policy_read("roles/viewer", "user:someone-else@example.com");
    c.reset_counts();
    let up = c.run(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    assert!(up.stderr.contains("changed meanwhile"), "{up}");
    let writes: Vec<_> = c
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(":setIamPolicy"))
        .collect();
    assert_eq!(
        writes.iter().map(|w| w.status).collect::<Vec<_>>(),
        [409, 200],
        "one refused, one written"
    );
    assert_eq!(
        c.emu.roles_of("user:someone-else@example.com"),
        ["roles/viewer"],
        "the other writer's change stays"
    );
    assert_eq!(
        accounts_and_roles(&c)["reader"],
        json!(["roles/artifactregistry.reader"])
    );
}
