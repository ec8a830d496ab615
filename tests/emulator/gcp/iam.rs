//! IAM (`iam.googleapis.com/v1`): service accounts and their keys. A key is
//! a real RSA key whose credentials file sends gcloud to this emulator's
//! token endpoint, so `gcloud auth activate-service-account` works offline.

use serde_json::{Value, json};

use super::crypto;
use super::http::{Reply, Req};
use super::state::{KeyRecord, State, now_rfc3339};

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let seg = req.segments_after("/iam/v1").unwrap_or_default();
    let ["projects", project, "serviceAccounts", rest @ ..] = seg.as_slice() else {
        return Reply::not_found("Unknown IAM path.");
    };
    if *project != "-"
        && let Err(denied) = super::check_project(s, project)
    {
        return denied;
    }
    match (req.method.as_str(), rest) {
        ("GET", []) => list(s),
        ("POST", []) => create(s, req),
        ("POST", [target]) if target.ends_with(":getIamPolicy") => {
            match account(s, target.trim_end_matches(":getIamPolicy")) {
                Ok(_) => Reply::ok(json!({"etag": "ACAB"})),
                Err(e) => e,
            }
        }
        ("GET", [id]) => account(s, id).map(Reply::ok).unwrap_or_else(|e| e),
        ("DELETE", [id]) => delete(s, id),
        ("GET", [id, "keys"]) => list_keys(s, id, req),
        ("POST", [id, "keys"]) => create_key(s, id, req),
        ("GET", [id, "keys", key]) => match s.keys.get(*key) {
            Some(k) if account(s, id).is_ok_and(|a| a["email"] == k.account.as_str()) => {
                Reply::ok(k.meta.clone())
            }
            _ => Reply::not_found(&format!("Key {key} not found.")),
        },
        ("DELETE", [id, "keys", key]) => match s.keys.get(*key) {
            Some(k) if account(s, id).is_ok_and(|a| a["email"] == k.account.as_str()) => {
                s.keys.remove(*key);
                Reply::ok(json!({}))
            }
            _ => Reply::not_found(&format!("Key {key} not found.")),
        },
        _ => Reply::not_found("Unknown IAM method."),
    }
}

/// A service account by email or unique id.
fn account(s: &State, id: &str) -> Result<Value, Reply> {
    s.service_accounts
        .values()
        .find(|a| a["email"] == id || a["uniqueId"] == id)
        .cloned()
        .ok_or_else(|| {
            Reply::not_found(&format!(
                "Unknown service account: projects/{}/serviceAccounts/{id}",
                s.project
            ))
        })
}

fn list(s: &State) -> Reply {
    if s.service_accounts.is_empty() {
        return Reply::ok(json!({}));
    }
    Reply::ok(json!({"accounts": s.service_accounts.values().collect::<Vec<_>>()}))
}

fn create(s: &mut State, req: &Req) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let id = body["accountId"].as_str().unwrap_or_default();
    let valid = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Reply::invalid(&format!(
            "Invalid account ID '{id}': it must be 6-30 lowercase letters, digits or \
             hyphens, starting with a letter."
        ));
    }
    let email = format!("{id}@{}.iam.gserviceaccount.com", s.project);
    if s.service_accounts.contains_key(&email) {
        return Reply::already_exists(&format!(
            "Service account {id} already exists within project projects/{}.",
            s.project
        ));
    }
    let display = body["serviceAccount"]["displayName"].as_str().unwrap_or("");
    let description = body["serviceAccount"]["description"].as_str();
    let account = new_account(s, &email, display, description);
    Reply::ok(account)
}

/// Makes and stores a service account (also used by seeding helpers).
pub fn new_account(s: &mut State, email: &str, display: &str, description: Option<&str>) -> Value {
    let unique_id = format!("1{:020}", 10_000_000 + s.next_id());
    let mut account = json!({
        "name": format!("projects/{}/serviceAccounts/{email}", s.project),
        "projectId": s.project,
        "uniqueId": unique_id,
        "email": email,
        "etag": "MDEwMjE5MjA=",
        "oauth2ClientId": unique_id,
    });
    if !display.is_empty() {
        account["displayName"] = json!(display);
    }
    if let Some(d) = description {
        account["description"] = json!(d);
    }
    s.service_accounts
        .insert(email.to_string(), account.clone());
    account
}

fn delete(s: &mut State, id: &str) -> Reply {
    let account = match account(s, id) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let email = account["email"].as_str().unwrap_or_default().to_string();
    let uid = account["uniqueId"].as_str().unwrap_or_default().to_string();
    s.service_accounts.remove(&email);
    s.keys.retain(|_, k| k.account != email);
    s.tokens.retain(|_, who| *who != email);
    // Google keeps the bindings of a deleted account, renamed, until someone
    // removes them: a reason to unbind before deleting.
    let member = format!("serviceAccount:{email}");
    let renamed = json!(format!("deleted:serviceAccount:{email}?uid={uid}"));
    let mut policy = s.policy.clone();
    let mut touched = false;
    for b in policy["bindings"].as_array_mut().into_iter().flatten() {
        for m in b["members"].as_array_mut().into_iter().flatten() {
            if *m == member {
                *m = renamed.clone();
                touched = true;
            }
        }
    }
    if touched {
        s.replace_policy(policy);
    }
    Reply::ok(json!({}))
}

fn list_keys(s: &State, id: &str, req: &Req) -> Reply {
    let account = match account(s, id) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let wants_system_only = req.param("keyTypes") == Some("SYSTEM_MANAGED");
    let keys: Vec<Value> = s
        .keys
        .values()
        .filter(|k| account["email"] == k.account.as_str() && !wants_system_only)
        .map(|k| k.meta.clone())
        .collect();
    if keys.is_empty() {
        return Reply::ok(json!({}));
    }
    Reply::ok(json!({"keys": keys}))
}

fn create_key(s: &mut State, id: &str, req: &Req) -> Reply {
    let account = match account(s, id) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let email = account["email"].as_str().unwrap_or_default().to_string();
    // Google allows 10 user-managed keys per account.
    if s.keys.values().filter(|k| k.account == email).count() >= 10 {
        return Reply::failed_precondition("Precondition check failed.");
    }
    let (private_pem, public_pem) = match crypto::rsa_key_pair() {
        Ok(pair) => pair,
        Err(e) => return Reply::error(500, &e),
    };
    let key_id = format!("{:040x}", 0xa11ce_u128 << 64 | s.next_id() as u128);
    let credentials = json!({
        "type": "service_account",
        "project_id": s.project,
        "private_key_id": key_id,
        "private_key": private_pem,
        "client_email": email,
        "client_id": account["uniqueId"],
        "auth_uri": format!("{}/o/oauth2/auth", req.base),
        "token_uri": format!("{}/oauth2/token", req.base),
        "auth_provider_x509_cert_url": format!("{}/oauth2/v1/certs", req.base),
        "client_x509_cert_url": format!("{}/robot/v1/metadata/x509/{email}", req.base),
        "universe_domain": "googleapis.com",
    });
    let meta = json!({
        "name": format!("projects/{}/serviceAccounts/{email}/keys/{key_id}", s.project),
        "validAfterTime": now_rfc3339(),
        "validBeforeTime": "9999-12-31T23:59:59Z",
        "keyAlgorithm": "KEY_ALG_RSA_2048",
        "keyOrigin": "GOOGLE_PROVIDED",
        "keyType": "USER_MANAGED",
    });
    s.keys.insert(
        key_id.clone(),
        KeyRecord {
            account: email,
            id: key_id,
            public_pem,
            meta: meta.clone(),
        },
    );
    let mut answer = meta;
    answer["privateKeyType"] = json!("TYPE_GOOGLE_CREDENTIALS_FILE");
    answer["privateKeyData"] = json!(crypto::b64(credentials.to_string().as_bytes()));
    Reply::ok(answer)
}
