//! Plan snapshots: for every tool and operation, in the world states that
//! matter (nothing there, everything there, half built), exactly what the
//! tool would run under `--dry-run` and what it would say.

#[path = "plans/world.rs"]
mod world;

#[path = "plans/artifact_registry.rs"]
mod artifact_registry;

#[path = "plans/gke_cluster.rs"]
mod gke_cluster;

#[path = "plans/gke_nat.rs"]
mod gke_nat;

#[path = "plans/gke_allow.rs"]
mod gke_allow;

#[path = "plans/admin_service_account.rs"]
mod admin_service_account;

#[path = "plans/ray_service_account.rs"]
mod ray_service_account;

#[path = "plans/clean_images.rs"]
mod clean_images;
