//! End to end: every GCP tool with the real gcloud against the GCP API
//! emulator. For each tool: `+` from nothing builds what SPEC.md lists, `=`
//! then exits 0, `+` again sends no mutating request, `-` removes
//! everything, `-` again sends no mutating request, `=` then exits non-zero.
//! And for every mutating request of `+` and `-`: a run where it fails once
//! exits non-zero naming the piece, and a plain rerun ends where a clean run
//! does.

use kas_emulator as emulator;

mod harness;

mod faults;

mod admin_service_account;
mod artifact_registry;
mod clean_images;
mod gce_cluster_files;
mod gke_allow;
mod gke_cluster;
mod gke_nat;
mod ray_service_account;
mod safety_valve;
