//! Legacy Ray operator files (`cluster.ray.io/v1`, what the old scripts
//! applied) turned into KubeRay `ray.io/v1` RayClusters.
//!
//! The legacy operator described pod *types* with worker limits and ran
//! `ray start` itself through `exec` (the pods only slept); KubeRay has one
//! head group and worker groups, and writes the `ray start` line from
//! `rayStartParams`. So the conversion keeps each pod spec (image,
//! resources, ports, volumes, `envFrom`, node selectors, tolerations, pull
//! secrets) and moves the rest to where KubeRay wants it:
//!
//! | legacy                           | KubeRay                                        |
//! |----------------------------------|------------------------------------------------|
//! | `headPodType` pod type           | `headGroupSpec`                                |
//! | other pod types                  | `workerGroupSpecs` (`groupName` = type name)   |
//! | `minWorkers` / `maxWorkers`      | `replicas`, `minReplicas` / `maxReplicas` (capped by the cluster's `maxWorkers`) |
//! | `rayResources` CPU, GPU, others  | `rayStartParams` `num-cpus`, `num-gpus`, `resources` |
//! | `headServicePorts`               | named ports of the head container (KubeRay builds `NAME-head-svc` from them) |
//! | `--dashboard-host` etc. in `headStartRayCommands` | `rayStartParams`              |
//! | `idleTimeoutMinutes`             | `autoscalerOptions.idleTimeoutSeconds`         |
//! | `upscalingSpeed`                 | `autoscalerOptions.upscalingMode`              |
//!
//! Dropped on purpose: the keep-alive `command`/`args` (KubeRay starts Ray
//! and keeps the container alive), `generateName` (KubeRay names pods) and
//! `restartPolicy` (KubeRay manages pod restarts).

use anyhow::{Context, Result, bail};
use serde_yaml::{Mapping, Value};

pub const LEGACY_API_VERSION: &str = "cluster.ray.io/v1";
pub const API_VERSION: &str = "ray.io/v1";

/// The KubeRay name of Ray's GCS port, which legacy files left unnamed.
const GCS_PORT: (i64, &str) = (6379, "gcs-server");

/// A converted file, and what the conversion could not carry over.
#[derive(Debug)]
pub struct Converted {
    pub cluster: Value,
    pub notes: Vec<String>,
}

pub fn is_legacy(doc: &Value) -> bool {
    doc.get("apiVersion").and_then(Value::as_str) == Some(LEGACY_API_VERSION)
}

pub fn convert(legacy: &Value) -> Result<Converted> {
    let mut notes = Vec::new();
    let name = legacy
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .context("the legacy RayCluster has no metadata.name")?;
    let spec = legacy
        .get("spec")
        .context("the legacy RayCluster has no spec")?;
    let pod_types = spec
        .get("podTypes")
        .and_then(Value::as_sequence)
        .context("the legacy RayCluster has no spec.podTypes")?;
    let head_type = match spec.get("headPodType").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => bail!("the legacy RayCluster has no spec.headPodType"),
    };
    let cluster_max = spec.get("maxWorkers").and_then(Value::as_i64);

    let head = pod_types
        .iter()
        .find(|t| type_name(t) == Some(head_type.as_str()))
        .with_context(|| format!("spec.headPodType `{head_type}` is not among spec.podTypes"))?;
    let head_group = head_group(spec, head, &mut notes)?;

    let mut workers = Vec::new();
    let mut autoscales = false;
    for pod_type in pod_types {
        let Some(group) = type_name(pod_type) else {
            bail!("a pod type in spec.podTypes has no name");
        };
        if group == head_type {
            continue;
        }
        let (worker, scales) = worker_group(pod_type, group, cluster_max, &mut notes)?;
        autoscales |= scales;
        workers.push(Value::Mapping(worker));
    }

    let mut out_spec = Mapping::new();
    if autoscales {
        out_spec.insert("enableInTreeAutoscaling".into(), true.into());
        out_spec.insert(
            "autoscalerOptions".into(),
            Value::Mapping(autoscaler_options(spec)),
        );
    }
    out_spec.insert("headGroupSpec".into(), Value::Mapping(head_group));
    out_spec.insert("workerGroupSpecs".into(), Value::Sequence(workers));

    let mut cluster = Mapping::new();
    cluster.insert("apiVersion".into(), API_VERSION.into());
    cluster.insert("kind".into(), "RayCluster".into());
    cluster.insert("metadata".into(), Value::Mapping(metadata(legacy, name)));
    cluster.insert("spec".into(), Value::Mapping(out_spec));
    Ok(Converted {
        cluster: Value::Mapping(cluster),
        notes,
    })
}

/// The head pod type as KubeRay's head group: its resources and `ray
/// start` options as `rayStartParams`, its service ports named.
fn head_group(spec: &Value, head: &Value, notes: &mut Vec<String>) -> Result<Mapping> {
    let mut head_params = ray_resources(head)?;
    for (key, value) in start_params(spec.get("headStartRayCommands")) {
        head_params.insert(key.into(), value.into());
    }
    let head_ports = head_service_ports(spec.get("headServicePorts"));
    let mut head_group = Mapping::new();
    head_group.insert("serviceType".into(), "ClusterIP".into());
    head_group.insert("rayStartParams".into(), Value::Mapping(head_params));
    head_group.insert("template".into(), template(head, Some(&head_ports), notes)?);
    Ok(head_group)
}

/// A worker pod type as a worker group (replicas from `minWorkers`, the
/// maximum capped by the cluster's), and whether it autoscales.
fn worker_group(
    pod_type: &Value,
    group: &str,
    cluster_max: Option<i64>,
    notes: &mut Vec<String>,
) -> Result<(Mapping, bool)> {
    let min = pod_type
        .get("minWorkers")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let own_max = pod_type.get("maxWorkers").and_then(Value::as_i64);
    let max = match (own_max, cluster_max) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => min,
    }
    .max(min);
    let mut worker = Mapping::new();
    worker.insert("groupName".into(), group.into());
    worker.insert("replicas".into(), min.into());
    worker.insert("minReplicas".into(), min.into());
    worker.insert("maxReplicas".into(), max.into());
    worker.insert(
        "rayStartParams".into(),
        Value::Mapping(ray_resources(pod_type)?),
    );
    worker.insert("template".into(), template(pod_type, None, notes)?);
    Ok((worker, max > min))
}

/// `upscalingSpeed` and `idleTimeoutMinutes` as KubeRay's autoscaler options.
fn autoscaler_options(spec: &Value) -> Mapping {
    let mut options = Mapping::new();
    let speed = spec
        .get("upscalingSpeed")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    options.insert("upscalingMode".into(), upscaling_mode(speed).into());
    let idle = spec
        .get("idleTimeoutMinutes")
        .and_then(Value::as_i64)
        .unwrap_or(5);
    options.insert("idleTimeoutSeconds".into(), (idle * 60).into());
    options
}

/// The name, and the namespace, labels and annotations when given.
fn metadata(legacy: &Value, name: &str) -> Mapping {
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), name.into());
    for key in ["namespace", "labels", "annotations"] {
        if let Some(v) = legacy.get("metadata").and_then(|m| m.get(key)) {
            metadata.insert(key.into(), v.clone());
        }
    }
    metadata
}

fn type_name(pod_type: &Value) -> Option<&str> {
    pod_type.get("name").and_then(Value::as_str)
}

/// The Ray autoscaler's upscaling speed as KubeRay's coarser modes:
/// `Default` is speed 1, `Aggressive` no limit, `Conservative` one
/// pending node at a time.
fn upscaling_mode(speed: f64) -> &'static str {
    if speed < 1.0 {
        "Conservative"
    } else if speed >= 100.0 {
        "Aggressive"
    } else {
        "Default"
    }
}

/// `rayResources` as `ray start` parameters; KubeRay wants strings.
fn ray_resources(pod_type: &Value) -> Result<Mapping> {
    let mut params = Mapping::new();
    let Some(resources) = pod_type.get("rayResources").and_then(Value::as_mapping) else {
        return Ok(params);
    };
    let mut custom = serde_json::Map::new();
    for (key, value) in resources {
        let key = key.as_str().context("a rayResources key is not a string")?;
        let number =
            number_text(value).with_context(|| format!("rayResources {key} is not a number"))?;
        match key {
            "CPU" => {
                params.insert("num-cpus".into(), number.into());
            }
            "GPU" => {
                params.insert("num-gpus".into(), number.into());
            }
            "memory" => {
                params.insert("memory".into(), number.into());
            }
            _ => {
                let json: serde_json::Value = serde_yaml::from_value(value.clone())?;
                custom.insert(key.to_string(), json);
            }
        }
    }
    if !custom.is_empty() {
        // `ray start --resources` takes JSON, which KubeRay passes quoted.
        let json = serde_json::Value::Object(custom).to_string();
        params.insert("resources".into(), format!("'{json}'").into());
    }
    Ok(params)
}

fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.parse::<f64>().is_ok() => Some(s.clone()),
        _ => None,
    }
}

/// `--key value` pairs of the `ray start` lines, except those KubeRay
/// writes itself (head, address, block) or that meant "the operator runs
/// the autoscaler" (no-monitor: KubeRay's sidecar does that now).
fn start_params(commands: Option<&Value>) -> Vec<(String, String)> {
    const OWN: &[&str] = &["head", "address", "block", "no-monitor", "port"];
    let mut params = Vec::new();
    let lines = commands.and_then(Value::as_sequence).into_iter().flatten();
    for line in lines.filter_map(Value::as_str) {
        for part in line.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let Some(start) = words.windows(2).position(|w| w == ["ray", "start"]) else {
                continue;
            };
            let mut rest = words[start + 2..].iter().peekable();
            while let Some(word) = rest.next() {
                let Some(flag) = word.strip_prefix("--") else {
                    continue;
                };
                let (key, value) = match flag.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => {
                        let value = rest
                            .peek()
                            .filter(|next| !next.starts_with("--"))
                            .map(|v| v.to_string());
                        if value.is_some() {
                            rest.next();
                        }
                        (flag.to_string(), value)
                    }
                };
                if let Some(value) = value
                    && !OWN.contains(&key.as_str())
                {
                    params.push((key, value));
                }
            }
        }
    }
    params
}

/// `headServicePorts` as (targetPort, name).
fn head_service_ports(ports: Option<&Value>) -> Vec<(i64, String)> {
    let mut named = vec![(GCS_PORT.0, GCS_PORT.1.to_string())];
    for port in ports.and_then(Value::as_sequence).into_iter().flatten() {
        let number = port
            .get("targetPort")
            .or_else(|| port.get("port"))
            .and_then(Value::as_i64);
        let name = port.get("name").and_then(Value::as_str);
        if let (Some(number), Some(name)) = (number, name) {
            named.retain(|(n, _)| *n != number);
            named.push((number, name.to_string()));
        }
    }
    named
}

/// A pod type's `podConfig` as a pod template. `head_ports` names the
/// ports of the Ray container (the first) on the head.
fn template(
    pod_type: &Value,
    head_ports: Option<&[(i64, String)]>,
    notes: &mut Vec<String>,
) -> Result<Value> {
    let group = type_name(pod_type).unwrap_or("?");
    let config = pod_type
        .get("podConfig")
        .with_context(|| format!("pod type `{group}` has no podConfig"))?;
    let mut spec = config
        .get("spec")
        .and_then(Value::as_mapping)
        .cloned()
        .with_context(|| format!("pod type `{group}` has no podConfig.spec"))?;
    spec.shift_remove("restartPolicy");
    let containers = spec
        .get_mut("containers")
        .and_then(Value::as_sequence_mut)
        .with_context(|| format!("pod type `{group}` has no containers"))?;
    for (index, container) in containers.iter_mut().enumerate() {
        let Some(container) = container.as_mapping_mut() else {
            bail!("a container of pod type `{group}` is not a mapping");
        };
        if index == 0 {
            let command = container.shift_remove("command");
            let args = container.shift_remove("args");
            if !is_keep_alive(command.as_ref(), args.as_ref()) {
                notes.push(format!(
                    "pod type `{group}`: dropped the Ray container's command and args \
                     (KubeRay runs `ray start` itself)"
                ));
            }
            if let Some(ports) = head_ports {
                name_ports(container, ports);
            }
        }
    }
    let mut template = Mapping::new();
    if let Some(meta) = config.get("metadata").and_then(Value::as_mapping) {
        let mut kept = Mapping::new();
        for key in ["labels", "annotations"] {
            if let Some(v) = meta.get(key) {
                kept.insert(key.into(), v.clone());
            }
        }
        if !kept.is_empty() {
            template.insert("metadata".into(), Value::Mapping(kept));
        }
    }
    template.insert("spec".into(), Value::Mapping(spec));
    Ok(Value::Mapping(template))
}

/// The legacy operator's "sleep until killed" line, which KubeRay does not
/// need. Anything else dropped deserves a note.
fn is_keep_alive(command: Option<&Value>, args: Option<&Value>) -> bool {
    let text = |v: Option<&Value>| serde_yaml::to_string(&v).unwrap_or_default();
    (command.is_none() && args.is_none()) || text(args).contains("sleep infinity")
}

/// Gives the Ray container's ports the head service's names, adding those
/// the service had that the container did not list.
fn name_ports(container: &mut Mapping, names: &[(i64, String)]) {
    let mut ports: Vec<Value> = container
        .get("ports")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    for (number, name) in names {
        let existing = ports
            .iter_mut()
            .find(|p| p.get("containerPort").and_then(Value::as_i64) == Some(*number));
        match existing.and_then(Value::as_mapping_mut) {
            Some(port) => {
                if !port.contains_key("name") {
                    let mut named = Mapping::new();
                    named.insert("name".into(), name.clone().into());
                    named.extend(std::mem::take(port));
                    *port = named;
                }
            }
            None => {
                let mut port = Mapping::new();
                port.insert("name".into(), name.clone().into());
                port.insert("containerPort".into(), (*number).into());
                ports.push(Value::Mapping(port));
            }
        }
    }
    if !ports.is_empty() {
        container.insert("ports".into(), Value::Sequence(ports));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy() -> Value {
        serde_yaml::from_str(indoc::indoc! {r#"
            apiVersion: cluster.ray.io/v1
            kind: RayCluster
            metadata: {name: demo}
            spec:
              maxWorkers: 3
              upscalingSpeed: 1
              idleTimeoutMinutes: 2
              headPodType: head
              headServicePorts:
                - {name: client, port: 10001, targetPort: 10001}
                - {name: dashboard, port: 8265, targetPort: 8265}
              podTypes:
                - name: head
                  rayResources: {"CPU": 0, "Custom": 2}
                  podConfig:
                    metadata: {generateName: ray-head-}
                    spec:
                      restartPolicy: Always
                      containers:
                        - name: ray-node
                          image: r.example/kas
                          command: ["/bin/bash", "-c", "--"]
                          args: ["trap : TERM INT; sleep infinity & wait;"]
                          ports: [{containerPort: 6379}, {containerPort: 10001}]
                - name: worker
                  minWorkers: 1
                  maxWorkers: 12
                  podConfig:
                    spec:
                      containers: [{name: ray-node, image: r.example/kas}]
              headStartRayCommands:
                - ray stop
                - ulimit -n 65536; ray start --head --no-monitor --dashboard-host 0.0.0.0
        "#})
        .unwrap()
    }

    #[test]
    fn head_and_workers_become_groups() {
        let out = convert(&legacy()).unwrap();
        let c = &out.cluster;
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(c["apiVersion"], "ray.io/v1");
        let head = &c["spec"]["headGroupSpec"];
        assert_eq!(head["rayStartParams"]["num-cpus"], "0");
        assert_eq!(head["rayStartParams"]["dashboard-host"], "0.0.0.0");
        assert_eq!(head["rayStartParams"]["resources"], r#"'{"Custom":2}'"#);
        let pod = &head["template"]["spec"];
        assert!(pod.get("restartPolicy").is_none());
        assert!(pod["containers"][0].get("command").is_none());
        let ports = serde_yaml::to_string(&pod["containers"][0]["ports"]).unwrap();
        assert_eq!(
            ports,
            "- name: gcs-server\n  containerPort: 6379\n- name: client\n  containerPort: 10001\n\
             - name: dashboard\n  containerPort: 8265\n"
        );
        let worker = &c["spec"]["workerGroupSpecs"][0];
        assert_eq!(worker["groupName"], "worker");
        assert_eq!(worker["minReplicas"], 1);
        assert_eq!(
            worker["maxReplicas"], 3,
            "capped by the cluster's maxWorkers"
        );
        assert_eq!(c["spec"]["enableInTreeAutoscaling"], true);
        assert_eq!(c["spec"]["autoscalerOptions"]["idleTimeoutSeconds"], 120);
        assert_eq!(c["spec"]["autoscalerOptions"]["upscalingMode"], "Default");
    }

    #[test]
    fn a_real_command_is_dropped_with_a_note() {
        let mut doc = legacy();
        doc["spec"]["podTypes"][0]["podConfig"]["spec"]["containers"][0]["args"] =
            serde_yaml::from_str("[\"python serve.py\"]").unwrap();
        let out = convert(&doc).unwrap();
        assert_eq!(out.notes.len(), 1);
        assert!(out.notes[0].contains("`head`"), "{:?}", out.notes);
    }

    #[test]
    fn a_missing_head_type_is_an_error_that_names_it() {
        let mut doc = legacy();
        doc["spec"]["headPodType"] = "nope".into();
        let err = convert(&doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.headPodType `nope` is not among spec.podTypes"
        );
    }

    #[test]
    fn upscaling_speeds_map_to_modes() {
        assert_eq!(upscaling_mode(0.5), "Conservative");
        assert_eq!(upscaling_mode(1.0), "Default");
        assert_eq!(upscaling_mode(1000.0), "Aggressive");
    }
}
