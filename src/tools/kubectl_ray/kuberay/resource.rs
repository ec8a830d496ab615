//! KubeRay's `RAYCLUSTER | TYPE/NAME` argument (`log`, `session`): a
//! RayCluster by name, or the cluster a RayJob or RayService runs on.

use anyhow::{Result, bail};
use serde_json::Value;

use crate::app::cli::UsageError;
use crate::clis::kubectl::{Kubectl, Ns};

/// A RayCluster, RayJob or RayService.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    Job,
    Service,
}

/// What the argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    pub name: String,
}

impl Resource {
    /// `NAME` (a RayCluster) or `TYPE/NAME`, TYPE one of raycluster,
    /// rayjob, rayservice (any case, as KubeRay's `log`).
    pub fn parse(text: &str) -> Result<Resource> {
        let parts: Vec<&str> = text.split('/').collect();
        let (kind, name) = match parts.as_slice() {
            [name] => (Kind::Cluster, *name),
            [kind, name] if !name.is_empty() => {
                let kind = match kind.to_ascii_lowercase().as_str() {
                    "raycluster" | "rayclusters" => Kind::Cluster,
                    "rayjob" | "rayjobs" => Kind::Job,
                    "rayservice" | "rayservices" => Kind::Service,
                    _ => {
                        return Err(UsageError(format!(
                            "unsupported resource type: {kind} (raycluster, rayjob or rayservice)"
                        ))
                        .into());
                    }
                };
                (kind, *name)
            }
            _ => {
                return Err(UsageError(format!("invalid resource type/name: {text}")).into());
            }
        };
        if name.is_empty() {
            return Err(UsageError("the resource name is empty".into()).into());
        }
        Ok(Resource {
            kind,
            name: name.to_string(),
        })
    }

    /// The RayCluster's name: its own, or the one a RayJob or RayService
    /// reports in its status.
    pub fn cluster(&self, kubectl: &Kubectl<'_>) -> Result<String> {
        let (resource, field, what) = match self.kind {
            Kind::Cluster => return Ok(self.name.clone()),
            Kind::Job => ("rayjobs.ray.io", "/status/rayClusterName", "RayJob"),
            Kind::Service => (
                "rayservices.ray.io",
                "/status/activeServiceStatus/rayClusterName",
                "RayService",
            ),
        };
        let Some(object) = kubectl.get::<Value>(resource, &self.name, Ns::Current)? else {
            bail!(
                "there is no {what} {} (or no {what} kind: is KubeRay installed?)",
                self.name
            );
        };
        match object.pointer(field).and_then(Value::as_str) {
            Some(name) if !name.is_empty() => Ok(name.to_string()),
            _ => bail!(
                "{what} {} has no RayCluster yet (its status names none)",
                self.name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_type_slash_name() {
        assert_eq!(Resource::parse("demo").unwrap().kind, Kind::Cluster);
        let job = Resource::parse("RayJob/train").unwrap();
        assert_eq!((job.kind, job.name.as_str()), (Kind::Job, "train"));
        assert!(Resource::parse("pod/x").is_err());
        assert!(Resource::parse("rayjob/").is_err());
        assert!(Resource::parse("a/b/c").is_err());
    }
}
