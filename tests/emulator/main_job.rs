//! `kas-emulator main-job [--down]`: the main job on the emulated cloud,
//! from an empty project to a Ray cluster on GKE, with the real tools run
//! in order as a user would type them (each printed before it runs), then
//! a Ray job that prints the cluster's resources. Then `main` prints the
//! `export` lines that point a shell at the emulated cloud and serves
//! until stopped; with `--down` it runs every tool's `-` instead and exits.
//!
//! The tools are taken from the folder of this executable first (where
//! `cargo build` puts them), then from PATH. Progress goes to standard
//! error, so that `eval "$(kas-emulator main-job &)"` also works.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use kas_emulator::gcp;
use kas_emulator::joined::{self, Joined};

use crate::Running;

/// The cluster file of the main job, relative to a clone's root.
const CLUSTER_FILE: &str = "yaml/k8s/gke-cpu-only.yaml";

/// A Ray job: connect to the cluster and print what it has.
const RAY_JOB: &str = "import ray; ray.init(); r = ray.cluster_resources(); \
print(\"Ray\", ray.__version__, \"cluster:\", len([n for n in ray.nodes() if n[\"Alive\"]]), \"nodes,\", \
int(r.get(\"CPU\", 0)), \"CPUs,\", round(r.get(\"memory\", 0) / 2**30, 1), \"GiB memory\")";

/// How a person logs in to the emulated cloud (for `gcloud auth login`,
/// which wants a browser): the emulator takes this stand-in refresh token,
/// which is no secret.
fn login_words() -> [String; 5] {
    [
        "gcloud".into(),
        "auth".into(),
        "activate-refresh-token".into(),
        gcp::HUMAN.into(),
        format!("{}{}", gcp::oauth::LOGIN_PREFIX, gcp::HUMAN),
    ]
}

/// The main job; the emulated cloud it runs on, to serve until stopped
/// (`None` after `--down`: everything is gone again).
pub fn run(port: u16, ray: Option<PathBuf>, down: bool) -> Result<Option<Running>> {
    let ray = joined::find_ray(ray);
    if ray.is_none() {
        eprintln!("kas-emulator: {}", joined::INSTALL_RAY);
    }
    let cloud = Joined::start(port, ray.as_deref())?;
    let cluster_file = if Path::new(CLUSTER_FILE).is_file() {
        CLUSTER_FILE.to_string()
    } else {
        cloud
            .project_dir()
            .join("gke-cpu-only.yaml")
            .display()
            .to_string()
    };
    let path = tool_path()?;
    let run = |words: &[&str]| -> Result<()> {
        eprintln!("\n$ {}", shown(words));
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..])
            .envs(cloud.env())
            .env("PATH", &path)
            .stdin(Stdio::null())
            // Standard output stays for the export lines.
            .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?));
        let status = cmd
            .status()
            .with_context(|| format!("cannot run {}", words[0]))?;
        if !status.success() {
            bail!("`{}` failed ({status})", shown(words));
        }
        Ok(())
    };
    let ray_job = ["kubectl", "kas", ".", "exec", "python", "-c", RAY_JOB];
    let up: Vec<Vec<&str>> = vec![
        vec!["admin-service-account", "+"],
        vec!["artifact-registry", "+"],
        vec!["gke-nat", "+"],
        // The emulated cluster admits this machine only.
        vec!["gke-cluster", "+", "--cidr", "127.0.0.1/32"],
        vec!["kubectl", "ray", "+", &cluster_file],
    ];
    for words in &up {
        run(words)?;
    }
    if ray.is_some() {
        run(&ray_job)?;
    } else {
        eprintln!(
            "\n(no Ray job: the Ray pods are stand-ins without Ray; see above how to install it)"
        );
    }
    if down {
        let down: Vec<Vec<&str>> = vec![
            vec!["kubectl", "ray", "-", &cluster_file],
            vec!["gke-cluster", "-"],
            vec!["gke-nat", "-"],
            vec!["artifact-registry", "-"],
        ];
        for words in &down {
            run(words)?;
        }
        // `admin-service-account +` logged the person out; `-` needs them.
        let login = login_words();
        run(&login.iter().map(String::as_str).collect::<Vec<_>>())?;
        run(&["admin-service-account", "-"])?;
        eprintln!("\nkas-emulator: the main job ran and everything is gone again");
        return Ok(None);
    }
    let example = if ray.is_some() {
        format!("kubectl kas . exec python -c '{RAY_JOB}'")
    } else {
        "kubectl get pods".to_string()
    };
    eprintln!(
        "\nkas-emulator: the main job is up. To keep going, run the export lines printed on \
         standard output in a shell (or start it as `eval \"$(kas-emulator main-job &)\"`), then \
         for example:\n    {example}\n    gke-cluster =\n\
         Ctrl-C here (or `kill $KAS_EMULATOR_PID`) stops the emulated cloud and its Ray processes."
    );
    Ok(Some(Running {
        exports: format!(
            "{}export PATH='{}'\n",
            cloud.shell_exports(),
            path.replace('\'', r"'\''")
        ),
        banner: format!(
            "the main job's emulated cloud (GCP APIs on {}){}",
            cloud.gcp.url(),
            if ray.is_some() { ", with Ray" } else { "" }
        ),
        _gcp: None,
        _kube: None,
        _joined: Some(cloud),
    }))
}

/// The folder of this executable (the other tools are built beside it),
/// then PATH.
fn tool_path() -> Result<String> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let dir = exe.parent().context("this executable has no folder")?;
    if !dir.join("admin-service-account").is_file() {
        eprintln!(
            "kas-emulator: the tools are not beside {} (build them: `cargo build --workspace \
             --bins`); looking for them on PATH",
            exe.display()
        );
    }
    Ok(format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    ))
}

/// A command as typed, with arguments quoted where a shell would need it.
fn shown(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| {
            if w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-=./_,:@".contains(c))
            {
                w.to_string()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
