//! The stand-in KubeRay chart with the real helm, and the RayCluster
//! controller.

use serde_json::Value;

use crate::support::*;

#[test]
fn helm_installs_waits_lists_and_uninstalls_the_stand_in_chart() {
    let Some(emu) = start() else { return };
    if !have("helm") {
        return;
    }
    let out = ok(emu.helm().args([
        "install",
        "kuberay-operator",
        CHART,
        "-n",
        "ray-system",
        "--create-namespace",
        "--wait",
        "--timeout",
        "60s",
    ]));
    assert!(out.contains("STATUS: deployed"), "{out}");

    let list: Value = serde_json::from_str(&ok(emu.helm().args([
        "list",
        "-n",
        "ray-system",
        "-o",
        "json",
    ])))
    .unwrap();
    assert_eq!(list[0]["name"], "kuberay-operator");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "kuberay-operator-1.7.0");

    let crd = kubectl_json(&emu, &["get", "crd", "rayclusters.ray.io"]);
    let established = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established, "{crd}");
    let deploy = kubectl_json(
        &emu,
        &["get", "deployment", "kuberay-operator", "-n", "ray-system"],
    );
    assert_eq!(deploy["status"]["availableReplicas"], 1);
    kubectl(
        &emu,
        &[
            "get",
            "serviceaccount",
            "kuberay-operator",
            "-n",
            "ray-system",
        ],
    );
    kubectl(&emu, &["get", "clusterrolebinding", "kuberay-operator"]);
    let resources = kubectl(&emu, &["api-resources", "--api-group=ray.io", "-o", "name"]);
    let mut resources: Vec<&str> = resources.lines().collect();
    resources.sort();
    assert_eq!(
        resources,
        ["rayclusters.ray.io", "rayjobs.ray.io", "rayservices.ray.io"]
    );

    // Helm keeps the release in a Secret it writes as protobuf.
    let log = emu.requests();
    assert!(log.iter().any(|r| r.method == "POST"
        && r.path == "/api/v1/namespaces/ray-system/secrets"
        && r.content_type == "application/vnd.kubernetes.protobuf"
        && r.status == 201));

    let out = ok(emu.helm().args([
        "uninstall",
        "kuberay-operator",
        "-n",
        "ray-system",
        "--wait",
        "--timeout",
        "60s",
    ]));
    assert!(out.contains("uninstalled"), "{out}");
    assert!(
        emu.list("apps", "deployments", Some("ray-system"))
            .is_empty()
    );
    assert!(emu.list("", "secrets", Some("ray-system")).is_empty());
    let list = ok(emu.helm().args(["list", "-A", "-q"]));
    assert_eq!(list.trim(), "");
    // As with any Helm chart, CRDs from crds/ stay; deleting one removes
    // its resources from discovery.
    kubectl(&emu, &["get", "crd", "rayclusters.ray.io"]);
    kubectl(
        &emu,
        &[
            "delete",
            "crd",
            "rayclusters.ray.io",
            "rayjobs.ray.io",
            "rayservices.ray.io",
            "--timeout=20s",
        ],
    );
    assert_eq!(
        kubectl(&emu, &["api-resources", "--api-group=ray.io", "-o", "name"]),
        ""
    );
    fails(emu.kubectl().args(["get", "rayclusters"]));
}

#[test]
fn the_raycluster_controller_brings_up_and_replaces_pods() {
    let Some(emu) = start() else { return };
    kubectl(&emu, &["apply", "-f", CRD]);
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Established",
            "crd/rayclusters.ray.io",
            "--timeout=20s",
        ],
    );
    kubectl(
        &emu,
        &["apply", "-f", "tests/fixtures/kube/raycluster.yaml"],
    );
    let head_selector = "ray.io/cluster=raytest,ray.io/node-type=head";
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            head_selector,
            "--timeout=20s",
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=jsonpath={.status.state}=ready",
            "raycluster/raytest",
            "--timeout=20s",
        ],
    );

    let heads = kubectl_json(&emu, &["get", "pods", "-l", head_selector]);
    let head = &heads["items"][0];
    let first_head = head["metadata"]["name"].as_str().unwrap().to_string();
    assert!(first_head.starts_with("raytest-head-"), "{first_head}");
    assert_eq!(head["metadata"]["labels"]["ray.io/group"], "headgroup");
    assert_eq!(head["metadata"]["labels"]["team"], "kas");
    assert_eq!(
        head["metadata"]["annotations"]["emulator.kas.dev/forward-8265"],
        "127.0.0.1:9"
    );
    assert_eq!(head["metadata"]["ownerReferences"][0]["kind"], "RayCluster");

    let workers = kubectl_json(
        &emu,
        &[
            "get",
            "pods",
            "-l",
            "ray.io/cluster=raytest,ray.io/node-type=worker,ray.io/group=cpu",
        ],
    );
    assert_eq!(names(&workers).len(), 2);
    assert!(
        names(&workers)
            .iter()
            .all(|n| n.starts_with("raytest-cpu-worker-"))
    );

    let svc = kubectl_json(&emu, &["get", "service", "raytest-head-svc"]);
    let ports: Vec<i64> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [6379, 8265, 10001]);
    assert_eq!(svc["spec"]["selector"]["ray.io/node-type"], "head");

    let printed = kubectl(&emu, &["get", "raycluster", "raytest"]);
    assert!(
        printed.lines().next().unwrap().contains("DESIRED WORKERS"),
        "{printed}"
    );
    assert!(
        printed.lines().nth(1).unwrap().contains(" ready "),
        "{printed}"
    );
    let cluster = kubectl_json(&emu, &["get", "raycluster", "raytest"]);
    let status = &cluster["status"];
    assert_eq!(status["state"], "ready");
    assert_eq!(status["head"]["podName"], first_head.as_str());
    assert_eq!(status["head"]["podIP"], head["status"]["podIP"]);
    assert_eq!(status["head"]["serviceIP"], svc["spec"]["clusterIP"]);
    assert_eq!(status["availableWorkerReplicas"], 2);
    assert_eq!(status["endpoints"]["dashboard"], "8265");
    // One head (1 CPU, 2Gi) and two workers (500m, 1Gi each, from limits).
    assert_eq!(status["desiredCPU"], "2");
    assert_eq!(status["desiredMemory"], "4Gi");
    assert_eq!(status["desiredGPU"], "0");

    // A deleted head pod comes back under a new name, Ready.
    kubectl(&emu, &["delete", "pod", &first_head, "--timeout=20s"]);
    eventually("a new head pod is Ready", || {
        let heads = kubectl_json(&emu, &["get", "pods", "-l", head_selector]);
        heads["items"].as_array().unwrap().iter().any(|p| {
            p["metadata"]["name"] != first_head.as_str() && p["status"]["phase"] == "Running"
        })
    });
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            head_selector,
            "--timeout=20s",
        ],
    );

    // Scaling the worker group through the custom resource (merge patch).
    let scale = r#"{"spec":{"workerGroupSpecs":[{"groupName":"cpu","replicas":1,"minReplicas":0,"maxReplicas":4,"template":{"spec":{"containers":[{"name":"ray-worker","image":"rayproject/ray:2.40.0"}]}}}]}}"#;
    kubectl(
        &emu,
        &[
            "patch",
            "raycluster",
            "raytest",
            "--type=merge",
            "-p",
            scale,
        ],
    );
    eventually("one worker is left", || {
        emu.list("", "pods", Some("default")).len() == 2
    });

    // Suspended, a cluster has no pods; resumed, it gets them back.
    let suspend = |on: bool| format!(r#"{{"spec":{{"suspend":{on}}}}}"#);
    kubectl(
        &emu,
        &[
            "patch",
            "raycluster",
            "raytest",
            "--type=merge",
            "-p",
            &suspend(true),
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=jsonpath={.status.state}=suspended",
            "raycluster/raytest",
            "--timeout=20s",
        ],
    );
    assert!(emu.list("", "pods", Some("default")).is_empty());
    kubectl(
        &emu,
        &[
            "patch",
            "raycluster",
            "raytest",
            "--type=merge",
            "-p",
            &suspend(false),
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=jsonpath={.status.state}=ready",
            "raycluster/raytest",
            "--timeout=20s",
        ],
    );
    assert_eq!(emu.list("", "pods", Some("default")).len(), 2);

    // Deleting the cluster takes its pods and service with it.
    kubectl(&emu, &["delete", "raycluster", "raytest", "--timeout=20s"]);
    eventually("the cluster's pods and service are gone", || {
        emu.list("", "pods", Some("default")).is_empty()
            && emu
                .get("", "services", "default", "raytest-head-svc")
                .is_none()
    });
}

/// A copy of the emulator tests' RayCluster with `change` applied.
fn raycluster_with(dir: &std::path::Path, name: &str, change: impl Fn(&mut Value)) -> String {
    let text = std::fs::read_to_string("tests/fixtures/kube/raycluster.yaml").unwrap();
    let mut cluster: Value = serde_yaml::from_str(&text).unwrap();
    change(&mut cluster);
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_custom_resource_that_breaks_its_crd_schema_is_invalid_with_field_paths() {
    let Some(emu) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    // KubeRay's full CRD: its pod template schema requires containers.
    kubectl(
        &emu,
        &[
            "create",
            "-f",
            "tests/fixtures/crds/ray.io_rayclusters.yaml",
        ],
    );
    kubectl(
        &emu,
        &[
            "wait",
            "--for=condition=Established",
            "crd/rayclusters.ray.io",
            "--timeout=20s",
        ],
    );
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "text",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["replicas"] = "two".into()),
            "spec.workerGroupSpecs[0].replicas: Invalid value: \"string\": \
             spec.workerGroupSpecs[0].replicas in body must be of type integer: \"string\"",
        ),
        (
            "fraction",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 1.5.into()),
            "spec.workerGroupSpecs[0].maxReplicas: Invalid value: \"number\"",
        ),
        (
            "huge",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["replicas"] = 4_000_000_000u64.into()),
            "spec.workerGroupSpecs[0].replicas: Invalid value: 4000000000: \
             spec.workerGroupSpecs[0].replicas in body must be of type int32",
        ),
        (
            "nohead",
            Box::new(|c| {
                c["spec"].as_object_mut().unwrap().remove("headGroupSpec");
            }),
            "spec.headGroupSpec: Required value",
        ),
        (
            "nocontainers",
            Box::new(|c| {
                c["spec"]["headGroupSpec"]["template"]["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("containers");
            }),
            "spec.headGroupSpec.template.spec.containers: Required value",
        ),
        (
            "startparam",
            Box::new(|c| c["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 2.into()),
            "spec.headGroupSpec.rayStartParams.num-cpus: Invalid value: \"integer\"",
        ),
        (
            "badname",
            Box::new(|c| c["metadata"]["name"] = "Ray_Test".into()),
            "metadata.name: Invalid value: \"Ray_Test\": a lowercase RFC 1123 subdomain",
        ),
    ];
    for (name, change, message) in cases {
        let file = raycluster_with(dir.path(), name, change);
        let err = fails(emu.kubectl().args(["apply", "-f", &file]));
        assert!(err.contains("is invalid"), "{name}: {err}");
        assert!(err.contains(message), "{name}: {err}");
        assert!(
            kubectl_json(&emu, &["get", "rayclusters", "-A"])["items"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{name}: stored anyway"
        );
    }
    // Two mistakes at once: both named.
    let file = raycluster_with(dir.path(), "two", |c| {
        c["spec"]["workerGroupSpecs"][0]["replicas"] = "two".into();
        c["spec"]["workerGroupSpecs"][0]["groupName"] = 7.into();
    });
    let err = fails(emu.kubectl().args(["apply", "-f", &file]));
    assert!(err.contains("spec.workerGroupSpecs[0].replicas"), "{err}");
    assert!(err.contains("spec.workerGroupSpecs[0].groupName"), "{err}");

    // A valid one is stored; a patch that breaks it is refused and leaves it.
    kubectl(
        &emu,
        &["apply", "-f", "tests/fixtures/kube/raycluster.yaml"],
    );
    let err = fails(emu.kubectl().args([
        "patch",
        "raycluster",
        "raytest",
        "--type=merge",
        "--patch",
        r#"{"spec":{"workerGroupSpecs":[{"groupName":"cpu","replicas":"x","minReplicas":0,"maxReplicas":4,"template":{"spec":{"containers":[{"name":"w","image":"i"}]}}}]}}"#,
    ]));
    assert!(
        err.contains("spec.workerGroupSpecs[0].replicas: Invalid value"),
        "{err}"
    );
    let stored = kubectl_json(&emu, &["get", "raycluster", "raytest"]);
    assert_eq!(stored["spec"]["workerGroupSpecs"][0]["replicas"], 2);
}
