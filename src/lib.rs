//! kas-infra: thin, checked wrappers around gcloud, kubectl, helm and docker
//! for running Ray on Google Cloud and Kubernetes.
//!
//! Layers, bottom up: [`cmd`] (a subprocess as a value), [`runner`] (the one
//! place they run), typed CLI wrappers ([`gcloud`]), configuration
//! ([`config`], [`gcloud_props`]), [`converge`] (ordered pieces that
//! converge), and one module per tool under [`tools`].

pub mod cidr;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod converge;
pub mod environment;
pub mod gcloud;
pub mod gcloud_props;
pub mod grammar;
pub mod helm;
pub mod iam;
pub mod kubeconfig;
pub mod kubectl;
pub mod runner;
pub mod tools;
pub mod tools_on_path;
pub mod ui;
