//! Shared by the kubectl-ray tests.
#![allow(dead_code)]

pub mod kube_answers;
pub mod openapi;
pub mod shared;
pub mod world;
