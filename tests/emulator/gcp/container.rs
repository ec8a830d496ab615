//! GKE (`container.googleapis.com/v1`): zonal clusters and their
//! operations. A created cluster gets a pod range, an endpoint and a CA
//! certificate (see `State::kube_endpoint`), and turns RUNNING when its
//! operation completes.

use serde_json::{Value, json};

use super::crypto;
use super::http::{Reply, Req};
use super::state::{OnDone, State, now_rfc3339};

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let seg = req.segments_after("/container/v1").unwrap_or_default();
    let (project, location, rest) = match seg.as_slice() {
        ["projects", p, "locations" | "zones", l, rest @ ..] => (*p, *l, rest),
        _ => return Reply::not_found("Unknown GKE path."),
    };
    if let Err(denied) = super::check_project(s, project) {
        return denied;
    }
    let parent = format!("projects/{}/locations/{location}", s.project);
    match (req.method.as_str(), rest) {
        ("GET", ["clusters"]) => {
            let clusters: Vec<&Value> = s
                .clusters
                .iter()
                .filter(|(n, _)| location == "-" || n.starts_with(&format!("{parent}/")))
                .map(|(_, c)| c)
                .collect();
            if clusters.is_empty() {
                return Reply::ok(json!({}));
            }
            Reply::ok(json!({"clusters": clusters}))
        }
        ("POST", ["clusters"]) => create(s, req, location),
        ("GET", ["serverConfig"]) => Reply::ok(server_config()),
        ("GET", ["operations", op]) => poll(s, req, location, op),
        ("GET", ["operations"]) => {
            // The operations still running here, as GKE lists them.
            let running: Vec<Value> = s
                .ops
                .iter()
                .filter(|(name, op)| {
                    op.polls_left > 0
                        && (location == "-" || name.starts_with(&format!("{location}/")))
                        && op.running.get("operationType").is_some()
                })
                .map(|(_, op)| op.running.clone())
                .collect();
            if running.is_empty() {
                return Reply::ok(json!({}));
            }
            Reply::ok(json!({"operations": running}))
        }
        (method, ["clusters", name]) => {
            let full = format!("{parent}/clusters/{name}");
            if !s.clusters.contains_key(&full) {
                return Reply::not_found(&format!("Not found: {full}."));
            }
            match method {
                "GET" => Reply::ok(s.clusters[&full].clone()),
                "PUT" => update(s, req, location, &full),
                "DELETE" => delete(s, req, location, &full),
                _ => Reply::not_found("Unknown GKE cluster method."),
            }
        }
        _ => Reply::not_found("Unknown GKE method."),
    }
}

fn server_config() -> Value {
    json!({
        "defaultClusterVersion": "1.33.5-gke.1000000",
        "validMasterVersions": ["1.33.5-gke.1000000"],
        "validNodeVersions": ["1.33.5-gke.1000000"],
        "defaultImageType": "COS_CONTAINERD",
        "validImageTypes": ["COS_CONTAINERD", "UBUNTU_CONTAINERD"],
        "channels": [{"channel": "REGULAR", "defaultVersion": "1.33.5-gke.1000000",
                      "validVersions": ["1.33.5-gke.1000000"]}],
    })
}

fn create(s: &mut State, req: &Req, location: &str) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut cluster = body["cluster"].clone();
    let Some(name) = cluster["name"].as_str().map(str::to_string) else {
        return Reply::invalid("Cluster.name is required.");
    };
    let full = format!(
        "projects/{}/locations/{location}/clusters/{name}",
        s.project
    );
    if s.clusters.contains_key(&full) {
        return Reply::already_exists(&format!("Already exists: {full}."));
    }
    let n = s.next_id();
    let pod_range = cluster["clusterIpv4Cidr"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("10.{}.0.0/14", (n * 4) % 252));
    let (endpoint, ca) = s.kube_endpoint.clone();
    let version = "1.33.5-gke.1000000";
    let fill = |c: &mut Value, key: &str, value: Value| {
        if c[key].is_null() {
            c[key] = value;
        }
    };
    fill(&mut cluster, "network", json!("default"));
    fill(&mut cluster, "subnetwork", json!("default"));
    cluster["clusterIpv4Cidr"] = json!(pod_range);
    cluster["servicesIpv4Cidr"] = json!("34.118.224.0/20");
    if cluster["ipAllocationPolicy"]["useIpAliases"] == true {
        cluster["ipAllocationPolicy"]["clusterIpv4Cidr"] = json!(pod_range);
        cluster["ipAllocationPolicy"]["clusterIpv4CidrBlock"] = json!(pod_range);
        cluster["ipAllocationPolicy"]["servicesIpv4CidrBlock"] = json!("34.118.224.0/20");
    }
    cluster["endpoint"] = json!(endpoint);
    cluster["masterAuth"]["clusterCaCertificate"] = json!(crypto::b64(ca.as_bytes()));
    cluster["location"] = json!(location);
    cluster["zone"] = json!(location);
    cluster["locations"] = json!([location]);
    cluster["selfLink"] = json!(format!("{}/container/v1/{full}", req.base));
    cluster["status"] = json!("PROVISIONING");
    cluster["createTime"] = json!(now_rfc3339());
    cluster["currentMasterVersion"] = json!(version);
    cluster["currentNodeVersion"] = json!(version);
    cluster["initialClusterVersion"] = json!(version);
    cluster["id"] = json!(format!("{:032x}", 0xc1u128 << 96 | n as u128));
    let private_nodes = cluster["privateClusterConfig"]["enablePrivateNodes"] == true
        || cluster["networkConfig"]["defaultEnablePrivateNodes"] == true;
    cluster["privateClusterConfig"]["enablePrivateNodes"] = json!(private_nodes);
    cluster["privateClusterConfig"]["privateEndpoint"] = json!("10.13.37.2");
    cluster["privateClusterConfig"]["publicEndpoint"] = json!(endpoint);
    cluster["networkConfig"]["defaultEnablePrivateNodes"] = json!(private_nodes);
    cluster["networkConfig"]["network"] = json!(format!(
        "projects/{}/global/networks/{}",
        s.project,
        cluster["network"].as_str().unwrap_or("default")
    ));
    // gcloud 528 sends authorized networks in the newer
    // `controlPlaneEndpointsConfig`; GKE answers with both shapes filled.
    let networks = match &cluster["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["authorizedNetworksConfig"]
    {
        Value::Null => cluster["masterAuthorizedNetworksConfig"].clone(),
        given => given.clone(),
    };
    let ip = &mut cluster["controlPlaneEndpointsConfig"]["ipEndpointsConfig"];
    ip["enabled"] = json!(true);
    ip["enablePublicEndpoint"] = json!(true);
    ip["publicEndpoint"] = json!(endpoint);
    ip["privateEndpoint"] = json!("10.13.37.2");
    cluster["controlPlaneEndpointsConfig"]["dnsEndpointConfig"] = json!({
        "endpoint": format!("gke-{:032x}.{location}.gke.goog", n),
        "allowExternalTraffic": false,
    });
    set_authorized_networks(&mut cluster, networks);
    let mut nodes = 0;
    for pool in cluster["nodePools"].as_array_mut().into_iter().flatten() {
        nodes += pool["initialNodeCount"].as_u64().unwrap_or(0);
        pool["status"] = json!("RUNNING");
        pool["version"] = json!(version);
        pool["selfLink"] = json!(format!(
            "{}/container/v1/{full}/nodePools/{}",
            req.base,
            pool["name"].as_str().unwrap_or("default-pool")
        ));
    }
    cluster["currentNodeCount"] = json!(nodes);
    s.clusters.insert(full.clone(), cluster);
    let done_name = full.clone();
    let op = start_op(
        s,
        req,
        location,
        "CREATE_CLUSTER",
        &full,
        Box::new(move |s: &mut State| {
            if let Some(c) = s.clusters.get_mut(&done_name) {
                c["status"] = json!("RUNNING");
            }
        }),
    );
    Reply::ok(op)
}

fn update(s: &mut State, req: &Req, location: &str, full: &str) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let update = &body["update"];
    let Some(fields) = update.as_object().filter(|o| !o.is_empty()) else {
        return Reply::invalid("Must specify a field to update.");
    };
    let stale = s.stale_network_write.take();
    // GKE runs one operation at a time on a cluster and refuses the next.
    let running = s
        .ops
        .iter()
        .find(|(_, op)| {
            op.polls_left > 0
                && op.running["targetLink"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(full))
        })
        .map(|(name, _)| name.rsplit('/').next().unwrap_or(name).to_string());
    let cluster = s.clusters.get_mut(full).expect("checked");
    if let Some(op) = running.filter(|_| cluster["status"] != "RUNNING") {
        return Reply::failed_precondition(&format!(
            "Cluster is running incompatible operation {op}."
        ));
    }
    if cluster["status"] != "RUNNING" {
        return Reply::error(
            400,
            &format!(
                "Cluster is not ready for update (status {}).",
                cluster["status"]
            ),
        );
    }
    let read_before = cluster["masterAuthorizedNetworksConfig"].clone();
    for (key, value) in fields {
        match key.as_str() {
            "desiredMasterAuthorizedNetworksConfig" => {
                set_authorized_networks(cluster, value.clone());
            }
            "desiredControlPlaneEndpointsConfig" => {
                let networks = value["ipEndpointsConfig"]["authorizedNetworksConfig"].clone();
                if !networks.is_null() {
                    set_authorized_networks(cluster, networks);
                }
            }
            other => {
                // Others land on the field their name points at
                // (`desiredFoo` -> `foo`), enough for inspection.
                let field = other.strip_prefix("desired").unwrap_or(other);
                let mut chars = field.chars();
                let field = match chars.next() {
                    Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => continue,
                };
                cluster[field] = value.clone();
            }
        }
    }
    if let Some(cidr) = stale {
        let mut theirs = read_before;
        let blocks = theirs["cidrBlocks"].as_array().cloned().unwrap_or_default();
        theirs["cidrBlocks"] = Value::Array(
            blocks
                .into_iter()
                .chain([json!({"cidrBlock": cidr})])
                .collect(),
        );
        theirs["enabled"] = json!(true);
        set_authorized_networks(cluster, theirs);
    }
    cluster["status"] = json!("RECONCILING");
    let done_name = full.to_string();
    let op = start_op(
        s,
        req,
        location,
        "UPDATE_CLUSTER",
        full,
        Box::new(move |s: &mut State| {
            if let Some(c) = s.clusters.get_mut(&done_name) {
                c["status"] = json!("RUNNING");
            }
        }),
    );
    Reply::ok(op)
}

fn delete(s: &mut State, req: &Req, location: &str, full: &str) -> Reply {
    let cluster = s.clusters.get_mut(full).expect("checked");
    if cluster["status"] == "STOPPING" {
        return Reply::error(400, &format!("Cluster {full} is already being deleted."));
    }
    cluster["status"] = json!("STOPPING");
    let done_name = full.to_string();
    let op = start_op(
        s,
        req,
        location,
        "DELETE_CLUSTER",
        full,
        Box::new(move |s: &mut State| {
            s.clusters.remove(&done_name);
        }),
    );
    Reply::ok(op)
}

fn start_op(
    s: &mut State,
    req: &Req,
    location: &str,
    kind: &str,
    target: &str,
    on_done: OnDone,
) -> Value {
    let id = format!(
        "operation-{}-{:08x}",
        1_700_000_000_000u64 + s.next_id(),
        s.next_id()
    );
    let full = format!(
        "projects/{}/locations/{location}/operations/{id}",
        s.project_number
    );
    let op = json!({
        "name": id,
        "zone": location,
        "location": location,
        "operationType": kind,
        "status": "RUNNING",
        "selfLink": format!("{}/container/v1/{full}", req.base),
        "targetLink": format!("{}/container/v1/{target}", req.base),
        "startTime": now_rfc3339(),
    });
    s.start_op(&format!("{location}/{id}"), op.clone(), None, Some(on_done));
    op
}

fn poll(s: &mut State, _req: &Req, location: &str, id: &str) -> Reply {
    match s.poll_op(&format!("{location}/{id}")) {
        None => Reply::not_found(&format!("Not found: operation {id}.")),
        Some((false, running, _)) => Reply::ok(running),
        Some((true, mut op, _)) => {
            op["status"] = json!("DONE");
            op["endTime"] = json!(now_rfc3339());
            Reply::ok(op)
        }
    }
}

/// Stores master authorized networks in both places GKE reports them
/// (`masterAuthorizedNetworksConfig` and
/// `controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig`).
fn set_authorized_networks(cluster: &mut Value, mut networks: Value) {
    if networks.is_null() {
        networks = json!({});
    }
    // An empty list is left out, as Google does.
    if networks["cidrBlocks"]
        .as_array()
        .is_some_and(|b| b.is_empty())
    {
        networks.as_object_mut().map(|o| o.remove("cidrBlocks"));
    }
    cluster["masterAuthorizedNetworksConfig"] = networks.clone();
    cluster["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["authorizedNetworksConfig"] =
        networks;
}
