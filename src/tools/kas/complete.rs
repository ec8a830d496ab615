//! `kubectl_complete-kas`: what `kubectl kas <TAB>` offers. Before the
//! command: the options (RayCluster names for `--cluster`, contexts and
//! namespaces from kubectl), `.` and the commands; after `kfwd` the ports
//! of the live forwards (from their records, as `kfwd` lists them), and
//! `-` where a command takes it. Words after any other command belong to
//! docker or to the command run, so the shell completes file names there.

use std::process::ExitCode;

use crate::app::complete::{self, Answer, Candidate, Lookup, Spot, Typed};
use crate::clis::kubectl::Ns;
use crate::exec::environment::Env;

use super::args::Args;
use super::k8s::{ForwardRecord, live_forwards};

/// Runs as the process `kubectl_complete-kas`.
pub fn main() -> ExitCode {
    let args = complete::process_args();
    let (answer, prefix, current) = answer(&args, &Env::from_process());
    complete::print(answer, &prefix, &current);
    ExitCode::SUCCESS
}

/// What to offer for `args` (the words after `kas`, the current one
/// last), the prefix each candidate is printed after, and the current word.
pub fn answer(args: &[String], env: &Env) -> (Answer, String, String) {
    let cmd = <Args as clap::CommandFactory>::command();
    let typed = complete::read(&cmd, args, true);
    let current = typed.current.clone();
    match &typed.spot {
        Spot::Value { id, prefix } => (flag_value(id, &typed), prefix.clone(), current),
        Spot::Flag => (Answer::only(complete::flags(&cmd)), String::new(), current),
        Spot::Word => (word(&typed, env), String::new(), current),
    }
}

fn flag_value(id: &str, typed: &Typed) -> Answer {
    if let Some(answer) = complete::target_value(id, typed) {
        return answer;
    }
    match id {
        "cluster" => {
            let lookup = Lookup::new(typed.target());
            Answer::values(lookup.names("rayclusters.ray.io", Ns::Current))
        }
        "config" => Answer::yaml_files(),
        _ => Answer::nothing(),
    }
}

const DOCKER: &[(&str, &str)] = &[
    ("build", "build the image"),
    ("push", "push it to the registry"),
    ("run", "run the container (`run -` removes it)"),
    ("exec", "run a command in the container"),
    ("shell", "a shell in the container"),
    ("jlab", "JupyterLab in the container"),
    ("tboard", "TensorBoard in the container"),
    ("dash", "open the Ray dashboard"),
];

const KUBERNETES: &[(&str, &str)] = &[
    ("exec", "run a command on the head pod"),
    ("shell", "a shell on the head pod"),
    ("dash", "forward the dashboard and open it (`dash -` stops)"),
    ("jlab", "JupyterLab on the head pod"),
    ("tboard", "TensorBoard on the head pod"),
];

fn commands(table: &[(&str, &str)]) -> Vec<Candidate> {
    table.iter().map(|(v, h)| Candidate::new(*v, *h)).collect()
}

fn word(typed: &Typed, env: &Env) -> Answer {
    let mut words: &[String] = &typed.words;
    let mut k8s = typed.flags.iter().any(|f| f == "k8s");
    let mut mode_word = false;
    if let Some(first) = words.first().filter(|w| w.starts_with('.')) {
        k8s = first == ".";
        mode_word = true;
        words = &words[1..];
    }
    let Some((command, rest)) = words.split_first() else {
        let mut offered = if k8s {
            commands(KUBERNETES)
        } else {
            commands(DOCKER)
        };
        if !mode_word {
            offered.insert(
                0,
                Candidate::new(".", "Kubernetes mode: the head pod of a RayCluster"),
            );
        }
        if !mode_word || k8s {
            offered.push(Candidate::new(
                "kfwd",
                "keep a port of the head pod forwarded",
            ));
        }
        return Answer::only(offered);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (command.as_str(), rest.as_slice()) {
        ("kfwd", []) => {
            let mut offered = forwards(env);
            offered.push(Candidate::new("-", "stop every forward"));
            Answer::only(offered)
        }
        ("kfwd", ["--all"]) => Answer::only(vec![Candidate::new("-", "stop every forward")]),
        ("kfwd", [_port]) => Answer::only(vec![Candidate::new("-", "stop this forward")]),
        ("dash", []) if k8s => Answer::only(vec![Candidate::new("-", "stop the forward")]),
        ("run", []) if !k8s => Answer::only(vec![Candidate::new("-", "remove the container")]),
        ("exec" | "build" | "run", _) => Answer::files(),
        _ => Answer::nothing(),
    }
}

/// The head pod's ports of the live forwards, each once.
fn forwards(env: &Env) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut live = live_forwards(env);
    live.sort_by_key(|r| r.spec.remote);
    for ForwardRecord { spec, .. } in live {
        let help = format!(
            "forwarded to 127.0.0.1:{} (RayCluster {}/{})",
            spec.local, spec.namespace, spec.cluster
        );
        let port = spec.remote.to_string();
        if !out.iter().any(|c| c.value == port) {
            out.push(Candidate::new(port, help));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(line: &[&str]) -> Answer {
        let args: Vec<String> = line.iter().map(|w| w.to_string()).collect();
        let state = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_STATE_HOME", state.path().to_str().unwrap())]);
        answer(&args, &env).0
    }

    fn values(answer: &Answer) -> Vec<&str> {
        answer.candidates.iter().map(|c| c.value.as_str()).collect()
    }

    #[test]
    fn commands_by_mode() {
        let top = values(&offered(&[""])).join(" ");
        assert_eq!(top, ". build push run exec shell jlab tboard dash kfwd");
        let k8s = values(&offered(&[".", ""])).join(" ");
        assert_eq!(k8s, "exec shell dash jlab tboard kfwd");
        let flavor = values(&offered(&["-v", ".dev", ""])).join(" ");
        assert_eq!(flavor, "build push run exec shell jlab tboard dash");
        assert_eq!(
            values(&offered(&["--k8s", ""])).join(" "),
            ". exec shell dash jlab tboard kfwd"
        );
    }

    #[test]
    fn after_the_command_the_words_are_the_commands() {
        assert_eq!(values(&offered(&["run", ""])), ["-"]);
        assert_eq!(offered(&["run", "-d", ""]), Answer::files());
        // `-n` after `exec` is the command's, not a namespace.
        assert_eq!(offered(&[".", "exec", "-n", ""]), Answer::files());
        assert_eq!(values(&offered(&["kfwd", ""])), ["-"]);
        assert_eq!(values(&offered(&["kfwd", "8265", ""])), ["-"]);
        assert_eq!(offered(&["push", ""]), Answer::nothing());
        assert!(values(&offered(&["--"])).contains(&"--cluster"));
        assert!(!values(&offered(&["--"])).contains(&"--supervise-forward"));
    }
}
