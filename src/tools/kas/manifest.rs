//! The multi-arch manifest list `push` maintains: what
//! `docker manifest inspect --verbose` prints, and which entries of the
//! existing list survive a push from this machine.

use serde::Deserialize;

/// An image's platform, as manifest lists and image configs spell it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Same platform, reading a missing variant as an empty one.
    pub fn same(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.variant.as_deref().unwrap_or("") == other.variant.as_deref().unwrap_or("")
    }

    pub fn describe(&self) -> String {
        match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// `docker manifest inspect --verbose`: a list prints an array, a single
/// image one object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Inspected {
    List(Vec<ImageManifest>),
    One(Box<ImageManifest>),
}

#[derive(Debug, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "Descriptor")]
    pub descriptor: Descriptor,
}

#[derive(Debug, Deserialize)]
pub struct Descriptor {
    pub digest: String,
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// An entry to keep in the new list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub digest: String,
    pub platform: Platform,
}

/// The entries of the existing list for platforms other than `ours`.
/// Entries without a real platform (build attestations, `unknown/unknown`)
/// describe images that the new list no longer holds, so they go.
pub fn carried_over(existing: Option<Inspected>, ours: &Platform) -> Vec<Entry> {
    let manifests = match existing {
        None => Vec::new(),
        Some(Inspected::List(list)) => list,
        Some(Inspected::One(one)) => vec![*one],
    };
    let mut kept: Vec<Entry> = Vec::new();
    for m in manifests {
        let Some(platform) = m.descriptor.platform else {
            continue;
        };
        if platform.os == "unknown" || platform.same(ours) {
            continue;
        }
        if kept.iter().any(|e| e.platform.same(&platform)) {
            continue;
        }
        kept.push(Entry {
            digest: m.descriptor.digest,
            platform,
        });
    }
    kept
}

/// The image's own platform, from `docker image inspect`.
#[derive(Debug, Deserialize)]
pub struct LocalImage {
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Variant", default)]
    pub variant: Option<String>,
}

impl LocalImage {
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[
      {"Ref": "r/kas@sha256:aaa", "Descriptor": {"mediaType": "m", "digest": "sha256:aaa", "size": 1,
        "platform": {"architecture": "amd64", "os": "linux"}}, "SchemaV2Manifest": {}},
      {"Ref": "r/kas@sha256:bbb", "Descriptor": {"mediaType": "m", "digest": "sha256:bbb", "size": 1,
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}},
      {"Ref": "r/kas@sha256:ccc", "Descriptor": {"mediaType": "m", "digest": "sha256:ccc", "size": 1,
        "platform": {"architecture": "unknown", "os": "unknown"}}}
    ]"#;

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    #[test]
    fn other_platforms_stay_ours_is_replaced() {
        let existing: Inspected = serde_json::from_str(LIST).unwrap();
        let kept = carried_over(Some(existing), &amd64());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].digest, "sha256:bbb");
        assert_eq!(kept[0].platform.describe(), "linux/arm64/v8");
    }

    #[test]
    fn a_single_image_or_nothing() {
        let one: Inspected = serde_json::from_str(
            r#"{"Ref": "r/kas", "Descriptor": {"digest": "sha256:ddd",
                "platform": {"architecture": "arm64", "os": "linux"}}}"#,
        )
        .unwrap();
        assert_eq!(carried_over(Some(one), &amd64())[0].digest, "sha256:ddd");
        assert!(carried_over(None, &amd64()).is_empty());
    }

    #[test]
    fn missing_variant_is_empty() {
        let mut with = amd64();
        with.variant = Some(String::new());
        assert!(with.same(&amd64()));
    }
}
