//! A small structural validator for the OpenAPI v3 schemas of Kubernetes
//! CRDs: what the API server checks before it stores a custom resource
//! (type, properties, required, additionalProperties, items, enum,
//! anyOf/allOf, nullable, bounds, and the `x-kubernetes-*` extensions).
//! Unknown fields are errors, as with kubectl's default strict field
//! validation. Regular expressions (`pattern`) are not checked.

use serde_json::Value;

/// Every way `value` breaks `schema`, each with its path (`.spec.x[0]`).
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    errors
}

/// The `openAPIV3Schema` of version `version` of a CRD.
pub fn crd_schema<'a>(crd: &'a Value, version: &str) -> &'a Value {
    let versions = crd["spec"]["versions"]
        .as_array()
        .expect("a CRD lists versions");
    let found = versions
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("the CRD has no version {version}"));
    &found["schema"]["openAPIV3Schema"]
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "." } else { path };
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_of(value), "integer" | "string") {
            errors.push(format!(
                "{at}: expected an integer or a string, got {}",
                type_of(value)
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let actual = type_of(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            errors.push(format!("{at}: expected {expected}, got {actual}"));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!(
            "{at}: {value} is not one of {}",
            Value::from(options.clone())
        ));
    }
    for sub in schema["allOf"].as_array().into_iter().flatten() {
        check(sub, value, path, errors);
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let passes = any.iter().any(|sub| {
            let mut e = Vec::new();
            check(sub, value, path, &mut e);
            e.is_empty()
        });
        if !passes {
            errors.push(format!("{at}: matches none of anyOf"));
        }
    }
    bounds(schema, value, at, errors);
    match value {
        Value::Object(map) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                if let Some(key) = key.as_str()
                    && !map.contains_key(key)
                {
                    errors.push(format!("{at}: missing required field `{key}`"));
                }
            }
            let props = schema["properties"].as_object();
            let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
            for (key, item) in map {
                let here = format!("{path}.{key}");
                if let Some(sub) = props.and_then(|p| p.get(key)) {
                    check(sub, item, &here, errors);
                    continue;
                }
                match &schema["additionalProperties"] {
                    Value::Object(_) => check(&schema["additionalProperties"], item, &here, errors),
                    Value::Bool(true) => {}
                    _ if preserve => {}
                    // A schema that names no properties at all leaves the
                    // object open (`type: object` alone, as for metadata).
                    _ if props.is_none() => {}
                    _ => errors.push(format!("{here}: unknown field")),
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn bounds(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} is below the minimum {min}"));
    }
    if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} is above the maximum {max}"));
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            errors.push(format!("{at}: longer than {}", schema["maxLength"]));
        }
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            errors.push(format!("{at}: shorter than {}", schema["minLength"]));
        }
    }
    if let Some(items) = value.as_array() {
        let len = items.len() as u64;
        if schema["maxItems"].as_u64().is_some_and(|m| len > m) {
            errors.push(format!("{at}: more than {} items", schema["maxItems"]));
        }
        if schema["minItems"].as_u64().is_some_and(|m| len < m) {
            errors.push(format!("{at}: fewer than {} items", schema["minItems"]));
        }
    }
}
