//! Everything a tool says to a person: results on stdout; progress, the
//! `--verbose` trace and warnings on stderr. Tests use a buffer instead, so
//! a plan snapshot holds exactly what a user would have read.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Ui {
    buffer: Option<Mutex<Vec<String>>>,
    /// Whether a person can answer questions (stdin is a terminal).
    pub interactive: bool,
}

impl Ui {
    pub fn std() -> Ui {
        Ui {
            buffer: None,
            interactive: std::io::stdin().is_terminal(),
        }
    }

    /// Records lines instead of printing them; never interactive.
    pub fn buffered() -> Ui {
        Ui {
            buffer: Some(Mutex::new(Vec::new())),
            interactive: false,
        }
    }

    /// Everything recorded so far (buffered only).
    pub fn lines(&self) -> Vec<String> {
        match &self.buffer {
            Some(b) => b.lock().unwrap().clone(),
            None => Vec::new(),
        }
    }

    fn emit(&self, to_stdout: bool, prefix: &str, line: &str) {
        match &self.buffer {
            Some(b) => b.lock().unwrap().push(format!("{prefix}{line}")),
            // A closed pipe (`| head`) is not worth a panic.
            None if to_stdout => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{prefix}{line}");
            }
        }
    }

    /// A line for a test's transcript (buffered only).
    pub fn record(&self, line: &str) {
        if let Some(b) = &self.buffer {
            b.lock().unwrap().push(line.to_string());
        }
    }

    /// A result: status tables, JSON, URLs.
    pub fn say(&self, text: &str) {
        for line in text.trim_end_matches('\n').lines() {
            self.emit(true, "", line);
        }
    }

    /// A command `--dry-run` would have run.
    pub fn plan(&self, line: &str) {
        self.emit(true, "", line);
    }

    /// A command as it runs, under `--verbose`.
    pub fn trace(&self, line: &str) {
        self.emit(false, "+ ", line);
    }

    /// What the tool is doing now.
    pub fn progress(&self, line: &str) {
        self.emit(false, "> ", line);
    }

    pub fn error(&self, text: &str) {
        self.emit(false, "error: ", text);
    }

    pub fn warn(&self, line: &str) {
        self.emit(false, "warning: ", line);
    }

    /// Whether a line can be redrawn in place: a person at a terminal (not
    /// a pipe, a log or a test's buffer).
    pub fn live(&self) -> bool {
        self.buffer.is_none() && self.interactive && std::io::stderr().is_terminal()
    }

    /// A spinner for something that takes a while, on a terminal only.
    pub fn spinner(&self, what: &str) -> Option<Spinner> {
        self.live().then(|| Spinner {
            what: what.to_string(),
            start: Instant::now(),
            state: Mutex::new((0, String::new())),
        })
    }

    /// Asks for a line of text on the terminal (empty without one).
    pub fn ask(&self, question: &str) -> String {
        if !self.interactive || self.buffer.is_some() {
            return String::new();
        }
        eprint!("{question} ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        answer
    }

    /// Asks a yes/no question on the terminal; without one the answer is
    /// `default`.
    pub fn confirm(&self, question: &str, default: bool) -> bool {
        if !self.interactive || self.buffer.is_some() {
            return default;
        }
        eprint!("{question} [{}] ", if default { "Y/n" } else { "y/N" });
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return default;
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "" => default,
            a => a == "y" || a == "yes",
        }
    }
}

/// One line on the terminal, redrawn in place: a turning mark, what is
/// awaited, the time so far and the latest thing the command said. Erased
/// when dropped, so the lines after it start clean.
pub struct Spinner {
    what: String,
    start: Instant,
    /// The frame, and the latest line of output.
    state: Mutex<(usize, String)>,
}

impl Spinner {
    /// Time since the spinner started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The latest line the command printed, shown after the time.
    pub fn latest(&self, line: &str) {
        self.state.lock().unwrap().1 = line.trim().to_string();
        self.draw(false);
    }

    /// Turns the mark and redraws (call every tenth of a second or so).
    pub fn tick(&self) {
        self.draw(true);
    }

    fn draw(&self, turn: bool) {
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let mut state = self.state.lock().unwrap();
        if turn {
            state.0 += 1;
        }
        let mut text = format!(
            "{} {} ({})",
            FRAMES[state.0 % FRAMES.len()],
            self.what,
            show(self.elapsed())
        );
        if !state.1.is_empty() {
            text.push_str(": ");
            text.push_str(&state.1);
        }
        // A line longer than the terminal wraps, and `\r` then returns to
        // the wrapped part only: cut it to fit.
        let fit: String = text.chars().take(columns().saturating_sub(1)).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{fit}");
        let _ = err.flush();
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
}

/// The terminal's width (stderr's), 80 when it cannot be told.
fn columns() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize it is given and nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// `75s` as `1m15s`.
pub fn show(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
