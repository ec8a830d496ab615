use insta::assert_snapshot;
use kas_infra::tools::artifact_registry::TOOL;

use crate::world::World;

const LIST: &str = "gcloud artifacts repositories list";

fn with_repos(names: &[(&str, &str)]) -> World {
    let items: Vec<String> = names
        .iter()
        .map(|(n, f)| format!(r#"{{"name":"projects/proj/locations/europe-west4/repositories/{n}","format":"{f}"}}"#))
        .collect();
    World::new().answer(LIST, &format!("[{}]", items.join(",")))
}

fn both() -> World {
    with_repos(&[("images", "DOCKER"), ("wheels", "PYTHON")])
}

#[test]
fn status() {
    assert_snapshot!(
        "status_absent",
        with_repos(&[]).transcript(&TOOL, "artifact-registry =")
    );
    assert_snapshot!(
        "status_half",
        with_repos(&[("wheels", "PYTHON")]).transcript(&TOOL, "artifact-registry =")
    );
    assert_snapshot!(
        "status_present",
        both().transcript(&TOOL, "artifact-registry =")
    );
    assert_snapshot!(
        "status_json",
        both().transcript(&TOOL, "artifact-registry = --output json")
    );
}

#[test]
fn up() {
    assert_snapshot!(
        "up_absent",
        with_repos(&[]).transcript(&TOOL, "artifact-registry + --dry-run")
    );
    assert_snapshot!(
        "up_half",
        with_repos(&[("images", "DOCKER")]).transcript(&TOOL, "artifact-registry + --dry-run")
    );
    assert_snapshot!(
        "up_present",
        both().transcript(&TOOL, "artifact-registry + --dry-run")
    );
}

#[test]
fn down() {
    assert_snapshot!(
        "down_absent",
        with_repos(&[]).transcript(&TOOL, "artifact-registry - --dry-run")
    );
    assert_snapshot!(
        "down_half",
        with_repos(&[("wheels", "PYTHON")]).transcript(&TOOL, "artifact-registry - --dry-run")
    );
    assert_snapshot!(
        "down_present",
        both().transcript(&TOOL, "artifact-registry --dry-run -")
    );
}

#[test]
fn safety_valve_sends_nothing() {
    let w = both().env("CLOUDSDK_ACTIVE_CONFIG_NAME", "other");
    assert_snapshot!(w.transcript(&TOOL, "artifact-registry ="));
}
