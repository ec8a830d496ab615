//! Completion of a kubectl plugin's words. kubectl (1.26 and later) runs
//! `kubectl_complete-PLUGIN WORDS... CURRENT` (CURRENT empty for a new
//! word) and reads one candidate per line, `VALUE<TAB>HELP`, then a last
//! line `:DIRECTIVE` (cobra's: 4 no file completion, 8 files with these
//! extensions, 0 the shell's file completion). This module reads the words
//! against the plugin's clap definition (which flags exist, which take a
//! value, what was given for `--kubeconfig`, `--context`, `-n`) and asks
//! kubectl for the dynamic values; each plugin says what its words mean.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use crate::clis::kubectl::{Kubectl, Ns, Target};
use crate::exec::runner::{Runner, SystemExec};
use crate::exec::ui::Ui;

/// cobra's directives.
pub const DEFAULT: u32 = 0;
pub const NO_FILE: u32 = 4;
pub const FILTER_EXT: u32 = 8;

/// One candidate and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: String,
}

impl Candidate {
    pub fn new(value: impl Into<String>, help: impl Into<String>) -> Candidate {
        Candidate {
            value: value.into(),
            help: help.into(),
        }
    }
}

/// What to print: candidates and a directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
}

impl Answer {
    /// These candidates and nothing else (no file names).
    pub fn only(candidates: Vec<Candidate>) -> Answer {
        Answer {
            candidates,
            directive: NO_FILE,
        }
    }

    /// Values without help text.
    pub fn values<I: IntoIterator<Item = String>>(values: I) -> Answer {
        Answer::only(values.into_iter().map(|v| Candidate::new(v, "")).collect())
    }

    /// Nothing to offer (a number, a duration, a name of the user's own).
    pub fn nothing() -> Answer {
        Answer::only(Vec::new())
    }

    /// The shell's own file-name completion.
    pub fn files() -> Answer {
        Answer {
            candidates: Vec::new(),
            directive: DEFAULT,
        }
    }

    /// File names ending in .yaml or .yml.
    pub fn yaml_files() -> Answer {
        Answer {
            candidates: vec![Candidate::new("yaml", ""), Candidate::new("yml", "")],
            directive: FILTER_EXT,
        }
    }

    /// The lines kubectl reads. Candidates that do not start with
    /// `current` are left out (the shells filter too, but not all of
    /// them, and a shorter answer is quicker); extensions are not values.
    pub fn render(&self, current: &str) -> String {
        let mut out = String::new();
        for c in &self.candidates {
            if self.directive != FILTER_EXT && !c.value.starts_with(current) {
                continue;
            }
            // A tab or newline inside would break the line protocol.
            let help = c.help.replace(['\t', '\n'], " ");
            if help.is_empty() {
                out.push_str(&format!("{}\n", c.value));
            } else {
                out.push_str(&format!("{}\t{help}\n", c.value));
            }
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// Where the word being completed stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spot {
    /// The value of the flag with this clap id; each candidate is printed
    /// after `prefix` (`--context=` when typed as one word).
    Value { id: String, prefix: String },
    /// A flag (the word starts with `-`).
    Flag,
    /// Any other word.
    Word,
}

/// The words typed so far, read against a clap definition.
#[derive(Clone, Debug)]
pub struct Typed {
    /// The words before the current one that are neither flags nor their
    /// values (operations, commands, names).
    pub words: Vec<String>,
    /// The word being completed.
    pub current: String,
    pub spot: Spot,
    /// Flag values given so far, by clap id (the last one wins).
    pub values: BTreeMap<String, String>,
    /// The flags given so far, by clap id.
    pub flags: Vec<String>,
}

impl Typed {
    /// Where kubectl would connect: `--kubeconfig`, `--context`, `-n` as
    /// typed so far (kubectl reads `KUBECONFIG` itself).
    pub fn target(&self) -> Target {
        Target {
            kubeconfig: self.values.get("kubeconfig").map(PathBuf::from),
            context: self.values.get("context").cloned(),
            namespace: self.values.get("namespace").cloned(),
            connection: Vec::new(),
        }
    }
}

/// Reads `args` (the words after the plugin's name, the current word
/// last) against `cmd`. With `options_first`, flags count only before the
/// first word: everything after a `kubectl kas` command is the command's.
pub fn read(cmd: &clap::Command, args: &[String], options_first: bool) -> Typed {
    let mut cmd = cmd.clone();
    cmd.build();
    let (current, before) = match args.split_last() {
        Some((current, before)) => (current.clone(), before),
        None => (String::new(), &[][..]),
    };
    let mut typed = Typed {
        words: Vec::new(),
        current: current.clone(),
        spot: Spot::Word,
        values: BTreeMap::new(),
        flags: Vec::new(),
    };
    let mut pending: Option<String> = None;
    for word in before {
        if let Some(id) = pending.take() {
            typed.values.insert(id, word.clone());
            continue;
        }
        let flags_here = !options_first || typed.words.is_empty();
        match flags_here.then(|| flag(&cmd, word)).flatten() {
            Some((arg, inline)) => {
                let id = arg.get_id().to_string();
                if arg.get_action().takes_values() {
                    match inline {
                        Some(value) => {
                            typed.values.insert(id.clone(), value);
                        }
                        None => pending = Some(id.clone()),
                    }
                }
                typed.flags.push(id);
            }
            None => typed.words.push(word.clone()),
        }
    }
    let flags_here = !options_first || typed.words.is_empty();
    typed.spot = if let Some(id) = pending {
        Spot::Value {
            id,
            prefix: String::new(),
        }
    } else if flags_here && current.starts_with('-') {
        match current.split_once('=').and_then(|(name, _)| {
            flag(&cmd, name)
                .filter(|(a, _)| a.get_action().takes_values())
                .map(|(a, _)| (a.get_id().to_string(), format!("{name}=")))
        }) {
            Some((id, prefix)) => Spot::Value { id, prefix },
            None => Spot::Flag,
        }
    } else {
        Spot::Word
    };
    typed
}

/// The argument `word` names (`--name`, `--name=VALUE`, `-n`, `-nVALUE`),
/// and the value it carries.
fn flag<'a>(cmd: &'a clap::Command, word: &str) -> Option<(&'a clap::Arg, Option<String>)> {
    if let Some(long) = word.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name))?;
        return Some((arg, inline));
    }
    let mut chars = word.strip_prefix('-')?.chars();
    let short = chars.next()?;
    let rest: String = chars.collect();
    let arg = cmd.get_arguments().find(|a| a.get_short() == Some(short))?;
    let inline = (!rest.is_empty() && arg.get_action().takes_values()).then_some(rest);
    Some((arg, inline))
}

/// The visible flags of `cmd`, long and short forms, with their help.
pub fn flags(cmd: &clap::Command) -> Vec<Candidate> {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut out = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        if let Some(long) = arg.get_long() {
            out.push(Candidate::new(format!("--{long}"), help.clone()));
        }
        if let Some(short) = arg.get_short() {
            out.push(Candidate::new(format!("-{short}"), help));
        }
    }
    out
}

/// The fixed values of the flag `id` (clap's possible values), if any.
pub fn possible_values(cmd: &clap::Command, id: &str) -> Option<Vec<Candidate>> {
    let arg = cmd.get_arguments().find(|a| a.get_id() == id)?;
    let values = arg.get_possible_values();
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .map(|v| {
                let help = v.get_help().map(|h| h.to_string()).unwrap_or_default();
                Candidate::new(v.get_name(), help)
            })
            .collect(),
    )
}

/// Prints `answer` with each value after `prefix`.
pub fn print(answer: Answer, prefix: &str, current: &str) {
    let answer = Answer {
        candidates: answer
            .candidates
            .into_iter()
            .map(|c| Candidate::new(format!("{prefix}{}", c.value), c.help))
            .collect(),
        directive: answer.directive,
    };
    print!("{}", answer.render(current));
}

/// kubectl, asked quietly and briefly: a completion must never hang the
/// shell or print anything but candidates.
pub struct Lookup {
    run: Runner,
    target: Target,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Named {
    metadata: Metadata,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
}

/// How long one lookup may wait for the API server.
const REQUEST_TIMEOUT: &str = "--request-timeout=5s";

impl Lookup {
    pub fn new(target: Target) -> Lookup {
        let run = Runner::with(Arc::new(SystemExec), Arc::new(Ui::buffered()), false, false);
        Lookup { run, target }
    }

    /// The objects of `resource` in the target's namespace (or every
    /// namespace, or none for a cluster-scoped kind), as JSON; empty when
    /// kubectl cannot tell (no cluster, no such kind).
    pub fn objects<T: serde::de::DeserializeOwned>(&self, resource: &str, ns: Ns<'_>) -> Vec<T> {
        let kubectl = Kubectl::new(&self.run, &self.target);
        let cmd = kubectl.query(["get", resource, "--output=json", REQUEST_TIMEOUT], ns);
        match self.run.json::<List<T>>(&cmd) {
            Ok(list) => list.items,
            Err(_) => Vec::new(),
        }
    }

    /// The names of the objects of `resource`.
    pub fn names(&self, resource: &str, ns: Ns<'_>) -> Vec<String> {
        let mut names: Vec<String> = self
            .objects::<Named>(resource, ns)
            .into_iter()
            .map(|o| o.metadata.name)
            .collect();
        names.sort();
        names
    }

    pub fn namespaces(&self) -> Vec<String> {
        self.names("namespaces", Ns::Cluster)
    }

    /// The kubeconfig's contexts (the file named by `--kubeconfig`, else
    /// KUBECONFIG, else ~/.kube/config).
    pub fn contexts(&self) -> Vec<String> {
        let target = Target {
            kubeconfig: self.target.kubeconfig.clone(),
            ..Target::default()
        };
        let kubectl = Kubectl::new(&self.run, &target);
        let cmd = kubectl.query(["config", "get-contexts", "--output=name"], Ns::Cluster);
        match self.run.check(&cmd) {
            Ok(out) => out.stdout.lines().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The answer for the value of one of kubectl's connection flags, `None`
/// for any other flag.
pub fn target_value(id: &str, typed: &Typed) -> Option<Answer> {
    let lookup = || Lookup::new(typed.target());
    match id {
        "kubeconfig" => Some(Answer::files()),
        "context" => Some(Answer::values(lookup().contexts())),
        "namespace" => Some(Answer::values(lookup().namespaces())),
        _ => None,
    }
}

/// The words after the plugin's name, from this process's arguments.
pub fn process_args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Demo {
        #[command(flatten)]
        target: Target,
        #[arg(long, short)]
        verbose: bool,
        words: Vec<String>,
    }

    fn typed(line: &[&str], options_first: bool) -> Typed {
        let args: Vec<String> = line.iter().map(|w| w.to_string()).collect();
        read(&Demo::command(), &args, options_first)
    }

    #[test]
    fn a_flag_value_is_its_spot_and_the_connection_flags_are_collected() {
        let t = typed(&["--context", "kind", "get", "-n", ""], false);
        assert_eq!(
            t.spot,
            Spot::Value {
                id: "namespace".into(),
                prefix: String::new()
            }
        );
        assert_eq!(t.words, ["get"]);
        assert_eq!(t.target().context.as_deref(), Some("kind"));
        let t = typed(&["-nray", "--kubeconfig=/k", "--context=k"], false);
        assert_eq!(
            t.spot,
            Spot::Value {
                id: "context".into(),
                prefix: "--context=".into()
            }
        );
        assert_eq!(t.target().namespace.as_deref(), Some("ray"));
        assert_eq!(t.target().kubeconfig, Some(PathBuf::from("/k")));
    }

    #[test]
    fn words_flags_and_options_first() {
        let t = typed(&["-v", "kfwd", ""], false);
        assert_eq!((t.words.clone(), t.spot), (vec!["kfwd".into()], Spot::Word));
        assert_eq!(typed(&["-"], false).spot, Spot::Flag);
        // After the first word, a `-n` belongs to the command.
        let t = typed(&["run", "-n", ""], true);
        assert_eq!(t.words, ["run", "-n"]);
        assert_eq!(t.spot, Spot::Word);
        // `--` and `++` are not flags: words.
        assert_eq!(typed(&["--", "x", ""], false).words, ["--", "x"]);
    }

    #[test]
    fn render_filters_by_prefix_and_ends_with_the_directive() {
        let answer = Answer::only(vec![
            Candidate::new("alpha", "the first\tone"),
            Candidate::new("beta", ""),
        ]);
        assert_eq!(answer.render("a"), "alpha\tthe first one\n:4\n");
        assert_eq!(Answer::yaml_files().render("x"), "yaml\nyml\n:8\n");
        let flags = flags(&Demo::command());
        assert!(flags.iter().any(|c| c.value == "--namespace"));
        assert!(flags.iter().any(|c| c.value == "-n"));
    }
}
