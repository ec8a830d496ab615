//! The one driver: every binary's parsed command comes through here. The
//! context is built, the command's options value completes itself from it
//! and validates before anything runs, then runs; its outcome or error
//! becomes the exit status the README lists (the shape of kubectl's and
//! KubeRay's plugin commands: complete, validate, run).

use anyhow::Result;

use crate::app::cli::{Common, Ctx, EXIT_ERROR, EXIT_USAGE, Outcome, UsageError};

/// One command's options, built from its parsed arguments in one place.
pub trait Command {
    /// Fills in what the arguments leave to the context: kas.yaml's
    /// defaults, files to read, the kubectl target.
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }

    /// Refuses bad input before any command runs: a [`UsageError`] for a
    /// mistake in the arguments, any other error for bad input data.
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome>;
}

/// A command built at run time (each operation of a tool its own type).
impl<C: Command + ?Sized> Command for Box<C> {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        (**self).complete(ctx)
    }

    fn validate(&self, ctx: &Ctx) -> Result<()> {
        (**self).validate(ctx)
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        (**self).run(ctx)
    }
}

/// Builds the context with `make_ctx`, then completes, validates and runs
/// `command`. A usage error is printed with `usage` and exits 2; any other
/// error exits 3; an outcome exits as [`Outcome::exit_code`] says.
pub fn execute(
    mut command: impl Command,
    common: &Common,
    make_ctx: impl FnOnce(&Common) -> Result<Ctx>,
    usage: &str,
) -> u8 {
    let ctx = match make_ctx(common) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_ERROR;
        }
    };
    let outcome = command
        .complete(&ctx)
        .and_then(|()| command.validate(&ctx))
        .and_then(|()| command.run(&ctx));
    match outcome {
        Ok(outcome) => outcome.exit_code(),
        Err(e) if e.is::<UsageError>() => {
            ctx.ui.error(&format!("{e}"));
            eprintln!("\n{usage}");
            EXIT_USAGE
        }
        Err(e) => {
            ctx.ui.error(&format!("{e:#}"));
            EXIT_ERROR
        }
    }
}

/// A usage mistake found while parsing, before there is a context.
pub fn usage_error(message: &str, usage: &str) -> u8 {
    eprintln!("error: {message}\n\n{usage}");
    EXIT_USAGE
}
