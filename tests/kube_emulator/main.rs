//! The Kubernetes API emulator, driven by the real kubectl and helm.
//!
//! Every command runs with a deadline, and every wait is bounded.

use kas_emulator::kube;

mod support;

mod deletion;
mod objects;
mod operator;
mod rayjobs;
mod streams;
