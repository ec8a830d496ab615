//! A terminal for a test: util-linux `script` runs the program on a
//! pseudo-terminal, relays what is typed into its stdin and prints what
//! the terminal shows on its stdout.

use std::path::Path;
use std::process::Command;

/// `script` running `program ARGS` on a terminal.
pub fn script(program: &Path, args: &[impl AsRef<str>]) -> Command {
    script_in(Command::new("script"), program, args)
}

/// `cmd`, a command for `script` with the environment of the caller's
/// world, running `program ARGS` on a terminal. `script` starts it through
/// a shell; the shell `exec`s it, so the program is the terminal's only
/// process. A shell left waiting would get a typed Ctrl-C too, and dash
/// (`/bin/sh`, which `script` uses when `SHELL` is unset) then ends itself
/// with it, so the run would exit 130 whatever the program did.
pub fn script_in(mut cmd: Command, program: &Path, args: &[impl AsRef<str>]) -> Command {
    let line = std::iter::once(program.to_string_lossy().as_ref())
        .chain(args.iter().map(AsRef::as_ref))
        .map(quoted)
        .collect::<Vec<_>>()
        .join(" ");
    cmd.args(["-qec", &format!("exec {line}"), "/dev/null"]);
    cmd.env("SHELL", "/bin/sh");
    cmd
}

/// `word` as one word of a POSIX shell line.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_in_a_word_stays_in_that_word() {
        let out = script(Path::new("/bin/echo"), &["it's", "two words"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "it's two words"
        );
    }

    #[test]
    fn a_ctrl_c_reaches_only_the_program() {
        use std::io::Write;
        use std::process::Stdio;
        // The program ignores Ctrl-C and exits 3; with a shell between,
        // the run would exit 130.
        let mut child = script(
            Path::new("/bin/bash"),
            &["-c", "trap '' INT; read line; exit 3"],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut keys = child.stdin.take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        keys.write_all(b"\x03").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        keys.write_all(b"done\n").unwrap();
        let out = child.wait_with_output().unwrap();
        drop(keys);
        assert_eq!(out.status.code(), Some(3));
    }
}
