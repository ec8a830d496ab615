//! The Kubernetes API emulator, driven by the real kubectl and helm.

#[path = "emulator/kube/mod.rs"]
mod kube;

use kube::KubeEmulator;

#[test]
fn smoke() {
    let emu = KubeEmulator::start().unwrap();
    let out = emu.kubectl().args(["get", "ns"]).output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    for r in emu.requests() {
        println!("{r}");
    }
}
