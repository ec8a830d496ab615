//! The rule for what a test needs from the machine (a CLI, a Docker
//! engine, a folder): outside CI a missing need skips the test with a note
//! on standard error; with `CI` set it fails the test, saying what to do.

use std::fmt::Display;

/// Skips (outside CI) or fails (in CI) the calling test: `what` says
/// what is missing and how to get it. Returns `false`, for `return`.
pub fn missing(what: impl Display) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what}");
    }
    eprintln!("skipped: {what}");
    false
}

/// `ok`, or [`missing`] with `what`.
pub fn present(ok: bool, what: impl Display) -> bool {
    ok || missing(what)
}

/// Whether every tool is on PATH; if not, [`missing`] names those that
/// are not, followed by `hint` (how to install them).
pub fn tools(tools: &[&str], hint: &str) -> bool {
    let absent: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which::which(t).is_err())
        .collect();
    absent.is_empty() || missing(format!("{} not on PATH: {hint}", absent.join(", ")))
}

/// Whether `tool` is on PATH, with the usual way to get it as the hint.
pub fn tool(tool: &str) -> bool {
    let hint = match tool {
        "helm" => "run `source .ci/setup-helm.sh` (or install Helm 3.x/4.x)",
        "kubectl" => "run `source .ci/setup-helm.sh`, which also provides kubectl",
        "gcloud" => "install the Google Cloud SDK (Debian: google-cloud-cli)",
        "openssl" => "install it (Debian: `apt-get install openssl`)",
        "python3" => "install it (Debian: `apt-get install python3`)",
        _ => "install it",
    };
    tools(&[tool], hint)
}
