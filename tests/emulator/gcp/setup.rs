//! The throwaway gcloud home (`CLOUDSDK_CONFIG`) that points gcloud at the
//! emulator: an active configuration with project, region, zone, Artifact
//! Registry location, every endpoint override and the proxy, plus accounts
//! written straight into `credentials.db` (no browser, no network).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The Google APIs gcloud is pointed at the emulator for, with the path
/// prefix each one gets (compute's override replaces `.../compute/v1/`).
pub const OVERRIDES: &[(&str, &str)] = &[
    ("artifactregistry", "artifactregistry/"),
    ("cloudresourcemanager", "cloudresourcemanager/"),
    ("compute", "compute/v1/"),
    ("container", "container/"),
    ("iam", "iam/"),
    ("serviceusage", "serviceusage/"),
];

pub struct Settings<'a> {
    pub configuration: &'a str,
    pub project: &'a str,
    pub region: &'a str,
    pub zone: &'a str,
    pub account: Option<&'a str>,
    pub base: &'a str,
    pub proxy_port: u16,
    pub ca_file: &'a Path,
}

/// Writes the configuration files the way gcloud keeps them.
pub fn write_config(dir: &Path, s: &Settings) -> Result<()> {
    std::fs::create_dir_all(dir.join("configurations"))?;
    // gcloud reads active_config verbatim: a trailing newline would become
    // part of the configuration's name.
    std::fs::write(dir.join("active_config"), s.configuration)?;
    // Cached "not on Google Compute Engine", so gcloud never probes the
    // metadata server.
    std::fs::write(dir.join("gce"), "False")?;
    let mut text = format!(
        "[core]\nproject = {}\n{}disable_usage_reporting = True\ncustom_ca_certs_file = {}\n\
         \n[compute]\nregion = {}\nzone = {}\n\
         \n[artifacts]\nlocation = {}\n\
         \n[auth]\ntoken_host = {}/oauth2/token\n\
         \n[component_manager]\ndisable_update_check = True\n\
         \n[survey]\ndisable_prompts = True\n\
         \n[proxy]\ntype = http\naddress = 127.0.0.1\nport = {}\n\
         \n[api_endpoint_overrides]\n",
        s.project,
        s.account
            .map(|a| format!("account = {a}\n"))
            .unwrap_or_default(),
        s.ca_file.display(),
        s.region,
        s.zone,
        s.region,
        s.base,
        s.proxy_port,
    );
    for (api, prefix) in OVERRIDES {
        text.push_str(&format!("{api} = {}/{prefix}\n", s.base));
    }
    std::fs::write(
        dir.join("configurations")
            .join(format!("config_{}", s.configuration)),
        text,
    )?;
    Ok(())
}

/// Sets (or with `None` removes) one property of a configuration file.
pub fn set_property(
    dir: &Path,
    configuration: &str,
    section: &str,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    let path = dir
        .join("configurations")
        .join(format!("config_{configuration}"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    let mut current = String::new();
    let mut done = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if current == section && !done {
                if let Some(v) = value {
                    out.push(format!("{key} = {v}"));
                }
                done = true;
            }
            current = trimmed.trim_matches(['[', ']']).to_string();
        } else if current == section && trimmed.split('=').next().map(str::trim) == Some(key) {
            if let Some(v) = value {
                out.push(format!("{key} = {v}"));
            }
            done = true;
            continue;
        }
        out.push(line.to_string());
    }
    if !done && let Some(v) = value {
        if current != section {
            out.push(format!("[{section}]"));
        }
        out.push(format!("{key} = {v}"));
    }
    std::fs::write(&path, out.join("\n") + "\n")?;
    Ok(())
}

const STORE: &str = r#"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('CREATE TABLE IF NOT EXISTS "credentials" (account_id TEXT PRIMARY KEY, value BLOB)')
if sys.argv[2] == "put":
    db.execute('INSERT OR REPLACE INTO "credentials" VALUES (?, ?)', (sys.argv[3], sys.stdin.read()))
else:
    db.execute('DELETE FROM "credentials" WHERE account_id = ?', (sys.argv[3],))
db.commit()
"#;

/// Stores an account's credentials JSON in gcloud's `credentials.db`
/// (`None` removes it). The JSON travels on standard input, never in an
/// argument.
pub fn store_credentials(dir: &Path, account: &str, json: Option<&str>) -> Result<()> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(STORE)
        .arg(dir.join("credentials.db"))
        .arg(if json.is_some() { "put" } else { "delete" })
        .arg(account)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `python3` to write gcloud's credentials.db; install python3")?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json.unwrap_or("").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "writing credentials.db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
