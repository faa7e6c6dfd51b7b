//! Rule `source` (SPEC 2.4): trusted registries, repositories and images.
//!
//! **What it checks:** every allow and reject entry that matches an image is
//! collected; the most specific one decides (image > repository > registry,
//! longer repository > shorter, exact > wildcard), and reject wins a tie.
//! When nothing matches, the image is rejected if any allow list is non-empty.
//!
//! **Which bypasses it closes:** entries are matched against the parsed,
//! normalized reference, never the raw string, so `ghcr.io/org` does not admit
//! `ghcr.io/org-evil/x`, `nginx` does not admit `evil.io/library/nginx`, and
//! `registry-1.docker.io/...` is Docker Hub.

use std::collections::BTreeMap;

use crate::matcher::image::ImagePattern;
use crate::matcher::registry::{RegistryNames, RegistryPattern};
use crate::matcher::repository::RepositoryPattern;
use crate::matcher::specificity::Specificity;
use crate::reference::Reference;

/// How many allow entries a "not trusted" message lists before "and N more".
const LISTED_TRUSTED: usize = 10;

/// Where a settings entry came from, e.g. `registries.allow[0]`; rendered
/// only when a message needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The list, e.g. `registries.allow`.
    pub list: &'static str,
    /// The index in the list.
    pub index: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.list, self.index)
    }
}

/// One allow or reject entry of `registries`, `repositories` or `images`.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    matcher: EntryMatcher,
    allow: bool,
    origin: Origin,
    /// The entry as written.
    text: String,
    specificity: Specificity,
}

#[derive(Debug, Clone)]
enum EntryMatcher {
    Registry(RegistryPattern),
    Repository(RepositoryPattern),
    Image(ImagePattern),
}

impl SourceEntry {
    /// A `registries.allow|reject` entry.
    pub fn registry(p: RegistryPattern, allow: bool, origin: Origin, text: &str) -> SourceEntry {
        let specificity = Specificity::registry(p.is_exact());
        SourceEntry::new(EntryMatcher::Registry(p), allow, origin, text, specificity)
    }

    /// A `repositories.allow|reject` entry.
    pub fn repository(
        p: RepositoryPattern,
        allow: bool,
        origin: Origin,
        text: &str,
    ) -> SourceEntry {
        let specificity = Specificity::repository(p.depth(), p.is_exact());
        SourceEntry::new(
            EntryMatcher::Repository(p),
            allow,
            origin,
            text,
            specificity,
        )
    }

    /// An `images.allow|reject` entry.
    pub fn image(p: ImagePattern, allow: bool, origin: Origin, text: &str) -> SourceEntry {
        let specificity = Specificity::image(p.selector());
        SourceEntry::new(EntryMatcher::Image(p), allow, origin, text, specificity)
    }

    fn new(
        matcher: EntryMatcher,
        allow: bool,
        origin: Origin,
        text: &str,
        specificity: Specificity,
    ) -> SourceEntry {
        SourceEntry {
            matcher,
            allow,
            origin,
            text: text.to_owned(),
            specificity,
        }
    }

    /// The registry part of the entry (the whole entry for `registries`).
    pub(crate) fn registry_pattern(&self) -> &RegistryPattern {
        match &self.matcher {
            EntryMatcher::Registry(p) => p,
            EntryMatcher::Repository(p) => p.registry(),
            EntryMatcher::Image(p) => p.registry(),
        }
    }

    fn matches(&self, names: &RegistryNames<'_>, image: &Reference) -> bool {
        match &self.matcher {
            EntryMatcher::Registry(p) => p.matches(names),
            EntryMatcher::Repository(p) => p.matches(names, image.path()),
            EntryMatcher::Image(p) => p.matches(names, image),
        }
    }

    /// The entry's pattern as a scope (for the signature settings' check
    /// that a requirement can apply at all).
    pub(crate) fn scope(&self) -> crate::matcher::scope::Scope {
        use crate::matcher::scope::Scope;
        match &self.matcher {
            EntryMatcher::Registry(p) => Scope::Registry(p.clone()),
            EntryMatcher::Repository(p) => Scope::Repository(p.clone()),
            EntryMatcher::Image(p) => Scope::Image(p.clone()),
        }
    }

    /// Whether this is a `registries` entry.
    pub(crate) fn is_registry_entry(&self) -> bool {
        matches!(self.matcher, EntryMatcher::Registry(_))
    }

    /// Whether this is an allow entry.
    pub fn is_allow(&self) -> bool {
        self.allow
    }

    /// Where it came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The entry as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The normalized text, to find the same entry in an allow and a reject
    /// list.
    pub fn canonical(&self) -> String {
        match &self.matcher {
            EntryMatcher::Registry(p) => p.canonical(),
            EntryMatcher::Repository(p) => p.canonical(),
            EntryMatcher::Image(p) => p.canonical(),
        }
    }

    /// `registries.allow[0] "ghcr.io"`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.origin,
            serde_json::Value::String(self.text.clone())
        )
    }
}

/// The compiled `registries`, `repositories` and `images` lists.
#[derive(Debug, Clone, Default)]
pub struct SourceRules {
    entries: Vec<SourceEntry>,
    /// Indexes of the entries whose registry host is literal, by that host
    /// (lower-cased), so a decision looks only at the entries for the image's
    /// registry names plus `wildcards`: linear in matching entries, not in
    /// all of them.
    by_host: BTreeMap<String, Vec<usize>>,
    /// Indexes of the entries whose registry host has wildcards.
    wildcards: Vec<usize>,
    /// Any allow list is non-empty: unmatched images are rejected.
    has_allow: bool,
    /// Only `registries.allow` is non-empty among the allow lists.
    registries_only: bool,
}

impl SourceRules {
    /// Builds the rules from every entry, in settings order.
    pub fn new(entries: Vec<SourceEntry>) -> SourceRules {
        let mut allows = entries.iter().filter(|e| e.allow).peekable();
        let has_allow = allows.peek().is_some();
        let registries_only = allows.all(|e| matches!(e.matcher, EntryMatcher::Registry(_)));
        let mut by_host: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut wildcards = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match entry.registry_pattern().literal_host() {
                Some(host) => by_host.entry(host.to_owned()).or_default().push(i),
                None => wildcards.push(i),
            }
        }
        SourceRules {
            entries,
            by_host,
            wildcards,
            has_allow,
            registries_only,
        }
    }

    /// The entries that can match a registry known by `names`, in settings
    /// order (equally specific entries are decided by that order).
    fn candidates<'s>(
        &'s self,
        names: &RegistryNames<'_>,
    ) -> impl Iterator<Item = &'s SourceEntry> {
        let mut indexes: Vec<usize> = self.wildcards.clone();
        for (host, _) in names.iter() {
            let found = if host.bytes().any(|b| b.is_ascii_uppercase()) {
                self.by_host.get(&host.to_ascii_lowercase())
            } else {
                self.by_host.get(host)
            };
            indexes.extend(found.into_iter().flatten());
        }
        indexes.sort_unstable();
        indexes.dedup();
        indexes.into_iter().filter_map(|i| self.entries.get(i))
    }

    /// The allow entries, listed for "not trusted" messages.
    fn trusted(&self) -> String {
        let allows = || self.entries.iter().filter(|e| e.allow);
        if self.registries_only {
            return list_trusted(allows().map(|e| e.text.as_str()));
        }
        let group = |name: &str, pick: fn(&EntryMatcher) -> bool| {
            let items: Vec<&str> = allows()
                .filter(|e| pick(&e.matcher))
                .map(|e| e.text.as_str())
                .collect();
            (!items.is_empty()).then(|| format!("{name} {}", list_trusted(items.into_iter())))
        };
        [
            group("registries", |m| matches!(m, EntryMatcher::Registry(_))),
            group("repositories", |m| matches!(m, EntryMatcher::Repository(_))),
            group("images", |m| matches!(m, EntryMatcher::Image(_))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }

    /// Decides one image; `None` when it is accepted, else the reason.
    pub fn decide(&self, names: &RegistryNames<'_>, image: &Reference) -> Option<String> {
        let mut best_allow: Option<&SourceEntry> = None;
        let mut best_reject: Option<&SourceEntry> = None;
        for entry in self.candidates(names).filter(|e| e.matches(names, image)) {
            let best = if entry.allow {
                &mut best_allow
            } else {
                &mut best_reject
            };
            // Keep the first of equally specific entries: settings order.
            if best.is_none_or(|b| entry.specificity > b.specificity) {
                *best = Some(entry);
            }
        }
        match (best_allow, best_reject) {
            (allow, Some(reject)) if allow.is_none_or(|a| reject.specificity >= a.specificity) => {
                let subject = match reject.matcher {
                    EntryMatcher::Registry(_) => format!("registry {}", image.domain()),
                    EntryMatcher::Repository(_) => {
                        format!("repository {}/{}", image.domain(), image.path())
                    }
                    EntryMatcher::Image(_) => "image".to_owned(),
                };
                let tie = match allow {
                    Some(a) if a.specificity == reject.specificity => {
                        format!(" (it also matches {}; reject wins a tie)", a.describe())
                    }
                    _ => String::new(),
                };
                Some(format!(
                    "{subject} is rejected by {}{tie}",
                    reject.describe()
                ))
            }
            (Some(_), _) => None,
            (None, _) if self.has_allow => Some(if self.registries_only {
                format!(
                    "registry {} is not trusted (trusted: {})",
                    image.domain(),
                    self.trusted()
                )
            } else {
                format!(
                    "repository {}/{} is not trusted (trusted: {})",
                    image.domain(),
                    image.path(),
                    self.trusted()
                )
            }),
            (None, _) => None,
        }
    }

    /// Every entry, in settings order.
    pub(crate) fn entries(&self) -> &[SourceEntry] {
        &self.entries
    }
}

fn list_trusted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    let mut out = items
        .iter()
        .take(LISTED_TRUSTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED_TRUSTED {
        out.push_str(&format!(" and {} more", items.len() - LISTED_TRUSTED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::registry::Aliases;

    fn entry(kind: &str, text: &str, allow: bool, index: usize) -> SourceEntry {
        let origin = Origin {
            list: "test",
            index,
        };
        match kind {
            "registry" => SourceEntry::registry(
                RegistryPattern::parse(text, false).unwrap_or_else(|e| panic!("{e}")),
                allow,
                origin,
                text,
            ),
            "repository" => SourceEntry::repository(
                RepositoryPattern::parse(text).unwrap_or_else(|e| panic!("{e}")),
                allow,
                origin,
                text,
            ),
            _ => SourceEntry::image(
                ImagePattern::parse(text).unwrap_or_else(|e| panic!("{e}")),
                allow,
                origin,
                text,
            ),
        }
    }

    /// The index must decide exactly as a scan over every entry would.
    #[test]
    fn indexed_candidates_decide_like_a_full_scan() {
        let specs = [
            ("registry", "ghcr.io", true),
            ("registry", "*.io", false),
            ("registry", "GHCR.io:5000", false),
            ("repository", "ghcr.io/org", true),
            ("repository", "*.corp.example/team", true),
            ("repository", "ghcr.io/org/x", false),
            ("image", "nginx:1.27", true),
            ("registry", "docker.io", false),
            ("registry", "index.docker.io", true),
            ("repository", "harbor.corp.example/team/app", false),
            ("registry", "*", true),
        ];
        let entries: Vec<SourceEntry> = specs
            .iter()
            .enumerate()
            .map(|(i, (k, t, a))| entry(k, t, *a, i))
            .collect();
        let indexed = SourceRules::new(entries.clone());
        let aliases = Aliases::default();
        for image in [
            "ghcr.io/org/app:1",
            "GHCR.IO/org/x/y:2",
            "ghcr.io:5000/a:1",
            "nginx:1.27",
            "nginx:1.26",
            "harbor.corp.example/team/app:1",
            "harbor.corp.example/team/other:1",
            "quay.io/a/b:1",
            "registry-1.docker.io/library/busybox:1",
            "[::1]:5000/app:1",
            "evil.example/x:1",
        ] {
            let r = Reference::parse(image).unwrap_or_else(|e| panic!("{e}"));
            let names = aliases.names(r.domain());
            // A full scan: every entry a candidate.
            let mut scan = SourceRules::new(entries.clone());
            scan.wildcards = (0..entries.len()).collect();
            scan.by_host.clear();
            assert_eq!(
                indexed.decide(&names, &r),
                scan.decide(&names, &r),
                "{image}"
            );
        }
    }
}
