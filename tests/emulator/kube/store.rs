//! The emulator's state: every object, the resource version counter and the
//! event history that watches replay. All writes go through here so that
//! resource versions, generations, finalizers and events stay consistent.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::admission;
use super::catalog::{self, ResourceType};
pub use super::error::ApiError;
use super::faults::{Fault, RequestRecord};
use super::util::{now_rfc3339, random_suffix};

/// group, plural, namespace ("" when cluster-scoped), name.
pub type Key = (String, String, String, String);

pub fn key(ty: &ResourceType, namespace: &str, name: &str) -> Key {
    let ns = if ty.namespaced { namespace } else { "" };
    (
        ty.group.clone(),
        ty.plural.clone(),
        ns.to_string(),
        name.to_string(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change, as watches replay it. `old` is the object before a change,
/// so a watch with a selector can turn "stopped matching" into DELETED.
#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub old: Option<Value>,
    pub object: Value,
}

/// Which part of an object an update may change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Everything but `status` (for kinds with a status subresource).
    Main,
    /// Only `status` (the `/status` subresource).
    Status,
    /// Everything (controllers).
    Whole,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// "Background" (the default), "Foreground" or "Orphan".
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

pub struct State {
    pub objects: BTreeMap<Key, Value>,
    pub rv: u64,
    pub events: Vec<Event>,
    builtins: Vec<ResourceType>,
    pub log: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    pub shutdown: bool,
    /// Pod logs by (namespace, pod), as tests set them.
    pub logs: BTreeMap<(String, String), String>,
    /// Counts addresses handed out (cluster IPs, pod IPs).
    pub addresses: u32,
    /// Ray pods start not Ready: real Ray processes back them (ray_backing.rs).
    pub ray_backed: bool,
}

impl State {
    pub fn new() -> State {
        let mut state = State {
            objects: BTreeMap::new(),
            rv: 1,
            events: vec![],
            builtins: catalog::builtins(),
            log: vec![],
            faults: vec![],
            shutdown: false,
            logs: BTreeMap::new(),
            addresses: 0,
            ray_backed: false,
        };
        let ns = state.find_type("", "namespaces").expect("built in");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"metadata": {"name": name}});
            state.create(&ns, "", obj, false).expect("fresh state");
        }
        let node = state.find_type("", "nodes").expect("built in");
        let obj = json!({
            "metadata": {"name": "emulator", "labels": {"kubernetes.io/hostname": "emulator"}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "nodeInfo": {"kubeletVersion": "v1.35.0", "architecture": "amd64", "operatingSystem": "linux"}
            }
        });
        let created = state
            .create(&node, "", obj.clone(), false)
            .expect("fresh state");
        let mut with_status = created;
        with_status["status"] = obj["status"].clone();
        state
            .update(&node, "", "emulator", with_status, Part::Whole, false)
            .expect("fresh state");
        state
    }

    /// Built-in types plus one per established CRD.
    pub fn types(&self) -> Vec<ResourceType> {
        let mut types = self.builtins.clone();
        let crds = self.objects.range(range_of(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
        ));
        for (_, crd) in crds {
            if is_established(crd)
                && let Some(ty) = catalog::from_crd(crd)
                && !types.iter().any(|t| t.is(&ty.group, &ty.plural))
            {
                types.push(ty);
            }
        }
        types
    }

    pub fn find_type(&self, group: &str, plural: &str) -> Option<ResourceType> {
        self.types().into_iter().find(|t| t.is(group, plural))
    }

    pub fn get(&self, ty: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(ty, namespace, name))
    }

    /// Objects of one type, in one namespace or all of them.
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .range(range_of(group, plural))
            .filter(|(k, _)| namespace.is_none_or(|ns| k.2 == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn create(
        &mut self,
        ty: &ResourceType,
        namespace: &str,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        let meta = &obj["metadata"];
        let name = match (
            meta.get("name").and_then(Value::as_str),
            meta.get("generateName"),
        ) {
            (Some(name), _) if !name.is_empty() => name.to_string(),
            (_, Some(Value::String(prefix))) => loop {
                let candidate = format!("{prefix}{}", random_suffix(5));
                if self.get(ty, namespace, &candidate).is_none() {
                    break candidate;
                }
            },
            _ => {
                return Err(ApiError::invalid(
                    ty,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
        };
        if ty.namespaced {
            if let Some(body_ns) = meta.get("namespace").and_then(Value::as_str)
                && !body_ns.is_empty()
                && body_ns != namespace
            {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            self.check_namespace_open(namespace)?;
        }
        if self.get(ty, namespace, &name).is_some() {
            return Err(ApiError::already_exists(ty, &name));
        }
        let meta = obj["metadata"].as_object_mut().expect("checked above");
        meta.insert("name".into(), json!(name));
        if ty.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(super::util::new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("generation".into(), json!(1));
        for server_owned in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            meta.remove(server_owned);
        }
        obj["apiVersion"] = json!(ty.api_version(ty.preferred_version()));
        obj["kind"] = json!(ty.kind);
        if ty.has_status() {
            obj.as_object_mut().expect("object").remove("status");
        }
        admission::on_create(self, ty, &mut obj)?;
        super::schema::check(self, ty, &obj)?;
        if dry_run {
            return Ok(obj);
        }
        Ok(self.commit(key(ty, namespace, &name), obj, EventType::Added))
    }

    fn check_namespace_open(&self, namespace: &str) -> Result<(), ApiError> {
        let ns_key = (
            "".to_string(),
            "namespaces".to_string(),
            String::new(),
            namespace.to_string(),
        );
        match self.objects.get(&ns_key) {
            None => Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{namespace}\" not found"),
            )),
            Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Replaces an object (PUT, the result of a patch, or a controller's
    /// change). A no-op change keeps the resource version, as on a real
    /// server; an object being deleted goes away with its last finalizer.
    pub fn update(
        &mut self,
        ty: &ResourceType,
        namespace: &str,
        name: &str,
        mut new: Value,
        part: Part,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let k = key(ty, namespace, name);
        let old = self
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(ty, name))?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if !new.get("metadata").is_some_and(Value::is_object) {
            new["metadata"] = json!({});
        }
        if let Some(rv) = new
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !rv.is_empty()
            && Some(rv)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            return Err(ApiError::conflict(ty, name));
        }
        if let Some(body_name) = new.pointer("/metadata/name").and_then(Value::as_str)
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut next = match part {
            Part::Status => {
                let mut next = old.clone();
                next["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                next
            }
            Part::Main if ty.has_status() => {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        new.as_object_mut().expect("object").remove("status");
                    }
                }
                new
            }
            Part::Main | Part::Whole => new,
        };
        // Fields only the server sets.
        let meta = next["metadata"].as_object_mut().expect("checked above");
        for owned in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ] {
            match old["metadata"].get(owned) {
                Some(v) => meta.insert(owned.into(), v.clone()),
                None => meta.remove(owned),
            };
        }
        meta.remove("resourceVersion");
        next["apiVersion"] = old["apiVersion"].clone();
        next["kind"] = old["kind"].clone();
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            let had = finalizers(&old);
            if finalizers(&next).iter().any(|f| !had.contains(f)) {
                return Err(ApiError::invalid(
                    ty,
                    name,
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
                ));
            }
        }
        admission::on_update(ty, &mut next)?;
        admission::check_update(ty, &old, &next)?;
        super::schema::check(self, ty, &next)?;
        if spec_of(&next) != spec_of(&old) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            next["metadata"]["generation"] = json!(generation + 1);
        }
        let mut old_cmp = old.clone();
        old_cmp["metadata"]
            .as_object_mut()
            .expect("stored objects have metadata")
            .remove("resourceVersion");
        if next == old_cmp {
            return Ok(old);
        }
        if dry_run {
            return Ok(next);
        }
        let done = next.pointer("/metadata/deletionTimestamp").is_some() && !is_held(&next);
        let stored = self.commit(k.clone(), next, EventType::Modified);
        if done {
            return Ok(self.remove(&k).unwrap_or(stored));
        }
        Ok(stored)
    }

    /// Starts deleting an object: gone at once when nothing holds it,
    /// otherwise marked with `deletionTimestamp` until its finalizers are
    /// cleared (by a client or a controller).
    pub fn delete(
        &mut self,
        ty: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let k = key(ty, namespace, name);
        let old = self
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(ty, name))?;
        let meta = &old["metadata"];
        if let Some(uid) = &opts.precondition_uid
            && meta.get("uid").and_then(Value::as_str) != Some(uid.as_str())
        {
            return Err(ApiError::conflict(ty, name));
        }
        if let Some(rv) = &opts.precondition_rv
            && meta.get("resourceVersion").and_then(Value::as_str) != Some(rv.as_str())
        {
            return Err(ApiError::conflict(ty, name));
        }
        if opts.dry_run || meta.get("deletionTimestamp").is_some() {
            return Ok(old);
        }
        let mut next = old.clone();
        let mut holds = finalizers(&old);
        let mut add = |f: &str| {
            if !holds.iter().any(|h| h == f) {
                holds.push(f.to_string());
            }
        };
        match opts.propagation.as_deref() {
            Some("Foreground") => add("foregroundDeletion"),
            Some("Orphan") => add("orphan"),
            _ => {}
        }
        if ty.is("apiextensions.k8s.io", "customresourcedefinitions") {
            add("customresourcecleanup.apiextensions.k8s.io");
        }
        let is_namespace = ty.is("", "namespaces");
        if is_namespace {
            next["status"]["phase"] = json!("Terminating");
        }
        if holds.is_empty() && !is_namespace {
            return Ok(self.remove(&k).unwrap_or(old));
        }
        next["metadata"]["finalizers"] = json!(holds);
        next["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        next["metadata"]
            .as_object_mut()
            .expect("object")
            .remove("resourceVersion");
        if holds.is_empty() {
            next["metadata"]
                .as_object_mut()
                .expect("object")
                .remove("finalizers");
        }
        Ok(self.commit(k, next, EventType::Modified))
    }

    /// Takes an object out of the store now (the end of a deletion).
    pub fn remove(&mut self, k: &Key) -> Option<Value> {
        let mut gone = self.objects.remove(k)?;
        self.rv += 1;
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.events.push(Event {
            rv: self.rv,
            kind: EventType::Deleted,
            group: k.0.clone(),
            plural: k.1.clone(),
            namespace: k.2.clone(),
            old: None,
            object: gone.clone(),
        });
        Some(gone)
    }

    fn commit(&mut self, k: Key, mut obj: Value, kind: EventType) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let old = self.objects.insert(k.clone(), obj.clone());
        self.events.push(Event {
            rv: self.rv,
            kind,
            group: k.0,
            plural: k.1,
            namespace: k.2,
            old,
            object: obj.clone(),
        });
        obj
    }

    /// A fresh address in 10.96.0.0/12 (services) or 10.244.0.0/16 (pods).
    pub fn next_address(&mut self, pod: bool) -> String {
        self.addresses += 1;
        let n = self.addresses;
        if pod {
            format!("10.244.{}.{}", n / 250, n % 250 + 2)
        } else {
            format!("10.96.{}.{}", n / 250, n % 250 + 10)
        }
    }
}

fn range_of(group: &str, plural: &str) -> std::ops::RangeInclusive<Key> {
    let lo = (
        group.to_string(),
        plural.to_string(),
        String::new(),
        String::new(),
    );
    let hi = (
        group.to_string(),
        plural.to_string(),
        "\u{10FFFF}".to_string(),
        String::new(),
    );
    lo..=hi
}

/// Whether something still holds a deleted object: its finalizers, or for
/// a namespace the `spec.finalizers` the namespace controller clears.
pub fn is_held(obj: &Value) -> bool {
    let spec_held = obj["kind"] == "Namespace"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    spec_held || !finalizers(obj).is_empty()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What `metadata.generation` tracks: everything but metadata and status.
fn spec_of(obj: &Value) -> Value {
    let mut rest = obj.clone();
    if let Some(map) = rest.as_object_mut() {
        for skip in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(skip);
        }
    }
    rest
}

pub fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}
