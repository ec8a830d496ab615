//! Everything a tool says to a person: results on stdout; progress, the
//! `--verbose` trace and warnings on stderr. Tests use a buffer instead, so
//! a plan snapshot holds exactly what a user would have read.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

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
