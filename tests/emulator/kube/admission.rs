//! What the API server fills in when objects are written: defaults, the
//! initial status, cluster IPs, and Secret `stringData`.

use serde_json::{Value, json};

use super::catalog::ResourceType;
use super::store::{ApiError, State};
use super::util::{base64_decode, base64_encode};

pub fn on_create(state: &mut State, ty: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "namespaces") => {
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            obj["status"] = json!({"phase": "Active"});
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
        }
        ("", "services") => {
            let spec = &mut obj["spec"];
            if spec.get("type").is_none() {
                spec["type"] = json!("ClusterIP");
            }
            if spec.get("clusterIP").is_none_or(|ip| ip == "") {
                let ip = state.next_address(false);
                spec["clusterIP"] = json!(ip);
            }
            spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    if port.get("protocol").is_none() {
                        port["protocol"] = json!("TCP");
                    }
                    if port.get("targetPort").is_none() {
                        port["targetPort"] = port["port"].clone();
                    }
                }
            }
            if spec.get("sessionAffinity").is_none() {
                spec["sessionAffinity"] = json!("None");
            }
            obj["status"] = json!({"loadBalancer": {}});
        }
        ("", "pods") => {
            let spec = &mut obj["spec"];
            if spec.get("restartPolicy").is_none() {
                spec["restartPolicy"] = json!("Always");
            }
            if spec.get("serviceAccountName").is_none() {
                spec["serviceAccountName"] = json!("default");
            }
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        ("apps", "deployments") | ("apps", "statefulsets") | ("apps", "replicasets") => {
            if obj.pointer("/spec/replicas").is_none() {
                obj["spec"]["replicas"] = json!(1);
            }
            obj["status"] = json!({});
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            obj["status"] = json!({
                "conditions": [],
                "acceptedNames": {"kind": "", "plural": ""},
                "storedVersions": [],
            });
        }
        _ => {}
    }
    on_update(ty, obj)
}

pub fn on_update(ty: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    if ty.is("", "secrets") {
        if obj.get("type").is_none() {
            obj["type"] = json!("Opaque");
        }
        if let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            for (k, v) in plain {
                let text = v.as_str().unwrap_or_default().to_string();
                obj["data"][k] = json!(base64_encode(text.as_bytes()));
            }
        }
        if let Some(Value::Object(data)) = obj.get("data") {
            for (k, v) in data {
                if v.as_str().and_then(base64_decode).is_none() {
                    let name = obj["metadata"]["name"].as_str().unwrap_or("");
                    let why = format!("data[{k}]: Invalid value: the value is not base64-encoded");
                    return Err(ApiError::invalid(ty, name, &why));
                }
            }
        }
    }
    Ok(())
}
