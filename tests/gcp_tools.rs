//! End to end: every GCP tool with the real gcloud against the GCP API
//! emulator. For each tool: `+` from nothing builds what SPEC.md lists, `=`
//! then exits 0, `+` again sends no mutating request, `-` removes
//! everything, `-` again sends no mutating request, `=` then exits non-zero.
//! And for every mutating request of `+` and `-`: a run where it fails once
//! exits non-zero naming the piece, and a plain rerun ends where a clean run
//! does.

mod emulator;

#[path = "gcp_tools/harness.rs"]
mod harness;

#[path = "gcp_tools/counts.rs"]
mod counts;
#[path = "gcp_tools/faults.rs"]
mod faults;

#[path = "gcp_tools/admin_service_account.rs"]
mod admin_service_account;
#[path = "gcp_tools/artifact_registry.rs"]
mod artifact_registry;
#[path = "gcp_tools/clean_images.rs"]
mod clean_images;
#[path = "gcp_tools/gke_allow.rs"]
mod gke_allow;
#[path = "gcp_tools/gke_cluster.rs"]
mod gke_cluster;
#[path = "gcp_tools/gke_nat.rs"]
mod gke_nat;
#[path = "gcp_tools/ray_service_account.rs"]
mod ray_service_account;
#[path = "gcp_tools/safety_valve.rs"]
mod safety_valve;
