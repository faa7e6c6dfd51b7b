//! Properties of the core (STYLE §4), checked on generated inputs:
//!
//! * normalizing is idempotent, and parsing a formatted reference gives back
//!   its parts (references generated from the grammar: domains with ports,
//!   IPv6 hosts and Docker Hub's names, path components with every
//!   separator, tags, digests);
//! * a repository pattern matches a repository only at a `/` boundary at or
//!   below it;
//! * adding a reject entry never turns a rejection into an acceptance;
//! * an image matched by an exemption is accepted whatever else the settings
//!   say;
//! * `validate` answers any bytes, and a rejection always says why.
//!
//! Case counts are kept small enough for `cargo test` (a few seconds in a
//! debug build); `make fuzz` runs the open-ended search.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use imagegate_policy::capabilities::Offline;
use imagegate_policy::matcher::registry::Aliases;
use imagegate_policy::matcher::repository::RepositoryPattern;
use imagegate_policy::reference::Reference;
use imagegate_policy::{ValidationResponse, validate, validate_settings};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// References from the grammar

/// A reference as generated: its parts as written, and the string.
#[derive(Debug, Clone)]
struct Written {
    domain: Option<String>,
    path: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl Written {
    fn text(&self) -> String {
        let mut s = String::new();
        if let Some(domain) = &self.domain {
            s.push_str(domain);
            s.push('/');
        }
        s.push_str(&self.path.join("/"));
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }

    /// The normalized registry, by SPEC §1: no domain or one of Docker Hub's
    /// names (on the default port) is `docker.io`.
    fn expected_domain(&self) -> String {
        match &self.domain {
            None => "docker.io".into(),
            Some(d) if is_docker_hub(d) => "docker.io".into(),
            Some(d) => d.clone(),
        }
    }

    fn expected_path(&self) -> String {
        let path = self.path.join("/");
        if self.expected_domain() == "docker.io" && self.path.len() == 1 {
            format!("library/{path}")
        } else {
            path
        }
    }
}

fn is_docker_hub(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !domain.starts_with('[') => (h, Some(p)),
        _ => (domain, None),
    };
    let default_port = port.is_none_or(|p| p.trim_start_matches('0') == "443");
    default_port
        && ["docker.io", "index.docker.io", "registry-1.docker.io"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
}

/// `domain-component`, in either case.
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?"
}

fn port() -> impl Strategy<Value = String> {
    "[0-9]{1,5}"
}

/// Registries that `split_domain` reads as registries: a dotted name, a
/// name with a port, `localhost`, an upper-case name, a bracketed IPv6
/// address (with a `:` inside), or one of Docker Hub's names.
fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop::collection::vec(label(), 2..4),
            prop::option::of(port())
        )
            .prop_map(|(labels, port)| {
                let host = labels.join(".");
                match port {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            }),
        (label(), port()).prop_map(|(l, p)| format!("{l}:{p}")),
        prop::option::of(port()).prop_map(|p| match p {
            Some(p) => format!("localhost:{p}"),
            None => "localhost".into(),
        }),
        "[A-Z][A-Za-z0-9]{0,6}",
        ("[0-9a-f]{0,4}:[0-9a-f:]{0,8}", prop::option::of(port())).prop_map(|(a, p)| match p {
            Some(p) => format!("[{a}]:{p}"),
            None => format!("[{a}]"),
        }),
        (
            select(&["docker.io", "index.docker.io", "Registry-1.Docker.IO"][..]),
            select(&["", ":443", ":0443", ":5000"][..])
        )
            .prop_map(|(h, p)| format!("{h}{p}")),
    ]
}

/// `path-component` with every separator; `dotted: false` leaves `.` out
/// (a first component with a `.` would be read as a registry).
fn path_component(dotted: bool) -> BoxedStrategy<String> {
    if dotted {
        "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}".boxed()
    } else {
        "[a-z0-9]{1,5}((_|__|-{1,3})[a-z0-9]{1,5}){0,2}".boxed()
    }
}

fn tag() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"
}

fn digest() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}")),
        "[0-9a-f]{96}".prop_map(|h| format!("sha384:{h}")),
        "[0-9a-f]{128}".prop_map(|h| format!("sha512:{h}")),
    ]
}

fn written() -> impl Strategy<Value = Written> {
    (
        prop::option::of(domain()),
        path_component(true),
        prop::collection::vec(path_component(true), 0..3),
        prop::option::of(tag()),
        prop::option::of(digest()),
    )
        .prop_map(|(domain, first, rest, tag, digest)| {
            let mut path = vec![first];
            path.extend(rest);
            Written {
                domain,
                path,
                tag,
                digest,
            }
        })
        .prop_flat_map(|w| {
            // Without a registry, a first component with a '.' followed by
            // more components would be a registry: draw one without.
            let first = if w.domain.is_none() && w.path.len() > 1 {
                path_component(false)
            } else {
                Just(w.path[0].clone()).boxed()
            };
            (Just(w), first).prop_map(|(mut w, first)| {
                w.path[0] = first;
                w
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_a_formatted_reference_gives_its_parts(w in written()) {
        let text = w.text();
        let r = Reference::parse(&text);
        prop_assert!(r.is_ok(), "{text:?}: {r:?}");
        let r = r.unwrap();
        prop_assert_eq!(r.domain(), w.expected_domain(), "{:?}", text);
        prop_assert_eq!(r.path(), w.expected_path(), "{:?}", text);
        prop_assert_eq!(r.tag(), w.tag.as_deref());
        prop_assert_eq!(r.digest(), w.digest.as_deref());
        prop_assert_eq!(r.names_registry(), w.domain.is_some());
        prop_assert_eq!(r.is_pinned(), w.digest.is_some());
        let mut shown = format!("{}/{}", w.expected_domain(), w.expected_path());
        if let Some(tag) = &w.tag {
            shown = format!("{shown}:{tag}");
        }
        if let Some(digest) = &w.digest {
            shown = format!("{shown}@{digest}");
        }
        prop_assert_eq!(r.to_string(), shown);
    }

    #[test]
    fn normalizing_is_idempotent(w in written()) {
        let once = Reference::parse(&w.text()).unwrap();
        let twice = Reference::parse(&once.to_string());
        prop_assert_eq!(twice.as_ref(), Ok(&once));
        prop_assert_eq!(twice.unwrap().to_string(), once.to_string());
    }

    #[test]
    fn normalizing_any_string_that_parses_is_idempotent(text in "[a-zA-Z0-9.:/@_\\[\\]-]{1,40}") {
        if let Ok(once) = Reference::parse(&text) {
            let twice = Reference::parse(&once.to_string());
            prop_assert_eq!(twice.as_ref(), Ok(&once), "{:?}", text);
        }
    }
}

// ---------------------------------------------------------------------------
// Repository patterns match at `/` boundaries only

/// Components drawn from a small set, so that prefixes, near misses
/// (`org-evil`, `orgx`) and exact matches all come up often.
fn components() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        select(&["org", "org-evil", "orgx", "team", "app", "a", "o"][..]),
        1..4,
    )
}

/// Pattern components: the same, plus wildcards within a component.
fn pattern_components() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        select(
            &[
                "org", "org-evil", "team", "app", "a", "org*", "*", "o?g", "*x", "o*g",
            ][..],
        ),
        1..4,
    )
}

/// `*` any run, `?` one character: an independent glob for the model.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn registry_without_docker_hub() -> impl Strategy<Value = String> {
    domain().prop_filter("Docker Hub paths get library/", |d| !is_docker_hub(d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn repository_patterns_match_at_slash_boundaries_only(
        registry in registry_without_docker_hub(),
        pattern in pattern_components(),
        image in components(),
    ) {
        let entry = format!("{registry}/{}", pattern.join("/"));
        let compiled = RepositoryPattern::parse(&entry);
        prop_assert!(compiled.is_ok(), "{entry:?}: {compiled:?}");
        let compiled = compiled.unwrap();
        let text = format!("{registry}/{}:1", image.join("/"));
        let r = Reference::parse(&text).unwrap();
        let aliases = Aliases::default();
        let matched = compiled.matches(&aliases.names(r.domain()), r.path());
        // The pattern's components, one for one, at the start of the path.
        let below = image.len() >= pattern.len()
            && pattern.iter().zip(&image).all(|(p, i)| glob(p.as_bytes(), i.as_bytes()));
        prop_assert_eq!(matched, below, "{:?} vs {:?}", entry, text);
    }

    #[test]
    fn an_org_entry_never_matches_a_longer_first_component(
        registry in registry_without_docker_hub(),
        org in path_component(true),
        suffix in "[a-z0-9]{1,4}|-[a-z0-9]{1,4}|_[a-z0-9]{1,4}|\\.[a-z0-9]{1,4}",
        rest in prop::collection::vec(path_component(true), 0..3),
    ) {
        let entry = format!("{registry}/{org}");
        let compiled = RepositoryPattern::parse(&entry).unwrap();
        let mut path = vec![format!("{org}{suffix}")];
        path.extend(rest);
        let text = format!("{registry}/{}", path.join("/"));
        let Ok(r) = Reference::parse(&text) else {
            // `org` + suffix may leave the grammar (`a_` + `_b`); nothing to match then.
            return Ok(());
        };
        let aliases = Aliases::default();
        prop_assert!(!compiled.matches(&aliases.names(r.domain()), r.path()), "{} matched {}", entry, text);
    }
}

// ---------------------------------------------------------------------------
// Settings: rejects only ever reject; exemptions always exempt

const REGISTRIES: &[&str] = &[
    "ghcr.io",
    "docker.io",
    "*.corp.example",
    "quay.io:443",
    "*",
    "registry.k8s.io",
    "*:*",
];
const REPOSITORIES: &[&str] = &[
    "ghcr.io/org",
    "ghcr.io/org/team",
    "nginx",
    "docker.io/library",
    "*.corp.example/team",
    "ghcr.io/org-*",
];
const IMAGES: &[&str] = &[
    "nginx:1.27",
    "nginx",
    "busybox:1.36",
    "ghcr.io/org/app:latest",
    "ghcr.io/org/app:1.*",
    "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];
const TAGS: &[&str] = &["latest", "*-SNAPSHOT", "1.*"];

fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "nginx",
                "nginx:1.27",
                "busybox:1.36",
                "ghcr.io/org/app",
                "ghcr.io/org/team/x:1",
                "ghcr.io/org-evil/x:1",
                "harbor.corp.example/team/app:2",
                "quay.io/a/b:1",
                "registry.k8s.io/pause:3.9",
                "registry-1.docker.io:443/library/nginx:1.27",
                "ghcr.io:0443/org/app:1",
                "GHCR.IO/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "EVILHOST/x",
                "ghcr.io/org/app:1.0-SNAPSHOT",
            ][..]
        )
        .prop_map(str::to_owned),
        written().prop_map(|w| w.text()),
    ]
}

#[derive(Debug, Clone)]
struct Lists {
    registries: (Vec<&'static str>, Vec<&'static str>),
    repositories: (Vec<&'static str>, Vec<&'static str>),
    images: (Vec<&'static str>, Vec<&'static str>),
    tags_reject: Vec<&'static str>,
    tags_allow: Vec<&'static str>,
    short_names_reject: bool,
    digests_require: bool,
    pull_policy_explicit: bool,
    warn: Vec<&'static str>,
}

fn pair(
    pool: &'static [&'static str],
) -> impl Strategy<Value = (Vec<&'static str>, Vec<&'static str>)> {
    (subsequence(pool, 0..3), subsequence(pool, 0..3))
}

fn lists() -> impl Strategy<Value = Lists> {
    (
        pair(REGISTRIES),
        pair(REPOSITORIES),
        pair(IMAGES),
        subsequence(TAGS, 0..2),
        subsequence(TAGS, 0..2),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        subsequence(&["source", "tag", "digest", "shortName"][..], 0..3),
    )
        .prop_map(
            |(
                registries,
                repositories,
                images,
                tags_reject,
                tags_allow,
                short,
                digests,
                pull,
                warn,
            )| Lists {
                registries,
                repositories,
                images,
                tags_reject,
                tags_allow,
                short_names_reject: short,
                digests_require: digests,
                pull_policy_explicit: pull,
                warn,
            },
        )
}

impl Lists {
    fn settings(&self) -> Value {
        let actions: serde_json::Map<String, Value> = self
            .warn
            .iter()
            .map(|r| ((*r).to_owned(), json!("warn")))
            .collect();
        json!({
            "registries": {"allow": self.registries.0, "reject": self.registries.1},
            "repositories": {"allow": self.repositories.0, "reject": self.repositories.1},
            "images": {"allow": self.images.0, "reject": self.images.1},
            "tags": {"reject": self.tags_reject, "allow": self.tags_allow},
            "shortNames": if self.short_names_reject { "reject" } else { "allow" },
            "digests": {"require": self.digests_require},
            "pullPolicy": {"requireExplicit": self.pull_policy_explicit},
            "actions": actions,
        })
    }
}

fn run(settings: &Value, image: &str) -> ValidationResponse {
    let payload = json!({
        "settings": settings,
        "request": {"uid": "p", "operation": "CREATE", "kind": {"kind": "Pod"},
                    "object": {"spec": {"containers": [{"name": "c", "image": image}]}}}
    });
    validate(&serde_json::to_vec(&payload).unwrap(), &Offline)
}

/// The image's name without tag and digest, as an exemption would write it.
fn bare_name(image: &str) -> String {
    let r = Reference::parse(image).unwrap();
    format!("{}/{}", r.domain(), r.path())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_a_reject_entry_never_accepts_what_was_rejected(
        lists in lists(),
        image in image(),
        list in select(&["registries", "repositories", "images"][..]),
        which in any::<prop::sample::Index>(),
    ) {
        // About valid settings: invalid ones reject every request, and a
        // reject entry can make them valid (one that narrows a registry
        // allow entry makes a repository allow entry under it reachable).
        prop_assume!(validate_settings(lists.settings().to_string().as_bytes()).valid);
        let before = run(&lists.settings(), &image);
        let pool = match list {
            "registries" => REGISTRIES,
            "repositories" => REPOSITORIES,
            _ => IMAGES,
        };
        let entry = pool[which.index(pool.len())];
        let mut settings = lists.settings();
        settings[list]["reject"].as_array_mut().unwrap().push(json!(entry));
        let after = run(&settings, &image);
        if !before.accepted {
            prop_assert!(!after.accepted, "{image:?}: rejecting {entry:?} in {list} accepted it\n{settings}");
        }
    }

    #[test]
    fn an_exempt_image_is_accepted_whatever_else_the_settings_say(
        lists in lists(),
        image in image(),
        bare in any::<bool>(),
    ) {
        let mut settings = lists.settings();
        prop_assume!(validate_settings(settings.to_string().as_bytes()).valid);
        let exemption = if bare { bare_name(&image) } else { image.clone() };
        settings["exemptImages"] = json!([exemption]);
        let response = run(&settings, &image);
        prop_assert!(response.accepted, "{image:?} exempt as {exemption:?}: {:?}\n{settings}", response.message);
        prop_assert_eq!(response.warnings, None);
    }

    #[test]
    fn validate_answers_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let response = validate(&bytes, &Offline);
        prop_assert!(response.accepted || response.message.as_deref().is_some_and(|m| !m.is_empty()));
    }

    #[test]
    fn validate_answers_any_json_like_text(text in "[{}\\[\\]\":, a-z0-9.@/\\\\]{0,120}") {
        for payload in [
            text.clone(),
            format!(r#"{{"request": {{"operation": "CREATE", "kind": {{"kind": "Pod"}}, "object": {text}}}}}"#),
            format!(r#"{{"request": {{"operation": "CREATE", "kind": {{"kind": "Pod"}}, "object": {{"spec": {{"containers": [{text}]}}}}}}}}"#),
        ] {
            let response = validate(payload.as_bytes(), &Offline);
            prop_assert!(response.accepted || response.message.as_deref().is_some_and(|m| !m.is_empty()), "{payload}");
        }
    }

    #[test]
    fn every_rejection_of_a_pod_says_why(lists in lists(), image in image()) {
        let response = run(&lists.settings(), &image);
        if !response.accepted {
            prop_assert!(response.message.as_deref().is_some_and(|m| !m.is_empty()));
        }
    }
}
