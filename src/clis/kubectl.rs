//! Typed `kubectl` calls: where they connect (`--kubeconfig`, `--context`,
//! `--namespace`, the way kubectl plugins pass them on), what they return
//! (`-o json` read with serde) and kubectl's ways of saying "not there".
//!
//! `KUBECONFIG` needs no handling: kubectl and helm read it from the
//! environment they inherit.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::exec::cmd::Cmd;
use crate::exec::runner::{CmdFailed, Output, Runner};

/// The cluster the user pointed at: the standard kubectl flags, which
/// every kubectl plugin here takes the same way.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The kubeconfig file (default: KUBECONFIG, else ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's)
    #[arg(long, short = 'n', value_name = "NAME")]
    pub namespace: Option<String>,
    /// kubectl's other connection flags (`--cluster=NAME`, `--user=NAME`,
    /// `--server=URL`, `--as=USER`, ...), given to every call as they are.
    #[arg(skip)]
    pub connection: Vec<String>,
}

/// Which namespace a call works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns<'a> {
    /// The target's namespace, else the context's default (no flag).
    Current,
    Named(&'a str),
    /// `--all-namespaces`.
    All,
    /// A cluster-scoped kind: no namespace flag at all.
    Cluster,
}

impl<'a> Ns<'a> {
    /// `Named` when a namespace is known, else `Current`.
    pub fn or_current(namespace: Option<&'a str>) -> Ns<'a> {
        namespace.map_or(Ns::Current, Ns::Named)
    }
}

pub struct Kubectl<'a> {
    pub run: &'a Runner,
    pub target: &'a Target,
}

impl<'a> Kubectl<'a> {
    pub fn new(run: &'a Runner, target: &'a Target) -> Kubectl<'a> {
        Kubectl { run, target }
    }

    fn connect(&self, mut cmd: Cmd, ns: Ns<'_>) -> Cmd {
        if let Some(path) = &self.target.kubeconfig {
            cmd = cmd.arg(format!("--kubeconfig={}", path.display()));
        }
        cmd = cmd.opt("--context", self.target.context.as_deref());
        cmd = cmd.args(self.target.connection.iter().cloned());
        match ns {
            Ns::Current => cmd.opt("--namespace", self.target.namespace.as_deref()),
            Ns::Named(name) => cmd.arg(format!("--namespace={name}")),
            Ns::All => cmd.arg("--all-namespaces"),
            Ns::Cluster => cmd,
        }
    }

    /// A read-only kubectl call: the verb and its words come first, the
    /// connection flags after them.
    pub fn query<I, S>(&self, words: I, ns: Ns<'_>) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.connect(Cmd::query("kubectl").args(words), ns)
    }

    /// A kubectl call that changes the cluster.
    pub fn mutation<I, S>(&self, words: I, ns: Ns<'_>) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.connect(Cmd::mutation("kubectl").args(words), ns)
    }

    /// One object, or `None` when it (or its whole kind) is not there.
    pub fn get<T: DeserializeOwned>(
        &self,
        resource: &str,
        name: &str,
        ns: Ns<'_>,
    ) -> Result<Option<T>> {
        Ok(match self.lookup(resource, name, ns)? {
            Lookup::Found(object) => Some(object),
            Lookup::Missing | Lookup::UnknownKind => None,
        })
    }

    /// One object, telling "no such object" from "no such kind".
    pub fn lookup<T: DeserializeOwned>(
        &self,
        resource: &str,
        name: &str,
        ns: Ns<'_>,
    ) -> Result<Lookup<T>> {
        let cmd = self.query(["get", resource, name, "--output=json"], ns);
        let out = self.run.run(&cmd)?;
        if out.success() {
            return Ok(Lookup::Found(parse(&cmd, &out.stdout)?));
        }
        if is_unknown_kind(&out) {
            return Ok(Lookup::UnknownKind);
        }
        if is_not_found(&out) {
            return Ok(Lookup::Missing);
        }
        Err(failed(&cmd, out))
    }

    /// Every object of a kind matching `selector`; `None` when the kind
    /// itself is unknown to the cluster (its CRD is not installed).
    pub fn list<T: DeserializeOwned>(
        &self,
        resource: &str,
        selector: Option<&str>,
        ns: Ns<'_>,
    ) -> Result<Option<Vec<T>>> {
        self.list_all(resource, selector, None, ns)
    }
}

/// The calls of the KubeRay-style commands (`get`, `create`, `scale`,
/// `delete`): several kinds in one list, field selectors, manifests on
/// standard input, JSON patches.
impl Kubectl<'_> {
    /// Every object of the comma-separated `resources` (one kubectl call
    /// however many kinds) matching the selectors; `None` when a kind is
    /// unknown to the cluster.
    pub fn list_all<T: DeserializeOwned>(
        &self,
        resources: &str,
        labels: Option<&str>,
        fields: Option<&str>,
        ns: Ns<'_>,
    ) -> Result<Option<Vec<T>>> {
        let mut words = vec!["get".to_string(), resources.to_string()];
        if let Some(sel) = labels {
            words.push(format!("--selector={sel}"));
        }
        if let Some(sel) = fields {
            words.push(format!("--field-selector={sel}"));
        }
        words.push("--output=json".into());
        let cmd = self.query(words, ns);
        let out = self.run.run(&cmd)?;
        if out.success() {
            let list: List<T> = parse(&cmd, &out.stdout)?;
            return Ok(Some(list.items));
        }
        if is_unknown_kind(&out) {
            return Ok(None);
        }
        Err(failed(&cmd, out))
    }

    /// Those of the objects `refs` (`TYPE/NAME` each) that exist, read
    /// with one kubectl call; `None` when a kind is unknown to the cluster.
    pub fn get_each(&self, refs: &[String], ns: Ns<'_>) -> Result<Option<Vec<Value>>> {
        let mut words = vec!["get".to_string()];
        words.extend(refs.iter().cloned());
        words.push("--output=json".into());
        let cmd = self.query(words, ns);
        let out = self.run.run(&cmd)?;
        if is_unknown_kind(&out) {
            return Ok(None);
        }
        // kubectl prints those it found, and fails for the others.
        let only_missing = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.contains("(NotFound)"));
        if !out.success() && !only_missing {
            return Err(failed(&cmd, out));
        }
        if out.stdout.trim().is_empty() {
            return Ok(Some(Vec::new()));
        }
        let value: Value = parse(&cmd, &out.stdout)?;
        Ok(Some(match value["kind"].as_str() {
            Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![value],
        }))
    }

    /// `kubectl create` of a manifest given on standard input (a plan
    /// shows it whole).
    pub fn create_manifest(&self, manifest: &str, ns: Ns<'_>) -> Cmd {
        self.mutation(["create", "--filename=-"], ns)
            .shown_stdin(manifest)
    }

    /// A JSON patch (RFC 6902) of one object.
    pub fn json_patch(&self, resource: &str, name: &str, patch: &str, ns: Ns<'_>) -> Cmd {
        self.mutation(
            [
                "patch".to_string(),
                resource.to_string(),
                name.to_string(),
                "--type=json".to_string(),
                format!("--patch={patch}"),
            ],
            ns,
        )
    }

    /// Deletes one object without waiting for it to go.
    pub fn delete_no_wait(&self, resource: &str, name: &str, ns: Ns<'_>) -> Cmd {
        self.mutation(["delete", resource, name, "--wait=false"], ns)
    }
}

fn parse<T: DeserializeOwned>(cmd: &Cmd, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("could not read the JSON that `{cmd}` printed: {e}"))
}

fn failed(cmd: &Cmd, output: Output) -> anyhow::Error {
    CmdFailed {
        line: cmd.to_string(),
        output,
    }
    .into()
}

/// kubectl's way of saying "no such object": `Error from server
/// (NotFound): ...`.
pub fn is_not_found(out: &Output) -> bool {
    out.stderr.contains("(NotFound)")
}

/// kubectl's answer when a kind is not served, for example a custom
/// resource whose CRD is not installed.
pub fn is_unknown_kind(out: &Output) -> bool {
    out.stderr
        .contains("the server doesn't have a resource type")
        || out.stderr.contains("no matches for kind")
}

/// What looking up one object found.
#[derive(Debug)]
pub enum Lookup<T> {
    Found(T),
    Missing,
    /// The cluster does not serve the kind (its CRD is not installed).
    UnknownKind,
}

/// A `...List` answer.
#[derive(Debug, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub finalizers: Vec<String>,
    pub deletion_timestamp: Option<String>,
    pub creation_timestamp: Option<String>,
}

/// Any object when only its metadata matters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Object {
    pub metadata: ObjectMeta,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodStatus {
    pub phase: String,
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl Pod {
    /// Ready, and not on its way out.
    pub fn is_ready(&self) -> bool {
        self.metadata.deletion_timestamp.is_none()
            && self
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True")
    }

    /// What a person needs to know about a pod that is not ready.
    pub fn summary(&self) -> String {
        let phase = if self.status.phase.is_empty() {
            "no phase yet"
        } else {
            &self.status.phase
        };
        let why: Vec<String> = self
            .status
            .conditions
            .iter()
            .filter(|c| c.status != "True")
            .map(|c| {
                let said = |t: &Option<String>| t.clone().filter(|t| !t.is_empty());
                let text = said(&c.message)
                    .or_else(|| said(&c.reason))
                    .unwrap_or_else(|| c.status.clone());
                format!("{}: {text}", c.kind)
            })
            .collect();
        if why.is_empty() {
            format!("{} ({phase})", self.metadata.name)
        } else {
            format!("{} ({phase}; {})", self.metadata.name, why.join("; "))
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Secret {
    pub metadata: ObjectMeta,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Crd {
    pub metadata: ObjectMeta,
    pub spec: CrdSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CrdSpec {
    pub group: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ui::Ui;
    use std::sync::Arc;

    #[test]
    fn connection_flags_follow_the_words() {
        let runner = Runner::with(
            Arc::new(crate::exec::runner::SystemExec),
            Arc::new(Ui::buffered()),
            true,
            false,
        );
        let target = Target {
            kubeconfig: Some("/k/config".into()),
            context: Some("lab".into()),
            namespace: Some("team".into()),
            connection: Vec::new(),
        };
        let k = Kubectl::new(&runner, &target);
        let line = |ns| k.query(["get", "pods"], ns).to_string();
        assert_eq!(
            line(Ns::Current),
            "kubectl get pods --kubeconfig=/k/config --context=lab --namespace=team"
        );
        assert_eq!(
            line(Ns::Named("ray")),
            "kubectl get pods --kubeconfig=/k/config --context=lab --namespace=ray"
        );
        assert_eq!(
            line(Ns::All),
            "kubectl get pods --kubeconfig=/k/config --context=lab --all-namespaces"
        );
        assert_eq!(
            line(Ns::Cluster),
            "kubectl get pods --kubeconfig=/k/config --context=lab"
        );
        let target = Target {
            connection: vec!["--user=ops".into(), "--as=admin".into()],
            ..target
        };
        let k = Kubectl::new(&runner, &target);
        assert_eq!(
            k.query(["get", "pods"], Ns::Cluster).to_string(),
            "kubectl get pods --kubeconfig=/k/config --context=lab --user=ops --as=admin"
        );
    }

    #[test]
    fn a_ready_pod_is_ready_until_it_is_deleted() {
        let json = r#"{"metadata":{"name":"c-head-x"},"status":{"phase":"Running",
            "conditions":[{"type":"Ready","status":"True"}]}}"#;
        let mut pod: Pod = serde_json::from_str(json).unwrap();
        assert!(pod.is_ready());
        pod.metadata.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
        assert!(!pod.is_ready());
    }

    #[test]
    fn a_waiting_pod_says_why() {
        let json = r#"{"metadata":{"name":"c-head-x"},"status":{"phase":"Pending",
            "conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable",
            "message":"0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}}"#;
        let pod: Pod = serde_json::from_str(json).unwrap();
        assert_eq!(
            pod.summary(),
            "c-head-x (Pending; PodScheduled: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.)"
        );
    }
}
