//! What `kas` reads from the Dockerfile: the final `WORKDIR`, whose parent
//! is the container's home (where the SSH folder and history files go).

use anyhow::{Result, bail};

/// The last `WORKDIR` of the file (that of the final stage), relative ones
/// resolved against the one before; `None` when there is none.
pub fn final_workdir(text: &str) -> Result<Option<String>> {
    let mut workdir: Option<String> = None;
    for instruction in instructions(text) {
        let mut parts = instruction.splitn(2, char::is_whitespace);
        let keyword = parts.next().unwrap_or("").to_ascii_uppercase();
        let value = parts.next().unwrap_or("").trim();
        if keyword == "FROM" {
            workdir = None;
        }
        if keyword != "WORKDIR" {
            continue;
        }
        let value = value.trim_matches('"');
        if value.contains('$') {
            bail!(
                "the Dockerfile's `WORKDIR {value}` uses a variable: set kas.home in kas.yaml to the container's home"
            );
        }
        workdir = Some(if value.starts_with('/') {
            value.to_string()
        } else {
            let base = workdir.as_deref().unwrap_or("/");
            format!("{}/{value}", base.trim_end_matches('/'))
        });
    }
    Ok(workdir)
}

/// The container's home: the parent of `workdir`, `/root` without one.
pub fn home_of(workdir: Option<&str>) -> String {
    let Some(dir) = workdir
        .map(|d| d.trim_end_matches('/'))
        .filter(|d| !d.is_empty())
    else {
        return "/root".to_string();
    };
    match dir.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

/// Instructions with comments dropped and `\` continuations joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_the_parent_of_the_final_stage_workdir() {
        let text = "FROM a AS build\nWORKDIR /src\nFROM b\n# WORKDIR /nope\nworkdir /home/ray\nWORKDIR project\n";
        let wd = final_workdir(text).unwrap();
        assert_eq!(wd.as_deref(), Some("/home/ray/project"));
        assert_eq!(home_of(wd.as_deref()), "/home/ray");
    }

    #[test]
    fn without_workdir_home_is_root() {
        let wd = final_workdir("FROM a\nWORKDIR /x\nFROM b\nRUN \\\n  true\n").unwrap();
        assert_eq!(wd, None);
        assert_eq!(home_of(None), "/root");
        assert_eq!(home_of(Some("/app")), "/");
    }

    #[test]
    fn the_projects_own_dockerfile_gives_root() {
        let text = include_str!("../../../Dockerfile");
        let wd = final_workdir(text).unwrap();
        assert_eq!(home_of(wd.as_deref()), "/root");
    }

    #[test]
    fn a_variable_asks_for_kas_home() {
        let err = final_workdir("FROM a\nWORKDIR $HOME/app\n").unwrap_err();
        assert!(err.to_string().contains("kas.home"));
    }
}
