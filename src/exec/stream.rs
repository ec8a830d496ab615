//! Commands that run for minutes (`gcloud container clusters create`) show
//! what they are doing: their output goes to the terminal a line at a time
//! as it comes (a spinner with the elapsed time on a terminal, plain lines
//! otherwise), and is still kept whole for error messages.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::exec::cmd::Cmd;
use crate::exec::runner::{Output, Runner, SystemExec};

impl Runner {
    /// Runs a streamed command (see [`Cmd::streamed`]).
    pub(in crate::exec) fn stream(&self, cmd: &Cmd) -> Result<Output> {
        let spinner = self.ui.spinner(cmd.doing());
        let finished = AtomicBool::new(false);
        std::thread::scope(|s| {
            // The time moves on while the command is silent.
            let ticker = spinner.as_ref().map(|spinner| {
                s.spawn(|| {
                    while !finished.load(Ordering::SeqCst) {
                        spinner.tick();
                        std::thread::park_timeout(Duration::from_millis(100));
                    }
                })
            });
            // A terminal shows the line being written too (gcloud's dots
            // come without a newline); plain output only whole lines.
            let line = |text: &str, whole: bool| match &spinner {
                Some(spinner) => spinner.latest(text),
                None if whole => self.ui.progress(&format!("  {text}")),
                None => {}
            };
            let out = self.exec.exec_streaming(cmd, &line);
            finished.store(true, Ordering::SeqCst);
            if let Some(ticker) = ticker {
                ticker.thread().unpark();
            }
            out
        })
    }
}

/// Runs `cmd` as a child process with both of its output streams read as
/// they come.
pub(in crate::exec) fn exec_streaming(
    cmd: &Cmd,
    line: &(dyn Fn(&str, bool) + Sync),
) -> Result<Output> {
    let (stderr_pipe, stderr_end) = std::io::pipe().context("could not open a pipe")?;
    let reader = {
        let expr = SystemExec::expression(cmd)?.stderr_file(stderr_end);
        expr.reader()
            .with_context(|| format!("could not start `{cmd}`"))?
        // The expression holds the pipe's writing end: dropped here, so
        // the reading end sees the end once the command is done.
    };
    let (stdout, stderr) = std::thread::scope(|s| {
        let stderr = s.spawn(|| read_lines(stderr_pipe, line));
        let stdout = read_lines(&reader, line);
        let stderr = stderr
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (stdout, stderr)
    });
    let (stdout, stderr) = (
        stdout.with_context(|| format!("could not read what `{cmd}` printed"))?,
        stderr.with_context(|| format!("could not read what `{cmd}` printed"))?,
    );
    let status = reader
        .try_wait()
        .with_context(|| format!("could not wait for `{cmd}`"))?
        .map(|out| out.status.code())
        .context("the command closed its output but did not exit")?;
    Ok(Output {
        code: status,
        stdout,
        stderr,
    })
}

/// Reads `from` to its end, handing over each line (ended by a newline or
/// a carriage return, as progress bars write) and the one being written,
/// and returning all of it.
fn read_lines(mut from: impl Read, line: &(dyn Fn(&str, bool) + Sync)) -> std::io::Result<String> {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut start = 0;
    loop {
        let n = from.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        all.extend_from_slice(&chunk[..n]);
        while let Some(end) = all[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
            hand_over(&all[start..start + end], true, line);
            start += end + 1;
        }
        hand_over(&all[start..], false, line);
    }
    hand_over(&all[start..], true, line);
    Ok(String::from_utf8_lossy(&all).into_owned())
}

fn hand_over(bytes: &[u8], whole: bool, line: &(dyn Fn(&str, bool) + Sync)) {
    let text = String::from_utf8_lossy(bytes);
    if !text.trim().is_empty() {
        line(text.trim_end(), whole);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::exec::ui::Ui;

    #[test]
    fn lines_end_at_newlines_and_carriage_returns() {
        let seen = Mutex::new(Vec::new());
        let text = "Creating cluster x...\r50%\r100%\ndone.\n\npartial";
        let all = read_lines(text.as_bytes(), &|l, whole| {
            if whole {
                seen.lock().unwrap().push(l.to_string())
            }
        })
        .unwrap();
        assert_eq!(all, text);
        assert_eq!(
            *seen.lock().unwrap(),
            vec!["Creating cluster x...", "50%", "100%", "done.", "partial"]
        );
    }

    #[test]
    fn the_line_being_written_is_handed_over_as_it_grows() {
        struct Chunks(Vec<&'static str>);
        impl Read for Chunks {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let chunk = self.0.remove(0).as_bytes();
                buf[..chunk.len()].copy_from_slice(chunk);
                Ok(chunk.len())
            }
        }
        let seen = Mutex::new(Vec::new());
        let from = Chunks(vec!["Creating cluster x", "...", ".done.\n"]);
        read_lines(from, &|l, whole| {
            seen.lock().unwrap().push(format!("{l} {whole}"))
        })
        .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                "Creating cluster x false",
                "Creating cluster x... false",
                "Creating cluster x....done. true"
            ]
        );
    }

    #[test]
    fn a_streamed_command_hands_over_both_streams_as_they_come() {
        if which::which("sh").is_err() {
            return;
        }
        let cmd = Cmd::mutation("sh")
            .args([
                "-c",
                "echo one; echo two >&2; sleep 0.2; echo three; exit 4",
            ])
            .streamed("counting");
        let seen = Mutex::new(Vec::new());
        let out = exec_streaming(&cmd, &|l, whole| {
            if whole {
                seen.lock().unwrap().push(l.to_string())
            }
        })
        .unwrap();
        assert_eq!(out.code, Some(4));
        assert_eq!(out.stdout, "one\nthree\n");
        assert_eq!(out.stderr, "two\n");
        let mut seen = seen.into_inner().unwrap();
        assert_eq!(
            seen.pop().as_deref(),
            Some("three"),
            "the late line comes last"
        );
        seen.sort();
        assert_eq!(seen, vec!["one", "two"]);
    }

    #[test]
    fn without_a_terminal_each_line_is_progress() {
        let ui = Arc::new(Ui::buffered());
        let runner = Runner::with(Arc::new(SystemExec), ui.clone(), false, false);
        let cmd = Cmd::mutation("sh")
            .args(["-c", "echo Creating cluster x; echo done. >&2"])
            .streamed("creating cluster x");
        let out = runner.check(&cmd).unwrap();
        assert_eq!(out.stdout, "Creating cluster x\n");
        let mut lines = ui.lines();
        lines.sort();
        assert_eq!(lines, vec![">   Creating cluster x", ">   done."]);
    }
}
