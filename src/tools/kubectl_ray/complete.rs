//! `kubectl_complete-ray`: what `kubectl ray <TAB>` offers. Operations
//! and commands first; YAML files where an operation takes a FILE; the
//! flags and their values (contexts, namespaces from kubectl); RayCluster
//! names and worker groups after the words of KubeRay's own plugin that
//! take them (`get cluster NAME`, `get workergroup NAME`, `delete NAME`,
//! `log NAME`, `session NAME`, `scale cluster NAME`), from the cluster
//! that `--kubeconfig`, `--context` and `-n` typed so far point at.

use std::process::ExitCode;

use serde::Deserialize;

use crate::app::complete::{self, Answer, Candidate, Lookup, Spot, Typed};
use crate::clis::kubectl::Ns;

use super::{OPS, Op, TOOL};

/// The RayCluster kind, as kubectl names it.
const RAYCLUSTERS: &str = "rayclusters.ray.io";

/// Runs as the process `kubectl_complete-ray`.
pub fn main() -> ExitCode {
    let args = complete::process_args();
    let (answer, prefix, current) = answer(&args);
    complete::print(answer, &prefix, &current);
    ExitCode::SUCCESS
}

/// What to offer for `args` (the words after `ray`, the current one
/// last), the prefix each candidate is printed after, and the current word.
pub fn answer(args: &[String]) -> (Answer, String, String) {
    let cmd = TOOL.command();
    let typed = complete::read(&cmd, args, false);
    let current = typed.current.clone();
    match &typed.spot {
        Spot::Value { id, prefix } => (flag_value(&cmd, id, &typed), prefix.clone(), current),
        Spot::Flag => {
            let mut candidates = Vec::new();
            if typed.words.is_empty() {
                candidates.extend(
                    operations()
                        .into_iter()
                        .filter(|c| c.value.starts_with('-')),
                );
            }
            candidates.extend(complete::flags(&cmd));
            (Answer::only(candidates), String::new(), current)
        }
        Spot::Word => (word(&typed), String::new(), current),
    }
}

fn flag_value(cmd: &clap::Command, id: &str, typed: &Typed) -> Answer {
    if let Some(answer) = complete::target_value(id, typed) {
        return answer;
    }
    if let Some(values) = complete::possible_values(cmd, id) {
        return Answer::only(values);
    }
    match id {
        "config" => Answer::yaml_files(),
        _ => Answer::nothing(),
    }
}

/// The operations, their word forms and `operator`.
fn operations() -> Vec<Candidate> {
    let mut out: Vec<Candidate> = OPS
        .iter()
        .map(|s| Candidate::new(s.symbol, s.help))
        .collect();
    for spec in OPS {
        for word in spec.words {
            out.push(Candidate::new(*word, format!("same as `{}`", spec.symbol)));
        }
    }
    out.push(Candidate::new(
        "operator",
        "the KubeRay operator: status, install, uninstall",
    ));
    out.extend(
        super::kuberay::WORD_HELP
            .iter()
            .map(|(word, help)| Candidate::new(*word, *help)),
    );
    out
}

fn word(typed: &Typed) -> Answer {
    let words: Vec<&str> = typed.words.iter().map(String::as_str).collect();
    let lookup = || Lookup::new(typed.target());
    match words.as_slice() {
        // The values of KubeRay's flags, which the operations' clap
        // definition does not know (so they come as words).
        [_, .., "-c" | "--ray-cluster"] => Answer::values(lookup().names(RAYCLUSTERS, Ns::Current)),
        [_, .., "-w" | "--worker-group"] => Answer::only(worker_groups(&lookup())),
        [] => Answer::only(operations()),
        ["operator"] => Answer::only(vec![
            Candidate::new("status", "exit 0 when the operator is installed (==)"),
            Candidate::new("install", "install it with Helm (++)"),
            Candidate::new("uninstall", "remove every RayCluster, then it (--)"),
        ]),
        ["get"] => Answer::only(vec![
            Candidate::new("cluster", "RayClusters"),
            Candidate::new("workergroup", "their worker groups"),
            Candidate::new("node", "their Ray nodes (pods)"),
            Candidate::new("token", "a RayCluster's auth token"),
        ]),
        ["create"] => Answer::only(vec![
            Candidate::new("cluster", "a RayCluster from flags"),
            Candidate::new("workergroup", "a worker group in a RayCluster"),
        ]),
        ["get", "token"] => Answer::values(lookup().names(RAYCLUSTERS, Ns::Current)),
        ["get", "cluster"] | ["delete"] | ["log"] | ["session"] | ["scale", "cluster"] => {
            Answer::values(lookup().names(RAYCLUSTERS, Ns::Current))
        }
        ["scale"] => Answer::only(vec![Candidate::new("cluster", "a RayCluster's workers")]),
        ["job"] => Answer::only(vec![
            Candidate::new("submit", "submit a Ray job and follow its logs"),
            Candidate::new("list", "the jobs of a RayCluster"),
            Candidate::new("status", "a job's status"),
            Candidate::new("logs", "a job's logs (--follow)"),
            Candidate::new("stop", "stop a job"),
        ]),
        ["get", "workergroup"] => Answer::only(worker_groups(&lookup())),
        [op] if takes_file(op) => Answer::yaml_files(),
        _ => Answer::nothing(),
    }
}

/// Whether the operation word `op` takes a FILE.
fn takes_file(op: &str) -> bool {
    OPS.iter()
        .filter(|s| s.symbol == op || s.words.contains(&op))
        .any(|s| matches!(s.op, Op::Status | Op::Up | Op::Down | Op::Convert))
}

#[derive(Deserialize)]
struct RayCluster {
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    worker_group_specs: Vec<WorkerGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkerGroup {
    group_name: String,
}

/// Every worker group of the RayClusters in the namespace, each once.
fn worker_groups(lookup: &Lookup) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for cluster in lookup.objects::<RayCluster>(RAYCLUSTERS, Ns::Current) {
        for group in cluster.spec.worker_group_specs {
            match out.iter_mut().find(|c| c.value == group.group_name) {
                Some(seen) => seen.help.push_str(&format!(", {}", cluster.metadata.name)),
                None => out.push(Candidate::new(
                    group.group_name,
                    format!("of {}", cluster.metadata.name),
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(line: &[&str]) -> Answer {
        let args: Vec<String> = line.iter().map(|w| w.to_string()).collect();
        answer(&args).0
    }

    fn values(answer: &Answer) -> Vec<&str> {
        answer.candidates.iter().map(|c| c.value.as_str()).collect()
    }

    #[test]
    fn operations_first_then_files_then_nothing() {
        let top = offered(&[""]);
        for op in [
            "==", "++", "--", "=", "+", "-", "convert", "status", "operator", "get", "create",
            "scale", "delete", "version",
        ] {
            assert!(values(&top).contains(&op), "{op}");
        }
        assert_eq!(offered(&["+", ""]), Answer::yaml_files());
        assert_eq!(offered(&["--dry-run", "convert", ""]), Answer::yaml_files());
        assert_eq!(offered(&["+", "c.yaml", ""]), Answer::nothing());
        assert_eq!(offered(&["++", ""]), Answer::nothing());
        assert_eq!(
            values(&offered(&["operator", ""])),
            ["status", "install", "uninstall"]
        );
    }

    #[test]
    fn a_dash_offers_the_dash_operations_and_the_flags() {
        let answer = offered(&["-"]);
        let v = values(&answer);
        assert_eq!(&v[..2], ["--", "-"]);
        assert!(v.contains(&"--timeout") && v.contains(&"-n") && v.contains(&"--version"));
        assert!(values(&offered(&["=", "f.yaml", "--"])).contains(&"--force"));
        assert_eq!(values(&offered(&["-o", ""])), ["text", "json"]);
        assert_eq!(offered(&["--timeout", ""]), Answer::nothing());
    }
}
