//! gcloud's properties as this crate reads them (files and CLOUDSDK_*
//! variables, no gcloud process) against what the real gcloud answers to
//! `gcloud config get-value`, on the same throwaway CLOUDSDK_CONFIG.

use std::path::Path;
use std::process::Command;

use kas_infra::clis::gcloud_props::GcloudProps;
use kas_infra::exec::environment::Env;

const PROPERTIES: [&str; 5] = [
    "core/project",
    "compute/region",
    "compute/zone",
    "artifacts/location",
    "core/account",
];

fn gcloud_on_path() {
    if which::which("gcloud").is_err() {
        panic!("these tests need the real gcloud on PATH: install the Google Cloud CLI");
    }
}

/// What gcloud itself says, or None for an unset property.
fn gcloud_value(config_dir: &Path, vars: &[(&str, &str)], property: &str) -> Option<String> {
    let mut cmd = Command::new("gcloud");
    cmd.args(["config", "get-value", property])
        .env("CLOUDSDK_CONFIG", config_dir)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("CLOUDSDK_") && name != "CLOUDSDK_CONFIG" {
            cmd.env_remove(name);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("gcloud runs");
    assert!(
        out.status.success(),
        "gcloud config get-value failed: {:?}",
        out
    );
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn ours(config_dir: &Path, vars: &[(&str, &str)], property: &str) -> (String, Option<String>) {
    let mut env = Env::from_pairs(vars.iter().copied());
    env.set("CLOUDSDK_CONFIG", config_dir.to_string_lossy());
    env.set("HOME", "/nonexistent");
    if let Ok(path) = std::env::var("PATH") {
        env.set("PATH", path);
    }
    let props = GcloudProps::load(&env);
    (props.active.clone(), props.get(property))
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Compares every property for one setup, and the active configuration.
fn compare(dir: &Path, vars: &[(&str, &str)]) {
    // gcloud takes about a second to start: ask for all properties at once.
    let answers: Vec<Option<String>> = std::thread::scope(|s| {
        let asks: Vec<_> = PROPERTIES
            .iter()
            .map(|p| s.spawn(move || gcloud_value(dir, vars, p)))
            .collect();
        asks.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (property, theirs) in PROPERTIES.iter().zip(answers) {
        let (_, mine) = ours(dir, vars, property);
        assert_eq!(mine, theirs, "{property} with {vars:?}");
    }
    let theirs = {
        let mut cmd = Command::new("gcloud");
        cmd.args([
            "config",
            "configurations",
            "list",
            "--filter=is_active=true",
            "--format=json",
        ])
        .env("CLOUDSDK_CONFIG", dir)
        .env_remove("CLOUDSDK_ACTIVE_CONFIG_NAME");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list[0]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(
        ours(dir, vars, "core/project").0,
        theirs,
        "active configuration with {vars:?}"
    );
}

#[test]
fn agrees_with_gcloud_on_configurations_and_environment() {
    gcloud_on_path();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "configurations/config_default",
        "[core]\nproject = from-default\n",
    );
    write(
        d,
        "configurations/config_lab",
        "[core]\nproject = lab-project\naccount = admin@lab-project.iam.gserviceaccount.com\n\
         [compute]\nregion = europe-west4\nzone = europe-west4-a\n[artifacts]\nlocation = europe\n",
    );
    write(
        d,
        "configurations/config_bare",
        "[compute]\nregion = us-central1\n",
    );

    // No active_config file: gcloud uses `default`.
    compare(d, &[]);
    write(d, "active_config", "lab");
    compare(d, &[]);
    compare(d, &[("CLOUDSDK_COMPUTE_ZONE", "us-east1-b")]);
    compare(
        d,
        &[
            ("CLOUDSDK_CORE_PROJECT", "env-project"),
            ("CLOUDSDK_ARTIFACTS_LOCATION", "asia"),
        ],
    );
    compare(d, &[("CLOUDSDK_ACTIVE_CONFIG_NAME", "bare")]);
    compare(
        d,
        &[
            ("CLOUDSDK_ACTIVE_CONFIG_NAME", "default"),
            ("CLOUDSDK_COMPUTE_REGION", "r1"),
        ],
    );
    write(d, "active_config", "bare");
    compare(d, &[]);
}
