//! The values a Compute Engine cluster file for Ray's launcher (`yaml/gcp`)
//! shares with `kas.yaml`: project, region, zone, the image and its
//! registry, and the workers' service account (the reader this tool makes).
//! The files keep `kas.yaml`'s defaults as plain text, so `ray up` reads
//! them as they are; [`disagreements`] says where a file and a `kas.yaml`
//! part ways (tests/gce_cluster_files.rs runs it on every file).

use serde_yaml::Value;

use crate::app::config::Config;
use crate::clis::gcloud;

/// What the cluster files must say for `config`.
#[derive(Debug, PartialEq)]
pub struct Expected {
    pub project: String,
    pub region: String,
    pub zone: String,
    /// `REGISTRY/IMAGE`, as `kubectl kas push` names it.
    pub image: String,
    /// The container's name: `kas.image`, as `kubectl kas` names it.
    pub container: String,
    /// The registry's host, which `gcloud auth configure-docker` is given.
    pub registry_host: String,
    /// The workers' account: `ray.reader_account` in the project.
    pub reader_email: String,
}

impl Expected {
    pub fn of(config: &Config) -> Expected {
        let g = &config.gcloud;
        let registry = config.image_registry();
        let registry_host = registry.split('/').next().unwrap_or_default().to_string();
        Expected {
            project: g.project.clone(),
            region: g.region.clone(),
            zone: g.zone.clone(),
            image: format!("{registry}/{}", config.kas.image),
            container: config.kas.image.clone(),
            registry_host,
            reader_email: gcloud::service_account_email(&config.ray.reader_account, &g.project),
        }
    }
}

/// Every place where `file` (a parsed cluster file) says something other
/// than `config`, as `KEY is "X"; kas.yaml gives "Y"` lines; empty when they
/// agree.
pub fn disagreements(config: &Config, file: &Value) -> Vec<String> {
    let want = Expected::of(config);
    let mut out = Vec::new();
    let mut check = |key: String, found: Option<&str>, expected: &str| {
        if found != Some(expected) {
            out.push(format!(
                "{key} is {}; kas.yaml gives \"{expected}\"",
                found.map_or("missing".to_string(), |f| format!("\"{f}\""))
            ));
        }
    };
    let at = |path: &[&str]| -> Option<&Value> { path.iter().try_fold(file, |v, key| v.get(*key)) };
    let text = |path: &[&str]| at(path).and_then(Value::as_str);
    check(
        "provider.project_id".into(),
        text(&["provider", "project_id"]),
        &want.project,
    );
    check(
        "provider.region".into(),
        text(&["provider", "region"]),
        &want.region,
    );
    check(
        "provider.availability_zone".into(),
        text(&["provider", "availability_zone"]),
        &want.zone,
    );
    check(
        "docker.image".into(),
        text(&["docker", "image"]),
        &want.image,
    );
    check(
        "docker.container_name".into(),
        text(&["docker", "container_name"]),
        &want.container,
    );
    let types = at(&["available_node_types"])
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten();
    for (name, node_type) in types {
        let name = name.as_str().unwrap_or_default();
        let accounts = node_type
            .get("node_config")
            .and_then(|c| c.get("serviceAccounts"))
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten();
        for (i, account) in accounts.enumerate() {
            check(
                format!("available_node_types.{name}.node_config.serviceAccounts[{i}].email"),
                account.get("email").and_then(Value::as_str),
                &want.reader_email,
            );
        }
    }
    // Docker on the VMs must be told about the registry the image is in.
    let init = at(&["initialization_commands"])
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|c| c.contains("configure-docker"));
    let named = init.and_then(|c| c.split_whitespace().last());
    check(
        "the host in initialization_commands' `gcloud auth configure-docker`".into(),
        named,
        &want.registry_host,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
docker: {image: europe-west4-docker.pkg.dev/sentience-reinforce/images/kas, container_name: kas}
provider: {type: gcp, project_id: sentience-reinforce, region: europe-west4, availability_zone: europe-west4-a}
available_node_types:
  head: {node_config: {machineType: n1-standard-4}}
  worker:
    node_config:
      serviceAccounts: [{email: ray-registry-reader-sa@sentience-reinforce.iam.gserviceaccount.com}]
initialization_commands: [gcloud auth configure-docker --quiet europe-west4-docker.pkg.dev]
";

    #[test]
    fn the_defaults_agree_with_a_file_written_from_them() {
        let file: Value = serde_yaml::from_str(FILE).unwrap();
        assert_eq!(
            disagreements(&Config::default(), &file),
            Vec::<String>::new()
        );
    }

    #[test]
    fn another_project_and_registry_are_named_key_by_key() {
        let file: Value = serde_yaml::from_str(FILE).unwrap();
        let config =
            Config::parse("gcloud: {project: other}\nkas: {registry: 'ghcr.io/me/'}\n").unwrap();
        assert_eq!(
            disagreements(&config, &file),
            [
                r#"provider.project_id is "sentience-reinforce"; kas.yaml gives "other""#,
                r#"docker.image is "europe-west4-docker.pkg.dev/sentience-reinforce/images/kas"; kas.yaml gives "ghcr.io/me/kas""#,
                r#"available_node_types.worker.node_config.serviceAccounts[0].email is "ray-registry-reader-sa@sentience-reinforce.iam.gserviceaccount.com"; kas.yaml gives "ray-registry-reader-sa@other.iam.gserviceaccount.com""#,
                r#"the host in initialization_commands' `gcloud auth configure-docker` is "europe-west4-docker.pkg.dev"; kas.yaml gives "ghcr.io""#,
            ]
        );
    }

    #[test]
    fn a_missing_key_is_a_disagreement() {
        let file: Value = serde_yaml::from_str("provider: {type: gcp}").unwrap();
        let found = disagreements(&Config::default(), &file);
        assert!(
            found.contains(
                &r#"provider.project_id is missing; kas.yaml gives "sentience-reinforce""#
                    .to_string()
            ),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|l| l.starts_with("docker.image is missing")),
            "{found:?}"
        );
    }
}
