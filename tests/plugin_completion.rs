//! Completion of `kubectl ray` and `kubectl kas` through the real kubectl:
//! `kubectl __complete ray ...` runs our `kubectl_complete-ray` from PATH,
//! which asks the real kubectl about the Kubernetes API emulator (contexts,
//! namespaces, RayClusters) and reads the live forwards' records.

use kas_test_support::kube_world::KubeWorld;
use kas_test_support::root;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const LOCAL: &str = "yaml/k8s/local-cpu-only.yaml";

/// The shared Kubernetes world, with the plugins and their completion
/// executables in its `bin/` as installed (`kubectl-ray`,
/// `kubectl_complete-ray`, ...).
struct World(KubeWorld);

impl std::ops::Deref for World {
    type Target = KubeWorld;
    fn deref(&self) -> &KubeWorld {
        &self.0
    }
}

impl World {
    fn new() -> Option<World> {
        let world = KubeWorld::new(
            "kas:\n  kubernetes:\n    head_wait_seconds: 60\n    forward_wait_seconds: 30\n",
        )?;
        let bin = world.path().join("bin");
        for (name, exe) in [
            ("kubectl-ray", env!("CARGO_BIN_EXE_kubectl-ray")),
            ("kubectl-kas", env!("CARGO_BIN_EXE_kubectl-kas")),
            (
                "kubectl_complete-ray",
                env!("CARGO_BIN_EXE_kubectl_complete-ray"),
            ),
            (
                "kubectl_complete-kas",
                env!("CARGO_BIN_EXE_kubectl_complete-kas"),
            ),
        ] {
            std::os::unix::fs::symlink(exe, bin.join(name)).unwrap();
        }
        Some(World(world))
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = self.0.command(program);
        cmd.args(args);
        cmd
    }

    /// Runs `kubectl ARGS` and asserts it succeeded; its stdout.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.command("kubectl", args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!(
            "$ kubectl {} -> {:?}\n{stdout}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "kubectl {}", args.join(" "));
        stdout
    }

    /// `kubectl __complete PLUGIN WORDS...`: the candidates (without their
    /// help) and the directive.
    fn complete(&self, words: &[&str]) -> (Vec<String>, String) {
        let args: Vec<&str> = ["__complete"].iter().chain(words).copied().collect();
        let out = self.kubectl(&args);
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        let directive = lines.pop().unwrap_or_default();
        let values = lines
            .iter()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect();
        (values, directive)
    }

    /// A copy of local-cpu-only.yaml named `name` with a worker group.
    fn cluster_file(&self, name: &str, group: &str) -> PathBuf {
        let text = std::fs::read_to_string(root().join(LOCAL)).unwrap();
        let mut cluster: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        cluster["metadata"]["name"] = name.into();
        let template = cluster["spec"]["headGroupSpec"]["template"].clone();
        let worker: serde_yaml::Value = serde_yaml::from_str(&format!(
            "groupName: {group}\nreplicas: 0\nminReplicas: 0\nmaxReplicas: 1\nrayStartParams: {{}}\n"
        ))
        .unwrap();
        let mut worker = worker;
        worker["template"] = template;
        cluster["spec"]["workerGroupSpecs"] = vec![worker].into();
        let file = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, serde_yaml::to_string(&cluster).unwrap()).unwrap();
        file
    }

    fn ray_up(&self, file: &Path, namespace: &str) {
        let args = [
            "ray",
            "+",
            file.to_str().unwrap(),
            "-n",
            namespace,
            "--timeout",
            "90s",
        ];
        self.kubectl(&args);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn kubectl_completes_ray_commands_clusters_namespaces_and_contexts() {
    let Some(w) = World::new() else { return };
    let (top, directive) = w.complete(&["ray", ""]);
    for word in ["==", "++", "--", "=", "+", "-", "convert", "operator"] {
        assert!(top.contains(&word.to_string()), "{word} in {top:?}");
    }
    assert_eq!(directive, ":4");
    assert_eq!(
        w.complete(&["ray", "+", ""]),
        (vec!["yaml".into(), "yml".into()], ":8".into())
    );
    // Before any RayCluster (and before the CRD): nothing, and no error.
    assert_eq!(
        w.complete(&["ray", "get", "cluster", ""]),
        (vec![], ":4".into())
    );

    let namespace = w.dir.path().join("team.yaml");
    std::fs::write(
        &namespace,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    )
    .unwrap();
    w.kubectl(&["apply", "-f", namespace.to_str().unwrap()]);
    w.ray_up(&w.cluster_file("alpha", "cpu"), "default");
    w.ray_up(&w.cluster_file("beta", "gpu"), "default");
    w.ray_up(&w.cluster_file("gamma", "big"), "team");

    let (names, directive) = w.complete(&["ray", "get", "cluster", ""]);
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(directive, ":4");
    assert_eq!(w.complete(&["ray", "get", "cluster", "b"]).0, ["beta"]);
    // -n typed before the word counts, in either spelling.
    assert_eq!(
        w.complete(&["ray", "-n", "team", "get", "cluster", ""]).0,
        ["gamma"]
    );
    assert_eq!(
        w.complete(&["ray", "get", "cluster", "--namespace=team", ""])
            .0,
        ["gamma"]
    );
    assert_eq!(
        w.complete(&["ray", "get", "workergroup", ""]).0,
        ["cpu", "gpu"]
    );
    assert_eq!(w.complete(&["kas", "--cluster", ""]).0, ["alpha", "beta"]);

    let (namespaces, _) = w.complete(&["kas", "-n", ""]);
    for ns in ["default", "team"] {
        assert!(namespaces.contains(&ns.to_string()), "{namespaces:?}");
    }
    assert_eq!(w.complete(&["ray", "--namespace", "t"]).0, ["team"]);

    // Contexts come from the kubeconfig typed so far.
    assert_eq!(w.complete(&["ray", "--context", ""]).0, ["emulator"]);
    let other = w.dir.path().join("other-kubeconfig");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n\
         - name: elsewhere\n  context: {cluster: cx, user: ux}\n- name: staging\n  context: {cluster: cx, user: ux}\n",
    )
    .unwrap();
    let kubeconfig = format!("--kubeconfig={}", other.display());
    assert_eq!(
        w.complete(&["ray", &kubeconfig, "--context="]).0,
        ["--context=elsewhere", "--context=staging"]
    );
    assert_eq!(
        w.complete(&["ray", &kubeconfig, "--context=s"]).0,
        ["--context=staging"]
    );
    assert_eq!(
        w.complete(&["kas", &kubeconfig, "--context", ""]).0,
        ["elsewhere", "staging"]
    );
}

#[test]
fn kubectl_completes_kas_commands_and_live_forwards() {
    let Some(w) = World::new() else { return };
    let (top, directive) = w.complete(&["kas", ""]);
    assert_eq!(
        top.join(" "),
        ". build push run exec shell jlab tboard dash kfwd"
    );
    assert_eq!(directive, ":4");
    assert_eq!(
        w.complete(&["kas", ".", ""]).0.join(" "),
        "exec shell dash jlab tboard kfwd"
    );
    // No forward yet: only `-` (stop every forward).
    assert_eq!(w.complete(&["kas", "kfwd", ""]).0, ["-"]);

    w.ray_up(&w.cluster_file("alpha", "cpu"), "default");
    let local = free_port();
    w.kubectl(&["kas", "kfwd", "8265", &local.to_string()]);
    let local2 = free_port();
    w.kubectl(&["kas", "kfwd", "6379", &local2.to_string()]);

    let out = w.kubectl(&["__complete", "kas", "kfwd", ""]);
    assert!(
        out.contains(&format!(
            "8265\tforwarded to 127.0.0.1:{local} (RayCluster default/alpha)"
        )),
        "{out}"
    );
    assert_eq!(w.complete(&["kas", "kfwd", ""]).0, ["6379", "8265", "-"]);
    assert_eq!(w.complete(&["kas", "kfwd", "8"]).0, ["8265"]);
    assert_eq!(w.complete(&["kas", "kfwd", "8265", ""]).0, ["-"]);

    // A stopped forward is no longer offered.
    w.kubectl(&["kas", "kfwd", "8265", "-"]);
    assert_eq!(w.complete(&["kas", "kfwd", ""]).0, ["6379", "-"]);
    w.kubectl(&["kas", "kfwd", "-"]);
    assert_eq!(w.complete(&["kas", "kfwd", ""]).0, ["-"]);
}
