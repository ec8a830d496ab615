//! Independent reads run side by side: a scripted world where each query
//! waits (a few seconds at most) for company (another read, or as many as
//! a test expects) to be in flight with it, and counts how many ever were
//! at once. Reads made one after the other never meet, so the count is
//! structural, not a timing.

use std::ffi::OsString;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use kas_infra::app::cli::{Ctx, HasCommon, Tool};
use kas_infra::app::config::Config;
use kas_infra::app::grammar::Op;
use kas_infra::exec::cmd::Cmd;
use kas_infra::exec::environment::Env;
use kas_infra::exec::runner::{Exec, Output};
use kas_infra::exec::ui::Ui;

const LIST: &str = "gcloud container clusters list";
const FIREWALL: &str = "gcloud compute firewall-rules describe x-ray-default";
const CLUSTER: &str = r#"[{"name":"x-ray","status":"RUNNING","endpoint":"34.90.1.2","clusterIpv4Cidr":"10.48.0.0/14"}]"#;
const RULE: &str = r#"{"name":"x-ray-default","sourceRanges":["10.48.0.0/14"]}"#;
const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: x-ray\n  cluster: {server: 'https://34.90.1.2'}\ncontexts:\n- name: x-ray\n  context: {cluster: x-ray, user: x-ray}\nusers:\n- name: x-ray\n  user: {}\ncurrent-context: x-ray\n";

/// How long a query waits for company before it answers alone.
const PATIENCE: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Flight {
    now: usize,
    most: usize,
    ran: Vec<String>,
}

struct Meeting {
    answers: Vec<(&'static str, Output)>,
    /// How many reads in flight at once a query waits for.
    company: usize,
    flight: Mutex<Flight>,
    changed: Condvar,
}

impl Meeting {
    fn new(answers: Vec<(&'static str, Output)>, company: usize) -> Meeting {
        Meeting {
            answers,
            company,
            flight: Mutex::new(Flight::default()),
            changed: Condvar::new(),
        }
    }
}

impl Exec for Meeting {
    fn exec(&self, cmd: &Cmd) -> Result<Output> {
        let line = cmd.to_string();
        assert!(cmd.is_query(), "only reads here: {line}");
        let mut f = self.flight.lock().unwrap();
        f.now += 1;
        f.most = f.most.max(f.now);
        f.ran.push(line.clone());
        self.changed.notify_all();
        let until = Instant::now() + PATIENCE;
        while f.most < self.company && Instant::now() < until {
            f = self.changed.wait_timeout(f, PATIENCE).unwrap().0;
        }
        f.now -= 1;
        drop(f);
        let answer = self.answers.iter().find(|(p, _)| line.starts_with(p));
        Ok(answer.map(|(_, out)| out.clone()).unwrap_or_else(|| {
            Output::failed(1, "ERROR: (gcloud) NOT_FOUND: The resource was not found.")
        }))
    }
}

/// Runs `argv` in a project whose kubeconfig holds `kubeconfig`; returns
/// the exit status, what was printed, the most reads at once and the reads.
fn run<A: clap::Parser + HasCommon>(
    tool: &Tool<A, Op>,
    argv: &str,
    kubeconfig: Option<&str>,
    answers: Vec<(&'static str, Output)>,
) -> (u8, Vec<String>, usize, Vec<String>) {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_string_lossy().into_owned();
    if let Some(text) = kubeconfig {
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), text).unwrap();
    }
    let env = Env::from_pairs([
        ("HOME", home_path.as_str()),
        ("CLOUDSDK_CONFIG", &format!("{home_path}/.config/gcloud")),
        ("CLOUDSDK_ACTIVE_CONFIG_NAME", "kas"),
        ("CLOUDSDK_CORE_PROJECT", "proj"),
        ("CLOUDSDK_COMPUTE_REGION", "europe-west4"),
        ("CLOUDSDK_COMPUTE_ZONE", "europe-west4-a"),
        ("KUBECONFIG", &format!("{home_path}/.kube/config")),
        ("PATH", "/usr/bin"),
    ]);
    let meeting = Arc::new(Meeting::new(answers, 2));
    let ui = Arc::new(Ui::buffered());
    let args: Vec<OsString> = argv.split(' ').map(OsString::from).collect();
    let exec = meeting.clone();
    let code = tool.drive(args, |common| {
        Ok(Ctx::new(exec, ui.clone(), env, Config::default(), common))
    });
    let f = meeting.flight.lock().unwrap();
    (code, ui.lines(), f.most, f.ran.clone())
}

/// `KUBECONFIG` as `kubectl config view -o json` shows it (the tool reads
/// the kubeconfig through kubectl, on its own, before the two reads).
const KUBECONFIG_VIEW: &str = r#"{"kind":"Config","clusters":[{"name":"x-ray","cluster":{"server":"https://34.90.1.2"}}],
  "contexts":[{"name":"x-ray","context":{"cluster":"x-ray","user":"x-ray"}}],
  "users":[{"name":"x-ray","user":{}}],"current-context":"x-ray"}"#;

fn built() -> Vec<(&'static str, Output)> {
    vec![
        ("kubectl config view", Output::ok(KUBECONFIG_VIEW)),
        (LIST, Output::ok(CLUSTER)),
        (FIREWALL, Output::ok(RULE)),
        (
            "kubectl get -f",
            Output::ok(r#"{"kind":"List","items":[]}"#),
        ),
    ]
}

#[test]
fn status_of_a_present_cluster_reads_cluster_and_firewall_rule_together() {
    use kas_infra::tools::gke_cluster::TOOL;
    let (code, lines, most, ran) = run(&TOOL, "gke-cluster =", Some(KUBECONFIG), built());
    assert_eq!(code, 0, "{lines:#?}");
    // The kubeconfig (read alone first), then the cluster and the rule.
    assert_eq!(ran.len(), 3, "{ran:#?}");
    assert_eq!(most, 2, "the two reads were in flight together: {ran:#?}");
    // Printed in the same order as ever.
    assert!(lines[0].starts_with("+ cluster x-ray "), "{lines:#?}");
    assert!(
        lines[3].starts_with("+ firewall rule x-ray-default "),
        "{lines:#?}"
    );
}

#[test]
fn status_in_an_empty_project_still_reads_once() {
    use kas_infra::tools::gke_cluster::TOOL;
    let answers = vec![(LIST, Output::ok("[]"))];
    let (code, lines, most, ran) = run(&TOOL, "gke-cluster =", None, answers);
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!((ran.len(), most), (1, 1), "{ran:#?}");
}

#[test]
fn a_plan_reads_cluster_and_firewall_rule_together() {
    use kas_infra::tools::gke_cluster::TOOL;
    let argv = "gke-cluster - --dry-run";
    let (code, lines, most, ran) = run(&TOOL, argv, Some(KUBECONFIG), built());
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!(most, 2, "{ran:#?}");
}

#[test]
fn ray_service_account_reads_accounts_and_policy_together() {
    use kas_infra::tools::ray_service_account::TOOL;
    let (_, lines, most, ran) = run(&TOOL, "ray-service-account =", None, Vec::new());
    assert_eq!(most, 2, "{ran:#?}\n{lines:#?}");
}

/// Runs `kubectl ray ARGV` where each read waits for `company`; returns
/// the exit status, what was printed, the most reads at once and the reads.
fn run_ray(
    argv: &str,
    answers: Vec<(&'static str, Output)>,
    company: usize,
) -> (u8, Vec<String>, usize, Vec<String>) {
    let meeting = Arc::new(Meeting::new(answers, company));
    let ui = Arc::new(Ui::buffered());
    let args: Vec<OsString> = std::iter::once("kubectl-ray")
        .chain(argv.split(' '))
        .map(OsString::from)
        .collect();
    let exec = meeting.clone();
    let env = Env::from_pairs([("KAS_POLL_MS", "0"), ("HOME", "/home/test")]);
    let code = kas_infra::tools::kubectl_ray::drive(args, |common| {
        Ok(Ctx::new(exec, ui.clone(), env, Config::default(), common))
    });
    let f = meeting.flight.lock().unwrap();
    (code, ui.lines(), f.most, f.ran.clone())
}

const HELM_LIST: &str = "helm list --output=json --namespace=ray";
const GET_CRD: &str = "kubectl get customresourcedefinitions rayclusters.ray.io";
const LIST_CRDS: &str = "kubectl get customresourcedefinitions --output=json";
const LIST_CLUSTERS: &str = "kubectl get rayclusters.ray.io --output=json --all-namespaces";
const GET_NAMESPACE: &str = "kubectl get namespaces ray";
const RELEASE: &str = r#"[{"name":"kuberay-operator","namespace":"ray","revision":"1","updated":"2026-11-27 10:52:14 +0000 UTC","status":"deployed","chart":"kuberay-operator-1.5.1","app_version":"v1.5.1"}]"#;
const CRD: &str = r#"{"kind":"CustomResourceDefinition","metadata":{"name":"rayclusters.ray.io"},"spec":{"group":"ray.io"}}"#;
const CRDS: &str = r#"{"kind":"List","items":[{"kind":"CustomResourceDefinition","metadata":{"name":"rayclusters.ray.io"},"spec":{"group":"ray.io"}}]}"#;
const NO_CLUSTERS: &str = r#"{"kind":"List","items":[]}"#;
const NAMESPACE: &str = r#"{"kind":"Namespace","metadata":{"name":"ray"}}"#;

fn operator_present() -> Vec<(&'static str, Output)> {
    vec![
        (HELM_LIST, Output::ok(RELEASE)),
        (GET_CRD, Output::ok(CRD)),
        (LIST_CRDS, Output::ok(CRDS)),
        (LIST_CLUSTERS, Output::ok(NO_CLUSTERS)),
        (GET_NAMESPACE, Output::ok(NAMESPACE)),
    ]
}

#[test]
fn kubectl_ray_operator_status_reads_release_and_crd_together() {
    let (code, lines, most, ran) = run_ray("==", operator_present(), 2);
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!((ran.len(), most), (2, 2), "{ran:#?}");
    // Printed in the same order as ever: the release, then the CRD.
    assert!(
        lines[0].starts_with("+ helm release kuberay-operator"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("+ CRD rayclusters.ray.io"),
        "{lines:#?}"
    );
}

#[test]
fn kubectl_ray_uninstall_reads_everything_it_deletes_at_once() {
    let (code, lines, most, ran) = run_ray("-- --dry-run", operator_present(), 5);
    assert_eq!(code, 0, "{lines:#?}");
    // The RayClusters, the release, the CRD, the namespace, the CRDs.
    assert_eq!((ran.len(), most), (5, 5), "{ran:#?}");
    assert_eq!(
        lines.last().unwrap(),
        "kubectl delete customresourcedefinitions rayclusters.ray.io",
        "{lines:#?}"
    );
}

#[test]
fn kubectl_ray_down_reads_its_cluster_and_pull_secret_together() {
    let answers = vec![
        (
            "kubectl get rayclusters.ray.io local-cpu-only",
            Output::failed(
                1,
                "Error from server (NotFound): rayclusters.ray.io \"local-cpu-only\" not found",
            ),
        ),
        (
            "kubectl get secrets pull",
            Output::ok(r#"{"kind":"Secret","metadata":{"name":"pull"},"type":"Opaque"}"#),
        ),
    ];
    let (code, lines, most, ran) = run_ray("- yaml/k8s/local-cpu-only.yaml --dry-run", answers, 2);
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!((ran.len(), most), (2, 2), "{ran:#?}");
    assert_eq!(
        lines,
        [
            "> keeping pull secret pull (not made by kubectl ray)",
            "> gone     RayCluster local-cpu-only"
        ],
        "printed in the same order as ever"
    );
}

#[test]
fn kubectl_ray_up_reads_the_operator_beside_the_token_and_pull_secret() {
    let mut answers = operator_present();
    answers.push((
        "gcloud auth print-access-token",
        Output::ok("ya29.side-by-side\n"),
    ));
    answers.push((
        "kubectl get secrets pull",
        Output::failed(
            1,
            "Error from server (NotFound): secrets \"pull\" not found",
        ),
    ));
    let (code, lines, most, ran) = run_ray("+ yaml/k8s/local-cpu-only.yaml --dry-run", answers, 3);
    assert_eq!(code, 0, "{lines:#?}");
    // helm and the CRD beside gcloud; the secret after the token.
    assert_eq!((ran.len(), most), (4, 3), "{ran:#?}");
    assert!(
        lines[0].starts_with("> ok       operator (helm release kuberay-operator"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("> creating pull secret pull"),
        "{lines:#?}"
    );
}
