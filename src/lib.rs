//! kas-infra: thin, checked wrappers around gcloud, kubectl, helm and docker
//! for running Ray on Google Cloud and Kubernetes.
//!
//! The folders are the layers, bottom up; a module imports only from its
//! own layer and the ones below it:
//!
//! 1. [`exec`]: a subprocess as a value, the one runner, the terminal, the
//!    process environment, finding programs on `PATH`.
//! 2. [`clis`]: one typed wrapper per official CLI (gcloud, IAM policies,
//!    kubectl, kubeconfig, helm, docker, git), each the only place its commands are
//!    spelled and its error wording is known.
//! 3. [`app`]: what every tool shares: `kas.yaml`, the operation grammar,
//!    the common flags and the one driver, converging pieces, waits, CIDRs.
//! 4. [`ray`]: what both kubectl plugins know about a RayCluster.
//! 5. [`tools`]: one module per installed tool; no tool imports another.

pub mod app;
pub mod clis;
pub mod exec;
pub mod ray;
pub mod tools;
