//! The small controllers that make the emulator behave like a cluster:
//! CRDs become Established, namespaces and CRDs clean up what they hold,
//! the garbage collector follows owner references, Deployments get pods and
//! become available, and pods start and become Ready.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::catalog::{self, ResourceType};
use super::store::{DeleteOptions, Part, State, finalizers, is_established};
use super::util::{now_rfc3339, random_suffix};
use super::{raycluster, rayjob, rayservice};

/// Annotation that keeps a pod Running but not Ready (to test waiting).
pub const NOT_READY: &str = "emulator.kas.dev/not-ready";

/// Reconciles after every change (and every 200 ms) until asked to stop.
pub fn run(shared: Arc<Shared>) {
    let mut state = shared.state.lock().expect("state lock");
    loop {
        if state.shutdown {
            return;
        }
        let before = state.rv;
        for _ in 0..50 {
            let rv = state.rv;
            reconcile(&mut state);
            if state.rv == rv {
                break;
            }
        }
        if state.rv != before {
            shared.changed.notify_all();
        }
        state = shared
            .changed
            .wait_timeout(state, Duration::from_millis(200))
            .expect("state lock")
            .0;
    }
}

pub fn reconcile(state: &mut State) {
    crds(state);
    namespaces(state);
    garbage_collect(state);
    deployments(state);
    other_workloads(state);
    pods(state);
    raycluster::reconcile(state);
    rayjob::reconcile(state);
    rayservice::reconcile(state);
}

pub fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"].as_str().unwrap_or("").to_string()
}

pub fn namespace_of(obj: &Value) -> String {
    obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub fn uid_of(obj: &Value) -> String {
    obj["metadata"]["uid"].as_str().unwrap_or("").to_string()
}

pub fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

pub fn builtin(state: &State, group: &str, plural: &str) -> ResourceType {
    state.find_type(group, plural).expect("a built-in type")
}

/// Writes a controller's change; conflicts cannot happen under the lock.
pub fn save(state: &mut State, ty: &ResourceType, obj: Value) {
    let (ns, name) = (namespace_of(&obj), name_of(&obj));
    let _ = state.update(ty, &ns, &name, obj, Part::Whole, false);
}

pub fn delete(state: &mut State, ty: &ResourceType, obj: &Value) {
    let _ = state.delete(
        ty,
        &namespace_of(obj),
        &name_of(obj),
        &DeleteOptions::default(),
    );
}

fn without_finalizer(mut obj: Value, finalizer: &str) -> Value {
    let kept: Vec<String> = finalizers(&obj)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    obj["metadata"]["finalizers"] = json!(kept);
    obj
}

/// Conditions keep their transition times while their status holds, so
/// that reconciling again is a no-op.
pub fn conditions(old: Option<&Value>, new: &[(&str, bool, &str)]) -> Value {
    let now = now_rfc3339();
    let list: Vec<Value> = new
        .iter()
        .map(|(kind, ok, reason)| {
            let status = if *ok { "True" } else { "False" };
            let previous = old.and_then(Value::as_array).and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == *kind && c["status"] == status && c["reason"] == *reason)
            });
            match previous {
                Some(p) => p.clone(),
                None => json!({
                    "type": kind, "status": status, "reason": reason,
                    "lastTransitionTime": now, "lastUpdateTime": now,
                }),
            }
        })
        .collect();
    json!(list)
}

fn crds(state: &mut State) {
    let ty = builtin(state, "apiextensions.k8s.io", "customresourcedefinitions");
    for mut crd in state.list(&ty.group, &ty.plural, None) {
        if deleting(&crd) {
            // Delete every custom resource first, then let the CRD go.
            let Some(defined) = catalog::from_crd(&crd) else {
                save(
                    state,
                    &ty,
                    without_finalizer(crd, "customresourcecleanup.apiextensions.k8s.io"),
                );
                continue;
            };
            let left = state.list(&defined.group, &defined.plural, None);
            for obj in left.iter().filter(|o| !deleting(o)) {
                delete(state, &defined, obj);
            }
            if state.list(&defined.group, &defined.plural, None).is_empty() {
                save(
                    state,
                    &ty,
                    without_finalizer(crd, "customresourcecleanup.apiextensions.k8s.io"),
                );
            }
        } else if !is_established(&crd) {
            let names = crd["spec"]["names"].clone();
            let mut accepted = names.clone();
            if accepted.get("singular").is_none() {
                accepted["singular"] = json!(names["kind"].as_str().unwrap_or("").to_lowercase());
            }
            if accepted.get("listKind").is_none() {
                accepted["listKind"] =
                    json!(format!("{}List", names["kind"].as_str().unwrap_or("")));
            }
            let storage: Vec<Value> = crd["spec"]["versions"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v["storage"] == true)
                        .map(|v| v["name"].clone())
                        .collect()
                })
                .unwrap_or_default();
            crd["status"] = json!({
                "acceptedNames": accepted,
                "storedVersions": storage,
                "conditions": conditions(None, &[
                    ("NamesAccepted", true, "NoConflicts"),
                    ("Established", true, "InitialNamesAccepted"),
                ]),
            });
            save(state, &ty, crd);
        }
    }
}

fn namespaces(state: &mut State) {
    let ty = builtin(state, "", "namespaces");
    for ns in state
        .list("", "namespaces", None)
        .into_iter()
        .filter(deleting)
    {
        let name = name_of(&ns);
        let inside: Vec<(String, String, Value)> = state
            .objects
            .iter()
            .filter(|(k, _)| k.2 == name)
            .map(|(k, v)| (k.0.clone(), k.1.clone(), v.clone()))
            .collect();
        for (group, plural, obj) in &inside {
            if !deleting(obj)
                && let Some(t) = state.find_type(group, plural)
            {
                delete(state, &t, obj);
            }
        }
        let empty = !state.objects.keys().any(|k| k.2 == name);
        if empty {
            let mut done = state.get(&ty, "", &name).cloned().expect("listed above");
            done["spec"]["finalizers"] = json!([]);
            save(state, &ty, done);
        }
    }
}

/// Owner references: dependents of a vanished owner are deleted; an owner
/// deleted in the foreground waits for its dependents, one deleted with
/// orphaning releases them.
fn garbage_collect(state: &mut State) {
    let owners: HashMap<String, Value> = state
        .objects
        .values()
        .map(|v| (uid_of(v), v.clone()))
        .collect();
    let mut referenced: HashSet<String> = HashSet::new();
    let all: Vec<(String, String, Value)> = state
        .objects
        .iter()
        .filter(|(_, v)| v.pointer("/metadata/ownerReferences").is_some())
        .map(|(k, v)| (k.0.clone(), k.1.clone(), v.clone()))
        .collect();
    for (group, plural, obj) in all {
        let refs = obj["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.is_empty() {
            continue;
        }
        let Some(ty) = state.find_type(&group, &plural) else {
            continue;
        };
        let found: Vec<Option<&Value>> = refs
            .iter()
            .map(|r| owners.get(r["uid"].as_str().unwrap_or("")))
            .collect();
        let orphaned_by: Vec<String> = found
            .iter()
            .flatten()
            .filter(|o| deleting(o) && finalizers(o).iter().any(|f| f == "orphan"))
            .map(|o| uid_of(o))
            .collect();
        if !orphaned_by.is_empty() {
            let mut released = obj.clone();
            let kept: Vec<&Value> = refs
                .iter()
                .filter(|r| !orphaned_by.iter().any(|u| r["uid"] == *u))
                .collect();
            released["metadata"]["ownerReferences"] = json!(kept);
            save(state, &ty, released);
            continue;
        }
        for r in &refs {
            referenced.insert(r["uid"].as_str().unwrap_or("").to_string());
        }
        let all_gone = found.iter().all(Option::is_none);
        let owner_foreground = found
            .iter()
            .flatten()
            .any(|o| deleting(o) && finalizers(o).iter().any(|f| f == "foregroundDeletion"));
        if (all_gone || owner_foreground) && !deleting(&obj) {
            delete(state, &ty, &obj);
        }
    }
    // Owners waiting on dependents that are now all gone.
    for owner in owners.values().filter(|o| deleting(o)) {
        for finalizer in ["foregroundDeletion", "orphan"] {
            let uid = uid_of(owner);
            if finalizers(owner).iter().any(|f| f == finalizer) && !referenced.contains(&uid) {
                let Some(ty) = type_of(state, owner) else {
                    continue;
                };
                let Some(current) = state
                    .get(&ty, &namespace_of(owner), &name_of(owner))
                    .cloned()
                else {
                    continue;
                };
                save(state, &ty, without_finalizer(current, finalizer));
            }
        }
    }
}

fn type_of(state: &State, obj: &Value) -> Option<ResourceType> {
    let api_version = obj["apiVersion"].as_str()?;
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let kind = obj["kind"].as_str()?;
    state
        .types()
        .into_iter()
        .find(|t| t.group == group && t.kind == kind)
}

/// A short stable hash of a pod template, like `pod-template-hash`.
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

pub fn owned_by<'a>(objs: &'a [Value], owner: &Value) -> Vec<&'a Value> {
    let uid = uid_of(owner);
    objs.iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|rs| rs.iter().any(|r| r["uid"] == uid.as_str()))
        })
        .collect()
}

pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn deployments(state: &mut State) {
    let ty = builtin(state, "apps", "deployments");
    let pod_ty = builtin(state, "", "pods");
    for mut deploy in state.list("apps", "deployments", None) {
        if deleting(&deploy) {
            continue;
        }
        let ns = namespace_of(&deploy);
        let want = deploy["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let template = deploy["spec"]["template"].clone();
        let hash = template_hash(&template);
        let pods = state.list("", "pods", Some(&ns));
        let mine: Vec<Value> = owned_by(&pods, &deploy)
            .into_iter()
            .filter(|p| !deleting(p))
            .cloned()
            .collect();
        let (current, stale): (Vec<Value>, Vec<Value>) = mine
            .into_iter()
            .partition(|p| p["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
        for pod in &stale {
            delete(state, &pod_ty, pod);
        }
        for pod in current.iter().skip(want) {
            delete(state, &pod_ty, pod);
        }
        for _ in current.len()..want {
            let mut pod = json!({
                "metadata": {
                    "generateName": format!("{}-{hash}-", name_of(&deploy)),
                    "labels": template["metadata"]["labels"],
                    "annotations": template["metadata"].get("annotations").cloned().unwrap_or(json!({})),
                    "ownerReferences": [owner_ref(&deploy)],
                },
                "spec": template["spec"],
            });
            pod["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let _ = state.create(&pod_ty, &ns, pod, false);
        }
        let pods = state.list("", "pods", Some(&ns));
        let live: Vec<&Value> = owned_by(&pods, &deploy)
            .into_iter()
            .filter(|p| !deleting(p))
            .collect();
        let ready = live.iter().filter(|p| pod_ready(p)).count();
        let available = ready >= want;
        let mut status = json!({
            "observedGeneration": deploy["metadata"]["generation"],
            "replicas": live.len(),
            "updatedReplicas": live.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions(deploy["status"].get("conditions"), &[
                ("Available", available, if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }),
                ("Progressing", true, if available { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" }),
            ]),
        });
        if want > ready {
            status["unavailableReplicas"] = json!(want - ready);
        }
        if deploy["status"] != status {
            deploy["status"] = status;
            save(state, &ty, deploy);
        }
    }
}

/// ReplicaSets, StatefulSets, DaemonSets and Jobs only report success:
/// nothing here needs their pods.
fn other_workloads(state: &mut State) {
    for plural in ["replicasets", "statefulsets", "daemonsets", "jobs"] {
        let group = if plural == "jobs" { "batch" } else { "apps" };
        let ty = builtin(state, group, plural);
        for mut obj in state.list(group, plural, None) {
            if deleting(&obj) {
                continue;
            }
            let n = obj["spec"]["replicas"].as_u64().unwrap_or(1);
            let generation = obj["metadata"]["generation"].clone();
            let status = match plural {
                "daemonsets" => json!({
                    "observedGeneration": generation, "desiredNumberScheduled": 1,
                    "currentNumberScheduled": 1, "updatedNumberScheduled": 1,
                    "numberReady": 1, "numberAvailable": 1, "numberMisscheduled": 0,
                }),
                "jobs" => json!({
                    "succeeded": 1, "active": 0,
                    "conditions": conditions(obj["status"].get("conditions"), &[("Complete", true, "")]),
                }),
                _ => json!({
                    "observedGeneration": generation, "replicas": n, "readyReplicas": n,
                    "availableReplicas": n, "updatedReplicas": n, "currentReplicas": n,
                    "currentRevision": "emulated", "updateRevision": "emulated",
                }),
            };
            if obj["status"] != status {
                obj["status"] = status;
                save(state, &ty, obj);
            }
        }
    }
}

/// Pods are scheduled on the one node and start at once; they are Ready
/// unless annotated with [`NOT_READY`].
fn pods(state: &mut State) {
    let ty = builtin(state, "", "pods");
    for mut pod in state.list("", "pods", None) {
        if deleting(&pod) || pod["status"]["phase"] != "Pending" {
            continue;
        }
        let ready = pod["metadata"]["annotations"].get(NOT_READY).is_none();
        let now = now_rfc3339();
        let containers: Vec<Value> = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                json!({
                    "name": c["name"], "image": c["image"], "imageID": "",
                    "containerID": format!("emulator://{}", random_suffix(12)),
                    "ready": ready, "started": true, "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                })
            })
            .collect();
        let ip = state.next_address(true);
        pod["spec"]["nodeName"] = json!("emulator");
        pod["status"] = json!({
            "phase": "Running",
            "qosClass": "BestEffort",
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "containerStatuses": containers,
            "conditions": conditions(None, &[
                ("PodReadyToStartContainers", true, ""),
                ("Initialized", true, ""),
                ("Ready", ready, ""),
                ("ContainersReady", ready, ""),
                ("PodScheduled", true, ""),
            ]),
        });
        save(state, &ty, pod);
    }
}
