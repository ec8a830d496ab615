//! `kas-emulator`: runs an emulator in the foreground so a person can try
//! the tools without a cloud account.
//!
//!     eval "$(kas-emulator gcp)"      # in one shell; prints export lines
//!
//! Built only with `--features emulator`.

mod gcp;

use std::io::Write;

const USAGE: &str = "usage: kas-emulator gcp [--port N]

Runs the GCP API emulator on 127.0.0.1 (port N, default a free one) and
prints `export ...` lines that point gcloud at it: a throwaway gcloud home
with an active configuration `kas` (project test-project, region
europe-west4, zone europe-west4-a, the human account tester@example.com
logged in). Then it closes its standard output and serves until killed.

    eval \"$(kas-emulator gcp &)\"     # this shell's gcloud now uses it
    gcloud container clusters list
    kill $KAS_EMULATOR_PID             # stop it

Set KAS_EMULATOR_TRACE=1 to see each request on standard error.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let port = match parse(&args) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("kas-emulator: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let emu = match gcp::GcpEmulator::start_on(port, Some(gcp::HUMAN)) {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("kas-emulator: {e:#}");
            std::process::exit(3);
        }
    };
    emu.bind("roles/owner", &format!("user:{}", gcp::HUMAN));
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", emu.shell_exports());
    let _ = writeln!(out, "export KAS_EMULATOR_PID={}", std::process::id());
    let _ = out.flush();
    close_stdout();
    eprintln!(
        "kas-emulator: GCP APIs on {} (account {}, project {}); Ctrl-C stops it",
        emu.url(),
        gcp::HUMAN,
        gcp::PROJECT
    );
    loop {
        std::thread::park();
    }
}

fn parse(args: &[String]) -> Result<u16, String> {
    match args {
        [api] if api == "gcp" => Ok(0),
        [api, flag, port] if api == "gcp" && flag == "--port" => port
            .parse()
            .map_err(|_| format!("--port wants a number, got {port:?}")),
        [api, flag] if api == "gcp" && flag.starts_with("--port=") => {
            let port = &flag["--port=".len()..];
            port.parse()
                .map_err(|_| format!("--port wants a number, got {port:?}"))
        }
        [] => Err("which emulator? (gcp)".into()),
        [api, ..] if api != "gcp" => Err(format!("unknown emulator {api:?} (known: gcp)")),
        _ => Err(format!("unexpected arguments: {}", args[1..].join(" "))),
    }
}

/// Closes standard output so that `$(kas-emulator gcp &)` sees its end and
/// the shell goes on while the emulator keeps serving.
fn close_stdout() {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 1 is ours; nothing writes to standard output after this.
    drop(unsafe { std::fs::File::from_raw_fd(1) });
}
