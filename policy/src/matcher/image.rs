//! Image patterns (SPEC 2.3): a full reference, normalized like an image.
//!
//! Without tag and digest an entry matches every tag and digest of exactly
//! that repository; with a tag (globs allowed) the images that carry that tag
//! (`busybox:1.36` matches `busybox:1.36@sha256:...`, and `nginx:latest`
//! matches `nginx`, which runs as latest); with a digest only that digest.

use crate::matcher::glob::{Glob, has_wildcard};
use crate::matcher::registry::{RegistryNames, RegistryPattern};
use crate::reference::{DEFAULT_TAG, DOCKER_HUB, Reference, ReferenceError, grammar};

/// What part of an image an entry selects, from least to most specific.
#[derive(Debug, Clone)]
pub enum Selector {
    /// Every tag and digest of the repository.
    AnyTag,
    /// Tags matching a glob (`1.*`).
    TagGlob(Glob),
    /// One tag.
    Tag(String),
    /// One digest (`sha256:...`); a tag written next to it is ignored, as the
    /// runtime ignores it.
    Digest(String),
}

/// A compiled image pattern.
#[derive(Debug, Clone)]
pub struct ImagePattern {
    registry: RegistryPattern,
    path: String,
    selector: Selector,
}

impl ImagePattern {
    /// Parses `name[:tag][@digest]`; the tag may use `*` and `?`.
    pub fn parse(text: &str) -> Result<ImagePattern, String> {
        if text.ends_with('/') {
            // `ghcr.io/acme/`: a prefix, as Gatekeeper's `repos` write it.
            return Err(format!(
                "an image pattern names one repository, not a prefix: write it without the trailing \"/\" (\"{}\"); to cover every repository below it, use repositories",
                text.trim_end_matches('/')
            ));
        }
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((n, d)) => {
                grammar::parse_digest(d).map_err(|e| e.to_string())?;
                (n, Some(d))
            }
            None => (text, None),
        };
        // The tag starts at the first ':' after the last '/', as in images:
        // `nginx:1:2` is tag `1:2` (refused), not name `nginx:1`, tag `2`.
        let (name, tag) = grammar::split_tag(name_and_tag);
        if let Some(tag) = tag {
            check_tag_glob(tag)?;
        }
        let reference = match Reference::parse(name) {
            // 64 hex characters alone are an image ID, but with a tag or a
            // digest they are a Docker Hub repository, as in images
            // (`<hex>:1` parses): read the name with its registry written.
            Err(ReferenceError::HexIdentifier { .. }) if tag.is_some() || digest.is_some() => {
                Reference::parse(&format!("{DOCKER_HUB}/{name}"))
            }
            parsed => parsed,
        }
        .map_err(|e| e.to_string())?;
        let registry = RegistryPattern::parse(reference.domain(), false)?;
        let selector = match (digest, tag) {
            (Some(d), _) => Selector::Digest(d.to_owned()),
            (None, Some(t)) if has_wildcard(t) => Selector::TagGlob(Glob::new(t, false)),
            (None, Some(t)) => Selector::Tag(t.to_owned()),
            (None, None) => Selector::AnyTag,
        };
        Ok(ImagePattern {
            registry,
            path: reference.path().to_owned(),
            selector,
        })
    }

    /// What the entry selects (for specificity).
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The registry part.
    pub fn registry(&self) -> &RegistryPattern {
        &self.registry
    }

    /// The normalized repository path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The normalized text, for finding an entry in both allow and reject.
    pub fn canonical(&self) -> String {
        let mut canonical = format!("{}/{}", self.registry.canonical(), self.path);
        match &self.selector {
            Selector::AnyTag => {}
            Selector::TagGlob(g) => {
                canonical.push(':');
                canonical.push_str(g.as_str());
            }
            Selector::Tag(t) => {
                canonical.push(':');
                canonical.push_str(t);
            }
            Selector::Digest(d) => {
                canonical.push('@');
                canonical.push_str(d);
            }
        }
        canonical
    }

    /// Whether `image`, on a registry known by `names`, matches.
    pub fn matches(&self, names: &RegistryNames<'_>, image: &Reference) -> bool {
        if image.path() != self.path {
            return false;
        }
        let selected = match &self.selector {
            Selector::AnyTag => true,
            Selector::TagGlob(g) => image_tag(image).is_some_and(|t| g.matches(t)),
            Selector::Tag(t) => image_tag(image) == Some(t.as_str()),
            Selector::Digest(d) => image.digest() == Some(d.as_str()),
        };
        selected && self.registry.matches(names)
    }
}

/// The tag an image carries for tag entries: the written tag, or `latest`
/// for an image with neither tag nor digest. A digest-only image has none.
fn image_tag(image: &Reference) -> Option<&str> {
    image.tag().or(if image.is_pinned() {
        None
    } else {
        Some(DEFAULT_TAG)
    })
}

fn check_tag_glob(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("the tag after \":\" is empty".into());
    }
    if has_wildcard(tag) {
        if tag.len() > 128 {
            return Err("a tag is at most 128 characters".into());
        }
        if let Some(bad) = tag
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '?')))
        {
            return Err(format!("tag \"{tag}\" contains {bad:?}"));
        }
        return Ok(());
    }
    if !grammar::is_tag(tag) {
        return Err(format!(
            "tag \"{tag}\" is not valid: up to 128 of letters, digits, '_', '.', '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::registry::Aliases;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn matches(pattern: &str, image: &str) -> bool {
        let p = match ImagePattern::parse(pattern) {
            Ok(p) => p,
            Err(e) => panic!("{pattern}: {e}"),
        };
        let r = match Reference::parse(image) {
            Ok(r) => r,
            Err(e) => panic!("{image}: {e}"),
        };
        p.matches(&Aliases::default().names(r.domain()), &r)
    }

    #[test]
    fn bare_entry_matches_every_tag_and_digest_of_that_repository_only() {
        assert!(matches("nginx", "nginx:1.27"));
        assert!(matches("nginx", &format!("nginx@{DIGEST}")));
        assert!(matches("nginx", "registry-1.docker.io/library/nginx"));
        assert!(!matches("nginx", "evil.io/library/nginx"));
        assert!(!matches("nginx", "nginx/sub"));
        assert!(!matches("ghcr.io/org/app", "ghcr.io/org/app/sub:1"));
    }

    #[test]
    fn tag_entry_matches_that_tag_with_or_without_digest() {
        assert!(matches("busybox:1.36", "busybox:1.36"));
        assert!(matches("busybox:1.36", &format!("busybox:1.36@{DIGEST}")));
        assert!(!matches("busybox:1.36", "busybox:1.37"));
        assert!(!matches("busybox:1.36", &format!("busybox@{DIGEST}")));
    }

    #[test]
    fn latest_entry_matches_an_image_without_tag_but_not_digest_only() {
        assert!(matches("nginx:latest", "nginx"));
        assert!(!matches("nginx:latest", &format!("nginx@{DIGEST}")));
    }

    #[test]
    fn tag_globs_are_case_sensitive() {
        assert!(matches("app:1.*", "app:1.2"));
        assert!(!matches("app:1.*", "app:2.0"));
        assert!(!matches("app:*-SNAPSHOT", "app:1-snapshot"));
    }

    #[test]
    fn digest_entry_matches_only_that_digest() {
        assert!(matches(
            &format!("nginx@{DIGEST}"),
            &format!("nginx:1.27@{DIGEST}")
        ));
        assert!(!matches(&format!("nginx@{DIGEST}"), "nginx:1.27"));
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        assert!(matches("localhost:5000/app", "localhost:5000/app:1"));
        assert!(!matches("localhost:5000/app", "localhost/app:1"));
    }

    #[test]
    fn sixty_four_hex_with_a_tag_is_a_repository_as_in_images() {
        // Found by fuzz/reference: the image parsed, its entry did not.
        let hex = "0123456789abcdef".repeat(4);
        assert!(matches(&format!("{hex}:x"), &format!("{hex}:x")));
        assert!(matches(
            &format!("{hex}@{DIGEST}"),
            &format!("docker.io/library/{hex}@{DIGEST}")
        ));
        assert!(ImagePattern::parse(&hex).is_err());
    }

    #[test]
    fn malformed_patterns_say_why() {
        for text in [
            "",
            "nginx:1:2",
            "nginx:",
            "Nginx",
            "nginx@sha256:abc",
            "nginx:bad tag",
            "nginx:-x",
        ] {
            assert!(
                ImagePattern::parse(text).is_err(),
                "{text:?} should be refused"
            );
        }
    }
}
