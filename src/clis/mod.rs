//! Typed wrappers over the official CLIs: each builds its tool's commands
//! and reads what the tool prints (JSON, YAML, its error wording).

pub mod docker;
pub mod gcloud;
pub mod gcloud_props;
pub mod git;
pub mod helm;
pub mod iam;
pub mod kubeconfig;
pub mod kubectl;
