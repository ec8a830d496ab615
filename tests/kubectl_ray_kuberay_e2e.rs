//! KubeRay's command lines in `kubectl ray` end to end: the real binary
//! drives the real kubectl and helm against the Kubernetes API emulator
//! (whose RayCluster controller makes the pods and reports the status
//! KubeRay's operator reports), set up as in `kubectl_ray_e2e.rs`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kas_test_support::kube_world::KubeWorld;
use kas_test_support::root;
use kas_test_support::table::rows;
use serde_json::Value;

/// The shared Kubernetes world (emulator, kas.yaml naming the stand-in
/// KubeRay chart, a gcloud token for the pull secret, a recording
/// `kubectl`) with the operator installed.
struct World(KubeWorld);

impl std::ops::Deref for World {
    type Target = KubeWorld;
    fn deref(&self) -> &KubeWorld {
        &self.0
    }
}

impl World {
    fn new() -> Option<World> {
        let w = World(KubeWorld::new("")?);
        assert_eq!(w.code(&["++"]), 0, "the operator installs");
        Some(w)
    }

    fn kubectl_ray(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_kubectl-ray"));
        cmd.args(args);
        self.output(cmd, &format!("kubectl ray {}", args.join(" ")))
    }

    fn code(&self, args: &[&str]) -> i32 {
        self.kubectl_ray(args).status.code().unwrap_or(-1)
    }

    /// Standard output of a run that must succeed.
    fn stdout(&self, args: &[&str]) -> String {
        let out = self.kubectl_ray(args);
        assert_eq!(out.status.code(), Some(0), "kubectl ray {}", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn cluster(&self, name: &str) -> Option<Value> {
        self.emu.get("ray.io", "rayclusters", "default", name)
    }

    /// How many kubectl processes ran since the last call.
    fn kubectl_calls(&self) -> usize {
        let n = self.kubectl.argv().lines().count();
        let log = self.dir.path().join("kubectl-argv.log");
        let _ = std::fs::remove_file(log);
        n
    }

    /// Reruns `args` until `ok` holds for its output (pods take a moment).
    fn until(&self, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let out = self.stdout(args);
            if ok(&out) || start.elapsed() > Duration::from_secs(30) {
                return out;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn create_get_scale_and_delete_a_cluster() {
    let Some(w) = World::new() else { return };
    let created = w.stdout(&[
        "create",
        "cluster",
        "demo",
        "--worker-replicas",
        "1",
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert!(created.contains("Created Ray cluster: demo"), "{created}");
    assert!(
        created.contains("Ray cluster demo is provisioned"),
        "{created}"
    );
    let c = w.cluster("demo").expect("the RayCluster exists");
    let head = &c["spec"]["headGroupSpec"]["template"]["spec"];
    assert_eq!(
        head["imagePullSecrets"][0]["name"], "pull",
        "the project's pull secret"
    );
    assert!(
        w.emu.get("", "secrets", "default", "pull").is_some(),
        "made as `+` makes it"
    );

    let table = w.stdout(&["get", "cluster"]);
    assert!(table.starts_with(
        "NAME   NAMESPACE   DESIRED WORKERS   AVAILABLE WORKERS   CPUS   GPUS   TPUS   MEMORY   CONDITION"
    ), "{table}");
    let row = &rows(&table)[0];
    assert_eq!(row["NAME"], "demo");
    assert_eq!(row["NAMESPACE"], "default");
    assert_eq!(row["DESIRED WORKERS"], "1");
    assert_eq!(row["AVAILABLE WORKERS"], "1");
    assert_eq!(row["CPUS"], "4", "2 for the head, 2 for the worker");
    assert_eq!(row["MEMORY"], "8Gi");
    assert_eq!(row["GPUS"], "0");
    assert_eq!(row["CONDITION"], "RayClusterProvisioned");
    assert_eq!(row["STATUS"], "ready");
    assert!(row["AGE"].ends_with('s'), "{}", row["AGE"]);

    let said = w.stdout(&["scale", "cluster", "demo", "-w", "default-group", "-r", "2"]);
    assert!(said.contains("Scaled Replicas: 1 to 2"), "{said}");
    let nodes = w.until(&["get", "nodes"], |t| rows(t).len() == 3);
    let nodes = rows(&nodes);
    assert_eq!(nodes.len(), 3, "a head and two workers");
    assert_eq!(nodes.iter().filter(|n| n["TYPE"] == "worker").count(), 2);
    assert!(
        nodes
            .iter()
            .all(|n| n["CLUSTER"] == "demo" && n["CPUS"] == "2")
    );
    let groups = w.until(&["get", "workergroup"], |t| t.contains("2/2"));
    let group = &rows(&groups)[0];
    assert_eq!(
        (
            group["NAME"].as_str(),
            group["REPLICAS"].as_str(),
            group["CPUS"].as_str()
        ),
        ("default-group", "2/2", "4")
    );
    assert_eq!(
        (group["MIN"].as_str(), group["MAX"].as_str()),
        ("0", "2147483647")
    );

    // Refusals change nothing.
    w.take_mutations();
    let before = w.cluster("demo").unwrap()["spec"].clone();
    let refused: &[(&[&str], i32)] = &[
        (
            &[
                "scale",
                "cluster",
                "demo",
                "-w",
                "default-group",
                "--min-replicas",
                "3",
                "--max-replicas",
                "2",
            ],
            2,
        ),
        (
            &[
                "scale",
                "cluster",
                "demo",
                "-w",
                "default-group",
                "-r",
                "5",
                "--max-replicas",
                "4",
            ],
            2,
        ),
        (
            &[
                "scale",
                "cluster",
                "demo",
                "-w",
                "default-group",
                "--max-replicas",
                "1",
            ],
            2,
        ),
        (
            &["scale", "cluster", "demo", "-w", "no-such-group", "-r", "1"],
            3,
        ),
        (&["scale", "cluster", "demo", "-w", "default-group"], 2),
        (&["create", "cluster", "demo"], 3),
        (&["create", "workergroup", "default-group", "-c", "demo"], 3),
        (&["delete", "demo"], 2),
        (&["delete", "rayjob/demo", "-y"], 3),
    ];
    for (args, code) in refused {
        assert_eq!(w.code(args), *code, "kubectl ray {}", args.join(" "));
    }
    assert_eq!(w.take_mutations(), Vec::<String>::new(), "nothing changed");
    assert_eq!(w.cluster("demo").unwrap()["spec"], before);

    let said = w.stdout(&[
        "create",
        "workergroup",
        "big",
        "-c",
        "demo",
        "--worker-cpu",
        "1",
    ]);
    assert!(
        said.contains("Updated Ray cluster default/demo with new worker group"),
        "{said}"
    );
    let groups = w.until(&["get", "workergroup", "big", "-c", "demo"], |t| {
        t.contains("1/1")
    });
    let big = &rows(&groups)[0];
    assert_eq!(
        (
            big["MIN"].as_str(),
            big["MAX"].as_str(),
            big["REPLICAS"].as_str(),
            big["CPUS"].as_str()
        ),
        ("1", "10", "1/1", "1")
    );

    let json: Value =
        serde_json::from_str(&w.stdout(&["get", "cluster", "demo", "-o", "json"])).unwrap();
    assert_eq!(json[0]["name"], "demo");
    let yaml = w.stdout(&["get", "nodes", "-c", "demo", "-o", "yaml"]);
    assert!(yaml.contains("workerGroup: big"), "{yaml}");

    let gone = w.stdout(&["delete", "demo", "-y", "--wait", "--timeout", "60s"]);
    assert!(gone.contains("Deleted raycluster demo"), "{gone}");
    assert!(
        w.cluster("demo").is_none(),
        "--wait returns once it is gone"
    );
    assert_eq!(rows(&w.stdout(&["get", "cluster"])).len(), 0);
    assert_eq!(w.code(&["get", "cluster", "demo"]), 3, "not found");
}

#[test]
fn version_names_the_operator_image_tag() {
    let Some(w) = World::new() else { return };
    let out = w.stdout(&["version"]);
    let values =
        std::fs::read_to_string(root().join("tests/fixtures/charts/kuberay-operator/values.yaml"))
            .unwrap();
    let values: serde_yaml::Value = serde_yaml::from_str(&values).unwrap();
    let tag = values["image"]["tag"].as_str().unwrap().to_string();
    assert!(out.starts_with("kubectl ray plugin version: "), "{out}");
    assert!(
        out.contains(&format!("KubeRay operator version: {tag}")),
        "{out}"
    );
}

#[test]
fn get_over_many_clusters_is_one_kubectl_call() {
    let Some(w) = World::new() else { return };
    const N: usize = 500;
    // Suspended, so the emulator makes no pods for them.
    let items: Vec<Value> = (0..N)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "ray.io/v1", "kind": "RayCluster",
                "metadata": {"name": format!("c{i:03}"), "namespace": if i % 2 == 0 { "default" } else { "team" }},
                "spec": {"suspend": true, "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                    {"name": "ray-head", "image": "rayproject/ray:2.52.0",
                     "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}},
                    "workerGroupSpecs": [{"groupName": "g", "replicas": 0, "minReplicas": 0, "maxReplicas": 3,
                        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}}}]}
            })
        })
        .collect();
    let team = serde_json::json!({"metadata": {"name": "team"}});
    w.emu.create_many("", "namespaces", vec![team]).unwrap();
    w.emu.create_many("ray.io", "rayclusters", items).unwrap();
    w.kubectl_calls();

    // Once the controllers have settled (every status written), so the
    // figure is the read's alone.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(60)
        && w.emu
            .list("ray.io", "rayclusters", None)
            .iter()
            .any(|c| c["status"]["state"] != "suspended")
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut took = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let table = w.stdout(&["get", "cluster", "-A"]);
        took.push(start.elapsed());
        assert_eq!(rows(&table).len(), N, "every cluster, one row each");
        assert!(table.contains("c499   team"), "its namespace shown");
        assert_eq!(
            w.kubectl_calls(),
            1,
            "one kubectl process for {N} RayClusters"
        );
    }
    // Figures for the notes, not timed assertions: ours, and kubectl's
    // own read of the same list.
    eprintln!("get cluster -A over {N} RayClusters (wall, 3 runs): {took:?}");
    let start = Instant::now();
    let plain = w
        .emu
        .kubectl()
        .args([
            "get",
            "rayclusters.ray.io",
            "--all-namespaces",
            "--output=json",
        ])
        .output()
        .unwrap();
    assert!(plain.status.success());
    eprintln!(
        "kubectl get rayclusters.ray.io -A -o json alone: {:?}",
        start.elapsed()
    );

    let groups = w.stdout(&["get", "workergroup", "-A"]);
    assert_eq!(rows(&groups).len(), N);
    assert!(groups.starts_with("NAMESPACE   NAME"), "{groups}");
    assert_eq!(w.kubectl_calls(), 1, "rayclusters and pods in one call");
    let _ = w.stdout(&["get", "nodes", "-A"]);
    assert_eq!(w.kubectl_calls(), 1);
}

/// The command lines of KubeRay's v1.7 plugin (its help examples and
/// flags) for `create`, `get`, `scale`, `delete` and `version`, each run
/// against the emulator with the exit status it must give.
#[test]
fn kuberay_command_lines_are_taken() {
    let Some(w) = World::new() else { return };
    let ns = serde_json::json!({"metadata": {"name": "my-namespace"}});
    w.emu.create_many("", "namespaces", vec![ns]).unwrap();
    let tpu = "cloud.google.com/gke-tpu-accelerator=tpu-v5-lite-podslice,cloud.google.com/gke-tpu-topology=1x1";
    let lines: &[(&str, i32)] = &[
        ("version", 0),
        ("create cluster sample-cluster", 0),
        (
            "create cluster c2 --ray-version 2.52.0 --image rayproject/ray:2.52.0 --head-cpu 1 --head-memory 5Gi --head-ephemeral-storage 10Gi --worker-replicas 3 --worker-cpu 1 --worker-memory 5Gi --worker-ephemeral-storage 10Gi",
            0,
        ),
        (
            "create cluster c3 --labels app=ray,env=dev --annotations ttl-hours=24,owner=chthulu",
            0,
        ),
        (
            &format!("create cluster c4 --worker-tpu 1 --worker-node-selectors {tpu}"),
            0,
        ),
        ("create cluster c5 --file ray-cluster-config.yaml", 2),
        (
            "create cluster c6 --autoscaler v2 --head-ray-start-params dashboard-host=0.0.0.0,num-cpus=2 --worker-ray-start-params metrics-export-port=8080 --num-of-hosts 2 --head-gpu 0 --worker-gpu 0",
            0,
        ),
        (
            "create cluster c7 --head-node-selectors cloud.google.com/gke-nodepool=my-node-pool --worker-node-selectors cloud.google.com/gke-accelerator=nvidia-l4 --wait --timeout 5m0s",
            0,
        ),
        ("create cluster c8 --dry-run", 0),
        ("create cluster my-raycluster -n my-namespace --wait", 0),
        (
            "create workergroup example-group --ray-cluster sample-cluster",
            0,
        ),
        (
            "create workergroup example-group2 --ray-cluster sample-cluster --image rayproject/ray:2.52.0 --worker-cpu 2 --worker-memory 5Gi",
            0,
        ),
        (
            &format!(
                "create workergroup example-tpu-group --ray-cluster sample-cluster --worker-tpu 1 --worker-node-selectors {tpu}"
            ),
            0,
        ),
        (
            "create workergroup g4 -c sample-cluster --worker-replicas 2 --num-of-hosts 1 --worker-min-replicas 1 --worker-max-replicas 3 --worker-gpu 0 --worker-tpu 0 --ray-version 2.52.0 --worker-ray-start-params num-cpus=2",
            0,
        ),
        ("get cluster", 0),
        ("get cluster sample-cluster", 0),
        ("get clusters --all-namespaces", 0),
        ("list cluster -A", 0),
        ("get workergroup", 0),
        ("get workergroup --all-namespaces", 0),
        ("get workergroup --namespace my-namespace", 0),
        (
            "get workergroup --ray-cluster my-raycluster --all-namespaces",
            0,
        ),
        (
            "get workergroup --namespace my-namespace --ray-cluster my-raycluster",
            0,
        ),
        (
            "get workergroup default-group --namespace my-namespace --ray-cluster my-raycluster",
            0,
        ),
        ("get workergroups -c sample-cluster", 0),
        ("get node", 0),
        ("get nodes --all-namespaces", 0),
        ("get node --namespace my-namespace", 0),
        ("get node --ray-cluster my-raycluster --all-namespaces", 0),
        (
            "get node --namespace my-namespace --ray-cluster my-raycluster",
            0,
        ),
        (
            "get node no-such-pod --namespace my-namespace --ray-cluster my-raycluster",
            3,
        ),
        ("get token sample-cluster", 3),
        (
            "scale cluster sample-cluster --worker-group default-group --replicas 3",
            0,
        ),
        (
            "scale cluster sample-cluster --worker-group default-group --max-replicas 10",
            0,
        ),
        (
            "scale cluster sample-cluster --worker-group default-group --min-replicas 2 --max-replicas 6",
            0,
        ),
        (
            "scale cluster sample-cluster --worker-group default-group --replicas 5 --min-replicas 3 --max-replicas 7",
            0,
        ),
        ("scale cluster sample-cluster -w default-group -r 5", 0),
        ("delete sample-raycluster", 3),
        ("delete c2", 2),
        ("delete c2 -y", 0),
        ("delete raycluster/c3 -y", 0),
        ("delete rayjob/sample-rayjob -y", 3),
        ("delete rayservice/sample-rayservice -y", 3),
        ("delete c4 c6 --yes --wait", 0),
    ];
    for (line, code) in lines {
        let args: Vec<&str> = line.split(' ').collect();
        assert_eq!(w.code(&args), *code, "kubectl ray {line}");
    }
    let pods = w.emu.list("", "pods", Some("my-namespace"));
    let node = pods[0]["metadata"]["name"].as_str().unwrap();
    let args = [
        "get",
        "node",
        node,
        "-n",
        "my-namespace",
        "-c",
        "my-raycluster",
    ];
    assert_eq!(rows(&w.stdout(&args)).len(), 1);
    assert!(w.cluster("c4").is_none() && w.cluster("c6").is_none());
    assert!(w.cluster("c8").is_none(), "--dry-run made nothing");
}

/// A CRD of KubeRay's that the stand-in chart does not install, open
/// schema: enough to store and delete such objects.
fn crd(kind: &str, plural: &str) -> Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.ray.io")},
        "spec": {"group": "ray.io", "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

#[test]
fn delete_takes_rayjobs_and_rayservices_too() {
    let Some(w) = World::new() else { return };
    // Made here unless the chart brought them.
    let crds: Vec<Value> = [("RayJob", "rayjobs"), ("RayService", "rayservices")]
        .into_iter()
        .filter(|(_, plural)| {
            let name = format!("{plural}.ray.io");
            w.emu
                .get(
                    "apiextensions.k8s.io",
                    "customresourcedefinitions",
                    "",
                    &name,
                )
                .is_none()
        })
        .map(|(kind, plural)| crd(kind, plural))
        .collect();
    w.emu
        .create_many("apiextensions.k8s.io", "customresourcedefinitions", crds)
        .unwrap();
    let start = Instant::now();
    while w.emu.get("ray.io", "rayjobs", "default", "train").is_none()
        && start.elapsed() < Duration::from_secs(10)
    {
        let job = serde_json::json!({"apiVersion": "ray.io/v1", "kind": "RayJob",
            "metadata": {"name": "train", "namespace": "default"}, "spec": {}});
        let svc = serde_json::json!({"apiVersion": "ray.io/v1", "kind": "RayService",
            "metadata": {"name": "serve", "namespace": "default"}, "spec": {}});
        if w.emu.create_many("ray.io", "rayjobs", vec![job]).is_ok()
            && w.emu
                .create_many("ray.io", "rayservices", vec![svc])
                .is_ok()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(w.emu.get("ray.io", "rayjobs", "default", "train").is_some());
    let out = w.stdout(&["delete", "rayjob/train", "rayservice/serve", "-y", "--wait"]);
    assert!(
        out.contains("Deleted rayjob train") && out.contains("Deleted rayservice serve"),
        "{out}"
    );
    assert!(w.emu.get("ray.io", "rayjobs", "default", "train").is_none());
    assert!(
        w.emu
            .get("ray.io", "rayservices", "default", "serve")
            .is_none()
    );
    assert_eq!(
        w.code(&["delete", "RayJob/train", "-y"]),
        3,
        "gone: not found"
    );
    assert_eq!(
        w.code(&["delete", "pods/x", "-y"]),
        2,
        "not one of KubeRay's kinds"
    );
}

#[test]
fn get_token_prints_the_token_of_a_token_cluster() {
    let Some(w) = World::new() else { return };
    let cluster = serde_json::json!({"apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": "secure", "namespace": "default"},
        "spec": {"authOptions": {"mode": "token"}, "headGroupSpec": {"rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}}});
    w.emu
        .create_many("ray.io", "rayclusters", vec![cluster])
        .unwrap();
    // What KubeRay's operator keeps: the token under auth_token.
    let secret = serde_json::json!({"metadata": {"name": "secure", "namespace": "default"},
        "type": "Opaque", "data": {"auth_token": "czNjcjN0LXJheS10b2tlbg=="}});
    w.emu.create_many("", "secrets", vec![secret]).unwrap();
    w.kubectl_calls();
    assert_eq!(w.stdout(&["get", "token", "secure"]), "s3cr3t-ray-token\n");
    assert_eq!(
        w.kubectl_calls(),
        1,
        "the cluster and its secret in one call"
    );
    let json: Value =
        serde_json::from_str(&w.stdout(&["get", "token", "secure", "-o", "json"])).unwrap();
    assert_eq!(json[0]["token"], "s3cr3t-ray-token");
    assert_eq!(w.code(&["get", "token", "nobody"]), 3);
}

#[test]
fn completion_offers_kuberay_words_clusters_and_groups() {
    let Some(w) = World::new() else { return };
    assert_eq!(w.code(&["create", "cluster", "demo"]), 0);
    let complete = |words: &[&str]| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl_complete-ray"))
            .args(words)
            .envs(w.emu.env())
            .env("PATH", w.kubectl.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    let top = complete(&[""]);
    for word in ["get", "create", "scale", "delete", "version", "+", "=="] {
        assert!(top.contains(&word.to_string()), "{word} in {top:?}");
    }
    assert!(complete(&["get", "workergroup", "-c", ""]).contains(&"demo".to_string()));
    assert!(
        complete(&["scale", "cluster", "demo", "-w", ""]).contains(&"default-group".to_string())
    );
    assert!(complete(&["delete", ""]).contains(&"demo".to_string()));
    assert!(complete(&["get", ""]).contains(&"node".to_string()));
}

#[test]
fn kubectls_other_connection_flags_reach_every_call() {
    let Some(w) = World::new() else { return };
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(w.emu.kubeconfig()).unwrap()).unwrap();
    let user = config["users"][0]["name"].as_str().unwrap().to_string();
    let cluster = config["clusters"][0]["name"].as_str().unwrap().to_string();
    w.kubectl_calls();
    let args = [
        "get",
        "cluster",
        "--user",
        &user,
        "--cluster",
        &cluster,
        "--request-timeout",
        "30s",
    ];
    assert_eq!(w.code(&args), 0);
    let argv = w.kubectl.argv();
    assert!(!argv.is_empty());
    for line in argv.lines() {
        assert!(
            line.contains(&format!("--user={user}"))
                && line.contains(&format!("--cluster={cluster}"))
                && line.contains("--request-timeout=30s"),
            "{line}"
        );
    }
    // A server that is not there: kubectl was told so, and fails.
    assert_eq!(
        w.code(&["get", "cluster", "--server", "https://127.0.0.1:1"]),
        3
    );
    // A token on the command line is refused before any kubectl runs, and
    // not repeated.
    w.kubectl_calls();
    let out = w.kubectl_ray(&["get", "cluster", "--token", "s3cret-token"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--user NAME") && !said.contains("s3cret"),
        "{said}"
    );
    assert_eq!(w.kubectl_calls(), 0);
}
