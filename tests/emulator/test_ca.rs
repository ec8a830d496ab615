//! A throwaway test CA and one server certificate signed by it, made with
//! the `openssl` CLI (no key material is ever committed). Both emulators
//! use it through `relay`: the GCP one for its proxy in front of Google's fixed URLs, the
//! Kubernetes one for HTTPS as GKE's kubeconfigs name it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Writes `ca.pem`/`ca.key` and `server.pem`/`server.key` into `dir`: a
/// server certificate for `common_name` valid for the `alt_names`
/// (`DNS:...`, `IP:...`).
pub fn make(dir: &Path, common_name: &str, alt_names: &[&str]) -> Result<()> {
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid,issuer\n",
            alt_names.join(",")
        ),
    )?;
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (ca_key, ca_pem) = (p("ca.key"), p("ca.pem"));
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        "3",
        "-subj",
        "/CN=kas-emulator test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-addext",
        "subjectKeyIdentifier=hash",
    ]);
    openssl(&ca)?;
    let (key, csr, subject) = (
        p("server.key"),
        p("server.csr"),
        format!("/CN={common_name}"),
    );
    let mut request = vec!["req"];
    request.extend(ec);
    request.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
    openssl(&request)?;
    let (pem, ext) = (p("server.pem"), p("server.ext"));
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &pem,
        "-days",
        "3",
        "-extfile",
        &ext,
    ])
}

fn openssl(args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("cannot run `openssl` to make the emulator's certificates; install openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
