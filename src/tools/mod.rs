//! One module per tool.

pub mod admin_service_account;
pub mod artifact_registry;
pub mod clean_images;
pub mod gke_allow;
pub mod gke_cluster;
pub mod gke_nat;
pub mod kas;
pub mod kubectl_ray;
pub mod publish_wheel;
pub mod ray_service_account;
