//! Typed `helm` calls, connected to the same cluster as kubectl
//! (`--kubeconfig`, `--kube-context`; `KUBECONFIG` is inherited).

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::clis::kubectl::Target;
use crate::exec::cmd::Cmd;
use crate::exec::runner::Runner;

pub struct Helm<'a> {
    pub run: &'a Runner,
    pub target: &'a Target,
}

/// One row of `helm list --output json`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: String,
    pub status: String,
    pub chart: String,
    pub app_version: String,
}

impl Release {
    /// Installed and healthy: not failed, not half-way.
    pub fn is_deployed(&self) -> bool {
        self.status == "deployed"
    }
}

/// Where a chart comes from, as Helm is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChartSource {
    /// A chart name in a repository given by URL (`--repo`, which leaves
    /// the user's repository list alone).
    Repo {
        name: String,
        url: String,
        version: String,
    },
    /// `oci://...`, with a version.
    Oci { reference: String, version: String },
    /// A chart folder or archive on disk: its own version.
    Local(String),
}

impl ChartSource {
    fn args(&self) -> Vec<String> {
        match self {
            ChartSource::Repo { name, url, version } => vec![
                name.clone(),
                format!("--repo={url}"),
                format!("--version={version}"),
            ],
            ChartSource::Oci { reference, version } => {
                vec![reference.clone(), format!("--version={version}")]
            }
            ChartSource::Local(path) => vec![path.clone()],
        }
    }
}

/// What `helm install` (or `upgrade`) is asked to do.
pub struct Install<'a> {
    pub release: &'a str,
    pub namespace: &'a str,
    pub chart: &'a ChartSource,
    pub values: Option<&'a str>,
    pub timeout_secs: u64,
}

impl<'a> Helm<'a> {
    pub fn new(run: &'a Runner, target: &'a Target) -> Helm<'a> {
        Helm { run, target }
    }

    fn connect(&self, mut cmd: Cmd, namespace: &str) -> Cmd {
        if let Some(path) = &self.target.kubeconfig {
            cmd = cmd.arg(format!("--kubeconfig={}", path.display()));
        }
        cmd.opt("--kube-context", self.target.context.as_deref())
            .arg(format!("--namespace={namespace}"))
    }

    /// The release `name` in `namespace`, whatever its state.
    pub fn release(&self, name: &str, namespace: &str) -> Result<Option<Release>> {
        let cmd = self.connect(
            // Helm 4 lists releases in every state (and has no `--all`);
            // Helm 3 lists deployed and failed ones, which is what counts.
            Cmd::query("helm").args(["list", "--output=json"]),
            namespace,
        );
        let out = self.run.check(&cmd)?;
        let text = if out.stdout.trim().is_empty() {
            "[]"
        } else {
            out.stdout.as_str()
        };
        let releases: Vec<Release> = serde_json::from_str(text)
            .with_context(|| format!("could not read the JSON that `{cmd}` printed"))?;
        Ok(releases.into_iter().find(|r| r.name == name))
    }

    /// `helm install` a new release, or `helm upgrade` one that exists but
    /// failed; both wait until its workloads are ready.
    pub fn install(&self, how: &Install<'_>, upgrade: bool) -> Result<()> {
        let verb = if upgrade { "upgrade" } else { "install" };
        let mut cmd = Cmd::mutation("helm")
            .args([verb, how.release])
            .args(how.chart.args());
        if let Some(values) = how.values {
            cmd = cmd.arg(format!("--values={values}"));
        }
        if !upgrade {
            cmd = cmd.arg("--create-namespace");
        }
        cmd = cmd.args([
            "--wait".to_string(),
            format!("--timeout={}s", how.timeout_secs),
        ]);
        self.run.check(&self.connect(cmd, how.namespace))?;
        Ok(())
    }

    /// Back to the last good revision (after an interrupted upgrade).
    pub fn rollback(&self, release: &str, namespace: &str, timeout_secs: u64) -> Result<()> {
        let cmd = Cmd::mutation("helm").args([
            "rollback".to_string(),
            release.to_string(),
            "--wait".to_string(),
            format!("--timeout={timeout_secs}s"),
        ]);
        self.run.check(&self.connect(cmd, namespace))?;
        Ok(())
    }

    pub fn uninstall(&self, release: &str, namespace: &str, timeout_secs: u64) -> Result<()> {
        let cmd = Cmd::mutation("helm").args([
            "uninstall".to_string(),
            release.to_string(),
            "--wait".to_string(),
            format!("--timeout={timeout_secs}s"),
        ]);
        self.run.check(&self.connect(cmd, namespace))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_helm_list_json() {
        let json = r#"[{"name":"kuberay-operator","namespace":"ray","revision":"1",
            "updated":"2026-11-27 10:00:00.1 +0000 UTC","status":"deployed",
            "chart":"kuberay-operator-1.5.1","app_version":"v1.5.1"}]"#;
        let releases: Vec<Release> = serde_json::from_str(json).unwrap();
        assert!(releases[0].is_deployed());
        assert_eq!(releases[0].chart, "kuberay-operator-1.5.1");
    }

    #[test]
    fn a_local_chart_has_no_repository_or_version() {
        assert_eq!(
            ChartSource::Local("./charts/k".into()).args(),
            vec!["./charts/k"]
        );
        let repo = ChartSource::Repo {
            name: "kuberay-operator".into(),
            url: "https://example.test/helm/".into(),
            version: "1.5.1".into(),
        };
        assert_eq!(
            repo.args(),
            vec![
                "kuberay-operator",
                "--repo=https://example.test/helm/",
                "--version=1.5.1"
            ]
        );
    }
}
