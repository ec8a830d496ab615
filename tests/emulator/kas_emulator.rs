//! `kas-emulator`: runs an emulator in the foreground so a person can try
//! the tools without a cloud account.
//!
//!     eval "$(kas-emulator &)"         # both, joined: GKE clusters lead to the Kubernetes API
//!     eval "$(kas-emulator gcp &)"     # GCP APIs for gcloud
//!     eval "$(kas-emulator kube &)"    # a Kubernetes API for kubectl and helm
//!     kas-emulator main-job [--down]   # the main job on the joined emulators
//!
//! Install it with `cargo install --path tests/emulator`.

mod main_job;

use std::io::Write;
use std::path::PathBuf;

use kas_emulator::joined::{self, Joined};
use kas_emulator::{gcp, kube, signals};

const USAGE: &str = "usage: kas-emulator [all|gcp|kube|main-job] [--port N] [--ray PATH] [--down]

`kas-emulator` (or `kas-emulator all`) runs both emulators joined: a GKE
cluster created through the GCP APIs is backed by the Kubernetes API
emulator, so after `gke-cluster +` kubectl, helm and `kubectl ray` reach
it. It prints `export ...` lines for gcloud, kubectl and helm, and
KAS_CONFIG, the kas.yaml of an emulated project (project test-project, the
KubeRay chart served from a local folder, no internet needed); your own
kas.yaml and defaults are left alone. Then it closes its standard output
and serves until stopped (SIGTERM, SIGINT or SIGHUP: Ctrl-C, or `kill
$KAS_EMULATOR_PID`), when it stops every Ray process it started and removes
its temporary folders.

    eval \"$(kas-emulator &)\"
    admin-service-account + && artifact-registry + && gke-nat + \\
      && gke-cluster + --cidr 127.0.0.1/32 && kubectl ray + yaml/k8s/gke-cpu-only.yaml

`kas-emulator main-job` does that itself (each command printed before it
runs), runs a Ray job that prints the cluster's resources, prints the
export lines and serves until stopped; with `--down` it then runs every
tool's `-` and exits.

Ray: with `--ray PATH` or KAS_EMULATOR_RAY=PATH naming a `ray` executable
(for `all` and `main-job` also `ray` on PATH), every RayCluster pod is
backed by a real Ray node (at most KAS_EMULATOR_RAY_WORKERS workers per
cluster, default 2; the others are stand-ins); without one all pods are
stand-ins.

`kas-emulator gcp` runs the GCP API emulator alone on 127.0.0.1 (port N,
default a free one) and prints `export ...` lines that point gcloud at it:
a throwaway gcloud home with an active configuration `kas` (project
test-project, region europe-west4, zone europe-west4-a, the human account
tester@example.com logged in).

    eval \"$(kas-emulator gcp &)\"     # this shell's gcloud now uses it
    gcloud container clusters list
    kill $KAS_EMULATOR_PID             # stop it (its folder goes with it)

`kas-emulator kube` runs the Kubernetes API emulator alone the same way and
prints `export KUBECONFIG=...` (and kubectl's cache folder), so kubectl,
helm and `kubectl ray` use it:

    eval \"$(kas-emulator kube &)\"
    kubectl ray ++ --dry-run

Set KAS_EMULATOR_TRACE=1 to see each request on standard error.";

/// What the command line asked for.
struct Args {
    /// `all`, `gcp`, `kube` or `main-job`.
    kind: String,
    /// 0: a free one.
    port: u16,
    /// `--ray PATH`, else KAS_EMULATOR_RAY.
    ray: Option<PathBuf>,
    down: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let args = match parse(&args) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("kas-emulator: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Before anything is made: a signal from here on still cleans up.
    let signals = signals::Signals::catch();
    let started = match args.kind.as_str() {
        "main-job" => main_job::run(args.port, args.ray, args.down),
        kind => start(kind, args.port, args.ray).map(Some),
    };
    let running = match started {
        Ok(Some(running)) => running,
        // `main-job --down`: done, and everything is gone again.
        Ok(None) => std::process::exit(0),
        Err(e) => {
            eprintln!("kas-emulator: {e:#}");
            std::process::exit(3);
        }
    };
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", running.exports);
    let _ = writeln!(out, "export KAS_EMULATOR_PID={}", std::process::id());
    let _ = out.flush();
    close_stdout();
    eprintln!("kas-emulator: {}; Ctrl-C stops it", running.banner);
    let signal = signals.wait();
    // Stops the servers, relays and Ray processes and removes the
    // temporary folders.
    drop(running);
    signals::die_of(signal);
}

/// A started emulator, kept alive until a signal comes.
struct Running {
    exports: String,
    banner: String,
    _gcp: Option<gcp::GcpEmulator>,
    _kube: Option<kube::KubeEmulator>,
    _joined: Option<Joined>,
}

fn start(kind: &str, port: u16, ray: Option<PathBuf>) -> anyhow::Result<Running> {
    match kind {
        "kube" => {
            let mut emu = kube::KubeEmulator::start_on(port)?;
            if let Some(ray) = &ray {
                emu = emu.with_ray(ray)?;
            }
            Ok(Running {
                exports: emu.shell_exports(),
                banner: format!(
                    "Kubernetes API on {} (KUBECONFIG={}){}",
                    emu.url(),
                    emu.kubeconfig().display(),
                    if ray.is_some() {
                        ", Ray behind its RayCluster pods"
                    } else {
                        ""
                    }
                ),
                _gcp: None,
                _kube: Some(emu),
                _joined: None,
            })
        }
        "all" => {
            let ray = joined::find_ray(ray);
            if ray.is_none() {
                eprintln!("kas-emulator: {}", joined::INSTALL_RAY);
            }
            let cloud = Joined::start(port, ray.as_deref())?;
            Ok(Running {
                exports: cloud.shell_exports(),
                banner: format!(
                    "GCP APIs on {} and a Kubernetes API behind its GKE clusters{}",
                    cloud.gcp.url(),
                    if ray.is_some() {
                        ", Ray behind its RayCluster pods"
                    } else {
                        ""
                    }
                ),
                _gcp: None,
                _kube: None,
                _joined: Some(cloud),
            })
        }
        _ => {
            let emu = gcp::GcpEmulator::start_on(port, Some(gcp::HUMAN))?;
            emu.bind("roles/owner", &format!("user:{}", gcp::HUMAN));
            Ok(Running {
                exports: emu.shell_exports(),
                banner: format!(
                    "GCP APIs on {} (account {}, project {})",
                    emu.url(),
                    gcp::HUMAN,
                    gcp::PROJECT
                ),
                _gcp: Some(emu),
                _kube: None,
                _joined: None,
            })
        }
    }
}

/// The emulator asked for (default `all`), its port and flags.
fn parse(args: &[String]) -> Result<Args, String> {
    const KINDS: &[&str] = &["all", "gcp", "kube", "main-job"];
    let (kind, mut rest) = match args.split_first() {
        Some((kind, rest)) if KINDS.contains(&kind.as_str()) => (kind.clone(), rest),
        Some((kind, _)) if !kind.starts_with("--") => {
            return Err(format!(
                "unknown emulator {kind:?} (known: {})",
                KINDS.join(", ")
            ));
        }
        _ => ("all".to_string(), args),
    };
    let mut port = "0".to_string();
    let mut ray = std::env::var_os("KAS_EMULATOR_RAY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let mut down = false;
    while let Some((flag, more)) = rest.split_first() {
        if flag == "--down" && kind == "main-job" {
            down = true;
            rest = more;
            continue;
        }
        let name = flag.split_once('=').map_or(flag.as_str(), |(name, _)| name);
        let known = name == "--port" || (name == "--ray" && kind != "gcp");
        if !known {
            return Err(format!("unexpected arguments: {}", rest.join(" ")));
        }
        let (name, value, after) = match flag.split_once('=') {
            Some((name, value)) => (name, value.to_string(), more),
            None => match more.split_first() {
                Some((value, after)) => (flag.as_str(), value.clone(), after),
                None => return Err(format!("{flag} wants a value")),
            },
        };
        match name {
            "--port" => port = value,
            "--ray" if kind != "gcp" => ray = Some(PathBuf::from(value)),
            _ => return Err(format!("unexpected arguments: {}", rest.join(" "))),
        }
        rest = after;
    }
    let port = port
        .parse()
        .map_err(|_| format!("--port wants a number, got {port:?}"))?;
    Ok(Args {
        kind,
        port,
        ray,
        down,
    })
}

/// Closes standard output so that `$(kas-emulator gcp &)` sees its end and
/// the shell goes on while the emulator keeps serving.
fn close_stdout() {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 1 is ours; nothing writes to standard output after this.
    drop(unsafe { std::fs::File::from_raw_fd(1) });
}
