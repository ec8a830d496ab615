//! Everything the emulator remembers, in memory, behind one mutex.
//!
//! Resources are kept as the JSON Google's APIs return (`serde_json::Value`),
//! so what a test asserts is exactly what gcloud was told.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// What completing an operation does to the state.
pub type OnDone = Box<dyn FnOnce(&mut State) + Send>;

/// A long-running operation that reports done after some polls.
pub struct PendingOp {
    /// Polls still to answer "running".
    pub polls_left: u32,
    /// The operation as its API shows it while running.
    pub running: Value,
    /// Applied when the operation completes (e.g. a cluster turns RUNNING).
    pub on_done: Option<OnDone>,
    /// What a done Service Usage / Artifact Registry operation carries.
    pub response: Option<Value>,
}

/// One package of an Artifact Registry repository: a Docker image (versions
/// are `sha256:...` digests) or a Python package (versions like `1.2.3`).
#[derive(Clone, Debug, Default)]
pub struct Package {
    /// Version id -> creation time (RFC 3339).
    pub versions: BTreeMap<String, String>,
    /// Tag -> version id.
    pub tags: BTreeMap<String, String>,
}

/// A service-account key the emulator made (its private half went to the
/// client once, as Google does; the public half checks signed assertions).
#[derive(Clone, Debug)]
pub struct KeyRecord {
    pub account: String,
    pub id: String,
    pub public_pem: String,
    pub meta: Value,
}

pub struct State {
    pub project: String,
    pub project_number: u64,
    pub services: BTreeSet<String>,
    pub policy: Value,
    etag_counter: u64,
    /// email -> ServiceAccount.
    pub service_accounts: BTreeMap<String, Value>,
    /// key id -> key.
    pub keys: BTreeMap<String, KeyRecord>,
    /// Access token -> principal (email).
    pub tokens: BTreeMap<String, String>,
    /// Refresh token -> human account email.
    pub refresh_tokens: BTreeMap<String, String>,
    /// Tokens revoked through the revoke endpoint.
    pub revoked: BTreeSet<String>,
    /// Repository full name -> Repository.
    pub repositories: BTreeMap<String, Value>,
    /// Repository full name -> package name -> package.
    pub packages: BTreeMap<String, BTreeMap<String, Package>>,
    /// Cluster full name (`projects/P/locations/Z/clusters/N`) -> Cluster.
    pub clusters: BTreeMap<String, Value>,
    /// Firewall name -> Firewall.
    pub firewalls: BTreeMap<String, Value>,
    /// `REGION/NAME` -> Router (its NATs inside).
    pub routers: BTreeMap<String, Value>,
    /// Compute's project-wide metadata (`commonInstanceMetadata`).
    pub project_metadata: Value,
    pub ops: BTreeMap<String, PendingOp>,
    /// How many polls an operation answers "running" before "done".
    pub operation_polls: u32,
    /// Refuse Compute, GKE and Artifact Registry calls (403
    /// `SERVICE_DISABLED`) until their API is enabled, as Google does.
    pub require_enabled_services: bool,
    /// Check writes against the IAM policy (see `authz.rs`).
    pub enforce_iam: bool,
    /// Endpoint and CA certificate (PEM) given to clusters, so a cluster
    /// can lead to a Kubernetes emulator.
    pub kube_endpoint: (String, String),
    /// A binding (role, member) that another writer adds right after the
    /// next policy read: the read's etag is then stale, as in a race.
    pub concurrent_grant: Option<(String, String)>,
    /// Right after the next cluster update, another writer that read the
    /// authorized networks before it writes them back with this CIDR added
    /// (see `container.rs`).
    pub stale_network_write: Option<String>,
    counter: u64,
}

impl State {
    pub fn new(project: &str) -> State {
        State {
            project: project.to_string(),
            project_number: 123456789012,
            services: BTreeSet::new(),
            policy: json!({"version": 1, "bindings": []}),
            etag_counter: 1,
            service_accounts: BTreeMap::new(),
            keys: BTreeMap::new(),
            tokens: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
            revoked: BTreeSet::new(),
            repositories: BTreeMap::new(),
            packages: BTreeMap::new(),
            clusters: BTreeMap::new(),
            firewalls: BTreeMap::new(),
            routers: BTreeMap::new(),
            project_metadata: super::compute_project::initial_metadata(),
            ops: BTreeMap::new(),
            operation_polls: 1,
            require_enabled_services: false,
            enforce_iam: false,
            kube_endpoint: (
                "203.0.113.100".to_string(),
                "-----BEGIN CERTIFICATE-----\nZW11bGF0b3I=\n-----END CERTIFICATE-----\n"
                    .to_string(),
            ),
            concurrent_grant: None,
            stale_network_write: None,
            counter: 0,
        }
    }

    /// A fresh number, unique within this emulator.
    pub fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// The policy as the API returns it, etag included.
    pub fn policy_with_etag(&self) -> Value {
        let mut p = self.policy.clone();
        p["etag"] = json!(self.etag());
        p
    }

    pub fn etag(&self) -> String {
        // Google's etags are base64 of opaque bytes, and gcloud decodes and
        // re-encodes them: only canonical base64 survives the round trip.
        let mut bytes = [0u8; 9];
        bytes[..3].copy_from_slice(&[0x07, 0x06, 0x00]);
        bytes[3..].copy_from_slice(&self.etag_counter.to_be_bytes()[2..]);
        super::crypto::b64(&bytes)
    }

    pub fn replace_policy(&mut self, mut policy: Value) {
        if let Some(o) = policy.as_object_mut() {
            o.remove("etag");
            o.entry("version").or_insert(json!(1));
            let bindings = o.entry("bindings").or_insert(json!([]));
            // An empty binding does not survive a write, as on Google.
            if let Some(list) = bindings.as_array_mut() {
                list.retain(|b| b["members"].as_array().is_some_and(|m| !m.is_empty()));
            }
        }
        self.policy = policy;
        self.etag_counter += 1;
    }

    /// Members bound to `role`.
    pub fn members_of(&self, role: &str) -> Vec<String> {
        self.policy["bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["role"] == role)
            .flat_map(|b| b["members"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect()
    }

    /// Roles bound to `member` (e.g. `serviceAccount:a@p.iam.gserviceaccount.com`).
    pub fn roles_of(&self, member: &str) -> Vec<String> {
        self.policy["bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| {
                b["members"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|x| x == member))
            })
            .filter_map(|b| b["role"].as_str().map(str::to_string))
            .collect()
    }

    /// Adds `member` to `role` (no etag check: a test's seeding helper).
    pub fn bind(&mut self, role: &str, member: &str) {
        let mut policy = self.policy.clone();
        let bindings = policy["bindings"].as_array_mut().expect("bindings");
        match bindings.iter_mut().find(|b| b["role"] == role) {
            Some(b) => {
                let members = b["members"].as_array_mut().expect("members");
                if !members.iter().any(|m| m == member) {
                    members.push(json!(member));
                }
            }
            None => bindings.push(json!({"role": role, "members": [member]})),
        }
        self.replace_policy(policy);
    }

    /// Registers a pending operation under `name`.
    pub fn start_op(
        &mut self,
        name: &str,
        running: Value,
        response: Option<Value>,
        on_done: Option<OnDone>,
    ) {
        let op = PendingOp {
            polls_left: self.operation_polls,
            running,
            on_done,
            response,
        };
        self.ops.insert(name.to_string(), op);
    }

    /// One poll of an operation: `Some(true)` once it is done (its effect
    /// applied), `Some(false)` while running, `None` if unknown.
    pub fn poll_op(&mut self, name: &str) -> Option<(bool, Value, Option<Value>)> {
        let op = self.ops.get_mut(name)?;
        if op.polls_left > 0 {
            op.polls_left -= 1;
        }
        let done = op.polls_left == 0;
        let hook = if done { op.on_done.take() } else { None };
        let (running, response) = (op.running.clone(), op.response.clone());
        if let Some(hook) = hook {
            hook(self);
        }
        Some((done, running, response))
    }
}

/// The current time as RFC 3339, as Google's APIs print it.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn empty_bindings_vanish_and_etag_moves() {
        let mut s = State::new("p");
        let before = s.etag();
        s.bind("roles/viewer", "user:a@example.com");
        assert_ne!(s.etag(), before);
        assert_eq!(s.roles_of("user:a@example.com"), ["roles/viewer"]);
        s.replace_policy(json!({"bindings": [{"role": "roles/viewer", "members": []}]}));
        assert!(s.policy["bindings"].as_array().unwrap().is_empty());
    }
}
