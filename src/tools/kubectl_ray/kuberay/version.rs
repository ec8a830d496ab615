//! `kubectl ray version`: this plugin's version and the KubeRay
//! operator's, read from the image tag of its deployment, found as
//! KubeRay's plugin finds it (label `app.kubernetes.io/name` is
//! `kuberay-operator` or `kuberay`, in any namespace).

use anyhow::Result;
use serde_json::Value;

use crate::app::cli::{Ctx, Outcome, VERSION};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Ns, Target};

#[derive(clap::Args, Debug)]
pub struct VersionArgs {}

pub struct Version {
    pub target: Target,
}

const SELECTOR: &str = "app.kubernetes.io/name in (kuberay-operator,kuberay)";

/// The tag of an image reference (`tag@sha256:...` when it has both;
/// the digest alone when it has no tag; `latest` when it has neither).
pub fn image_tag(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    match (tag, digest) {
        (Some(t), Some(d)) => format!("{t}@{d}"),
        (Some(t), None) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".to_string(),
    }
}

impl Command for Version {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        ctx.ui
            .say(&format!("kubectl ray plugin version: {VERSION}"));
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let found = kubectl
            .list_all::<Value>("deployments", Some(SELECTOR), None, Ns::All)
            .map(|d| d.unwrap_or_default());
        let image = match &found {
            Ok(deployments) => deployments
                .first()
                .and_then(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].as_str())
                .map(String::from),
            Err(_) => None,
        };
        match (image, found) {
            (Some(image), _) => ctx
                .ui
                .say(&format!("KubeRay operator version: {}", image_tag(&image))),
            (None, Err(e)) => ctx.ui.warn(&format!(
                "KubeRay operator installation cannot be found: {e:#}"
            )),
            (None, Ok(_)) => ctx.ui.warn(
                "KubeRay operator installation cannot be found: no deployment labelled \
                 app.kubernetes.io/name=kuberay-operator (or kuberay) in any namespace; \
                 `kubectl ray ++` installs it",
            ),
        }
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::image_tag;

    #[test]
    fn tags_of_image_references() {
        assert_eq!(image_tag("quay.io/kuberay/operator:v1.5.1"), "v1.5.1");
        assert_eq!(image_tag("localhost:5000/operator"), "latest");
        assert_eq!(image_tag("op:v1@sha256:abc"), "v1@sha256:abc");
        assert_eq!(image_tag("op@sha256:abc"), "sha256:abc");
    }
}
