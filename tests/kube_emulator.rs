//! The Kubernetes API emulator, driven by the real kubectl and helm.

#[path = "emulator/kube/mod.rs"]
mod kube;

use kube::KubeEmulator;

#[test]
fn smoke() {
    let emu = KubeEmulator::start().unwrap();
    let args: Vec<String> = std::env::var("KUBE_ARGS")
        .unwrap()
        .split("|")
        .map(String::from)
        .collect();
    for a in args {
        let words: Vec<&str> = a.split_whitespace().collect();
        let (tool, words) = words.split_first().unwrap();
        let mut cmd = if *tool == "helm" {
            emu.helm()
        } else {
            emu.kubectl()
        };
        let start = std::time::Instant::now();
        let out = cmd.args(words).output().unwrap();
        println!(
            "$ {tool} {} ({:?})\n{}{}",
            words.join(" "),
            start.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for r in emu.requests() {
        println!("{r}");
    }
}
