//! HTTPS in front of the emulator, for kubeconfigs that name an `https://`
//! server with a CA (as `gcloud container clusters get-credentials`
//! writes them): a throwaway CA and a certificate for 127.0.0.1 made with
//! the `openssl` CLI, and `tls_relay.py` (python3's ssl module) relaying to
//! the plain port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

const SCRIPT: &str = include_str!("tls_relay.py");

/// The running relay; stopped on drop.
pub struct Relay {
    child: Child,
    pub port: u16,
    pub ca_pem: String,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(dir: &Path, emulator_port: u16) -> Result<Relay> {
    super::test_ca::make(dir, "127.0.0.1", &["IP:127.0.0.1", "DNS:localhost"])?;
    let script = dir.join("tls_relay.py");
    std::fs::write(&script, SCRIPT)?;
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(emulator_port.to_string())
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
        bail!("the emulator's TLS relay did not start (it said {line:?})");
    };
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem"))?;
    Ok(Relay {
        child,
        port,
        ca_pem,
    })
}
