//! Following a job: its log printed as it grows (`GET /api/jobs/ID/logs`
//! each interval, the new part only) until it ends; the end says how
//! (SUCCEEDED exits 0, FAILED or STOPPED fail with Ray's message). Ctrl-C
//! asks whether to stop the job; without a terminal the job is left
//! running.

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::app::cli::{Ctx, Outcome};
use crate::exec::interrupt;
use crate::ray::jobs::{Dashboard, JobDetails};

/// Exit status of a Ctrl-C that leaves the job running.
const EXIT_INTERRUPTED: u8 = 130;

/// Prints the log until the job ends, then how it ended.
pub fn follow(ctx: &Ctx, dashboard: &Dashboard, id: &str, poll: Duration) -> Result<Outcome> {
    interrupt::outlive_children_on_ctrl_c();
    let mut seen = interrupt::times();
    let mut printed = 0usize;
    let mut stopping = false;
    loop {
        let details = dashboard.status(id)?;
        let Some(details) = details else {
            bail!("there is no job {id} on {}", dashboard.address());
        };
        let logs = dashboard.logs(id)?;
        printed = print_new(&logs, printed)?;
        if details.is_terminal() {
            return ended(ctx, &details);
        }
        std::thread::sleep(poll.max(Duration::from_millis(100)));
        if interrupt::times() > seen {
            seen = interrupt::times();
            if stopping {
                continue;
            }
            let stop = ctx.ui.confirm(&format!("\nStop job {id}?"), false);
            if !stop {
                ctx.ui.progress(&format!(
                    "job {id} keeps running; follow it with `kubectl ray job logs {id} --follow`, \
                     stop it with `kubectl ray job stop {id}`"
                ));
                return Ok(Outcome::Exit(EXIT_INTERRUPTED));
            }
            dashboard.stop(id)?;
            ctx.ui.progress(&format!("asked job {id} to stop"));
            stopping = true;
            // A further Ctrl-C ends the wait for the stop at once.
            interrupt::second_ctrl_c_exits();
        }
    }
}

/// Prints what `logs` holds beyond the first `printed` bytes; the count
/// printed so far. A log that got shorter (rotated) is printed whole.
fn print_new(logs: &str, printed: usize) -> Result<usize> {
    let start = if logs.len() < printed || !logs.is_char_boundary(printed) {
        0
    } else {
        printed
    };
    if start < logs.len() {
        let mut out = std::io::stdout().lock();
        out.write_all(&logs.as_bytes()[start..])?;
        out.flush()?;
    }
    Ok(logs.len())
}

/// How a finished job ended, as this command's outcome. Ray's message
/// without the log it repeats (just printed).
fn ended(ctx: &Ctx, details: &JobDetails) -> Result<Outcome> {
    let id = details.id();
    let message = details.message.clone().unwrap_or_default();
    let message = match message.split_once(", last available logs") {
        Some((first, _)) => first.to_string(),
        None => message,
    };
    match details.status.as_str() {
        "SUCCEEDED" => {
            ctx.ui.progress(&format!("job {id} succeeded"));
            Ok(Outcome::Done)
        }
        "STOPPED" => bail!("job {id} was stopped{}", said(&message)),
        _ => bail!("job {id} failed{}", said(&message)),
    }
}

fn said(message: &str) -> String {
    let message = message.trim();
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}
