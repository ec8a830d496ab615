use insta::assert_snapshot;
use kas_infra::tools::ray_service_account::TOOL;

use crate::world::World;

const ACCOUNTS: &str = "gcloud iam service-accounts list";
const POLICY: &str = "gcloud projects get-iam-policy";
const AUTOSCALER: &str = r#"{"email":"ray-autoscaler-sa-v1@proj.iam.gserviceaccount.com"}"#;
const READER: &str = r#"{"email":"ray-registry-reader-sa@proj.iam.gserviceaccount.com","displayName":"Ray registry reader service account"}"#;
const BOUND: &str = r#"{"etag":"BwY=","bindings":[
 {"role":"roles/artifactregistry.reader","members":["serviceAccount:ray-autoscaler-sa-v1@proj.iam.gserviceaccount.com","serviceAccount:ray-registry-reader-sa@proj.iam.gserviceaccount.com"]},
 {"role":"roles/iam.serviceAccountUser","members":["serviceAccount:ray-autoscaler-sa-v1@proj.iam.gserviceaccount.com"]},
 {"role":"roles/owner","members":["user:alice@example.com"]}]}"#;

fn world(accounts: &[&str], policy: &str) -> World {
    World::new()
        .answer(ACCOUNTS, &format!("[{}]", accounts.join(",")))
        .answer(POLICY, policy)
}

#[test]
fn status() {
    assert_snapshot!(
        "status_absent",
        world(&[], r#"{"etag":"BwA="}"#).transcript(&TOOL, "ray-service-account =")
    );
    assert_snapshot!(
        "status_present",
        world(&[AUTOSCALER, READER], BOUND).transcript(&TOOL, "ray-service-account =")
    );
}

#[test]
fn up_without_the_autoscaler_account_creates_nothing() {
    assert_snapshot!(
        world(&[], r#"{"etag":"BwA="}"#).transcript(&TOOL, "ray-service-account + --dry-run")
    );
}

#[test]
fn up() {
    let w = world(&[AUTOSCALER], r#"{"etag":"BwA="}"#);
    assert_snapshot!(
        "up_reader_missing",
        w.transcript(&TOOL, "ray-service-account + --dry-run")
    );
    let w = world(&[AUTOSCALER, READER], BOUND);
    assert_snapshot!(
        "up_present",
        w.transcript(&TOOL, "ray-service-account + --dry-run")
    );
}

#[test]
fn down() {
    let w = world(&[AUTOSCALER, READER], BOUND);
    assert_snapshot!(
        "down_present",
        w.transcript(&TOOL, "ray-service-account - --dry-run")
    );
    let w = world(&[], r#"{"etag":"BwA="}"#);
    assert_snapshot!(
        "down_absent",
        w.transcript(&TOOL, "ray-service-account - --dry-run")
    );
}
