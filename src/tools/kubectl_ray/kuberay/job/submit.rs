//! `job submit`: a Ray job on an existing RayCluster, as `ray job submit`
//! makes it: the runtime env from `--runtime-env`/`--runtime-env-json`,
//! a local working directory packaged and uploaded as Ray's SDK does,
//! then `POST /api/jobs/`; the log is followed until the job ends unless
//! `--no-wait`. KubeRay's RayJob mode (`-f`, `--name`) is not here yet.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::app::cli::{Ctx, Outcome, UsageError};
use crate::app::driver::Command;
use crate::app::wait;
use crate::clis::kubectl::{Kubectl, Target};
use crate::exec::cmd::quote;
use crate::ray::generate;
use crate::ray::jobs::{Dashboard, SubmitRequest};
use crate::ray::package::{self, Rules};

use super::super::flags;
use super::follow;
use super::rayjob;
use super::reach::Reach;

pub const EXAMPLES: &str = "\
Examples:
  # Submit to the RayCluster demo, upload ./job as the working directory, follow the logs
  kubectl ray job submit -c demo --working-dir ./job -- python script.py

  # Only submit: print the submission id and return
  kubectl ray job submit -c demo --working-dir ./job --no-wait -- python script.py

  # A runtime env file (its working_dir, if local, is uploaded) and reserved resources
  kubectl ray job submit --runtime-env env.yaml --entrypoint-num-cpus 1 -- python train.py

  # A dashboard reached another way (no port-forward)
  kubectl ray job submit --address http://127.0.0.1:8265 --working-dir . -- python script.py
";

#[derive(clap::Args, Debug, Default)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub reach: Reach,
    /// ID to give the Ray job (default: one Ray generates)
    #[arg(long, value_name = "ID")]
    pub submission_id: Option<String>,
    /// A runtime env YAML file (a local working_dir in it is uploaded)
    #[arg(long, value_name = "FILE")]
    pub runtime_env: Option<PathBuf>,
    /// The runtime env as JSON
    #[arg(long, value_name = "JSON")]
    pub runtime_env_json: Option<String>,
    /// A folder (or .zip) the job runs in, uploaded to the cluster; overrides the runtime env's working_dir
    #[arg(long, value_name = "DIR")]
    pub working_dir: Option<PathBuf>,
    /// Number of CPUs reserved for the entrypoint command
    #[arg(long, value_name = "N")]
    pub entrypoint_num_cpus: Option<f64>,
    /// Number of GPUs reserved for the entrypoint command
    #[arg(long, value_name = "N")]
    pub entrypoint_num_gpus: Option<f64>,
    /// Bytes of memory reserved for the entrypoint command
    #[arg(long, value_name = "BYTES")]
    pub entrypoint_memory: Option<u64>,
    /// Custom resources reserved for the entrypoint command, as JSON: '{"TPU": 1}'
    #[arg(long, value_name = "JSON")]
    pub entrypoint_resources: Option<String>,
    /// Metadata to attach to the job, as a JSON object of strings
    #[arg(long, value_name = "JSON")]
    pub metadata_json: Option<String>,
    /// Print the submission id at once; do not follow the logs
    #[arg(long)]
    pub no_wait: bool,
    /// Verify the dashboard's TLS certificate (accepted for KubeRay's command lines; HTTPS is not supported yet)
    #[arg(long, value_name = "BOOL|PATH")]
    pub verify: Option<String>,
    /// Accepted for KubeRay's command lines ('auto|record|pretty'); logs are printed as they come
    #[arg(long, value_name = "STYLE")]
    pub log_style: Option<String>,
    /// Accepted for KubeRay's command lines ('auto|false|true'); logs are printed as they come
    #[arg(long, value_name = "COLOR")]
    pub log_color: Option<String>,
    #[command(flatten)]
    pub rayjob: RayJobFlags,
    /// The command the job runs, after `--` (one word is taken as a shell line)
    #[arg(last = true, required = true, value_name = "ENTRYPOINT")]
    pub entrypoint: Vec<String>,
}

/// KubeRay's RayJob mode: a RayJob resource made from a file or from
/// these flags, whose cluster runs the job. Not supported yet.
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "RayJob mode")]
pub struct RayJobFlags {
    /// A RayJob YAML file (submissionMode: InteractiveMode), created with the submission id as its jobId; the job runs on its cluster
    #[arg(long, short = 'f', value_name = "FILE")]
    pub filename: Option<PathBuf>,
    /// With -f: the RayJob's ttlSecondsAfterFinished (and shutdownAfterJobFinishes)
    #[arg(long, value_name = "SECONDS")]
    pub ttl_seconds_after_finished: Option<i32>,
    /// The name of a RayJob to generate from the flags below (KubeRay's defaults: 2 CPUs and 4Gi for the head and one worker); --dry-run prints it
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// With --name: the Ray version
    #[arg(long, value_name = "VERSION")]
    pub ray_version: Option<String>,
    /// With --name: the container image
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// With --name: the head's CPUs
    #[arg(long, value_name = "QUANTITY")]
    pub head_cpu: Option<String>,
    /// With --name: the head's memory
    #[arg(long, value_name = "QUANTITY")]
    pub head_memory: Option<String>,
    /// With --name: the head's GPUs
    #[arg(long, value_name = "QUANTITY")]
    pub head_gpu: Option<String>,
    /// With --name: the workers
    #[arg(long, value_name = "N")]
    pub worker_replicas: Option<i32>,
    /// With --name: each worker's CPUs
    #[arg(long, value_name = "QUANTITY")]
    pub worker_cpu: Option<String>,
    /// With --name: each worker's memory
    #[arg(long, value_name = "QUANTITY")]
    pub worker_memory: Option<String>,
    /// With --name: each worker's GPUs
    #[arg(long, value_name = "QUANTITY")]
    pub worker_gpu: Option<String>,
    /// With --name: node selectors of the head pod
    #[arg(long, value_name = "K=V,...")]
    pub head_node_selectors: Option<String>,
    /// With --name: node selectors of the worker pods
    #[arg(long, value_name = "K=V,...")]
    pub worker_node_selectors: Option<String>,
}

impl RayJobFlags {
    /// The first flag that shapes a generated RayJob (beside --name).
    fn shaping(&self) -> Option<&'static str> {
        let flags = [
            ("--ray-version", self.ray_version.is_some()),
            ("--image", self.image.is_some()),
            ("--head-cpu", self.head_cpu.is_some()),
            ("--head-memory", self.head_memory.is_some()),
            ("--head-gpu", self.head_gpu.is_some()),
            ("--worker-replicas", self.worker_replicas.is_some()),
            ("--worker-cpu", self.worker_cpu.is_some()),
            ("--worker-memory", self.worker_memory.is_some()),
            ("--worker-gpu", self.worker_gpu.is_some()),
            ("--head-node-selectors", self.head_node_selectors.is_some()),
            (
                "--worker-node-selectors",
                self.worker_node_selectors.is_some(),
            ),
        ];
        flags.iter().find(|(_, on)| *on).map(|(f, _)| *f)
    }

    /// The generated RayJob's shape: its cluster as `create cluster`
    /// makes it, with KubeRay's defaults where no flag gives one (one
    /// worker; CPU a request, memory and GPUs requests and limits; the
    /// worker group's bounds as the API server defaults them); quantities
    /// and selectors checked.
    fn generated<'a>(
        &'a self,
        name: &'a str,
        entrypoint: &'a str,
    ) -> Result<rayjob::Generated<'a>> {
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let sizes =
            |flag: &str, cpu: &Option<String>, memory: &Option<String>, gpu: &Option<String>| {
                let s = generate::Sizes {
                    cpu: or(cpu, "2"),
                    memory: or(memory, "4Gi"),
                    gpu: or(gpu, "0"),
                    ..generate::Sizes::default()
                };
                for (what, q) in [("cpu", &s.cpu), ("memory", &s.memory), ("gpu", &s.gpu)] {
                    flags::check_quantity(&format!("{flag}-{what}"), q)?;
                }
                Ok::<_, anyhow::Error>(s)
            };
        let selectors = |flag: &str, text: &Option<String>| {
            flags::parse_pairs(text.as_deref().unwrap_or(""))
                .map(|p| p.0)
                .map_err(|e| usage(format!("--{flag}: {e}")))
        };
        let replicas = self.worker_replicas.unwrap_or(1);
        if replicas < 0 {
            return Err(usage("--worker-replicas must be 0 or more".into()));
        }
        if self.ttl_seconds_after_finished.is_some_and(|t| t < 0) {
            return Err(usage(
                "--ttl-seconds-after-finished must be greater than or equal to 0".into(),
            ));
        }
        // KubeRay's default image is its Ray version's, whatever --ray-version says.
        let image = self
            .image
            .clone()
            .unwrap_or_else(|| format!("{}:{}", generate::IMAGE_REPOSITORY, generate::RAY_VERSION));
        let worker = generate::Group {
            name: generate::DEFAULT_GROUP.into(),
            image: image.clone(),
            replicas: replicas.into(),
            min_replicas: Some(0),
            max_replicas: Some(i32::MAX.into()),
            sizes: sizes(
                "worker",
                &self.worker_cpu,
                &self.worker_memory,
                &self.worker_gpu,
            )?,
            node_selectors: selectors("worker-node-selectors", &self.worker_node_selectors)?,
            ..generate::Group::default()
        };
        let cluster = generate::NewCluster {
            name: name.into(),
            ray_version: or(&self.ray_version, generate::RAY_VERSION),
            image,
            head: sizes("head", &self.head_cpu, &self.head_memory, &self.head_gpu)?,
            head_node_selectors: selectors("head-node-selectors", &self.head_node_selectors)?,
            workers: vec![worker],
            ..generate::NewCluster::default()
        };
        Ok(rayjob::Generated {
            name,
            entrypoint,
            cluster,
            ttl: self.ttl_seconds_after_finished,
        })
    }
}

pub struct Submit {
    args: SubmitArgs,
    target: Target,
    /// The request, built in `complete` from the flags and files.
    request: SubmitRequest,
    /// The local working directory to package, if any.
    upload: Option<PathBuf>,
    /// `-f`: the RayJob to create.
    rayjob: Option<Value>,
    /// `--name`: a RayJob to generate from the flags.
    generate: bool,
}

impl Submit {
    pub fn new(args: SubmitArgs, target: Target) -> Submit {
        Submit {
            args,
            target,
            request: SubmitRequest::default(),
            upload: None,
            rayjob: None,
            generate: false,
        }
    }
}

/// The entrypoint as one shell line: one word is a line already
/// (`-- "python x.py"`); several are quoted where they need it.
fn entrypoint(words: &[String]) -> String {
    match words {
        [one] => one.clone(),
        _ => words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "),
    }
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// A JSON object from a flag, or a usage error naming the flag.
fn object(flag: &str, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(usage(format!("{flag} must be a JSON object"))),
        Err(e) => Err(usage(format!("{flag} is not valid JSON: {e}"))),
    }
}

impl Submit {
    /// The runtime env from its file or JSON, and the working directory
    /// to upload (from --working-dir, else the runtime env's, if local).
    fn runtime_env(&mut self) -> Result<Option<Map<String, Value>>> {
        let a = &self.args;
        let mut env = match (&a.runtime_env, &a.runtime_env_json) {
            (Some(_), Some(_)) => {
                return Err(usage(
                    "give one of --runtime-env and --runtime-env-json, not both".into(),
                ));
            }
            (Some(file), None) => {
                let text = std::fs::read_to_string(file).with_context(|| {
                    format!("could not read the runtime env file {}", file.display())
                })?;
                let value: Value = serde_yaml::from_str(&text).with_context(|| {
                    format!("the runtime env file {} is not valid YAML", file.display())
                })?;
                match value {
                    Value::Object(map) => Some(map),
                    Value::Null => Some(Map::new()),
                    _ => bail!(
                        "the runtime env file {} must hold a mapping",
                        file.display()
                    ),
                }
            }
            (None, Some(json)) => Some(object("--runtime-env-json", json)?),
            // A RayJob file's runtimeEnvYAML, when no flag gives one.
            (None, None) => match &self.rayjob {
                Some(job) => rayjob::runtime_env(job)?,
                None => None,
            },
        };
        if let Some(dir) = &a.working_dir {
            env.get_or_insert_with(Map::new).insert(
                "working_dir".into(),
                Value::String(dir.to_string_lossy().into_owned()),
            );
        }
        if let Some(map) = &env {
            if let Some(Value::String(dir)) = map.get("working_dir")
                && !dir.contains("://")
            {
                self.upload = Some(PathBuf::from(dir));
            }
            let local_modules = map
                .get("py_modules")
                .and_then(Value::as_array)
                .is_some_and(|m| {
                    m.iter()
                        .any(|v| v.as_str().is_some_and(|s| !s.contains("://")))
                });
            if local_modules {
                bail!(
                    "py_modules with local paths are not uploaded by this command yet: \
                     give them as URIs, or put them in the working directory"
                );
            }
        }
        Ok(env)
    }
}

impl Command for Submit {
    fn complete(&mut self, _ctx: &Ctx) -> Result<()> {
        let flags = &self.args.rayjob;
        match (&flags.filename, &flags.name) {
            (Some(file), _) => {
                self.rayjob = Some(rayjob::load(file, flags.ttl_seconds_after_finished)?);
            }
            (None, Some(name)) => {
                if name.trim().is_empty() {
                    return Err(usage("--name is empty".into()));
                }
                self.generate = true;
            }
            (None, None) => {
                let shaping = flags.shaping().or(flags
                    .ttl_seconds_after_finished
                    .map(|_| "--ttl-seconds-after-finished"));
                if let Some(flag) = shaping {
                    return Err(usage(format!(
                        "{flag} shapes a RayJob: name it with --name (or give its file with -f)"
                    )));
                }
            }
        }
        let runtime_env = self.runtime_env()?;
        let a = &self.args;
        let metadata = match &a.metadata_json {
            Some(text) => {
                let map = object("--metadata-json", text)?;
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    match v {
                        Value::String(s) => out.insert(k, s),
                        _ => {
                            return Err(usage(format!(
                                "--metadata-json: the value of {k} must be a string"
                            )));
                        }
                    };
                }
                Some(out)
            }
            None => None,
        };
        let resources = match &a.entrypoint_resources {
            Some(text) => {
                let map = object("--entrypoint-resources", text)?;
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    let Some(n) = v.as_f64() else {
                        return Err(usage(format!(
                            "--entrypoint-resources: the quantity of {k} must be a number"
                        )));
                    };
                    out.insert(k, n);
                }
                Some(out)
            }
            None => None,
        };
        self.request = SubmitRequest {
            entrypoint: entrypoint(&a.entrypoint),
            submission_id: a.submission_id.clone(),
            runtime_env,
            metadata,
            entrypoint_num_cpus: a.entrypoint_num_cpus,
            entrypoint_num_gpus: a.entrypoint_num_gpus,
            entrypoint_memory: a.entrypoint_memory,
            entrypoint_resources: resources,
        };
        Ok(())
    }

    fn validate(&self, ctx: &Ctx) -> Result<()> {
        if ctx.run.planning() && !self.generate {
            return Err(usage(
                "--dry-run prints the RayJob that --name generates: give --name".into(),
            ));
        }
        self.args.reach.validate()?;
        if (self.rayjob.is_some() || self.generate) && self.args.reach.cluster.is_some() {
            return Err(usage(
                "a RayJob runs the job on its own cluster: leave out -c/--cluster".into(),
            ));
        }
        if self.generate {
            let name = self.args.rayjob.name.as_deref().unwrap_or_default();
            self.args.rayjob.generated(name, &self.request.entrypoint)?;
        }
        if self.request.entrypoint.trim().is_empty() {
            return Err(usage("the entrypoint after `--` is empty".into()));
        }
        for (flag, n) in [
            ("--entrypoint-num-cpus", self.args.entrypoint_num_cpus),
            ("--entrypoint-num-gpus", self.args.entrypoint_num_gpus),
        ] {
            if n.is_some_and(|n| n < 0.0 || !n.is_finite()) {
                return Err(usage(format!("{flag} must be a number ≥ 0")));
            }
        }
        if let Some(dir) = &self.upload
            && !dir.exists()
        {
            bail!(
                "the working directory {} does not exist (nothing was submitted)",
                dir.display()
            );
        }
        Ok(())
    }

    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let mut request = self.request.clone();
        let reached = if self.rayjob.is_none() && !self.generate {
            self.args.reach.open(ctx, &self.target)?
        } else {
            let id = match &request.submission_id {
                Some(id) => id.clone(),
                None => {
                    let id = rayjob::submission_id()?;
                    ctx.ui
                        .progress(&format!("Generated submission ID for Ray job: {id}"));
                    id
                }
            };
            request.submission_id = Some(id.clone());
            let kubectl = Kubectl::new(&ctx.run, &self.target);
            let name = match &self.rayjob {
                Some(job) => {
                    rayjob::create(ctx, &kubectl, job, &id)?;
                    rayjob::name(job)
                }
                None => {
                    let name = self.args.rayjob.name.as_deref().unwrap_or_default();
                    let shape = self.args.rayjob.generated(name, &request.entrypoint)?;
                    let job = rayjob::generate(&shape, &id);
                    if ctx.run.planning() {
                        // KubeRay's --dry-run: the generated RayJob, nothing else.
                        ctx.ui.say(&serde_yaml::to_string(&job)?);
                        return Ok(Outcome::Done);
                    }
                    rayjob::apply(ctx, &kubectl, &job)?;
                    name.to_string()
                }
            };
            ctx.ui.progress(&format!("Submitted RayJob {name}."));
            let cluster = rayjob::cluster_of(ctx, &kubectl, &name, self.args.reach.timeout)?;
            ctx.ui
                .progress(&format!("RayJob {name} runs on RayCluster {cluster}"));
            let mut reach = self.args.reach.clone();
            if reach.address.is_none() {
                reach.cluster = Some(cluster);
            }
            reach.open_or(ctx, &self.target, &|| rayjob::delete(ctx, &kubectl, &name))?
        };
        let dashboard = &reached.dashboard;
        if let Some(dir) = &self.upload {
            let excludes = excludes(request.runtime_env.as_ref());
            let package = package::working_dir(dir, &Rules::new(&ctx.env, &excludes))?;
            upload(ctx, dashboard, &package, dir)?;
            if let Some(env) = &mut request.runtime_env {
                env.insert("working_dir".into(), Value::String(package.uri()));
            }
        }
        let id = dashboard.submit(&request)?;
        if self.args.no_wait {
            ctx.ui.progress(&format!(
                "submitted job {id}; follow it with `kubectl ray job logs {id} --follow`"
            ));
            ctx.ui.say(&id);
            return Ok(Outcome::Done);
        }
        ctx.ui.progress(&format!(
            "submitted job {id}; its logs follow (Ctrl-C asks whether to stop it)"
        ));
        follow::follow(ctx, dashboard, &id, wait::interval(ctx)?)
    }
}

/// The runtime env's `excludes` list.
fn excludes(env: Option<&Map<String, Value>>) -> Vec<String> {
    env.and_then(|e| e.get("excludes"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn upload(
    ctx: &Ctx,
    dashboard: &Dashboard,
    package: &package::Package,
    dir: &std::path::Path,
) -> Result<()> {
    let uploaded = dashboard.upload(package)?;
    let size = package.bytes.len();
    if uploaded {
        ctx.ui.progress(&format!(
            "uploaded {} as {} ({size} bytes)",
            dir.display(),
            package.uri()
        ));
    } else {
        ctx.ui.progress(&format!(
            "{} is on the cluster already as {}",
            dir.display(),
            package.uri()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_is_a_shell_line_several_are_quoted() {
        let w = |ws: &[&str]| ws.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(entrypoint(&w(&["python x.py --n 2"])), "python x.py --n 2");
        assert_eq!(
            entrypoint(&w(&["python", "-c", "print('a b')"])),
            r#"python -c 'print('\''a b'\'')'"#
        );
    }
}
