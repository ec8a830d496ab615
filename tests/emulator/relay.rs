//! The one TLS relay both emulators use: `relay.py` (python3's ssl module,
//! stdlib only) with a certificate from a throwaway test CA (`test_ca`),
//! relaying to a plain HTTP emulator port. As a `Front` it is HTTPS for a
//! Kubernetes API, as GKE's kubeconfigs name one; as a `Proxy` it is
//! gcloud's HTTP proxy, so that requests to Google's fixed URLs (revoking a
//! person's token) reach the GCP emulator too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

const SCRIPT: &str = include_str!("relay.py");

/// What the relay does with a connection.
#[derive(Clone, Copy)]
pub enum Mode {
    /// TLS from the first byte, relayed byte for byte (upgraded
    /// connections such as exec and port-forward pass through).
    Front,
    /// An HTTP proxy: absolute-form requests are relayed as they are;
    /// `CONNECT` is answered, TLS terminated, and the stream relayed.
    Proxy,
}

/// A running relay; stopped on drop.
pub struct Relay {
    child: Child,
    pub port: u16,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes the test CA (`ca.pem`, what clients trust) and a server
/// certificate for `common_name` and `alt_names` (`DNS:...`, `IP:...`) in
/// `dir`, and puts the relay script beside them. A relay whose parent dies
/// without stopping it removes `dir`: nobody else would.
pub fn prepare(dir: &Path, common_name: &str, alt_names: &[&str]) -> Result<()> {
    crate::test_ca::make(dir, common_name, alt_names)?;
    std::fs::write(dir.join("relay.py"), SCRIPT)?;
    Ok(())
}

/// Starts a relay to `target_port` with what [`prepare`] left in `dir`.
pub fn start(dir: &Path, mode: Mode, target_port: u16) -> Result<Relay> {
    let mode = match mode {
        Mode::Front => "front",
        Mode::Proxy => "proxy",
    };
    let mut child = Command::new("python3")
        .arg(dir.join("relay.py"))
        .arg(mode)
        .arg(target_port.to_string())
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `python3` for the emulator's TLS relay; install python3")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let Ok(port) = line.trim().parse() else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("the emulator's TLS relay did not start (it said {line:?})");
    };
    Ok(Relay { child, port })
}
