use serde_json::{Value, json};

use crate::faults::{Case, every_mutation_fails_once};
use crate::harness::Cloud;

const TOOL: &str = "gke-nat";
const ROUTER: &str = "router-default-x-ray-nat";
const NAT: &str = "default-x-ray-nat";

fn router_and_nat(c: &Cloud) -> Value {
    json!({"routers": c.emu.routers(), "nat": c.emu.nat(ROUTER, NAT).is_some()})
}

#[test]
fn up_status_down_round_trip() {
    let c = Cloud::new();
    let (status, gcloud) = c.run_costed(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert_eq!(gcloud, 1, "status of an empty project asks gcloud once");
    let (up, _) = c.run_costed(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    let router = c.emu.router(ROUTER).expect("router created");
    assert!(
        router["network"]
            .as_str()
            .unwrap()
            .ends_with("/global/networks/default"),
        "{router}"
    );
    let nat = c.emu.nat(ROUTER, NAT).expect("NAT created");
    assert_eq!(nat["natIpAllocateOption"], "AUTO_ONLY");
    assert_eq!(
        nat["sourceSubnetworkIpRangesToNat"],
        "ALL_SUBNETWORKS_ALL_IP_RANGES"
    );
    assert!(c.run_costed(TOOL, &["="]).0.ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["+"]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
    let (down, _) = c.run_costed(TOOL, &["-"]);
    assert!(down.ok(), "{down}");
    assert!(c.emu.routers().is_empty());
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
    assert_eq!(c.run(TOOL, &["="]).code, 1);
}

#[test]
fn faults_in_up_and_down() {
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["+"],
        setup: &|_| {},
        end_state: &router_and_nat,
    });
    let setup = |c: &Cloud| assert!(c.run(TOOL, &["+"]).ok());
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["-"],
        setup: &setup,
        end_state: &router_and_nat,
    });
}
