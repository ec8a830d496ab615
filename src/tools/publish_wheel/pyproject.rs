//! Reading the package's name and version from `pyproject.toml`, in either
//! layout (PEP 621 `[project]` or poetry's `[tool.poetry]`), and setting
//! the version in a copy. `toml_edit` keeps the copy's formatting, so the
//! build sees the project's file with one value changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, Table, Value};

use super::version::Version;

pub const FILE_NAME: &str = "pyproject.toml";

/// Which table holds the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[project]`, PEP 621.
    Pep621,
    /// `[tool.poetry]`.
    Poetry,
}

#[derive(Debug)]
pub struct PyProject {
    pub path: PathBuf,
    pub name: String,
    pub version: Version,
    pub layout: Layout,
    /// Built by poetry (its backend is declared, or it has a `[tool.poetry]`
    /// table): `poetry build` is the natural front end.
    pub uses_poetry: bool,
}

impl PyProject {
    /// The nearest `pyproject.toml` at or above `start`, not above `top`
    /// (the git work tree's root).
    pub fn find(start: &Path, top: &Path) -> Result<PathBuf> {
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Ok(candidate);
            }
            if dir == top {
                break;
            }
        }
        bail!(
            "no {FILE_NAME} in {} or above it (up to the git work tree at {}): \
             run publish-wheel in the Python project's folder, or pass --project-dir DIR",
            start.display(),
            top.display()
        )
    }

    pub fn load(path: &Path) -> Result<PyProject> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        PyProject::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<PyProject> {
        let doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let project = doc.get("project").and_then(Item::as_table);
        let poetry = doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(Item::as_table);
        let backend = doc
            .get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(Item::as_str)
            .unwrap_or("");
        let uses_poetry = backend.starts_with("poetry") || poetry.is_some();

        let field = |table: Option<&Table>, key: &str| -> Option<String> {
            table?.get(key)?.as_str().map(str::to_string)
        };
        let (version, layout) = match (field(project, "version"), field(poetry, "version")) {
            (Some(v), _) => (v, Layout::Pep621),
            (None, Some(v)) => (v, Layout::Poetry),
            (None, None) => {
                let dynamic = project
                    .and_then(|p| p.get("dynamic"))
                    .and_then(Item::as_array)
                    .is_some_and(|a| a.iter().any(|d| d.as_str() == Some("version")));
                if dynamic {
                    bail!(
                        "{} declares its version dynamic: publish-wheel sets the version itself, \
                         so write a static `version = \"X.Y.Z\"` in [project]",
                        path.display()
                    );
                }
                bail!(
                    "{} has no version: add `version = \"X.Y.Z\"` to its [project] (or [tool.poetry]) table",
                    path.display()
                );
            }
        };
        let name = field(project, "name")
            .or_else(|| field(poetry, "name"))
            .with_context(|| {
                format!(
                    "{} has no package name: add `name = \"...\"` to its [project] (or [tool.poetry]) table",
                    path.display()
                )
            })?;
        let version = Version::parse(&version)
            .with_context(|| format!("the version in {}", path.display()))?;
        Ok(PyProject {
            path: path.to_path_buf(),
            name,
            version,
            layout,
            uses_poetry,
        })
    }
}

/// `text` (a pyproject.toml) with `version` set wherever a static version
/// is written: `[project]` and `[tool.poetry]`.
pub fn with_version(text: &str, version: &Version) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("pyproject.toml is not valid TOML")?;
    let text = version.to_string();
    let mut set = false;
    if let Some(project) = doc.get_mut("project").and_then(Item::as_table_mut) {
        set |= replace_value(project, &text);
    }
    if let Some(poetry) = doc
        .get_mut("tool")
        .and_then(|t| t.get_mut("poetry"))
        .and_then(Item::as_table_mut)
    {
        set |= replace_value(poetry, &text);
    }
    if !set {
        bail!("pyproject.toml has no static version to set");
    }
    Ok(doc.to_string())
}

/// Sets `version` in `table` when it has one, keeping the comments and
/// spacing around the value.
fn replace_value(table: &mut Table, version: &str) -> bool {
    let Some(old) = table.get_mut("version").and_then(Item::as_value_mut) else {
        return false;
    };
    let decor = old.decor().clone();
    *old = Value::from(version);
    *old.decor_mut() = decor;
    true
}

/// A package name as an index compares it (PEP 503): lower case, runs of
/// `-`, `_` and `.` as one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use indoc::indoc;

    fn parse(text: &str) -> Result<PyProject> {
        PyProject::parse(Path::new("pyproject.toml"), text)
    }

    const PEP621: &str = indoc! {r#"
        # The project's own comment stays.
        [project]
        name = "attack-simulator"
        version = "0.3.1+local.7"  # keep me
        dependencies = ["numpy"]

        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
    "#};

    const POETRY: &str = indoc! {r#"
        [tool.poetry]
        name = "Attack_Simulator"
        version = "1.0.0"

        [build-system]
        requires = ["poetry-core"]
        build-backend = "poetry.core.masonry.api"
    "#};

    #[test]
    fn reads_both_layouts() {
        let p = parse(PEP621).unwrap();
        assert_eq!(p.name, "attack-simulator");
        assert_eq!(p.version.to_string(), "0.3.1+local.7");
        assert_eq!(p.layout, Layout::Pep621);
        assert!(!p.uses_poetry);
        let q = parse(POETRY).unwrap();
        assert_eq!(q.name, "Attack_Simulator");
        assert_eq!(q.layout, Layout::Poetry);
        assert!(q.uses_poetry);
    }

    #[test]
    fn sets_the_version_and_keeps_the_rest() {
        let v = Version::parse("0.3.1+abc1234").unwrap();
        let out = with_version(PEP621, &v).unwrap();
        assert_eq!(out, PEP621.replace("0.3.1+local.7", "0.3.1+abc1234"));
        let out = with_version(POETRY, &v).unwrap();
        assert_eq!(out, POETRY.replace("1.0.0", "0.3.1+abc1234"));
    }

    #[test]
    fn poetry_2_with_a_project_table_sets_both() {
        let text = "[project]\nname = \"a\"\nversion = \"1.0\"\n[tool.poetry]\nversion = \"1.0\"\n";
        let p = parse(text).unwrap();
        assert_eq!(p.layout, Layout::Pep621);
        assert!(p.uses_poetry);
        let out = with_version(text, &Version::parse("2.0").unwrap()).unwrap();
        assert_eq!(out.matches("version = \"2.0\"").count(), 2, "{out}");
    }

    #[test]
    fn missing_or_dynamic_versions_and_bad_toml_say_what_to_do() {
        let err = parse("[project]\nname = \"a\"\ndynamic = [\"version\"]\n").unwrap_err();
        assert!(err.to_string().contains("static `version"), "{err}");
        let err = parse("[project]\nname = \"a\"\n").unwrap_err();
        assert!(err.to_string().contains("has no version"), "{err}");
        let err = parse("[project]\nversion = \"1\"\n").unwrap_err();
        assert!(err.to_string().contains("no package name"), "{err}");
        let err = parse("[project\n").unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        let err = parse("[project]\nname = \"a\"\nversion = \"one\"\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a PEP 440 version"),
            "{err:#}"
        );
    }

    #[test]
    fn names_compare_normalized() {
        assert_eq!(normalize_name("Attack_Simulator"), "attack-simulator");
        assert_eq!(normalize_name("a.-_b"), "a-b");
    }

    #[test]
    fn found_at_or_above_the_start_but_not_above_the_work_tree() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        let deep = top.join("src/pkg");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        let err = PyProject::find(&deep, &top).unwrap_err();
        assert!(err.to_string().contains("--project-dir"), "{err}");
        std::fs::write(top.join(FILE_NAME), "").unwrap();
        assert_eq!(PyProject::find(&deep, &top).unwrap(), top.join(FILE_NAME));
    }
}
