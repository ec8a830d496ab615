//! The request log and injected failures.

use super::store::ApiError;
use crate::http::glob_match;

/// One request as the emulator saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (still percent-encoded), "" when none.
    pub query: String,
    pub content_type: String,
    pub status: u16,
    /// Whether the answer was an injected fault.
    pub injected: bool,
}

impl RequestRecord {
    /// Whether the request asks for a change. Upgrades (exec,
    /// port-forward) and events, which the emulator drops, do not count.
    pub fn is_mutation(&self) -> bool {
        let upgrade = ["/exec", "/portforward", "/attach"]
            .iter()
            .any(|s| self.path.ends_with(s));
        let event = self.path.ends_with("/events");
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !upgrade && !event
    }

    /// `METHOD /path`, handy in assertion messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl std::fmt::Display for RequestRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        if !self.content_type.is_empty() {
            write!(f, " [{}]", self.content_type)?;
        }
        write!(f, " -> {}", self.status)?;
        if self.injected {
            write!(f, " (injected)")?;
        }
        Ok(())
    }
}

/// Fails the next `times` requests whose method and path match.
#[derive(Clone, Debug)]
pub struct Fault {
    /// An HTTP method, or `*` for any.
    pub method: String,
    /// A path pattern where `*` matches any run of characters.
    pub path: String,
    pub code: u16,
    pub times: u32,
}

impl Fault {
    pub fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && glob_match(&self.path, path)
    }

    pub fn error(&self) -> ApiError {
        let reason = match self.code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        // No Retry-After header goes with it, so client-go does not retry.
        ApiError::new(
            self.code,
            reason,
            format!(
                "injected fault: {} {} fails with {}",
                self.method, self.path, self.code
            ),
        )
    }
}
