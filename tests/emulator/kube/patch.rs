//! The patch flavours kubectl and Helm send: JSON merge patch (RFC 7386),
//! strategic merge patch (as a merge that also merges lists of objects by
//! their key, the way the built-in types declare it), and JSON patch
//! (RFC 6902).

use serde_json::{Map, Value};

/// RFC 7386: objects merge, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("just made an object");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Strategic merge patch, simplified: like [`merge`], plus lists of objects
/// whose elements carry a merge key (`name`, `mountPath`, `containerPort`,
/// `port`, `type` or `uid`) merge element by element, `$patch: delete`
/// removes an element, `$patch: replace` replaces, and the other `$`
/// directives kubectl adds (`$setElementOrder/...`, `$retainKeys`) are
/// dropped. Lists of plain values replace, as in a merge patch.
pub fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = Value::Object(patch.clone());
        strip_directives(&mut replacement);
        *target = replacement;
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("just made an object");
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(have)), Value::Array(gone)) = (map.get_mut(list), value) {
                have.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                merge_list(slot, items);
            }
            _ => strategic(map.entry(key.clone()).or_insert(Value::Null), value),
        }
    }
}

fn merge_key(items: &[Value]) -> Option<&'static str> {
    let first = items.first()?.as_object()?;
    ["name", "mountPath", "containerPort", "port", "type", "uid"]
        .into_iter()
        .find(|k| first.contains_key(*k))
}

fn merge_list(slot: &mut Value, patch_items: &[Value]) {
    let key = merge_key(patch_items);
    let (Some(key), Value::Array(have)) = (key, &mut *slot) else {
        let mut replacement = Value::Array(patch_items.to_vec());
        strip_directives(&mut replacement);
        *slot = replacement;
        return;
    };
    if !have.iter().all(|v| v.get(key).is_some()) {
        *slot = Value::Array(patch_items.to_vec());
        return;
    }
    for item in patch_items {
        let id = item.get(key);
        let at = have.iter().position(|h| h.get(key) == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (at, delete) {
            (Some(i), true) => {
                have.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic(&mut have[i], item),
            (None, false) => {
                let mut new = item.clone();
                strip_directives(&mut new);
                have.push(new);
            }
        }
    }
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

/// RFC 6902 JSON patch. Errors name the failing operation.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without a path")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("{name} {path}: no value"))
        };
        match name {
            "add" => add(target, path, value()?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            "test" => {
                if target.pointer(path) != Some(&value()?) {
                    return Err(format!("test {path}: value differs"));
                }
            }
            "move" | "copy" => {
                let from = op.get("from").and_then(Value::as_str).ok_or("no from")?;
                let moved = if name == "move" {
                    remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or(format!("copy: {from} not found"))?
                };
                add(target, path, moved)?;
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let at = path
        .rfind('/')
        .ok_or(format!("bad JSON pointer {path:?}"))?;
    let last = path[at + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..at].to_string(), last))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match target.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
        }
        Some(Value::Array(items)) => {
            if last == "-" {
                items.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                if i > items.len() {
                    return Err(format!("add {path}: index out of range"));
                }
                items.insert(i, value);
            }
        }
        _ => return Err(format!("add {path}: parent not found")),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let gone = match target.pointer_mut(&parent) {
        Some(Value::Object(map)) => map.remove(&last),
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => Some(items.remove(i)),
            _ => None,
        },
        _ => None,
    };
    gone.ok_or(format!("remove {path}: not found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_deletes_with_null() {
        let mut v = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1"}}});
        merge(
            &mut v,
            &json!({"metadata": {"finalizers": null, "labels": {"y": "2"}}}),
        );
        assert_eq!(v, json!({"metadata": {"labels": {"x": "1", "y": "2"}}}));
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut v = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}});
        strategic(
            &mut v,
            &json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(
            v,
            json!({"spec": {"containers": [{"name": "b", "image": "b:2"}]}})
        );
    }

    #[test]
    fn json_patch_operations() {
        let mut v = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut v,
            &json!([
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "remove", "path": "/a/0"},
            {"op": "test", "path": "/b/c", "value": 2}]),
        )
        .unwrap();
        assert_eq!(v, json!({"a": [2, 3], "b": {"c": 2}}));
        assert!(json_patch(&mut v, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
