//! `kubectl kas` in Docker mode, end to end: the real `kubectl-kas` binary
//! drives the real docker CLI against a real engine and a real registry
//! (both started by `.ci/run`, see `.ci/setup-docker.sh`). Images are built
//! FROM scratch with static busybox from the fixture repository
//! `tests/fixtures/kas-repo`, copied to a temporary folder per test; each
//! test has its own image, container, ports and home, and removes what it
//! made.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kas_test_support::{free_port, need};
use serde_json::Value;

const KAS: &str = env!("CARGO_BIN_EXE_kubectl-kas");
const WANDB_VALUE: &str = "wandb-secret-value-4f2a9c";

/// Whether the engine answers; outside CI a missing engine skips the test.
fn engine() -> bool {
    let up = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    need::present(
        up,
        "these tests need a Docker engine (DOCKER_HOST) and a registry (KAS_TEST_REGISTRY): \
         run `.ci/run`, or `source .ci/setup-docker.sh` as its header shows",
    )
}

fn registry() -> Option<String> {
    match std::env::var("KAS_TEST_REGISTRY") {
        Ok(r) if !r.is_empty() => Some(r),
        _ => {
            need::missing(
                "KAS_TEST_REGISTRY (127.0.0.1:PORT of a registry) is not set: run `.ci/run`, \
                 or source .ci/setup-docker.sh",
            );
            None
        }
    }
}

/// A copy of the fixture repository with its own names, ports and home.
struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
    image: String,
    ports: [u16; 3],
    browser_log: PathBuf,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        Fixture::with_config(test, "")
    }

    fn with_config(test: &str, extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kas-repo"),
            &repo,
        );
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "the fixture image needs a static busybox: apt-get install busybox-static"
        );
        std::fs::copy(busybox, repo.join("busybox")).unwrap();

        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".gitconfig"), "[user]\n\tname = Kas Test\n").unwrap();
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "kas-test", "-f"])
            .arg(home.join(".ssh/id_ed25519"))
            .stdin(Stdio::null())
            .output()
            .expect("ssh-keygen is needed: apt-get install openssh-client");
        assert!(keygen.status.success(), "{keygen:?}");

        let image = format!("kas-t-{test}-{}", std::process::id());
        let ports = [free_port(), free_port(), free_port()];
        std::fs::write(
            repo.join("kas.yaml"),
            format!(
                "kas:\n  image: {image}\n  shell: sh\n  history_dir: {}\n  server_wait_seconds: 30\n  ports:\n    dashboard: {}\n    tensorboard: {}\n    jupyterlab: {}\n{extra}",
                dir.path().join("history").display(),
                ports[0],
                ports[1],
                ports[2]
            ),
        )
        .unwrap();
        let browser_log = dir.path().join("browser.log");
        let browser = dir.path().join("browser");
        std::fs::write(
            &browser,
            // A page it is handed is kept (with its mode) for the test to read.
            format!(
                "#!/bin/sh\necho \"$@\" >>{log}\nf=\"${{1#file://}}\"\n\
                 if [ -f \"$f\" ]; then stat -c %a \"$f\" >>{log}.mode; cat \"$f\" >>{log}.page; fi\n",
                log = browser_log.display()
            ),
        )
        .unwrap();
        chmod_x(&browser);
        Fixture {
            _dir: dir,
            repo,
            home,
            image,
            ports,
            browser_log,
        }
    }

    /// `kubectl-kas --verbose ARGS` in the repository, with this fixture's
    /// home, SSH folder and browser, and no terminal.
    fn kas(&self, args: &[&str]) -> Run {
        self.kas_with(args, &[])
    }

    fn kas_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(KAS);
        cmd.arg("--verbose")
            .args(args)
            .current_dir(&self.repo)
            .env("HOME", &self.home)
            .env("KAS_SSH_DIR", self.home.join(".ssh"))
            .env("BROWSER", self.browser_log.with_file_name("browser"))
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("WANDB_API_KEY")
            .env_remove("KAS_CONFIG")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run(cmd.output().unwrap())
    }

    /// Like [`Fixture::kas`], with `input` on standard input (a pipe).
    fn kas_input(&self, args: &[&str], input: &str) -> Run {
        let mut child = Command::new(KAS)
            .arg("--verbose")
            .args(args)
            .current_dir(&self.repo)
            .env("HOME", &self.home)
            .env("KAS_SSH_DIR", self.home.join(".ssh"))
            .env_remove("WANDB_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run(child.wait_with_output().unwrap())
    }

    fn build(&self, flavor: &str) {
        let mut args = vec![];
        if !flavor.is_empty() {
            args.push(flavor);
        }
        args.push("build");
        let out = self.kas(&args);
        assert_eq!(out.code(), 0, "{out}");
    }

    fn browser_opened(&self) -> Vec<String> {
        std::fs::read_to_string(&self.browser_log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let names = [self.image.clone(), format!("{}.dev", self.image)];
        let _ = docker(&[&["rm", "--force"][..], &[&names[0], &names[1]]].concat());
        // `--no-prune`: the untagged parent layers are the build cache that
        // other tests' builds, running at the same time, are standing on;
        // pruning them fails those builds with "unknown parent image ID".
        let _ = docker(
            &[
                &["image", "rm", "--force", "--no-prune"][..],
                &[&names[0], &names[1]],
            ]
            .concat(),
        );
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// The subprocesses it ran, as `--verbose` traced them (in-process
    /// changes are traced as `# ...` and left out).
    fn commands(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter_map(|l| l.strip_prefix("+ "))
            .filter(|c| !c.starts_with("# "))
            .map(String::from)
            .collect()
    }
    fn docker_commands(&self) -> Vec<String> {
        self.commands()
            .into_iter()
            .filter(|c| c.starts_with("docker "))
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn docker_json(args: &[&str]) -> Value {
    let out = docker(args);
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn docker_stdout(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn build_makes_plain_and_flavored_images_and_user_arguments_win() {
    if !engine() {
        return;
    }
    let fx = Fixture::new("build");
    std::fs::create_dir_all(fx.repo.join("pkg/__pycache__")).unwrap();
    std::fs::write(fx.repo.join("pkg/__pycache__/m.pyc"), "x").unwrap();
    std::fs::create_dir_all(fx.repo.join(".tox/py")).unwrap();
    std::fs::write(fx.repo.join(".coverage"), "x").unwrap();

    let out = fx.kas(&["build"]);
    assert_eq!(out.code(), 0, "{out}");
    // The engine is asked first: nothing is removed without one.
    assert_eq!(
        out.docker_commands(),
        [
            "docker version --format '{{.Server.Version}}'".to_string(),
            format!(
                "docker build --tag {} --file {} {}",
                fx.image,
                fx.repo.join("Dockerfile").display(),
                fx.repo.display()
            )
        ]
    );
    assert!(exists("image", &fx.image));
    for clutter in ["pkg/__pycache__", ".tox", ".coverage"] {
        assert!(
            !fx.repo.join(clutter).exists(),
            "{clutter} left in the context"
        );
    }
    assert!(fx.repo.join("pkg").is_dir());

    // User arguments come after the defaults, so their --file wins.
    let out = fx.kas(&[".dev", "build", "--file", "Dockerfile.alt"]);
    assert_eq!(out.code(), 0, "{out}");
    let dev = format!("{}.dev", fx.image);
    assert!(exists("image", &dev));
    assert_eq!(
        docker_stdout(&["run", "--rm", &dev, "cat", "/alt-marker"]),
        "alt"
    );
    assert!(
        !docker(&["run", "--rm", &fx.image, "cat", "/alt-marker"])
            .status
            .success()
    );

    // docker has said why a build failed; kas says it failed.
    let out = fx.kas(&["build", "--file", "Dockerfile.missing"]);
    assert_eq!(out.code(), 3, "{out}");
    assert!(out.stderr().contains("failed (exit 1)"), "{out}");
}

#[test]
fn run_sets_limits_ports_mounts_and_exec_passes_the_status_through() {
    if !engine() {
        return;
    }
    let fx = Fixture::new("run");
    fx.build("");

    let out = fx.kas_with(
        &["run", "-d", "--", "sleep", "600"],
        &[("WANDB_API_KEY", WANDB_VALUE)],
    );
    assert_eq!(out.code(), 0, "{out}");
    // One key check, the engine asked, then one docker command; the key
    // is passed by name.
    let commands = out.commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert!(commands[0].starts_with("ssh-keygen -l -f "), "{commands:?}");
    assert!(commands[1].starts_with("docker version "), "{commands:?}");
    assert!(commands[2].starts_with("docker run "), "{commands:?}");
    assert!(commands[2].contains("--env WANDB_API_KEY "), "{commands:?}");
    assert!(
        !out.stderr().contains(WANDB_VALUE) && !out.stdout().contains(WANDB_VALUE),
        "{out}"
    );

    let c = &docker_json(&["container", "inspect", &fx.image])[0];
    assert_eq!(c["State"]["Running"], true);
    let args: Vec<String> = serde_json::from_value(c["Args"].clone()).unwrap();
    assert_eq!(args, ["600"]);
    let host = &c["HostConfig"];
    assert_eq!(host["Memory"], 8u64 << 30);
    assert_eq!(host["ShmSize"], 2730u64 << 20);
    assert_eq!(host["AutoRemove"], true);
    for (container_port, host_port) in [8265, 6006, 8888].iter().zip(fx.ports) {
        let bindings = &host["PortBindings"][format!("{container_port}/tcp")];
        assert_eq!(
            bindings,
            &serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": host_port.to_string()}]),
            "port {container_port}"
        );
    }
    // Published on 127.0.0.1 only: docker-proxy listens there.
    TcpStream::connect(("127.0.0.1", fx.ports[0])).expect("dashboard port published");

    let mounts: Vec<(String, String, bool)> = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Source"].as_str().unwrap().to_string(),
                m["Destination"].as_str().unwrap().to_string(),
                m["RW"].as_bool().unwrap(),
            )
        })
        .collect();
    let history = fx.repo.parent().unwrap().join("history");
    let expected = [
        (fx.home.join(".gitconfig"), "/home/kas/.gitconfig", false),
        (fx.home.join(".ssh"), "/home/kas/.ssh", true),
        (
            history.join(format!("{}.bash_history", fx.image)),
            "/home/kas/.bash_history",
            true,
        ),
        (
            history.join(format!("{}.python_history", fx.image)),
            "/home/kas/.python_history",
            true,
        ),
    ];
    for (source, destination, rw) in expected {
        let want = (source.display().to_string(), destination.to_string(), rw);
        assert!(mounts.contains(&want), "{want:?} not in {mounts:?}");
    }
    assert_eq!(mounts.len(), 4, "{mounts:?}");

    // The container sees the key.
    let out = fx.kas_with(
        &["exec", "sh", "-c", "echo $WANDB_API_KEY"],
        &[("WANDB_API_KEY", WANDB_VALUE)],
    );
    assert_eq!(out.stdout().trim(), WANDB_VALUE, "{out}");

    // exec: one docker command, its output and exit status are ours.
    let out = fx.kas(&["exec", "echo", "hi"]);
    assert_eq!((out.code(), out.stdout().as_str()), (0, "hi\n"), "{out}");
    assert_eq!(
        out.commands(),
        [format!("docker exec {} echo hi", fx.image)]
    );
    let out = fx.kas(&["exec", "sh", "-c", "exit 7"]);
    assert_eq!(out.code(), 7, "{out}");
    // Mounted history is read-write from inside.
    let out = fx.kas(&["exec", "sh", "-c", "echo ls >> ~/.bash_history"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(history.join(format!("{}.bash_history", fx.image))).unwrap(),
        "ls\n"
    );

    let out = fx.kas(&["exec", "sh", "-c", "exit 1"]);
    assert_eq!(out.code(), 1, "a command's own 1 is passed through: {out}");

    // run -: removes it, and a second time finds nothing to do.
    let out = fx.kas(&["run", "-"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(!exists("container", &fx.image));
    let out = fx.kas(&["exec", "echo", "hi"]);
    assert_eq!(out.code(), 3, "{out}");
    assert!(
        out.stderr()
            .contains("is not running: start it with `kubectl kas run -d`"),
        "{out}"
    );
    let out = fx.kas(&["run", "-"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.docker_commands().len(), 1, "{out}");
    assert!(out.stderr().contains("no container"), "{out}");
}

#[test]
fn run_in_the_foreground_passes_the_exit_status_and_dry_run_changes_nothing() {
    if !engine() {
        return;
    }
    let fx = Fixture::new("fg");
    fx.build("");
    let out = fx.kas(&["run", "--", "sh", "-c", "echo in-container; exit 5"]);
    assert_eq!(
        (out.code(), out.stdout().as_str()),
        (5, "in-container\n"),
        "{out}"
    );
    assert!(!exists("container", &fx.image), "--rm");

    // An empty KAS_SSH_DIR mounts no SSH folder and checks no key.
    let out = fx.kas_with(
        &["run", "--", "sh", "-c", "test -e ~/.ssh || echo no-ssh"],
        &[("KAS_SSH_DIR", "")],
    );
    assert_eq!(out.stdout(), "no-ssh\n", "{out}");
    assert!(out.commands().iter().all(|c| !c.starts_with("ssh-keygen")));

    // shell with no container: a new one, fed from standard input.
    let out = fx.kas_input(&["shell"], "echo $((6 * 7)) in $PWD\n");
    assert_eq!(out.stdout(), "42 in /home/kas/project\n", "{out}");
    // Piped input: -i without -t (after the inspect and the engine check).
    assert!(
        out.docker_commands()[2]
            .starts_with(&format!("docker run --name {} --rm -i --memory", fx.image)),
        "{out}"
    );
    assert!(
        out.docker_commands()[2].ends_with(&format!(" {} sh", fx.image)),
        "{out}"
    );
    // shell with one running: into it.
    let out = fx.kas(&["run", "-d", "--", "sleep", "60"]);
    assert_eq!(out.code(), 0, "{out}");
    let out = fx.kas_input(&["shell"], "echo $$; exit 3\n");
    assert_eq!(out.code(), 3, "{out}");
    assert_ne!(
        out.stdout(),
        "1\n",
        "a second process, not the container's first"
    );
    assert_eq!(
        out.docker_commands(),
        [
            format!(
                "docker container inspect --format '{{{{.State.Running}}}}' {}",
                fx.image
            ),
            format!("docker exec -i {} sh", fx.image)
        ]
    );
    assert_eq!(fx.kas(&["run", "-"]).code(), 0);

    let history = fx.repo.parent().unwrap().join("history");
    std::fs::remove_dir_all(&history).unwrap();
    let out = fx.kas(&["--dry-run", ".dev", "run", "-d"]);
    assert_eq!(out.code(), 0, "{out}");
    let printed = out.stdout();
    assert!(
        printed.contains(&format!("docker run --name {0}.dev --rm ", fx.image))
            && printed.contains(&format!("-d {}.dev\n", fx.image)),
        "{printed}"
    );
    assert!(!history.exists(), "dry run made the history files");
    assert!(!exists("container", &format!("{}.dev", fx.image)));
}

#[test]
fn ctrl_c_reaches_the_container_and_kas_waits_for_its_status() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    if !engine() {
        return;
    }
    let fx = Fixture::new("int");
    fx.build("");
    // As at a terminal: kas leads its own process group, and Ctrl-C
    // signals the whole group.
    let mut child = Command::new(KAS)
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "trap 'echo got-int; exit 9' INT; echo ready; sleep 60 & wait",
        ])
        .current_dir(&fx.repo)
        .env("HOME", &fx.home)
        .env("KAS_SSH_DIR", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let group = format!("-{}", child.id());
    let kill = Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest, "got-int\n");
    assert_eq!(
        status.code(),
        Some(9),
        "kas waited and passed the status on"
    );
    assert!(!exists("container", &fx.image));
}

#[test]
fn ssh_folder_errors_come_before_docker() {
    if !engine() {
        return;
    }
    let fx = Fixture::new("ssh");
    let base = fx.repo.parent().unwrap().to_path_buf();
    let file = base.join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let empty = base.join("empty-ssh");
    std::fs::create_dir_all(&empty).unwrap();
    let junk = base.join("junk-ssh");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("id_rsa"), "not a key\n").unwrap();
    std::fs::write(junk.join("known_hosts"), "").unwrap();
    let cases = [
        ("relative/.ssh".to_string(), "must be an absolute path"),
        (base.join("missing").display().to_string(), "does not exist"),
        (file.display().to_string(), "is not a folder"),
        (empty.display().to_string(), "holds no key"),
        (junk.display().to_string(), "holds no key"),
    ];
    for (dir, message) in cases {
        let out = fx.kas_with(
            &["run", "-d", "--", "sleep", "60"],
            &[("KAS_SSH_DIR", &dir)],
        );
        assert_eq!(out.code(), 3, "{dir}: {out}");
        assert!(out.stderr().contains(message), "{dir}: {out}");
        assert!(out.stderr().contains("KAS_SSH_DIR"), "{dir}: {out}");
        assert!(out.docker_commands().is_empty(), "{dir}: {out}");
    }
    assert!(!exists("container", &fx.image));
}

#[test]
fn push_merges_this_platform_into_the_manifest_list() {
    if !engine() {
        return;
    }
    let Some(registry) = registry() else {
        return;
    };
    let repository = format!("t{}", std::process::id());
    let fx = Fixture::with_config("push", &format!("  registry: {registry}/{repository}\n"));
    let remote = format!("{registry}/{repository}/{}", fx.image);

    // Another machine pushed an arm64 image and a list holding it.
    let arm = format!("{remote}-aarch64");
    let out = Command::new("docker")
        .args(["build", "--no-cache", "--platform", "linux/arm64", "--file"])
        .arg(fx.repo.join("Dockerfile.arm64"))
        .args(["--tag", &arm])
        .arg(&fx.repo)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        docker_stdout(&["image", "inspect", "--format", "{{.Architecture}}", &arm]),
        "arm64"
    );
    assert!(docker(&["push", &arm]).status.success());
    let config = fx.home.join(".docker");
    let docker_home = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .env("HOME", &fx.home)
            .output()
            .unwrap()
    };
    assert!(
        docker_home(&["manifest", "create", "--insecure", &remote, &arm])
            .status
            .success()
    );
    assert!(
        docker_home(&["manifest", "push", "--insecure", "--purge", &remote])
            .status
            .success()
    );
    let arm_digest =
        list_entries(&registry, &format!("{repository}/{}", fx.image))["arm64"].clone();

    // An interrupted push left a local copy of the list that lacks arm64:
    // docker would read it instead of the registry's.
    assert!(
        docker_home(&["manifest", "create", "--insecure", &remote, &arm])
            .status
            .success()
    );
    assert!(
        docker_home(&["manifest", "annotate", &remote, &arm, "--arch", "amd64"])
            .status
            .success()
    );

    // No image yet: a clear error, nothing pushed.
    let out = fx.kas(&["push"]);
    assert_eq!(out.code(), 3, "{out}");
    assert!(out.stderr().contains("kubectl kas build"), "{out}");

    fx.build("");
    let out = fx.kas(&["push"]);
    assert_eq!(out.code(), 0, "{out}");
    let commands = out.commands();
    assert!(
        commands.iter().all(|c| !c.starts_with("gcloud")),
        "no gcloud for a local registry: {commands:?}"
    );
    assert!(
        commands.contains(&format!("docker manifest push --purge --insecure {remote}")),
        "{commands:?}"
    );
    assert!(out.stderr().contains("left behind"), "{out}");
    // inspect image, tag, push, rm local list, inspect list, create,
    // annotate, push list
    assert_eq!(commands.len(), 8, "{commands:?}");

    let name = format!("{repository}/{}", fx.image);
    let tags = registry_get(&registry, &format!("/v2/{name}-x86_64/tags/list"), "");
    assert!(tags.contains("\"latest\""), "{tags}");
    let entries = list_entries(&registry, &name);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries["arm64"], arm_digest, "the arm64 entry is kept");
    let amd64 = entries["amd64"].clone();
    let pushed = registry_digest(&registry, &format!("{name}-x86_64"));
    assert_eq!(amd64, pushed, "the list holds this push's image");

    // A new build pushed again replaces the amd64 entry and keeps arm64.
    std::fs::write(fx.repo.join("bin/marker"), "second build\n").unwrap();
    fx.build("");
    let out = fx.kas(&["push"]);
    assert_eq!(out.code(), 0, "{out}");
    let entries = list_entries(&registry, &name);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries["arm64"], arm_digest);
    assert_ne!(entries["amd64"], amd64, "the old amd64 image is replaced");
    assert_eq!(
        entries["amd64"],
        registry_digest(&registry, &format!("{name}-x86_64"))
    );
    assert!(
        !config
            .join("manifests")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "the local copy of the list is purged"
    );
    let _ = docker(&["image", "rm", "--force", &arm, &format!("{remote}-x86_64")]);
    // The first build is left only under its pushed digest: remove that
    // reference (never by ID: parallel tests' identical images share it).
    let _ = docker(&["image", "rm", &format!("{remote}-x86_64@{amd64}")]);
}

/// `architecture -> digest` of the list `name` in the registry.
fn list_entries(registry: &str, name: &str) -> std::collections::BTreeMap<String, String> {
    let body = registry_get(
        registry,
        &format!("/v2/{name}/manifests/latest"),
        "application/vnd.docker.distribution.manifest.list.v2+json",
    );
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        list["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
        "{body}"
    );
    list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The digest the registry gives the image `name:latest`.
fn registry_digest(registry: &str, name: &str) -> String {
    let head = registry_request(
        registry,
        "HEAD",
        &format!("/v2/{name}/manifests/latest"),
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no digest for {name}: {head}"))
}

fn registry_get(registry: &str, path: &str, accept: &str) -> String {
    let response = registry_request(registry, "GET", path, accept);
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    body.to_string()
}

/// A plain HTTP/1.1 request to the registry on 127.0.0.1.
fn registry_request(registry: &str, method: &str, path: &str, accept: &str) -> String {
    let mut stream = TcpStream::connect(registry).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let accept = if accept.is_empty() {
        String::new()
    } else {
        format!("Accept: {accept}\r\n")
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {registry}\r\n{accept}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn jlab_tboard_and_dash_open_their_urls() {
    if !engine() {
        return;
    }
    let fx = Fixture::new("jlab");
    fx.build("");
    let [dashboard, tensorboard, jupyterlab] = fx.ports;

    let out = fx.kas(&["jlab"]);
    assert_eq!(out.code(), 0, "{out}");
    // Started the container (it was not running), then the server.
    let commands = out.docker_commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert!(commands[1].starts_with("docker run ") && commands[1].contains("--detach"));
    assert!(commands[2].starts_with(&format!("docker exec {} sh -c", fx.image)));
    let url = format!("http://127.0.0.1:{jupyterlab}/lab?token=fixture-token-1234");
    // The token reaches the browser in a page, not in its arguments, and is
    // printed nowhere (--verbose included).
    let opened = fx.browser_opened();
    assert_eq!(opened.len(), 1, "{opened:?}");
    let page = opened[0].strip_prefix("file://").expect("a local page");
    assert!(page.ends_with(".html"), "{page}");
    assert!(!Path::new(page).exists(), "the page outlived the command");
    let seen = |ext: &str| std::fs::read_to_string(fx.browser_log.with_extension(ext)).unwrap();
    assert_eq!(seen("log.mode"), "600\n");
    assert!(seen("log.page").contains(&format!("url={}", url.replace('&', "&amp;"))));
    assert!(
        out.stdout()
            .contains(&format!("http://127.0.0.1:{jupyterlab}/lab?token=***")),
        "{out}"
    );
    assert!(!out.to_string().contains("fixture-token-1234"), "{out}");
    let started = fx.kas(&["exec", "cat", "/tmp/jupyter-starts"]);
    assert_eq!(
        started.stdout(),
        "lab --allow-root --no-browser --ip=0.0.0.0\n",
        "{started}"
    );

    // Again: the container and the server are reused.
    let out = fx.kas(&["jlab"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.docker_commands().len(), 2, "{out}");
    assert_eq!(fx.browser_opened().len(), 2);
    // Two pages, each naming the URL in its refresh, script, link and text.
    assert_eq!(seen("log.page").matches("fixture-token-1234").count(), 8);
    let started = fx.kas(&["exec", "cat", "/tmp/jupyter-starts"]);
    assert_eq!(started.stdout().lines().count(), 1, "{started}");

    let out = fx.kas(&["tboard"]);
    assert_eq!(out.code(), 0, "{out}");
    let started = fx.kas(&["exec", "cat", "/tmp/tensorboard-starts"]);
    assert_eq!(
        started.stdout(),
        "--logdir /home/kas/ray_results --bind_all\n",
        "{started}"
    );

    let out = fx.kas(&["dash"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.docker_commands().is_empty(), "{out}");
    // No token: opened as they are.
    assert_eq!(
        fx.browser_opened()[2..],
        [
            format!("http://127.0.0.1:{tensorboard}/"),
            format!("http://127.0.0.1:{dashboard}"),
        ]
    );
}

/// Kubernetes mode itself is tested in kas_k8s.rs; here, that it does not
/// fall back to Docker and fails clearly without a cluster.
#[test]
fn kubernetes_mode_without_a_cluster_fails_clearly() {
    let fx_dir = tempfile::tempdir().unwrap();
    // A cluster on a port where nothing listens.
    let kubeconfig = fx_dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n\
         current-context: x\n",
    )
    .unwrap();
    let kas = |args: &[&str]| {
        Command::new(KAS)
            .args(args)
            .current_dir(fx_dir.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", fx_dir.path().join("cache"))
            .env("XDG_STATE_HOME", fx_dir.path().join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Without kubectl on PATH, that is the clear error instead.
    for args in [&[".", "exec", "echo", "hi"][..], &["--k8s", "dash"]] {
        let out = kas(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("kubectl get rayclusters.ray.io")
                || stderr.contains("`kubectl` was not found on PATH"),
            "{stderr}"
        );
    }
    let out = kas(&["kfwd", "8265", "-"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no forward of port 8265"), "{stderr}");
    let out = Command::new(KAS).arg("biuld").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command `biuld`"));
    let out = Command::new(KAS).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: kubectl kas"));
}

#[test]
fn kubectl_kas_help_lists_the_commands() {
    let kubectl = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output();
    if !need::present(
        kubectl.map(|o| o.status.success()).unwrap_or(false),
        "kubectl is needed to test plugin discovery: `source .ci/setup-helm.sh` provides it",
    ) {
        return;
    }
    let bin_dir = Path::new(KAS).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .args(["kas", "--help"])
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("Usage: kubectl kas [OPTIONS] [.FLAVOR] COMMAND"),
        "{stdout}"
    );
    for command in [
        "build", "push", "run", "exec", "shell", "jlab", "tboard", "dash",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from:\n{stdout}"
        );
    }
}

/// Every file under `dir`, relative, sorted (what a command may have
/// changed).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Needs no engine: without docker, or with an engine that does not
/// answer, `build` and `run` say which and change nothing (the context's
/// clutter stays, no history file is made).
#[test]
fn build_and_run_check_docker_before_they_change_anything() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("src/__pycache__")).unwrap();
    std::fs::create_dir_all(repo.join(".tox/py")).unwrap();
    std::fs::write(repo.join("src/__pycache__/m.pyc"), "x").unwrap();
    std::fs::write(repo.join(".coverage"), "x").unwrap();
    std::fs::write(repo.join("Dockerfile"), "FROM scratch\n").unwrap();
    let history = dir.path().join("history");
    std::fs::write(
        repo.join("kas.yaml"),
        format!(
            "kas:\n  image: kas-t-nodocker\n  history_dir: {}\n",
            history.display()
        ),
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let empty_path = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty_path).unwrap();
    let before = tree(dir.path());
    let no_engine = "unix:///nonexistent/kas-test-docker.sock";
    type Case<'a> = (&'a [&'a str], Vec<(&'a str, String)>, &'a str);
    let mut cases: Vec<Case> = vec![
        (
            &["build"],
            vec![("PATH", empty_path.display().to_string())],
            "`docker` was not found on PATH: install Docker",
        ),
        (
            &["run", "--", "true"],
            vec![("PATH", empty_path.display().to_string())],
            "`docker` was not found on PATH: install Docker",
        ),
    ];
    if which::which("docker").is_ok() {
        for args in [&["build"][..], &["run", "--", "true"][..]] {
            cases.push((
                args,
                vec![("DOCKER_HOST", no_engine.to_string())],
                "the Docker engine does not answer",
            ));
        }
    }
    for (args, env, message) in cases {
        let mut cmd = Command::new(KAS);
        cmd.args(args)
            .current_dir(&repo)
            .env("HOME", &home)
            .env("KAS_SSH_DIR", "")
            .env_remove("KAS_CONFIG")
            .stdin(Stdio::null());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = Run(cmd.output().unwrap());
        assert_eq!(out.code(), 3, "{args:?} {env:?}: {out}");
        assert!(out.stderr().contains(message), "{args:?}: {out}");
        assert!(
            out.stderr().contains("nothing was changed"),
            "{args:?}: {out}"
        );
        assert_eq!(tree(dir.path()), before, "{args:?} {env:?} changed files");
    }
}
