//! Project IAM changes as one read and one write, guarded by the policy's
//! etag and retried when someone else wrote in between. (The scripts ran
//! one read-modify-write per role: six racing rewrites of the whole policy.)

use anyhow::{Result, bail};

use crate::clis::gcloud::{self, Policy};
use crate::exec::runner::{CmdFailed, Runner};

/// How often a write that lost an etag race is tried again.
const ATTEMPTS: usize = 5;

pub fn get_policy(run: &Runner, project: &str) -> Result<Policy> {
    run.json(&gcloud::query(["projects", "get-iam-policy", project]))
}

/// Applies `change` to the project's policy and writes it back when it
/// changed anything. `change` returns a line per change made (for the plan);
/// it must be repeatable, since a conflict runs it again on a fresh read.
/// Returns whether a write happened.
pub fn update_policy(
    run: &Runner,
    project: &str,
    first_read: Option<Policy>,
    change: impl Fn(&mut Policy) -> Vec<String>,
) -> Result<bool> {
    let mut read = first_read;
    for attempt in 1..=ATTEMPTS {
        let mut policy = match read.take() {
            Some(p) => p,
            None => get_policy(run, project)?,
        };
        let changes = change(&mut policy);
        if changes.is_empty() {
            return Ok(false);
        }
        for line in &changes {
            run.note(&format!("IAM policy of {project}: {line}"));
        }
        let body = serde_json::to_vec_pretty(&policy)?;
        // gcloud reads the policy from a path; standard input keeps it off
        // the disk and out of the command line.
        let write = gcloud::change(["projects", "set-iam-policy", project, "/dev/stdin"])
            .arg("--format=json")
            .stdin(body);
        let output = run.run(&write)?;
        if output.success() {
            return Ok(true);
        }
        // gcloud prints Google's 409 ABORTED as "... is the subject of a
        // conflict: There were concurrent policy changes ...".
        let conflict = [
            "ABORTED",
            "etag",
            "subject of a conflict",
            "concurrent policy changes",
        ]
        .iter()
        .any(|sign| output.stderr.contains(sign));
        if !conflict || attempt == ATTEMPTS {
            return Err(CmdFailed {
                line: write.to_string(),
                output,
            }
            .into());
        }
        run.ui.progress(&format!(
            "the IAM policy of {project} changed meanwhile; reading it again"
        ));
    }
    bail!("the IAM policy of {project} kept changing during {ATTEMPTS} attempts: try again")
}
