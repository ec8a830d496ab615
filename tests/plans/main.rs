//! Plan snapshots: for every tool and operation, in the world states that
//! matter (nothing there, everything there, half built), exactly what the
//! tool would run under `--dry-run` and what it would say.

mod world;

mod artifact_registry;

mod gke_cluster;

mod gke_nat;

mod gke_allow;

mod admin_service_account;

mod ray_service_account;

mod clean_images;

/// Every GCP tool that acts in the project refuses in another gcloud
/// configuration, names both, and sends nothing.
#[test]
fn safety_valve_for_every_tool() {
    use kas_infra::tools::*;
    let other = || world::World::new().env("CLOUDSDK_ACTIVE_CONFIG_NAME", "other");
    let transcripts = [
        other().transcript(
            &artifact_registry::TOOL,
            "artifact-registry = --configuration=other",
        ),
        other().transcript(&gke_cluster::TOOL, "gke-cluster + --cidr 203.0.113.7/32"),
        other().transcript(&gke_nat::TOOL, "gke-nat ="),
        other().transcript(&gke_allow::TOOL, "gke-allow -- --quiet"),
        other().transcript(&ray_service_account::TOOL, "ray-service-account -"),
        other().transcript(&clean_images::TOOL, "clean-images - --tag x"),
    ];
    for (i, t) in transcripts.iter().enumerate() {
        if i == 0 {
            // --configuration names the active one on purpose: it runs.
            assert!(t.contains("? gcloud"), "{t}");
            continue;
        }
        assert!(!t.contains("? "), "a request was sent:\n{t}");
        assert!(t.contains("`other`") && t.contains("`kas`"), "{t}");
        assert!(t.ends_with("exit 3\n"), "{t}");
    }
}
