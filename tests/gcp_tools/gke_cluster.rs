use serde_json::{Value, json};

use crate::faults::{Case, every_mutation_fails_once};
use crate::harness::Cloud;

const TOOL: &str = "gke-cluster";
const UP: &[&str] = &["+", "--cidr", "203.0.113.7/32"];

fn cluster_and_rule(c: &Cloud) -> Value {
    let cluster = c.emu.cluster("x-ray");
    let kube = c.kubeconfig();
    let contexts: Vec<String> = kube["contexts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["name"].as_str().map(String::from))
        .collect();
    json!({
        "cluster": cluster.is_some(),
        "rule_matches_pods": c.emu.firewall("x-ray-default").map(|f| {
            f["sourceRanges"] == json!([cluster.as_ref().map(|c| c["clusterIpv4Cidr"].clone())])
        }),
        "contexts": contexts,
    })
}

#[test]
fn up_status_down_round_trip() {
    let c = Cloud::new();
    let status = c.run(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert_eq!(
        c.gcloud_runs(),
        1,
        "status of an empty project asks gcloud once"
    );
    let up = c.run(TOOL, UP);
    assert!(up.ok(), "{up}");
    // Without a terminal, gcloud's lines are passed on plainly.
    assert!(up.stderr.contains("\n>   Created ["), "{up}");
    let cluster = c.emu.cluster("x-ray").expect("cluster created");
    assert_eq!(cluster["releaseChannel"]["channel"], "REGULAR");
    assert_eq!(cluster["privateClusterConfig"]["enablePrivateNodes"], true);
    assert_eq!(
        cluster["privateClusterConfig"]["masterIpv4CidrBlock"],
        "10.13.37.0/28"
    );
    assert_eq!(cluster["ipAllocationPolicy"]["useIpAliases"], true);
    assert_eq!(
        cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"][0]["cidrBlock"],
        "203.0.113.7/32"
    );
    assert_eq!(cluster["defaultMaxPodsConstraint"]["maxPodsPerNode"], "32");
    let pool = &cluster["nodePools"][0];
    assert_eq!(pool["config"]["machineType"], "e2-standard-2");
    assert_eq!(pool["config"]["diskType"], "pd-standard");
    assert_eq!(pool["config"]["diskSizeGb"], 100);
    assert_eq!(pool["autoscaling"]["maxNodeCount"], 16);
    let np = &cluster["autoscaling"];
    assert_eq!(np["enableNodeAutoprovisioning"], true, "{np}");
    assert_eq!(
        np["autoprovisioningNodePoolDefaults"]["minCpuPlatform"],
        "Intel Skylake"
    );
    assert_eq!(
        np["autoprovisioningNodePoolDefaults"]["imageType"],
        "UBUNTU_CONTAINERD"
    );
    let limits = np["resourceLimits"].to_string();
    assert!(
        limits.contains("nvidia-tesla-v100") && limits.contains("\"64\""),
        "{limits}"
    );
    let rule = c
        .emu
        .firewall("x-ray-default")
        .expect("firewall rule created");
    assert_eq!(rule["sourceRanges"], json!([cluster["clusterIpv4Cidr"]]));
    assert!(
        rule["network"]
            .as_str()
            .unwrap()
            .ends_with("/global/networks/default")
    );
    assert_eq!(rule["direction"], "INGRESS");
    assert_eq!(
        cluster_and_rule(&c)["contexts"],
        json!(["x-ray"]),
        "short kubeconfig names"
    );
    assert!(c.run(TOOL, &["="]).ok());
    c.reset_counts();
    let again = c.run(TOOL, &["+"]);
    assert!(again.ok(), "{again}");
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "+ again changes nothing"
    );
    let down = c.run(TOOL, &["-"]);
    assert!(down.ok(), "{down}");
    assert!(c.emu.cluster("x-ray").is_none() && c.emu.firewall("x-ray-default").is_none());
    assert_eq!(
        cluster_and_rule(&c)["contexts"],
        json!([]),
        "kubeconfig entries removed"
    );
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "- again changes nothing"
    );
    assert_eq!(c.run(TOOL, &["="]).code, 1);
}

#[test]
fn refresh_rewrites_credentials() {
    let c = Cloud::new();
    c.emu.add_cluster("x-ray", &["203.0.113.7/32"]);
    let refresh = c.run(TOOL, &[","]);
    assert!(refresh.ok(), "{refresh}");
    assert_eq!(cluster_and_rule(&c)["contexts"], json!(["x-ray"]));
}

#[test]
fn faults_in_up() {
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: UP,
        setup: &|_| {},
        end_state: &cluster_and_rule,
    });
}

#[test]
fn faults_in_down() {
    let setup = |c: &Cloud| assert!(c.run(TOOL, UP).ok());
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["-"],
        setup: &setup,
        end_state: &cluster_and_rule,
    });
}

/// `gcloud container clusters create` runs for minutes: on a terminal the
/// tool shows a spinner with the elapsed time, what it waits for and
/// gcloud's latest words, redrawn while gcloud polls the operation.
#[test]
fn on_a_terminal_create_shows_progress_while_gcloud_waits() {
    let c = Cloud::new();
    // Running for two polls: gcloud waits 5 s between them.
    c.emu.set_operation_polls(2);
    let Some(up) = c.run_on_terminal(TOOL, UP) else {
        return;
    };
    assert!(up.ok(), "{up}");
    assert!(c.emu.cluster("x-ray").is_some());
    let shown = &up.stdout;
    // Each redraw starts with a carriage return and an erased line.
    let frames: Vec<&str> = shown
        .split("\r\x1b[2K")
        .filter(|f| f.contains("gcloud creates cluster x-ray ("))
        .collect();
    let seconds = |frame: &str| -> u64 {
        let after = frame
            .split("gcloud creates cluster x-ray (")
            .nth(1)
            .unwrap();
        after.split('s').next().unwrap().parse().unwrap_or(0)
    };
    let latest = frames.last().map(|f| seconds(f)).unwrap_or(0);
    assert!(
        latest >= 2,
        "the spinner went on while gcloud waited (last frame at {latest}s):\n{shown:?}"
    );
    // gcloud's latest line follows the time (which line depends on
    // gcloud's version: a warning, a note, its progress).
    assert!(
        frames
            .iter()
            .any(|f| seconds(f) >= 2 && f.split("): ").nth(1).is_some_and(|l| !l.is_empty())),
        "gcloud's own words are shown while it waits:\n{shown:?}"
    );
    // The spinner is erased: the lines after it start clean.
    assert!(
        shown.contains("\r\x1b[2K> creating kubeconfig entries x-ray"),
        "{shown:?}"
    );
}
