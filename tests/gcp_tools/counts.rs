//! How many gcloud processes and API requests each tool costs, for the
//! README (`cargo test --test gcp_tools counts -- --nocapture` prints the
//! table). The targets are asserted: `=` starts at most one gcloud per
//! remote read it needs and none for configuration values;
//! `admin-service-account =` starts none without a key file, and one (is
//! the key still the account's?) with one.

use crate::harness::Cloud;

struct Row {
    tool: &'static str,
    op: &'static str,
    gcloud: usize,
    requests: usize,
}

fn measure(c: &Cloud, tool: &'static str, op: &'static str, args: &[&str], rows: &mut Vec<Row>) {
    c.reset_counts();
    let run = c.run(tool, args);
    assert!(
        run.code == 0 || op.starts_with('='),
        "{tool} {args:?}: {run}"
    );
    rows.push(Row {
        tool,
        op,
        gcloud: c.gcloud_runs(),
        requests: c.api_requests(),
    });
}

#[test]
fn counts() {
    let mut rows = Vec::new();
    let tools: [(&str, &[&str], &[&str]); 6] = [
        ("admin-service-account", &["+"], &["-"]),
        ("artifact-registry", &["+"], &["-"]),
        ("gke-nat", &["+"], &["-"]),
        ("gke-cluster", &["+", "--cidr", "203.0.113.7/32"], &["-"]),
        (
            "gke-allow",
            &["+", "--cidr", "203.0.113.7/32"],
            &["-", "--cidr", "203.0.113.7/32"],
        ),
        ("ray-service-account", &["+"], &["-"]),
    ];
    for (tool, up, down) in tools {
        let c = Cloud::new();
        match tool {
            "gke-allow" => {
                c.emu.add_cluster("x-ray", &["198.51.100.0/24"]);
            }
            "ray-service-account" => {
                c.emu
                    .add_service_account("ray-autoscaler-sa-v1", "Ray autoscaler");
            }
            _ => {}
        }
        let status: &[&str] = if tool == "gke-allow" {
            &["=", "--cidr", "203.0.113.7/32"]
        } else {
            &["="]
        };
        measure(&c, tool, "= (absent)", status, &mut rows);
        measure(&c, tool, "+ (from nothing)", up, &mut rows);
        measure(&c, tool, "= (present)", status, &mut rows);
        if tool == "admin-service-account" {
            c.human_logs_in();
        }
        measure(&c, tool, "-", down, &mut rows);
    }
    println!("| tool | operation | gcloud processes | API requests |");
    println!("| --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| `{}` | `{}` | {} | {} |",
            r.tool, r.op, r.gcloud, r.requests
        );
    }
    let get = |tool: &str, op: &str| rows.iter().find(|r| r.tool == tool && r.op == op).unwrap();
    assert_eq!(get("admin-service-account", "= (absent)").gcloud, 0);
    assert_eq!(get("admin-service-account", "= (present)").gcloud, 1);
    for tool in ["artifact-registry", "gke-nat", "gke-cluster", "gke-allow"] {
        assert_eq!(get(tool, "= (absent)").gcloud, 1, "{tool}");
    }
    // The cluster and, once it exists, its firewall rule: two reads.
    assert_eq!(get("gke-cluster", "= (present)").gcloud, 2);
    // Accounts and the IAM policy: two reads, made side by side.
    assert_eq!(get("ray-service-account", "= (present)").gcloud, 2);
}
