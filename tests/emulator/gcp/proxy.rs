//! Starts `proxy.py` with a certificate from a throwaway test CA, so that
//! gcloud's requests to Google's fixed URLs (revoking a human account's
//! token) reach the emulator too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

const SCRIPT: &str = include_str!("proxy.py");

/// The running proxy; killed on drop.
pub struct Proxy {
    child: Child,
    pub port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes `ca.pem` (what gcloud trusts) and a server certificate for
/// Google's hosts in `dir`, then starts the proxy in front of `emulator_port`.
pub fn start(dir: &Path, emulator_port: u16) -> Result<Proxy> {
    super::test_ca::make(
        dir,
        "oauth2.googleapis.com",
        &[
            "DNS:oauth2.googleapis.com",
            "DNS:*.googleapis.com",
            "DNS:accounts.google.com",
            "DNS:localhost",
            "IP:127.0.0.1",
        ],
    )?;
    std::fs::write(dir.join("proxy.py"), SCRIPT)?;
    spawn(dir, emulator_port, false)
}

/// An HTTPS endpoint (certificate for 127.0.0.1 from the same test CA) in
/// front of a plain HTTP server on `target_port`. Needs [`start`] first.
pub fn tls_front(dir: &Path, target_port: u16) -> Result<Proxy> {
    spawn(dir, target_port, true)
}

fn spawn(dir: &Path, port: u16, tls_front: bool) -> Result<Proxy> {
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("proxy.py"))
        .arg(port.to_string())
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"));
    if tls_front {
        cmd.arg("--tls-front");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `python3` for the emulator's proxy; install python3")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line)?;
    let port = line
        .trim()
        .parse()
        .with_context(|| format!("the emulator's proxy did not start (said {line:?})"))?;
    Ok(Proxy { child, port })
}
