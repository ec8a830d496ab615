//! The Kubernetes API emulator, driven by the real kubectl and helm.
//!
//! Every command runs with a deadline, and every wait is bounded.

#[path = "emulator/kube/mod.rs"]
mod kube;

#[path = "kube_emulator/support.rs"]
mod support;

#[path = "kube_emulator/deletion.rs"]
mod deletion;
#[path = "kube_emulator/objects.rs"]
mod objects;
#[path = "kube_emulator/operator.rs"]
mod operator;
#[path = "kube_emulator/streams.rs"]
mod streams;
