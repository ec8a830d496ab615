//! KubeRay's RayJob mode of `job submit -f FILE`: the RayJob (which must
//! be in InteractiveMode, so KubeRay waits for the job instead of
//! submitting it) is created with `spec.jobId` set to the submission id;
//! once KubeRay names its RayCluster, the job goes to that cluster's
//! dashboard as in the cluster mode. A cluster that does not get ready in
//! time takes its RayJob with it, as KubeRay's plugin does.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::app::cli::{Ctx, UsageError};
use crate::app::wait;
use crate::clis::kubectl::{Kubectl, Ns};
use crate::ray::generate::{self, NewCluster};

/// The RayJob resource, as kubectl names it.
const RAYJOBS: &str = "rayjobs.ray.io";

/// A RayJob file, read and checked as KubeRay's plugin checks it.
pub fn load(file: &Path, ttl: Option<i32>) -> Result<Value> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("the RayJob file {} cannot be read", file.display()))?;
    let mut job: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("the RayJob file {} is not valid YAML", file.display()))?;
    let usage = |m: String| -> anyhow::Error { UsageError(m).into() };
    if job["kind"] != "RayJob"
        || !job["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("ray.io/"))
    {
        return Err(usage(format!(
            "{} is no RayJob (kind: RayJob, apiVersion: ray.io/v1)",
            file.display()
        )));
    }
    if job["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(usage(format!(
            "the RayJob in {} has no metadata.name",
            file.display()
        )));
    }
    if job["spec"]["submissionMode"] != "InteractiveMode" {
        return Err(usage(
            "Submission mode of the Ray Job must be set to 'InteractiveMode' (spec.submissionMode)"
                .into(),
        ));
    }
    if job["spec"]["backoffLimit"].as_i64().is_some_and(|n| n > 0) {
        return Err(usage(
            "BackoffLimit is incompatible with InteractiveMode".into(),
        ));
    }
    if let Some(ttl) = ttl {
        if ttl < 0 {
            return Err(usage(
                "--ttl-seconds-after-finished must be greater than or equal to 0".into(),
            ));
        }
        job["spec"]["ttlSecondsAfterFinished"] = ttl.into();
        job["spec"]["shutdownAfterJobFinishes"] = true.into();
    }
    let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64().unwrap_or(0);
    if ttl < 0 {
        return Err(usage(
            "ttlSecondsAfterFinished must be greater than or equal to 0".into(),
        ));
    }
    if ttl > 0 && job["spec"]["shutdownAfterJobFinishes"] != true {
        return Err(usage(
            "ttlSecondsAfterFinished is only supported when shutdownAfterJobFinishes is set to true".into(),
        ));
    }
    Ok(job)
}

/// The RayJob's `runtimeEnvYAML`, as a runtime env.
pub fn runtime_env(job: &Value) -> Result<Option<Map<String, Value>>> {
    let Some(text) = job["spec"]["runtimeEnvYAML"]
        .as_str()
        .filter(|t| !t.trim().is_empty())
    else {
        return Ok(None);
    };
    match serde_yaml::from_str::<Value>(text)
        .context("the RayJob's runtimeEnvYAML is not valid YAML")?
    {
        Value::Object(map) => Ok(Some(map)),
        _ => bail!("the RayJob's runtimeEnvYAML must be a mapping"),
    }
}

pub fn name(job: &Value) -> String {
    job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `raysubmit_` and 16 characters, as Ray (and KubeRay's plugin) make them.
pub fn submission_id() -> Result<String> {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789";
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("could not read /dev/urandom for a submission id")?;
    let id: String = bytes
        .iter()
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect();
    Ok(format!("raysubmit_{id}"))
}

/// Creates the RayJob with `spec.jobId` = `id` (the RayJob goes to
/// kubectl on standard input).
pub fn create(ctx: &Ctx, kubectl: &Kubectl<'_>, job: &Value, id: &str) -> Result<()> {
    let mut job = job.clone();
    job["spec"]["jobId"] = id.into();
    let cmd = kubectl
        .mutation(["create", "--filename=-"], Ns::Current)
        .stdin(serde_json::to_vec(&job)?);
    ctx.run.check(&cmd)?;
    Ok(())
}

/// Waits until KubeRay names the RayJob's RayCluster.
pub fn cluster_of(
    ctx: &Ctx,
    kubectl: &Kubectl<'_>,
    name: &str,
    timeout: Duration,
) -> Result<String> {
    let poll = wait::interval(ctx)?.max(Duration::from_millis(100));
    let start = Instant::now();
    loop {
        if let Some(job) = kubectl.get::<Value>(RAYJOBS, name, Ns::Current)?
            && let Some(cluster) = job["status"]["rayClusterName"]
                .as_str()
                .filter(|c| !c.is_empty())
        {
            return Ok(cluster.to_string());
        }
        if start.elapsed() > timeout {
            bail!(
                "RayJob {name} names no RayCluster after {} (is the KubeRay operator running?)",
                wait::show(timeout)
            );
        }
        std::thread::sleep(poll);
    }
}

/// Deletes the RayJob (and so its cluster), after a cluster that never
/// got ready.
pub fn delete(ctx: &Ctx, kubectl: &Kubectl<'_>, name: &str) -> Result<()> {
    let cmd = kubectl.mutation(["delete", RAYJOBS, name, "--wait=false"], Ns::Current);
    ctx.run.check(&cmd)?;
    ctx.ui.progress(&format!("deleted RayJob {name}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn only_interactive_rayjobs_without_retries() {
        let ok = "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\nspec:\n  submissionMode: InteractiveMode\n  runtimeEnvYAML: |\n    pip: [emoji]\n";
        let job = load(file(ok).path(), Some(60)).unwrap();
        assert_eq!(job["spec"]["shutdownAfterJobFinishes"], true);
        assert_eq!(runtime_env(&job).unwrap().unwrap()["pip"][0], "emoji");
        let k8s = ok.replace("InteractiveMode", "K8sJobMode");
        assert!(
            load(file(&k8s).path(), None)
                .unwrap_err()
                .to_string()
                .contains("InteractiveMode")
        );
        let retries = format!("{ok}  backoffLimit: 2\n");
        assert!(load(file(&retries).path(), None).is_err());
        let id = submission_id().unwrap();
        assert!(id.starts_with("raysubmit_") && id.len() == 26, "{id}");
    }
}

/// The field manager of KubeRay's plugin, for server-side apply.
const FIELD_MANAGER: &str = "ray-kubectl-plugin";

/// What `--name` and its flags say about the RayJob to generate: its
/// cluster as `create cluster` would make it with KubeRay's defaults.
pub struct Generated<'a> {
    pub name: &'a str,
    pub entrypoint: &'a str,
    pub cluster: NewCluster,
    pub ttl: Option<i32>,
}

/// The RayJob KubeRay's plugin generates from `--name` and its flags:
/// InteractiveMode, a head (`ray-head`, ports 6379, 8265, 10001) and one
/// worker group `default-group` (`ray-worker`).
pub fn generate(g: &Generated<'_>, id: &str) -> Value {
    let cluster = generate::raycluster(&g.cluster);
    serde_json::json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": g.name},
        "spec": {
            "submissionMode": "InteractiveMode",
            "entrypoint": g.entrypoint,
            "jobId": id,
            "ttlSecondsAfterFinished": g.ttl.unwrap_or(0),
            "shutdownAfterJobFinishes": g.ttl.is_some(),
            "rayClusterSpec": cluster["spec"],
        },
    })
}

/// Applies a generated RayJob (server-side, as KubeRay's plugin does).
pub fn apply(ctx: &Ctx, kubectl: &Kubectl<'_>, job: &Value) -> Result<()> {
    let cmd = kubectl
        .mutation(
            [
                "apply".to_string(),
                "--server-side".into(),
                format!("--field-manager={FIELD_MANAGER}"),
                "--filename=-".into(),
            ],
            Ns::Current,
        )
        .stdin(serde_json::to_vec(job)?);
    ctx.run.check(&cmd)?;
    Ok(())
}

#[cfg(test)]
mod generated_tests {
    use super::*;

    #[test]
    fn the_rayjob_carries_its_cluster_id_and_ttl() {
        let worker = generate::Group {
            name: generate::DEFAULT_GROUP.into(),
            replicas: 3,
            sizes: generate::Sizes {
                cpu: "500m".into(),
                memory: "0".into(),
                gpu: "1".into(),
                ..generate::Sizes::default()
            },
            ..generate::Group::default()
        };
        let g = Generated {
            name: "gen",
            entrypoint: "python x.py",
            cluster: NewCluster {
                name: "gen".into(),
                head_node_selectors: [("c".to_string(), "d".to_string())].into(),
                workers: vec![worker],
                ..NewCluster::default()
            },
            ttl: Some(60),
        };
        let job = generate(&g, "raysubmit_x");
        assert_eq!(job["kind"], "RayJob");
        assert_eq!(job["spec"]["submissionMode"], "InteractiveMode");
        assert_eq!(job["spec"]["jobId"], "raysubmit_x");
        assert_eq!(job["spec"]["entrypoint"], "python x.py");
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 60);
        assert_eq!(job["spec"]["shutdownAfterJobFinishes"], true);
        let spec = &job["spec"]["rayClusterSpec"];
        assert_eq!(
            spec["headGroupSpec"]["template"]["spec"]["nodeSelector"]["c"],
            "d"
        );
        let worker = &spec["workerGroupSpecs"][0];
        assert_eq!(worker["replicas"], 3);
        let res = &worker["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(res["limits"]["nvidia.com/gpu"], "1");
        assert!(res["requests"]["memory"].is_null(), "zero left out");
    }
}
