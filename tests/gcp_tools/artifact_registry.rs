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
    assert_eq!(c.run(TOOL, &["="]).code, 1);
    let up = c.run(TOOL, &["+"]);
    assert!(up.ok(), "{up}");
    assert_eq!(c.emu.repository("images").unwrap()["format"], "DOCKER");
    assert_eq!(c.emu.repository("wheels").unwrap()["format"], "PYTHON");
    assert!(c.run(TOOL, &["="]).ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["+"]).ok());
    assert_eq!(
        c.mutations(),
        Vec::<String>::new(),
        "+ again changes nothing"
    );
    let down = c.run(TOOL, &["-"]);
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
