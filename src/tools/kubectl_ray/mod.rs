//! `kubectl ray`: the KubeRay operator (installed with Helm) and the Ray
//! clusters that YAML files define, on any Kubernetes cluster.
//!
//! - `==`, `++`, `--` (`operator status|install|uninstall`): the operator.
//! - `= FILE`, `+ FILE`, `- FILE` (`status|up|down FILE`): a RayCluster.
//! - `convert FILE`: a legacy `cluster.ray.io/v1` file as KubeRay's.

mod cluster;
pub mod complete;
mod convert;
mod kuberay;
mod manifest;
mod operator;
mod options;
mod pull_secret;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::app::cli::{Common, Ctx, EXIT_USAGE, HasCommon, Run, Tool};
use crate::app::driver::Command;
use crate::app::grammar::{OpSpec, describe};
use crate::app::wait;
use crate::clis::kubectl::Target;

pub use manifest::ClusterFile;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    OperatorStatus,
    OperatorInstall,
    OperatorUninstall,
    Status,
    Up,
    Down,
    Convert,
}

pub const OPS: &[OpSpec<Op>] = &[
    OpSpec {
        symbol: "==",
        words: &[],
        op: Op::OperatorStatus,
        help: "operator status: exit 0 when the KubeRay operator is installed (also `operator status`)",
    },
    OpSpec {
        symbol: "++",
        words: &[],
        op: Op::OperatorInstall,
        help: "install the KubeRay operator with Helm (also `operator install`)",
    },
    OpSpec {
        symbol: "--",
        words: &[],
        op: Op::OperatorUninstall,
        help: "delete every RayCluster, then the operator, its namespace and CRDs (also `operator uninstall`)",
    },
    OpSpec {
        symbol: "=",
        words: &["status"],
        op: Op::Status,
        help: "FILE: exit 0 when its RayCluster exists and its head pod is Ready",
    },
    OpSpec {
        symbol: "+",
        words: &["up"],
        op: Op::Up,
        help: "FILE: operator if missing, pull secret, apply, wait for the head pod",
    },
    OpSpec {
        symbol: "-",
        words: &["down"],
        op: Op::Down,
        help: "FILE: delete its RayCluster and wait until it is gone",
    },
    OpSpec {
        symbol: "convert",
        words: &[],
        op: Op::Convert,
        help: "FILE: print a legacy cluster.ray.io/v1 file as a KubeRay ray.io/v1 RayCluster",
    },
];

#[derive(clap::Parser, Debug)]
#[command(mut_arg("namespace", |a| a.help(
    "The namespace of the RayCluster (default: the FILE's, else the context's); \
     for ==, ++, -- the operator's"
)))]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// A RayCluster YAML file (ray.io/v1, or legacy cluster.ray.io/v1)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub target: Target,
    /// How long to wait for the operator, the head pod or a deletion
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = wait::parse_duration)]
    pub timeout: Duration,
    /// With -: clear the finalizers of a RayCluster whose deletion is stuck
    #[arg(long)]
    pub force: bool,
}

impl HasCommon for Args {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl Args {
    pub fn target(&self) -> Target {
        self.target.clone()
    }
}

pub const TOOL: Tool<Args, Op> = Tool {
    name: "kubectl-ray",
    about: "Ray clusters on Kubernetes with the KubeRay operator (kubectl plugin: `kubectl ray`)",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Own(command),
};

const EXAMPLES: &str = "\
kubectl ray ++                                    # install the KubeRay operator
kubectl ray + yaml/k8s/local-cpu-only.yaml        # bring a RayCluster up, wait for its head
kubectl ray = yaml/k8s/local-cpu-only.yaml        # exit 0 when it is Ready
kubectl ray - yaml/k8s/local-cpu-only.yaml --context kind-ray
kubectl ray convert legacy-cluster.yaml > cluster.yaml
kubectl ray == -o json
kubectl ray get cluster -A                        # KubeRay's plugin commands work too:
kubectl ray create cluster demo --wait            #   get, create, scale, delete, version
kubectl ray scale cluster demo -w default-group -r 2   # (kubectl ray get --help, ...)
kubectl ray job submit -c demo --working-dir . -- python x.py   # KubeRay's job submit, log, session
kubectl ray log demo --out-dir logs                             #   (kubectl ray job --help, ...)
kubectl ray session demo
";

/// The `operator status|install|uninstall` spelling of `==`, `++`, `--`.
fn operator_words(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut iter = argv.into_iter().peekable();
    while let Some(arg) = iter.next() {
        if arg == "operator" {
            let symbol = match iter.peek().and_then(|a| a.to_str()) {
                Some("status") => Some("=="),
                Some("install") => Some("++"),
                Some("uninstall") => Some("--"),
                _ => None,
            };
            if let Some(symbol) = symbol {
                iter.next();
                out.push(OsString::from(symbol));
                continue;
            }
        }
        out.push(arg);
    }
    out
}

/// Runs with `argv` (program name first) and a context maker; the exit
/// status. The binary and the tests both come through here.
pub fn drive(argv: Vec<OsString>, make_ctx: impl FnOnce(&Common) -> Result<Ctx>) -> u8 {
    // KubeRay's own command lines (`get cluster`, `job submit`, `log`, ...) first.
    let mut make_ctx = Some(make_ctx);
    if let Some(code) = kuberay::dispatch(&argv, &mut make_ctx) {
        return code;
    }
    let Some(make_ctx) = make_ctx else {
        return EXIT_USAGE;
    };
    let argv = operator_words(argv);
    // Without an operation, clap would take a misspelt one for the FILE.
    if let Some(word) = TOOL.stray_word(&argv) {
        eprintln!("error: {}\n\n{}", no_operation(&word), describe(OPS));
        return EXIT_USAGE;
    }
    TOOL.drive(argv, make_ctx)
}

/// What is wrong with `word` where an operation was expected.
fn no_operation(word: &str) -> String {
    let symbols: Vec<&str> = OPS.iter().map(|s| s.symbol).collect();
    let expected = symbols.join(" ");
    if word.trim().is_empty() {
        format!("an empty argument is no operation: expected one of {expected}")
    } else if word == "operator" {
        "`operator` takes one of status, install, uninstall (or write ==, ++, --)".to_string()
    } else if std::path::Path::new(word).exists() {
        format!("no operation given for {word}: put one of {expected} before it")
    } else {
        format!("unknown operation `{word}`: expected one of {expected}")
    }
}

pub fn main() -> ExitCode {
    ExitCode::from(drive(std::env::args_os().collect(), Ctx::from_process))
}

/// Each operation's options value, built from its parsed arguments; the
/// driver completes, validates and runs it.
fn command(op: Op, args: Args) -> Box<dyn Command> {
    let given = options::Given::new(op, args);
    match op {
        Op::OperatorStatus => Box::new(operator::OperatorStatus::new(given)),
        Op::OperatorInstall => Box::new(operator::OperatorInstall::new(given)),
        Op::OperatorUninstall => Box::new(operator::OperatorUninstall::new(given)),
        Op::Status => Box::new(cluster::Status::new(given)),
        Op::Up => Box::new(cluster::Up::new(given)),
        Op::Down => Box::new(cluster::Down::new(given)),
        Op::Convert => Box::new(cluster::Convert::new(given)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn operator_words_become_symbols() {
        assert_eq!(
            operator_words(words(&["k", "operator", "uninstall", "-n", "x"])),
            words(&["k", "--", "-n", "x"])
        );
        assert_eq!(
            operator_words(words(&["k", "operator", "sideways"])),
            words(&["k", "operator", "sideways"])
        );
    }
}
