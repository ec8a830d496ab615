//! The small HTTP/JSON layer every emulated Google API shares: a request as
//! plain data, a reply, and Google's error body.

use serde_json::{Value, json};

// Decoding and globs are the shared server's (one implementation for both
// emulators); named here too, where the Google APIs look for them.
pub use crate::http::{glob_match, parse_query, percent_decode};

/// One request, read off the wire, with its path and query decoded.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Decoded path without the query, e.g. `/iam/v1/projects/p/serviceAccounts`.
    pub path: String,
    /// Raw query string (without `?`), as sent.
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub body: String,
    /// The account the bearer token was issued to, if the token is known.
    pub principal: Option<String>,
    /// `Authorization: Bearer ...`, kept out of the log.
    pub bearer: Option<String>,
    /// Scheme and authority clients are told to use for links, e.g.
    /// `http://127.0.0.1:4711`.
    pub base: String,
}

impl Req {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; an empty body is `{}`.
    pub fn json(&self) -> Result<Value, Reply> {
        if self.body.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&self.body)
            .map_err(|e| Reply::error(400, &format!("Invalid JSON payload received. {e}")))
    }

    /// `application/x-www-form-urlencoded` body fields.
    pub fn form(&self) -> Vec<(String, String)> {
        parse_query(&self.body)
    }

    pub fn form_field(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Path segments after the given prefix (`/iam/v1`), split on `/`.
    pub fn segments_after<'a>(&'a self, prefix: &str) -> Option<Vec<&'a str>> {
        let rest = self.path.strip_prefix(prefix)?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        Some(rest.split('/').filter(|s| !s.is_empty()).collect())
    }
}

/// What the emulator answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            body: value.to_string(),
            content_type: "application/json; charset=UTF-8",
        }
    }

    pub fn ok(value: Value) -> Reply {
        Reply::json(200, &value)
    }

    /// Google's error body. Compute's `errors[].reason` is filled in too,
    /// since gcloud compute prints from it.
    pub fn error(code: u16, message: &str) -> Reply {
        let status = status_name(code);
        Reply::json(
            code,
            &json!({"error": {
                "code": code,
                "message": message,
                "status": status,
                "errors": [{"message": message, "domain": "global", "reason": reason(code)}],
            }}),
        )
    }

    pub fn not_found(message: &str) -> Reply {
        Reply::error(404, message)
    }

    pub fn already_exists(message: &str) -> Reply {
        Reply::error(409, message)
    }

    pub fn invalid(message: &str) -> Reply {
        Reply::error(400, message)
    }

    pub fn denied(message: &str) -> Reply {
        Reply::error(403, message)
    }

    /// Google sends FAILED_PRECONDITION with HTTP 400.
    pub fn failed_precondition(message: &str) -> Reply {
        let mut reply = Reply::error(400, message);
        reply.body =
            json!({"error": {"code": 400, "message": message, "status": "FAILED_PRECONDITION"}})
                .to_string();
        reply
    }

    /// A 409 that means "your etag is stale", as Resource Manager sends it.
    pub fn aborted(message: &str) -> Reply {
        let mut reply = Reply::error(409, message);
        reply.body =
            json!({"error": {"code": 409, "message": message, "status": "ABORTED"}}).to_string();
        reply
    }
}

/// The canonical status name Google pairs with an HTTP code.
pub fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "invalid",
        401 => "required",
        403 => "forbidden",
        404 => "notFound",
        409 => "alreadyExists",
        429 => "rateLimitExceeded",
        _ => "backendError",
    }
}
