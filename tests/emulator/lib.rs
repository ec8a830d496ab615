//! Local stand-ins for the cloud APIs the tools talk to, used by the test
//! crates (a dev-dependency) and the `kas-emulator` binary.

pub mod gcp;
pub mod http;
pub mod joined;
pub mod kube;
pub mod relay;
pub mod signals;
pub mod test_ca;
