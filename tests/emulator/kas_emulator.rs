//! `kas-emulator`: runs an emulator in the foreground so a person can try
//! the tools without a cloud account.
//!
//!     eval "$(kas-emulator gcp &)"     # GCP APIs for gcloud
//!     eval "$(kas-emulator kube &)"    # a Kubernetes API for kubectl and helm
//!
//! Install it with `cargo install --path tests/emulator`.

use std::io::Write;

use kas_emulator::{gcp, kube, signals};

const USAGE: &str = "usage: kas-emulator gcp|kube [--port N]

Runs the GCP API emulator on 127.0.0.1 (port N, default a free one) and
prints `export ...` lines that point gcloud at it: a throwaway gcloud home
with an active configuration `kas` (project test-project, region
europe-west4, zone europe-west4-a, the human account tester@example.com
logged in). Then it closes its standard output and serves until stopped
(SIGTERM, SIGINT or SIGHUP), when it removes its temporary folder.

    eval \"$(kas-emulator gcp &)\"     # this shell's gcloud now uses it
    gcloud container clusters list
    kill $KAS_EMULATOR_PID             # stop it (its folder goes with it)

`kas-emulator kube` runs the Kubernetes API emulator the same way and
prints `export KUBECONFIG=...` (and kubectl's cache folder), so kubectl,
helm and `kubectl ray` use it:

    eval \"$(kas-emulator kube &)\"
    kubectl ray ++ --dry-run

Set KAS_EMULATOR_TRACE=1 to see each request on standard error.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let (api, port) = match parse(&args) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("kas-emulator: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Before anything is made: a signal from here on still cleans up.
    let signals = signals::Signals::catch();
    let running = match start(&api, port) {
        Ok(running) => running,
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
    // Stops the servers and relays and removes the temporary folder.
    drop(running);
    signals::die_of(signal);
}

/// A started emulator, kept alive until a signal comes.
struct Running {
    exports: String,
    banner: String,
    _gcp: Option<gcp::GcpEmulator>,
    _kube: Option<kube::KubeEmulator>,
}

fn start(api: &str, port: u16) -> anyhow::Result<Running> {
    if api == "kube" {
        let emu = kube::KubeEmulator::start_on(port)?;
        return Ok(Running {
            exports: emu.shell_exports(),
            banner: format!(
                "Kubernetes API on {} (KUBECONFIG={})",
                emu.url(),
                emu.kubeconfig().display()
            ),
            _gcp: None,
            _kube: Some(emu),
        });
    }
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
    })
}

/// The emulator asked for (`gcp` or `kube`) and its port (0: a free one).
fn parse(args: &[String]) -> Result<(String, u16), String> {
    let (api, rest) = match args.split_first() {
        Some((api, rest)) if api == "gcp" || api == "kube" => (api.clone(), rest),
        Some((api, _)) => return Err(format!("unknown emulator {api:?} (known: gcp, kube)")),
        None => return Err("which emulator? (gcp or kube)".into()),
    };
    let port = match rest {
        [] => "0",
        [flag, port] if flag == "--port" => port.as_str(),
        [flag] if flag.starts_with("--port=") => &flag["--port=".len()..],
        _ => return Err(format!("unexpected arguments: {}", rest.join(" "))),
    };
    let port = port
        .parse()
        .map_err(|_| format!("--port wants a number, got {port:?}"))?;
    Ok((api, port))
}

/// Closes standard output so that `$(kas-emulator gcp &)` sees its end and
/// the shell goes on while the emulator keeps serving.
fn close_stdout() {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 1 is ours; nothing writes to standard output after this.
    drop(unsafe { std::fs::File::from_raw_fd(1) });
}
