//! CRD defaults (`default:` in the `openAPIV3Schema`), filled in as the
//! API server does before it validates and stores a custom resource: a
//! field left out whose schema has a default gets it, at any depth (in
//! objects, list items and map values that are there).

use serde_json::Value;

use super::catalog::ResourceType;
use super::store::State;

/// Fills the defaults of `ty`'s schema into `obj` (not into metadata).
pub fn apply(state: &State, ty: &ResourceType, obj: &mut Value) {
    let Some(schema) = super::schema::schema_of(state, ty) else {
        return;
    };
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for (key, value) in map.iter_mut().filter(|(k, _)| *k != "metadata") {
        if let Some(sub) = schema.pointer(&format!("/properties/{key}")) {
            fill(sub, value);
        }
    }
}

fn fill(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (key, sub) in props {
                    match map.get_mut(key) {
                        Some(v) => fill(sub, v),
                        None => {
                            if let Some(default) = sub.get("default") {
                                map.insert(key.clone(), default.clone());
                            }
                        }
                    }
                }
            } else if schema["additionalProperties"].is_object() {
                for v in map.values_mut() {
                    fill(&schema["additionalProperties"], v);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                fill(&schema["items"], item);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::fill;
    use serde_json::json;

    #[test]
    fn missing_fields_get_their_defaults_at_any_depth() {
        let schema = json!({"properties": {"groups": {"items": {"properties": {
            "min": {"default": 0}, "max": {"default": 2147483647}, "name": {}
        }}}}});
        let mut obj = json!({"groups": [{"name": "a", "max": 4}, {"name": "b"}]});
        fill(&schema, &mut obj);
        assert_eq!(
            obj,
            json!({"groups": [{"name": "a", "min": 0, "max": 4}, {"name": "b", "min": 0, "max": 2147483647}]})
        );
    }
}
