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

const LIST_EXAMPLES: &str = "\
Examples:
  kubectl ray job list -c demo              # the jobs of RayCluster demo
  kubectl ray job list -o json              # with their metadata, for scripts
";

const STATUS_EXAMPLES: &str = "\
Examples:
  kubectl ray job status raysubmit_XXXX -c demo
  kubectl ray job status raysubmit_XXXX -o json
";

const LOGS_EXAMPLES: &str = "\
Examples:
  kubectl ray job logs raysubmit_XXXX             # what it printed so far
  kubectl ray job logs raysubmit_XXXX --follow    # until it ends
";

const STOP_EXAMPLES: &str = "\
Examples:
  kubectl ray job stop raysubmit_XXXX -c demo
  kubectl ray job stop raysubmit_XXXX --no-wait   # ask, do not wait
";

const JOB_EXAMPLES: &str = "\
Examples:
  kubectl ray job submit -c demo --working-dir . -- python train.py
  kubectl ray job submit --name my-job --worker-replicas 2 --working-dir . -- python train.py
  kubectl ray job list
  kubectl ray job logs raysubmit_XXXX --follow
";

#[derive(clap::Args, Debug)]
#[command(subcommand_required = true, arg_required_else_help = true, after_help = JOB_EXAMPLES)]
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
    #[command(after_help = LIST_EXAMPLES)]
    List(query::ListArgs),
    /// Show a job's status (exit 0 once it succeeded, 1 while it runs, 3 when it failed or stopped)
    #[command(after_help = STATUS_EXAMPLES)]
    Status(query::IdArgs),
    /// Print a job's logs (--follow: until it ends)
    #[command(after_help = LOGS_EXAMPLES)]
    Logs(query::LogsArgs),
    /// Stop a job and wait until it has stopped
    #[command(after_help = STOP_EXAMPLES)]
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
