//! The GCP API emulator against the real gcloud.

mod emulator;

use emulator::gcp::GcpEmulator;

#[test]
fn starts() {
    let emu = GcpEmulator::start().unwrap();
    assert!(emu.url().starts_with("http://127.0.0.1:"));
}
