//! PEP 440 version arithmetic, as much as publishing needs: read a version
//! in any of its permitted spellings, drop or set its local part, print it
//! normalized, and tell whether two versions are the same release (so
//! `1.0` and `1.0.0` count as one, as an index does).

use std::fmt;

use anyhow::{Result, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pre {
    Alpha,
    Beta,
    Rc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(Pre, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    /// Normalized: lower case, segments joined by `.`.
    local: Option<String>,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version> {
        match parse(&text.trim().to_ascii_lowercase()) {
            Some(v) => Ok(v),
            None => bail!(
                "`{text}` is not a PEP 440 version (expected something like 1.2.3, 1.2.3rc1 or 1.2.3.post1)"
            ),
        }
    }

    /// The version without its local part (`1.2.3+abc` becomes `1.2.3`).
    pub fn public(&self) -> Version {
        Version {
            local: None,
            ..self.clone()
        }
    }

    /// This version's public part with `label` as its local part.
    pub fn with_local(&self, label: &str) -> Result<Version> {
        match local_label(&label.to_ascii_lowercase()) {
            Some(local) => Ok(Version {
                local: Some(local),
                ..self.clone()
            }),
            None => bail!("`{label}` is not a valid local version label"),
        }
    }

    pub fn local(&self) -> Option<&str> {
        self.local.as_deref()
    }

    /// Whether an index would take both for the same version: trailing
    /// zeros of the release and leading zeros of numeric local segments do
    /// not count.
    pub fn same_as(&self, other: &Version) -> bool {
        self.key() == other.key()
    }

    fn key(&self) -> Version {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let local = self.local.as_ref().map(|l| {
            l.split('.')
                .map(|s| match s.parse::<u64>() {
                    Ok(n) => n.to_string(),
                    Err(_) => s.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        });
        Version {
            release,
            local,
            ..self.clone()
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        write!(f, "{}", release.join("."))?;
        if let Some((kind, n)) = self.pre {
            let kind = match kind {
                Pre::Alpha => "a",
                Pre::Beta => "b",
                Pre::Rc => "rc",
            };
            write!(f, "{kind}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if let Some(local) = &self.local {
            write!(f, "+{local}")?;
        }
        Ok(())
    }
}

/// A cursor over the lower-cased text.
struct Scan<'a> {
    rest: &'a str,
}

impl Scan<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn number(&mut self) -> Option<u64> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let n = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(n)
    }

    fn separator(&mut self) {
        let _ = self.eat(".") || self.eat("-") || self.eat("_");
    }

    /// `[sep]WORD[sep][N]` for the first word that matches; N defaults to 0.
    fn tagged(&mut self, words: &[&str]) -> Option<(usize, u64)> {
        let saved = self.rest;
        self.separator();
        for (i, word) in words.iter().enumerate() {
            if self.eat(word) {
                let before_number = self.rest;
                self.separator();
                let n = match self.number() {
                    Some(n) => n,
                    None => {
                        self.rest = before_number;
                        0
                    }
                };
                return Some((i, n));
            }
        }
        self.rest = saved;
        None
    }
}

fn parse(text: &str) -> Option<Version> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let (public, local) = match text.split_once('+') {
        Some((p, l)) => (p, Some(local_label(l)?)),
        None => (text, None),
    };
    let mut s = Scan { rest: public };
    let mut epoch = 0;
    if let Some((e, _)) = public.split_once('!') {
        epoch = e.parse().ok()?;
        s.rest = &public[e.len() + 1..];
    }
    let mut release = vec![s.number()?];
    loop {
        let saved = s.rest;
        if s.eat(".")
            && let Some(n) = s.number()
        {
            release.push(n);
            continue;
        }
        s.rest = saved;
        break;
    }
    // Longest spellings first, so `preview` is not read as `pre` + `view`.
    const PRE: &[&str] = &["alpha", "beta", "preview", "pre", "rc", "c", "a", "b"];
    let pre = s.tagged(PRE).map(|(i, n)| {
        let kind = match PRE[i] {
            "alpha" | "a" => Pre::Alpha,
            "beta" | "b" => Pre::Beta,
            _ => Pre::Rc,
        };
        (kind, n)
    });
    let post = match s.tagged(&["post", "rev", "r"]) {
        Some((_, n)) => Some(n),
        None => {
            // The implicit post release: `1.0-1`.
            let saved = s.rest;
            if s.eat("-")
                && let Some(n) = s.number()
            {
                Some(n)
            } else {
                s.rest = saved;
                None
            }
        }
    };
    let dev = s.tagged(&["dev"]).map(|(_, n)| n);
    if !s.rest.is_empty() {
        return None;
    }
    Some(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// A local label normalized: alphanumeric segments joined by `.`.
fn local_label(text: &str) -> Option<String> {
    let segments: Vec<&str> = text.split(['.', '-', '_']).collect();
    let valid = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if segments.iter().all(valid) {
        Some(segments.join("."))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn plain_versions_print_as_written() {
        for text in ["1", "1.2.3", "0.10.0", "1.2.3+abc1234", "2!1.0"] {
            assert_eq!(v(text).to_string(), text);
        }
    }

    #[test]
    fn spellings_are_normalized() {
        assert_eq!(v("V1.0-Alpha.1").to_string(), "1.0a1");
        assert_eq!(v("1.0.beta").to_string(), "1.0b0");
        assert_eq!(v("1.0c2").to_string(), "1.0rc2");
        assert_eq!(v("1.0-preview-3").to_string(), "1.0rc3");
        assert_eq!(v("1.0-1").to_string(), "1.0.post1");
        assert_eq!(v("1.0_rev2").to_string(), "1.0.post2");
        assert_eq!(v("1.0-dev").to_string(), "1.0.dev0");
        assert_eq!(v("1.0rc1.post2.dev3").to_string(), "1.0rc1.post2.dev3");
        assert_eq!(v("1.0+Ubuntu-1_a").to_string(), "1.0+ubuntu.1.a");
        assert_eq!(v(" 01.002 ").to_string(), "1.2");
    }

    #[test]
    fn not_versions_are_refused_with_a_hint() {
        for text in [
            "", "abc", "1.", "1..2", "1.0+", "1.0+a..b", "1.0 beta", "1.0-", "1.0foo",
        ] {
            let err = Version::parse(text).unwrap_err().to_string();
            assert!(err.contains("not a PEP 440 version"), "{text}: {err}");
        }
    }

    #[test]
    fn the_local_part_is_dropped_and_replaced() {
        let base = v("1.4.0rc1+old.build").public();
        assert_eq!(base.to_string(), "1.4.0rc1");
        assert_eq!(base.local(), None);
        let next = v("1.4.0rc1+old.build").with_local("3F2a9c1").unwrap();
        assert_eq!(next.to_string(), "1.4.0rc1+3f2a9c1");
        assert!(v("1.0").with_local("a+b").is_err());
        assert!(v("1.0").with_local("").is_err());
    }

    #[test]
    fn equality_is_the_index_s() {
        assert!(v("1.0").same_as(&v("1.0.0")));
        assert!(v("1.0+abc.01").same_as(&v("1.0.0+ABC.1")));
        assert!(!v("1.0").same_as(&v("1.0+abc")));
        assert!(!v("1.0").same_as(&v("1.0.post0")));
        assert!(!v("1.0a1").same_as(&v("1.0b1")));
        assert!(!v("1!1.0").same_as(&v("1.0")));
    }
}
