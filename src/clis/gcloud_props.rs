//! gcloud's properties (project, region, zone, ...) read from its own files
//! and `CLOUDSDK_*` variables with gcloud's precedence, without spawning
//! gcloud: a status query should not pay a Python start-up for each value.
//!
//! Precedence, as gcloud applies it: the `CLOUDSDK_SECTION_NAME` variable,
//! then the active configuration's file, then the installation's
//! `properties` file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::exec::environment::Env;

/// Sections and keys, as `section/key`.
type Properties = BTreeMap<String, String>;

#[derive(Clone, Debug)]
pub struct GcloudProps {
    /// `CLOUDSDK_CONFIG`, or `~/.config/gcloud`.
    pub config_dir: PathBuf,
    /// The active configuration's name.
    pub active: String,
    env: Env,
    user: Properties,
    installation: Properties,
}

impl GcloudProps {
    pub fn load(env: &Env) -> GcloudProps {
        let config_dir = config_dir(env);
        let active = active_configuration(env, &config_dir);
        let user = read_ini(
            &config_dir
                .join("configurations")
                .join(format!("config_{active}")),
        );
        let installation = installation_properties(env);
        GcloudProps {
            config_dir,
            active,
            env: env.clone(),
            user,
            installation,
        }
    }

    /// The value gcloud would use for `section/key`, if any.
    pub fn get(&self, property: &str) -> Option<String> {
        let var = format!(
            "CLOUDSDK_{}",
            property.replace('/', "_").to_ascii_uppercase()
        );
        if let Some(value) = self.env.non_empty(&var) {
            return Some(value.to_string());
        }
        self.user
            .get(property)
            .or_else(|| self.installation.get(property))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    pub fn project(&self) -> Option<String> {
        self.get("core/project")
    }

    pub fn region(&self) -> Option<String> {
        self.get("compute/region")
    }

    pub fn zone(&self) -> Option<String> {
        self.get("compute/zone")
    }

    /// Artifact Registry's location: `artifacts/location`, else the region.
    pub fn artifacts_location(&self) -> Option<String> {
        self.get("artifacts/location").or_else(|| self.region())
    }

    /// The properties written in the named configuration's own file
    /// (without environment overrides).
    pub fn configuration(&self, name: &str) -> BTreeMap<String, String> {
        read_ini(
            &self
                .config_dir
                .join("configurations")
                .join(format!("config_{name}")),
        )
    }

    /// Whether the named configuration has a file.
    pub fn configuration_exists(&self, name: &str) -> bool {
        self.config_dir
            .join("configurations")
            .join(format!("config_{name}"))
            .is_file()
    }
}

fn config_dir(env: &Env) -> PathBuf {
    match env.non_empty("CLOUDSDK_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => env.home().join(".config").join("gcloud"),
    }
}

fn active_configuration(env: &Env, config_dir: &Path) -> String {
    if let Some(name) = env.non_empty("CLOUDSDK_ACTIVE_CONFIG_NAME") {
        return name.to_string();
    }
    std::fs::read_to_string(config_dir.join("active_config"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// The SDK's own `properties` file, beside its `bin/gcloud`.
fn installation_properties(env: &Env) -> Properties {
    let Some(path) = env.get("PATH") else {
        return Properties::new();
    };
    for dir in std::env::split_paths(path) {
        let gcloud = dir.join("gcloud");
        if gcloud.is_file() {
            let real = gcloud.canonicalize().unwrap_or(gcloud);
            if let Some(root) = real.parent().and_then(Path::parent) {
                return read_ini(&root.join("properties"));
            }
        }
    }
    Properties::new()
}

/// gcloud's property files are INI: `[section]` then `key = value`.
fn read_ini(path: &Path) -> Properties {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Properties::new();
    };
    parse_ini(&text)
}

fn parse_ini(text: &str) -> Properties {
    let mut props = Properties::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) {
            props.insert(
                format!("{section}/{}", key.trim()),
                value.trim().to_string(),
            );
        }
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(files: &[(&str, &str)], vars: &[(&str, &str)]) -> (tempfile::TempDir, GcloudProps) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut env = Env::from_pairs(vars.iter().copied());
        env.set("CLOUDSDK_CONFIG", dir.path().to_string_lossy());
        let props = GcloudProps::load(&env);
        (dir, props)
    }

    #[test]
    fn active_configuration_and_environment_win_in_order() {
        let (_d, p) = setup(
            &[
                ("active_config", "lab\n"),
                (
                    "configurations/config_lab",
                    "[core]\nproject = p1\n[compute]\nzone = z1\nregion = r1\n",
                ),
            ],
            &[("CLOUDSDK_COMPUTE_ZONE", "z2")],
        );
        assert_eq!(p.active, "lab");
        assert_eq!(p.project().as_deref(), Some("p1"));
        assert_eq!(p.zone().as_deref(), Some("z2"));
        assert_eq!(p.artifacts_location().as_deref(), Some("r1"));
    }

    #[test]
    fn no_files_means_the_default_configuration_with_nothing_set() {
        let (_d, p) = setup(&[], &[]);
        assert_eq!(p.active, "default");
        assert_eq!(p.project(), None);
    }
}
