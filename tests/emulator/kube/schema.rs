//! Custom resources checked against their CRD's `openAPIV3Schema`, as the
//! API server does before it stores one: types (with int32/int64 ranges),
//! required fields, enums, bounds, string and list lengths, and the
//! object's name. A violation is a 422 Invalid whose causes carry the
//! field paths and the API server's wording, so kubectl prints what a
//! real cluster would. Unknown fields are dropped as the server prunes
//! them; `pattern`s are not checked.

use serde_json::{Value, json};

use super::catalog::ResourceType;
use super::store::{ApiError, State};

/// Refuses `obj` when its CRD's schema (for its stored version) says no.
/// Built-in kinds, and CRDs without a schema, pass.
pub fn check(state: &State, ty: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let Some(schema) = schema_of(state, ty) else {
        return Ok(());
    };
    let mut causes = Vec::new();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(why) = not_a_subdomain(name) {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": {why}"),
        ));
    }
    // metadata is the API server's own business, not the schema's.
    let mut body = obj.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("metadata");
    }
    walk(&schema, &body, "", &mut causes);
    if causes.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = causes
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["field"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let shown = if lines.len() == 1 {
        lines[0].clone()
    } else {
        format!("[{}]", lines.join(", "))
    };
    let mut error = ApiError::new(
        422,
        "Invalid",
        format!("{}.{} \"{name}\" is invalid: {shown}", ty.kind, ty.group),
    );
    error.details = Some(json!({
        "name": name, "group": ty.group, "kind": ty.kind, "causes": causes,
    }));
    Err(error)
}

/// The schema of the CRD that defines `ty`, for its storage version.
fn schema_of(state: &State, ty: &ResourceType) -> Option<Value> {
    if ty.group.is_empty() || ty.group == "apps" || ty.group.ends_with(".k8s.io") {
        return None;
    }
    let crds = state.find_type("apiextensions.k8s.io", "customresourcedefinitions")?;
    let crd = state.get(&crds, "", &format!("{}.{}", ty.plural, ty.group))?;
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let version = versions
        .iter()
        .find(|v| v["name"] == ty.preferred_version())?;
    let schema = version.pointer("/schema/openAPIV3Schema")?;
    schema.is_object().then(|| schema.clone())
}

fn cause(reason: &str, field: &str, message: String) -> Value {
    json!({"reason": reason, "message": message, "field": field})
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

/// A value as the API server quotes it in a message.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "[]interface {}".into(),
        Value::Object(_) => "map[string]interface {}".into(),
        other => other.to_string(),
    }
}

fn walk(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Value>) {
    let field = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        // Left to the server's pruning and defaulting: not refused here.
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_of(value), "integer" | "string") {
            causes.push(cause(
                "FieldValueTypeInvalid",
                field,
                format!(
                    "Invalid value: {}: {field} in body must be of type integer,string: {}",
                    quoted(value),
                    quoted(value)
                ),
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let actual = type_of(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            causes.push(cause(
                "FieldValueTypeInvalid",
                field,
                format!(
                    "Invalid value: \"{actual}\": {field} in body must be of type {expected}: \"{actual}\""
                ),
            ));
            return;
        }
    }
    if let (Some(format), Some(n)) = (schema["format"].as_str(), value.as_i64()) {
        let range = match format {
            "int32" => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
            _ => None,
        };
        if let Some((low, high)) = range
            && (n < low || n > high)
        {
            causes.push(cause(
                "FieldValueInvalid",
                field,
                format!("Invalid value: {n}: {field} in body must be of type {format}: {n}"),
            ));
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(quoted).collect();
        causes.push(cause(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: {}: supported values: {}",
                quoted(value),
                supported.join(", ")
            ),
        ));
    }
    bounds(schema, value, field, causes);
    match value {
        Value::Object(map) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                if let Some(key) = key.as_str()
                    && !map.contains_key(key)
                {
                    let here = if path.is_empty() {
                        key.to_string()
                    } else {
                        format!("{path}.{key}")
                    };
                    causes.push(cause("FieldValueRequired", &here, "Required value".into()));
                }
            }
            let props = schema["properties"].as_object();
            for (key, item) in map {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(sub) = props.and_then(|p| p.get(key)) {
                    walk(sub, item, &here, causes);
                } else if schema["additionalProperties"].is_object() {
                    walk(&schema["additionalProperties"], item, &here, causes);
                }
                // Anything else is unknown: pruned, or kept where the
                // schema preserves unknown fields; never an error here.
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                walk(&schema["items"], item, &format!("{path}[{i}]"), causes);
            }
        }
        _ => {}
    }
}

fn bounds(schema: &Value, value: &Value, field: &str, causes: &mut Vec<Value>) {
    let mut invalid = |what: String| {
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {}: {field} in body {what}", quoted(value)),
        ));
    };
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        invalid(format!("should be greater than or equal to {min}"));
    }
    if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64())
        && n > max
    {
        invalid(format!("should be less than or equal to {max}"));
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(m) = schema["maxLength"].as_u64().filter(|m| len > *m) {
            invalid(format!("may not be more than {m} bytes"));
        }
        if let Some(m) = schema["minLength"].as_u64().filter(|m| len < *m) {
            invalid(format!("should be at least {m} chars long"));
        }
    }
    if let Some(items) = value.as_array() {
        let len = items.len() as u64;
        if let Some(m) = schema["maxItems"].as_u64().filter(|m| len > *m) {
            causes.push(cause(
                "FieldValueTooMany",
                field,
                format!("Too many: {len}: must have at most {m} items"),
            ));
        }
        if let Some(m) = schema["minItems"].as_u64().filter(|m| len < *m) {
            causes.push(cause(
                "FieldValueInvalid",
                field,
                format!("Invalid value: {len}: {field} in body should have at least {m} items"),
            ));
        }
    }
}

/// Why `name` is no lower-case RFC 1123 subdomain, in the API server's
/// words, or `None`.
fn not_a_subdomain(name: &str) -> Option<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        return None;
    }
    Some(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
         and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
         validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            .into(),
    )
}
