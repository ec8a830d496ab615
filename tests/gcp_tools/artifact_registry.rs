use serde_json::{Value, json};

use crate::faults::{Case, every_mutation_fails_once};
use crate::harness::Cloud;

const TOOL: &str = "artifact-registry";

fn repositories(c: &Cloud) -> Value {
    let mut names = c.emu.repositories();
    names.sort();
    json!(
        names
            .iter()
            .map(|n| (n.clone(), c.emu.repository(n).map(|r| r["format"].clone())))
            .collect::<Vec<_>>()
    )
}

#[test]
fn up_status_down_round_trip() {
    let c = Cloud::new();
    let (status, gcloud) = c.run_costed(TOOL, &["="]);
    assert_eq!(status.code, 1, "{status}");
    assert_eq!(gcloud, 1, "status of an empty project asks gcloud once");
    let (up, _) = c.run_costed(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    assert_eq!(c.emu.repository("images").unwrap()["format"], "DOCKER");
    assert_eq!(c.emu.repository("wheels").unwrap()["format"], "PYTHON");
    assert!(c.run_costed(TOOL, &["="]).0.ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["+"]).ok());
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "+ again changes nothing"
    );
    let (down, _) = c.run_costed(TOOL, &["-"]);
    assert!(down.ok(), "{down}");
    assert!(c.emu.repositories().is_empty());
    c.reset_counts();
    assert!(c.run(TOOL, &["-"]).ok());
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "- again changes nothing"
    );
    assert_eq!(c.run(TOOL, &["="]).code, 1);
}

#[test]
fn faults_in_up() {
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["+"],
        setup: &|_| {},
        end_state: &repositories,
    });
}

#[test]
fn faults_in_down() {
    let setup = |c: &Cloud| assert!(c.run(TOOL, &["+"]).ok());
    every_mutation_fails_once(&Case {
        tool: TOOL,
        args: &["-"],
        setup: &setup,
        end_state: &repositories,
    });
}
