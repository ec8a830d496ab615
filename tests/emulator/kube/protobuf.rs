//! Decoding the few protobuf bodies clients send. Helm's storage driver
//! writes its release Secrets (and deletes them with DeleteOptions) as
//! `application/vnd.kubernetes.protobuf`, and client-go has no fallback to
//! JSON for request bodies, so the emulator reads these kinds: Secret,
//! ConfigMap and DeleteOptions. Field numbers are those of the Kubernetes
//! API's `generated.proto` files.

use serde_json::{Map, Value, json};

use super::util::{base64_encode, rfc3339};

/// `k8s\0`, then a `runtime.Unknown` wrapping the object.
const MAGIC: &[u8] = b"k8s\0";

pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("a protobuf body must start with the k8s\\0 envelope")?;
    let mut kind = String::new();
    let mut api_version = String::new();
    let mut raw: &[u8] = &[];
    for (field, value) in fields(envelope)? {
        match (field, value) {
            (1, Wire::Bytes(type_meta)) => {
                for (f, v) in fields(type_meta)? {
                    match (f, v) {
                        (1, Wire::Bytes(b)) => api_version = text(b),
                        (2, Wire::Bytes(b)) => kind = text(b),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut obj = match kind.as_str() {
        "Secret" => secret(raw)?,
        "ConfigMap" => config_map(raw)?,
        "DeleteOptions" => delete_options(raw)?,
        other => {
            return Err(format!(
                "the emulator cannot read {other} as protobuf; send JSON"
            ));
        }
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or("truncated protobuf varint")?;
        *at += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("protobuf varint too long".into())
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut at = 0;
    let mut out = vec![];
    while at < buf.len() {
        let tag = varint(buf, &mut at)?;
        let value = match tag & 7 {
            0 => Wire::Varint(varint(buf, &mut at)?),
            1 => {
                at += 8;
                Wire::Fixed
            }
            2 => {
                let len = varint(buf, &mut at)? as usize;
                let end = at
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or("truncated protobuf field")?;
                let bytes = &buf[at..end];
                at = end;
                Wire::Bytes(bytes)
            }
            5 => {
                at += 4;
                Wire::Fixed
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        out.push((tag >> 3, value));
    }
    Ok(out)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `map<string, V>` entry: key = 1, value = 2.
fn map_entry(b: &[u8]) -> Result<(String, &[u8]), String> {
    let (mut key, mut value): (String, &[u8]) = (String::new(), &[]);
    for (f, v) in fields(b)? {
        match (f, v) {
            (1, Wire::Bytes(k)) => key = text(k),
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

fn insert_entry(target: &mut Value, b: &[u8], as_base64: bool) -> Result<(), String> {
    let (k, v) = map_entry(b)?;
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    target[k] = json!(if as_base64 { base64_encode(v) } else { text(v) });
    Ok(())
}

/// `metav1.Time`: seconds = 1, nanos = 2. The zero time means unset.
fn time(b: &[u8]) -> Result<Option<String>, String> {
    let mut seconds = 0;
    for (f, v) in fields(b)? {
        if let (1, Wire::Varint(s)) = (f, v) {
            seconds = s;
        }
    }
    Ok((seconds > 0).then(|| rfc3339(seconds)))
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut meta = json!({});
    let names = [
        "",
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
    ];
    for (f, v) in fields(b)? {
        match (f, v) {
            (1..=6, Wire::Bytes(s)) if !s.is_empty() => meta[names[f as usize]] = json!(text(s)),
            (7, Wire::Varint(g)) if g > 0 => meta["generation"] = json!(g),
            (8, Wire::Bytes(t)) => {
                if let Some(t) = time(t)? {
                    meta["creationTimestamp"] = json!(t);
                }
            }
            (11, Wire::Bytes(e)) => insert_entry(&mut meta["labels"], e, false)?,
            (12, Wire::Bytes(e)) => insert_entry(&mut meta["annotations"], e, false)?,
            (13, Wire::Bytes(r)) => {
                let mut owner = json!({});
                for (f, v) in fields(r)? {
                    match (f, v) {
                        (1, Wire::Bytes(s)) => owner["kind"] = json!(text(s)),
                        (3, Wire::Bytes(s)) => owner["name"] = json!(text(s)),
                        (4, Wire::Bytes(s)) => owner["uid"] = json!(text(s)),
                        (5, Wire::Bytes(s)) => owner["apiVersion"] = json!(text(s)),
                        (6, Wire::Varint(b)) => owner["controller"] = json!(b != 0),
                        (7, Wire::Varint(b)) => owner["blockOwnerDeletion"] = json!(b != 0),
                        _ => {}
                    }
                }
                push(&mut meta["ownerReferences"], owner);
            }
            (14, Wire::Bytes(s)) => push(&mut meta["finalizers"], json!(text(s))),
            _ => {}
        }
    }
    Ok(meta)
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().expect("just made a list").push(item);
}

/// Secret: metadata = 1, data = 2, type = 3, stringData = 4, immutable = 5.
fn secret(b: &[u8]) -> Result<Value, String> {
    let mut obj = json!({});
    for (f, v) in fields(b)? {
        match (f, v) {
            (1, Wire::Bytes(m)) => obj["metadata"] = object_meta(m)?,
            (2, Wire::Bytes(e)) => insert_entry(&mut obj["data"], e, true)?,
            (3, Wire::Bytes(s)) if !s.is_empty() => obj["type"] = json!(text(s)),
            (4, Wire::Bytes(e)) => insert_entry(&mut obj["stringData"], e, false)?,
            (5, Wire::Varint(i)) => obj["immutable"] = json!(i != 0),
            _ => {}
        }
    }
    Ok(obj)
}

/// ConfigMap: metadata = 1, data = 2, binaryData = 3, immutable = 4.
fn config_map(b: &[u8]) -> Result<Value, String> {
    let mut obj = json!({});
    for (f, v) in fields(b)? {
        match (f, v) {
            (1, Wire::Bytes(m)) => obj["metadata"] = object_meta(m)?,
            (2, Wire::Bytes(e)) => insert_entry(&mut obj["data"], e, false)?,
            (3, Wire::Bytes(e)) => insert_entry(&mut obj["binaryData"], e, true)?,
            (4, Wire::Varint(i)) => obj["immutable"] = json!(i != 0),
            _ => {}
        }
    }
    Ok(obj)
}

/// DeleteOptions: gracePeriodSeconds = 1, preconditions = 2 (uid = 1,
/// resourceVersion = 2), orphanDependents = 3, propagationPolicy = 4,
/// dryRun = 5.
fn delete_options(b: &[u8]) -> Result<Value, String> {
    let mut obj = json!({});
    for (f, v) in fields(b)? {
        match (f, v) {
            (1, Wire::Varint(s)) => obj["gracePeriodSeconds"] = json!(s),
            (2, Wire::Bytes(p)) => {
                for (f, v) in fields(p)? {
                    match (f, v) {
                        (1, Wire::Bytes(s)) => obj["preconditions"]["uid"] = json!(text(s)),
                        (2, Wire::Bytes(s)) => {
                            obj["preconditions"]["resourceVersion"] = json!(text(s))
                        }
                        _ => {}
                    }
                }
            }
            (3, Wire::Varint(o)) => obj["orphanDependents"] = json!(o != 0),
            (4, Wire::Bytes(s)) => obj["propagationPolicy"] = json!(text(s)),
            (5, Wire::Bytes(s)) => push(&mut obj["dryRun"], json!(text(s))),
            _ => {}
        }
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_secret_envelope() {
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let labels = [field(1, b"owner"), field(2, b"helm")].concat();
        let meta = [
            field(1, b"sh.helm.release.v1.op.v1"),
            field(3, b""),
            field(11, &labels),
        ]
        .concat();
        let data = [field(1, b"release"), field(2, b"hi")].concat();
        let secret = [
            field(1, &meta),
            field(2, &data),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &secret)].concat();
        let obj = decode(&body).unwrap();
        assert_eq!(obj["kind"], "Secret");
        assert_eq!(obj["metadata"]["name"], "sh.helm.release.v1.op.v1");
        assert_eq!(obj["metadata"].get("namespace"), None);
        assert_eq!(obj["metadata"]["labels"]["owner"], "helm");
        assert_eq!(obj["data"]["release"], "aGk=");
        assert_eq!(obj["type"], "helm.sh/release.v1");
        assert!(decode(b"{}").is_err());
    }
}
