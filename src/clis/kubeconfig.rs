//! The kubeconfig file, read and changed only through `kubectl config`, so
//! the file stays one kubectl loads: kubectl reads YAML 1.1, and a YAML
//! writer of our own left `yes`, `on`, `1_000` or `12:30` unquoted (kubectl
//! then refused the whole file). Names: the entries gcloud writes
//! (`gke_PROJECT_ZONE_CLUSTER`) and the short context names users type.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

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

/// Where gcloud may write: a scratch file next to the kubeconfig (gcloud's
/// YAML writer drops the quotes kubectl needs, so it never writes the
/// user's file; its entries are copied over with `kubectl config`).
pub fn scratch_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".kas-gcloud");
    path.with_file_name(name)
}

/// One entry of `kubectl config view --raw -o json`.
fn raw_entry<'v>(view: &'v Value, section: &str, name: &str, field: &str) -> Result<&'v Value> {
    view[section]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == name)
        .map(|e| &e[field])
        .with_context(|| format!("gcloud wrote no {section} entry {name}"))
}

fn text<'v>(map: &'v Value, key: &str) -> Option<&'v str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl KubeconfigFile<'_> {
    /// The commands that copy the cluster and user `name` that gcloud
    /// wrote (`from`: its file as `kubectl config view --raw -o json`
    /// shows it) into this file, and a context `context` that names them.
    /// Only what kubectl's own flags express is copied: an
    /// unknown shape is an error rather than a half-copied entry.
    pub fn copy_commands(&self, from: &Value, name: &str, context: &str) -> Result<Vec<Cmd>> {
        let cluster = raw_entry(from, "clusters", name, "cluster")?;
        let user = raw_entry(from, "users", name, "user")?;
        let known_cluster = ["server", "certificate-authority-data", "tls-server-name"];
        let known_user = ["exec"];
        let unknown: Vec<String> = cluster
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| !known_cluster.contains(&k.as_str()))
            .chain(
                user.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .filter(|k| !known_user.contains(&k.as_str())),
            )
            .cloned()
            .collect();
        if !unknown.is_empty() {
            bail!(
                "gcloud wrote kubeconfig fields this tool does not copy ({}): \
                 run `gcloud container clusters get-credentials` yourself",
                unknown.join(", ")
            );
        }
        let mut set_cluster = vec!["set-cluster".to_string(), name.to_string()];
        let server = text(cluster, "server").context("gcloud wrote a cluster without a server")?;
        set_cluster.push(format!("--server={server}"));
        if let Some(tls) = text(cluster, "tls-server-name") {
            set_cluster.push(format!("--tls-server-name={tls}"));
        }
        // `config set` takes a dotted path, so a name with dots cannot be
        // one (gcloud's names have none unless the project is domain-scoped).
        if name.contains('.') {
            bail!(
                "the kubeconfig name {name} has a dot, which `kubectl config set` cannot address: run `gcloud container clusters get-credentials` yourself"
            );
        }
        let mut data = Vec::new();
        if let Some(ca) = text(cluster, "certificate-authority-data") {
            // A CA certificate is public: it may stand on the command line.
            data.push(self.change([
                "set".to_string(),
                format!("clusters.{name}.certificate-authority-data"),
                ca.to_string(),
            ]));
        }
        let exec = &user["exec"];
        let mut set_user = vec!["set-credentials".to_string(), name.to_string()];
        if !exec.is_null() {
            let command =
                text(exec, "command").context("gcloud wrote an exec user without a command")?;
            set_user.push(format!("--exec-command={command}"));
            if let Some(v) = text(exec, "apiVersion") {
                set_user.push(format!("--exec-api-version={v}"));
            }
            for arg in exec["args"].as_array().into_iter().flatten() {
                set_user.push(format!("--exec-arg={}", arg.as_str().unwrap_or_default()));
            }
            if exec["env"].as_array().is_some_and(|e| !e.is_empty()) {
                bail!(
                    "gcloud wrote an exec user with environment variables, which this tool does not copy"
                );
            }
            if let Some(mode) = text(exec, "interactiveMode") {
                set_user.push(format!("--exec-interactive-mode={mode}"));
            }
            if exec["provideClusterInfo"] == true {
                set_user.push("--exec-provide-cluster-info=true".into());
            }
            // `installHint` (the text kubectl shows when the plugin is
            // missing) has no flag and `config set` cannot reach into
            // `exec`: it is the one field left behind.
        }
        let mut cmds = vec![self.change(set_cluster)];
        cmds.extend(data);
        cmds.push(self.change(set_user));
        cmds.push(self.change([
            "set-context".to_string(),
            context.to_string(),
            format!("--cluster={name}"),
            format!("--user={name}"),
        ]));
        Ok(cmds)
    }

    /// The scratch file gcloud wrote, as kubectl reads it (credentials
    /// included: they stay in this process).
    pub fn raw_view(&self, path: &Path) -> Result<Value> {
        let target = Target {
            kubeconfig: Some(path.to_path_buf()),
            ..Target::default()
        };
        self.run.json(
            &Kubectl::new(self.run, &target)
                .query(["config", "view", "--raw", "--output=json"], Ns::Cluster),
        )
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
