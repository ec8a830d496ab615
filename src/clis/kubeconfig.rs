//! The kubeconfig file, read and changed only through `kubectl config`, so
//! the file stays one kubectl loads: kubectl reads YAML 1.1, and a YAML
//! writer of our own left `yes`, `on`, `1_000` or `12:30` unquoted (kubectl
//! then refused the whole file). Names: the entries gcloud writes
//! (`gke_PROJECT_ZONE_CLUSTER`) and the short context names users type.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use crate::clis::kubectl::{Kubectl, Ns, Target};
use crate::exec::cmd::Cmd;
use crate::exec::environment::Env;
use crate::exec::runner::Runner;

/// The file kubectl and gcloud write to: the first of `KUBECONFIG`, or
/// `~/.kube/config`.
pub fn path(env: &Env) -> PathBuf {
    match env.non_empty("KUBECONFIG") {
        Some(list) => std::env::split_paths(list)
            .next()
            .unwrap_or_else(|| env.home().join(".kube/config")),
        None => env.home().join(".kube").join("config"),
    }
}

/// Where the copy of the file as it was before a run changed it goes.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".kas-backup");
    path.with_file_name(name)
}

/// The name gcloud gives a GKE cluster's entries.
pub fn gke_name(project: &str, zone: &str, cluster: &str) -> String {
    format!("gke_{project}_{zone}_{cluster}")
}

/// What `kubectl config view -o json` shows of a kubeconfig: the names
/// only (kubectl redacts the credentials, which we never need).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Kubeconfig {
    #[serde(deserialize_with = "null_is_empty")]
    pub clusters: Vec<Named>,
    #[serde(deserialize_with = "null_is_empty")]
    pub contexts: Vec<Named>,
    #[serde(deserialize_with = "null_is_empty")]
    pub users: Vec<Named>,
    #[serde(rename = "current-context")]
    pub current_context: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Named {
    pub name: String,
}

/// kubectl prints `"clusters": null` for a section without entries.
fn null_is_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Named>, D::Error> {
    Ok(Option::<Vec<Named>>::deserialize(d)?.unwrap_or_default())
}

impl Kubeconfig {
    pub fn has_cluster(&self, name: &str) -> bool {
        self.clusters.iter().any(|e| e.name == name)
    }

    pub fn has_context(&self, name: &str) -> bool {
        self.contexts.iter().any(|e| e.name == name)
    }

    pub fn has_user(&self, name: &str) -> bool {
        self.users.iter().any(|e| e.name == name)
    }

    /// Whether a context, cluster or user is called `name`.
    pub fn has_any(&self, name: &str) -> bool {
        self.has_cluster(name) || self.has_context(name) || self.has_user(name)
    }
}

/// `kubectl config ...` on one file (`--kubeconfig=PATH`), so kubectl
/// changes the very file that was backed up, whatever `KUBECONFIG` lists.
pub struct KubeconfigFile<'a> {
    pub path: PathBuf,
    run: &'a Runner,
    target: Target,
}

impl<'a> KubeconfigFile<'a> {
    pub fn new(run: &'a Runner, path: PathBuf) -> KubeconfigFile<'a> {
        let target = Target {
            kubeconfig: Some(path.clone()),
            ..Target::default()
        };
        KubeconfigFile { path, run, target }
    }

    fn kubectl(&self) -> Kubectl<'_> {
        Kubectl::new(self.run, &self.target)
    }

    /// The file as kubectl reads it; empty when there is no file (then no
    /// kubectl runs). A file kubectl cannot load is an error naming it.
    pub fn load(&self) -> Result<Kubeconfig> {
        if !self.path.exists() {
            return Ok(Kubeconfig::default());
        }
        self.run.json(
            &self
                .kubectl()
                .query(["config", "view", "--output=json"], Ns::Cluster),
        )
    }

    /// `kubectl config VERB ARGS...`, a change of the file.
    pub fn change<I, S>(&self, words: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let words: Vec<String> = words.into_iter().map(Into::into).collect();
        self.kubectl()
            .mutation(["config".to_string()].into_iter().chain(words), Ns::Cluster)
    }

    /// The commands that remove every cluster, context and user called one
    /// of `names`, and unset the current context when it is one of them
    /// (kubectl leaves it pointing at nothing).
    pub fn removals(&self, config: &Kubeconfig, names: &[&str]) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for name in names {
            if config.has_context(name) {
                cmds.push(self.change(["delete-context", name]));
            }
            if config.has_cluster(name) {
                cmds.push(self.change(["delete-cluster", name]));
            }
            if config.has_user(name) {
                cmds.push(self.change(["delete-user", name]));
            }
        }
        if names.contains(&config.current_context.as_str()) {
            cmds.push(self.change(["unset", "current-context"]));
        }
        cmds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ui::Ui;
    use std::sync::Arc;

    const VIEW: &str = r#"{"kind":"Config","clusters":[{"name":"gke_p_z_x-ray"},{"name":"other"}],
      "contexts":[{"name":"gke_p_z_x-ray","context":{}}],"users":null,
      "current-context":"gke_p_z_x-ray"}"#;

    #[test]
    fn removes_only_the_named_entries() {
        let runner = Runner::with(
            Arc::new(crate::exec::runner::SystemExec),
            Arc::new(Ui::buffered()),
            true,
            false,
        );
        let file = KubeconfigFile::new(&runner, "/k/config".into());
        let c: Kubeconfig = serde_json::from_str(VIEW).unwrap();
        let lines: Vec<String> = file
            .removals(&c, &["x-ray", "gke_p_z_x-ray"])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "kubectl config delete-context gke_p_z_x-ray --kubeconfig=/k/config",
                "kubectl config delete-cluster gke_p_z_x-ray --kubeconfig=/k/config",
                "kubectl config unset current-context --kubeconfig=/k/config",
            ]
        );
        assert!(c.has_any("other") && !c.has_any("x-ray"));
    }

    #[test]
    fn first_kubeconfig_path_wins() {
        let env = Env::from_pairs([("KUBECONFIG", "/a/one:/b/two"), ("HOME", "/h")]);
        assert_eq!(path(&env), PathBuf::from("/a/one"));
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(path(&env), PathBuf::from("/h/.kube/config"));
        assert_eq!(
            backup_path(Path::new("/h/.kube/config")),
            PathBuf::from("/h/.kube/config.kas-backup")
        );
    }
}
