//! Repository patterns (SPEC 2.2): a repository and everything below it, at
//! a `/` boundary.
//!
//! `ghcr.io/org` matches `ghcr.io/org` and `ghcr.io/org/team/app`, never
//! `ghcr.io/org-evil/app`: the pattern is compared component by component,
//! and `*` matches only within one component.

use crate::matcher::glob::{self, has_wildcard};
use crate::matcher::registry::{RegistryNames, RegistryPattern};
use crate::reference::{DOCKER_HUB, OFFICIAL_PREFIX, grammar};

/// A compiled repository pattern.
#[derive(Debug, Clone)]
pub struct RepositoryPattern {
    registry: RegistryPattern,
    /// The normalized path; its `/`-separated components are globs.
    path: String,
    depth: usize,
    literal_path: bool,
}

impl RepositoryPattern {
    /// Parses `[registry/]path`. Without a registry the path is normalized
    /// like an image (`nginx` is `docker.io/library/nginx`); with one it is
    /// taken as written (`docker.io/bitnami` is the bitnami namespace).
    pub fn parse(text: &str) -> Result<RepositoryPattern, String> {
        if text.is_empty() {
            return Err("a repository pattern must not be empty".into());
        }
        if text.contains("://") {
            return Err("write the repository without a scheme".into());
        }
        if text.ends_with('/') {
            // `ghcr.io/acme/`: a prefix, as Gatekeeper's `repos` write it.
            let trimmed = text.trim_end_matches('/');
            return Err(if trimmed.contains('/') || !looks_like_registry(trimmed) {
                format!(
                    "write the repository without the trailing \"/\", \"{trimmed}\": a repository entry already covers every repository below it, at \"/\" boundaries"
                )
            } else {
                format!(
                    "\"{trimmed}\" is a registry: write it in registries, without the trailing \"/\""
                )
            });
        }
        let (domain, path) = grammar::split_domain(text);
        if path.contains('@') || path.contains(':') {
            return Err(
                "a repository pattern has no tag or digest; use images for a tag or a digest"
                    .into(),
            );
        }
        if domain.is_none() && !text.contains('/') && looks_like_registry(text) {
            return Err(format!(
                "without a \"/\" this is the Docker Hub repository docker.io/library/{text}; to trust the registry use registries, or write the registry and a path, e.g. \"{text}/team\""
            ));
        }
        let registry_text = domain.unwrap_or(DOCKER_HUB);
        let registry = RegistryPattern::parse(registry_text, false)?;
        let mut full_path = String::new();
        if domain.is_none() && !path.contains('/') {
            full_path.push_str(OFFICIAL_PREFIX);
        }
        full_path.push_str(path);
        let mut depth = 0;
        for component in full_path.split('/') {
            check_component(component, &full_path)?;
            depth += 1;
        }
        Ok(RepositoryPattern {
            registry,
            literal_path: !has_wildcard(&full_path),
            path: full_path,
            depth,
        })
    }

    /// Number of path components (longer is more specific).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// True when neither the registry nor the path has wildcards.
    pub fn is_exact(&self) -> bool {
        self.registry.is_exact() && self.literal_path
    }

    /// The registry part.
    pub fn registry(&self) -> &RegistryPattern {
        &self.registry
    }

    /// The normalized path (its components may hold wildcards).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The normalized text, for finding an entry in both allow and reject.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.registry.canonical(), self.path)
    }

    /// Whether the repository `path` on a registry known by `names` is this
    /// repository or below it.
    pub fn matches(&self, names: &RegistryNames<'_>, path: &str) -> bool {
        let below = if self.literal_path {
            // The same path, or one that continues after a `/`.
            path.strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        } else {
            let mut parts = path.split('/');
            self.path.split('/').all(|pattern| {
                parts
                    .next()
                    .is_some_and(|part| glob::matches(pattern, part))
            })
        };
        below && self.registry.matches(names)
    }
}

fn looks_like_registry(text: &str) -> bool {
    text.contains('.') || text.contains(':') || text == "localhost"
}

fn check_component(component: &str, path: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err(format!(
            "path \"{path}\" has an empty component (a doubled or trailing \"/\")"
        ));
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("path \"{path}\" must be lowercase"));
    }
    if has_wildcard(component) {
        if let Some(bad) = component
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*' | '?')))
        {
            return Err(format!("path component \"{component}\" contains {bad:?}"));
        }
        return Ok(());
    }
    if !grammar::is_path_component(component) {
        return Err(format!(
            "path component \"{component}\" is not valid: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::registry::Aliases;
    use crate::reference::Reference;

    fn matches(pattern: &str, image: &str) -> bool {
        let p = match RepositoryPattern::parse(pattern) {
            Ok(p) => p,
            Err(e) => panic!("{pattern}: {e}"),
        };
        let r = match Reference::parse(image) {
            Ok(r) => r,
            Err(e) => panic!("{image}: {e}"),
        };
        let aliases = Aliases::default();
        p.matches(&aliases.names(r.domain()), r.path())
    }

    #[test]
    fn org_prefix_does_not_admit_org_evil() {
        assert!(matches("ghcr.io/org", "ghcr.io/org/app:1"));
        assert!(matches("ghcr.io/org", "ghcr.io/org/team/app:1"));
        assert!(matches("ghcr.io/org", "ghcr.io/org"));
        assert!(!matches("ghcr.io/org", "ghcr.io/org-evil/app:1"));
        assert!(!matches("ghcr.io/org", "ghcr.io/orgx"));
    }

    #[test]
    fn short_names_normalize_like_images() {
        assert!(matches("nginx", "nginx:1.27"));
        assert!(matches("nginx", "docker.io/library/nginx"));
        assert!(!matches("nginx", "evil.io/library/nginx"));
        assert!(matches("bitnami/redis", "bitnami/redis:7"));
        assert!(!matches("bitnami/redis", "quay.io/bitnami/redis:7"));
    }

    #[test]
    fn explicit_registry_takes_the_path_as_written() {
        assert!(matches("docker.io/bitnami", "bitnami/redis"));
        assert!(matches("docker.io/library", "nginx"));
        assert!(!matches("docker.io/nginx", "nginx"));
        assert!(matches(
            "registry-1.docker.io/library",
            "index.docker.io/nginx"
        ));
    }

    #[test]
    fn star_stays_within_one_component() {
        assert!(matches("ghcr.io/org/*", "ghcr.io/org/app"));
        assert!(matches("ghcr.io/org/*", "ghcr.io/org/app/sub"));
        assert!(!matches("ghcr.io/org/*", "ghcr.io/org"));
        assert!(matches("ghcr.io/team-*", "ghcr.io/team-a/app"));
        assert!(!matches("ghcr.io/team-*", "ghcr.io/teamb/app"));
    }

    #[test]
    fn registry_part_follows_registry_rules() {
        assert!(matches("GHCR.io/org", "ghcr.io/org/app"));
        assert!(matches("ghcr.io/org", "ghcr.io:443/org/app"));
        assert!(!matches("ghcr.io/org", "ghcr.io:5000/org/app"));
        assert!(matches(
            "*.corp.example/team",
            "harbor.corp.example/team/app"
        ));
    }

    #[test]
    fn malformed_patterns_say_why() {
        for (text, needle) in [
            ("", "empty"),
            ("ghcr.io/org:1.0", "no tag or digest"),
            ("ghcr.io/org@sha256:00", "no tag or digest"),
            ("ghcr.io/Org", "lowercase"),
            ("ghcr.io/org//x", "empty component"),
            (
                "ghcr.io/org/",
                "without the trailing \"/\", \"ghcr.io/org\"",
            ),
            (
                "quay.io/",
                "\"quay.io\" is a registry: write it in registries",
            ),
            ("ghcr.io", "registries"),
            ("ghcr.io/-x", "not valid"),
        ] {
            match RepositoryPattern::parse(text) {
                Ok(_) => panic!("{text:?} should be refused"),
                Err(e) => assert!(e.contains(needle), "{text:?}: {e}"),
            }
        }
    }
}
