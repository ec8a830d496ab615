//! Requests that come through the proxy's `CONNECT` tunnel name Google's own
//! host and that API's own path (`iam.googleapis.com` + `/v1/...`), as
//! Google's Python client sends them for Ray's bootstrap. The emulator
//! routes on a path prefix per API (what gcloud's endpoint overrides add):
//! this gives such a request the prefix its host stands for.

/// The path to route on: `path` with the API prefix of `host` in front when
/// the host is one of Google's API hosts and the path lacks that prefix.
pub fn routed_path(host: Option<&str>, path: &str) -> String {
    let Some(host) = host else {
        return path.to_string();
    };
    let host = host.split(':').next().unwrap_or(host);
    let Some(api) = host.strip_suffix(".googleapis.com") else {
        return path.to_string();
    };
    // Compute's own paths start with `/compute/v1`; OAuth's (`/token`,
    // `/revoke`) are routed as they are.
    let prefixed = [
        "artifactregistry",
        "cloudresourcemanager",
        "container",
        "iam",
        "serviceusage",
    ];
    let already = path.strip_prefix('/').and_then(|p| p.strip_prefix(api));
    if prefixed.contains(&api) && !already.is_some_and(|rest| rest.starts_with('/')) {
        return format!("/{api}{path}");
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::routed_path;

    #[test]
    fn google_hosts_get_their_prefix_once() {
        let crm = Some("cloudresourcemanager.googleapis.com");
        assert_eq!(
            routed_path(crm, "/v1/projects/p:getIamPolicy"),
            "/cloudresourcemanager/v1/projects/p:getIamPolicy"
        );
        assert_eq!(
            routed_path(
                Some("iam.googleapis.com:443"),
                "/v1/projects/p/serviceAccounts"
            ),
            "/iam/v1/projects/p/serviceAccounts"
        );
        assert_eq!(
            routed_path(Some("iam.googleapis.com"), "/iam/v1/projects/p"),
            "/iam/v1/projects/p"
        );
        assert_eq!(
            routed_path(Some("compute.googleapis.com"), "/compute/v1/projects/p"),
            "/compute/v1/projects/p"
        );
        assert_eq!(
            routed_path(Some("oauth2.googleapis.com"), "/revoke"),
            "/revoke"
        );
        assert_eq!(
            routed_path(Some("127.0.0.1:4711"), "/v1/projects/p"),
            "/v1/projects/p"
        );
        assert_eq!(routed_path(None, "/iam/v1/x"), "/iam/v1/x");
    }
}
