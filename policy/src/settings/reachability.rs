//! Allow entries that can never change a verdict, refused as mistakes.
//!
//! Two shapes are common, and both mean the settings do something other than
//! what their author expects:
//!
//! * A registry allow entry that already admits everything a repository or
//!   image allow entry names, with no reject entry in between. Entries are not
//!   combined (the most specific matching entry decides, SPEC 2.4), so
//!   `registries.allow: [ghcr.io]` next to `images.allow: [ghcr.io/org/app]`
//!   trusts all of ghcr.io. trusted-repos-policy reads those two lists as
//!   "both must pass", so this is also what a migrated configuration looks
//!   like: refusing it is the only way not to widen it silently.
//! * A tag allow entry that matches every tag (`*`, `.*`) next to other tag
//!   allow entries, which then never decide anything.
//!
//! The check is conservative: it refuses only when no reject entry could
//! match any registry the covered entry names, so a refusal is always right.

use std::collections::{BTreeMap, BTreeSet};

use crate::matcher::registry::RegistryPattern;
use crate::rules::source::SourceEntry;
use crate::settings::raw::Reader;

/// How many covered entries a message names before "and N more".
const LISTED: usize = 5;

/// Refuses registry allow entries that make repository or image allow
/// entries unreachable. `aliases` says whether `registryAliases` is set:
/// then two different literal hosts may be one registry, and only wildcard
/// coverage is judged.
pub fn check_source_allows(r: &mut Reader, entries: &[SourceEntry], aliases: bool) {
    // Linear in the entries (settings may hold thousands): the reject side is
    // summarized once, and literal registries are looked up by name.
    let rejects = Rejects::of(entries);
    let unnarrowed: Vec<&SourceEntry> = entries
        .iter()
        .filter(|e| e.is_allow() && !e.is_registry_entry())
        .filter(|e| !rejects.may_narrow(e.registry_pattern()))
        .collect();
    if unnarrowed.is_empty() {
        return;
    }
    let mut by_registry: BTreeMap<String, Vec<&SourceEntry>> = BTreeMap::new();
    if !aliases {
        for &entry in unnarrowed
            .iter()
            .filter(|e| e.registry_pattern().is_exact())
        {
            by_registry
                .entry(entry.registry_pattern().canonical())
                .or_default()
                .push(entry);
        }
    }
    let registry_allows = entries
        .iter()
        .filter(|e| e.is_allow() && e.is_registry_entry());
    // Only the coverage that is certain: a match-all-hosts entry over the
    // entries it matches whatever their host; a literal registry over the
    // entries of the same literal registry (not when aliases may make two
    // literal hosts one registry).
    for covering in registry_allows {
        let cover = covering.registry_pattern();
        let covered: Vec<&SourceEntry> = if cover.matches_any_host() {
            unnarrowed
                .iter()
                .copied()
                .filter(|e| any_host_covers(cover, e.registry_pattern()))
                .collect()
        } else if !aliases && cover.is_exact() {
            by_registry
                .get(&cover.canonical())
                .cloned()
                .unwrap_or_default()
        } else {
            continue;
        };
        if covered.is_empty() {
            continue;
        }
        let mut names: Vec<String> = covered.iter().take(LISTED).map(|e| e.describe()).collect();
        let mut origins: Vec<String> = covered
            .iter()
            .take(LISTED)
            .map(|e| e.origin().to_string())
            .collect();
        if covered.len() > LISTED {
            let more = format!("and {} more", covered.len() - LISTED);
            names.push(more.clone());
            origins.push(more);
        }
        let (names, origins) = (names.join(", "), origins.join(", "));
        let (verb, names_verb) = if covered.len() == 1 {
            ("allows", "names")
        } else {
            ("allow", "name")
        };
        r.problem(
            &covering.origin().to_string(),
            Some(covering.text()),
            format!(
                "already allows every image that {names} {verb}, and no reject entry narrows it, so {origins} can never change a verdict (allow entries are not combined: the most specific matching entry decides). To allow only what {origins} {names_verb}, remove this registry entry; to trust the whole registry, remove {origins}"
            ),
        );
    }
}

/// Whether `cover`, an entry whose host is `*`, matches every registry
/// `other` can match: `*:*` matches them all, `*` only those on its own port
/// (the default one, or the same literal port).
fn any_host_covers(cover: &RegistryPattern, other: &RegistryPattern) -> bool {
    cover.matches_any_port() || cover.same_port_as(other)
}

/// The registries the reject entries name: a reject entry could narrow an
/// allow entry unless both name literal hosts that differ.
struct Rejects<'a> {
    /// Whether some reject entry's host is a wildcard (it may match any
    /// registry).
    wildcard: bool,
    /// The literal hosts of the others.
    hosts: BTreeSet<&'a str>,
}

impl<'a> Rejects<'a> {
    fn of(entries: &'a [SourceEntry]) -> Rejects<'a> {
        let mut rejects = Rejects {
            wildcard: false,
            hosts: BTreeSet::new(),
        };
        for entry in entries.iter().filter(|e| !e.is_allow()) {
            match entry.registry_pattern().literal_host() {
                Some(host) => {
                    rejects.hosts.insert(host);
                }
                None => rejects.wildcard = true,
            }
        }
        rejects
    }

    /// Whether some reject entry could match a registry `allow` names.
    fn may_narrow(&self, allow: &RegistryPattern) -> bool {
        match allow.literal_host() {
            Some(host) => self.wildcard || self.hosts.contains(host),
            None => self.wildcard || !self.hosts.is_empty(),
        }
    }
}

/// One tag allow entry as read: its key path, its text and whether it is a
/// regex (`allowRegex`) or a glob (`allow`).
#[derive(Debug, Clone, Copy)]
pub struct TagAllow<'a> {
    /// E.g. `tags.allow[0]`.
    pub path: &'a str,
    /// The entry as written.
    pub text: &'a str,
    /// From `tags.allowRegex`.
    pub regex: bool,
}

/// Refuses a tag allow entry that matches every tag when other tag allow
/// entries exist: they could never decide anything.
pub fn check_tag_allows(r: &mut Reader, allows: &[TagAllow<'_>]) {
    if allows.len() < 2 {
        return;
    }
    for entry in allows.iter().filter(|e| matches_every_tag(e)) {
        let others: Vec<&str> = allows
            .iter()
            .filter(|o| o.path != entry.path)
            .map(|o| o.path)
            .collect();
        r.problem(
            entry.path,
            Some(entry.text),
            format!(
                "matches every tag, so {} can never decide anything; remove this entry to allow only the listed tags, or remove the others to allow every tag",
                others.join(", ")
            ),
        );
    }
}

/// `*`, `**`, and the match-everything regexes people write.
fn matches_every_tag(entry: &TagAllow<'_>) -> bool {
    if entry.regex {
        matches!(
            entry.text,
            ".*" | "^.*$" | "^.*" | ".*$" | "(.*)" | "^(.*)$" | ".+" | "^.+$" | "(.+)" | "^(.+)$"
        )
    } else {
        !entry.text.is_empty() && entry.text.bytes().all(|b| b == b'*')
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::settings::compile::tests::problems;

    #[test]
    fn a_match_all_registry_next_to_repository_allows_is_refused() {
        let found = problems(json!({
            "registries": {"allow": ["*:*"]},
            "repositories": {"allow": ["ghcr.io/org", "quay.io/team"]}
        }));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(r#"registries.allow[0] "*:*": already allows every image that repositories.allow[0] "ghcr.io/org", repositories.allow[1] "quay.io/team" allow,"#),
            "{}",
            found[0]
        );
        assert!(
            found[0].contains("remove this registry entry"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_registry_next_to_an_image_of_it_is_refused() {
        // trusted-repos-policy reads these as "both must pass"; imagegate's
        // most-specific-wins would trust all of ghcr.io.
        let found = problems(json!({
            "registries": {"allow": ["ghcr.io"]},
            "images": {"allow": ["ghcr.io/org/app:1.0", "busybox"]}
        }));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(r#"registries.allow[0] "ghcr.io": already allows every image that images.allow[0] "ghcr.io/org/app:1.0" allows,"#),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_reject_entry_in_between_makes_the_allow_reachable() {
        assert!(
            problems(json!({
                "registries": {"allow": ["ghcr.io"]},
                "repositories": {"reject": ["ghcr.io/org"]},
                "images": {"allow": ["ghcr.io/org/app:1.0"]}
            }))
            .is_empty()
        );
        assert!(
            problems(json!({
                "registries": {"allow": ["*:*"], "reject": ["*.example.com"]},
                "repositories": {"allow": ["ghcr.io/org"]}
            }))
            .is_empty(),
            "a wildcard reject may match the entry's registry"
        );
    }

    #[test]
    fn an_unrelated_reject_does_not_hide_the_mistake() {
        let found = problems(json!({
            "registries": {"allow": ["*:*"], "reject": ["quay.io"]},
            "repositories": {"allow": ["ghcr.io/org"]}
        }));
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn default_port_wildcards_cover_only_default_ports() {
        assert!(
            problems(json!({
                "registries": {"allow": ["*"]},
                "repositories": {"allow": ["registry.local:5000/team"]}
            }))
            .is_empty(),
            "`*` does not match port 5000, so the repository entry decides"
        );
        assert_eq!(
            problems(json!({
                "registries": {"allow": ["*"]},
                "repositories": {"allow": ["ghcr.io/org"]}
            }))
            .len(),
            1
        );
    }

    #[test]
    fn aliases_leave_only_wildcard_coverage() {
        assert!(
            problems(json!({
                "registries": {"allow": ["harbor.corp"]},
                "registryAliases": [["harbor.corp", "mirror.corp"]],
                "repositories": {"allow": ["harbor.corp/team"]}
            }))
            .is_empty()
        );
    }

    #[test]
    fn different_registries_are_independent() {
        assert!(
            problems(json!({
                "registries": {"allow": ["registry.k8s.io"]},
                "images": {"allow": ["busybox:1.36"]},
                "repositories": {"allow": ["ghcr.io/org"]}
            }))
            .is_empty()
        );
    }

    #[test]
    fn a_match_all_tag_allow_next_to_others_is_refused() {
        let found = problems(json!({"tags": {"allow": ["*", "v1.*"], "allowRegex": ["^v\\d+$"]}}));
        assert_eq!(
            found,
            vec![
                r#"tags.allow[0] "*": matches every tag, so tags.allow[1], tags.allowRegex[0] can never decide anything; remove this entry to allow only the listed tags, or remove the others to allow every tag"#
            ]
        );
        let found = problems(json!({"tags": {"allow": ["v1.*"], "allowRegex": [".*"]}}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with(r#"tags.allowRegex[0] ".*": matches every tag"#));
    }

    #[test]
    fn a_match_all_tag_allow_alone_is_fine() {
        assert!(problems(json!({"tags": {"allow": ["*"], "reject": ["latest"]}})).is_empty());
        assert!(problems(json!({"tags": {"allowRegex": [".*"]}})).is_empty());
    }
}
