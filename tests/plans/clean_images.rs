use insta::assert_snapshot;
use kas_infra::tools::clean_images::TOOL;

use crate::world::World;

const LIST: &str = "gcloud artifacts docker images list";
const IMAGES: &str = r#"[
 {"package":"europe-west4-docker.pkg.dev/proj/images/kas","version":"sha256:aaa1","tags":["latest","x86_64"],"createTime":"2026-11-20T10:00:00Z","updateTime":"2026-11-20T10:00:00Z"},
 {"package":"europe-west4-docker.pkg.dev/proj/images/kas","version":"sha256:bbb2","tags":["old"],"createTime":"2026-01-05T10:00:00Z","updateTime":"2026-01-05T10:00:00Z"},
 {"package":"europe-west4-docker.pkg.dev/proj/images/kas","version":"sha256:ccc3","tags":[],"createTime":"2025-12-01T10:00:00Z","updateTime":"2025-12-01T10:00:00Z"}]"#;

fn world() -> World {
    World::new().answer(LIST, IMAGES)
}

#[test]
fn lists() {
    assert_snapshot!("list", world().transcript(&TOOL, "clean-images ="));
    assert_snapshot!(
        "list_flavor",
        World::new().transcript(&TOOL, "clean-images = .dev")
    );
}

#[test]
fn deletes_what_the_flags_choose() {
    assert_snapshot!(
        "by_tag",
        world().transcript(&TOOL, "clean-images - --tag old --dry-run")
    );
    assert_snapshot!(
        "by_pattern",
        world().transcript(&TOOL, "clean-images - --pattern sha256:c --dry-run")
    );
    assert_snapshot!(
        "by_age",
        world().transcript(&TOOL, "clean-images - --older-than 2026-06-01 --dry-run")
    );
    assert_snapshot!(
        "no_match",
        world().transcript(&TOOL, "clean-images - --tag nope --dry-run")
    );
}

#[test]
fn without_a_choice_and_no_terminal_it_asks_for_flags() {
    assert_snapshot!(world().transcript(&TOOL, "clean-images -"));
}
