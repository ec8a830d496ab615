//! In another gcloud configuration than the project's, every tool that
//! acts in the project refuses, names both, and sends no request at all.

use crate::harness::Cloud;

#[test]
fn a_mismatched_configuration_sends_no_request() {
    let c = Cloud::new();
    c.emu.add_cluster("x-ray", &["203.0.113.7/32"]);
    let runs: [(&str, &[&str]); 6] = [
        ("artifact-registry", &["+"]),
        ("gke-nat", &["="]),
        ("gke-cluster", &["-", "--quiet"]),
        ("gke-allow", &["--"]),
        ("ray-service-account", &["="]),
        ("clean-images", &["-", "--tag", "old"]),
    ];
    for (tool, args) in runs {
        c.reset_counts();
        let run = c.run_with(tool, args, &[("CLOUDSDK_ACTIVE_CONFIG_NAME", "default")]);
        assert_eq!(run.code, 3, "{tool}: {run}");
        assert!(
            run.stderr.contains("`default`") && run.stderr.contains("`kas`"),
            "{tool}: {run}"
        );
        assert_eq!(c.gcloud_runs(), 0, "{tool} started gcloud");
        assert!(
            c.emu.requests().is_empty(),
            "{tool} sent {:?}",
            c.emu.requests()
        );
    }
    assert!(c.emu.cluster("x-ray").is_some());
}
