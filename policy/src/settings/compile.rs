//! Compiling settings: from the JSON the user wrote to a [`Policy`], with
//! every problem collected (and a key path for each) instead of stopping at
//! the first.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::matcher::image::ImagePattern;
use crate::matcher::registry::{RegistryPattern, parse_alias};
use crate::matcher::repository::RepositoryPattern;
use crate::matcher::tag::TagPattern;
use crate::rules::digest::{DigestRules, Resolve};
use crate::rules::image_metadata::{MetadataEntry, MetadataRules};
use crate::rules::pull_policy::{PullPolicy, PullPolicyRules};
use crate::rules::source::{Origin, SourceEntry, SourceRules};
use crate::rules::tag::{TagEntry, TagRules};
use crate::rules::{Action, RuleId};
use crate::settings::pasted;
use crate::settings::raw::{Reader, child, index};
use crate::settings::reachability::{self, TagAllow};
use crate::settings::signatures;
use crate::settings::{Policy, SettingsError, ShortNames};

const TOP_KEYS: &[&str] = &[
    "registries",
    "repositories",
    "images",
    "registryAliases",
    "shortNames",
    "tags",
    "digests",
    "pullPolicy",
    "imageMetadata",
    "signatures",
    "exemptImages",
    "actions",
];
const LIST_KEYS: &[&str] = &["allow", "reject"];
const TAG_KEYS: &[&str] = &[
    "allow",
    "reject",
    "allowRegex",
    "rejectRegex",
    "requireExplicit",
];
const DIGEST_KEYS: &[&str] = &["require", "resolve", "rewriteKinds"];
const PULL_POLICY_KEYS: &[&str] = &[
    "requireExplicit",
    "allow",
    "alwaysForUnpinned",
    "enforceAlways",
];
const METADATA_KEYS: &[&str] = &[
    "rejectAnnotations",
    "rejectLabels",
    "requireLabels",
    "skipOnResolutionFailure",
];

/// Compiles a settings value (an object, or `null` for none).
pub fn compile(settings: &Value) -> Result<Policy, SettingsError> {
    let mut r = Reader::default();
    let mut policy = Policy::default();
    let empty = Map::new();
    let top = match settings {
        Value::Null => &empty,
        Value::Object(map) => {
            if let Some(problem) = pasted::document(map) {
                return Err(SettingsError {
                    problems: vec![problem],
                });
            }
            pasted::check_keys(&mut r, map);
            r.object_except(Some(settings), "", TOP_KEYS, pasted::KEYS)
                .unwrap_or(&empty)
        }
        _ => {
            return Err(SettingsError {
                problems: vec![crate::settings::SettingsProblem {
                    path: String::new(),
                    entry: None,
                    problem: "settings must be a JSON object".into(),
                }],
            });
        }
    };

    let mut entries = Vec::new();
    read_registries(&mut r, top.get("registries"), &mut entries);
    read_list(
        &mut r,
        top.get("repositories"),
        ["repositories.allow", "repositories.reject"],
        &mut entries,
        |text, allow, origin| {
            RepositoryPattern::parse(text).map(|p| SourceEntry::repository(p, allow, origin, text))
        },
    );
    read_list(
        &mut r,
        top.get("images"),
        ["images.allow", "images.reject"],
        &mut entries,
        |text, allow, origin| {
            ImagePattern::parse(text).map(|p| SourceEntry::image(p, allow, origin, text))
        },
    );
    let aliases = top
        .get("registryAliases")
        .is_some_and(|v| v != &Value::Null);
    reachability::check_source_allows(&mut r, &entries, aliases);
    policy.source = SourceRules::new(entries);

    for (i, group) in r
        .list(top.get("registryAliases"), "registryAliases")
        .iter()
        .enumerate()
    {
        let path = index("registryAliases", i);
        let mut names = Vec::new();
        for (j, name) in r.strings(Some(group), &path) {
            match parse_alias(name) {
                Ok(n) => names.push(n),
                Err(e) => r.problem(&index(&path, j), Some(name), e),
            }
        }
        policy.aliases.add_group(names);
    }

    if r.one_of(top.get("shortNames"), "shortNames", &["allow", "reject"]) == Some("reject") {
        policy.short_names = ShortNames::Reject;
    }
    policy.tags = read_tags(&mut r, top.get("tags"));
    policy.digests = read_digests(&mut r, top.get("digests"));
    policy.pull_policy = read_pull_policy(&mut r, top.get("pullPolicy"));
    policy.image_metadata = read_image_metadata(&mut r, top.get("imageMetadata"));
    policy.signatures = signatures::read(&mut r, top.get("signatures"));

    for (i, text) in r.strings(top.get("exemptImages"), "exemptImages") {
        match ImagePattern::parse(text) {
            Ok(p) => policy.exempt.push(p),
            Err(e) => r.problem(&index("exemptImages", i), Some(text), e),
        }
    }

    let rule_ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
    if let Some(actions) = r.object(top.get("actions"), "actions", &rule_ids) {
        for rule in RuleId::ALL {
            let path = child("actions", rule.as_str());
            match r.one_of(actions.get(rule.as_str()), &path, &["deny", "warn"]) {
                Some("warn") if rule == RuleId::Reference => r.problem(
                    &path,
                    Some("warn"),
                    "the reference rule always denies: an image that does not parse cannot be checked by any other rule",
                ),
                Some("warn") => policy.actions.set(rule, Action::Warn),
                _ => {}
            }
        }
    }

    // With the source rule in warn mode every image is verified, so only a
    // denying source rule can make a requirement unreachable.
    if policy.actions.get(RuleId::Source) == Action::Deny {
        signatures::check_reachable(&mut r, &policy.signatures, policy.source.entries(), aliases);
    }

    let problems = r.into_problems();
    if problems.is_empty() {
        Ok(policy)
    } else {
        Err(SettingsError { problems })
    }
}

/// `registries.allow|reject`: strings, or `{domainName, insecure}` objects.
fn read_registries(r: &mut Reader, value: Option<&Value>, entries: &mut Vec<SourceEntry>) {
    let Some(lists) = r.object(value, "registries", LIST_KEYS) else {
        return;
    };
    let start = entries.len();
    for (key, list, allow) in [
        ("allow", "registries.allow", true),
        ("reject", "registries.reject", false),
    ] {
        for (index, item) in r.list(lists.get(key), list).iter().enumerate() {
            let origin = Origin { list, index };
            let (text, insecure) = match item {
                Value::String(s) => (s.as_str(), false),
                Value::Object(_) => {
                    let path = origin.to_string();
                    let Some(obj) = r.object(Some(item), &path, &["domainName", "insecure"]) else {
                        continue;
                    };
                    let insecure = r.bool(obj.get("insecure"), &child(&path, "insecure"));
                    match r.string(obj.get("domainName"), &child(&path, "domainName")) {
                        Some(s) => (s, insecure),
                        None => {
                            r.problem(&path, None, "an object entry needs \"domainName\"");
                            continue;
                        }
                    }
                }
                _ => {
                    r.problem(
                        &origin.to_string(),
                        None,
                        "expected a registry name or {domainName, insecure}",
                    );
                    continue;
                }
            };
            match RegistryPattern::parse(text, insecure) {
                Ok(p) => entries.push(SourceEntry::registry(p, allow, origin, text)),
                Err(e) => r.problem(&origin.to_string(), Some(text), e),
            }
        }
    }
    check_conflicts(r, &entries[start..], "registry");
}

/// `repositories` or `images`: allow and reject lists of strings.
fn read_list(
    r: &mut Reader,
    value: Option<&Value>,
    [allow_list, reject_list]: [&'static str; 2],
    entries: &mut Vec<SourceEntry>,
    parse: impl Fn(&str, bool, Origin) -> Result<SourceEntry, String>,
) {
    let (name, _) = allow_list.split_once('.').unwrap_or((allow_list, ""));
    let Some(lists) = r.object(value, name, LIST_KEYS) else {
        return;
    };
    let start = entries.len();
    for (key, list, allow) in [("allow", allow_list, true), ("reject", reject_list, false)] {
        for (index, text) in r.strings(lists.get(key), list) {
            let origin = Origin { list, index };
            match parse(text, allow, origin) {
                Ok(entry) => entries.push(entry),
                Err(e) => r.problem(&origin.to_string(), Some(text), e),
            }
        }
    }
    let what = if name == "images" {
        "image"
    } else {
        "repository"
    };
    check_conflicts(r, &entries[start..], what);
}

/// A reject entry equal (after normalization) to an allow entry of the same
/// list is a problem: it could never decide anything sensibly. Normalized
/// texts are built only when both lists have entries.
fn check_conflicts(r: &mut Reader, entries: &[SourceEntry], what: &str) {
    let (allows, rejects): (Vec<&SourceEntry>, Vec<&SourceEntry>) =
        entries.iter().partition(|e| e.is_allow());
    if allows.is_empty() || rejects.is_empty() {
        return;
    }
    let mut allowed: BTreeMap<String, &SourceEntry> = BTreeMap::new();
    for entry in allows {
        allowed.entry(entry.canonical()).or_insert(entry);
    }
    for entry in rejects {
        let canonical = entry.canonical();
        if let Some(other) = allowed.get(&canonical) {
            r.problem(
                &entry.origin().to_string(),
                Some(entry.text()),
                format!(
                    "the same {what} as {} ({canonical}); an entry cannot be both allowed and rejected",
                    other.describe()
                ),
            );
        }
    }
}

fn read_tags(r: &mut Reader, value: Option<&Value>) -> TagRules {
    let mut rules = TagRules::default();
    let Some(tags) = r.object(value, "tags", TAG_KEYS) else {
        return rules;
    };
    let mut allow_paths: Vec<(String, &str, bool)> = Vec::new();
    let mut reject_paths: Vec<(String, &str, bool)> = Vec::new();
    for (key, allow, regex) in [
        ("allow", true, false),
        ("reject", false, false),
        ("allowRegex", true, true),
        ("rejectRegex", false, true),
    ] {
        let path = child("tags", key);
        for (i, text) in r.strings(tags.get(key), &path) {
            let compiled = if regex {
                TagPattern::regex(text)
            } else {
                TagPattern::glob(text)
            };
            match compiled {
                Ok(pattern) => {
                    let paths = if allow {
                        &mut allow_paths
                    } else {
                        &mut reject_paths
                    };
                    paths.push((index(&path, i), text, regex));
                    let entry = TagEntry {
                        pattern,
                        text: text.to_owned(),
                    };
                    if allow {
                        rules.allow.push(entry);
                    } else {
                        rules.reject.push(entry);
                    }
                }
                Err(e) => r.problem(&index(&path, i), Some(text), e),
            }
        }
    }
    check_tag_conflicts(r, &allow_paths, &reject_paths);
    let allows: Vec<TagAllow<'_>> = allow_paths
        .iter()
        .map(|(path, text, regex)| TagAllow {
            path,
            text,
            regex: *regex,
        })
        .collect();
    reachability::check_tag_allows(r, &allows);
    rules.require_explicit = r.bool(tags.get("requireExplicit"), "tags.requireExplicit");
    rules
}

/// A tag entry written in both `tags.allow` and `tags.reject` (or, as the
/// same text, in `tags.allowRegex` and `tags.rejectRegex`) is a problem, as
/// for the source lists. Tags are case-sensitive, so the text as written is
/// the entry; a glob and a regex are different languages and never compared.
fn check_tag_conflicts(
    r: &mut Reader,
    allows: &[(String, &str, bool)],
    rejects: &[(String, &str, bool)],
) {
    if allows.is_empty() || rejects.is_empty() {
        return;
    }
    // A map, not a scan per entry: settings may hold thousands of tags.
    // Globs and regexes are different languages: each is compared with its
    // own kind only.
    for regex in [false, true] {
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for (at, (_, text, _)) in allows.iter().enumerate().filter(|(_, a)| a.2 == regex) {
            first.entry(*text).or_insert(at);
        }
        for (path, text, _) in rejects.iter().filter(|(_, _, re)| *re == regex) {
            if let Some(&at) = first.get(*text) {
                let what = if regex { "tag regex" } else { "tag glob" };
                r.problem(
                    path,
                    Some(*text),
                    format!(
                        "the same {what} as {} {}; an entry cannot be both allowed and rejected",
                        allows[at].0,
                        Value::String((*text).to_owned())
                    ),
                );
            }
        }
    }
}

fn read_digests(r: &mut Reader, value: Option<&Value>) -> DigestRules {
    let mut rules = DigestRules::default();
    let Some(digests) = r.object(value, "digests", DIGEST_KEYS) else {
        return rules;
    };
    rules.require = r.bool(digests.get("require"), "digests.require");
    if let Some(mode) = r.one_of(digests.get("resolve"), "digests.resolve", &Resolve::NAMES) {
        rules.resolve = Resolve::parse(mode).unwrap_or_default();
    }
    if digests.get("rewriteKinds").is_some_and(|v| !v.is_null()) {
        let known: Vec<&'static str> = crate::workload::checked_kinds().collect();
        let mut kinds = Vec::new();
        for (i, text) in r.strings(digests.get("rewriteKinds"), "digests.rewriteKinds") {
            match known.iter().find(|k| **k == text) {
                Some(kind) if !kinds.contains(kind) => kinds.push(*kind),
                Some(_) => {}
                None => {
                    let hint = crate::settings::raw::suggest(text, &known)
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    r.problem(
                        &index("digests.rewriteKinds", i),
                        Some(text),
                        format!("must be one of {}{hint}", known.join(", ")),
                    );
                }
            }
        }
        rules.rewrite_kinds = Some(kinds);
    }
    rules
}

fn read_pull_policy(r: &mut Reader, value: Option<&Value>) -> PullPolicyRules {
    let mut rules = PullPolicyRules::default();
    let Some(pp) = r.object(value, "pullPolicy", PULL_POLICY_KEYS) else {
        return rules;
    };
    rules.require_explicit = r.bool(pp.get("requireExplicit"), "pullPolicy.requireExplicit");
    for (i, text) in r.strings(pp.get("allow"), "pullPolicy.allow") {
        match PullPolicy::parse(text) {
            Some(p) if !rules.allow.contains(&p) => rules.allow.push(p),
            Some(_) => {}
            None => {
                let hint = crate::settings::raw::suggest(text, &PullPolicy::NAMES)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                r.problem(
                    &index("pullPolicy.allow", i),
                    Some(text),
                    format!("must be one of {}{hint}", PullPolicy::NAMES.join(", ")),
                );
            }
        }
    }
    rules.always_for_unpinned = r.bool(pp.get("alwaysForUnpinned"), "pullPolicy.alwaysForUnpinned");
    rules.enforce_always = r.bool(pp.get("enforceAlways"), "pullPolicy.enforceAlways");
    rules
}

/// `imageMetadata`: maps of annotation or label keys to values (`"*"` is
/// any value), and `skipOnResolutionFailure`.
fn read_image_metadata(r: &mut Reader, value: Option<&Value>) -> MetadataRules {
    let mut rules = MetadataRules::default();
    let Some(md) = r.object(value, "imageMetadata", METADATA_KEYS) else {
        return rules;
    };
    rules.skip_on_resolution_failure = r.bool(
        md.get("skipOnResolutionFailure"),
        "imageMetadata.skipOnResolutionFailure",
    );
    for key in ["rejectAnnotations", "rejectLabels", "requireLabels"] {
        let path = child("imageMetadata", key);
        let mut entries = Vec::new();
        for (name, value) in r.string_map(md.get(key), &path) {
            if name.is_empty() {
                r.problem(
                    &path,
                    None,
                    "an empty key matches no annotation or label; name the key",
                );
                continue;
            }
            entries.push(MetadataEntry::new(name, value));
        }
        match key {
            "rejectAnnotations" => rules.reject_annotations = entries,
            "rejectLabels" => rules.reject_labels = entries,
            _ => rules.require_labels = entries,
        }
    }
    check_label_conflicts(r, &rules);
    rules
}

/// `requireLabels` and `rejectLabels` are the allow and reject lists of
/// labels: a required label whose every allowed value is rejected (the same
/// value, or `"*"` in `rejectLabels`) makes every image a violation.
fn check_label_conflicts(r: &mut Reader, rules: &MetadataRules) {
    if rules.require_labels.is_empty() || rules.reject_labels.is_empty() {
        return;
    }
    for rejected in &rules.reject_labels {
        let Some(required) = rules.require_labels.iter().find(|q| {
            q.key == rejected.key && (rejected.value.is_none() || rejected.value == q.value)
        }) else {
            continue;
        };
        let show = |v: &Option<String>| {
            Value::String(v.clone().unwrap_or_else(|| "*".to_owned())).to_string()
        };
        r.problem(
            &child("imageMetadata.rejectLabels", &rejected.key),
            Some(rejected.value.as_deref().unwrap_or("*")),
            format!(
                "rejects the label imageMetadata.requireLabels.{} requires ({}), so every image is a violation; a label cannot be both required and rejected",
                required.key,
                show(&required.value)
            ),
        );
    }
}

#[cfg(test)]
pub(in crate::settings) mod tests {
    use super::*;
    use serde_json::json;

    /// Every problem `compile` reports for `settings`, as displayed; empty
    /// when they compile.
    pub(in crate::settings) fn problems(settings: Value) -> Vec<String> {
        match compile(&settings) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn empty_and_null_settings_are_valid() {
        assert!(problems(json!({})).is_empty());
        assert!(problems(Value::Null).is_empty());
        assert!(problems(json!({"registries": null, "tags": {"reject": null}})).is_empty());
    }

    #[test]
    fn settings_must_be_an_object() {
        assert_eq!(problems(json!([1])), vec!["settings must be a JSON object"]);
        assert_eq!(problems(json!("x")), vec!["settings must be a JSON object"]);
    }

    #[test]
    fn trusted_repos_policy_settings_are_accepted() {
        let trp = json!({
            "registries": {"allow": ["registry.k8s.io"], "reject": []},
            "images": {"allow": ["busybox:1.36"], "reject": ["nginx:latest"]},
            "tags": {"reject": ["latest"]}
        });
        assert!(problems(trp).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let found = problems(json!({
            "registry": {},
            "registries": {"allow": ["ghcr.io", 5, "https://quay.io"], "alow": []},
            "tags": {"allowRegex": ["("], "requireExplicit": "yes"},
            "shortNames": "deny",
            "actions": {"reference": "warn", "source": "block", "tags": "warn"}
        }));
        assert_eq!(
            found,
            vec![
                r#"unknown key "registry" (did you mean "registries"?)"#,
                r#"registries: unknown key "alow" (did you mean "allow"?)"#,
                "registries.allow[1]: expected a registry name or {domainName, insecure}",
                r#"registries.allow[2] "https://quay.io": write the registry without the https:// scheme, e.g. "quay.io""#,
                r#"shortNames "deny": must be one of allow, reject"#,
                "tags.allowRegex[0] \"(\": invalid regular expression: found open group without closing ')'",
                "tags.requireExplicit: expected true or false, found the string \"yes\"",
                r#"actions: unknown key "tags" (did you mean "tag"?)"#,
                "actions.reference \"warn\": the reference rule always denies: an image that does not parse cannot be checked by any other rule",
                r#"actions.source "block": must be one of deny, warn"#,
            ]
        );
    }

    #[test]
    fn the_same_entry_in_allow_and_reject_is_a_problem_after_normalization() {
        let found = problems(json!({
            "registries": {"allow": ["docker.io"], "reject": ["INDEX.docker.io"]},
            "repositories": {"allow": ["nginx"], "reject": ["docker.io/library/nginx"]},
            "images": {"allow": ["busybox:1.36"], "reject": ["registry-1.docker.io/library/busybox:1.36"]}
        }));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with(r#"registries.reject[0] "INDEX.docker.io": the same registry as registries.allow[0] "docker.io""#), "{}", found[0]);
        assert!(found[1].starts_with(r#"repositories.reject[0] "docker.io/library/nginx": the same repository as repositories.allow[0] "nginx""#), "{}", found[1]);
        assert!(found[2].starts_with(r#"images.reject[0] "registry-1.docker.io/library/busybox:1.36": the same image as images.allow[0] "busybox:1.36""#), "{}", found[2]);
    }

    #[test]
    fn the_same_tag_in_allow_and_reject_is_a_problem() {
        assert_eq!(
            problems(json!({"tags": {
                "allow": ["v*", "latest"],
                "reject": ["latest", "Latest"],
                "allowRegex": ["^v\\d+$"],
                "rejectRegex": ["^v\\d+$", "latest"]
            }})),
            vec![
                r#"tags.reject[0] "latest": the same tag glob as tags.allow[1] "latest"; an entry cannot be both allowed and rejected"#,
                r#"tags.rejectRegex[0] "^v\\d+$": the same tag regex as tags.allowRegex[0] "^v\\d+$"; an entry cannot be both allowed and rejected"#,
            ]
        );
    }

    #[test]
    fn a_label_both_required_and_rejected_is_a_problem() {
        assert_eq!(
            problems(json!({"imageMetadata": {
                "requireLabels": {"team": "*", "tier": "backend", "stage": "*"},
                "rejectLabels": {"team": "*", "tier": "backend", "stage": "dev"}
            }})),
            vec![
                r#"imageMetadata.rejectLabels.team "*": rejects the label imageMetadata.requireLabels.team requires ("*"), so every image is a violation; a label cannot be both required and rejected"#,
                r#"imageMetadata.rejectLabels.tier "backend": rejects the label imageMetadata.requireLabels.tier requires ("backend"), so every image is a violation; a label cannot be both required and rejected"#,
            ]
        );
        // Rejecting one value of a required label narrows it: fine.
        assert!(problems(json!({"imageMetadata": {"requireLabels": {"tier": "*"}, "rejectLabels": {"tier": "dev"}}})).is_empty());
    }

    #[test]
    fn insecure_and_secure_entries_for_one_host_are_not_a_conflict() {
        let settings = json!({"registries": {
            "allow": [{"domainName": "reg.corp", "insecure": true}],
            "reject": ["reg.corp"]
        }});
        assert!(problems(settings).is_empty());
    }

    #[test]
    fn object_registry_entries_are_checked() {
        assert_eq!(
            problems(json!({"registries": {"allow": [{"insecure": true}]}})),
            vec![r#"registries.allow[0]: an object entry needs "domainName""#]
        );
        assert_eq!(
            problems(json!({"registries": {"allow": [{"domainName": "a.io", "secure": true}]}})),
            vec![r#"registries.allow[0]: unknown key "secure" (did you mean "insecure"?)"#]
        );
    }

    #[test]
    fn digest_and_image_metadata_settings_compile() {
        let Ok(policy) = compile(&json!({"digests": {"resolve": "Required", "require": true}}))
        else {
            panic!("digest settings refused")
        };
        assert_eq!(policy.digests.resolve, Resolve::Required);
        assert!(policy.digests.require);
        // Their default values are fine.
        assert!(problems(json!({"digests": {"resolve": "Never", "require": false}, "pullPolicy": {}, "imageMetadata": {}})).is_empty());
        let Ok(policy) = compile(&json!({"imageMetadata": {
            "rejectAnnotations": {"images.openshift.io/deny-execution": "true"},
            "rejectLabels": {"stage": "*"},
            "requireLabels": {"team": "*", "tier": "backend"},
            "skipOnResolutionFailure": true
        }})) else {
            panic!("imageMetadata settings refused")
        };
        let md = &policy.image_metadata;
        assert_eq!(
            md.reject_annotations,
            vec![MetadataEntry::new(
                "images.openshift.io/deny-execution",
                "true"
            )]
        );
        assert_eq!(md.reject_labels[0].value, None);
        assert_eq!(
            md.require_labels,
            vec![
                MetadataEntry::new("team", "*"),
                MetadataEntry::new("tier", "backend")
            ]
        );
        assert!(md.skip_on_resolution_failure);
    }

    #[test]
    fn image_metadata_problems_are_named() {
        assert_eq!(
            problems(json!({"imageMetadata": {
                "rejectAnnotation": {},
                "rejectLabels": {"a": true, "": "x"},
                "requireLabels": ["team"],
                "skipOnResolutionFailure": "yes"
            }})),
            vec![
                r#"imageMetadata: unknown key "rejectAnnotation" (did you mean "rejectAnnotations"?)"#,
                "imageMetadata.skipOnResolutionFailure: expected true or false, found the string \"yes\"",
                "imageMetadata.rejectLabels.a: expected a string, found true",
                "imageMetadata.rejectLabels: an empty key matches no annotation or label; name the key",
                "imageMetadata.requireLabels: expected a map of strings, found a list",
            ]
        );
    }

    #[test]
    fn pull_policy_values_are_the_kubernetes_ones() {
        assert_eq!(
            problems(json!({"pullPolicy": {"allow": ["Always", "Sometimes", "ifnotpresent"], "enforceAlways": 1}})),
            vec![
                r#"pullPolicy.allow[1] "Sometimes": must be one of Always, IfNotPresent, Never"#.to_owned(),
                r#"pullPolicy.allow[2] "ifnotpresent": must be one of Always, IfNotPresent, Never (did you mean "IfNotPresent"?)"#.to_owned(),
                "pullPolicy.enforceAlways: expected true or false, found the number 1".to_owned(),
            ]
        );
        let Ok(policy) = compile(
            &json!({"pullPolicy": {"allow": ["Always", "Never"], "requireExplicit": true, "alwaysForUnpinned": true, "enforceAlways": true}}),
        ) else {
            panic!("valid pullPolicy refused")
        };
        assert_eq!(
            policy.pull_policy.allow,
            vec![PullPolicy::Always, PullPolicy::Never]
        );
        assert!(
            policy.pull_policy.require_explicit
                && policy.pull_policy.always_for_unpinned
                && policy.pull_policy.enforce_always
        );
    }

    #[test]
    fn enum_suggestions_cover_case_slips() {
        assert_eq!(
            problems(json!({"digests": {"resolve": "never"}})),
            vec![
                r#"digests.resolve "never": must be one of Never, AttemptRewrite, Required (did you mean "Never"?)"#
            ]
        );
    }

    #[test]
    fn registry_aliases_are_exact_names() {
        assert_eq!(
            problems(json!({"registryAliases": [["a.io", "*.b.io"], "c.io"]})),
            vec![
                r#"registryAliases[0][1] "*.b.io": an alias is an exact registry name, without wildcards"#.to_owned(),
                "registryAliases[1]: expected a list, found the string \"c.io\"".to_owned(),
            ]
        );
    }

    #[test]
    fn long_entries_are_not_echoed_whole() {
        let long = "x".repeat(5000);
        let found = problems(json!({"tags": {"requireExplicit": long}}));
        assert!(found[0].len() < 200, "{}", found[0]);
    }
}
