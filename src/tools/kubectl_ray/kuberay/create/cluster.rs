//! `kubectl ray create cluster NAME`: KubeRay's flags and defaults (one
//! head, one worker group `default-group`), refused when the name is
//! taken; `--wait` until the operator reports it provisioned. In a
//! project the pods get its image, /dev/shm, `wandb-secret` and the pull
//! secret, which is refreshed as `kubectl ray +` does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};

use super::super::super::manifest::ClusterFile;
use super::super::super::pull_secret;
use super::{Pairs, check_quantity, check_tpu, merged, parse_pairs};
use crate::app::cli::{Ctx, Outcome, UsageError};
use crate::app::converge;
use crate::app::driver::Command;
use crate::app::wait::{self, Patience, Waited};
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Target};
use crate::ray::cluster::RayCluster;
use crate::ray::generate::{self, Group, NewCluster, Project, Sizes};
use crate::ray::{self, RAYCLUSTERS};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray create cluster demo                                   # KubeRay's defaults (the project's image in a project)
  kubectl ray create cluster demo --worker-replicas 3 --worker-cpu 1 --worker-memory 2Gi --wait
  kubectl ray create cluster demo --labels app=ray,env=dev --annotations owner=me
  kubectl ray create cluster demo --worker-tpu 1 --worker-node-selectors \\
      cloud.google.com/gke-tpu-accelerator=tpu-v5-lite-podslice,cloud.google.com/gke-tpu-topology=1x1
  kubectl ray create cluster demo --dry-run                         # print the RayCluster YAML, create nothing
  kubectl ray create cluster demo --kuberay-defaults                # exactly KubeRay's cluster, even in a project
";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The RayCluster's name
    #[arg(value_name = "CLUSTERNAME")]
    name: String,
    /// Kubernetes labels (app=ray,env=dev)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    labels: Vec<Pairs>,
    /// Kubernetes annotations (ttl-hours=24,owner=me)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    annotations: Vec<Pairs>,
    /// The Ray version (spec.rayVersion)
    #[arg(long, default_value = generate::RAY_VERSION)]
    ray_version: String,
    /// The container image (default: the project's image in a project,
    /// else rayproject/ray:RAY_VERSION)
    #[arg(long)]
    image: Option<String>,
    /// CPUs of the head
    #[arg(long, default_value = "2")]
    head_cpu: String,
    /// Memory of the head
    #[arg(long, default_value = "4Gi")]
    head_memory: String,
    /// GPUs of the head
    #[arg(long, default_value = "0")]
    head_gpu: String,
    /// Ephemeral storage of the head
    #[arg(long, default_value = "")]
    head_ephemeral_storage: String,
    /// Arguments of the head's `ray start` (dashboard-host=0.0.0.0,num-cpus=0)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    head_ray_start_params: Vec<Pairs>,
    /// Node selectors of the head pod
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    head_node_selectors: Vec<Pairs>,
    /// Replicas of the worker group default-group
    #[arg(long, default_value_t = 1)]
    worker_replicas: i32,
    /// CPUs of each worker
    #[arg(long, default_value = "2")]
    worker_cpu: String,
    /// Memory of each worker
    #[arg(long, default_value = "4Gi")]
    worker_memory: String,
    /// GPUs of each worker
    #[arg(long, default_value = "0")]
    worker_gpu: String,
    /// TPUs of each worker (needs the GKE TPU node selectors)
    #[arg(long, default_value = "0")]
    worker_tpu: String,
    /// Ephemeral storage of each worker
    #[arg(long, default_value = "")]
    worker_ephemeral_storage: String,
    /// Arguments of the workers' `ray start` (num-cpus=2)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    worker_ray_start_params: Vec<Pairs>,
    /// Node selectors of the worker pods
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    worker_node_selectors: Vec<Pairs>,
    /// Hosts per replica of default-group (multi-host TPU slices)
    #[arg(long, default_value_t = 1)]
    num_of_hosts: i32,
    /// In-tree autoscaling with this autoscaler
    #[arg(long, value_parser = ["v1", "v2"], ignore_case = true)]
    autoscaler: Option<String>,
    /// KubeRay's cluster config file (not supported here: use flags, or a
    /// RayCluster file with `kubectl ray + FILE`)
    #[arg(long, value_name = "FILE")]
    file: Option<String>,
    /// Wait until the operator reports the cluster provisioned
    #[arg(long)]
    wait: bool,
    /// How long --wait waits
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = wait::parse_duration)]
    timeout: Duration,
    /// KubeRay's pods exactly, even in a project (no project image,
    /// /dev/shm, wandb-secret or pull secret)
    #[arg(long)]
    kuberay_defaults: bool,
}

pub struct CreateCluster {
    args: Args,
    target: Target,
    cluster: NewCluster,
}

impl CreateCluster {
    pub fn new(args: Args, target: Target) -> CreateCluster {
        CreateCluster {
            args,
            target,
            cluster: NewCluster::default(),
        }
    }
}

impl Command for CreateCluster {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        let a = &self.args;
        let in_project = ctx.config.root.is_some() && !a.kuberay_defaults;
        let image = match (&a.image, in_project) {
            (Some(image), _) if !image.is_empty() => image.clone(),
            (_, true) => generate::project_image(&ctx.config),
            _ => format!("{}:{}", generate::IMAGE_REPOSITORY, a.ray_version),
        };
        self.cluster = NewCluster {
            name: a.name.clone(),
            namespace: self.target.namespace.clone(),
            labels: merged(&a.labels),
            annotations: merged(&a.annotations),
            ray_version: a.ray_version.clone(),
            image: image.clone(),
            head: Sizes {
                cpu: a.head_cpu.clone(),
                memory: a.head_memory.clone(),
                gpu: a.head_gpu.clone(),
                tpu: String::new(),
                ephemeral_storage: a.head_ephemeral_storage.clone(),
            },
            head_ray_start_params: merged(&a.head_ray_start_params),
            head_node_selectors: merged(&a.head_node_selectors),
            workers: vec![Group {
                name: generate::DEFAULT_GROUP.to_string(),
                image: image.clone(),
                replicas: i64::from(a.worker_replicas),
                // KubeRay leaves them to the CRD's defaults; written out
                // so that they read the same everywhere.
                min_replicas: Some(0),
                max_replicas: Some(i64::from(i32::MAX)),
                num_of_hosts: Some(i64::from(a.num_of_hosts)),
                sizes: Sizes {
                    cpu: a.worker_cpu.clone(),
                    memory: a.worker_memory.clone(),
                    gpu: a.worker_gpu.clone(),
                    tpu: a.worker_tpu.clone(),
                    ephemeral_storage: a.worker_ephemeral_storage.clone(),
                },
                cpu_limit: false,
                ray_start_params: merged(&a.worker_ray_start_params),
                node_selectors: merged(&a.worker_node_selectors),
            }],
            autoscaler: a.autoscaler.as_ref().map(|v| v.to_lowercase()),
            project: in_project.then(|| Project::of(&image)),
        };
        Ok(())
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        let a = &self.args;
        if let Some(file) = &a.file {
            bail!(UsageError(format!(
                "--file {file}: KubeRay's cluster config files are not read here; give the sizes \
                 as flags, or write a RayCluster file and run `kubectl ray + FILE`"
            )));
        }
        for (flag, value) in [
            ("head-cpu", &a.head_cpu),
            ("head-memory", &a.head_memory),
            ("head-gpu", &a.head_gpu),
            ("head-ephemeral-storage", &a.head_ephemeral_storage),
            ("worker-cpu", &a.worker_cpu),
            ("worker-memory", &a.worker_memory),
            ("worker-gpu", &a.worker_gpu),
            ("worker-tpu", &a.worker_tpu),
            ("worker-ephemeral-storage", &a.worker_ephemeral_storage),
        ] {
            check_quantity(flag, value)?;
        }
        if a.worker_replicas < 0 {
            bail!(UsageError("--worker-replicas cannot be negative".into()));
        }
        check_tpu(
            &a.worker_tpu,
            a.num_of_hosts,
            &merged(&a.worker_node_selectors),
        )?;
        let problems = ray::validate::problems(&generate::raycluster(&self.cluster));
        if !problems.is_empty() {
            bail!(UsageError(format!(
                "this RayCluster would be refused; nothing was changed:\n  {}",
                problems.join("\n  ")
            )));
        }
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let name = &self.cluster.name;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let ns = Ns::Current;
        match ray::lookup(&kubectl, name, ns)? {
            Lookup::Found(existing) => bail!(
                "{} already exists: pick another name, or delete it first \
                 (`kubectl ray delete {name}`)",
                ray::describe(&existing)
            ),
            Lookup::UnknownKind => {
                bail!("this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`")
            }
            Lookup::Missing => {}
        }
        let manifest = generate::raycluster(&self.cluster);
        let yaml = serde_yaml::to_string(&manifest)?;
        // The pull secret, as `+` keeps it for a file naming it.
        let file = ClusterFile::parse(Path::new(name), &yaml)?;
        let reads = pull_secret::read(ctx, &kubectl, &file, ns);
        converge::up(
            &ctx.run,
            pull_secret::pieces(ctx, &kubectl, &file, ns, reads)?,
        )?;
        ctx.run.check(&kubectl.create_manifest(&yaml, ns))?;
        ctx.run.for_real(|| {
            ctx.ui.say(&format!("Created Ray cluster: {name}"));
            Ok(())
        })?;
        if !self.args.wait {
            return Ok(Outcome::Done);
        }
        let patience = Patience {
            timeout: self.args.timeout,
            interval: wait::interval(ctx)?,
        };
        let what = format!("RayCluster {name} to be provisioned");
        let waited = ctx.run.wait(&what, patience, || {
            let now = kubectl.get::<RayCluster>(RAYCLUSTERS, name, ns)?;
            Ok(now.filter(RayCluster::provisioned).map(|_| ()))
        })?;
        match waited {
            Waited::TimedOut => bail!(
                "timed out after {} waiting for Ray cluster {name} to be provisioned: \
                 `kubectl ray get cluster {name}` and `kubectl ray get nodes -c {name}` show how far it got",
                wait::show(patience.timeout)
            ),
            Waited::Done(()) => ctx.ui.say(&format!("Ray cluster {name} is provisioned")),
            Waited::Planned => {}
        }
        Ok(Outcome::Done)
    }
}
