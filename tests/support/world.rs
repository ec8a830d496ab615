//! Scripted worlds for plan snapshots: [`Script`] answers the commands a
//! tool runs with output captured from the real CLIs and records what was
//! asked; every suite's fake runner stands on it. [`World`] is the
//! `kubectl ray` suites' runner: a command without an answer is a bug.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use kas_infra::app::cli::Ctx;
use kas_infra::app::config::Config;
use kas_infra::exec::cmd::Cmd;
use kas_infra::exec::environment::Env;
use kas_infra::exec::runner::{Exec, Output};
use kas_infra::exec::ui::Ui;

struct Rule {
    prefix: String,
    answers: VecDeque<Output>,
    last: Output,
}

/// A command the tool ran: its printed line and what it got on stdin.
#[derive(Clone, Debug)]
pub struct Ran {
    pub line: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
}

/// Answers by the printed line's prefix, and the record of what ran.
#[derive(Default)]
pub struct Script {
    rules: Mutex<Vec<Rule>>,
    ran: Mutex<Vec<Ran>>,
}

impl Script {
    /// Answers commands whose printed line starts with `prefix`. Calling
    /// it again with the same prefix queues a later answer; the last one
    /// repeats.
    pub fn on(&self, prefix: &str, answer: Output) {
        let mut rules = self.rules.lock().unwrap();
        if let Some(rule) = rules.iter_mut().find(|r| r.prefix == prefix) {
            rule.answers.push_back(answer.clone());
            rule.last = answer;
        } else {
            rules.push(Rule {
                prefix: prefix.to_string(),
                answers: VecDeque::from([answer.clone()]),
                last: answer,
            });
        }
    }

    /// Like [`Script::on`], but replaces what `prefix` answered so far: a
    /// world varied from a common one.
    pub fn set(&self, prefix: &str, answer: Output) {
        self.rules.lock().unwrap().retain(|r| r.prefix != prefix);
        self.on(prefix, answer);
    }

    /// Records `cmd` and gives its scripted answer, if any. The longest
    /// matching prefix wins, so a general answer and a specific one can
    /// live side by side.
    pub fn answer(&self, cmd: &Cmd) -> Option<Output> {
        let line = cmd.to_string();
        self.ran.lock().unwrap().push(Ran {
            line: line.clone(),
            args: cmd.get_args().to_vec(),
            stdin: cmd.get_stdin().map(<[u8]>::to_vec),
        });
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .filter(|r| line.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())?;
        Some(
            rule.answers
                .pop_front()
                .unwrap_or_else(|| rule.last.clone()),
        )
    }

    pub fn ran(&self) -> Vec<Ran> {
        self.ran.lock().unwrap().clone()
    }
}

#[derive(Default)]
pub struct World {
    script: Script,
}

impl World {
    pub fn new() -> Arc<World> {
        Arc::new(World::default())
    }

    /// See [`Script::on`].
    pub fn on(&self, prefix: &str, answer: Output) -> &World {
        self.script.on(prefix, answer);
        self
    }

    pub fn ran(&self) -> Vec<Ran> {
        self.script.ran()
    }

    pub fn lines(&self) -> Vec<String> {
        self.ran().into_iter().map(|r| r.line).collect()
    }
}

impl Exec for World {
    fn exec(&self, cmd: &Cmd) -> Result<Output> {
        match self.script.answer(cmd) {
            Some(output) => Ok(output),
            None => panic!("the scripted world has no answer for `{cmd}`"),
        }
    }
}

/// What a run left: exit status, what the user read, what ran.
pub struct Run {
    pub code: u8,
    pub ui: Vec<String>,
    pub world: Arc<World>,
}

impl Run {
    /// The exit status and the user's lines, for a snapshot.
    pub fn transcript(&self) -> String {
        let mut out = format!("exit {}\n", self.code);
        for line in &self.ui {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Runs `kubectl-ray ARGS` against `world`, with `config`.
pub fn run_with(world: Arc<World>, config: Config, args: &[&str]) -> Run {
    let ui = Arc::new(Ui::buffered());
    let mut argv: Vec<OsString> = vec!["kubectl-ray".into()];
    argv.extend(args.iter().map(OsString::from));
    let env = Env::from_pairs([("KAS_POLL_MS", "0"), ("HOME", "/home/test")]);
    let exec: Arc<dyn Exec> = world.clone();
    let ui_for_ctx = ui.clone();
    let code = kas_infra::tools::kubectl_ray::drive(argv, move |common| {
        Ok(Ctx::new(exec, ui_for_ctx, env, config, common))
    });
    Run {
        code,
        ui: ui.lines(),
        world,
    }
}

pub fn run(world: Arc<World>, args: &[&str]) -> Run {
    run_with(world, Config::default(), args)
}

pub fn ok(stdout: &str) -> Output {
    Output::ok(stdout)
}

pub fn failed(code: i32, stderr: &str) -> Output {
    Output::failed(code, stderr)
}
