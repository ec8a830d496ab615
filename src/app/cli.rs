//! What every tool shares: the common flags, the context a tool runs in,
//! and the driver that turns arguments into an exit status
//! (complete, validate, run).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::app::config::Config;
use crate::app::converge::{self, Piece, Row, State, table};
use crate::app::docs;
use crate::app::driver;
use crate::app::grammar::{Op, OpSpec, describe, split_op};
use crate::clis::gcloud_props::GcloudProps;
use crate::exec::environment::Env;
use crate::exec::runner::{Exec, Runner, SystemExec};
use crate::exec::ui::Ui;

/// Exit statuses, as the README documents them.
pub const EXIT_ABSENT: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_ERROR: u8 = 3;

/// What `--version` prints after the name: Cargo's version and, when the
/// build knew it, the git commit (see build.rs).
pub const VERSION: &str = env!("KAS_VERSION");

/// The name as the user types it: a kubectl plugin is `kubectl NAME`.
pub fn typed_name(binary: &str) -> String {
    match binary.strip_prefix("kubectl-") {
        Some(plugin) => format!("kubectl {plugin}"),
        None => binary.to_string(),
    }
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Common {
    /// Run the read-only queries, print the changes instead of making them
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Print each command as it runs
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// The project file (default: the nearest kas.yaml above this folder, or $KAS_CONFIG)
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The gcloud configuration that must be active (default: gcloud.configuration in kas.yaml)
    #[arg(long, value_name = "NAME", global = true)]
    pub configuration: Option<String>,
    /// Status output: a table for people or JSON for scripts
    #[arg(long, short, value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
    /// Do not ask before destructive operations (also CLOUDSDK_CORE_DISABLE_PROMPTS=1)
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// A usage mistake found after parsing (a missing FILE, say): the driver
/// prints it with the usage line and exits with [`EXIT_USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A tool's arguments carry the common flags.
pub trait HasCommon {
    fn common(&self) -> &Common;
}

/// The arguments of a tool that has only the common flags.
#[derive(clap::Parser, Debug)]
pub struct PlainArgs {
    #[command(flatten)]
    pub common: Common,
}

impl HasCommon for PlainArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// The arguments of a tool that needs the caller's network.
#[derive(clap::Parser, Debug)]
pub struct CidrArgs {
    #[command(flatten)]
    pub common: Common,
    /// Your network (default: your public IP as /32, looked up only when needed)
    #[arg(long, value_name = "CIDR", value_parser = crate::app::cidr::parse)]
    pub cidr: Option<String>,
}

impl HasCommon for CidrArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// What an operation found, for the exit status.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// After `=` and `+`: whether the managed thing is there.
    Present(bool),
    /// After `-`: whether it is gone.
    Gone(bool),
    /// Anything else that finished.
    Done,
    /// A command whose exit status is another program's (`kubectl kas
    /// exec` passes the container's on).
    Exit(u8),
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Present(true) | Outcome::Gone(true) | Outcome::Done => 0,
            Outcome::Present(false) | Outcome::Gone(false) => EXIT_ABSENT,
            Outcome::Exit(code) => *code,
        }
    }
}

/// Everything a tool runs with.
pub struct Ctx {
    pub run: Runner,
    pub ui: Arc<Ui>,
    pub config: Config,
    pub env: Env,
    pub gcloud: GcloudProps,
    pub common: Common,
}

impl Ctx {
    /// The context of a real run: this process's environment and folder.
    pub fn from_process(common: &Common) -> Result<Ctx> {
        let env = Env::from_process();
        let cwd = std::env::current_dir()?;
        let config = Config::discover(common.config.as_deref(), env.get("KAS_CONFIG"), &cwd)?;
        Ok(Ctx::new(
            Arc::new(SystemExec),
            Arc::new(Ui::std()),
            env,
            config,
            common,
        ))
    }

    pub fn new(exec: Arc<dyn Exec>, ui: Arc<Ui>, env: Env, config: Config, common: &Common) -> Ctx {
        let gcloud = GcloudProps::load(&env);
        Ctx {
            run: Runner::with(exec, ui.clone(), common.dry_run, common.verbose),
            ui,
            config,
            env,
            gcloud,
            common: common.clone(),
        }
    }

    /// The safety valve: GCP tools act only in the project's own gcloud
    /// configuration. Checked before any request.
    pub fn check_gcloud_configuration(&self) -> Result<()> {
        let expected = self
            .common
            .configuration
            .as_deref()
            .unwrap_or(&self.config.gcloud.configuration);
        if self.gcloud.active != expected {
            // Name where `expected` came from: the flag, else kas.yaml.
            let wants = if self.common.configuration.is_some() {
                format!("--configuration asks for `{expected}`")
            } else {
                format!("this project uses `{expected}` (gcloud.configuration in kas.yaml)")
            };
            bail!(
                "the active gcloud configuration is `{}`, but {wants}: \
                 run `gcloud config configurations activate {expected}`, \
                 or pass --configuration {} to act in `{}` on purpose",
                self.gcloud.active,
                self.gcloud.active,
                self.gcloud.active
            );
        }
        Ok(())
    }

    fn property(&self, value: Option<String>, property: &str) -> Result<String> {
        match value {
            Some(v) => Ok(v),
            None => bail!(
                "gcloud has no value for {property} in configuration `{}`: run `gcloud config set {property} VALUE`",
                self.gcloud.active
            ),
        }
    }

    pub fn project(&self) -> Result<String> {
        self.property(self.gcloud.project(), "core/project")
    }

    pub fn region(&self) -> Result<String> {
        self.property(self.gcloud.region(), "compute/region")
    }

    pub fn zone(&self) -> Result<String> {
        self.property(self.gcloud.zone(), "compute/zone")
    }

    pub fn artifacts_location(&self) -> Result<String> {
        self.property(self.gcloud.artifacts_location(), "artifacts/location")
    }

    /// No questions: `--quiet` or gcloud's own switch.
    pub fn quiet(&self) -> bool {
        self.common.quiet || self.env.truthy("CLOUDSDK_CORE_DISABLE_PROMPTS")
    }

    /// Lists what a destructive operation will remove and, on a terminal,
    /// asks first.
    pub fn confirm_deletion(&self, doomed: &[String]) -> Result<()> {
        if doomed.is_empty() || self.quiet() || !self.ui.interactive {
            return Ok(());
        }
        // A plan deletes nothing: nothing to ask.
        self.run.for_real(|| {
            self.ui.progress("this will delete:");
            for item in doomed {
                self.ui.progress(&format!("  {item}"));
            }
            if !self.ui.confirm("Continue?", false) {
                bail!("nothing was deleted (pass --quiet to skip this question)");
            }
            Ok(())
        })
    }

    /// The usual `=`/`+`/`-` over a tool's pieces. `present` is what `=`
    /// answers with its exit status.
    pub fn converge(&self, op: Op, pieces: Vec<Piece<'_>>, present: bool) -> Result<Outcome> {
        match op {
            Op::Status => {
                self.report(&converge::rows(&pieces));
                Ok(Outcome::Present(present))
            }
            Op::Up => {
                converge::up(&self.run, pieces)?;
                Ok(Outcome::Present(true))
            }
            Op::Down => {
                let doomed: Vec<String> = pieces
                    .iter()
                    .filter(|p| p.state != State::Absent)
                    .map(|p| p.name.clone())
                    .collect();
                self.confirm_deletion(&doomed)?;
                converge::down(&self.run, pieces)?;
                Ok(Outcome::Gone(true))
            }
            other => bail!("{other:?} is not a converging operation"),
        }
    }

    /// Prints status rows as a table or as JSON.
    pub fn report(&self, rows: &[Row]) {
        self.report_with(rows, rows);
    }

    /// Prints `rows` as a table, or `json` as JSON.
    pub fn report_with<T: Serialize + ?Sized>(&self, rows: &[Row], json: &T) {
        match self.common.output {
            Format::Text => self.ui.say(&table(rows)),
            Format::Json => self
                .ui
                .say(&serde_json::to_string_pretty(json).unwrap_or_default()),
        }
    }
}

/// What runs a tool's operation.
pub enum Run<A, O> {
    /// One function for every operation: `run(ctx, op, args)`.
    Shared(fn(&Ctx, O, &A) -> Result<Outcome>),
    /// Each operation an options value of its own type, built from the
    /// parsed arguments; the driver completes, validates and runs it.
    Own(fn(O, A) -> Box<dyn driver::Command>),
}

impl<A: 'static, O: Copy + 'static> Run<A, O> {
    fn command(&self, op: O, args: A) -> Box<dyn driver::Command> {
        match self {
            Run::Shared(run) => Box::new(OpRun {
                run: *run,
                op,
                args,
            }),
            Run::Own(build) => build(op, args),
        }
    }
}

/// The options value of an operation tool: the operation and its parsed
/// arguments, run by the tool's function.
struct OpRun<A, O> {
    run: fn(&Ctx, O, &A) -> Result<Outcome>,
    op: O,
    args: A,
}

impl<A, O: Copy> driver::Command for OpRun<A, O> {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        (self.run)(ctx, self.op, &self.args)
    }
}

/// A tool: its name, its operations and what it does with them.
pub struct Tool<A: 'static, O: 'static> {
    pub name: &'static str,
    pub about: &'static str,
    pub ops: &'static [OpSpec<O>],
    /// The commands a user types most, one per line, for `--help`.
    pub examples: &'static str,
    pub run: Run<A, O>,
}

/// `argv` parsed by `command` into `A`; else clap's message printed and
/// the exit status to end with: 0 after `--help`/`--version`, 2 (usage).
pub fn parse<A: clap::FromArgMatches>(command: clap::Command, argv: &[OsString]) -> Result<A, u8> {
    let printed = |e: clap::Error, code: u8| {
        let _ = e.print();
        code
    };
    let matches = command.try_get_matches_from(argv).map_err(|e| {
        let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
        printed(e, code)
    })?;
    A::from_arg_matches(&matches).map_err(|e| printed(e, EXIT_USAGE))
}

/// Which options of `command` consume the next word.
pub fn takes_value(command: &clap::Command) -> impl Fn(&str) -> bool + '_ {
    |flag: &str| {
        command.get_arguments().any(|a| {
            a.get_action().takes_values()
                && (a.get_long().is_some_and(|l| flag == format!("--{l}"))
                    || a.get_short().is_some_and(|s| flag == format!("-{s}")))
        })
    }
}

impl<A, O> Tool<A, O>
where
    A: clap::Parser + HasCommon + 'static,
    O: Copy + 'static,
{
    /// Runs as a process.
    pub fn main(&self) -> ExitCode {
        let code = self.drive(std::env::args_os().collect(), Ctx::from_process);
        ExitCode::from(code)
    }

    /// Runs as a process whose operation may be left out: `default` then.
    pub fn main_or(&self, default: O) -> ExitCode {
        let code = self.drive_or(
            std::env::args_os().collect(),
            Some(default),
            Ctx::from_process,
        );
        ExitCode::from(code)
    }

    /// When `argv` holds no operation: its first word that is neither an
    /// option nor an option's value (a misspelt operation, or for a tool
    /// with a positional argument, what clap would take for it).
    pub fn stray_word(&self, argv: &[OsString]) -> Option<String> {
        let command = self.command();
        let takes_value = takes_value(&command);
        let split = split_op(self.ops, argv.to_vec(), &takes_value);
        if split.op.is_some() {
            return None;
        }
        let mut words = split.rest.iter().skip(1).map(|a| a.to_string_lossy());
        while let Some(word) = words.next() {
            if !word.starts_with('-') {
                return Some(word.into_owned());
            }
            if !word.contains('=') && takes_value(&word) {
                words.next();
            }
        }
        None
    }

    /// The clap definition `--help`, `--version`, the man page and the
    /// completion scripts all come from.
    pub fn command(&self) -> clap::Command {
        let typed = typed_name(self.name);
        let examples: String = self.examples.lines().map(|l| format!("  {l}\n")).collect();
        let mut after = format!("{}\nExamples:\n{examples}", describe(self.ops));
        match self.name.strip_prefix("kubectl-") {
            Some(plugin) => after.push_str(&format!(
                "\nCompletion: kubectl completes `{typed}` by running kubectl_complete-{plugin} \
                 (installed beside {}) from PATH.\n",
                self.name
            )),
            None => after.push_str(&format!(
                "\nShell completion: `{typed} completion bash|zsh|fish` prints the script.\n"
            )),
        }
        A::command()
            .name(self.name)
            .bin_name(&typed)
            .about(self.about)
            .version(VERSION)
            .override_usage(format!("{typed} [OPTIONS] <OPERATION>"))
            .after_help(after)
    }

    /// Every word that names an operation and what it does, for
    /// completion.
    pub fn operation_words(&self) -> Vec<docs::Operation> {
        let symbols = self.ops.iter().map(|s| (s.symbol, s.help));
        let words = self
            .ops
            .iter()
            .flat_map(|s| s.words.iter().map(move |w| (*w, s.help)));
        symbols.chain(words).collect()
    }

    /// Parses `argv`, builds the context with `make_ctx` and runs. Returns
    /// the exit status. Tests call this with a scripted context.
    pub fn drive(&self, argv: Vec<OsString>, make_ctx: impl FnOnce(&Common) -> Result<Ctx>) -> u8 {
        self.drive_or(argv, None, make_ctx)
    }

    /// Like [`Tool::drive`]; without an operation in `argv`, `default`
    /// runs (and usage is printed only when there is none).
    pub fn drive_or(
        &self,
        argv: Vec<OsString>,
        default: Option<O>,
        make_ctx: impl FnOnce(&Common) -> Result<Ctx>,
    ) -> u8 {
        let mut command = self.command();
        if default.is_some() {
            command =
                command.override_usage(format!("{} [OPTIONS] [OPERATION]", typed_name(self.name)));
        }
        let shells = !self.name.starts_with("kubectl-");
        if let Some(code) = docs::answer(&argv, &command, shells.then(|| self.operation_words())) {
            return code;
        }
        if argv.len() <= 1 && default.is_none() {
            eprintln!("{}", command.render_help());
            return EXIT_USAGE;
        }
        if command.get_positionals().next().is_none()
            && let Some(word) = self.stray_word(&argv)
        {
            eprintln!(
                "error: unknown operation `{word}`\n\n{}",
                describe(self.ops)
            );
            return EXIT_USAGE;
        }
        let takes_value = takes_value(&command);
        let split = split_op(self.ops, argv, takes_value);
        let args: A = match parse(command.clone(), &split.rest) {
            Ok(a) => a,
            Err(code) => return code,
        };
        let symbols: Vec<&str> = self.ops.iter().map(|s| s.symbol).collect();
        let op = match (split.op, split.second) {
            (Some(_), Some(second)) => {
                eprintln!(
                    "error: one operation at a time (also got `{second}`)\n\n{}",
                    describe(self.ops)
                );
                return EXIT_USAGE;
            }
            (Some(op), None) => op,
            (None, _) if let Some(op) = default => op,
            (None, _) => {
                eprintln!(
                    "error: no operation given: expected one of {}\n\n{}",
                    symbols.join(" "),
                    command.render_usage()
                );
                return EXIT_USAGE;
            }
        };
        let common = args.common().clone();
        let usage = command.render_usage().to_string();
        driver::execute(self.run.command(op, args), &common, make_ctx, &usage)
    }
}
