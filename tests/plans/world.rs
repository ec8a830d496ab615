//! A scripted world for plan snapshots: canned answers to the read-only
//! queries (shapes captured from real gcloud/kubectl output), and a
//! transcript of everything the tool ran and said.

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use kas_infra::app::cli::{Ctx, HasCommon, Tool};
use kas_infra::app::config::Config;
use kas_infra::app::grammar::Op;
use kas_infra::exec::cmd::Cmd;
use kas_infra::exec::environment::Env;
use kas_infra::exec::runner::{Exec, Output};
use kas_infra::exec::ui::Ui;
use kas_test_support::world::Script;

pub struct World {
    script: Script,
    ui: Mutex<Option<Arc<Ui>>>,
    pub env: Env,
    pub config: Config,
}

impl World {
    /// An empty cloud project, active configuration `kas`.
    pub fn new() -> World {
        let env = Env::from_pairs([
            ("HOME", "/home/user"),
            ("CLOUDSDK_CONFIG", "/home/user/.config/gcloud"),
            ("CLOUDSDK_ACTIVE_CONFIG_NAME", "kas"),
            ("CLOUDSDK_CORE_PROJECT", "proj"),
            ("CLOUDSDK_COMPUTE_REGION", "europe-west4"),
            ("CLOUDSDK_COMPUTE_ZONE", "europe-west4-a"),
            ("KUBECONFIG", "/home/user/.kube/config"),
            ("PATH", "/usr/bin"),
        ]);
        World {
            script: Script::default(),
            ui: Mutex::new(None),
            env,
            config: Config::default(),
        }
    }

    /// Answers a query whose printed line starts with `prefix`.
    pub fn answer(self, prefix: &str, stdout: &str) -> World {
        self.script.set(prefix, Output::ok(stdout));
        self
    }

    /// A query that fails the way gcloud says "not found".
    pub fn not_found(self, prefix: &str) -> World {
        let err = "ERROR: (gcloud) NOT_FOUND: The resource was not found.";
        self.script.set(prefix, Output::failed(1, err));
        self
    }

    pub fn config(mut self, yaml: &str) -> World {
        self.config =
            kas_infra::app::config::Config::parse(yaml).expect("test configuration parses");
        self
    }

    pub fn unset(mut self, name: &str) -> World {
        self.env.remove(name);
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> World {
        self.env.set(name, value);
        self
    }

    pub fn home(self, home: &Path) -> World {
        let home = home.to_string_lossy().into_owned();
        self.env("HOME", &home)
            .env("CLOUDSDK_CONFIG", &format!("{home}/.config/gcloud"))
            .env("KUBECONFIG", &format!("{home}/.kube/config"))
    }

    /// Runs `argv` (a shell-like line, split on spaces) and returns the
    /// transcript: `? query`, planned mutations, progress and results.
    pub fn transcript<A: clap::Parser + HasCommon>(self, tool: &Tool<A, Op>, argv: &str) -> String {
        let ui = Arc::new(Ui::buffered());
        *self.ui.lock().unwrap() = Some(ui.clone());
        let env = self.env.clone();
        let self_home = env.home().to_string_lossy().into_owned();
        let config = self.config.clone();
        let world = Arc::new(self);
        let args: Vec<OsString> = argv.split(' ').map(OsString::from).collect();
        let exec = world.clone();
        let code = tool.drive(args, |common| {
            Ok(Ctx::new(exec, ui.clone(), env, config, common))
        });
        let home = self_home.clone();
        let mut out = format!("$ {argv}\n");
        // Independent reads run concurrently: a run of queries is listed
        // in a fixed order so the transcript does not depend on timing.
        let mut lines = ui.lines();
        let mut start = 0;
        while start < lines.len() {
            let end = (start..lines.len())
                .find(|&i| !lines[i].starts_with("? "))
                .unwrap_or(lines.len());
            lines[start..end].sort();
            start = end + 1;
        }
        for line in lines {
            out.push_str(&line.replace(&home, "$HOME"));
            out.push('\n');
        }
        out.push_str(&format!("exit {code}\n"));
        out
    }
}

impl Exec for World {
    fn exec(&self, cmd: &Cmd) -> Result<Output> {
        let line = cmd.to_string();
        let ui = self
            .ui
            .lock()
            .unwrap()
            .clone()
            .expect("transcript() sets the ui");
        ui.record(&format!("? {line}"));
        assert!(cmd.is_query(), "a mutation ran in a dry run: {line}");
        // An answer given again replaces the first, so a world can be varied.
        if let Some(output) = self.script.answer(cmd) {
            return Ok(output);
        }
        // An empty cloud project: every list is empty, every named
        // resource is missing.
        if cmd.program() == "gcloud" {
            let args = cmd.get_args();
            if args.iter().any(|a| a == "list") {
                return Ok(Output::ok("[]"));
            }
            if args.iter().any(|a| a == "describe") {
                return Ok(Output::failed(
                    1,
                    "ERROR: (gcloud) NOT_FOUND: The resource was not found.",
                ));
            }
        }
        ui.record("  (unscripted query: answered with failure)");
        Ok(Output::failed(99, "unscripted"))
    }
}
