use insta::assert_snapshot;
use kas_infra::tools::gke_nat::TOOL;

use crate::world::World;

const ROUTER: &str = "gcloud compute routers describe router-default-x-ray-nat";

fn absent() -> World {
    World::new().not_found(ROUTER)
}

fn router_only() -> World {
    World::new().answer(
        ROUTER,
        r#"{"name":"router-default-x-ray-nat","network":"default"}"#,
    )
}

fn both() -> World {
    World::new().answer(
        ROUTER,
        r#"{"name":"router-default-x-ray-nat","nats":[{"name":"default-x-ray-nat","natIpAllocateOption":"AUTO_ONLY","sourceSubnetworkIpRangesToNat":"ALL_SUBNETWORKS_ALL_IP_RANGES"}]}"#,
    )
}

#[test]
fn status() {
    assert_snapshot!("status_absent", absent().transcript(&TOOL, "gke-nat ="));
    assert_snapshot!("status_present", both().transcript(&TOOL, "gke-nat ="));
}

#[test]
fn up() {
    assert_snapshot!(
        "up_absent",
        absent().transcript(&TOOL, "gke-nat + --dry-run")
    );
    assert_snapshot!(
        "up_half",
        router_only().transcript(&TOOL, "gke-nat + --dry-run")
    );
    assert_snapshot!(
        "up_present",
        both().transcript(&TOOL, "gke-nat + --dry-run")
    );
}

#[test]
fn down() {
    assert_snapshot!(
        "down_absent",
        absent().transcript(&TOOL, "gke-nat - --dry-run")
    );
    assert_snapshot!(
        "down_half",
        router_only().transcript(&TOOL, "gke-nat - --dry-run")
    );
    assert_snapshot!(
        "down_present",
        both().transcript(&TOOL, "gke-nat - --dry-run")
    );
}
