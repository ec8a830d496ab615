//! Routing and the REST verbs: discovery, get, list, create, update, patch,
//! delete, and the description of a watch (streamed by `watch.rs`) or of an
//! upgrade (`exec.rs`, `portforward.rs`).

use std::time::Duration;

use serde_json::{Value, json};

use super::catalog::ResourceType;
use super::discovery;
use super::exec::{self, Exec};
use super::openapi;
use super::patch;
use super::portforward::{self, PortForward};
use super::protobuf;
use super::select::{FieldSelector, LabelSelector};
use super::store::{ApiError, DeleteOptions, Part, State};
use super::table;

/// A request, already read off the connection.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub accept: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// host:port the client reached us at.
    pub server: String,
    /// Whether the client closes the connection after this request.
    pub closes: bool,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun").is_some_and(|v| !v.is_empty())
    }
}

pub enum Reply {
    Json(u16, Value),
    Bytes(u16, &'static str, Vec<u8>),
    Watch(Box<Watch>),
    /// Upgrade to WebSocket and run a command (`pods/NAME/exec`).
    Exec(Box<Exec>),
    /// Upgrade to SPDY and relay ports (`pods/NAME/portforward`).
    PortForward(Box<PortForward>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Json(e.code, e.to_status())
    }
}

/// What a watch streams: one type, maybe one namespace, selectors.
#[derive(Clone, Debug)]
pub struct Watch {
    pub ty: ResourceType,
    pub version: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// Replay changes after this resource version; `None`: first send
    /// every current object as ADDED.
    pub since: Option<u64>,
    pub timeout: Duration,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the initial objects with a bookmark
    /// annotated `k8s.io/initial-events-end`.
    pub initial_events_end: bool,
    /// Send each object as a one-row Table (`kubectl get --watch`), with
    /// the row's object as `includeObject` says.
    pub table: Option<Option<String>>,
}

impl Watch {
    pub fn matches(&self, namespace: &str, object: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

pub fn handle(state: &mut State, req: &Request) -> Reply {
    match route(state, req) {
        Ok(reply) => reply,
        Err(e) => e.into(),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn route(state: &mut State, req: &Request) -> Result<Reply, ApiError> {
    let path = req.path.trim_end_matches('/');
    let types = state.types();
    match path {
        "/version" => return Ok(Reply::Json(200, discovery::version())),
        "/api" => return Ok(Reply::Json(200, discovery::core_versions(&req.server))),
        "/apis" => return Ok(Reply::Json(200, discovery::group_list(&types))),
        "/healthz" | "/livez" | "/readyz" => {
            return Ok(Reply::Bytes(200, "text/plain", b"ok".to_vec()));
        }
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/openapi") {
        return openapi::serve(rest).ok_or_else(not_found);
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => {
            return discovery::group(&types, group)
                .map(|g| Reply::Json(200, g))
                .ok_or_else(not_found);
        }
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    if rest.is_empty() {
        return discovery::resource_list(&types, group, version)
            .map(|l| Reply::Json(200, l))
            .ok_or_else(not_found);
    }
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let namespaced_path = rest.len() >= 3
        && rest[0] == "namespaces"
        && types
            .iter()
            .any(|t| t.group == group && t.plural == rest[2] && t.namespaced);
    let (namespace, rest) = if namespaced_path {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    let ty = types
        .iter()
        .find(|t| {
            t.group == group && t.plural == rest[0] && t.versions.iter().any(|v| v == version)
        })
        .cloned()
        .ok_or_else(not_found)?;
    let name = rest.get(1).copied();
    let sub = if rest.len() > 2 {
        Some(rest[2..].join("/"))
    } else {
        None
    };
    if sub
        .as_deref()
        .is_some_and(|s| !ty.subresources.iter().any(|t| t == s))
    {
        return Err(not_found());
    }
    let at = At {
        ty: &ty,
        version,
        namespace: namespace.unwrap_or(""),
        all_namespaces: namespace.is_none(),
    };
    match (req.method.as_str(), name, sub.as_deref()) {
        ("GET", None, None) if legacy_watch || req.flag("watch") => at.watch(state, req),
        ("GET", None, None) => at.list(state, req),
        ("POST", None, None) => at.create(state, req),
        ("DELETE", None, None) => at.delete_collection(state, req),
        ("GET", Some(name), None | Some("status")) => at.get(state, req, name),
        ("GET", Some(name), Some("scale")) => at.get_scale(state, name),
        ("GET", Some(name), Some("log")) => at.log(state, name),
        ("GET" | "POST", Some(name), Some("exec")) => at.exec(state, req, name),
        ("GET" | "POST", Some(name), Some("portforward")) => at.port_forward(state, req, name),
        ("PUT", Some(name), None) => at.update(state, req, name, Part::Main),
        ("PUT", Some(name), Some("status")) => at.update(state, req, name, Part::Status),
        ("PUT", Some(name), Some("finalize")) => at.finalize(state, req, name),
        ("PATCH", Some(name), None) => at.patch(state, req, name, Part::Main),
        ("PATCH", Some(name), Some("status")) => at.patch(state, req, name, Part::Status),
        ("DELETE", Some(name), None) => at.delete(state, req, name),
        (_, Some(_), Some(sub)) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} {sub} is not supported by the emulator", req.method),
        )),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not supported here", req.method),
        )),
    }
}

/// A resource type reached at a version, in a namespace (or across all).
struct At<'a> {
    ty: &'a ResourceType,
    version: &'a str,
    namespace: &'a str,
    all_namespaces: bool,
}

impl At<'_> {
    /// The object as clients asked for it (the version in their URL).
    fn shown(&self, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(self.ty.api_version(self.version));
        obj
    }

    fn need_namespace(&self) -> Result<(), ApiError> {
        if self.ty.namespaced && self.all_namespaces {
            return Err(ApiError::bad_request(format!(
                "{} are namespaced: use /namespaces/NAMESPACE/{}",
                self.ty.plural, self.ty.plural
            )));
        }
        Ok(())
    }

    fn get(&self, state: &State, req: &Request, name: &str) -> Result<Reply, ApiError> {
        let obj = state
            .get(self.ty, self.namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.ty, name))?;
        let obj = self.shown(obj);
        if table::wanted(&req.accept) {
            let include = req.param("includeObject");
            return Ok(Reply::Json(
                200,
                table::table(self.ty, &[obj], state.rv, include),
            ));
        }
        Ok(Reply::Json(200, obj))
    }

    fn get_scale(&self, state: &State, name: &str) -> Result<Reply, ApiError> {
        let obj = state
            .get(self.ty, self.namespace, name)
            .ok_or_else(|| ApiError::not_found(self.ty, name))?;
        Ok(Reply::Json(
            200,
            json!({
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
                "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))},
            }),
        ))
    }

    fn running_pod(&self, state: &State, name: &str) -> Result<Value, ApiError> {
        let pod = state
            .get(self.ty, self.namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.ty, name))?;
        if pod["status"]["phase"] != "Running" {
            return Err(ApiError::bad_request(format!(
                "pod {name} is not running (phase {})",
                pod["status"]["phase"]
            )));
        }
        Ok(pod)
    }

    /// What tests wrote with `KubeEmulator::append_log` (no streaming:
    /// `--follow` gets what there is).
    fn log(&self, state: &State, name: &str) -> Result<Reply, ApiError> {
        self.running_pod(state, name)?;
        let key = (self.namespace.to_string(), name.to_string());
        let text = state.logs.get(&key).cloned().unwrap_or_default();
        Ok(Reply::Bytes(200, "text/plain", text.into_bytes()))
    }

    fn exec(&self, state: &State, req: &Request, name: &str) -> Result<Reply, ApiError> {
        let pod = self.running_pod(state, name)?;
        if !req
            .header("Upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        {
            return Err(ApiError::bad_request(
                "the emulator serves exec over WebSocket only (Upgrade: websocket); kubectl 1.30 or later speaks it",
            ));
        }
        let spec = exec::from_query(&pod, &req.query).map_err(ApiError::bad_request)?;
        Ok(Reply::Exec(Box::new(spec)))
    }

    /// Only SPDY: kubectl first tries SPDY tunnelled in WebSocket, and
    /// falls back to a plain SPDY upgrade when that is refused.
    fn port_forward(&self, state: &State, req: &Request, name: &str) -> Result<Reply, ApiError> {
        let pod = self.running_pod(state, name)?;
        if !req
            .header("Upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("SPDY/3.1"))
        {
            return Err(ApiError::bad_request(
                "the emulator serves port-forward over a SPDY/3.1 upgrade only",
            ));
        }
        Ok(Reply::PortForward(Box::new(portforward::from_pod(&pod))))
    }

    fn selectors(&self, req: &Request) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    fn list(&self, state: &State, req: &Request) -> Result<Reply, ApiError> {
        let (labels, fields) = self.selectors(req)?;
        let ns = (!self.all_namespaces).then_some(self.namespace);
        let items: Vec<Value> = if self.ty.plural == "events" {
            vec![]
        } else {
            state
                .list(&self.ty.group, &self.ty.plural, ns)
                .into_iter()
                .filter(|o| labels.matches(o) && fields.matches(o))
                .map(|o| self.shown(o))
                .collect()
        };
        if table::wanted(&req.accept) {
            let include = req.param("includeObject");
            return Ok(Reply::Json(
                200,
                table::table(self.ty, &items, state.rv, include),
            ));
        }
        Ok(Reply::Json(
            200,
            json!({
                "kind": format!("{}List", self.ty.kind),
                "apiVersion": self.ty.api_version(self.version),
                "metadata": {"resourceVersion": state.rv.to_string()},
                "items": items,
            }),
        ))
    }

    fn watch(&self, state: &State, req: &Request) -> Result<Reply, ApiError> {
        let (labels, fields) = self.selectors(req)?;
        let initial = req.flag("sendInitialEvents");
        let since = match req.param("resourceVersion") {
            _ if initial => None,
            None | Some("") | Some("0") => None,
            Some(rv) => {
                let rv: u64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?;
                Some(rv.min(state.rv))
            }
        };
        let timeout = req
            .param("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1800);
        Ok(Reply::Watch(Box::new(Watch {
            ty: self.ty.clone(),
            version: self.version.to_string(),
            namespace: (!self.all_namespaces).then(|| self.namespace.to_string()),
            labels,
            fields,
            since,
            timeout: Duration::from_secs(timeout),
            bookmarks: req.flag("allowWatchBookmarks"),
            initial_events_end: initial,
            table: table::wanted(&req.accept).then(|| req.param("includeObject").map(String::from)),
        })))
    }

    fn create(&self, state: &mut State, req: &Request) -> Result<Reply, ApiError> {
        self.need_namespace()?;
        let body = parse_body(req)?;
        if self.ty.plural == "events" {
            // Accepted and dropped: nothing here reads events back.
            return Ok(Reply::Json(201, body));
        }
        let created = state.create(self.ty, self.namespace, body, req.dry_run())?;
        Ok(Reply::Json(201, self.shown(created)))
    }

    fn update(
        &self,
        state: &mut State,
        req: &Request,
        name: &str,
        part: Part,
    ) -> Result<Reply, ApiError> {
        let body = parse_body(req)?;
        let updated = state.update(self.ty, self.namespace, name, body, part, req.dry_run())?;
        Ok(Reply::Json(200, self.shown(updated)))
    }

    /// `PUT /api/v1/namespaces/NAME/finalize`: only `spec.finalizers` changes.
    fn finalize(&self, state: &mut State, req: &Request, name: &str) -> Result<Reply, ApiError> {
        let body = parse_body(req)?;
        let mut obj = state
            .get(self.ty, "", name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.ty, name))?;
        obj["spec"]["finalizers"] = body
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        let updated = state.update(self.ty, "", name, obj, Part::Whole, req.dry_run())?;
        Ok(Reply::Json(200, self.shown(updated)))
    }

    fn patch(
        &self,
        state: &mut State,
        req: &Request,
        name: &str,
        part: Part,
    ) -> Result<Reply, ApiError> {
        let body = parse_body(req)?;
        let kind = req.content_type.split(';').next().unwrap_or("").trim();
        let current = state.get(self.ty, self.namespace, name).cloned();
        let is_apply = kind.starts_with("application/apply-patch");
        let Some(mut target) = current else {
            if is_apply && part == Part::Main {
                // Server-side apply creates what is missing.
                self.need_namespace()?;
                let mut obj = body;
                obj["metadata"]["name"] = json!(name);
                let created = state.create(self.ty, self.namespace, obj, req.dry_run())?;
                return Ok(Reply::Json(201, self.shown(created)));
            }
            return Err(ApiError::not_found(self.ty, name));
        };
        match kind {
            "application/merge-patch+json" => patch::merge(&mut target, &body),
            "application/strategic-merge-patch+json" => {
                if !self.ty.group.is_empty() && !is_builtin_group(&self.ty.group) {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "strategic merge patch is not supported for custom resources; use a merge patch",
                    ));
                }
                patch::strategic(&mut target, &body)
            }
            "application/json-patch+json" => {
                patch::json_patch(&mut target, &body).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!("the JSON patch could not be applied: {e}"),
                    )
                })?
            }
            _ if is_apply => {
                let mut applied = body;
                if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
                patch::strategic(&mut target, &applied)
            }
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
                    ),
                ));
            }
        }
        // A patch only conflicts when it names a resourceVersion itself.
        if body_rv(req).is_none()
            && let Some(meta) = target.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("resourceVersion");
        }
        let updated = state.update(self.ty, self.namespace, name, target, part, req.dry_run())?;
        Ok(Reply::Json(200, self.shown(updated)))
    }

    fn delete(&self, state: &mut State, req: &Request, name: &str) -> Result<Reply, ApiError> {
        let opts = delete_options(req)?;
        let gone = state.delete(self.ty, self.namespace, name, &opts)?;
        Ok(Reply::Json(200, self.shown(gone)))
    }

    fn delete_collection(&self, state: &mut State, req: &Request) -> Result<Reply, ApiError> {
        let (labels, fields) = self.selectors(req)?;
        let opts = delete_options(req)?;
        let ns = (!self.all_namespaces).then_some(self.namespace);
        let mut items = vec![];
        for obj in state.list(&self.ty.group, &self.ty.plural, ns) {
            if labels.matches(&obj) && fields.matches(&obj) {
                let ns = obj["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
                items.push(self.shown(state.delete(self.ty, &ns, &name, &opts)?));
            }
        }
        Ok(Reply::Json(
            200,
            json!({
                "kind": format!("{}List", self.ty.kind),
                "apiVersion": self.ty.api_version(self.version),
                "metadata": {"resourceVersion": state.rv.to_string()},
                "items": items,
            }),
        ))
    }
}

fn is_builtin_group(group: &str) -> bool {
    group == "apps" || group == "batch" || group.ends_with(".k8s.io")
}

fn body_rv(req: &Request) -> Option<String> {
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    body.pointer("/metadata/resourceVersion")?
        .as_str()
        .map(String::from)
}

/// JSON, YAML (server-side apply), or protobuf for the few kinds Helm
/// sends that way.
fn parse_body(req: &Request) -> Result<Value, ApiError> {
    if req.body.is_empty() {
        return Err(ApiError::bad_request("the request has no body"));
    }
    if req.content_type.contains("protobuf") {
        return protobuf::decode(&req.body)
            .map_err(|e| ApiError::new(415, "UnsupportedMediaType", e));
    }
    if req.content_type.contains("cbor") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the emulator speaks JSON, not {}", req.content_type),
        ));
    }
    if req.content_type.contains("yaml") {
        let value: serde_yaml::Value = serde_yaml::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("invalid YAML body: {e}")))?;
        return serde_json::to_value(value).map_err(|e| ApiError::bad_request(e.to_string()));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn delete_options(req: &Request) -> Result<DeleteOptions, ApiError> {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        parse_body(req)?
    };
    let text = |v: &Value| v.as_str().map(String::from);
    Ok(DeleteOptions {
        propagation: body
            .get("propagationPolicy")
            .and_then(text)
            .or_else(|| req.param("propagationPolicy").map(String::from))
            .or_else(
                || match body.get("orphanDependents").and_then(Value::as_bool) {
                    Some(true) => Some("Orphan".to_string()),
                    _ => None,
                },
            ),
        precondition_uid: body.pointer("/preconditions/uid").and_then(text),
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(text),
        dry_run: req.dry_run()
            || body
                .get("dryRun")
                .is_some_and(|d| d.as_array().is_some_and(|a| !a.is_empty())),
    })
}
