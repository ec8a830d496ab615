//! A subprocess as a value: what runs, with what, and whether it changes
//! anything. It prints as one shell-quoted line, with secrets masked, so the
//! same value serves `--dry-run`, `--verbose`, error messages and tests.

use std::fmt;
use std::path::PathBuf;

/// Whether running a command can change the world. `--dry-run` runs queries
/// for real and only prints mutations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Query,
    Mutation,
}

/// How a command's standard streams are wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// Output captured for parsing (the default).
    Captured,
    /// The user's terminal: for prompts, shells and logins.
    Inherited,
    /// Captured, and handed to the terminal line by line as it comes: for
    /// commands that run for minutes.
    Streamed,
}

#[derive(Clone, Debug)]
struct EnvVar {
    name: String,
    value: Option<String>,
    secret: bool,
}

#[derive(Clone, Debug)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    env: Vec<EnvVar>,
    stdin: Option<(Vec<u8>, bool)>,
    cwd: Option<PathBuf>,
    effect: Effect,
    stdio: Stdio,
    /// What a streamed command is doing, for its spinner.
    doing: Option<String>,
    /// Standard input a plan prints in full (a manifest to create).
    shown: bool,
}

impl Cmd {
    /// A command that only reads.
    pub fn query(program: impl Into<String>) -> Cmd {
        Cmd::new(program, Effect::Query)
    }

    /// A command that changes something; `--dry-run` prints it instead.
    pub fn mutation(program: impl Into<String>) -> Cmd {
        Cmd::new(program, Effect::Mutation)
    }

    fn new(program: impl Into<String>, effect: Effect) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            cwd: None,
            effect,
            stdio: Stdio::Captured,
            doing: None,
            shown: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--flag=value` only when the value is there.
    pub fn opt(self, flag: &str, value: Option<impl fmt::Display>) -> Cmd {
        match value {
            Some(v) => self.arg(format!("{flag}={v}")),
            None => self,
        }
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            secret: false,
        });
        self
    }

    /// An environment variable whose value never appears in print.
    pub fn secret_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            secret: true,
        });
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove(mut self, name: impl Into<String>) -> Cmd {
        self.env.push(EnvVar {
            name: name.into(),
            value: None,
            secret: false,
        });
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some((bytes.into(), false));
        self
    }

    /// Standard input that holds a secret: printed as `***`.
    pub fn secret_stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some((bytes.into(), true));
        self
    }

    /// Standard input that holds no secret and that a plan shows whole,
    /// as a here-document: the manifest a `create` would send.
    pub fn shown_stdin(mut self, text: impl Into<String>) -> Cmd {
        self.stdin = Some((text.into().into_bytes(), false));
        self.shown = true;
        self
    }

    /// The line and the text of a [`Cmd::shown_stdin`] command.
    pub fn here_document(&self) -> Option<(String, String)> {
        let (bytes, _) = self.stdin.as_ref().filter(|_| self.shown)?;
        let mut bare = self.clone();
        bare.stdin = None;
        let text = String::from_utf8_lossy(bytes).into_owned();
        Some((format!("{bare} <<'EOF'"), text))
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    /// Runs attached to the user's terminal instead of captured.
    pub fn inherit_stdio(mut self) -> Cmd {
        self.stdio = Stdio::Inherited;
        self
    }

    /// Shows the command's output while it runs (gcloud's progress, say):
    /// on a terminal a spinner with `doing`, the elapsed time and the
    /// latest line; otherwise each line as it comes. Still captured for
    /// error messages.
    pub fn streamed(mut self, doing: impl Into<String>) -> Cmd {
        self.stdio = Stdio::Streamed;
        self.doing = Some(doing.into());
        self
    }

    /// What a streamed command is doing (its program otherwise).
    pub fn doing(&self) -> &str {
        self.doing.as_deref().unwrap_or(&self.program)
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn get_args(&self) -> &[String] {
        &self.args
    }

    pub fn effect(&self) -> Effect {
        self.effect
    }

    pub fn is_query(&self) -> bool {
        self.effect == Effect::Query
    }

    pub fn stdio(&self) -> Stdio {
        self.stdio
    }

    pub fn get_cwd(&self) -> Option<&PathBuf> {
        self.cwd.as_ref()
    }

    pub fn get_stdin(&self) -> Option<&[u8]> {
        self.stdin.as_ref().map(|(b, _)| b.as_slice())
    }

    /// Variables to set (`Some`) or remove (`None`), in order.
    pub fn get_env(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref()))
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "(cd {} && ", quote(&dir.to_string_lossy()))?;
        }
        for var in &self.env {
            match (&var.value, var.secret) {
                (None, _) => write!(f, "env -u {} ", quote(&var.name))?,
                (Some(_), true) => write!(f, "{}=*** ", var.name)?,
                (Some(v), false) => write!(f, "{}={} ", var.name, quote(v))?,
            }
        }
        write!(f, "{}", quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        match &self.stdin {
            Some((_, true)) => write!(f, " <<< ***")?,
            Some((bytes, false)) => write!(f, " < ({} bytes)", bytes.len())?,
            None => {}
        }
        if self.cwd.is_some() {
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Quotes a word for a POSIX shell, leaving plain words as they are.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,^".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_a_shell_line() {
        let cmd = Cmd::mutation("gcloud")
            .args(["compute", "firewall-rules", "create", "x-ray-default"])
            .arg("--description=Ray's pods")
            .arg("");
        assert_eq!(
            cmd.to_string(),
            r#"gcloud compute firewall-rules create x-ray-default '--description=Ray'\''s pods' ''"#
        );
    }

    #[test]
    fn secrets_are_masked() {
        let cmd = Cmd::mutation("kubectl")
            .secret_env("TOKEN", "s3cr3t")
            .args(["apply", "-f", "-"])
            .secret_stdin("password: s3cr3t");
        let line = cmd.to_string();
        assert!(!line.contains("s3cr3t"), "{line}");
        assert_eq!(line, "TOKEN=*** kubectl apply -f - <<< ***");
    }
}
