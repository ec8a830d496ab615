//! `job list`, `job status ID`, `job logs ID [--follow]`, `job stop ID`:
//! Ray's `ray job list|status|logs|stop`, against the cluster's dashboard.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::app::cli::{Ctx, EXIT_ABSENT, EXIT_ERROR, Outcome};
use crate::app::driver::Command;
use crate::app::wait;
use crate::clis::kubectl::Target;
use crate::ray::jobs::{Dashboard, JobDetails};

use super::follow;
use super::reach::Reach;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub reach: Reach,
    /// Print Ray's JSON instead of a table
    #[arg(long, short = 'o', value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct IdArgs {
    /// The submission id (or the driver's job id)
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub reach: Reach,
    /// Print Ray's JSON instead of a line
    #[arg(long, short = 'o', value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub reach: Reach,
    /// Follow the log until the job ends; the exit status then says how it ended
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub reach: Reach,
    /// Ask the job to stop and return at once
    #[arg(long)]
    pub no_wait: bool,
}

pub struct List {
    pub args: ListArgs,
    pub target: Target,
}

pub struct Status {
    pub args: IdArgs,
    pub target: Target,
}

pub struct Logs {
    pub args: LogsArgs,
    pub target: Target,
}

pub struct Stop {
    pub args: StopArgs,
    pub target: Target,
}

/// A job by id, or an error saying there is none.
fn job(dashboard: &Dashboard, id: &str) -> Result<JobDetails> {
    match dashboard.status(id)? {
        Some(job) => Ok(job),
        None => bail!("there is no job {id} on this cluster (`kubectl ray job list` shows them)"),
    }
}

/// `1700000000000` (ms) as `2023-11-14 22:13:20` UTC.
fn time(ms: Option<u64>) -> String {
    let Some(ms) = ms.filter(|m| *m > 0) else {
        return "-".into();
    };
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

impl Command for List {
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.args.reach.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let reached = self.args.reach.open(ctx, &self.target)?;
        let mut jobs = reached.dashboard.list()?;
        jobs.sort_by_key(|j| j.start_time.unwrap_or(0));
        if self.args.output == "json" {
            ctx.ui.say(&serde_json::to_string_pretty(&jobs)?);
            return Ok(Outcome::Done);
        }
        if jobs.is_empty() {
            ctx.ui.progress("no jobs");
            return Ok(Outcome::Done);
        }
        let rows: Vec<[String; 5]> = jobs
            .iter()
            .map(|j| {
                [
                    j.id().to_string(),
                    j.kind.clone(),
                    j.status.clone(),
                    time(j.start_time),
                    j.entrypoint.clone(),
                ]
            })
            .collect();
        let head = ["ID", "TYPE", "STATUS", "START (UTC)", "ENTRYPOINT"];
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].len())
                    .chain([head[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: [&str; 5]| {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i < 4 {
                    out.push_str(&format!("{c:<w$}   ", w = widths[i]));
                } else {
                    out.push_str(c);
                }
            }
            out
        };
        ctx.ui.say(&line(head));
        for r in &rows {
            ctx.ui.say(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        }
        Ok(Outcome::Done)
    }
}

impl Command for Status {
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.args.reach.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let reached = self.args.reach.open(ctx, &self.target)?;
        let job = job(&reached.dashboard, &self.args.id)?;
        if self.args.output == "json" {
            ctx.ui.say(&serde_json::to_string_pretty(&job)?);
        } else {
            let message = job.message.as_deref().unwrap_or("").trim();
            ctx.ui.say(&format!("{}: {}", job.id(), job.status));
            if !message.is_empty() {
                ctx.ui.say(message);
            }
        }
        Ok(Outcome::Exit(match job.status.as_str() {
            "SUCCEEDED" => 0,
            "PENDING" | "RUNNING" => EXIT_ABSENT,
            _ => EXIT_ERROR,
        }))
    }
}

impl Command for Logs {
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.args.reach.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let reached = self.args.reach.open(ctx, &self.target)?;
        let dashboard = &reached.dashboard;
        job(dashboard, &self.args.id)?;
        if self.args.follow {
            return follow::follow(ctx, dashboard, &self.args.id, wait::interval(ctx)?);
        }
        let logs = dashboard.logs(&self.args.id)?;
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(logs.as_bytes())?;
        out.flush()?;
        Ok(Outcome::Done)
    }
}

impl Command for Stop {
    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        self.args.reach.validate()
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let reached = self.args.reach.open(ctx, &self.target)?;
        let dashboard = &reached.dashboard;
        let id = &self.args.id;
        let before = job(dashboard, id)?;
        if before.is_terminal() {
            ctx.ui
                .progress(&format!("job {id} has ended already: {}", before.status));
            return Ok(Outcome::Done);
        }
        dashboard.stop(id)?;
        ctx.ui.progress(&format!("asked job {id} to stop"));
        if self.args.no_wait {
            return Ok(Outcome::Done);
        }
        let poll = wait::interval(ctx)?;
        let start = Instant::now();
        loop {
            let now = job(dashboard, id)?;
            if now.is_terminal() {
                ctx.ui.progress(&format!("job {id}: {}", now.status));
                return Ok(Outcome::Done);
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!(
                    "job {id} is still {} a minute after it was asked to stop",
                    now.status
                );
            }
            std::thread::sleep(poll);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc_dates() {
        assert_eq!(super::time(Some(1_700_000_000_000)), "2023-11-14 22:13:20");
        assert_eq!(super::time(None), "-");
    }
}
