//! `kubectl ray job submit|list|status|logs|stop`: Ray jobs on an existing
//! RayCluster, through Ray's Jobs REST API on its dashboard (reached by a
//! port-forward of the head pod, or `--address`), so no Ray is needed here.

mod follow;
mod query;
mod rayjob;
mod reach;
mod submit;

use anyhow::Result;

use crate::app::cli::{Common, Ctx};
use crate::app::driver;
use crate::clis::kubectl::Target;

use super::usage;

#[derive(clap::Args, Debug)]
#[command(subcommand_required = true, arg_required_else_help = true)]
pub struct JobArgs {
    #[command(subcommand)]
    word: JobWord,
}

#[derive(clap::Subcommand, Debug)]
enum JobWord {
    /// Submit a Ray job to a RayCluster and follow its logs until it ends
    #[command(after_help = submit::EXAMPLES)]
    Submit(Box<submit::SubmitArgs>),
    /// List the jobs of a RayCluster
    List(query::ListArgs),
    /// Show a job's status (exit 0 once it succeeded, 1 while it runs, 3 when it failed or stopped)
    Status(query::IdArgs),
    /// Print a job's logs (--follow: until it ends)
    Logs(query::LogsArgs),
    /// Stop a job and wait until it has stopped
    Stop(query::StopArgs),
}

pub fn run<F>(args: JobArgs, target: Target, common: &Common, make_ctx: F) -> u8
where
    F: FnOnce(&Common) -> Result<Ctx>,
{
    match args.word {
        JobWord::Submit(a) => {
            let u = usage(&["job", "submit"]);
            driver::execute(submit::Submit::new(*a, target), common, make_ctx, &u)
        }
        JobWord::List(a) => {
            let u = usage(&["job", "list"]);
            driver::execute(query::List { args: a, target }, common, make_ctx, &u)
        }
        JobWord::Status(a) => {
            let u = usage(&["job", "status"]);
            driver::execute(query::Status { args: a, target }, common, make_ctx, &u)
        }
        JobWord::Logs(a) => {
            let u = usage(&["job", "logs"]);
            driver::execute(query::Logs { args: a, target }, common, make_ctx, &u)
        }
        JobWord::Stop(a) => {
            let u = usage(&["job", "stop"]);
            driver::execute(query::Stop { args: a, target }, common, make_ctx, &u)
        }
    }
}
