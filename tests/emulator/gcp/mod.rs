//! A GCP API emulator for tests: the real `gcloud` talks to it through a
//! throwaway `CLOUDSDK_CONFIG` whose endpoint overrides point at
//! 127.0.0.1. It keeps state in memory, answers with Google's JSON shapes
//! and error bodies, logs every request, and can fail a chosen request.
//!
//! ```ignore
//! let emu = GcpEmulator::start()?;
//! let out = Command::new("gcloud").args(["iam", "service-accounts", "list"])
//!     .envs(emu.gcloud_env()).output()?;
//! assert!(emu.mutating_requests().is_empty());
//! ```
//!
//! One file per Google API; `http` is the shared request/reply layer,
//! `log` the request log and fault injection, `setup` the gcloud home,
//! and the crate's TLS relay is the proxy that serves Google's fixed URLs
//! (gcloud's revoke, Ray's Google client); `hosts` says what their paths
//! are routed as.

pub mod artifactregistry;
pub mod authz;
pub mod compute;
pub mod compute_project;
pub mod container;
pub mod crypto;
pub mod hosts;
pub mod http;
pub mod iam;
pub mod log;
pub mod oauth;
pub mod resourcemanager;
pub mod serviceusage;
pub mod setup;
pub mod state;

use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use crate::relay::{self, Relay};
use http::{Reply, Req, percent_decode};
pub use log::{Fault, LoggedRequest};
pub use state::State;

pub const PROJECT: &str = "test-project";
pub const REGION: &str = "europe-west4";
pub const ZONE: &str = "europe-west4-a";
pub const CONFIGURATION: &str = "kas";
/// The human account `start()` logs in, bound to `roles/owner`.
pub const HUMAN: &str = "tester@example.com";

struct Shared {
    state: Mutex<State>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<log::Faults>,
    base: String,
}

/// A running emulator with its own gcloud home; stops when dropped.
pub struct GcpEmulator {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
    port: u16,
    // Declared before `home`, so they stop before their folder goes.
    proxy: Relay,
    fronts: Mutex<Vec<Relay>>,
    home: tempfile::TempDir,
}

impl GcpEmulator {
    /// Starts on a free port with [`HUMAN`] logged in and active.
    pub fn start() -> Result<GcpEmulator> {
        let emu = GcpEmulator::start_on(0, Some(HUMAN))?;
        emu.state().bind("roles/owner", &format!("user:{HUMAN}"));
        Ok(emu)
    }

    /// Starts with no account logged in at all.
    pub fn start_logged_out() -> Result<GcpEmulator> {
        GcpEmulator::start_on(0, None)
    }

    /// Starts on `port` (0: a free one), optionally logging in a human.
    pub fn start_on(port: u16, human: Option<&str>) -> Result<GcpEmulator> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(PROJECT)),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(log::Faults::default()),
            base: base.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                let stopped = move || stop.load(Ordering::SeqCst);
                let connection = Arc::new(move |conn| connection(&shared, conn));
                crate::http::serve(listener, stopped, connection)
            })
        };
        let home = tempfile::Builder::new().prefix("kas-gcp-emu").tempdir()?;
        std::fs::create_dir_all(home.path().join("gcloud"))?;
        relay::prepare(
            home.path(),
            "oauth2.googleapis.com",
            &[
                "DNS:oauth2.googleapis.com",
                "DNS:*.googleapis.com",
                "DNS:accounts.google.com",
                "DNS:localhost",
                "IP:127.0.0.1",
            ],
        )?;
        let proxy = relay::start(home.path(), relay::Mode::Proxy, port)?;
        let emu = GcpEmulator {
            shared,
            stop,
            server: Some(server),
            port,
            proxy,
            fronts: Mutex::new(Vec::new()),
            home,
        };
        setup::write_config(
            &emu.config_dir(),
            &setup::Settings {
                configuration: CONFIGURATION,
                project: PROJECT,
                region: REGION,
                zone: ZONE,
                account: human,
                base: &base,
                proxy_port: emu.proxy.port,
                ca_file: &emu.ca_file(),
            },
        )?;
        if let Some(email) = human {
            emu.add_human_account(email)?;
        }
        Ok(emu)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The throwaway gcloud home (`CLOUDSDK_CONFIG`).
    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join("gcloud")
    }

    /// The test CA's certificate that gcloud trusts for Google's own hosts.
    pub fn ca_file(&self) -> PathBuf {
        self.home.path().join("ca.pem")
    }

    /// Where `get-credentials` writes (`KUBECONFIG` in [`Self::gcloud_env`]).
    pub fn kubeconfig(&self) -> PathBuf {
        self.home.path().join("kubeconfig")
    }

    /// The variables a gcloud child needs: the gcloud home, and the
    /// emulator's endpoints, proxy, token host and CA as `CLOUDSDK_*`
    /// properties too, so that they hold in every configuration (a tool may
    /// switch to a fresh `default` one) and beat values inherited from the
    /// machine. Project, region and zone stay in the configuration only.
    pub fn gcloud_env(&self) -> Vec<(String, String)> {
        let base = self.url();
        let mut env = vec![
            ("CLOUDSDK_CONFIG".to_string(), path_str(&self.config_dir())),
            (
                "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE".into(),
                path_str(&self.ca_file()),
            ),
            ("CLOUDSDK_PROXY_TYPE".into(), "http".into()),
            ("CLOUDSDK_PROXY_ADDRESS".into(), "127.0.0.1".into()),
            ("CLOUDSDK_PROXY_PORT".into(), self.proxy.port.to_string()),
            (
                "CLOUDSDK_AUTH_TOKEN_HOST".into(),
                format!("{base}/oauth2/token"),
            ),
            (
                "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING".into(),
                "true".into(),
            ),
            (
                "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK".into(),
                "true".into(),
            ),
        ];
        for (api, prefix) in setup::OVERRIDES {
            env.push((
                format!(
                    "CLOUDSDK_API_ENDPOINT_OVERRIDES_{}",
                    api.to_ascii_uppercase()
                ),
                format!("{base}/{prefix}"),
            ));
        }
        env.push(("KUBECONFIG".into(), path_str(&self.kubeconfig())));
        env
    }

    /// Gives `cmd` the emulator's environment after removing every
    /// `CLOUDSDK_*` variable inherited from the test's own environment.
    pub fn apply_env(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars() {
            if key.starts_with("CLOUDSDK_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.gcloud_env());
    }

    /// `export ...` lines for a shell's `eval`.
    pub fn shell_exports(&self) -> String {
        self.gcloud_env()
            .iter()
            .map(|(k, v)| format!("export {k}='{}'\n", v.replace('\'', r"'\''")))
            .collect()
    }

    // ---- request log and faults -------------------------------------------

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn mutating_requests(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_mutation())
            .collect()
    }

    /// Requests to Google APIs (token exchanges left out).
    pub fn api_requests(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.starts_with("/oauth2/") && r.path != "/revoke")
            .collect()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// The next request matching `method` (`*` for any) and `path_pattern`
    /// (`*` matches anything, e.g. `*/clusters`) fails with `status` and
    /// Google's error body; later ones are served.
    pub fn fail_once(&self, method: &str, path_pattern: &str, status: u16) {
        self.fail_times(method, path_pattern, status, 1);
    }

    pub fn fail_times(&self, method: &str, path_pattern: &str, status: u16, times: u32) {
        self.fail_after(method, path_pattern, status, 0, times);
    }

    /// Lets `skip` matching requests through, then fails `times` of them:
    /// for a request that a run sends more than once (two creates that
    /// differ only in their query).
    pub fn fail_after(&self, method: &str, path_pattern: &str, status: u16, skip: u32, times: u32) {
        self.shared.faults.lock().unwrap().plan(Fault {
            method: method.to_string(),
            path_pattern: path_pattern.to_string(),
            status,
            times,
            skip,
        });
    }

    /// Faults planned but not hit yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.lock().unwrap().pending()
    }

    // ---- state ------------------------------------------------------------

    /// Direct access, for assertions and seeding not covered below.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// How many polls a long-running operation answers "running" before
    /// "done" (default 1: the first poll sees it done). GKE's gcloud waits
    /// 5 s between polls, so keep this low.
    pub fn set_operation_polls(&self, polls: u32) {
        self.state().operation_polls = polls;
    }

    /// Endpoint and CA certificate (PEM) that clusters report, so that
    /// `get-credentials` leads to a Kubernetes emulator. Applies to existing
    /// clusters too.
    pub fn set_kube_endpoint(&self, endpoint: &str, ca_pem: &str) {
        let mut s = self.state();
        s.kube_endpoint = (endpoint.to_string(), ca_pem.to_string());
        for c in s.clusters.values_mut() {
            c["endpoint"] = json!(endpoint);
            c["privateClusterConfig"]["publicEndpoint"] = json!(endpoint);
            c["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["publicEndpoint"] =
                json!(endpoint);
            c["masterAuth"]["clusterCaCertificate"] = json!(crypto::b64(ca_pem.as_bytes()));
        }
    }

    /// Makes Compute, GKE and Artifact Registry answer 403
    /// `SERVICE_DISABLED` until their API is enabled (off by default).
    pub fn require_enabled_services(&self, on: bool) {
        self.state().require_enabled_services = on;
    }

    /// Puts an HTTPS front (certificate from the test CA, for 127.0.0.1)
    /// before a plain HTTP Kubernetes API on `kube_port` and makes clusters
    /// report it as their endpoint, so `get-credentials` then `kubectl`
    /// (through `gke-gcloud-auth-plugin`, with a token from this emulator)
    /// reach that API. Returns the endpoint (`127.0.0.1:PORT`).
    pub fn front_kube_api(&self, kube_port: u16) -> Result<String> {
        let front = relay::start(self.home.path(), relay::Mode::Front, kube_port)?;
        let endpoint = format!("127.0.0.1:{}", front.port);
        let ca = std::fs::read_to_string(self.ca_file())?;
        self.set_kube_endpoint(&endpoint, &ca);
        self.fronts.lock().unwrap().push(front);
        Ok(endpoint)
    }

    /// Checks writes against the project's policy: the caller needs a role
    /// that grants the change (see `authz.rs`), else 403 PERMISSION_DENIED.
    /// Off by default.
    pub fn enforce_iam(&self, on: bool) {
        self.state().enforce_iam = on;
    }

    pub fn enabled_services(&self) -> Vec<String> {
        self.state().services.iter().cloned().collect()
    }

    pub fn enable_services(&self, services: &[&str]) {
        self.state()
            .services
            .extend(services.iter().map(|s| s.to_string()));
    }

    /// The project's IAM policy, etag included.
    pub fn iam_policy(&self) -> Value {
        self.state().policy_with_etag()
    }

    /// Roles bound to a member such as `serviceAccount:x@...`.
    pub fn roles_of(&self, member: &str) -> Vec<String> {
        let mut roles = self.state().roles_of(member);
        roles.sort();
        roles
    }

    /// Right after the next policy read, another writer grants `role` to
    /// `member`, so a write based on that read has a stale etag.
    pub fn race_next_policy_read(&self, role: &str, member: &str) {
        self.state().concurrent_grant = Some((role.to_string(), member.to_string()));
    }

    /// Right after the next cluster update, another writer that had read
    /// the authorized networks before it replaces them with what it read
    /// plus `cidr`: the update's change is lost, as with two real writers.
    pub fn race_next_cluster_update(&self, cidr: &str) {
        self.state().stale_network_write = Some(cidr.to_string());
    }

    pub fn bind(&self, role: &str, member: &str) {
        self.state().bind(role, member);
    }

    /// Emails of the service accounts.
    pub fn service_accounts(&self) -> Vec<String> {
        self.state().service_accounts.keys().cloned().collect()
    }

    pub fn service_account(&self, email: &str) -> Option<Value> {
        self.state().service_accounts.get(email).cloned()
    }

    /// Adds a service account `name@PROJECT.iam.gserviceaccount.com`;
    /// returns its email.
    pub fn add_service_account(&self, name: &str, display_name: &str) -> String {
        let email = format!("{name}@{PROJECT}.iam.gserviceaccount.com");
        iam::new_account(&mut self.state(), &email, display_name, None);
        email
    }

    /// Key metadata (as `keys list` shows it) of an account.
    pub fn keys_of(&self, email: &str) -> Vec<Value> {
        self.state()
            .keys
            .values()
            .filter(|k| k.account == email)
            .map(|k| k.meta.clone())
            .collect()
    }

    /// Repository by short name in the default location.
    pub fn repository(&self, name: &str) -> Option<Value> {
        self.state().repositories.get(&repo_name(name)).cloned()
    }

    /// Short names of repositories in the default location.
    pub fn repositories(&self) -> Vec<String> {
        let prefix = repo_name("");
        self.state()
            .repositories
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// Adds a repository (`format`: `DOCKER`, `PYTHON`, ...).
    pub fn add_repository(&self, name: &str, format: &str) {
        let full = repo_name(name);
        let now = state::now_rfc3339();
        let mut s = self.state();
        s.repositories.insert(
            full.clone(),
            json!({"name": full, "format": format, "mode": "STANDARD_REPOSITORY",
                   "createTime": now, "updateTime": now, "sizeBytes": "0"}),
        );
        s.packages.entry(full).or_default();
    }

    /// Adds a version (e.g. `sha256:...` or `1.2.3`) of a package with tags;
    /// creates the repository's package as needed (the repository must exist).
    pub fn add_version(&self, repository: &str, package: &str, version: &str, tags: &[&str]) {
        self.add_version_at(repository, package, version, tags, &state::now_rfc3339());
    }

    /// As [`Self::add_version`], with a creation time (RFC 3339).
    pub fn add_version_at(
        &self,
        repository: &str,
        package: &str,
        version: &str,
        tags: &[&str],
        created: &str,
    ) {
        let mut s = self.state();
        let pkg = s
            .packages
            .get_mut(&repo_name(repository))
            .unwrap_or_else(|| panic!("add_version: no repository {repository}"))
            .entry(package.to_string())
            .or_default();
        pkg.versions
            .insert(version.to_string(), created.to_string());
        for tag in tags {
            pkg.tags.insert(tag.to_string(), version.to_string());
        }
    }

    /// Versions of a package, each with its tags.
    pub fn versions(&self, repository: &str, package: &str) -> BTreeMap<String, Vec<String>> {
        let s = self.state();
        let Some(pkg) = s
            .packages
            .get(&repo_name(repository))
            .and_then(|p| p.get(package))
        else {
            return BTreeMap::new();
        };
        pkg.versions
            .keys()
            .map(|v| {
                let tags = pkg
                    .tags
                    .iter()
                    .filter(|(_, tv)| *tv == v)
                    .map(|(t, _)| t.clone())
                    .collect();
                (v.clone(), tags)
            })
            .collect()
    }

    /// A cluster in the default zone.
    pub fn cluster(&self, name: &str) -> Option<Value> {
        self.state().clusters.get(&cluster_name(name)).cloned()
    }

    pub fn clusters(&self) -> Vec<String> {
        self.state()
            .clusters
            .values()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    }

    /// A RUNNING cluster in the default zone with master authorized
    /// networks enabled and these CIDRs; returns its pod range.
    pub fn add_cluster(&self, name: &str, authorized: &[&str]) -> String {
        let full = cluster_name(name);
        let mut s = self.state();
        let n = s.next_id();
        let pod_range = format!("10.{}.0.0/14", (n * 4) % 252);
        let (endpoint, ca) = s.kube_endpoint.clone();
        let blocks: Vec<Value> = authorized.iter().map(|c| json!({"cidrBlock": c})).collect();
        let mut networks = json!({"enabled": true});
        if !blocks.is_empty() {
            networks["cidrBlocks"] = json!(blocks);
        }
        let dns = format!("gke-{n:032x}.{ZONE}.gke.goog");
        s.clusters.insert(
            full.clone(),
            json!({
                "name": name, "location": ZONE, "zone": ZONE, "locations": [ZONE],
                "status": "RUNNING", "network": "default", "subnetwork": "default",
                "clusterIpv4Cidr": pod_range, "endpoint": endpoint,
                "masterAuth": {"clusterCaCertificate": crypto::b64(ca.as_bytes())},
                "masterAuthorizedNetworksConfig": networks,
                "privateClusterConfig": {"enablePrivateNodes": true, "masterIpv4CidrBlock": "10.13.37.0/28",
                                         "privateEndpoint": "10.13.37.2", "publicEndpoint": endpoint},
                "controlPlaneEndpointsConfig": {
                    "dnsEndpointConfig": {"endpoint": dns, "allowExternalTraffic": false},
                    "ipEndpointsConfig": {"enabled": true, "enablePublicEndpoint": true,
                                          "publicEndpoint": endpoint, "privateEndpoint": "10.13.37.2",
                                          "authorizedNetworksConfig": networks},
                },
                "currentMasterVersion": "1.33.5-gke.1000000",
                "currentNodeVersion": "1.33.5-gke.1000000",
                "selfLink": format!("{}/container/v1/{full}", self.shared.base),
                "nodePools": [{"name": "default-pool", "initialNodeCount": 1, "status": "RUNNING"}],
            }),
        );
        pod_range
    }

    /// The CIDRs in a cluster's master authorized networks.
    pub fn authorized_networks(&self, cluster: &str) -> Vec<String> {
        self.cluster(cluster)
            .map(|c| {
                c["masterAuthorizedNetworksConfig"]["cidrBlocks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["cidrBlock"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn firewall(&self, name: &str) -> Option<Value> {
        self.state().firewalls.get(name).cloned()
    }

    pub fn firewalls(&self) -> Vec<String> {
        self.state().firewalls.keys().cloned().collect()
    }

    /// A router in the default region.
    pub fn router(&self, name: &str) -> Option<Value> {
        self.state()
            .routers
            .get(&format!("{REGION}/{name}"))
            .cloned()
    }

    pub fn routers(&self) -> Vec<String> {
        self.state()
            .routers
            .values()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect()
    }

    /// A NAT of a router in the default region.
    pub fn nat(&self, router: &str, nat: &str) -> Option<Value> {
        self.router(router)?["nats"]
            .as_array()?
            .iter()
            .find(|n| n["name"] == nat)
            .cloned()
    }

    // ---- accounts -----------------------------------------------------------

    /// Logs a human account in the way `gcloud auth login` would have: an
    /// `authorized_user` credential in `credentials.db` whose token endpoint
    /// is the emulator. Does not make it the active account.
    pub fn add_human_account(&self, email: &str) -> Result<()> {
        let refresh = {
            let mut s = self.state();
            let refresh = format!("1//kas-emulator-refresh-{}", s.next_id());
            s.refresh_tokens.insert(refresh.clone(), email.to_string());
            refresh
        };
        let credential = json!({
            "type": "authorized_user",
            "client_id": "32555940559.apps.googleusercontent.com",
            "client_secret": "kas-emulator-client-secret",
            "refresh_token": refresh,
            "token_uri": format!("{}/oauth2/token", self.shared.base),
            "revoke_uri": format!("{}/revoke", self.shared.base),
            "universe_domain": "googleapis.com",
        });
        setup::store_credentials(&self.config_dir(), email, Some(&credential.to_string()))
    }

    /// Logs a service account in as `activate-service-account` would, with a
    /// fresh key (the account must exist). Does not make it active.
    pub fn add_service_account_login(&self, email: &str) -> Result<()> {
        let reply = {
            let mut s = self.state();
            let req = Req {
                method: "POST".into(),
                path: format!("/iam/v1/projects/{PROJECT}/serviceAccounts/{email}/keys"),
                raw_query: String::new(),
                query: vec![],
                body: "{}".into(),
                principal: None,
                bearer: None,
                base: self.shared.base.clone(),
            };
            iam::handle(&mut s, &req)
        };
        if reply.status != 200 {
            return Err(anyhow!("cannot make a key for {email}: {}", reply.body));
        }
        let key: Value = serde_json::from_str(&reply.body)?;
        let data = crypto::unb64(key["privateKeyData"].as_str().unwrap_or_default())
            .context("key data")?;
        setup::store_credentials(&self.config_dir(), email, Some(&String::from_utf8(data)?))
    }

    /// Forgets an account's stored credentials (as `gcloud auth revoke`
    /// does locally).
    pub fn remove_login(&self, email: &str) -> Result<()> {
        setup::store_credentials(&self.config_dir(), email, None)
    }

    /// Sets `core/account` of the emulator's configuration (`None` unsets).
    pub fn set_active_account(&self, email: Option<&str>) -> Result<()> {
        setup::set_property(&self.config_dir(), CONFIGURATION, "core", "account", email)
    }

    /// Whether a human account's refresh token was revoked at the server.
    pub fn human_revoked(&self, email: &str) -> bool {
        let s = self.state();
        s.refresh_tokens
            .iter()
            .any(|(token, who)| who == email && s.revoked.contains(token))
    }
}

impl Drop for GcpEmulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        crate::http::wake(self.port);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn repo_name(name: &str) -> String {
    format!("projects/{PROJECT}/locations/{REGION}/repositories/{name}")
}

fn cluster_name(name: &str) -> String {
    format!("projects/{PROJECT}/locations/{ZONE}/clusters/{name}")
}

/// Google answers 403 for a project the caller cannot see; so do we for
/// any project but ours (by id or number).
pub(crate) fn check_project(s: &State, project: &str) -> Result<(), Reply> {
    if project == s.project || project == s.project_number.to_string() {
        return Ok(());
    }
    Err(Reply::denied(&format!(
        "Permission denied on resource project {project} (or it may not exist)."
    )))
}

/// Answers the requests of one connection until the client closes it.
fn connection(shared: &Shared, conn: TcpStream) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut input = BufReader::new(read_half);
    let mut out = conn;
    loop {
        let request = match crate::http::read_request(&mut input, &mut out) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                let reply = Reply::invalid(&format!("malformed HTTP request: {e}"));
                let _ = respond(&mut out, &reply);
                return;
            }
        };
        let reply = answer(&request, shared);
        if respond(&mut out, &reply).is_err() || request.closes() {
            return;
        }
    }
}

fn respond(out: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    crate::http::respond(out, reply.status, reply.content_type, reply.body.as_bytes())
}

/// One request: fault injection or the API, then the request log.
fn answer(request: &crate::http::Request, shared: &Shared) -> Reply {
    // Through the proxy a request names its absolute URL.
    let target = match request.target.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => &request.target,
    };
    let host = request.header("host").map(str::to_string);
    let target = hosts::routed_path(host.as_deref(), target);
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let bearer = request
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut req = Req {
        method: request.method.clone(),
        // `%2F` stays encoded: it separates nothing (nested package names).
        path: percent_decode(&raw_path.replace("%2F", "%252F").replace("%2f", "%252F")),
        raw_query: raw_query.to_string(),
        query: http::parse_query(raw_query),
        body: String::from_utf8_lossy(&request.body).into_owned(),
        principal: None,
        bearer,
        base: shared.base.clone(),
    };
    let injected = shared.faults.lock().unwrap().take(&req.method, &req.path);
    let reply = match injected.clone() {
        Some(reply) => reply,
        None => {
            let mut state = shared.state.lock().unwrap();
            req.principal = req
                .bearer
                .as_ref()
                .and_then(|t| state.tokens.get(t).cloned());
            route(&mut state, &req)
        }
    };
    let entry = LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: redact_query(&req),
        body: redact_body(&req),
        principal: req.principal.clone(),
        status: reply.status,
        injected: injected.is_some(),
    };
    if std::env::var_os("KAS_EMULATOR_TRACE").is_some() {
        let query = if entry.query.is_empty() {
            String::new()
        } else {
            format!("?{}", entry.query)
        };
        eprintln!(
            "kas-emulator: {} {}{query} -> {}",
            entry.method, entry.path, entry.status
        );
        if !entry.body.is_empty() {
            eprintln!("    {}", entry.body);
        }
    }
    shared.log.lock().unwrap().push(entry);
    reply
}

fn route(s: &mut State, req: &Req) -> Reply {
    let api = req.path.split('/').nth(1).unwrap_or_default();
    match api {
        "oauth2" if req.path == "/oauth2/token" || req.path == "/oauth2/v4/token" => {
            return oauth::token(s, req);
        }
        "revoke" | "o" if req.path.ends_with("/revoke") => return oauth::revoke(s, req),
        _ => {}
    }
    if req.principal.is_none() {
        return Reply::error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        );
    }
    if let Some(disabled) = disabled_service(s, api) {
        return disabled;
    }
    if s.enforce_iam
        && let Some(denied) = authz::check(s, req)
    {
        return denied;
    }
    match api {
        "serviceusage" => serviceusage::handle(s, req),
        "cloudresourcemanager" => resourcemanager::handle(s, req),
        "iam" => iam::handle(s, req),
        "artifactregistry" => artifactregistry::handle(s, req),
        "container" => container::handle(s, req),
        "compute" => compute::handle(s, req),
        _ => Reply::not_found(&format!("The emulator does not serve {}.", req.path)),
    }
}

/// Google's answer to a call to an API the project has not enabled.
fn disabled_service(s: &State, api: &str) -> Option<Reply> {
    let (service, title) = match api {
        "compute" => ("compute.googleapis.com", "Compute Engine API"),
        "container" => ("container.googleapis.com", "Kubernetes Engine API"),
        "artifactregistry" => ("artifactregistry.googleapis.com", "Artifact Registry API"),
        _ => return None,
    };
    if !s.require_enabled_services || s.services.contains(service) {
        return None;
    }
    let number = s.project_number;
    let message = format!(
        "{title} has not been used in project {number} before or it is disabled. Enable it \
         by visiting https://console.developers.google.com/apis/api/{service}/overview?project={number} \
         then retry."
    );
    let body = json!({"error": {
        "code": 403,
        "message": message,
        "status": "PERMISSION_DENIED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "SERVICE_DISABLED",
            "domain": "googleapis.com",
            "metadata": {"service": service, "consumer": format!("projects/{number}")},
        }],
    }});
    Some(Reply::json(403, &body))
}

fn redact_query(req: &Req) -> String {
    if req.param("token").is_some() {
        return "token=***".into();
    }
    req.raw_query.clone()
}

/// Token exchanges carry secrets (assertions, refresh tokens): the log
/// keeps only the grant type.
fn redact_body(req: &Req) -> String {
    if req.path.starts_with("/oauth2/") || req.path.ends_with("/revoke") {
        return req
            .form_field("grant_type")
            .map(|g| format!("grant_type={g}"))
            .unwrap_or_default();
    }
    req.body.clone()
}
