//! The one place subprocesses run. `--dry-run`, `--verbose` and the tests'
//! recording all hang off this, so no tool decides them on its own: a plan
//! is made here (mutations printed, waits printed as one line, values that
//! only a change would produce stood in for), and the layers above never
//! ask whether they are planning.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

use crate::exec::cmd::{Cmd, Stdio};
use crate::exec::programs::locate;
use crate::exec::ui::Ui;

/// What a finished command left behind.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    pub fn failed(code: i32, stderr: impl Into<String>) -> Output {
        Output {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A command that ran and failed. Kept as a type so callers can look at the
/// output (for example to tell "not found" from other failures).
#[derive(Debug)]
pub struct CmdFailed {
    pub line: String,
    pub output: Output,
}

impl std::fmt::Display for CmdFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.output.code {
            Some(code) => format!("exit {code}"),
            None => "killed by a signal".to_string(),
        };
        write!(f, "`{}` failed ({status})", self.line)?;
        let stderr = self.output.stderr.trim();
        if !stderr.is_empty() {
            write!(f, ":\n{stderr}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CmdFailed {}

/// Runs a command for real, or in tests answers from a script.
pub trait Exec: Send + Sync {
    fn exec(&self, cmd: &Cmd) -> Result<Output>;

    /// Runs a command whose output is handed to `line` while it runs: each
    /// line once whole (`true`), and the line being written so far
    /// (`false`: progress dots, say). A scripted answer has no time to
    /// pass: its lines are handed over at once.
    fn exec_streaming(&self, cmd: &Cmd, line: &(dyn Fn(&str, bool) + Sync)) -> Result<Output> {
        let out = self.exec(cmd)?;
        for text in out.stderr.lines().chain(out.stdout.lines()) {
            line(text, true);
        }
        Ok(out)
    }
}

/// Runs commands as child processes with duct.
pub struct SystemExec;

impl SystemExec {
    /// The command as duct runs it, its output not yet wired.
    pub(crate) fn expression(cmd: &Cmd) -> Result<duct::Expression> {
        let program = locate(cmd.program())?;
        let mut expr = duct::cmd(program, cmd.get_args()).unchecked();
        for (name, value) in cmd.get_env() {
            expr = match value {
                Some(v) => expr.env(name, v),
                None => expr.env_remove(name),
            };
        }
        if let Some(dir) = cmd.get_cwd() {
            expr = expr.dir(dir);
        }
        if let Some(bytes) = cmd.get_stdin() {
            expr = expr.stdin_bytes(bytes.to_vec());
        } else if cmd.stdio() != Stdio::Inherited {
            expr = expr.stdin_null();
        }
        Ok(expr)
    }
}

impl Exec for SystemExec {
    fn exec(&self, cmd: &Cmd) -> Result<Output> {
        let mut expr = SystemExec::expression(cmd)?;
        if cmd.stdio() != Stdio::Inherited {
            expr = expr.stdout_capture().stderr_capture();
        }
        let out = expr
            .run()
            .with_context(|| format!("could not start `{cmd}`"))?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn exec_streaming(&self, cmd: &Cmd, line: &(dyn Fn(&str, bool) + Sync)) -> Result<Output> {
        crate::exec::stream::exec_streaming(cmd, line)
    }
}

pub struct Runner {
    pub(in crate::exec) exec: Arc<dyn Exec>,
    pub ui: Arc<Ui>,
    /// `--dry-run`: read for real, print every change.
    planning: bool,
    verbose: bool,
    spawned: AtomicUsize,
}

impl Runner {
    pub fn with(exec: Arc<dyn Exec>, ui: Arc<Ui>, dry_run: bool, verbose: bool) -> Runner {
        Runner {
            exec,
            ui,
            planning: dry_run,
            verbose,
            spawned: AtomicUsize::new(0),
        }
    }

    /// Whether this run only plans. The layers above get planned values
    /// (`for_real`, `planned_or`, waits planned as one line); they ask
    /// this only where the plan is a printout of its own, as KubeRay's
    /// `job submit --dry-run` prints the RayJob it would apply and nothing
    /// else.
    pub fn planning(&self) -> bool {
        self.planning
    }

    /// How many commands were really started.
    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::SeqCst)
    }

    /// Runs a command and returns its output whatever its exit status.
    /// Under `--dry-run` a mutation is printed and pretends to succeed.
    pub fn run(&self, cmd: &Cmd) -> Result<Output> {
        Ok(self.produce(cmd)?.unwrap_or_else(|| Output::ok("")))
    }

    /// Runs a command whose output the caller goes on with, such as a
    /// server's URL. A planned mutation has none: `None`, and the caller
    /// plans what it would have done with it.
    pub fn produce(&self, cmd: &Cmd) -> Result<Option<Output>> {
        if self.planning && !cmd.is_query() {
            match cmd.here_document() {
                Some((line, text)) => {
                    self.ui.plan(&line);
                    self.ui.say(&text);
                    self.ui.plan("EOF");
                }
                None => self.ui.plan(&cmd.to_string()),
            }
            return Ok(None);
        }
        if self.verbose {
            self.ui.trace(&cmd.to_string());
        }
        self.spawned.fetch_add(1, Ordering::SeqCst);
        match cmd.stdio() {
            Stdio::Streamed => self.stream(cmd).map(Some),
            _ => self.exec.exec(cmd).map(Some),
        }
    }

    /// Runs a command that must succeed.
    pub fn check(&self, cmd: &Cmd) -> Result<Output> {
        let output = self.run(cmd)?;
        if output.success() {
            Ok(output)
        } else {
            Err(CmdFailed {
                line: cmd.to_string(),
                output,
            }
            .into())
        }
    }

    /// Runs a query that must succeed and parses its JSON output.
    pub fn json<T: DeserializeOwned>(&self, cmd: &Cmd) -> Result<T> {
        let output = self.check(cmd)?;
        parse_json(cmd, &output.stdout)
    }

    /// Like [`Runner::json`], but a failure that `missing` recognises (the
    /// CLI's own way of saying "no such thing", which its wrapper in
    /// `clis` knows) is `None` instead of an error.
    pub fn json_if<T: DeserializeOwned>(
        &self,
        cmd: &Cmd,
        missing: impl Fn(&Output) -> bool,
    ) -> Result<Option<T>> {
        let output = self.run(cmd)?;
        if output.success() {
            return parse_json(cmd, &output.stdout).map(Some);
        }
        if missing(&output) {
            return Ok(None);
        }
        Err(CmdFailed {
            line: cmd.to_string(),
            output,
        }
        .into())
    }

    /// A remark for the plan (`--dry-run`) and the trace (`--verbose`),
    /// such as what a policy write changes.
    pub fn note(&self, line: &str) {
        if self.planning {
            self.ui.plan(&format!("# {line}"));
        } else if self.verbose {
            self.ui.trace(&format!("# {line}"));
        }
    }

    /// A change made in this process (a file written, a kubeconfig
    /// rewritten), described the way a command would be.
    pub fn act(&self, description: &str, change: impl FnOnce() -> Result<()>) -> Result<()> {
        self.act_returning(description, change).map(|_| ())
    }

    /// [`Runner::act`] for a change that yields something (a process id,
    /// say): `None` when it was only planned.
    pub fn act_returning<T>(
        &self,
        description: &str,
        change: impl FnOnce() -> Result<T>,
    ) -> Result<Option<T>> {
        if self.planning {
            self.ui.plan(&format!("# {description}"));
            return Ok(None);
        }
        if self.verbose {
            self.ui.trace(&format!("# {description}"));
        }
        change()
            .map(Some)
            .with_context(|| format!("could not {description}"))
    }

    /// Something that only makes sense when the changes are real: a
    /// question before them, a check of what they left, a result to report
    /// after them. A plan skips it.
    pub fn for_real(&self, step: impl FnOnce() -> Result<()>) -> Result<()> {
        if self.planning { Ok(()) } else { step() }
    }

    /// A value that a planned change would have produced (a new cluster's
    /// pod range, a built wheel's name): in a plan, `stand_in` takes its
    /// place so the steps after it can be printed; for real, `real`.
    pub fn planned_or<T>(
        &self,
        stand_in: impl FnOnce() -> T,
        real: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if self.planning {
            Ok(stand_in())
        } else {
            real()
        }
    }

    /// Looks at something the steps before it make (credentials, say). In
    /// a plan those steps were only printed, so a look that fails is said
    /// and counts as "absent"; for real the failure stands.
    pub fn look_after_plan(
        &self,
        what: &str,
        probe: impl FnOnce() -> Result<bool>,
    ) -> Result<bool> {
        match probe() {
            Err(e) if self.planning => {
                self.ui.progress(&format!(
                    "cannot look at {what} before the steps above ran: {e:#}"
                ));
                Ok(false)
            }
            other => other,
        }
    }
}

/// Runs two independent reads side by side and returns both answers, so
/// a status costs the slower read rather than the sum of both.
pub fn together<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|s| {
        let first = s.spawn(a);
        let second = b();
        let first = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

fn parse_json<T: DeserializeOwned>(cmd: &Cmd, stdout: &str) -> Result<T> {
    // Google's list calls print nothing at all when there is nothing.
    let text = if stdout.trim().is_empty() {
        "[]"
    } else {
        stdout
    };
    serde_json::from_str(text)
        .with_context(|| format!("could not read the JSON that `{cmd}` printed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Exec for Echo {
        fn exec(&self, cmd: &Cmd) -> Result<Output> {
            Ok(Output::ok(cmd.get_args().join(" ")))
        }
    }

    #[test]
    fn dry_run_runs_queries_and_prints_mutations() {
        let ui = Arc::new(Ui::buffered());
        let runner = Runner::with(Arc::new(Echo), ui.clone(), true, false);
        let q = runner.run(&Cmd::query("gcloud").arg("list")).unwrap();
        assert_eq!(q.stdout, "list");
        let m = runner.run(&Cmd::mutation("gcloud").arg("create")).unwrap();
        assert_eq!(m.stdout, "");
        assert_eq!(runner.spawned(), 1);
        assert_eq!(ui.lines(), vec!["gcloud create"]);
    }

    #[test]
    fn failure_names_the_command_and_its_stderr() {
        struct Fail;
        impl Exec for Fail {
            fn exec(&self, _: &Cmd) -> Result<Output> {
                Ok(Output::failed(1, "ERROR: boom\n"))
            }
        }
        let runner = Runner::with(Arc::new(Fail), Arc::new(Ui::buffered()), false, false);
        let err = runner
            .check(&Cmd::mutation("gcloud").args(["a", "b c"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`gcloud a 'b c'` failed (exit 1):\nERROR: boom"
        );
    }
}
