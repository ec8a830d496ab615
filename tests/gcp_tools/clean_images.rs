//! `clean-images` against real gcloud: refusals that would pick every image
//! or a `latest` one change nothing; a narrow choice deletes just that.

use std::collections::BTreeMap;

use crate::harness::Cloud;

const TOOL: &str = "clean-images";

fn cloud_with_images() -> Cloud {
    let c = Cloud::new();
    c.emu.add_repository("images", "DOCKER");
    c.emu.add_version_at(
        "images",
        "kas",
        "sha256:aaa1",
        &["latest"],
        "2026-11-20T10:00:00Z",
    );
    c.emu.add_version_at(
        "images",
        "kas",
        "sha256:bbb2",
        &["old"],
        "2026-01-05T10:00:00Z",
    );
    c.emu
        .add_version_at("images", "kas", "sha256:ccc3", &[], "2025-12-01T10:00:00Z");
    c
}

fn images(c: &Cloud) -> BTreeMap<String, Vec<String>> {
    c.emu.versions("images", "kas")
}

#[test]
fn bad_or_sweeping_choices_change_nothing() {
    let c = cloud_with_images();
    let before = images(&c);
    assert_eq!(before.len(), 3);
    // (arguments, exit status, what the message must say)
    let cases: [(&[&str], i32, &str); 7] = [
        (&["-", "--pattern", ""], 2, "matches every image"),
        (&["-", "--pattern", "   "], 2, "matches every image"),
        (&["-", "--older-than", "2026-13-45"], 2, "not a date"),
        (&["-", "--older-than", "2026-02-30"], 2, "not a date"),
        (&["+"], 2, "not an operation of clean-images"),
        // Every image (all are older than 2027): needs --quiet.
        (&["-", "--older-than", "2027-01-01"], 3, "needs --quiet"),
        // The `latest` one among others.
        (&["-", "--pattern", "sha256:a"], 3, "tagged like `latest`"),
    ];
    c.reset_counts();
    for (args, code, says) in cases {
        let run = c.run(TOOL, args);
        assert_eq!(run.code, code, "{args:?}: {run}");
        assert!(run.stderr.contains(says), "{args:?}: {run}");
        assert_eq!(images(&c), before, "{args:?} changed nothing");
    }
    let sweeping = c.run(TOOL, &["-", "--older-than", "2027-01-01"]);
    assert!(
        sweeping.stderr.contains("sha256:ccc3") && sweeping.stderr.contains("sha256:aaa1"),
        "says what it would delete: {sweeping}"
    );
    assert_eq!(c.mutations(), Vec::<String>::new());
}

#[test]
fn narrow_choices_delete_and_quiet_allows_the_sweep() {
    let c = cloud_with_images();
    let old = c.run(TOOL, &["-", "--tag", "old"]);
    assert!(old.ok(), "{old}");
    assert_eq!(images(&c).len(), 2);
    let all = c.run(TOOL, &["-", "--older-than", "2027-01-01", "--quiet"]);
    assert!(all.ok(), "{all}");
    assert!(images(&c).is_empty());
}
