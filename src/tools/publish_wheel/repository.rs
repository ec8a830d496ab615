//! Where wheels go: an Artifact Registry python repository (asked through
//! gcloud) or any other package index (asked through its simple API with
//! curl), the versions already there, and the credentials to upload with.

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::pyproject::normalize_name;
use super::version::Version;
use crate::app::cli::Ctx;
use crate::clis::gcloud;
use crate::exec::cmd::Cmd;

/// Artifact Registry's user name for an OAuth access token.
pub const ACCESS_TOKEN_USER: &str = "oauth2accesstoken";

/// The user name that goes with an index's API token.
pub const TOKEN_USER: &str = "__token__";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repository {
    ArtifactRegistry {
        url: String,
        location: String,
        project: String,
        repository: String,
    },
    Index {
        url: String,
    },
}

/// A user name and a password (or token) for the uploader.
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Where they came from, for a message when they are refused.
    pub source: &'static str,
}

impl Credentials {
    /// What an index that wants no credentials takes: the uploaders
    /// refuse to send none at all.
    pub fn anonymous() -> Credentials {
        Credentials {
            username: "anonymous".to_string(),
            password: String::new(),
            source: "none (anonymous)",
        }
    }
}

/// What to set for an index that wants credentials.
pub const SET_CREDENTIALS: &str = "set UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD (or \
     TWINE_USERNAME and TWINE_PASSWORD, or UV_PUBLISH_TOKEN for an API token)";

/// What to say when the index refused `credentials`: check the ones that
/// are set, or set some.
pub fn refused_hint(credentials: Option<&Credentials>) -> String {
    match credentials {
        Some(c) if c.source.starts_with("none") => {
            format!("the index wants credentials: {SET_CREDENTIALS}")
        }
        Some(c) => format!(
            "the index refused the credentials from {} (user {}): check them",
            c.source, c.username
        ),
        None => format!("the index wants credentials: {SET_CREDENTIALS}"),
    }
}

impl Repository {
    /// `template` with its `LOCATION` and `PROJECT` placeholders filled
    /// from gcloud's configuration (only those it holds are asked for).
    pub fn resolve(template: &str, ctx: &Ctx) -> Result<Repository> {
        let mut url = template.trim().to_string();
        if url.contains("LOCATION") {
            url = url.replace("LOCATION", &ctx.artifacts_location()?);
        }
        if url.contains("PROJECT") {
            url = url.replace("PROJECT", &ctx.project()?);
        }
        Repository::parse(&url)
    }

    pub fn parse(url: &str) -> Result<Repository> {
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!(
                "the wheel repository `{url}` is not a URL: set wheel.repository in kas.yaml \
                 (or pass --repository) to https://LOCATION-python.pkg.dev/PROJECT/REPOSITORY/ \
                 or another index's upload URL"
            );
        };
        if scheme != "https" && scheme != "http" {
            bail!("the wheel repository `{url}` must be an http(s) URL");
        }
        let url = format!("{}/", url.trim_end_matches('/'));
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(location) = host.strip_suffix("-python.pkg.dev") {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let [project, repository] = parts[..] else {
                bail!(
                    "`{url}` is not an Artifact Registry python repository URL: \
                     expected https://LOCATION-python.pkg.dev/PROJECT/REPOSITORY/"
                );
            };
            return Ok(Repository::ArtifactRegistry {
                location: location.to_string(),
                project: project.to_string(),
                repository: repository.to_string(),
                url,
            });
        }
        Ok(Repository::Index { url })
    }

    /// Where the uploader sends the wheel.
    pub fn url(&self) -> &str {
        match self {
            Repository::ArtifactRegistry { url, .. } | Repository::Index { url } => url,
        }
    }

    pub fn is_artifact_registry(&self) -> bool {
        matches!(self, Repository::ArtifactRegistry { .. })
    }

    /// The credentials to upload with. Artifact Registry: an access token
    /// from gcloud. Another index: the uploaders' usual variables, if set
    /// (otherwise the uploader finds its own: keyring, .pypirc, netrc).
    pub fn credentials(&self, ctx: &Ctx) -> Result<Option<Credentials>> {
        if self.is_artifact_registry() {
            let out = ctx.run.check(&gcloud::print_access_token())?;
            let token = out.stdout.trim().to_string();
            // A plan uploads nothing: no token is needed yet.
            if token.is_empty() {
                ctx.run.for_real(|| {
                    bail!(
                        "`gcloud auth print-access-token` printed no token: run `gcloud auth login`"
                    )
                })?;
            }
            return Ok(Some(Credentials {
                username: ACCESS_TOKEN_USER.to_string(),
                password: token,
                source: "gcloud's access token",
            }));
        }
        Ok(credentials_from_env(ctx))
    }

    /// Every version of `package` the repository holds.
    pub fn published_versions(
        &self,
        ctx: &Ctx,
        package: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<Version>> {
        match self {
            Repository::ArtifactRegistry {
                location,
                project,
                repository,
                ..
            } => artifact_registry_versions(ctx, location, project, repository, package),
            Repository::Index { url } => index_versions(ctx, url, package, credentials),
        }
    }
}

fn credentials_from_env(ctx: &Ctx) -> Option<Credentials> {
    let pair = |user: &str, password: &str, source: &'static str| {
        Some(Credentials {
            username: ctx.env.non_empty(user)?.to_string(),
            password: ctx.env.non_empty(password)?.to_string(),
            source,
        })
    };
    pair(
        "UV_PUBLISH_USERNAME",
        "UV_PUBLISH_PASSWORD",
        "UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD",
    )
    .or_else(|| {
        pair(
            "TWINE_USERNAME",
            "TWINE_PASSWORD",
            "TWINE_USERNAME and TWINE_PASSWORD",
        )
    })
    .or_else(|| {
        // An API token, as PyPI-like indexes take it.
        Some(Credentials {
            username: TOKEN_USER.to_string(),
            password: ctx.env.non_empty("UV_PUBLISH_TOKEN")?.to_string(),
            source: "UV_PUBLISH_TOKEN",
        })
    })
}

#[derive(Deserialize)]
struct ArVersion {
    /// `projects/P/locations/L/repositories/R/packages/PKG/versions/V`.
    name: String,
}

fn artifact_registry_versions(
    ctx: &Ctx,
    location: &str,
    project: &str,
    repository: &str,
    package: &str,
) -> Result<Vec<Version>> {
    let cmd = gcloud::query([
        "artifacts".to_string(),
        "versions".to_string(),
        "list".to_string(),
        format!("--package={}", normalize_name(package)),
        format!("--repository={repository}"),
        format!("--location={location}"),
        format!("--project={project}"),
    ]);
    // No such package yet: nothing is published.
    let listed: Vec<ArVersion> = ctx
        .run
        .json_if(&cmd, crate::clis::gcloud::is_not_found)?
        .unwrap_or_default();
    Ok(listed
        .iter()
        .filter_map(|v| {
            let id = v.name.rsplit('/').next()?;
            Version::parse(&percent_decode(id)).ok()
        })
        .collect())
}

fn index_versions(
    ctx: &Ctx,
    url: &str,
    package: &str,
    credentials: Option<&Credentials>,
) -> Result<Vec<Version>> {
    let name = normalize_name(package);
    let page = format!("{url}simple/{name}/");
    // Credentials go to curl in a netrc file of its own, never on its
    // command line.
    let netrc_dir = tempfile::tempdir().context("could not make a temporary folder")?;
    let mut cmd = Cmd::query("curl").args([
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--header",
        "Accept: application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        "--write-out",
        r"\n%{http_code}",
    ]);
    if let Some(c) = credentials {
        let netrc = netrc_dir.path().join("netrc");
        write_netrc(&netrc, &host_of(url), c)?;
        cmd = cmd.arg("--netrc-file").arg(netrc.to_string_lossy());
    }
    let out = ctx.run.check(&cmd.arg(&page))?;
    let (body, code) = out.stdout.rsplit_once('\n').unwrap_or(("", &out.stdout));
    match code.trim() {
        "200" => Ok(files_in_simple_page(body)
            .iter()
            .filter_map(|f| version_of_file(f, &name))
            .collect()),
        // Never published. (pypiserver redirects names it does not hold to
        // its fallback index: not here either.)
        "404" | "301" | "302" | "303" | "307" | "308" => Ok(Vec::new()),
        "401" | "403" => bail!(
            "the index at {url} refused to list {name} (HTTP {}): {}",
            code.trim(),
            refused_hint(credentials)
        ),
        other => bail!("the index answered HTTP {other} for {page}"),
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
        _ => host.to_string(),
    }
}

fn write_netrc(path: &std::path::Path, host: &str, c: &Credentials) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    writeln!(
        file,
        "machine {host} login {} password {}",
        c.username, c.password
    )?;
    Ok(())
}

/// The file names a simple-API page lists, in its JSON form (PEP 691) or
/// its HTML form (PEP 503: the text of each link).
fn files_in_simple_page(body: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Page {
        files: Vec<File>,
    }
    #[derive(Deserialize)]
    struct File {
        filename: String,
    }
    if let Ok(page) = serde_json::from_str::<Page>(body) {
        return page.files.into_iter().map(|f| f.filename).collect();
    }
    let mut files = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<a") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let after = &rest[open_end + 1..];
        let Some(close) = after.find("</a>") else {
            break;
        };
        files.push(after[..close].trim().to_string());
        rest = &after[close..];
    }
    files
}

/// The version in a distribution's file name, when it is `package`'s.
fn version_of_file(file: &str, package: &str) -> Option<Version> {
    let (name, version) = if let Some(stem) = file.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        (parts.next()?, parts.next()?)
    } else {
        let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
            .iter()
            .find_map(|ext| file.strip_suffix(ext))?;
        stem.rsplit_once('-')?
    };
    if normalize_name(name) != package {
        return None;
    }
    Version::parse(version).ok()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_registry_urls_are_recognized() {
        let r = Repository::parse("https://europe-west4-python.pkg.dev/sentience-reinforce/wheels")
            .unwrap();
        assert_eq!(
            r,
            Repository::ArtifactRegistry {
                url: "https://europe-west4-python.pkg.dev/sentience-reinforce/wheels/".into(),
                location: "europe-west4".into(),
                project: "sentience-reinforce".into(),
                repository: "wheels".into(),
            }
        );
        let other = Repository::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            other,
            Repository::Index {
                url: "http://127.0.0.1:8080/".into()
            }
        );
        assert!(Repository::parse("https://eu-python.pkg.dev/p/").is_err());
        let err = Repository::parse("wheels").unwrap_err();
        assert!(err.to_string().contains("wheel.repository"), "{err}");
        assert!(Repository::parse("ftp://x/").is_err());
    }

    #[test]
    fn simple_pages_in_both_forms() {
        let html = r#"<html><body><h1>Links</h1>
            <a href="/packages/attack_simulator-0.3.1+abc-py3-none-any.whl#sha256=1">attack_simulator-0.3.1+abc-py3-none-any.whl</a><br>
            <a href="x">attack-simulator-0.3.0.tar.gz</a>
            <a href="y">other_pkg-9.9-py3-none-any.whl</a>
            </body></html>"#;
        let versions: Vec<String> = files_in_simple_page(html)
            .iter()
            .filter_map(|f| version_of_file(f, "attack-simulator"))
            .map(|v| v.to_string())
            .collect();
        assert_eq!(versions, ["0.3.1+abc", "0.3.0"]);
        let json = r#"{"meta": {"api-version": "1.0"}, "name": "a", "files": [{"filename": "A-1.0-py3-none-any.whl", "url": "u", "hashes": {}}]}"#;
        assert_eq!(files_in_simple_page(json), ["A-1.0-py3-none-any.whl"]);
        assert_eq!(
            version_of_file("A-1.0-py3-none-any.whl", "a")
                .unwrap()
                .to_string(),
            "1.0"
        );
    }

    #[test]
    fn netrc_names_the_host_without_port() {
        assert_eq!(host_of("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(
            host_of("https://u@eu-python.pkg.dev/p/r/"),
            "eu-python.pkg.dev"
        );
    }

    #[test]
    fn version_ids_are_percent_decoded() {
        assert_eq!(percent_decode("1.0%2Babc"), "1.0+abc");
        assert_eq!(percent_decode("1.0%"), "1.0%");
    }
}
