//! `kubectl ray` end to end: the real binary drives the real kubectl, helm
//! and gcloud against the Kubernetes API emulator, with the stand-in
//! KubeRay chart (`tests/fixtures/charts/kuberay-operator`).

use std::path::PathBuf;
use std::process::{Command, Output};

use kas_test_support::kube_world::{KubeWorld, TOKEN, tools_present};
use kas_test_support::root;

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";

/// The shared Kubernetes world (emulator, kas.yaml with the stand-in
/// chart, a throwaway gcloud configuration with a token, a recording
/// `kubectl`), with this suite's questions about it.
struct World(KubeWorld);

impl std::ops::Deref for World {
    type Target = KubeWorld;
    fn deref(&self) -> &KubeWorld {
        &self.0
    }
}

impl World {
    fn new() -> Option<World> {
        KubeWorld::new("").map(World)
    }

    fn kubectl_ray(&self, args: &[&str]) -> Output {
        // Every wait is bounded, so a test that goes wrong still ends.
        let bound: &[&str] = if args.contains(&"--timeout") {
            &[]
        } else {
            &["--timeout", "90s"]
        };
        let mut cmd = self.command(env!("CARGO_BIN_EXE_kubectl-ray"));
        cmd.args(args).args(bound);
        self.output(cmd, &format!("kubectl ray {}", args.join(" ")))
    }

    /// Runs and returns the exit status.
    fn code(&self, args: &[&str]) -> i32 {
        self.kubectl_ray(args).status.code().unwrap_or(-1)
    }

    fn kubectl_argv(&self) -> String {
        self.kubectl.argv()
    }

    fn crd(&self) -> Option<serde_json::Value> {
        self.emu.get(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            "rayclusters.ray.io",
        )
    }

    fn cluster(&self, name: &str) -> Option<serde_json::Value> {
        self.emu.get("ray.io", "rayclusters", "default", name)
    }

    fn release_secrets(&self) -> usize {
        self.emu
            .list("", "secrets", Some("ray"))
            .into_iter()
            .filter(|s| s["metadata"]["labels"]["owner"] == "helm")
            .count()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn operator_install_status_and_uninstall() {
    let Some(w) = World::new() else { return };
    assert_eq!(w.code(&["=="]), 1, "no operator yet");
    assert_eq!(w.code(&["++"]), 0);
    assert!(w.crd().is_some(), "the chart's CRD is installed");
    assert!(w.release_secrets() > 0, "the release is recorded");
    assert_eq!(w.code(&["operator", "status"]), 0);
    w.take_mutations();
    assert_eq!(w.code(&["++"]), 0);
    assert_eq!(
        w.take_mutations(),
        Vec::<String>::new(),
        "`++` again changes nothing"
    );
    assert_eq!(w.code(&["--"]), 0);
    assert!(w.crd().is_none(), "the CRD is gone");
    assert_eq!(w.release_secrets(), 0, "the release is gone");
    assert!(
        w.emu.get("", "namespaces", "", "ray").is_none(),
        "the namespace is gone"
    );
    assert_eq!(w.code(&["=="]), 1);
}

#[test]
fn cluster_up_status_down() {
    let Some(w) = World::new() else { return };
    assert_eq!(w.code(&["=", LOCAL]), 1, "nothing yet");
    let out = w.kubectl_ray(&["+", LOCAL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(w.crd().is_some(), "`+` installed the missing operator");
    assert!(w.cluster("local-cpu-only").is_some());
    let head = w.head_pod("local-cpu-only").expect("a head pod");
    let ready = head["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(ready, "`+` returned before the head pod was Ready: {head}");
    assert_eq!(w.code(&["=", LOCAL]), 0);

    w.take_mutations();
    assert_eq!(w.code(&["+", LOCAL]), 0);
    assert_eq!(
        w.take_mutations(),
        Vec::<String>::new(),
        "`+` again changes nothing"
    );

    assert_eq!(w.code(&["-", LOCAL]), 0);
    assert!(
        w.cluster("local-cpu-only").is_none(),
        "`-` returns once it is gone"
    );
    assert_eq!(w.code(&["=", LOCAL]), 1);
    assert_eq!(w.code(&["-", LOCAL]), 0, "`-` when gone is fine");
    assert_eq!(w.code(&["--"]), 0);
    assert!(w.crd().is_none());
}

#[test]
fn the_pull_secret_holds_the_token_and_no_argument_does() {
    let Some(w) = World::new() else { return };
    let out = w.kubectl_ray(&["+", LOCAL, "--verbose"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secret = w
        .emu
        .get("", "secrets", "default", "pull")
        .expect("secret `pull`");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let data = secret["data"][".dockerconfigjson"].as_str().unwrap();
    let config = kas_infra::exec::base64::decode(data).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["auths"]["europe-west4-docker.pkg.dev"]["password"], TOKEN,
        "{config}"
    );
    let argv = w.kubectl_argv();
    assert!(argv.contains("create --filename=-"), "{argv}");
    let annotations = secret["metadata"]["annotations"].to_string();
    assert!(
        !annotations.contains(TOKEN) && !annotations.contains(data),
        "the token was copied into an annotation: {annotations}"
    );
    assert!(
        !argv.contains(TOKEN),
        "a kubectl argument held the token:\n{argv}"
    );
    assert!(!stderr(&out).contains(TOKEN), "the token was printed");
    for r in w.emu.requests() {
        assert!(
            !r.query.contains(TOKEN),
            "a request's query held the token: {r}"
        );
    }
}

#[test]
fn a_legacy_file_is_accepted() {
    let Some(w) = World::new() else { return };
    let legacy = root().join("tests/fixtures/legacy/custom-resources.yaml");
    // The fixture lives in namespace `research`.
    let mut ns = w
        .emu
        .kubectl()
        .args(["apply", "--filename=-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    ns.stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: Namespace\nmetadata: {name: research}\n")
        .unwrap();
    let ns = ns.wait_with_output().unwrap();
    assert!(
        ns.status.success(),
        "{}",
        String::from_utf8_lossy(&ns.stderr)
    );
    let out = w.kubectl_ray(&["+", legacy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("legacy cluster.ray.io/v1"),
        "a warning says so"
    );
    let cluster = w
        .emu
        .get("ray.io", "rayclusters", "research", "legacy-custom")
        .unwrap();
    assert_eq!(cluster["spec"]["workerGroupSpecs"][0]["maxReplicas"], 4);
    assert_eq!(w.code(&["=", legacy.to_str().unwrap()]), 0);
    assert_eq!(w.code(&["-", legacy.to_str().unwrap()]), 0);
}

#[test]
fn finalizers_stop_a_deletion_until_forced() {
    let Some(w) = World::new() else { return };
    let file = w.dir.path().join("held.yaml");
    let text = std::fs::read_to_string(root().join(LOCAL))
        .unwrap()
        .replace(
            "  name: local-cpu-only\n",
            "  name: held\n  finalizers: [example.com/never-done]\n",
        );
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(w.code(&["+", file]), 0);
    let out = w.kubectl_ray(&["-", file, "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("example.com/never-done"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(w.cluster("held").is_some());
    assert_eq!(w.code(&["-", file, "--timeout", "2s", "--force"]), 0);
    assert!(w.cluster("held").is_none());
}

/// The changing requests of a clean run of `args` in a fresh world
/// (prepared by `prepare`).
fn mutations_of(prepare: &dyn Fn(&World), args: &[&str]) -> Vec<(String, String)> {
    let w = World::new().unwrap();
    prepare(&w);
    w.emu.clear_requests();
    assert_eq!(w.code(args), 0);
    w.emu
        .requests()
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .map(|r| (r.method, r.path))
        .collect()
}

/// Injects a failure into each changing request of a clean run in turn:
/// each run that fails says what failed, and a rerun converges.
fn each_fault(prepare: &dyn Fn(&World), args: &[&str], converged: &dyn Fn(&World) -> bool) {
    let requests = mutations_of(prepare, args);
    assert!(!requests.is_empty());
    let mut failed = 0;
    for (method, path) in &requests {
        let w = World::new().unwrap();
        prepare(&w);
        w.emu.fail_once(method, path, 500);
        let out = w.kubectl_ray(args);
        if out.status.code() != Some(0) {
            failed += 1;
            let err = stderr(&out);
            // Either the failing command's own message, or ours when Helm
            // swallowed it.
            assert!(
                err.contains("error: ")
                    && (err.contains("injected fault")
                        || err.contains("run `kubectl ray ++` again")),
                "{method} {path}: no clear message:\n{err}"
            );
        }
        let rerun = w.kubectl_ray(args);
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{method} {path}: the rerun failed"
        );
        assert!(converged(&w), "{method} {path}: the rerun did not converge");
    }
    eprintln!(
        "{failed} of {} injected faults failed the run",
        requests.len()
    );
    assert!(failed > 0);
}

#[test]
fn a_fault_in_any_change_of_operator_install_is_reported_and_a_rerun_converges() {
    if !tools_present() {
        return;
    }
    each_fault(&|_| {}, &["++"], &|w| w.code(&["=="]) == 0);
}

#[test]
fn a_fault_in_any_change_of_cluster_up_is_reported_and_a_rerun_converges() {
    if !tools_present() {
        return;
    }
    let prepare = |w: &World| assert_eq!(w.code(&["++"]), 0);
    each_fault(&prepare, &["+", LOCAL], &|w| w.code(&["=", LOCAL]) == 0);
}

#[test]
fn every_kubectl_and_helm_call_uses_the_given_kubeconfig_and_context() {
    let Some(w) = World::new() else { return };
    // A kubeconfig elsewhere, named by flag only: KUBECONFIG points nowhere.
    let config = w.dir.path().join("other-kubeconfig");
    let text = std::fs::read_to_string(w.emu.kubeconfig())
        .unwrap()
        .replace("current-context: emulator", "current-context: none");
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-ray"))
        .args([
            "++",
            "--kubeconfig",
            config.to_str().unwrap(),
            "--context",
            "emulator",
        ])
        .args(["--timeout", "90s"])
        .envs(w.emu.env())
        .env("KUBECONFIG", w.dir.path().join("missing"))
        .env("KAS_CONFIG", w.dir.path().join("kas.yaml"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.crd().is_some());
}

#[test]
fn a_head_pod_that_never_gets_ready_ends_the_wait_with_its_state() {
    let Some(w) = World::new() else { return };
    let mut cluster: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join(LOCAL)).unwrap()).unwrap();
    cluster["metadata"]["name"] = "stalled".into();
    cluster["spec"]["headGroupSpec"]["template"]["metadata"]["annotations"]["emulator.kas.dev/not-ready"] =
        "true".into();
    let file = w.dir.path().join("stalled.yaml");
    std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let out = w.kubectl_ray(&["+", file, "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("the head pod of RayCluster stalled is not Ready after 2s"),
        "{err}"
    );
    assert!(err.contains("stalled-head"), "names the pod: {err}");
    assert_eq!(w.code(&["=", file]), 1, "status: present but not ready");
    assert!(w.cluster("stalled").is_some());
}

/// A copy of local-cpu-only.yaml named `name`, in the test's folder.
fn renamed_local(w: &World, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(LOCAL)).unwrap();
    let mut cluster: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    cluster["metadata"]["name"] = name.into();
    let file = w.dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    file
}

#[test]
fn down_removes_the_pull_secret_once_no_other_cluster_names_it() {
    let Some(w) = World::new() else { return };
    let other = renamed_local(&w, "other");
    let other = other.to_str().unwrap();
    assert_eq!(w.code(&["+", LOCAL]), 0);
    assert_eq!(w.code(&["+", other]), 0);
    let secret = || w.emu.get("", "secrets", "default", "pull");
    assert!(secret().is_some());

    // `other` still names it: kept, and said why.
    let out = w.kubectl_ray(&["-", LOCAL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keeping pull secret pull: RayCluster other names it too"),
        "{}",
        stderr(&out)
    );
    assert!(
        secret().is_some(),
        "a secret another cluster uses was removed"
    );

    // The last one that names it: the secret, token and all, goes too.
    let out = w.kubectl_ray(&["-", other]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(w.cluster("other").is_none());
    assert!(
        secret().is_none(),
        "the pull secret (with its token) was left behind"
    );
    assert!(!stderr(&out).contains(TOKEN));

    // A secret someone else made under that name is not ours to delete.
    let made = w
        .emu
        .kubectl()
        .args(["create", "secret", "generic", "pull", "--from-literal=k=v"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let out = w.kubectl_ray(&["-", LOCAL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("keeping pull secret pull (not made by kubectl ray)"));
    assert!(secret().is_some());
}

#[test]
fn a_misspelt_empty_or_missing_operation_is_named_and_nothing_runs() {
    let Some(w) = World::new() else { return };
    w.emu.clear_requests();
    let cases: [(&[&str], &str); 5] = [
        (
            &["frobnicate"],
            "unknown operation `frobnicate`: expected one of == ++ -- = + - convert",
        ),
        (&[""], "an empty argument is no operation"),
        (&["-n", "x", " "], "an empty argument is no operation"),
        (
            &[LOCAL],
            "no operation given for yaml/k8s/local-cpu-only.yaml: put one of",
        ),
        (
            &["operator", "sideways"],
            "`operator` takes one of status, install, uninstall",
        ),
    ];
    for (args, message) in cases {
        let out = w.kubectl_ray(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("no operation given:"), "{args:?}: {err}");
    }
    assert_eq!(w.kubectl_argv(), "", "kubectl ran");
    assert!(w.emu.requests().is_empty(), "the API server was asked");
}

/// local-cpu-only.yaml with `change` applied, in the test's folder.
fn broken_local(w: &World, name: &str, change: impl Fn(&mut serde_yaml::Value)) -> String {
    let text = std::fs::read_to_string(root().join(LOCAL)).unwrap();
    let mut cluster: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    change(&mut cluster);
    let file = w.dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn an_invalid_raycluster_is_refused_with_its_field_before_anything_changes() {
    let Some(w) = World::new() else { return };
    type Change = Box<dyn Fn(&mut serde_yaml::Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "negative",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["replicas"] = (-1).into()),
            "spec.workerGroupSpecs[0].replicas: -1 is below 0",
        ),
        (
            "fraction",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["replicas"] = 1.5.into()),
            "spec.workerGroupSpecs[0].replicas: 1.5 is not a whole number",
        ),
        (
            "text",
            Box::new(|c| c["spec"]["workerGroupSpecs"][0]["maxReplicas"] = "many".into()),
            "spec.workerGroupSpecs[0].maxReplicas: \"many\" is not a whole number",
        ),
        (
            "nocontainers",
            Box::new(|c| {
                c["spec"]["headGroupSpec"]["template"]["spec"]["containers"] =
                    serde_yaml::Value::Sequence(vec![])
            }),
            "spec.headGroupSpec.template.spec.containers: is empty",
        ),
        (
            "badname",
            Box::new(|c| c["metadata"]["name"] = "Ray_Lab".into()),
            "metadata.name: `Ray_Lab` holds `R`",
        ),
        (
            "startparam",
            Box::new(|c| c["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 2.into()),
            "spec.headGroupSpec.rayStartParams.num-cpus: 2 must be a string",
        ),
    ];
    for (name, change, message) in cases {
        let file = broken_local(&w, name, change);
        w.emu.clear_requests();
        let out = w.kubectl_ray(&["+", &file]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("is not a valid RayCluster; nothing was changed"),
            "{name}: {err}"
        );
        assert!(err.contains(message), "{name}: {err}");
        assert_eq!(
            w.take_mutations(),
            Vec::<String>::new(),
            "{name}: something changed"
        );
    }
    assert!(
        w.crd().is_none(),
        "the operator was installed for a bad file"
    );
    assert_eq!(w.kubectl_argv(), "", "kubectl ran for a bad file");
}
