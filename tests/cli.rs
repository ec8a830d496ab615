//! The installed binaries as a user meets them: usage, refusals, a missing
//! CLI, exit statuses. No cloud is reached: these fail before any request.

use std::process::{Command, Output};

const TOOLS: [(&str, &str); 7] = [
    (
        "admin-service-account",
        env!("CARGO_BIN_EXE_admin-service-account"),
    ),
    ("artifact-registry", env!("CARGO_BIN_EXE_artifact-registry")),
    ("gke-cluster", env!("CARGO_BIN_EXE_gke-cluster")),
    ("gke-nat", env!("CARGO_BIN_EXE_gke-nat")),
    ("gke-allow", env!("CARGO_BIN_EXE_gke-allow")),
    (
        "ray-service-account",
        env!("CARGO_BIN_EXE_ray-service-account"),
    ),
    ("clean-images", env!("CARGO_BIN_EXE_clean-images")),
];

/// Runs a tool with a clean gcloud home whose active configuration is `kas`
/// and a PATH that has no gcloud.
fn run(bin: &str, args: &[&str]) -> (Output, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let gcloud = home.path().join("gcloud");
    std::fs::create_dir_all(gcloud.join("configurations")).unwrap();
    std::fs::write(
        gcloud.join("configurations/config_kas"),
        "[core]\nproject = p\n[compute]\nregion = r\nzone = z\n",
    )
    .unwrap();
    std::fs::write(gcloud.join("active_config"), "kas").unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("CLOUDSDK_CONFIG", &gcloud)
        .env("PATH", home.path().join("empty-bin"))
        .current_dir(home.path());
    (cmd.output().unwrap(), home)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn without_arguments_every_tool_prints_usage_and_fails() {
    for (name, bin) in TOOLS {
        let (out, _home) = run(bin, &[]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        assert!(
            err.contains("Usage:") && err.contains("Operations:"),
            "{name}: {err}"
        );
    }
}

#[test]
fn an_unknown_operation_is_refused_before_anything_runs() {
    for (name, bin) in TOOLS {
        if name == "clean-images" {
            continue; // its positional is a .FLAVOR, checked below
        }
        let (out, _home) = run(bin, &["sideways"]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            stderr(&out).contains("unknown operation `sideways`"),
            "{name}"
        );
    }
    let (out, _home) = run(TOOLS[6].1, &["=", "dev"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("write it as .NAME"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_gcloud_says_what_to_install() {
    let (out, _home) = run(env!("CARGO_BIN_EXE_gke-nat"), &["="]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("`gcloud` was not found on PATH"), "{err}");
    assert!(err.contains("install the Google Cloud CLI"), "{err}");
}

#[test]
fn double_dash_and_double_plus_reach_gke_allow_as_operations() {
    // Both get past argument parsing to the first gcloud call (absent here).
    for op in ["--", "++"] {
        let (out, _home) = run(
            env!("CARGO_BIN_EXE_gke-allow"),
            &[op, "--cidr", "203.0.113.7/32"],
        );
        assert_eq!(out.status.code(), Some(3), "{op}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("`gcloud` was not found"),
            "{op}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_bad_cidr_is_a_usage_error() {
    let (out, _home) = run(
        env!("CARGO_BIN_EXE_gke-cluster"),
        &["+", "--cidr", "10.0.0.0/40"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("prefix length"), "{}", stderr(&out));
}

#[test]
fn a_malformed_kas_yaml_is_reported_with_its_path() {
    let (out, home) = {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("kas.yaml"), "gke: [not, a, map]\n").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_gke-nat"))
            .arg("=")
            .env_clear()
            .env("HOME", home.path())
            .current_dir(home.path())
            .output()
            .unwrap();
        (out, home)
    };
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("kas.yaml is not a valid kas configuration"),
        "{err}"
    );
    drop(home);
}

#[test]
fn admin_status_needs_no_gcloud_at_all() {
    // PATH has no gcloud: `=` still answers, from files alone.
    let (out, _home) = run(env!("CARGO_BIN_EXE_admin-service-account"), &["="]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("gcloud configuration kas") && stdout.contains("present"),
        "{stdout}"
    );
}
