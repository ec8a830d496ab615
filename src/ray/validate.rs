//! A RayCluster checked before it is sent: what KubeRay's CRD schema and
//! the API server would refuse (types, required fields, names), and what
//! the operator refuses (negative counts, min above max), each with the
//! field's path, so a bad file changes nothing.

use serde_json::Value;

/// Every problem found, as `PATH: what is wrong`; empty when none.
pub fn problems(cluster: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |path: &str, what: String| out.push(format!("{path}: {what}"));

    match cluster.pointer("/metadata/name") {
        Some(Value::String(name)) => {
            if let Some(why) = dns1035_label(name) {
                say("metadata.name", format!("`{name}` {why}"));
            }
        }
        Some(other) => say("metadata.name", format!("{} is not a string", shown(other))),
        None => say("metadata.name", "is missing".into()),
    }
    if let Some(ns) = cluster.pointer("/metadata/namespace") {
        match ns.as_str() {
            Some(ns) => {
                if let Some(why) = dns1123_label(ns) {
                    say("metadata.namespace", format!("`{ns}` {why}"));
                }
            }
            None => say(
                "metadata.namespace",
                format!("{} is not a string", shown(ns)),
            ),
        }
    }
    let Some(spec) = cluster.get("spec") else {
        say("spec", "is missing".into());
        return out;
    };
    if !spec.is_object() {
        say("spec", format!("{} is not a mapping", shown(spec)));
        return out;
    }
    match spec.get("headGroupSpec") {
        None => say("spec.headGroupSpec", "is missing".into()),
        Some(head) => group(head, "spec.headGroupSpec", &mut say),
    }
    match spec.get("workerGroupSpecs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(groups)) => {
            let mut names = Vec::new();
            for (i, g) in groups.iter().enumerate() {
                let path = format!("spec.workerGroupSpecs[{i}]");
                worker(g, &path, &mut say);
                if let Some(name) = g.get("groupName").and_then(Value::as_str) {
                    if names.contains(&name) {
                        say(
                            &format!("{path}.groupName"),
                            format!("`{name}` is used twice"),
                        );
                    }
                    names.push(name);
                }
            }
        }
        Some(other) => say(
            "spec.workerGroupSpecs",
            format!("{} is not a list", shown(other)),
        ),
    }
    out
}

/// What head and worker groups share: start parameters and a pod template.
fn group(g: &Value, path: &str, say: &mut impl FnMut(&str, String)) {
    if !g.is_object() {
        say(path, format!("{} is not a mapping", shown(g)));
        return;
    }
    if let Some(params) = g.get("rayStartParams") {
        match params.as_object() {
            Some(map) => {
                for (key, value) in map {
                    if !value.is_string() {
                        say(
                            &format!("{path}.rayStartParams.{key}"),
                            format!(
                                "{} must be a string (quote it: \"{}\")",
                                shown(value),
                                bare(value)
                            ),
                        );
                    }
                }
            }
            None => say(
                &format!("{path}.rayStartParams"),
                format!("{} is not a mapping", shown(params)),
            ),
        }
    }
    let template = format!("{path}.template");
    let Some(pod) = g.get("template") else {
        say(&template, "is missing".into());
        return;
    };
    let containers = format!("{template}.spec.containers");
    match pod.pointer("/spec/containers") {
        Some(Value::Array(list)) if list.is_empty() => {
            say(&containers, "is empty: a pod needs a container".into())
        }
        Some(Value::Array(list)) => {
            for (i, c) in list.iter().enumerate() {
                let at = format!("{containers}[{i}]");
                match c.get("name").and_then(Value::as_str) {
                    Some(name) => {
                        if let Some(why) = dns1123_label(name) {
                            say(&format!("{at}.name"), format!("`{name}` {why}"));
                        }
                    }
                    None => say(&format!("{at}.name"), "is missing (or not a string)".into()),
                }
                match c.get("image") {
                    Some(Value::String(image)) if !image.trim().is_empty() => {}
                    _ => say(&format!("{at}.image"), "is missing or empty".into()),
                }
            }
        }
        Some(Value::Null) | None => say(&containers, "is missing: a pod needs a container".into()),
        Some(other) => say(&containers, format!("{} is not a list", shown(other))),
    }
}

fn worker(g: &Value, path: &str, say: &mut impl FnMut(&str, String)) {
    group(g, path, say);
    if !g.is_object() {
        return;
    }
    match g.get("groupName") {
        Some(Value::String(name)) if !name.is_empty() => {
            if let Some(why) = dns1123_label(name) {
                say(&format!("{path}.groupName"), format!("`{name}` {why}"));
            }
        }
        Some(Value::String(_)) => say(&format!("{path}.groupName"), "is empty".into()),
        Some(other) => say(
            &format!("{path}.groupName"),
            format!("{} is not a string", shown(other)),
        ),
        None => say(&format!("{path}.groupName"), "is missing".into()),
    }
    let mut counts = [None; 3];
    for (i, (field, least)) in [
        ("replicas", 0),
        ("minReplicas", 0),
        ("maxReplicas", 0),
        ("numOfHosts", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(value) = g.get(field) else { continue };
        let at = format!("{path}.{field}");
        match value.as_i64() {
            Some(n) if n < least => say(&at, format!("{n} is below {least}")),
            Some(n) if n > i64::from(i32::MAX) => say(&at, format!("{n} is above {}", i32::MAX)),
            Some(n) => {
                if i < 3 {
                    counts[i] = Some(n);
                }
            }
            None => say(&at, format!("{} is not a whole number", shown(value))),
        }
    }
    if let [_, Some(min), Some(max)] = counts
        && min > max
    {
        say(
            &format!("{path}.minReplicas"),
            format!("{min} is above maxReplicas ({max})"),
        );
    }
}

/// A value as the message shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Null => "null".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

fn bare(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Why `name` is no RFC 1123 label (namespaces, container and group
/// names), or `None`.
fn dns1123_label(name: &str) -> Option<String> {
    label(name, false)
}

/// Why `name` is no RFC 1035 label (KubeRay's rule for cluster names,
/// which it builds service names from), or `None`.
fn dns1035_label(name: &str) -> Option<String> {
    label(name, true)
}

fn label(name: &str, letter_first: bool) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 63 {
        return Some(format!("is {} characters long; at most 63", name.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "holds `{c}`: use lower-case letters, digits and `-` only"
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    if letter_first && !first.is_ascii_lowercase() {
        return Some("must start with a lower-case letter".into());
    }
    if first == '-' || name.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster() -> Value {
        json!({
            "metadata": {"name": "lab"},
            "spec": {
                "headGroupSpec": {"rayStartParams": {"num-cpus": "0"},
                    "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray"}]}}},
                "workerGroupSpecs": [{"groupName": "cpu", "replicas": 1, "minReplicas": 0, "maxReplicas": 4,
                    "template": {"spec": {"containers": [{"name": "w", "image": "rayproject/ray"}]}}}]
            }
        })
    }

    fn with(path: &str, value: Value) -> Vec<String> {
        let mut c = cluster();
        *c.pointer_mut(path).unwrap() = value;
        problems(&c)
    }

    #[test]
    fn a_good_cluster_has_no_problems() {
        assert_eq!(problems(&cluster()), Vec::<String>::new());
    }

    #[test]
    fn each_problem_names_its_field() {
        let cases = [
            (
                "/spec/workerGroupSpecs/0/replicas",
                json!(-1),
                "spec.workerGroupSpecs[0].replicas: -1 is below 0",
            ),
            (
                "/spec/workerGroupSpecs/0/replicas",
                json!(1.5),
                "spec.workerGroupSpecs[0].replicas: 1.5 is not a whole number",
            ),
            (
                "/spec/workerGroupSpecs/0/replicas",
                json!("2"),
                "spec.workerGroupSpecs[0].replicas: \"2\" is not a whole number",
            ),
            (
                "/spec/workerGroupSpecs/0/minReplicas",
                json!(5),
                "spec.workerGroupSpecs[0].minReplicas: 5 is above maxReplicas (4)",
            ),
            (
                "/spec/headGroupSpec/template/spec/containers",
                json!([]),
                "spec.headGroupSpec.template.spec.containers: is empty",
            ),
            (
                "/spec/headGroupSpec/template/spec",
                json!({}),
                "spec.headGroupSpec.template.spec.containers: is missing",
            ),
            (
                "/metadata/name",
                json!("Lab_1"),
                "metadata.name: `Lab_1` holds `L`",
            ),
            (
                "/metadata/name",
                json!("1lab"),
                "metadata.name: `1lab` must start with a lower-case letter",
            ),
            (
                "/spec/headGroupSpec/rayStartParams/num-cpus",
                json!(0),
                "spec.headGroupSpec.rayStartParams.num-cpus: 0 must be a string",
            ),
            (
                "/spec/workerGroupSpecs/0/groupName",
                json!(""),
                "spec.workerGroupSpecs[0].groupName: is empty",
            ),
        ];
        for (path, value, expected) in cases {
            let found = with(path, value);
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "{expected}: {found:?}"
            );
        }
    }
}
