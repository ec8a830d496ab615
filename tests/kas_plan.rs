//! `kubectl kas --dry-run --verbose` plans against a scripted world: the
//! queries it runs (`+ ...`, answered from shapes captured from the real
//! docker CLI) and the changes it would make, as snapshots. This covers
//! what the end-to-end tests cannot reach from here: Artifact Registry
//! hosts (gcloud's credential helper), the default registry from gcloud's
//! properties, and a terminal on standard input.

use std::ffi::OsString;
use std::sync::Arc;

use anyhow::Result;
use kas_infra::app::cli::Ctx;
use kas_infra::app::config::Config;
use kas_infra::exec::cmd::Cmd;
use kas_infra::exec::environment::Env;
use kas_infra::exec::runner::{Exec, Output};
use kas_infra::exec::ui::Ui;
use kas_infra::tools::kas::Stdin;
use kas_test_support::world::Script;

/// `docker image inspect` of an amd64 image (the fields kas reads).
const IMAGE: &str = r#"[{"Id": "sha256:1111", "Os": "linux", "Architecture": "amd64"}]"#;

/// `docker manifest inspect --verbose` of a list with arm64, an old amd64
/// and a build attestation.
const LIST: &str = r#"[
  {"Ref": "R@sha256:aaa", "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:aaa", "size": 1, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}},
  {"Ref": "R@sha256:bbb", "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:bbb", "size": 1, "platform": {"architecture": "amd64", "os": "linux"}}},
  {"Ref": "R@sha256:ccc", "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:ccc", "size": 1, "platform": {"architecture": "unknown", "os": "unknown"}}}
]"#;

/// The scripted answers; in a dry run only queries may run.
struct World(Script);

impl Exec for World {
    fn exec(&self, cmd: &Cmd) -> Result<Output> {
        assert!(cmd.is_query(), "a change ran in a dry run: {cmd}");
        if let Some(output) = self.0.answer(cmd) {
            return Ok(output);
        }
        if cmd.to_string().starts_with("ssh-keygen -l -f ") {
            return Ok(Output::ok("256 SHA256:x kas (ED25519)\n"));
        }
        panic!("no answer for `{cmd}`");
    }
}

struct Case {
    dir: tempfile::TempDir,
    env: Env,
    config: String,
    answers: Vec<(&'static str, Output)>,
    stdin: Stdin,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519.pub"), "ssh-ed25519 AAAA kas\n").unwrap();
        std::fs::write(home.join(".gitconfig"), "").unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(
            repo.join("Dockerfile"),
            "FROM scratch\nWORKDIR /home/ray/project\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("HOME", home.to_str().unwrap()),
            (
                "CLOUDSDK_CONFIG",
                dir.path().join("gcloud").to_str().unwrap(),
            ),
            ("CLOUDSDK_CORE_PROJECT", "proj"),
            ("CLOUDSDK_ARTIFACTS_LOCATION", "europe-west4"),
            ("DOCKER_CONFIG", dir.path().join("docker").to_str().unwrap()),
        ]);
        Case {
            dir,
            env,
            config: String::new(),
            // A Docker engine that answers, unless a case says otherwise.
            answers: vec![("docker version", Output::ok("28.5.1\n"))],
            stdin: Stdin::Nothing,
        }
    }

    fn answer(mut self, prefix: &'static str, output: Output) -> Case {
        self.answers.push((prefix, output));
        self
    }

    fn env(mut self, name: &str, value: &str) -> Case {
        self.env.set(name, value);
        self
    }

    fn config(mut self, yaml: &str) -> Case {
        self.config = yaml.to_string();
        self
    }

    fn stdin(mut self, stdin: Stdin) -> Case {
        self.stdin = stdin;
        self
    }

    /// `kubectl kas --dry-run --verbose ARGS`: what it ran, planned and
    /// said, with the temporary folder shown as `$TMP`.
    fn plan(&self, args: &str) -> String {
        let mut ui = Ui::buffered();
        ui.interactive = self.stdin == Stdin::Terminal;
        let ui = Arc::new(ui);
        let mut config = Config::parse(&self.config).unwrap();
        config.root = Some(self.dir.path().join("repo"));
        let script = Script::default();
        for (prefix, output) in &self.answers {
            script.set(prefix, output.clone());
        }
        let world = Arc::new(World(script));
        let argv: Vec<OsString> = ["kubectl-kas", "--dry-run", "--verbose"]
            .into_iter()
            .chain(args.split(' '))
            .map(OsString::from)
            .collect();
        let env = self.env.clone();
        let exec = world.clone();
        let ui_for_ctx = ui.clone();
        let code = kas_infra::tools::kas::drive(argv, self.stdin, move |common| {
            Ok(Ctx::new(exec, ui_for_ctx, env, config, common))
        });
        let tmp = self.dir.path().to_string_lossy().into_owned();
        let mut out = format!("$ kubectl kas --dry-run {args}\n");
        for line in ui.lines() {
            out.push_str(&line.replace(&tmp, "$TMP"));
            out.push('\n');
        }
        out.push_str(&format!("exit {code}\n"));
        out
    }

    fn docker_config(self, json: &str) -> Case {
        let dir = self.dir.path().join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), json).unwrap();
        self
    }
}

#[test]
fn push_to_artifact_registry_configures_docker_and_merges_the_list() {
    let plan = Case::new()
        .answer("docker image inspect", Output::ok(IMAGE))
        .answer("docker manifest inspect", Output::ok(LIST))
        .plan("push");
    insta::assert_snapshot!(plan);
}

#[test]
fn push_skips_gcloud_when_docker_already_asks_it() {
    let plan = Case::new()
        .docker_config(r#"{"credHelpers": {"europe-west4-docker.pkg.dev": "gcloud"}}"#)
        .config("kas:\n  image: lab\n")
        .answer("docker image inspect", Output::ok(IMAGE))
        .answer(
            "docker manifest inspect",
            Output::failed(
                1,
                "no such manifest: europe-west4-docker.pkg.dev/proj/images/lab.dev:latest\n",
            ),
        )
        .plan(".dev push");
    insta::assert_snapshot!(plan);
}

#[test]
fn push_needs_a_project_for_the_default_registry() {
    let plan = Case::new().env("CLOUDSDK_CORE_PROJECT", "").plan("push");
    assert!(plan.contains("core/project"), "{plan}");
    assert!(plan.ends_with("exit 3\n"), "{plan}");
}

#[test]
fn push_without_an_image_says_to_build() {
    let plan = Case::new()
        .answer(
            "docker image inspect",
            Output::failed(1, "Error: No such image: kas\n"),
        )
        .plan("push");
    insta::assert_snapshot!(plan);
}

#[test]
fn run_on_a_terminal_is_interactive() {
    let plan = Case::new()
        .stdin(Stdin::Terminal)
        .env("WANDB_API_KEY", "not-in-any-line")
        .config("kas:\n  memory: 12g\n  mounts: ['~/data:/data:ro']\n")
        .plan("run --gpus all -- python train.py");
    assert!(!plan.contains("not-in-any-line"), "{plan}");
    insta::assert_snapshot!(plan);
}

#[test]
fn piped_input_keeps_stdin_open_without_a_terminal() {
    let plan = Case::new().stdin(Stdin::Data).plan("exec python -");
    assert!(plan.contains("\ndocker exec -i kas python -\n"), "{plan}");
    let plan = Case::new().plan("exec python -");
    assert!(plan.contains("\ndocker exec kas python -\n"), "{plan}");
}

#[test]
fn jlab_starts_the_container_then_the_server() {
    let plan = Case::new()
        .answer(
            "docker container inspect",
            Output::failed(1, "Error: No such container: kas\n"),
        )
        .plan("jlab");
    insta::assert_snapshot!(plan);
}

#[test]
fn shell_enters_a_running_container() {
    let plan = Case::new()
        .stdin(Stdin::Terminal)
        .answer("docker container inspect", Output::ok("true\n"))
        .plan(".dev shell");
    insta::assert_snapshot!(plan);
}

#[test]
fn dash_opens_with_browser_else_xdg_open_else_prints() {
    let case = Case::new()
        .config("kas:\n  ports:\n    dashboard: 18265\n")
        .env("BROWSER", "firefox --new-window %s");
    insta::assert_snapshot!(case.plan("dash"));

    let bin = case.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("xdg-open"), "#!/bin/sh\n").unwrap();
    let mut perms = std::fs::metadata(bin.join("xdg-open"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(bin.join("xdg-open"), perms).unwrap();
    let plan = Case::new().env("PATH", bin.to_str().unwrap()).plan("dash");
    assert!(
        plan.contains("\nxdg-open http://127.0.0.1:8265\n"),
        "{plan}"
    );

    let bare = Case::new().env("PATH", "/nowhere");
    let plan = bare.plan("dash");
    assert_eq!(
        plan,
        "$ kubectl kas --dry-run dash\nhttp://127.0.0.1:8265\nexit 0\n"
    );
}

#[test]
fn build_clears_the_context() {
    let case = Case::new();
    let repo = case.dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src/__pycache__")).unwrap();
    let plan = case.plan("build --build-arg RAY_VERSION=2.60.0");
    assert!(
        repo.join("src/__pycache__").exists(),
        "a dry run removes nothing"
    );
    insta::assert_snapshot!(plan);
}

// Kubernetes mode: the answers kubectl gives about RayClusters, pods and
// secrets (the fields kas reads, as `kubectl get -o json` prints them).

const ONE_CLUSTER: &str =
    r#"{"kind": "List", "items": [{"metadata": {"name": "lab", "namespace": "team"}}]}"#;
const TWO_CLUSTERS: &str = r#"{"kind": "List", "items": [
  {"metadata": {"name": "alpha", "namespace": "default"}},
  {"metadata": {"name": "beta", "namespace": "default"}}]}"#;
const READY_HEAD: &str = r#"{"kind": "List", "items": [{"metadata": {"name": "lab-head-x7k2p",
  "namespace": "team", "labels": {"ray.io/cluster": "lab", "ray.io/node-type": "head"}},
  "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}]}"#;
/// `wandb-secret` holding `b2xkLWtleQ==` (`old-key`).
const OLD_SECRET: &str = r#"{"metadata": {"name": "wandb-secret"}, "type": "Opaque",
  "data": {"WANDB_API_KEY": "b2xkLWtleQ=="}}"#;

fn kube_case() -> Case {
    Case::new()
        .answer("kubectl get rayclusters.ray.io", Output::ok(ONE_CLUSTER))
        .answer("kubectl get pods --selector=", Output::ok(READY_HEAD))
}

fn secret_missing() -> Output {
    Output::failed(
        1,
        "Error from server (NotFound): secrets \"wandb-secret\" not found\n",
    )
}

#[test]
fn k8s_exec_on_a_terminal_creates_the_wandb_secret_and_restarts_the_pods() {
    let plan = kube_case()
        .stdin(Stdin::Terminal)
        .env("WANDB_API_KEY", "never-in-a-line")
        .answer("kubectl get secrets wandb-secret", secret_missing())
        .plan("--kubeconfig /k/config --context lab-ctx -n team . exec ray status");
    assert!(!plan.contains("never-in-a-line"), "{plan}");
    insta::assert_snapshot!(plan);
}

#[test]
fn k8s_a_differing_wandb_secret_is_replaced_only_with_yes() {
    let case = kube_case()
        .env("WANDB_API_KEY", "new-key")
        .answer("kubectl get secrets wandb-secret", Output::ok(OLD_SECRET));
    let kept = case.plan(". exec true");
    assert!(
        kept.contains("warning: the secret wandb-secret in namespace team holds another W&B key"),
        "{kept}"
    );
    assert!(kept.contains("pass --yes"), "{kept}");
    assert!(!kept.contains("kubectl replace"), "{kept}");
    let replaced = case.plan("--yes . exec true");
    insta::assert_snapshot!(replaced);
    // The same key: nothing to do.
    let same = kube_case()
        .env("WANDB_API_KEY", "old-key")
        .answer("kubectl get secrets wandb-secret", Output::ok(OLD_SECRET))
        .plan(". exec true");
    assert!(
        !same.contains("kubectl replace") && !same.contains("delete pods"),
        "{same}"
    );
}

#[test]
fn k8s_several_clusters_without_a_terminal_are_listed() {
    let plan = Case::new()
        .answer("kubectl get rayclusters.ray.io", Output::ok(TWO_CLUSTERS))
        .plan(". shell");
    insta::assert_snapshot!(plan);
}

#[test]
fn k8s_no_kuberay_says_how_to_get_it() {
    let plan = Case::new()
        .answer(
            "kubectl get rayclusters.ray.io",
            Output::failed(
                1,
                "error: the server doesn't have a resource type \"rayclusters\"\n",
            ),
        )
        .plan("--k8s exec");
    assert!(
        plan.contains("kubectl ray + yaml/k8s/local-cpu-only.yaml"),
        "{plan}"
    );
    assert!(plan.ends_with("exit 3\n"), "{plan}");
}

/// A local port free now, shown as `$LOCAL` in the plan.
fn free_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn k8s_kfwd_starts_a_supervisor() {
    let local = free_local_port();
    let plan = kube_case()
        .plan(&format!("kfwd 8265 {local}"))
        .replace(&local.to_string(), "$LOCAL");
    insta::assert_snapshot!(plan);
}

#[test]
fn k8s_jlab_starts_the_server_and_forwards_its_port() {
    let local = free_local_port();
    let plan = kube_case()
        .config(&format!("kas:\n  ports:\n    jupyterlab: {local}\n"))
        .plan(". jlab")
        .replace(&local.to_string(), "$LOCAL");
    insta::assert_snapshot!(plan);
}

#[test]
fn k8s_dash_stop_and_kfwd_without_forwards_change_nothing() {
    let plan = Case::new().plan(". dash -");
    assert_eq!(
        plan,
        "$ kubectl kas --dry-run . dash -\n> no forward of port 8265\nexit 0\n"
    );
    let plan = Case::new().plan("kfwd");
    assert_eq!(
        plan,
        "$ kubectl kas --dry-run kfwd\n> no port-forwards\nexit 0\n"
    );
    let plan = Case::new().plan("kfwd --all -");
    assert_eq!(
        plan,
        "$ kubectl kas --dry-run kfwd --all -\n> no port-forwards\nexit 0\n"
    );
}

#[test]
fn k8s_build_push_and_run_are_docker_only() {
    let plan = Case::new().plan(". build");
    assert!(plan.contains("leave out `.`"), "{plan}");
    assert!(plan.ends_with("exit 3\n"), "{plan}");
}
