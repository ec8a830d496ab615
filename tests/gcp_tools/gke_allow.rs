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
    assert_eq!(c.run(TOOL, &["=", "--cidr", ME]).code, 1);
    let up = c.run(TOOL, &["+", "--cidr", ME]);
    assert!(up.ok(), "{up}");
    assert_eq!(
        c.emu.authorized_networks("x-ray"),
        [OTHERS[0], OTHERS[1], ME]
    );
    assert!(c.run(TOOL, &["=", "--cidr", ME]).ok());
    c.reset_counts();
    assert!(c.run(TOOL, &["+", "--cidr", ME]).ok());
    assert_eq!(c.mutations(), Vec::<String>::new());
}

#[test]
fn minus_drops_mine_only() {
    let c = cloud_with_networks(&[OTHERS[0], ME, OTHERS[1]]);
    let down = c.run(TOOL, &["--cidr", ME, "-"]);
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
