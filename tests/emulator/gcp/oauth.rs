//! The OAuth endpoints gcloud's credentials talk to: the token endpoint
//! (a service account's signed assertion, or a human account's refresh
//! token) and the revoke endpoint (reached through the proxy, see
//! `proxy.py`).

use serde_json::{Value, json};

use super::crypto;
use super::http::{Reply, Req};
use super::state::State;

/// Refresh tokens of this form log a person in (see [`token`]).
pub const LOGIN_PREFIX: &str = "kas-emulator-login:";

pub fn token(s: &mut State, req: &Req) -> Reply {
    match req.form_field("grant_type").as_deref() {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let assertion = req.form_field("assertion").unwrap_or_default();
            match service_account_of(s, &assertion) {
                Ok(email) => issue(s, &email),
                Err(why) => oauth_error("invalid_grant", &why),
            }
        }
        Some("refresh_token") => {
            let refresh = req.form_field("refresh_token").unwrap_or_default();
            // `kas-emulator-login:EMAIL` is the emulator's stand-in for a
            // browser login: `gcloud auth activate-refresh-token EMAIL
            // kas-emulator-login:EMAIL` logs that person in, any time.
            if let Some(email) = refresh
                .strip_prefix(LOGIN_PREFIX)
                .filter(|e| e.contains('@'))
            {
                let email = email.to_string();
                s.revoked.remove(&refresh);
                s.refresh_tokens.insert(refresh, email.clone());
                return issue(s, &email);
            }
            match s.refresh_tokens.get(&refresh).cloned() {
                Some(email) if !s.revoked.contains(&refresh) => issue(s, &email),
                _ => oauth_error("invalid_grant", "Token has been expired or revoked."),
            }
        }
        other => oauth_error(
            "unsupported_grant_type",
            &format!("Unsupported grant type: {}", other.unwrap_or("(none)")),
        ),
    }
}

/// `POST /revoke?token=T`: forgets a refresh token (and the access tokens
/// of its account) or a single access token.
pub fn revoke(s: &mut State, req: &Req) -> Reply {
    let token = req
        .param("token")
        .map(str::to_string)
        .or_else(|| req.form_field("token"))
        .unwrap_or_default();
    if let Some(email) = s.refresh_tokens.get(&token).cloned() {
        s.revoked.insert(token);
        s.tokens.retain(|_, who| *who != email);
        return Reply::ok(json!({}));
    }
    if s.tokens.remove(&token).is_some() {
        return Reply::ok(json!({}));
    }
    oauth_error("invalid_token", "Token expired or revoked")
}

fn issue(s: &mut State, email: &str) -> Reply {
    let token = format!("ya29.kas-emulator-{}", s.next_id());
    s.tokens.insert(token.clone(), email.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Reply::ok(json!({
        "access_token": token,
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/cloud-platform openid https://www.googleapis.com/auth/userinfo.email",
        "id_token": crypto::id_token(email, "32555940559.apps.googleusercontent.com", now),
    }))
}

/// Checks a signed JWT assertion against the key it names and returns the
/// account it speaks for.
fn service_account_of(s: &State, assertion: &str) -> Result<String, String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("Invalid JWT: expected three parts.".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = crypto::unb64(part).ok_or("Invalid JWT: bad base64.")?;
        serde_json::from_slice(&bytes).map_err(|e| format!("Invalid JWT: {e}"))
    };
    let (header, claims) = (decode(header)?, decode(claims)?);
    let email = claims["iss"].as_str().unwrap_or_default();
    let kid = header["kid"].as_str().unwrap_or_default();
    let key = s
        .keys
        .get(kid)
        .filter(|k| k.account == email)
        .ok_or("Invalid JWT Signature.")?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = crypto::unb64(signature).ok_or("Invalid JWT Signature.")?;
    if !crypto::rs256_verifies(&key.public_pem, signed.as_bytes(), &signature) {
        return Err("Invalid JWT Signature.".into());
    }
    Ok(email.to_string())
}

fn oauth_error(error: &str, description: &str) -> Reply {
    Reply::json(
        400,
        &json!({"error": error, "error_description": description}),
    )
}
