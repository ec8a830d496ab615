use std::path::Path;

use insta::assert_snapshot;
use kas_infra::tools::admin_service_account::TOOL;

use crate::world::World;

const SA: &str = "admin-123@sentience-reinforce.iam.gserviceaccount.com";
const AUTH: &str = "gcloud auth list";
const POLICY: &str = r#"{"version":1,"etag":"BwXhqDkCr6Q=","bindings":[{"role":"roles/owner","members":["user:alice@example.com"]}]}"#;

/// A gcloud home with the given configurations (name, file text) and the
/// active one; no CLOUDSDK_* overrides.
fn gcloud_home(home: &Path, configs: &[(&str, &str)], active: &str) -> World {
    let dir = home.join(".config/gcloud/configurations");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in configs {
        std::fs::write(dir.join(format!("config_{name}")), text).unwrap();
    }
    std::fs::write(home.join(".config/gcloud/active_config"), active).unwrap();
    World::new()
        .home(home)
        .unset("CLOUDSDK_ACTIVE_CONFIG_NAME")
        .unset("CLOUDSDK_CORE_PROJECT")
        .unset("CLOUDSDK_COMPUTE_REGION")
        .unset("CLOUDSDK_COMPUTE_ZONE")
}

/// A person logged in, in the default configuration; nothing else.
fn fresh(home: &Path) -> World {
    gcloud_home(
        home,
        &[("default", "[core]\naccount = alice@example.com\n")],
        "default",
    )
    .answer(
        AUTH,
        r#"[{"account":"alice@example.com","status":"ACTIVE"}]"#,
    )
    .answer("gcloud projects get-iam-policy", POLICY)
}

/// What a finished `+` leaves.
fn done(home: &Path) -> World {
    let config = format!(
        "[core]\nproject = sentience-reinforce\naccount = {SA}\n[artifacts]\nlocation = europe-west4\n\
         [compute]\nregion = europe-west4\nzone = europe-west4-a\n"
    );
    let key = home.join(".kas-auth.json");
    std::fs::write(
        &key,
        r#"{"type":"service_account","private_key_id":"k1","private_key":"(test)"}"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    gcloud_home(home, &[("default", ""), ("kas", &config)], "kas")
        .answer(
            AUTH,
            &format!(r#"[{{"account":"{SA}","status":"ACTIVE"}}]"#),
        )
        .answer(
            "gcloud iam service-accounts keys list",
            &format!(r#"[{{"name":"projects/sentience-reinforce/serviceAccounts/{SA}/keys/k1"}}]"#),
        )
}

#[test]
fn status_spawns_nothing() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(
        "status_absent",
        fresh(home.path()).transcript(&TOOL, "admin-service-account =")
    );
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(
        "status_present",
        done(home.path()).transcript(&TOOL, "admin-service-account = -o json")
    );
}

#[test]
fn up_from_nothing_writes_the_policy_once() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(fresh(home.path()).transcript(&TOOL, "admin-service-account + --dry-run"));
}

#[test]
fn up_when_done_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(done(home.path()).transcript(&TOOL, "admin-service-account + --dry-run"));
}

#[test]
fn up_without_a_person_and_no_terminal() {
    let home = tempfile::tempdir().unwrap();
    let w = gcloud_home(home.path(), &[("default", "")], "default").answer(AUTH, "[]");
    assert_snapshot!(w.transcript(&TOOL, "admin-service-account + --dry-run"));
}

#[test]
fn down_when_done() {
    let home = tempfile::tempdir().unwrap();
    let policy = format!(
        r#"{{"etag":"BwX=","bindings":[{{"role":"roles/compute.admin","members":["serviceAccount:{SA}"]}},{{"role":"roles/owner","members":["user:alice@example.com"]}}]}}"#
    );
    let w = done(home.path())
        .answer(AUTH, &format!(r#"[{{"account":"{SA}","status":"ACTIVE"}},{{"account":"alice@example.com","status":""}}]"#))
        .answer("gcloud projects get-iam-policy", &policy)
        .answer("gcloud iam service-accounts list", &format!(r#"[{{"email":"{SA}"}}]"#));
    assert_snapshot!(w.transcript(&TOOL, "admin-service-account - --dry-run"));
}

#[test]
fn down_when_absent_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(fresh(home.path()).transcript(&TOOL, "admin-service-account - --dry-run"));
}

#[test]
fn env_prints_exports() {
    let home = tempfile::tempdir().unwrap();
    assert_snapshot!(done(home.path()).transcript(&TOOL, "admin-service-account env"));
}
