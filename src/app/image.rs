//! Container image references: which registry host an image names.

/// The registry host (`HOST[:PORT]`) an image reference names, or `None`
/// for Docker Hub's short names (`rayproject/ray`, `busybox`): the first
/// path part is a host only when it has a dot or a port, or is
/// `localhost`, as docker itself decides.
pub fn registry_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    let explicit = first.contains('.') || first.contains(':') || first == "localhost";
    (explicit && !rest.is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts() {
        assert_eq!(
            registry_host("europe-west4-docker.pkg.dev/p/images/kas"),
            Some("europe-west4-docker.pkg.dev")
        );
        assert_eq!(
            registry_host("127.0.0.1:5000/kas:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(registry_host("localhost/kas"), Some("localhost"));
        assert_eq!(registry_host("rayproject/ray:2.9.0"), None);
        assert_eq!(registry_host("busybox"), None);
    }
}
