use crate::harness::Cloud;

const TOOL: &str = "gke-allow";
const ME: &str = "203.0.113.7/32";
const OTHERS: [&str; 2] = ["198.51.100.0/24", "192.0.2.8/32"];

fn cloud_with_networks(networks: &[&str]) -> Cloud {
    let c = Cloud::new();
    c.emu.add_cluster("x-ray", networks);
    c
}

#[test]
fn plus_adds_mine_and_keeps_the_others() {
    let c = cloud_with_networks(&OTHERS);
    let (status, gcloud) = c.run_costed(TOOL, &["=", "--cidr", ME]);
    assert_eq!(status.code, 1, "{status}");
    assert_eq!(gcloud, 1, "one read of the cluster's networks");
    let (up, _) = c.run_costed(TOOL, &["+", "--cidr", ME]);
    assert!(up.ok(), "{up}");
    assert_eq!(
        c.emu.authorized_networks("x-ray"),
        [OTHERS[0], OTHERS[1], ME]
    );
    assert!(c.run_costed(TOOL, &["=", "--cidr", ME]).0.ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["+", "--cidr", ME]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
}

#[test]
fn minus_drops_mine_only() {
    let c = cloud_with_networks(&[OTHERS[0], ME, OTHERS[1]]);
    let (down, _) = c.run_costed(TOOL, &["--cidr", ME, "-"]);
    assert!(down.ok(), "{down}");
    assert_eq!(c.emu.authorized_networks("x-ray"), OTHERS);
    c.reset_counts();
    assert!(c.run(TOOL, &["-", "--cidr", ME]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
}

#[test]
fn double_plus_leaves_mine_alone() {
    let c = cloud_with_networks(&OTHERS);
    let only = c.run(TOOL, &["++", "--cidr", ME]);
    assert!(only.ok(), "{only}");
    assert_eq!(c.emu.authorized_networks("x-ray"), [ME]);
}

#[test]
fn double_minus_locks_everyone_out() {
    let c = cloud_with_networks(&[OTHERS[0], ME]);
    let lock = c.run(TOOL, &["--"]);
    assert!(lock.ok(), "{lock}");
    assert!(c.emu.authorized_networks("x-ray").is_empty());
    let cluster = c.emu.cluster("x-ray").unwrap();
    assert_eq!(cluster["masterAuthorizedNetworksConfig"]["enabled"], true);
    assert_eq!(c.run(TOOL, &["=", "--cidr", ME]).code, 1);
}

#[test]
fn without_the_cluster_it_says_how_to_make_one() {
    let c = Cloud::new();
    let run = c.run(TOOL, &["+", "--cidr", ME]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("gke-cluster +"), "{run}");
}

#[test]
fn a_change_replaced_by_a_stale_writer_is_merged_and_written_again() {
    let c = cloud_with_networks(&OTHERS);
    c.emu.race_next_cluster_update("192.0.2.99/32");
    let up = c.run(TOOL, &["+", "--cidr", ME]);
    assert!(up.ok(), "{up}");
    assert!(up.stderr.contains("replaced ours"), "{up}");
    assert_eq!(
        c.emu.authorized_networks("x-ray"),
        [OTHERS[0], OTHERS[1], "192.0.2.99/32", ME],
        "the other writer's entry stays, ours is back"
    );
}

/// Pairs of `+` started at the same instant, each pair on its own cluster:
/// every CIDR of every pair is there afterwards.
#[test]
fn concurrent_pairs_keep_every_network() {
    const PAIRS: usize = 20;
    const AT_ONCE: usize = 5;
    let c = Cloud::new();
    let base = std::fs::read_to_string(c.home.path().join("kas.yaml")).unwrap();
    let mut held = 0;
    for batch in 0..PAIRS / AT_ONCE {
        let pairs: Vec<usize> = (batch * AT_ONCE..(batch + 1) * AT_ONCE).collect();
        for &i in &pairs {
            c.emu.add_cluster(&format!("pair-{i}"), &[OTHERS[0]]);
            let yaml = base.replace("gke:\n", &format!("gke:\n  cluster: pair-{i}\n"));
            std::fs::write(c.home.path().join(format!("kas-{i}.yaml")), yaml).unwrap();
        }
        let start = std::sync::Barrier::new(pairs.len() * 2);
        std::thread::scope(|scope| {
            for &i in &pairs {
                for cidr in [format!("198.18.{i}.1/32"), format!("198.19.{i}.1/32")] {
                    let (c, start) = (&c, &start);
                    scope.spawn(move || {
                        let config = c.home.path().join(format!("kas-{i}.yaml"));
                        let config = config.to_string_lossy().into_owned();
                        start.wait();
                        let run =
                            c.run_with(TOOL, &["+", "--cidr", &cidr], &[("KAS_CONFIG", &config)]);
                        assert!(run.ok(), "pair {i} {cidr}: {run}");
                    });
                }
            }
        });
        for &i in &pairs {
            let mut got = c.emu.authorized_networks(&format!("pair-{i}"));
            got.sort();
            let a = format!("198.18.{i}.1/32");
            let b = format!("198.19.{i}.1/32");
            let mut want = [OTHERS[0].to_string(), a, b];
            want.sort();
            assert_eq!(got, want, "pair {i}");
            held += 1;
        }
    }
    assert_eq!(held, PAIRS);
}
