//! The `kas-emulator` binary as a person uses it: `eval "$(kas-emulator gcp &)"`.
//!
//! Needs `gcloud`, `openssl` and `python3` on PATH.

use std::process::Command;

use kas_emulator::gcp::{HUMAN, PROJECT, ZONE};

fn gcloud_on_path() {
    if which::which("gcloud").is_err() {
        panic!(
            "these tests run the real gcloud: install the Google Cloud SDK (Debian: google-cloud-cli)"
        );
    }
}

/// `kas-emulator gcp` prints export lines, closes its standard output (so
/// `eval "$(kas-emulator gcp &)"` returns) and keeps serving.
#[test]
fn the_kas_emulator_binary_points_a_shell_at_itself() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kas-emulator"))
        .arg("gcp")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut exports = String::new();
    // Returns at end of file: the emulator closed its standard output.
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut exports)
        .unwrap();
    let vars: Vec<(String, String)> = exports
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let get = |key: &str| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(
        get("KAS_EMULATOR_PID"),
        Some(child.id().to_string()),
        "{exports}"
    );
    let config = get("CLOUDSDK_CONFIG").expect("CLOUDSDK_CONFIG exported");

    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!(
        "{exports}gcloud config list --format 'value(core.project,compute.zone,core.account)' && \
         gcloud container clusters list --format json"
    ));
    for (key, _) in std::env::vars() {
        if key.starts_with("CLOUDSDK_") {
            cmd.env_remove(key);
        }
    }
    gcloud_on_path();
    let out = cmd.output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    // Killed, it still leaves no gcloud home behind (its proxy, seeing
    // its parent gone, removes it).
    let home = std::path::Path::new(&config).parent().unwrap();
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !home.exists()
    });
    assert!(gone, "{} is still there", home.display());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout
            .lines()
            .next()
            .unwrap()
            .split('\t')
            .collect::<Vec<_>>(),
        [PROJECT, ZONE, HUMAN]
    );
    assert_eq!(stdout.lines().skip(1).collect::<String>().trim(), "[]");
}
