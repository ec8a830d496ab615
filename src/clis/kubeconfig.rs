//! Reading and rewriting a kubeconfig file, for the entries gcloud writes
//! (`gke_PROJECT_ZONE_CLUSTER`) and the short names users type.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_yaml::{Mapping, Value};

use crate::exec::environment::Env;

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

/// The name gcloud gives a GKE cluster's entries.
pub fn gke_name(project: &str, zone: &str, cluster: &str) -> String {
    format!("gke_{project}_{zone}_{cluster}")
}

/// A parsed kubeconfig (an empty one when the file is missing).
pub fn load(path: &Path) -> Result<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a valid kubeconfig", path.display())),
        Ok(_) => Ok(Value::Mapping(Mapping::new())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Mapping(Mapping::new())),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

pub fn save(path: &Path, config: &Value) -> Result<()> {
    let text = serde_yaml::to_string(config)?;
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

const SECTIONS: [&str; 3] = ["clusters", "contexts", "users"];

fn entries<'a>(config: &'a Value, section: &str) -> impl Iterator<Item = &'a Value> {
    config
        .get(section)
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
}

fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// Whether a context, cluster or user is called `name`.
pub fn has_any(config: &Value, name: &str) -> bool {
    SECTIONS
        .iter()
        .any(|s| entries(config, s).any(|e| entry_name(e) == Some(name)))
}

pub fn has_context(config: &Value, name: &str) -> bool {
    entries(config, "contexts").any(|e| entry_name(e) == Some(name))
}

/// Removes every cluster, context and user called one of `names`; returns
/// whether anything went.
pub fn remove(config: &mut Value, names: &[&str]) -> bool {
    let mut changed = false;
    for section in SECTIONS {
        if let Some(list) = config.get_mut(section).and_then(Value::as_sequence_mut) {
            let before = list.len();
            list.retain(|e| !entry_name(e).is_some_and(|n| names.contains(&n)));
            changed |= list.len() != before;
        }
    }
    let current = config.get("current-context").and_then(Value::as_str);
    if current.is_some_and(|c| names.contains(&c))
        && let Some(map) = config.as_mapping_mut()
    {
        map.insert("current-context".into(), "".into());
        changed = true;
    }
    changed
}

/// Renames the cluster, context and user `from` to `to`, and the
/// references between them.
pub fn rename(config: &mut Value, from: &str, to: &str) {
    for section in SECTIONS {
        if let Some(list) = config.get_mut(section).and_then(Value::as_sequence_mut) {
            for entry in list {
                if entry_name(entry) == Some(from) {
                    entry["name"] = to.into();
                }
                if section == "contexts"
                    && let Some(ctx) = entry.get_mut("context").and_then(Value::as_mapping_mut)
                {
                    for key in ["cluster", "user"] {
                        if ctx.get(key).and_then(Value::as_str) == Some(from) {
                            ctx.insert(key.into(), to.into());
                        }
                    }
                }
            }
        }
    }
    if config.get("current-context").and_then(Value::as_str) == Some(from) {
        config["current-context"] = to.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCLOUD_WROTE: &str = "\
apiVersion: v1
kind: Config
clusters:
- cluster: {server: 'https://10.0.0.1'}
  name: gke_p_z_x-ray
- cluster: {server: 'https://other'}
  name: other
contexts:
- context: {cluster: gke_p_z_x-ray, user: gke_p_z_x-ray}
  name: gke_p_z_x-ray
users:
- name: gke_p_z_x-ray
  user: {exec: {command: gke-gcloud-auth-plugin}}
current-context: gke_p_z_x-ray
";

    #[test]
    fn shortens_gcloud_names() {
        let mut c: Value = serde_yaml::from_str(GCLOUD_WROTE).unwrap();
        rename(&mut c, "gke_p_z_x-ray", "x-ray");
        assert!(has_context(&c, "x-ray"));
        assert!(!has_any(&c, "gke_p_z_x-ray"));
        assert_eq!(c["current-context"], "x-ray");
        assert_eq!(c["contexts"][0]["context"]["user"], "x-ray");
        assert_eq!(c["clusters"][1]["name"], "other");
    }

    #[test]
    fn removes_only_the_named_entries() {
        let mut c: Value = serde_yaml::from_str(GCLOUD_WROTE).unwrap();
        assert!(remove(&mut c, &["gke_p_z_x-ray", "x-ray"]));
        assert!(!has_any(&c, "gke_p_z_x-ray"));
        assert!(has_any(&c, "other"));
        assert_eq!(c["current-context"], "");
        assert!(!remove(&mut c, &["x-ray"]));
    }

    #[test]
    fn first_kubeconfig_path_wins() {
        let env = Env::from_pairs([("KUBECONFIG", "/a/one:/b/two"), ("HOME", "/h")]);
        assert_eq!(path(&env), PathBuf::from("/a/one"));
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(path(&env), PathBuf::from("/h/.kube/config"));
    }
}
