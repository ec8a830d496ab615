//! A cloud project for one test: the GCP emulator, a home folder with the
//! project's kas.yaml, and the real gcloud behind a wrapper on PATH that
//! counts its runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use kas_test_support::terminal;
use serde_json::Value;

use crate::emulator::gcp::{GcpEmulator, HUMAN};

pub struct Cloud {
    pub emu: GcpEmulator,
    pub home: tempfile::TempDir,
    gcloud_log: PathBuf,
}

/// What a tool run left.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn bin(tool: &str) -> &'static str {
    match tool {
        "admin-service-account" => env!("CARGO_BIN_EXE_admin-service-account"),
        "artifact-registry" => env!("CARGO_BIN_EXE_artifact-registry"),
        "gke-cluster" => env!("CARGO_BIN_EXE_gke-cluster"),
        "gke-nat" => env!("CARGO_BIN_EXE_gke-nat"),
        "gke-allow" => env!("CARGO_BIN_EXE_gke-allow"),
        "ray-service-account" => env!("CARGO_BIN_EXE_ray-service-account"),
        "clean-images" => env!("CARGO_BIN_EXE_clean-images"),
        other => panic!("no tool {other}"),
    }
}

/// The tests' project file: the emulator's project, no GPU driver step
/// (no Kubernetes API behind the emulated cluster here).
const KAS_YAML: &str = "gcloud:\n  configuration: kas\n  project: test-project\n  region: europe-west4\n  zone: europe-west4-a\ngke:\n  gpu_driver_installer: ''\n";

impl Cloud {
    /// A project with a person (roles/owner) logged in.
    pub fn new() -> Cloud {
        Cloud::with(GcpEmulator::start().expect("the GCP emulator starts"))
    }

    /// A project with nobody logged in.
    pub fn logged_out() -> Cloud {
        Cloud::with(GcpEmulator::start_logged_out().expect("the GCP emulator starts"))
    }

    fn with(emu: GcpEmulator) -> Cloud {
        let real = which::which("gcloud")
            .expect("these tests need the real gcloud on PATH: install the Google Cloud CLI");
        let home = tempfile::tempdir().unwrap();
        let bin_dir = home.path().join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let gcloud_log = home.path().join("gcloud.log");
        let wrapper = bin_dir.join("gcloud");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                gcloud_log.display(),
                real.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(home.path().join("kas.yaml"), KAS_YAML).unwrap();
        Cloud {
            emu,
            home,
            gcloud_log,
        }
    }

    /// Runs a tool in the project's folder, without a terminal.
    pub fn run(&self, tool: &str, args: &[&str]) -> Run {
        self.run_with(tool, args, &[])
    }

    /// [`Cloud::run`] with extra environment variables.
    pub fn run_with(&self, tool: &str, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let out = self
            .command(tool, args, vars)
            .output()
            .expect("the tool runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command [`Cloud::run_with`] runs, for a test that starts it
    /// itself.
    pub fn command(&self, tool: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin(tool));
        cmd.args(args);
        self.prepare(cmd, vars)
    }

    /// Runs a tool on a terminal (util-linux `script` makes one); `None`
    /// (after a note) when `script` is missing outside CI. The run's
    /// stdout holds everything the terminal showed, redraws included.
    pub fn run_on_terminal(&self, tool: &str, args: &[&str]) -> Option<Run> {
        if which::which("script").is_err() {
            let message = "this test needs `script` (util-linux; Debian: bsdutils) for a terminal";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("skipped: {message}");
            return None;
        }
        let cmd = terminal::script(Path::new(bin(tool)), args);
        let out = self.prepare(cmd, &[]).output().expect("script runs");
        Some(Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `cmd` in the project's folder, with the emulator's environment.
    fn prepare(&self, mut cmd: Command, vars: &[(&str, &str)]) -> Command {
        cmd.current_dir(self.home.path());
        self.emu.apply_env(&mut cmd);
        let path = format!(
            "{}:{}",
            self.home.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("HOME", self.home.path())
            .env_remove("KAS_CONFIG")
            .stdin(std::process::Stdio::null())
            .envs(vars.iter().copied());
        cmd
    }

    /// How many gcloud processes the tools started so far.
    pub fn gcloud_runs(&self) -> usize {
        std::fs::read_to_string(&self.gcloud_log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Runs `tool ARGS` from zeroed counts and prints what it cost as a
    /// row of the README's cost table (`--nocapture` shows them): gcloud
    /// processes and API requests (token exchanges left out). Returns the
    /// run and its gcloud processes.
    pub fn run_costed(&self, tool: &str, args: &[&str]) -> (Run, usize) {
        self.reset_counts();
        let run = self.run(tool, args);
        let gcloud = self.gcloud_runs();
        println!(
            "| `{tool}` | `{}` | {gcloud} | {} |",
            args.join(" "),
            self.api_requests()
        );
        (run, gcloud)
    }

    pub fn reset_counts(&self) {
        let _ = std::fs::remove_file(&self.gcloud_log);
        self.emu.clear_log();
    }

    /// Changes since the last reset, as `METHOD /path` lines.
    pub fn mutations(&self) -> Vec<String> {
        self.emu
            .mutating_requests()
            .iter()
            .map(|r| r.line())
            .collect()
    }

    pub fn api_requests(&self) -> usize {
        self.emu.api_requests().len()
    }

    pub fn key_file(&self) -> PathBuf {
        self.home.path().join(".kas-auth.json")
    }

    pub fn kubeconfig(&self) -> Value {
        let text = std::fs::read_to_string(self.emu.kubeconfig()).unwrap_or_default();
        serde_yaml::from_str(&text).unwrap_or(Value::Null)
    }

    /// Logs the person in again (as `gcloud auth login` would).
    pub fn human_logs_in(&self) {
        self.emu.add_human_account(HUMAN).unwrap();
    }
}
