//! Scopes: a registry, repository or image pattern standing for a set of
//! images, as the `signatures` requirements name them. The patterns are the
//! source lists' own (SPEC 2.1 to 2.3), and so is the ordering that picks
//! the most specific one (SPEC 2.4).

use crate::matcher::image::{ImagePattern, Selector};
use crate::matcher::registry::{RegistryNames, RegistryPattern};
use crate::matcher::repository::RepositoryPattern;
use crate::matcher::specificity::Specificity;
use crate::reference::Reference;

/// A set of images named by one pattern.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `registry: host[:port]`.
    Registry(RegistryPattern),
    /// `repository: [registry/]path`, and everything below it.
    Repository(RepositoryPattern),
    /// `image: name[:tag][@digest]`.
    Image(ImagePattern),
}

impl Scope {
    /// The settings keys that name a scope, in the order messages list them.
    pub const KEYS: [&'static str; 3] = ["registry", "repository", "image"];

    /// Parses `text` as the pattern `key` names (one of [`Scope::KEYS`]).
    pub fn parse(key: &str, text: &str) -> Result<Scope, String> {
        match key {
            "registry" => RegistryPattern::parse(text, false).map(Scope::Registry),
            "repository" => RepositoryPattern::parse(text).map(Scope::Repository),
            _ => ImagePattern::parse(text).map(Scope::Image),
        }
    }

    /// `registry`, `repository` or `image`.
    pub fn key(&self) -> &'static str {
        match self {
            Scope::Registry(_) => "registry",
            Scope::Repository(_) => "repository",
            Scope::Image(_) => "image",
        }
    }

    /// Whether `image`, on a registry known by `names`, is in the scope.
    pub fn matches(&self, names: &RegistryNames<'_>, image: &Reference) -> bool {
        match self {
            Scope::Registry(p) => p.matches(names),
            Scope::Repository(p) => p.matches(names, image.path()),
            Scope::Image(p) => p.matches(names, image),
        }
    }

    /// How specific the scope is, in the source decision's order.
    pub fn specificity(&self) -> Specificity {
        match self {
            Scope::Registry(p) => Specificity::registry(p.is_exact()),
            Scope::Repository(p) => Specificity::repository(p.depth(), p.is_exact()),
            Scope::Image(p) => Specificity::image(p.selector()),
        }
    }

    /// The registry part.
    pub fn registry(&self) -> &RegistryPattern {
        match self {
            Scope::Registry(p) => p,
            Scope::Repository(p) => p.registry(),
            Scope::Image(p) => p.registry(),
        }
    }

    /// The normalized text with its kind, to find two entries naming one scope.
    pub fn canonical(&self) -> String {
        let text = match self {
            Scope::Registry(p) => p.canonical(),
            Scope::Repository(p) => p.canonical(),
            Scope::Image(p) => p.canonical(),
        };
        format!("{} {text}", self.key())
    }

    /// Whether every image in `other` is certainly in `self`. Only what is
    /// certain without knowing the images: the same literal registry, a
    /// literal repository and what is below it, a bare image and its tags and
    /// digests, and `*:*`. `false` means "not certain", not "no".
    pub fn covers(&self, other: &Scope) -> bool {
        let same_registry = |a: &RegistryPattern, b: &RegistryPattern| {
            a.is_exact() && b.is_exact() && a.canonical() == b.canonical()
        };
        match (self, other) {
            (Scope::Registry(p), _) if p.matches_any_host() && p.matches_any_port() => true,
            (Scope::Registry(p), _) => same_registry(p, other.registry()),
            (Scope::Repository(p), Scope::Repository(o)) => {
                p.is_exact()
                    && o.is_exact()
                    && same_registry(p.registry(), o.registry())
                    && at_or_below(o.path(), p.path())
            }
            (Scope::Repository(p), Scope::Image(o)) => {
                p.is_exact()
                    && same_registry(p.registry(), o.registry())
                    && at_or_below(o.path(), p.path())
            }
            (Scope::Image(p), Scope::Image(o)) => {
                matches!(p.selector(), Selector::AnyTag)
                    && same_registry(p.registry(), o.registry())
                    && o.path() == p.path()
            }
            _ => false,
        }
    }
}

/// `path` is `parent` or below it, at a `/` boundary.
fn at_or_below(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str, text: &str) -> Scope {
        Scope::parse(key, text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn coverage_is_only_what_is_certain() {
        let covers = |a: (&str, &str), b: (&str, &str)| scope(a.0, a.1).covers(&scope(b.0, b.1));
        assert!(covers(
            ("registry", "ghcr.io"),
            ("repository", "ghcr.io/org")
        ));
        assert!(covers(
            ("registry", "ghcr.io"),
            ("image", "ghcr.io/org/app:1")
        ));
        assert!(covers(("registry", "*:*"), ("registry", "quay.io")));
        assert!(covers(
            ("repository", "ghcr.io/org"),
            ("repository", "ghcr.io/org/team")
        ));
        assert!(covers(
            ("repository", "ghcr.io/org"),
            ("image", "ghcr.io/org/app")
        ));
        assert!(covers(
            ("image", "ghcr.io/org/app"),
            ("image", "ghcr.io/org/app:1")
        ));
        assert!(covers(("registry", "docker.io"), ("repository", "nginx")));
        // Not certain, or not so.
        assert!(!covers(("registry", "*.io"), ("registry", "ghcr.io")));
        assert!(!covers(
            ("registry", "ghcr.io"),
            ("registry", "ghcr.io:5000")
        ));
        assert!(!covers(
            ("repository", "ghcr.io/org"),
            ("repository", "ghcr.io/org-evil")
        ));
        assert!(!covers(
            ("repository", "ghcr.io/org/team"),
            ("repository", "ghcr.io/org")
        ));
        assert!(!covers(
            ("repository", "ghcr.io/org"),
            ("registry", "ghcr.io")
        ));
        assert!(!covers(
            ("image", "ghcr.io/org/app:1"),
            ("image", "ghcr.io/org/app")
        ));
    }

    #[test]
    fn specificity_follows_the_source_order() {
        assert!(
            scope("image", "ghcr.io/org/app").specificity()
                > scope("repository", "ghcr.io/org/app").specificity()
        );
        assert!(
            scope("repository", "ghcr.io/org/app").specificity()
                > scope("repository", "ghcr.io/org").specificity()
        );
        assert!(
            scope("repository", "ghcr.io/org").specificity()
                > scope("registry", "ghcr.io").specificity()
        );
    }
}
