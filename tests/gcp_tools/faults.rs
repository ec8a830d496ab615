//! Fault injection over a tool's whole run: every mutating request it sends
//! is made to fail once, in a run of its own.

use serde_json::Value;

use crate::harness::Cloud;

pub struct Case<'a> {
    pub tool: &'a str,
    pub args: &'a [&'a str],
    /// Brings a fresh project to where the run starts.
    pub setup: &'a dyn Fn(&Cloud),
    /// What the run is judged by: the same after a clean run and after a
    /// failed run plus a rerun.
    pub end_state: &'a dyn Fn(&Cloud) -> Value,
}

/// Returns how many faults were injected and survived.
pub fn every_mutation_fails_once(case: &Case) -> usize {
    let clean = Cloud::new();
    (case.setup)(&clean);
    clean.reset_counts();
    let run = clean.run(case.tool, case.args);
    assert!(
        run.ok(),
        "clean run of {} {:?}: {run}",
        case.tool,
        case.args
    );
    let expected = (case.end_state)(&clean);
    // The same method and path twice (two creates that differ only in
    // their query) are two faults: the second lets the first through.
    let mut mutations: Vec<(String, String, u32)> = Vec::new();
    for r in clean.emu.mutating_requests() {
        let earlier = mutations
            .iter()
            .filter(|(m, p, _)| *m == r.method && *p == r.path)
            .count();
        mutations.push((r.method.clone(), r.path.clone(), earlier as u32));
    }
    for (method, path, skip) in &mutations {
        let cloud = Cloud::new();
        (case.setup)(&cloud);
        // 403: gcloud itself retries a 503, which the tools then survive unseen.
        cloud.emu.fail_after(method, path, 403, *skip, 1);
        let failed = cloud.run(case.tool, case.args);
        assert!(
            cloud.emu.pending_faults().is_empty(),
            "the fault on {method} {path} never fired"
        );
        assert_ne!(
            failed.code, 0,
            "{method} {path} failed, yet the run succeeded: {failed}"
        );
        assert!(
            failed.stderr.contains("could not") && failed.stderr.contains("failed (exit"),
            "the error names the piece and the command ({method} {path}): {failed}"
        );
        let rerun = cloud.run(case.tool, case.args);
        assert!(
            rerun.ok(),
            "rerun after a fault on {method} {path}: {rerun}\nafter the failed run: {failed}"
        );
        assert_eq!(
            (case.end_state)(&cloud),
            expected,
            "end state after a fault on {method} {path}"
        );
    }
    eprintln!(
        "{} {:?}: {} faults injected and survived",
        case.tool,
        case.args,
        mutations.len()
    );
    mutations.len()
}
