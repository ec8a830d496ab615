//! The resource types the emulator serves: built-in kinds, plus one per
//! established CustomResourceDefinition.

use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// "" for the core group (`/api/v1`).
    pub group: String,
    /// Served versions; the first is the preferred (and storage) one.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresources served under `/NAME/SUB`, such as `status`.
    pub subresources: Vec<String>,
    /// A CRD's `additionalPrinterColumns` for its preferred version.
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn preferred_version(&self) -> &str {
        &self.versions[0]
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s == "status")
    }

    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }

    /// An entry of an `APIResourceList`, and its subresources.
    pub fn discovery_entries(&self) -> Vec<Value> {
        let mut verbs = vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        if self.plural == "events" {
            verbs.retain(|v| *v != "deletecollection");
        }
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut out = vec![main];
        for sub in &self.subresources {
            let (kind, verbs) = match sub.as_str() {
                "status" => (self.kind.as_str(), vec!["get", "patch", "update"]),
                "scale" => ("Scale", vec!["get", "patch", "update"]),
                "exec" | "portforward" | "attach" => ("PodExecOptions", vec!["create", "get"]),
                "log" => ("Pod", vec!["get"]),
                "finalize" => ("Namespace", vec!["update"]),
                _ => (self.kind.as_str(), vec!["get"]),
            };
            out.push(json!({
                "name": format!("{}/{sub}", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": verbs,
            }));
        }
        out
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
    in_all: bool,
}

#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    b("", "v1", "Namespace", "namespaces", false, &["ns"], &["status", "finalize"], false),
    b("", "v1", "Pod", "pods", true, &["po"], &["status", "log", "exec", "portforward", "attach"], true),
    b("", "v1", "Service", "services", true, &["svc"], &["status"], true),
    b("", "v1", "Secret", "secrets", true, &[], &[], false),
    b("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[], false),
    b("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], &[], false),
    b("", "v1", "Event", "events", true, &["ev"], &[], false),
    b("", "v1", "Node", "nodes", false, &["no"], &["status"], false),
    b("", "v1", "Endpoints", "endpoints", true, &["ep"], &[], false),
    b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], &["status"], false),
    b("apps", "v1", "Deployment", "deployments", true, &["deploy"], &["status", "scale"], true),
    b("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], &["status", "scale"], true),
    b("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], &["status"], true),
    b("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], &["status", "scale"], true),
    b("batch", "v1", "Job", "jobs", true, &[], &["status"], true),
    b("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], &[], false),
    b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], &[], false),
    b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], &[], false),
    b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], &[], false),
    b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], &["status"], false),
    b("events.k8s.io", "v1", "Event", "events", true, &["ev"], &[], false),
    b("coordination.k8s.io", "v1", "Lease", "leases", true, &[], &[], false),
];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
    in_all: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        subresources,
        in_all,
    }
}

pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|t| ResourceType {
            group: t.group.to_string(),
            versions: vec![t.version.to_string()],
            kind: t.kind.to_string(),
            plural: t.plural.to_string(),
            singular: t.kind.to_lowercase(),
            namespaced: t.namespaced,
            short_names: t.short.iter().map(|s| s.to_string()).collect(),
            categories: if t.in_all {
                vec!["all".to_string()]
            } else {
                vec![]
            },
            subresources: t.subresources.iter().map(|s| s.to_string()).collect(),
            printer_columns: vec![],
        })
        .collect()
}

/// The resource type a CustomResourceDefinition object defines, if it is
/// well formed.
pub fn from_crd(crd: &Value) -> Option<ResourceType> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec.get("versions")?.as_array()?;
    let mut served: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .collect();
    // The storage version first: it is the one clients should prefer.
    served.sort_by_key(|v| !v.get("storage").and_then(Value::as_bool).unwrap_or(false));
    let first = served.first()?;
    let mut subresources = vec![];
    if let Some(subs) = first.get("subresources").and_then(Value::as_object) {
        subresources.extend(subs.keys().cloned());
    }
    let kind = names.get("kind")?.as_str()?.to_string();
    Some(ResourceType {
        group: spec.get("group")?.as_str()?.to_string(),
        versions: served
            .iter()
            .filter_map(|v| v.get("name")?.as_str().map(String::from))
            .collect(),
        plural: names.get("plural")?.as_str()?.to_string(),
        singular: names
            .get("singular")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind,
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        short_names: strings(names.get("shortNames")),
        categories: strings(names.get("categories")),
        subresources,
        printer_columns: first
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    })
}
