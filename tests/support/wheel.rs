//! What the publish-wheel tests share: the Python tools from
//! `.ci/setup-python.sh`, a pypiserver with a password, and a sandbox (a
//! git copy of a fixture, a PATH of logging wrappers, a HOME of its own).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::free_port;

/// The virtual environment with pypiserver, uv, build, twine and poetry.
pub struct Python {
    pub bin: PathBuf,
    pub wheelhouse: PathBuf,
}

impl Python {
    /// The tools, or `None` (skip) outside CI when they are not installed.
    pub fn find() -> Option<Python> {
        let bin = std::env::var_os("KAS_TEST_PYTHON_BIN").map(PathBuf::from);
        let wheelhouse = std::env::var_os("KAS_TEST_WHEELHOUSE").map(PathBuf::from);
        match (bin, wheelhouse) {
            (Some(bin), Some(wheelhouse)) if bin.join("pypi-server").is_file() => {
                Some(Python { bin, wheelhouse })
            }
            _ => {
                let why = "the publish-wheel tests need KAS_TEST_PYTHON_BIN (a virtual \
                           environment's bin with pypiserver, passlib, uv, build, twine and \
                           poetry) and KAS_TEST_WHEELHOUSE (setuptools' wheel): run \
                           `KAS_CI_DIR=/tmp/kas-ci bash -c 'on_exit() { :; }; source \
                           .ci/setup-python.sh; env | grep KAS_TEST_'` and export what it prints";
                crate::need::missing(why);
                None
            }
        }
    }
}

/// A pypiserver on 127.0.0.1 that wants a password for every action.
pub struct Index {
    child: Child,
    dir: TempDir,
    port: u16,
    pub user: String,
    pub password: String,
}

impl Index {
    pub fn start(py: &Python) -> Index {
        Index::start_for(py, "uploader")
    }

    /// An index whose one account is `user`.
    pub fn start_for(py: &Python, user: &str) -> Index {
        let dir = tempfile::tempdir().unwrap();
        let packages = dir.path().join("packages");
        std::fs::create_dir(&packages).unwrap();
        let htpasswd = dir.path().join("htpasswd");
        let user = user.to_string();
        let password = format!("pw-{}-{}", std::process::id(), nanos());
        let mut make = Command::new(py.bin.join("python"))
            .args([
                "-c",
                "import sys; from passlib.apache import HtpasswdFile; \
                 h = HtpasswdFile(sys.argv[1], new=True); \
                 h.set_password(sys.argv[2], sys.stdin.read()); h.save()",
            ])
            .arg(&htpasswd)
            .arg(&user)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        make.stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        assert!(make.wait().unwrap().success(), "could not write htpasswd");
        let auth = [
            "-P".to_string(),
            htpasswd.display().to_string(),
            "-a".to_string(),
            "update,download,list".to_string(),
        ];
        Index::launch(py, dir, user, password, &auth)
    }

    /// An index that asks no one for anything (`-a . -P .`).
    pub fn start_open(py: &Python) -> Index {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("packages")).unwrap();
        let auth = ["-P", ".", "-a", "."].map(String::from);
        Index::launch(py, dir, String::new(), String::new(), &auth)
    }

    fn launch(py: &Python, dir: TempDir, user: String, password: String, auth: &[String]) -> Index {
        let packages = dir.path().join("packages");
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
            let mut child = Command::new(py.bin.join("pypi-server"))
                .args(["run", "-p", &port.to_string(), "-i", "127.0.0.1"])
                .args(auth)
                .arg("--disable-fallback")
                .arg(&packages)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("could not start pypi-server");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // The port was taken after all: try another.
                }
                // Its own health page, and still alive: not another
                // server that happened to take the port.
                if healthy(port) && child.try_wait().unwrap().is_none() {
                    return Index {
                        child,
                        dir,
                        port,
                        user,
                        password,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        panic!("pypi-server did not start:\n{log}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The files the index holds, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(self.dir.path().join("packages"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files
    }

    pub fn uv_env(&self) -> Vec<(String, String)> {
        vec![
            ("UV_PUBLISH_USERNAME".into(), self.user.clone()),
            ("UV_PUBLISH_PASSWORD".into(), self.password.clone()),
        ]
    }

    pub fn twine_env(&self) -> Vec<(String, String)> {
        vec![
            ("TWINE_USERNAME".into(), self.user.clone()),
            ("TWINE_PASSWORD".into(), self.password.clone()),
        ]
    }

    /// `pip download REQUIREMENT` from this index (credentials in a netrc
    /// file); the names of the files it fetched.
    pub fn pip_download(&self, py: &Python, requirement: &str) -> Vec<String> {
        let home = tempfile::tempdir().unwrap();
        let dest = home.path().join("dest");
        write_private(
            &home.path().join(".netrc"),
            &format!(
                "machine 127.0.0.1 login {} password {}\n",
                self.user, self.password
            ),
        );
        let out = Command::new(py.bin.join("pip"))
            .args([
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--index-url",
            ])
            .arg(format!("{}simple/", self.url()))
            .arg("--dest")
            .arg(&dest)
            .arg(requirement)
            .env("HOME", home.path())
            .env("PIP_CONFIG_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip download {requirement} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files: Vec<String> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the binary left.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A fixture project in its own git repository, with a `kas.yaml` above
/// it naming the index, and a PATH of logging wrappers.
pub struct Sandbox {
    pub root: TempDir,
    pub proj: PathBuf,
    bin: PathBuf,
    log: PathBuf,
    home: PathBuf,
    pub state: PathBuf,
    wheelhouse: Option<PathBuf>,
}

impl Sandbox {
    /// `fixture` with git and curl and the named tools of `py` on PATH.
    pub fn new(fixture: &str, py: &Python, index_url: &str, tools: &[&str]) -> Sandbox {
        let sb = Sandbox::make(fixture, index_url, Some(py.wheelhouse.clone()));
        for tool in tools {
            sb.wrap(tool, &py.bin.join(tool));
        }
        sb
    }

    /// `fixture` with only git and curl on PATH.
    pub fn bare(fixture: &str) -> Sandbox {
        Sandbox::make(fixture, "http://127.0.0.1:9/", None)
    }

    fn make(fixture: &str, index_url: &str, wheelhouse: Option<PathBuf>) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let proj = root.path().join("proj");
        let source = crate::root().join("tests/fixtures").join(fixture);
        copy_dir(&source, &proj);
        let sb = Sandbox {
            bin: root.path().join("bin"),
            log: root.path().join("calls.log"),
            home: root.path().join("home"),
            state: root.path().join("state"),
            proj,
            root,
            wheelhouse,
        };
        std::fs::create_dir_all(&sb.bin).unwrap();
        std::fs::create_dir_all(&sb.home).unwrap();
        std::fs::write(
            sb.root.path().join("kas.yaml"),
            format!("wheel:\n  repository: {index_url}\n"),
        )
        .unwrap();
        for tool in ["git", "curl"] {
            let real =
                which::which(tool).unwrap_or_else(|_| panic!("the tests need `{tool}` installed"));
            sb.wrap(tool, &real);
        }
        sb.git(&["init", "-q"]);
        sb.git(&["add", "-A"]);
        sb.git(&["commit", "-q", "-m", "fixture"]);
        sb
    }

    /// A script named `name` first on PATH that logs its command line and
    /// runs `real`.
    pub fn wrap(&self, name: &str, real: &Path) {
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> '{}'\nexec '{}' \"$@\"\n",
            self.log.display(),
            real.display()
        );
        let path = self.bin.join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The wrappers first, then the system's folders (for programs such as
    /// gcloud, whose launcher needs the usual shell tools).
    pub fn path_with_system(&self) -> (String, String) {
        (
            "PATH".into(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
        )
    }

    /// Runs git (the real one, unlogged) in the project.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Fixture",
                "-c",
                "user.email=fixture@example.org",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&self.proj)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn short_commit(&self) -> String {
        self.git(&["rev-parse", "--short", "HEAD"])
            .trim()
            .to_string()
    }

    pub fn git_status(&self) -> String {
        self.git(&["status", "--porcelain"])
    }

    /// Every file of the project but `.git`, with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        snapshot_into(&self.proj, &self.proj, &mut files);
        files
    }

    pub fn run(&self, args: &[&str], env: &[(String, String)]) -> Run {
        self.run_in(&self.proj, args, env)
    }

    pub fn run_in(&self, dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
        let mut cmd = Command::new(crate::bin("publish-wheel"));
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", &self.bin)
            .env("HOME", &self.home)
            .env("XDG_STATE_HOME", &self.state)
            .env("KAS_CONFIG", self.root.path().join("kas.yaml"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .stdin(Stdio::null());
        if let Some(wheelhouse) = &self.wheelhouse {
            // Isolated builds get their backend from here, not the network.
            // (uv has no variable for --no-index: a config file says it.)
            let uv_toml = self.root.path().join("uv.toml");
            std::fs::write(
                &uv_toml,
                format!(
                    "no-index = true\nfind-links = [\"{}\"]\n",
                    wheelhouse.display()
                ),
            )
            .unwrap();
            cmd.env("UV_CONFIG_FILE", &uv_toml)
                .env("PIP_NO_INDEX", "1")
                .env("PIP_FIND_LINKS", wheelhouse);
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The logged command lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn clear_log(&self) {
        let _ = std::fs::remove_file(&self.log);
    }

    /// How many times the tool ran `program`.
    pub fn calls(&self, program: &str) -> usize {
        let prefix = format!("{program} ");
        self.log()
            .lines()
            .filter(|l| l.starts_with(&prefix) || *l == program)
            .count()
    }

    pub fn assert_log_free_of(&self, secret: &str) {
        let log = self.log();
        assert!(!log.is_empty(), "nothing was logged");
        assert!(
            !log.contains(secret),
            "a command line held the secret:\n{log}"
        );
    }

    /// The version the last publish recorded.
    pub fn recorded_version(&self) -> String {
        std::fs::read_to_string(self.state.join("kas/attack-simulator-version"))
            .expect("no version recorded")
    }
}

fn snapshot_into(top: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if path.is_dir() {
            snapshot_into(top, &path, files);
        } else {
            let rel = path.strip_prefix(top).unwrap().to_path_buf();
            files.insert(rel, std::fs::read(&path).unwrap());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn healthy(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
