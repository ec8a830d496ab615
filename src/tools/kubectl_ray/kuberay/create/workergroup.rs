//! `kubectl ray create workergroup GROUP -c CLUSTER`: one more worker
//! group in an existing RayCluster, with KubeRay's defaults (1 replica
//! between 1 and 10, 2 CPUs and 4Gi each, requests equal to limits). The
//! change is a JSON patch that first tests the cluster's resourceVersion,
//! so a cluster changed meanwhile is refused, not overwritten.

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::super::super::manifest::ClusterFile;
use super::super::super::pull_secret;
use super::{Pairs, check_quantity, check_tpu, merged, parse_pairs};
use crate::app::cli::{Ctx, Outcome, UsageError};
use crate::app::converge;
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Target};
use crate::ray::RAYCLUSTERS;
use crate::ray::generate::{self, Group, Project, Sizes};

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray create workergroup big -c demo                         # KubeRay's defaults
  kubectl ray create workergroup big -c demo --worker-cpu 4 --worker-memory 8Gi --worker-max-replicas 4
  kubectl ray create workergroup gpu -c demo --worker-gpu 1 \\
      --worker-node-selectors cloud.google.com/gke-accelerator=nvidia-l4
  kubectl ray create workergroup big -c demo --dry-run               # print the patch, change nothing
";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The new worker group's name
    #[arg(value_name = "WORKERGROUP")]
    group: String,
    /// The RayCluster to add it to
    #[arg(
        long = "ray-cluster",
        short = 'c',
        value_name = "RAYCLUSTER",
        required = true
    )]
    cluster: String,
    /// The Ray version of the default image
    #[arg(long, default_value = generate::RAY_VERSION)]
    ray_version: String,
    /// The container image (default: the project's image in a project,
    /// else rayproject/ray:RAY_VERSION)
    #[arg(long)]
    image: Option<String>,
    /// Replicas
    #[arg(long, default_value_t = 1)]
    worker_replicas: i32,
    /// Hosts per replica
    #[arg(long, default_value_t = 1)]
    num_of_hosts: i32,
    /// Minimum replicas
    #[arg(long, default_value_t = 1)]
    worker_min_replicas: i32,
    /// Maximum replicas
    #[arg(long, default_value_t = 10)]
    worker_max_replicas: i32,
    /// CPUs of each replica
    #[arg(long, default_value = "2")]
    worker_cpu: String,
    /// GPUs of each replica
    #[arg(long, default_value = "0")]
    worker_gpu: String,
    /// TPUs of each replica (needs the GKE TPU node selectors)
    #[arg(long, default_value = "0")]
    worker_tpu: String,
    /// Memory of each replica
    #[arg(long, default_value = "4Gi")]
    worker_memory: String,
    /// Arguments of the workers' `ray start` (num-cpus=2)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    worker_ray_start_params: Vec<Pairs>,
    /// Node selectors of the worker pods
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_pairs)]
    worker_node_selectors: Vec<Pairs>,
    /// KubeRay's pod exactly, even in a project
    #[arg(long)]
    kuberay_defaults: bool,
}

pub struct CreateWorkerGroup {
    args: Args,
    target: Target,
    group: Group,
    project: Option<Project>,
}

impl CreateWorkerGroup {
    pub fn new(args: Args, target: Target) -> CreateWorkerGroup {
        CreateWorkerGroup {
            args,
            target,
            group: Group::default(),
            project: None,
        }
    }
}

impl Command for CreateWorkerGroup {
    fn complete(&mut self, ctx: &Ctx) -> Result<()> {
        let a = &self.args;
        let in_project = ctx.config.root.is_some() && !a.kuberay_defaults;
        let image = match (&a.image, in_project) {
            (Some(image), _) if !image.is_empty() => image.clone(),
            (_, true) => generate::project_image(&ctx.config),
            _ => format!("{}:{}", generate::IMAGE_REPOSITORY, a.ray_version),
        };
        self.project = in_project.then(|| Project::of(&image));
        self.group = Group {
            name: a.group.clone(),
            image,
            replicas: i64::from(a.worker_replicas),
            min_replicas: Some(i64::from(a.worker_min_replicas)),
            max_replicas: Some(i64::from(a.worker_max_replicas)),
            num_of_hosts: Some(i64::from(a.num_of_hosts)),
            sizes: Sizes {
                cpu: a.worker_cpu.clone(),
                memory: a.worker_memory.clone(),
                gpu: a.worker_gpu.clone(),
                tpu: a.worker_tpu.clone(),
                ephemeral_storage: String::new(),
            },
            cpu_limit: true,
            ray_start_params: merged(&a.worker_ray_start_params),
            node_selectors: merged(&a.worker_node_selectors),
        };
        Ok(())
    }

    fn validate(&self, _ctx: &Ctx) -> Result<()> {
        let a = &self.args;
        for (flag, value) in [
            ("worker-cpu", &a.worker_cpu),
            ("worker-memory", &a.worker_memory),
            ("worker-gpu", &a.worker_gpu),
            ("worker-tpu", &a.worker_tpu),
        ] {
            check_quantity(flag, value)?;
        }
        let (min, max, n) = (
            a.worker_min_replicas,
            a.worker_max_replicas,
            a.worker_replicas,
        );
        if min < 0 || max < 0 || n < 0 {
            bail!(UsageError("replicas cannot be negative".into()));
        }
        if min > max {
            bail!(UsageError(format!(
                "--worker-min-replicas ({min}) cannot be greater than --worker-max-replicas ({max})"
            )));
        }
        if n < min || n > max {
            bail!(UsageError(format!(
                "--worker-replicas ({n}) must be between --worker-min-replicas ({min}) and \
                 --worker-max-replicas ({max})"
            )));
        }
        check_tpu(
            &a.worker_tpu,
            a.num_of_hosts,
            &merged(&a.worker_node_selectors),
        )
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let (name, group) = (&self.args.cluster, &self.group.name);
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let ns = Ns::Current;
        let mut cluster: Value = match kubectl.lookup(RAYCLUSTERS, name, ns)? {
            Lookup::Found(c) => c,
            Lookup::Missing => {
                bail!("RayCluster {name} not found: `kubectl ray get cluster` lists them")
            }
            Lookup::UnknownKind => {
                bail!("this cluster has no RayCluster kind: install KubeRay with `kubectl ray ++`")
            }
        };
        let groups = cluster["spec"]["workerGroupSpecs"].as_array().cloned();
        if groups
            .iter()
            .flatten()
            .any(|g| g["groupName"] == group.as_str())
        {
            bail!(
                "RayCluster {name} already has a worker group {group}: \
                 `kubectl ray scale cluster {name} -w {group}` changes its replicas"
            );
        }
        let spec = generate::worker_group(&self.group, self.project.as_ref());
        let rv = cluster["metadata"]["resourceVersion"].clone();
        let add = match groups {
            Some(_) => json!({"op": "add", "path": "/spec/workerGroupSpecs/-", "value": spec}),
            None => json!({"op": "add", "path": "/spec/workerGroupSpecs", "value": [spec]}),
        };
        let patch = json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            add,
        ]);
        // The pull secret of a project image, as `+` keeps it, for the
        // cluster as it will be.
        match cluster["spec"]["workerGroupSpecs"].as_array_mut() {
            Some(list) => list.push(spec),
            None => cluster["spec"]["workerGroupSpecs"] = json!([spec]),
        }
        if self
            .project
            .as_ref()
            .is_some_and(|p| p.pull_secret.is_some())
        {
            let yaml = serde_yaml::to_string(&cluster)?;
            let file = ClusterFile::parse(Path::new(name.as_str()), &yaml)?;
            let reads = pull_secret::read(ctx, &kubectl, &file, ns);
            converge::up(
                &ctx.run,
                pull_secret::pieces(ctx, &kubectl, &file, ns, reads)?,
            )?;
        }
        ctx.run
            .check(&kubectl.json_patch(RAYCLUSTERS, name, &patch.to_string(), ns))?;
        let shown = cluster["metadata"]["namespace"].as_str().unwrap_or("");
        ctx.run.for_real(|| {
            ctx.ui.say(&format!(
                "Updated Ray cluster {shown}/{name} with new worker group"
            ));
            Ok(())
        })?;
        Ok(Outcome::Done)
    }
}
