//! The FILE of `= FILE`, `+ FILE` and `- FILE`: one RayCluster, KubeRay's
//! or a legacy one (converted on the way in).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

use crate::clis::docker;

use super::convert::{self, API_VERSION, LEGACY_API_VERSION};

pub struct ClusterFile {
    pub path: PathBuf,
    pub name: String,
    /// `metadata.namespace`, when the file names one.
    pub namespace: Option<String>,
    /// The KubeRay RayCluster (converted when the file is legacy).
    pub cluster: Value,
    /// Set when the file was `cluster.ray.io/v1`: kubectl then gets the
    /// conversion on standard input instead of the file.
    pub converted: Option<String>,
    /// What the conversion could not carry over.
    pub notes: Vec<String>,
}

impl ClusterFile {
    pub fn load(path: &Path) -> Result<ClusterFile> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "could not read {}: give the path of a RayCluster YAML file",
                path.display()
            )
        })?;
        ClusterFile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ClusterFile> {
        let shown = path.display();
        crate::app::yaml::check_expansion(text, &shown.to_string())?;
        let mut docs = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(text) {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .with_context(|| format!("{shown} is not valid YAML"))?;
            if !value.is_null() {
                docs.push(value);
            }
        }
        let doc = match docs.len() {
            1 => docs.pop().unwrap_or_default(),
            0 => bail!("{shown} is empty: it should hold one RayCluster"),
            n => bail!("{shown} holds {n} documents: give a file with one RayCluster"),
        };
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if kind != "RayCluster" || (api != API_VERSION && api != LEGACY_API_VERSION) {
            bail!(
                "{shown} is a {} `{}`, not a RayCluster: expected apiVersion {API_VERSION} \
                 (or the legacy {LEGACY_API_VERSION}) and kind RayCluster",
                if api.is_empty() {
                    "(no apiVersion)"
                } else {
                    api
                },
                if kind.is_empty() { "(no kind)" } else { kind },
            );
        }
        let (cluster, converted, notes) = if convert::is_legacy(&doc) {
            let out = convert::convert(&doc)
                .with_context(|| format!("could not convert the legacy file {shown}"))?;
            let yaml = serde_yaml::to_string(&out.cluster)?;
            (out.cluster, Some(yaml), out.notes)
        } else {
            (doc, None, Vec::new())
        };
        let meta = cluster.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .with_context(|| format!("{shown} has no metadata.name"))?
            .to_string();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .map(String::from);
        Ok(ClusterFile {
            path: path.to_path_buf(),
            name,
            namespace,
            cluster,
            converted,
            notes,
        })
    }

    /// Refuses a cluster that KubeRay's schema, the API server or the
    /// operator would refuse, naming each field, before anything runs.
    pub fn check(&self) -> Result<()> {
        let json = serde_json::to_value(&self.cluster)
            .with_context(|| format!("{} cannot be read as JSON", self.path.display()))?;
        let problems = crate::ray::validate::problems(&json);
        if problems.is_empty() {
            return Ok(());
        }
        let which = if self.converted.is_some() {
            " (in its ray.io/v1 conversion: `kubectl ray convert` prints it)"
        } else {
            ""
        };
        bail!(
            "{} is not a valid RayCluster{which}; nothing was changed:\n  {}",
            self.path.display(),
            problems.join("\n  ")
        )
    }

    /// The pod templates: the head's, then each worker group's.
    pub fn templates(&self) -> Vec<&Value> {
        let spec = self.cluster.get("spec");
        let head = spec
            .and_then(|s| s.get("headGroupSpec"))
            .and_then(|h| h.get("template"));
        let workers = spec
            .and_then(|s| s.get("workerGroupSpecs"))
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("template"));
        head.into_iter().chain(workers).collect()
    }

    /// Each image pull secret the pod templates name, with the registry
    /// hosts of the images in the templates that name it.
    pub fn pull_secrets(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for template in self.templates() {
            let Some(spec) = template.get("spec") else {
                continue;
            };
            let names: Vec<&str> = spec
                .get("imagePullSecrets")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .collect();
            let hosts: Vec<String> = ["initContainers", "containers"]
                .iter()
                .filter_map(|k| spec.get(*k).and_then(Value::as_sequence))
                .flatten()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .filter_map(|image| docker::registry_host(image).map(str::to_string))
                .collect();
            for name in names {
                secrets
                    .entry(name.to_string())
                    .or_default()
                    .extend(hosts.iter().cloned());
            }
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_one_raycluster() {
        let p = Path::new("x.yaml");
        let err = |t: &str| ClusterFile::parse(p, t).err().unwrap().to_string();
        assert!(err("").contains("is empty"));
        assert!(err("kind: Pod\napiVersion: v1\n").contains("not a RayCluster"));
        assert!(err("a: [\n").contains("not valid YAML"));
        assert!(err("kind: RayCluster\napiVersion: ray.io/v1\n").contains("no metadata.name"));
        let two = "kind: RayCluster\napiVersion: ray.io/v1\n---\nkind: RayCluster\n";
        assert!(err(two).contains("2 documents"));
    }
}
