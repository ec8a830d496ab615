//! Finding the official CLIs, and saying what to install when one is missing.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

/// What to tell a user who lacks a program.
fn install_hint(program: &str) -> &'static str {
    match program {
        "gcloud" => "install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install",
        "kubectl" => {
            "install kubectl: `gcloud components install kubectl` or https://kubernetes.io/docs/tasks/tools/"
        }
        "helm" => "install Helm: https://helm.sh/docs/intro/install/",
        "docker" => "install Docker: https://docs.docker.com/engine/install/",
        "ssh-keygen" => "install OpenSSH's client tools (package openssh-client)",
        "git" => "install git",
        "uv" | "python3" | "twine" | "poetry" => {
            "install it, or put the Python build tools on PATH (see the README, publish-wheel)"
        }
        _ => "install it or add it to PATH",
    }
}

/// The full path of `program`, or an error that says what to install.
pub fn locate(program: &str) -> Result<PathBuf> {
    which::which(program).map_err(|_| {
        anyhow!(
            "`{program}` was not found on PATH: {}",
            install_hint(program)
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn missing_program_says_what_to_install() {
        let err = super::locate("gcloud-that-is-not-there").unwrap_err();
        assert!(err.to_string().contains("was not found on PATH"));
    }
}
