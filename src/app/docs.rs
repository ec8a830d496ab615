//! What every binary prints about itself besides `--help`: its man page
//! (`NAME --man`) and, for the tools run directly, a shell completion
//! script (`NAME completion bash|zsh|fish`), both made from the same clap
//! definition as `--help`. Answered before the operation is parsed.

use std::ffi::OsString;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap_complete::Shell;

use crate::app::cli::EXIT_USAGE;

/// `cmd` with the operation as a positional argument. The driver lifts
/// the operation out before clap sees the words (`--` and `++` would be
/// eaten), so clap's own definition has none; the man page's synopsis and
/// the completion scripts need it.
pub fn with_operation(cmd: &clap::Command, operations: &[Operation]) -> clap::Command {
    let values = operations
        .iter()
        .map(|(word, help)| PossibleValue::new(*word).help(*help));
    cmd.clone().arg(
        clap::Arg::new("OPERATION")
            .value_name("OPERATION")
            .help("The operation (see Operations below)")
            .value_parser(PossibleValuesParser::new(values))
            .hide_possible_values(true),
    )
}

/// An operation's word (`+`, `up`) and what it does.
pub type Operation = (&'static str, &'static str);

/// The man page (section 1, roff): clap's sections, then the text that
/// follows the options in `--help` (operations or commands, examples)
/// kept as typed, line by line, its `Heading:` lines as sections.
pub fn man_page(cmd: &clap::Command) -> Vec<u8> {
    let after = cmd
        .get_after_long_help()
        .or(cmd.get_after_help())
        .map(|t| t.to_string())
        .unwrap_or_default();
    // The title is the binary's name (`kubectl-ray`), the name `man` finds.
    let man = clap_mangen::Man::new(cmd.clone().after_help(None::<&str>));
    let mut out = Vec::new();
    let written = man
        .render_title(&mut out)
        .and_then(|_| man.render_name_section(&mut out))
        .and_then(|_| man.render_synopsis_section(&mut out))
        .and_then(|_| man.render_description_section(&mut out))
        .and_then(|_| man.render_options_section(&mut out));
    written.expect("writing to memory");
    out.extend(verbatim_sections(&after).into_bytes());
    man.render_version_section(&mut out)
        .expect("writing to memory");
    out
}

/// `--help`'s closing text as roff: a line at the margin that ends in `:`
/// opens a section, the rest is printed without filling, as aligned in
/// `--help`.
fn verbatim_sections(text: &str) -> String {
    let mut out = String::new();
    let mut open = false;
    for line in text.lines() {
        let heading = line.strip_suffix(':').filter(|_| !line.starts_with(' '));
        if let Some(heading) = heading {
            if open {
                out.push_str(".fi\n");
            }
            let title = if heading.contains(' ') {
                heading.to_string()
            } else {
                heading.to_uppercase()
            };
            out.push_str(&format!(
                ".SH \"{}\"\n.nf\n",
                escape(&title).replace('"', "\\(dq")
            ));
            open = true;
            continue;
        }
        if !open {
            out.push_str(".SH NOTES\n.nf\n");
            open = true;
        }
        if line.trim().is_empty() {
            out.push_str(".sp\n");
        } else {
            out.push_str(&format!("\\&{}\n", escape(line)));
        }
    }
    if open {
        out.push_str(".fi\n");
    }
    out
}

/// Text for roff: backslashes and minus signs escaped (a plain `-` may
/// print as a hyphen and break copied commands), quotes kept.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
}

/// The completion script for `shell`, the operations included.
pub fn completion_script(cmd: &clap::Command, shell: Shell, operations: &[Operation]) -> Vec<u8> {
    let mut cmd = with_operation(cmd, operations);
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name.clone(), &mut out);
    if shell == Shell::Fish {
        // clap's fish generator leaves positional values out.
        let quote = |t: &str| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'"));
        for (word, help) in operations {
            let line = format!(
                "complete -c {name} -f --arguments={} --description={}\n",
                quote(word),
                quote(help)
            );
            out.extend(line.into_bytes());
        }
    }
    out
}

/// Answers `--man` and (with `operations`, for tools run directly rather
/// than through kubectl) `completion SHELL` when they are the first words
/// of `argv`; `None` for anything else.
pub fn answer(
    argv: &[OsString],
    cmd: &clap::Command,
    operations: Option<Vec<Operation>>,
) -> Option<u8> {
    let words: Vec<&str> = argv.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let ops = operations.as_deref().unwrap_or(&[]);
    match (words.as_slice(), operations.is_some()) {
        (["--man"], _) => {
            print_bytes(&man_page(cmd));
            Some(0)
        }
        (["completion", shell], true) => match shell.parse::<Shell>() {
            Ok(shell @ (Shell::Bash | Shell::Zsh | Shell::Fish)) => {
                print_bytes(&completion_script(cmd, shell, ops));
                Some(0)
            }
            _ => {
                eprintln!(
                    "error: no completion for `{shell}`: use bash, zsh or fish \
                     (`{} completion bash`)",
                    cmd.get_bin_name().unwrap_or(cmd.get_name())
                );
                Some(EXIT_USAGE)
            }
        },
        (["completion", ..], true) => {
            eprintln!(
                "error: `completion` takes one shell: bash, zsh or fish (`{} completion bash`)",
                cmd.get_bin_name().unwrap_or(cmd.get_name())
            );
            Some(EXIT_USAGE)
        }
        _ => None,
    }
}

fn print_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not worth a panic.
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}
