//! Typed docker calls: the one place docker commands are spelled, and the
//! one place docker's error wording ("No such image", "manifest unknown")
//! is read. Image references are parsed here too.

use crate::exec::cmd::Cmd;

/// `docker ARGS...`, a read.
pub fn query<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::query("docker").args(args)
}

/// `docker ARGS...`, a change.
pub fn change<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::mutation("docker").args(args)
}

/// `docker image inspect NAME`: a JSON list of images.
pub fn image_inspect(name: &str) -> Cmd {
    query(["image", "inspect", name])
}

/// `docker container inspect`: prints `true` for a running container.
pub fn container_running(name: &str) -> Cmd {
    query([
        "container",
        "inspect",
        "--format",
        "{{.State.Running}}",
        name,
    ])
}

/// `docker rm --force NAME`.
pub fn remove_container(name: &str) -> Cmd {
    change(["rm", "--force", name])
}

/// `docker tag SOURCE TARGET`.
pub fn tag(source: &str, target: &str) -> Cmd {
    change(["tag", source, target])
}

/// `docker push REFERENCE`, its progress on the user's terminal.
pub fn push(reference: &str) -> Cmd {
    change(["push", reference]).inherit_stdio()
}

/// A registry on this machine speaks plain HTTP: the manifest commands
/// need `--insecure` for it.
fn insecure_if(cmd: Cmd, insecure: bool) -> Cmd {
    if insecure { cmd.arg("--insecure") } else { cmd }
}

/// `docker manifest inspect --verbose LIST`: the list as the registry has it.
pub fn manifest_inspect(list: &str, insecure: bool) -> Cmd {
    insecure_if(query(["manifest", "inspect", "--verbose"]), insecure).arg(list)
}

/// `docker manifest create LIST MEMBER...`.
pub fn manifest_create<I, S>(list: &str, members: I, insecure: bool) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    insecure_if(change(["manifest", "create"]), insecure)
        .arg(list)
        .args(members)
}

/// `docker manifest annotate LIST MEMBER --os OS --arch ARCH [--variant V]`.
pub fn manifest_annotate(list: &str, member: &str, os: &str, arch: &str, variant: &str) -> Cmd {
    let cmd = change([
        "manifest", "annotate", list, member, "--os", os, "--arch", arch,
    ]);
    if variant.is_empty() {
        cmd
    } else {
        cmd.args(["--variant", variant])
    }
}

/// `docker manifest push --purge LIST`.
pub fn manifest_push(list: &str, insecure: bool) -> Cmd {
    insecure_if(change(["manifest", "push", "--purge"]), insecure).arg(list)
}

/// `docker manifest rm LIST`: the local copy of a list.
pub fn manifest_rm(list: &str) -> Cmd {
    change(["manifest", "rm", list])
}

/// docker's answer for an image or container that is not there.
pub fn says_no_such_object(stderr: &str) -> bool {
    stderr.contains("No such")
}

/// docker's answers for a list the registry does not hold.
pub fn says_no_such_manifest(stderr: &str) -> bool {
    let e = stderr.to_ascii_lowercase();
    e.contains("no such manifest") || e.contains("manifest unknown") || e.contains("not found")
}

/// docker's answer when a local copy of the list is in the way.
pub fn says_list_exists_locally(stderr: &str) -> bool {
    stderr.contains("refusing to amend")
}

/// The registry host an image reference names (`HOST[:PORT]/...`), or
/// `None` for Docker Hub's short names (`rayproject/ray`, `busybox`).
pub fn registry_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    let explicit = first.contains('.') || first.contains(':') || first == "localhost";
    (explicit && !rest.is_empty()).then_some(first)
}

/// A registry on this machine (`127.x`, `localhost`, `[::1]`).
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "localhost" | "[::1]" | "::1") || name.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts() {
        assert_eq!(
            registry_host("europe-west4-docker.pkg.dev/p/images/kas"),
            Some("europe-west4-docker.pkg.dev")
        );
        assert_eq!(
            registry_host("127.0.0.1:5000/kas:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(registry_host("localhost/kas"), Some("localhost"));
        assert_eq!(registry_host("rayproject/ray:2.9.0"), None);
        assert_eq!(registry_host("busybox"), None);
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("europe-west4-docker.pkg.dev"));
    }

    #[test]
    fn manifest_commands_on_a_local_registry_are_insecure() {
        let create = manifest_create("127.0.0.1:5000/k", ["127.0.0.1:5000/k-x86_64"], true);
        assert_eq!(
            create.to_string(),
            "docker manifest create --insecure 127.0.0.1:5000/k 127.0.0.1:5000/k-x86_64"
        );
        assert_eq!(
            manifest_annotate("l", "l@sha256:1", "linux", "arm64", "v8").to_string(),
            "docker manifest annotate l l@sha256:1 --os linux --arch arm64 --variant v8"
        );
    }
}
