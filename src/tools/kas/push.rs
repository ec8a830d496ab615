//! `push`: the image goes to `REMOTE-ARCH` (ARCH as `uname -m` prints it),
//! then the multi-arch list `REMOTE` is rebuilt from this push plus every
//! entry the list held for other platforms, and pushed.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::clis::{docker, gcloud};
use crate::exec::runner::CmdFailed;

use super::manifest::{Entry, Inspected, LocalImage, Platform, carried_over};
use super::project::Project;

pub fn push(p: &Project) -> Result<u8> {
    let ctx = p.ctx;
    let remote = p.remote()?;
    // The image's own name (`kas`) has no host: it goes to Docker Hub.
    let host = docker::registry_host(&remote).unwrap_or("docker.io");
    let insecure = docker::is_loopback(host);
    let ours = local_platform(p)?;

    if needs_gcloud_helper(host) && !docker_uses_gcloud_for(host, &ctx.env) {
        ctx.run.check(&gcloud::configure_docker(host))?;
    }

    let arch_ref = format!("{remote}-{}", machine_arch());
    ctx.run.check(&docker::tag(&p.name, &arch_ref))?;
    ctx.run.check(&docker::push(&arch_ref))?;

    // docker reads a list it holds locally before the registry's: a copy
    // left by an interrupted push would hide what the registry has.
    if local_list_dir(&ctx.env, &remote).is_dir() {
        ctx.ui.warn(&format!(
            "removing the local copy of {remote} that an earlier push left behind"
        ));
        ctx.run.check(&docker::manifest_rm(&remote))?;
    }
    let existing = inspect_list(p, &remote, insecure)?;
    let kept = carried_over(existing, &ours);
    for entry in &kept {
        ctx.ui.progress(&format!(
            "keeping {} ({}) in {remote}",
            entry.digest,
            entry.platform.describe()
        ));
    }
    create_list(p, &remote, &arch_ref, &kept, insecure)?;
    for entry in &kept {
        ctx.run.check(&docker::manifest_annotate(
            &remote,
            &format!("{remote}@{}", entry.digest),
            &entry.platform.os,
            &entry.platform.architecture,
            entry.platform.variant.as_deref().unwrap_or_default(),
        ))?;
    }
    ctx.run.check(&docker::manifest_push(&remote, insecure))?;
    ctx.ui.say(&format!(
        "pushed {arch_ref} ({}) and the list {remote}",
        ours.describe()
    ));
    Ok(0)
}

/// The local image's platform; also says to build first when it is missing.
fn local_platform(p: &Project) -> Result<Platform> {
    let inspect = docker::image_inspect(&p.name);
    let out = p.ctx.run.run(&inspect)?;
    if !out.success() {
        if docker::says_no_such_object(&out.stderr) {
            bail!(
                "there is no image {} on this machine: build it first with `kubectl kas build`",
                p.name
            );
        }
        return Err(CmdFailed {
            line: inspect.to_string(),
            output: out,
        }
        .into());
    }
    let images: Vec<LocalImage> = serde_json::from_str(&out.stdout)
        .with_context(|| format!("could not read the JSON that `{inspect}` printed"))?;
    match images.first() {
        Some(image) => Ok(image.platform()),
        None => bail!("`{inspect}` printed no image"),
    }
}

/// The list as the registry has it, `None` when there is none yet.
fn inspect_list(p: &Project, remote: &str, insecure: bool) -> Result<Option<Inspected>> {
    let inspect = docker::manifest_inspect(remote, insecure);
    let out = p.ctx.run.run(&inspect)?;
    if !out.success() {
        if docker::says_no_such_manifest(&out.stderr) {
            return Ok(None);
        }
        return Err(CmdFailed {
            line: inspect.to_string(),
            output: out,
        }
        .into());
    }
    let parsed = serde_json::from_str(&out.stdout)
        .with_context(|| format!("could not read the JSON that `{inspect}` printed"))?;
    Ok(Some(parsed))
}

/// `docker manifest create`; a list left behind locally by an interrupted
/// push is removed and the creation tried once more.
fn create_list(
    p: &Project,
    remote: &str,
    arch_ref: &str,
    kept: &[Entry],
    insecure: bool,
) -> Result<()> {
    let members = std::iter::once(arch_ref.to_string())
        .chain(kept.iter().map(|e| format!("{remote}@{}", e.digest)));
    let create = docker::manifest_create(remote, members, insecure);
    let out = p.ctx.run.run(&create)?;
    if out.success() {
        return Ok(());
    }
    if docker::says_list_exists_locally(&out.stderr) {
        p.ctx.ui.warn(&format!(
            "removing the local copy of {remote} that an earlier push left behind"
        ));
        p.ctx.run.check(&docker::manifest_rm(remote))?;
        p.ctx.run.check(&create)?;
        return Ok(());
    }
    Err(CmdFailed {
        line: create.to_string(),
        output: out,
    }
    .into())
}

/// Artifact Registry and Container Registry hosts log in through gcloud.
pub fn needs_gcloud_helper(host: &str) -> bool {
    host.ends_with("-docker.pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io")
}

/// Where the docker CLI keeps its local copy of the list `remote`
/// (`REF:TAG` with `:` as `-` and `/` as `_`).
fn local_list_dir(env: &crate::exec::environment::Env, remote: &str) -> PathBuf {
    let safe = format!("{remote}:latest")
        .replace(':', "-")
        .replace('/', "_");
    docker_config_dir(env).join("manifests").join(safe)
}

fn docker_config_dir(env: &crate::exec::environment::Env) -> PathBuf {
    match env.non_empty("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".docker"),
    }
}

/// Whether docker's own configuration already sends `host` to gcloud's
/// credential helper, which is all `gcloud auth configure-docker` does.
fn docker_uses_gcloud_for(host: &str, env: &crate::exec::environment::Env) -> bool {
    let Ok(text) = std::fs::read_to_string(docker_config_dir(env).join("config.json")) else {
        return false;
    };
    let Ok(config) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    config["credHelpers"][host].as_str() == Some("gcloud")
}

/// This machine's architecture as `uname -m` prints it.
pub fn machine_arch() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("macos", "aarch64") => "arm64",
        (_, arch) => arch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(needs_gcloud_helper("europe-west4-docker.pkg.dev"));
        assert!(needs_gcloud_helper("eu.gcr.io"));
        assert!(!needs_gcloud_helper("127.0.0.1:5000"));
        assert!(!needs_gcloud_helper("docker.io"));
    }

    #[test]
    fn local_list_folder_is_named_as_docker_names_it() {
        let env = crate::exec::environment::Env::from_pairs([("HOME", "/h")]);
        assert_eq!(
            local_list_dir(&env, "127.0.0.1:31864/m/x"),
            PathBuf::from("/h/.docker/manifests/127.0.0.1-31864_m_x-latest")
        );
    }

    #[test]
    fn configured_helper_skips_gcloud() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credHelpers": {"europe-west4-docker.pkg.dev": "gcloud"}}"#,
        )
        .unwrap();
        let env = crate::exec::environment::Env::from_pairs([(
            "DOCKER_CONFIG",
            dir.path().to_str().unwrap(),
        )]);
        assert!(docker_uses_gcloud_for("europe-west4-docker.pkg.dev", &env));
        assert!(!docker_uses_gcloud_for("us-docker.pkg.dev", &env));
    }
}
