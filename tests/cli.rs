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

/// Every file under `dir` with its bytes, to show a refused run left the
/// folder as it was.
fn tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// A YAML file whose aliases expand to 10^9 strings.
fn alias_bomb() -> String {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

/// Bad input of every kind: exit status, a message that says what is
/// wrong, and nothing changed in the home folder. (`setup` writes into
/// the home first; `args` may name `HOME/...`.)
#[test]
fn bad_input_is_refused_with_a_clear_message_and_changes_nothing() {
    type Setup = fn(&std::path::Path);
    let cases: Vec<(&str, Vec<&str>, Setup, i32, &str)> = vec![
        (
            "gke-allow",
            vec!["+", "--cidr", "10.0.0.5/8"],
            |_| {},
            2,
            "the network is 10.0.0.0/8",
        ),
        (
            "gke-cluster",
            vec!["+", "--cidr", "203.0.113.7/24"],
            |_| {},
            2,
            "203.0.113.0/24",
        ),
        (
            "gke-cluster",
            vec!["+", "--cidr", "1.2.3.4/32"],
            |h| std::fs::write(h.join("kas.yaml"), "gke:\n  master_cidr: 10.13.37.5/28\n").unwrap(),
            3,
            "the network is 10.13.37.0/28",
        ),
        (
            "gke-cluster",
            vec!["="],
            |h| std::fs::write(h.join("kas.yaml"), "gke:\n  master_cidr: 10.13.37.5/28\n").unwrap(),
            3,
            "the network is 10.13.37.0/28",
        ),
        (
            "gke-cluster",
            vec!["="],
            |h| std::fs::write(h.join("kas.yaml"), "gke:\n  master_cidr: 10.13.37.0/24\n").unwrap(),
            3,
            "IPv4 /28",
        ),
        (
            "gke-nat",
            vec!["="],
            |h| std::fs::write(h.join("kas.yaml"), alias_bomb()).unwrap(),
            3,
            "expands to more than",
        ),
        (
            "gke-nat",
            vec!["=", "--config", "HOME/cfg"],
            |h| std::fs::create_dir(h.join("cfg")).unwrap(),
            3,
            "is a folder: --config names the project file itself",
        ),
        (
            "gke-nat",
            vec!["=", "--config", "/dev/null"],
            |_| {},
            3,
            "/dev/null is not a regular file",
        ),
        (
            "gke-nat",
            vec!["="],
            |h| std::fs::create_dir(h.join("kas.yaml")).unwrap(),
            3,
            "kas.yaml is a folder, not the project file",
        ),
        (
            "gke-nat",
            vec!["=", "--configuration", "foo"],
            |_| {},
            3,
            "--configuration asks for `foo`",
        ),
        (
            "clean-images",
            vec!["+"],
            |_| {},
            2,
            "not an operation of clean-images",
        ),
        (
            "clean-images",
            vec!["-", "--pattern", " "],
            |_| {},
            2,
            "matches every image",
        ),
        (
            "clean-images",
            vec!["-", "--older-than", "2026-13-45"],
            |_| {},
            2,
            "not a date",
        ),
    ];
    let mut clear = 0;
    let mut changed = 0;
    for (tool, args, setup, code, says) in &cases {
        let bin = TOOLS.iter().find(|(n, _)| n == tool).unwrap().1;
        let home = tempfile::tempdir().unwrap();
        let gcloud = home.path().join("gcloud");
        std::fs::create_dir_all(gcloud.join("configurations")).unwrap();
        std::fs::write(
            gcloud.join("configurations/config_kas"),
            "[core]\nproject = p\n[compute]\nregion = r\nzone = z\n",
        )
        .unwrap();
        std::fs::write(gcloud.join("active_config"), "kas").unwrap();
        setup(home.path());
        let before = tree(home.path());
        let home_text = home.path().to_string_lossy().into_owned();
        let args: Vec<String> = args.iter().map(|a| a.replace("HOME", &home_text)).collect();
        let out = Command::new(bin)
            .args(&args)
            .env_clear()
            .env("HOME", home.path())
            .env("CLOUDSDK_CONFIG", &gcloud)
            .env("PATH", home.path().join("empty-bin"))
            .current_dir(home.path())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{tool} {args:?}: {err}");
        assert!(err.contains(says), "{tool} {args:?}: {err}");
        assert!(
            !err.contains("kas.yaml") || !args.contains(&"--configuration".to_string()),
            "--configuration is not blamed on kas.yaml: {err}"
        );
        clear += 1;
        if tree(home.path()) != before {
            changed += 1;
        }
    }
    eprintln!(
        "bad inputs tried {}, clear errors {clear}, states changed {changed}",
        cases.len()
    );
    assert_eq!(changed, 0);
}
