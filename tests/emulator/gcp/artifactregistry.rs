//! Artifact Registry (`artifactregistry.googleapis.com/v1`): repositories,
//! their packages, versions and tags (Docker images and Python packages
//! share that model), and the `dockerImages` view.

use serde_json::{Value, json};

use super::http::{Reply, Req, percent_decode};
use super::state::{Package, State, now_rfc3339};

pub fn handle(s: &mut State, req: &Req) -> Reply {
    let seg = req
        .segments_after("/artifactregistry/v1")
        .unwrap_or_default();
    let ["projects", project, "locations", location, rest @ ..] = seg.as_slice() else {
        return Reply::not_found("Unknown Artifact Registry path.");
    };
    if let Err(denied) = super::check_project(s, project) {
        return denied;
    }
    let parent = format!("projects/{}/locations/{location}", s.project);
    match (req.method.as_str(), rest) {
        ("GET", ["operations", id]) => poll(s, &format!("{parent}/operations/{id}")),
        ("GET", ["repositories"]) => {
            let repos: Vec<&Value> = s
                .repositories
                .iter()
                .filter(|(name, _)| name.starts_with(&format!("{parent}/")))
                .map(|(_, r)| r)
                .collect();
            if repos.is_empty() {
                return Reply::ok(json!({}));
            }
            Reply::ok(json!({"repositories": repos}))
        }
        ("POST", ["repositories"]) => create_repository(s, req, &parent),
        (method, ["repositories", repo, rest @ ..]) => {
            let repo_name = format!("{parent}/repositories/{repo}");
            if !s.repositories.contains_key(&repo_name) {
                return Reply::not_found(&format!("Repository \"{repo_name}\" not found"));
            }
            in_repository(s, method, &repo_name, rest, req)
        }
        _ => Reply::not_found("Unknown Artifact Registry method."),
    }
}

fn create_repository(s: &mut State, req: &Req, parent: &str) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(id) = req.param("repositoryId").filter(|id| !id.is_empty()) else {
        return Reply::invalid("repository_id is required");
    };
    let format = body["format"].as_str().unwrap_or("FORMAT_UNSPECIFIED");
    if ![
        "DOCKER", "PYTHON", "MAVEN", "NPM", "APT", "YUM", "GO", "GENERIC",
    ]
    .contains(&format)
    {
        return Reply::invalid(&format!("Unsupported repository format: {format}"));
    }
    let name = format!("{parent}/repositories/{id}");
    if s.repositories.contains_key(&name) {
        return Reply::already_exists("the repository already exists");
    }
    let now = now_rfc3339();
    let mut repo = body.clone();
    repo["name"] = json!(name);
    repo["createTime"] = json!(now);
    repo["updateTime"] = json!(now);
    repo["mode"] = json!("STANDARD_REPOSITORY");
    repo["sizeBytes"] = json!("0");
    let op = start_op(
        s,
        parent,
        "type.googleapis.com/google.devtools.artifactregistry.v1.Repository",
        repo.clone(),
    );
    s.repositories.insert(name.clone(), repo);
    s.packages.insert(name, Default::default());
    Reply::ok(op)
}

fn in_repository(s: &mut State, method: &str, repo: &str, rest: &[&str], req: &Req) -> Reply {
    let parent = repo
        .split("/repositories/")
        .next()
        .unwrap_or_default()
        .to_string();
    match (method, rest) {
        ("GET", []) => Reply::ok(s.repositories[repo].clone()),
        ("DELETE", []) => {
            s.repositories.remove(repo);
            s.packages.remove(repo);
            Reply::ok(start_op(
                s,
                &parent,
                "type.googleapis.com/google.protobuf.Empty",
                json!({}),
            ))
        }
        ("GET", ["dockerImages"]) => docker_images(s, repo),
        ("GET", ["packages"]) => {
            let pkgs: Vec<Value> = s.packages[repo]
                .keys()
                .map(|p| json!({"name": format!("{repo}/packages/{}", encode(p))}))
                .collect();
            list_or_empty("packages", pkgs)
        }
        (method, ["packages", pkg, rest @ ..]) => {
            let pkg = percent_decode(pkg);
            let Some(package) = s.packages.get_mut(repo).and_then(|p| p.get_mut(&pkg)) else {
                return Reply::not_found(&format!("Package \"{repo}/packages/{pkg}\" not found"));
            };
            let pkg_name = format!("{repo}/packages/{}", encode(&pkg));
            match (method, rest) {
                ("GET", []) => Reply::ok(json!({"name": pkg_name})),
                ("DELETE", []) => {
                    s.packages.get_mut(repo).map(|p| p.remove(&pkg));
                    Reply::ok(start_op(
                        s,
                        &parent,
                        "type.googleapis.com/google.protobuf.Empty",
                        json!({}),
                    ))
                }
                ("GET", ["versions"]) => {
                    let full = req.param("view") == Some("FULL");
                    let versions: Vec<Value> = package
                        .versions
                        .keys()
                        .map(|v| version_json(&pkg_name, package, v, full))
                        .collect();
                    list_or_empty("versions", versions)
                }
                ("GET", ["versions", v]) => match package.versions.contains_key(*v) {
                    true => Reply::ok(version_json(
                        &pkg_name,
                        package,
                        v,
                        req.param("view") == Some("FULL"),
                    )),
                    false => {
                        Reply::not_found(&format!("Version \"{pkg_name}/versions/{v}\" not found"))
                    }
                },
                ("DELETE", ["versions", v]) => {
                    if !package.versions.contains_key(*v) {
                        return Reply::not_found(&format!(
                            "Version \"{pkg_name}/versions/{v}\" not found"
                        ));
                    }
                    if package.tags.values().any(|t| t == v) && req.param("force") != Some("true") {
                        return Reply::failed_precondition(
                            "version is tagged; delete its tags first or use force",
                        );
                    }
                    package.versions.remove(*v);
                    package.tags.retain(|_, t| t != v);
                    if package.versions.is_empty() {
                        s.packages.get_mut(repo).map(|p| p.remove(&pkg));
                    }
                    Reply::ok(start_op(
                        s,
                        &parent,
                        "type.googleapis.com/google.protobuf.Empty",
                        json!({}),
                    ))
                }
                ("GET", ["tags"]) => {
                    // gcloud asks for one version's tags with
                    // `filter=version="projects/.../versions/V"`.
                    let wanted = req
                        .param("filter")
                        .and_then(|f| f.strip_prefix("version="))
                        .map(|v| v.trim_matches('"'))
                        .map(|v| v.rsplit("/versions/").next().unwrap_or(v).to_string());
                    let tags: Vec<Value> = package
                        .tags
                        .iter()
                        .filter(|(_, v)| wanted.as_ref().is_none_or(|w| w == *v))
                        .map(|(t, v)| tag_json(&pkg_name, t, v))
                        .collect();
                    list_or_empty("tags", tags)
                }
                ("GET", ["tags", t]) => match package.tags.get(*t) {
                    Some(v) => Reply::ok(tag_json(&pkg_name, t, v)),
                    None => Reply::not_found(&format!("Tag \"{pkg_name}/tags/{t}\" not found")),
                },
                ("DELETE", ["tags", t]) => match package.tags.remove(*t) {
                    Some(_) => Reply::ok(json!({})),
                    None => Reply::not_found(&format!("Tag \"{pkg_name}/tags/{t}\" not found")),
                },
                _ => Reply::not_found("Unknown Artifact Registry package method."),
            }
        }
        _ => Reply::not_found("Unknown Artifact Registry repository method."),
    }
}

fn version_json(pkg_name: &str, package: &Package, v: &str, full: bool) -> Value {
    let created = &package.versions[v];
    let mut out = json!({
        "name": format!("{pkg_name}/versions/{v}"),
        "createTime": created,
        "updateTime": created,
    });
    if full {
        let tags: Vec<Value> = package
            .tags
            .iter()
            .filter(|(_, tv)| *tv == v)
            .map(|(t, tv)| tag_json(pkg_name, t, tv))
            .collect();
        if !tags.is_empty() {
            out["relatedTags"] = json!(tags);
        }
    }
    out
}

fn tag_json(pkg_name: &str, tag: &str, version: &str) -> Value {
    json!({
        "name": format!("{pkg_name}/tags/{tag}"),
        "version": format!("{pkg_name}/versions/{version}"),
    })
}

fn docker_images(s: &State, repo: &str) -> Reply {
    // projects/P/locations/L/repositories/R -> L-docker.pkg.dev/P/R
    let parts: Vec<&str> = repo.split('/').collect();
    let host = format!("{}-docker.pkg.dev/{}/{}", parts[3], parts[1], parts[5]);
    let mut images = Vec::new();
    for (pkg, package) in &s.packages[repo] {
        for (v, created) in &package.versions {
            let tags: Vec<&String> = package
                .tags
                .iter()
                .filter(|(_, tv)| *tv == v)
                .map(|(t, _)| t)
                .collect();
            images.push(json!({
                "name": format!("{repo}/dockerImages/{}@{v}", encode(pkg)),
                "uri": format!("{host}/{pkg}@{v}"),
                "tags": tags,
                "imageSizeBytes": "1024",
                "uploadTime": created,
                "updateTime": created,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            }));
        }
    }
    list_or_empty("dockerImages", images)
}

fn list_or_empty(key: &str, items: Vec<Value>) -> Reply {
    if items.is_empty() {
        return Reply::ok(json!({}));
    }
    Reply::ok(json!({ key: items }))
}

/// Package ids with `/` travel encoded in resource names.
fn encode(pkg: &str) -> String {
    pkg.replace('/', "%2F")
}

fn start_op(s: &mut State, parent: &str, kind: &str, response: Value) -> Value {
    let name = format!(
        "{parent}/operations/{:08x}-0000-4000-8000-{:012x}",
        s.next_id(),
        s.next_id()
    );
    let mut response = response;
    if let Some(o) = response.as_object_mut() {
        o.insert("@type".into(), json!(kind));
    }
    let running = json!({"name": name, "metadata": {"@type": "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"}});
    s.start_op(&name, running.clone(), Some(response), None);
    running
}

fn poll(s: &mut State, name: &str) -> Reply {
    match s.poll_op(name) {
        None => Reply::not_found(&format!("Operation \"{name}\" not found")),
        Some((false, running, _)) => Reply::ok(running),
        Some((true, mut op, response)) => {
            op["done"] = json!(true);
            op["response"] = response.unwrap_or(json!({}));
            Reply::ok(op)
        }
    }
}
