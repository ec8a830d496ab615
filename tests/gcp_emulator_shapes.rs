//! The emulator's answers use only field names that the API clients
//! shipped inside gcloud know. gcloud's generated clients quietly ignore an
//! unknown field, so a misspelt one would pass every gcloud test and still
//! be wrong: this checks each answer, recursively, against the message
//! classes in `$SDK/lib/googlecloudsdk/generated_clients/apis/`.

use kas_emulator as emulator;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use emulator::gcp::{GcpEmulator, HUMAN, PROJECT, REGION, ZONE};
use serde_json::{Value, json};

/// Message class -> field -> the message class of its value, if any.
type Messages = BTreeMap<String, BTreeMap<String, Option<String>>>;

fn sdk_apis() -> PathBuf {
    let gcloud = which::which("gcloud")
        .expect("this test reads gcloud's API clients: install the Google Cloud SDK");
    let real = gcloud.canonicalize().unwrap();
    // .../google-cloud-sdk/bin/gcloud -> .../google-cloud-sdk
    let root = real.parent().unwrap().parent().unwrap();
    root.join("lib/googlecloudsdk/generated_clients/apis")
}

/// Top-level classes and their fields, read from a generated
/// `*_messages.py` (fields sit at two spaces of indentation).
fn messages(api: &str, version: &str) -> Messages {
    let path = sdk_apis().join(format!("{api}/{version}/{api}_{version}_messages.py"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = Messages::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("class ") {
            current = rest.split('(').next().map(str::to_string);
            out.entry(current.clone().unwrap()).or_default();
            continue;
        }
        let Some(class) = &current else { continue };
        let Some(field_line) = line.strip_prefix("  ") else {
            continue;
        };
        if field_line.starts_with(' ') {
            continue; // a nested class's own fields
        }
        let Some((name, def)) = field_line.split_once(" = _messages.") else {
            continue;
        };
        let nested = def
            .strip_prefix("MessageField('")
            .and_then(|r| r.split('\'').next())
            .map(str::to_string);
        out.get_mut(class).unwrap().insert(name.to_string(), nested);
    }
    out
}

/// Field paths in `value` that `class` does not define.
fn unknown_fields(m: &Messages, class: &str, value: &Value, at: &str, out: &mut Vec<String>) {
    let Some(fields) = m.get(class) else { return };
    let Some(object) = value.as_object() else {
        return;
    };
    for (key, v) in object {
        if key == "@type" {
            continue;
        }
        match fields.get(key) {
            None => out.push(format!("{at}.{key} (not in {class})")),
            Some(Some(nested)) => {
                let items = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
                for item in &items {
                    unknown_fields(m, nested, item, &format!("{at}.{key}"), out);
                }
            }
            Some(None) => {}
        }
    }
}

/// One request to the emulator with a token it issued.
fn call(emu: &GcpEmulator, method: &str, path: &str, body: Value) -> Value {
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer shape-test\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {head}\n{body}"
    );
    serde_json::from_str(body).unwrap()
}

#[test]
fn answers_use_only_fields_the_gcloud_clients_know() {
    let emu = GcpEmulator::start().unwrap();
    emu.state().tokens.insert("shape-test".into(), HUMAN.into());
    let mut problems = Vec::new();
    let mut check = |m: &Messages, class: &str, value: &Value, what: &str| {
        assert!(m.contains_key(class), "no class {class}");
        unknown_fields(m, class, value, what, &mut problems);
    };

    let su = messages("serviceusage", "v1");
    let p = format!("/serviceusage/v1/projects/{PROJECT}");
    let op = call(
        &emu,
        "POST",
        &format!("{p}/services:batchEnable"),
        json!({"serviceIds": ["compute.googleapis.com"]}),
    );
    check(&su, "Operation", &op, "serviceusage batchEnable");
    let done = call(
        &emu,
        "GET",
        &format!("/serviceusage/v1/{}", op["name"].as_str().unwrap()),
        json!({}),
    );
    check(&su, "Operation", &done, "serviceusage operation");
    let list = call(
        &emu,
        "GET",
        &format!("{p}/services?filter=state:ENABLED"),
        json!({}),
    );
    check(&su, "ListServicesResponse", &list, "serviceusage list");
    check(
        &su,
        "GoogleApiServiceusageV1Service",
        &list["services"][0],
        "serviceusage service",
    );

    let crm = messages("cloudresourcemanager", "v1");
    let p = format!("/cloudresourcemanager/v1/projects/{PROJECT}");
    check(
        &crm,
        "Project",
        &call(&emu, "GET", &p, json!({})),
        "project",
    );
    let policy = call(&emu, "POST", &format!("{p}:getIamPolicy"), json!({}));
    check(&crm, "Policy", &policy, "policy");
    let set = call(
        &emu,
        "POST",
        &format!("{p}:setIamPolicy"),
        json!({"policy": policy}),
    );
    check(&crm, "Policy", &set, "policy after set");

    let iam = messages("iam", "v1");
    let p = format!("/iam/v1/projects/{PROJECT}/serviceAccounts");
    let account = call(
        &emu,
        "POST",
        &p,
        json!({"accountId": "shape-test", "serviceAccount": {"displayName": "d"}}),
    );
    check(&iam, "ServiceAccount", &account, "service account");
    let email = account["email"].as_str().unwrap();
    check(
        &iam,
        "ListServiceAccountsResponse",
        &call(&emu, "GET", &p, json!({})),
        "accounts",
    );
    let key = call(&emu, "POST", &format!("{p}/{email}/keys"), json!({}));
    check(&iam, "ServiceAccountKey", &key, "key");
    check(
        &iam,
        "ListServiceAccountKeysResponse",
        &call(&emu, "GET", &format!("{p}/{email}/keys"), json!({})),
        "keys",
    );

    let ar = messages("artifactregistry", "v1");
    let p = format!("/artifactregistry/v1/projects/{PROJECT}/locations/{REGION}");
    let op = call(
        &emu,
        "POST",
        &format!("{p}/repositories?repositoryId=images"),
        json!({"format": "DOCKER"}),
    );
    check(&ar, "Operation", &op, "repository create");
    let id = op["name"].as_str().unwrap().rsplit('/').next().unwrap();
    check(
        &ar,
        "Operation",
        &call(&emu, "GET", &format!("{p}/operations/{id}"), json!({})),
        "AR operation",
    );
    check(
        &ar,
        "Repository",
        &call(&emu, "GET", &format!("{p}/repositories/images"), json!({})),
        "repository",
    );
    check(
        &ar,
        "ListRepositoriesResponse",
        &call(&emu, "GET", &format!("{p}/repositories"), json!({})),
        "repositories",
    );
    emu.add_version(
        "images",
        "kas",
        &format!("sha256:{}", "c".repeat(64)),
        &["latest"],
    );
    let r = format!("{p}/repositories/images");
    check(
        &ar,
        "ListPackagesResponse",
        &call(&emu, "GET", &format!("{r}/packages"), json!({})),
        "packages",
    );
    check(
        &ar,
        "ListVersionsResponse",
        &call(
            &emu,
            "GET",
            &format!("{r}/packages/kas/versions?view=FULL"),
            json!({}),
        ),
        "versions",
    );
    check(
        &ar,
        "ListTagsResponse",
        &call(&emu, "GET", &format!("{r}/packages/kas/tags"), json!({})),
        "tags",
    );
    check(
        &ar,
        "ListDockerImagesResponse",
        &call(&emu, "GET", &format!("{r}/dockerImages"), json!({})),
        "docker images",
    );

    let gke = messages("container", "v1");
    let p = format!("/container/v1/projects/{PROJECT}/locations/{ZONE}");
    // The body gcloud 528 sends for the tools' cluster (from --log-http).
    let create = json!({"cluster": {
        "name": "x-ray", "network": "default", "subnetwork": "default",
        "releaseChannel": {"channel": "REGULAR"},
        "networkConfig": {"defaultEnablePrivateNodes": true},
        "privateClusterConfig": {"enablePrivateNodes": true, "masterIpv4CidrBlock": "10.13.37.0/28"},
        "ipAllocationPolicy": {"createSubnetwork": false, "useIpAliases": true},
        "controlPlaneEndpointsConfig": {"ipEndpointsConfig": {"authorizedNetworksConfig": {
            "cidrBlocks": [{"cidrBlock": "203.0.113.7/32"}], "enabled": true}}},
        "defaultMaxPodsConstraint": {"maxPodsPerNode": "32"},
        "nodePools": [{"name": "default-pool", "initialNodeCount": 1,
            "autoscaling": {"enabled": true, "maxNodeCount": 16, "minNodeCount": 1},
            "config": {"diskSizeGb": 100, "diskType": "pd-standard", "machineType": "e2-standard-2"}}],
    }, "parent": format!("projects/{PROJECT}/locations/{ZONE}")});
    let op = call(&emu, "POST", &format!("{p}/clusters"), create);
    check(&gke, "Operation", &op, "GKE create");
    let op_name = op["name"].as_str().unwrap();
    check(
        &gke,
        "Operation",
        &call(&emu, "GET", &format!("{p}/operations/{op_name}"), json!({})),
        "GKE operation",
    );
    check(
        &gke,
        "Cluster",
        &call(&emu, "GET", &format!("{p}/clusters/x-ray"), json!({})),
        "cluster",
    );
    check(
        &gke,
        "ListClustersResponse",
        &call(&emu, "GET", &format!("{p}/clusters"), json!({})),
        "clusters",
    );
    emu.add_cluster("seeded", &["198.51.100.0/24"]);
    check(
        &gke,
        "Cluster",
        &call(&emu, "GET", &format!("{p}/clusters/seeded"), json!({})),
        "seeded cluster",
    );
    let update = json!({"update": {"desiredControlPlaneEndpointsConfig": {"ipEndpointsConfig": {
        "authorizedNetworksConfig": {"enabled": true}}}}});
    check(
        &gke,
        "Operation",
        &call(&emu, "PUT", &format!("{p}/clusters/x-ray"), update),
        "GKE update",
    );

    let compute = messages("compute", "v1");
    let p = format!("/compute/v1/projects/{PROJECT}");
    let fw = json!({"name": "x-ray-default", "network": "default", "direction": "INGRESS",
                    "allowed": [{"IPProtocol": "all"}], "sourceRanges": ["10.4.0.0/14"]});
    let op = call(&emu, "POST", &format!("{p}/global/firewalls"), fw);
    check(&compute, "Operation", &op, "firewall insert");
    let op_name = op["name"].as_str().unwrap();
    check(
        &compute,
        "Operation",
        &call(
            &emu,
            "POST",
            &format!("{p}/global/operations/{op_name}/wait"),
            json!({}),
        ),
        "compute wait",
    );
    check(
        &compute,
        "Firewall",
        &call(
            &emu,
            "GET",
            &format!("{p}/global/firewalls/x-ray-default"),
            json!({}),
        ),
        "firewall",
    );
    check(
        &compute,
        "FirewallList",
        &call(&emu, "GET", &format!("{p}/global/firewalls"), json!({})),
        "firewalls",
    );
    let router = json!({"name": "r", "network": "default", "nats": [{"name": "n",
        "natIpAllocateOption": "AUTO_ONLY", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]});
    check(
        &compute,
        "Operation",
        &call(
            &emu,
            "POST",
            &format!("{p}/regions/{REGION}/routers"),
            router,
        ),
        "router insert",
    );
    check(
        &compute,
        "Router",
        &call(
            &emu,
            "GET",
            &format!("{p}/regions/{REGION}/routers/r"),
            json!({}),
        ),
        "router",
    );
    check(
        &compute,
        "RouterList",
        &call(
            &emu,
            "GET",
            &format!("{p}/regions/{REGION}/routers"),
            json!({}),
        ),
        "routers",
    );
    check(
        &compute,
        "Zone",
        &call(&emu, "GET", &format!("{p}/zones/{ZONE}"), json!({})),
        "zone",
    );
    check(
        &compute,
        "Region",
        &call(&emu, "GET", &format!("{p}/regions/{REGION}"), json!({})),
        "region",
    );

    assert!(
        problems.is_empty(),
        "fields gcloud does not know:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_a_misspelt_field_at_any_depth() {
    let gke = messages("container", "v1");
    let mut problems = Vec::new();
    let cluster = json!({
        "name": "x", "endPoint": "1.2.3.4",
        "masterAuth": {"clusterCaCertificate": "x", "caCert": "y"},
        "nodePools": [{"name": "p", "config": {"machineTyp": "e2"}}],
    });
    unknown_fields(&gke, "Cluster", &cluster, "cluster", &mut problems);
    assert_eq!(
        problems,
        [
            "cluster.endPoint (not in Cluster)",
            "cluster.masterAuth.caCert (not in MasterAuth)",
            "cluster.nodePools.config.machineTyp (not in NodeConfig)",
        ]
    );
}

#[test]
fn compute_project_metadata_and_subnetworks_use_known_fields() {
    // What Ray's GCP bootstrap reads and writes (tests/gce_cluster_files.rs).
    let emu = GcpEmulator::start().unwrap();
    emu.state().tokens.insert("shape-test".into(), HUMAN.into());
    let compute = messages("compute", "v1");
    let mut problems = Vec::new();
    let mut check = |class: &str, value: &Value, what: &str| {
        assert!(compute.contains_key(class), "no class {class}");
        unknown_fields(&compute, class, value, what, &mut problems);
    };
    let p = format!("/compute/v1/projects/{PROJECT}");
    let project = call(&emu, "GET", &p, json!({}));
    check("Project", &project, "project");
    let mut metadata = project["commonInstanceMetadata"].clone();
    metadata["items"] = json!([{"key": "ssh-keys", "value": "kas:ssh-rsa AAAA kas"}]);
    let op = call(
        &emu,
        "POST",
        &format!("{p}/setCommonInstanceMetadata"),
        metadata,
    );
    check("Operation", &op, "setCommonInstanceMetadata");
    let project = call(&emu, "GET", &p, json!({}));
    check("Project", &project, "project with metadata");
    assert_eq!(
        project["commonInstanceMetadata"]["items"][0]["key"],
        "ssh-keys"
    );
    let subnets = call(
        &emu,
        "GET",
        &format!("{p}/regions/{REGION}/subnetworks"),
        json!({}),
    );
    check("SubnetworkList", &subnets, "subnetworks");
    assert_eq!(subnets["items"].as_array().map(Vec::len), Some(1));
    let subnet = call(
        &emu,
        "GET",
        &format!("{p}/regions/{REGION}/subnetworks/default"),
        json!({}),
    );
    check("Subnetwork", &subnet, "subnetwork");
    assert!(
        problems.is_empty(),
        "fields gcloud does not know:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_stale_metadata_fingerprint_is_refused() {
    let emu = GcpEmulator::start().unwrap();
    emu.state().tokens.insert("shape-test".into(), HUMAN.into());
    let p = format!("/compute/v1/projects/{PROJECT}");
    let stale = json!({"fingerprint": "c3RhbGU=", "items": [{"key": "k", "value": "v"}]});
    let body = stale.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    write!(
        stream,
        "POST {p}/setCommonInstanceMetadata HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer shape-test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 412"), "{answer}");
    assert!(answer.contains("conditionNotMet"), "{answer}");
    assert!(
        emu.state().project_metadata.get("items").is_none(),
        "nothing written"
    );
}
