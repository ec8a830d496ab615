//! The request log and fault injection: what tests read back and how they
//! make one chosen request fail.

use super::http::{Reply, glob_match};

/// One request as the emulator saw it, with the status it answered.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    /// Who the bearer token belongs to (`None`: no or unknown token).
    pub principal: Option<String>,
    pub status: u16,
    /// Whether this request was failed on purpose by [`Fault`].
    pub injected: bool,
}

impl LoggedRequest {
    /// Whether the request asks for a change. Google's APIs use POST for a
    /// few reads (`:getIamPolicy`, compute's `operations/X/wait`) and token
    /// exchanges, which do not count.
    pub fn is_mutation(&self) -> bool {
        let reads_by_post = self.path.ends_with(":getIamPolicy")
            || self.path.ends_with(":testIamPermissions")
            || self.path.ends_with("/wait")
            || self.path.starts_with("/oauth2/")
            || self.path == "/revoke"
            || self.path.ends_with(":batchGet");
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !reads_by_post
    }

    /// `METHOD /path`, handy in assertion messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A planned failure: the next `times` requests matching method and path
/// pattern get `status` with Google's error body instead of an answer.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: String,
    pub path_pattern: String,
    pub status: u16,
    pub times: u32,
    /// Matching requests to let through before failing.
    pub skip: u32,
}

impl Fault {
    fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && glob_match(&self.path_pattern, path)
    }
}

#[derive(Default)]
pub struct Faults {
    planned: Vec<Fault>,
}

impl Faults {
    pub fn plan(&mut self, fault: Fault) {
        self.planned.push(fault);
    }

    /// The injected reply for this request, if a fault is due; spends it.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Reply> {
        let at = self.planned.iter().position(|f| f.matches(method, path))?;
        let fault = &mut self.planned[at];
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        let reply = Reply::error(
            fault.status,
            &format!("Injected fault for {method} {path} (emulator test)."),
        );
        fault.times -= 1;
        if fault.times == 0 {
            self.planned.remove(at);
        }
        Some(reply)
    }

    /// Faults planned but not yet hit (a test can assert its fault fired).
    pub fn pending(&self) -> Vec<Fault> {
        self.planned.clone()
    }
}
