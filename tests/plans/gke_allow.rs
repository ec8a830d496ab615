use insta::assert_snapshot;
use kas_infra::tools::gke_allow::TOOL;

use crate::gke_cluster::CLUSTER;
use crate::world::World;

const DESCRIBE: &str = "gcloud container clusters describe x-ray";

fn cluster() -> World {
    World::new().answer(DESCRIBE, CLUSTER)
}

#[test]
fn status() {
    assert_snapshot!(
        "status_allowed",
        cluster().transcript(&TOOL, "gke-allow = --cidr 203.0.113.7/32")
    );
    assert_snapshot!(
        "status_not_allowed",
        cluster().transcript(&TOOL, "gke-allow = --cidr 192.0.2.1")
    );
}

#[test]
fn each_operation_keeps_or_drops_the_right_networks() {
    assert_snapshot!(
        "up_new",
        cluster().transcript(&TOOL, "gke-allow + --dry-run --cidr 192.0.2.1/32")
    );
    assert_snapshot!(
        "up_there",
        cluster().transcript(&TOOL, "gke-allow + --dry-run --cidr 203.0.113.7/32")
    );
    assert_snapshot!(
        "down",
        cluster().transcript(&TOOL, "gke-allow - --dry-run --cidr 203.0.113.7/32")
    );
    assert_snapshot!(
        "down_absent",
        cluster().transcript(&TOOL, "gke-allow - --dry-run --cidr 192.0.2.1/32")
    );
    assert_snapshot!(
        "only",
        cluster().transcript(&TOOL, "gke-allow ++ --dry-run --cidr 192.0.2.1/32")
    );
    assert_snapshot!(
        "lock",
        cluster().transcript(&TOOL, "gke-allow -- --dry-run")
    );
}

#[test]
fn without_cidr_the_address_is_looked_up() {
    let w = cluster().answer("curl", "192.0.2.44\n");
    assert_snapshot!(w.transcript(&TOOL, "gke-allow + --dry-run"));
}

#[test]
fn without_cluster() {
    assert_snapshot!(
        World::new()
            .not_found(DESCRIBE)
            .transcript(&TOOL, "gke-allow = --cidr 192.0.2.1/32")
    );
}
