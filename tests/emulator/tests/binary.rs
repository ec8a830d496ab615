//! The `kas-emulator` binary as a person uses it: `eval "$(kas-emulator gcp &)"`,
//! then `kill $KAS_EMULATOR_PID`.
//!
//! Needs `gcloud`, `openssl` and `python3` on PATH.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kas_emulator::gcp::{HUMAN, PROJECT, ZONE};
use kas_test_support::need;

/// Starts `kas-emulator API` as `eval "$(kas-emulator API &)"` would and
/// returns it with the `export` lines it printed, as text and as pairs.
fn start(api: &str) -> (Child, String, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kas-emulator"))
        .arg(api)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let vars = exports
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    (child, exports, vars)
}

fn var(vars: &[(String, String)], key: &str) -> String {
    let found = vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    found.unwrap_or_else(|| panic!("{key} is not exported: {vars:?}"))
}

/// SIGTERM (`kill`), SIGINT (Ctrl-C) and SIGHUP (the terminal went away)
/// stop either emulator, which then removes its temporary folder before it
/// dies of that signal.
#[test]
fn a_stopped_emulator_leaves_no_folder_behind() {
    if !need::tool("openssl") || !need::tool("python3") {
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    let cases = [
        ("gcp", "CLOUDSDK_CONFIG", libc::SIGTERM),
        ("gcp", "CLOUDSDK_CONFIG", libc::SIGINT),
        ("kube", "KUBECONFIG", libc::SIGTERM),
        ("kube", "KUBECONFIG", libc::SIGINT),
        ("kube", "KUBECONFIG", libc::SIGHUP),
    ];
    for (api, file, signal) in cases {
        let (mut child, _, vars) = start(api);
        assert_eq!(var(&vars, "KAS_EMULATOR_PID"), child.id().to_string());
        let folder: PathBuf = Path::new(&var(&vars, file)).parent().unwrap().into();
        assert!(folder.is_dir(), "{api}: {} is not there", folder.display());
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(signal), "{api}: {status}");
        assert!(
            !folder.exists(),
            "{api} after signal {signal}: {} is still there",
            folder.display()
        );
    }
}

/// `kas-emulator gcp` prints export lines, closes its standard output (so
/// `eval "$(kas-emulator gcp &)"` returns) and keeps serving.
#[test]
fn the_kas_emulator_binary_points_a_shell_at_itself() {
    if !need::tool("gcloud") || !need::tool("openssl") || !need::tool("python3") {
        return;
    }
    let (mut child, exports, vars) = start("gcp");
    assert_eq!(var(&vars, "KAS_EMULATOR_PID"), child.id().to_string());
    let config = var(&vars, "CLOUDSDK_CONFIG");

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
    let out = cmd.output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    // Killed (SIGKILL, which no handler sees), it still leaves no gcloud
    // home behind (its relay, seeing its parent gone, removes it).
    let home = Path::new(&config).parent().unwrap();
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
