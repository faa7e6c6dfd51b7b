//! Reading the policy's verdict text back into violations.
//!
//! The module writes each violation (SPEC §4, `policy/src/verdict.rs`) as
//!
//! ```text
//! path "image" (normalized): reason [rule]
//! ```
//!
//! where `"image"` is a JSON string (left out when the container has no
//! image), `(normalized)` is left out when it is what was written, and a
//! rejection message is `N image violation(s): v1; v2; ...`. Reasons are free
//! text: they can hold `; `, quotes, brackets, even `[rule]; ` (a registry's
//! error message, a settings pattern). So items are not split on `; ` blindly:
//! an item ends at ` [rule]` (a known rule id) that is followed by the end of
//! the message or by `; ` and the start of another item (a field path, then
//! ` "` or `: `), and the split must give exactly N items. When several
//! splits would, the one with the shortest reasons first wins; when none
//! does, the message is not in this format and is kept whole.

use std::collections::HashSet;

/// The rule ids of SPEC §2.9, as messages write them.
pub const RULE_IDS: [&str; 8] = [
    "reference",
    "shortName",
    "source",
    "tag",
    "digest",
    "pullPolicy",
    "imageMetadata",
    "signature",
];

/// One violation as the policy wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON field path, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The image as written; `None` when the container has no image.
    pub image: Option<String>,
    /// The normalized reference; `None` when the image does not parse (or
    /// there is none).
    pub normalized: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The rule id.
    pub rule: String,
}

impl Violation {
    /// The violation in the policy's own words (the inverse of parsing).
    pub fn render(&self) -> String {
        let mut text = self.path.clone();
        if let Some(image) = &self.image {
            text.push(' ');
            text.push_str(&serde_json::Value::String(image.clone()).to_string());
            if let Some(normalized) = self.normalized.as_ref().filter(|n| *n != image) {
                text.push_str(&format!(" ({normalized})"));
            }
        }
        text.push_str(&format!(": {} [{}]", self.reason, self.rule));
        text
    }
}

/// The violations of a rejection message `N image violation(s): ...`;
/// `None` when the message is not in that form.
pub fn parse_rejection(message: &str) -> Option<Vec<Violation>> {
    let digits = message.bytes().take_while(u8::is_ascii_digit).count();
    let count: usize = message.get(..digits)?.parse().ok()?;
    let rest = message.get(digits..)?;
    let body = rest
        .strip_prefix(" image violations: ")
        .or_else(|| rest.strip_prefix(" image violation: "))?;
    if count == 0 {
        return None;
    }
    Splitter::new(body).split(0, count)
}

/// One violation (an admission warning); `None` when it is not in the form.
pub fn parse_violation(text: &str) -> Option<Violation> {
    Splitter::new(text).split(0, 1)?.pop()
}

/// The start of an item: the field path, the image and the normalized form;
/// where the reason starts.
struct Head {
    path: String,
    image: Option<String>,
    normalized: Option<String>,
    reason_start: usize,
}

/// Characters of a field path (`spec.volumes[0].image.reference`).
fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'[' | b']' | b'_' | b'-')
}

/// Reads an item's head at `at`: `path`, then ` "image"` (a JSON string) and
/// ` (normalized)`, then `: `.
fn head(text: &str, at: usize) -> Option<Head> {
    let bytes = text.as_bytes();
    let rest = bytes.get(at..)?;
    if !rest.first()?.is_ascii_alphabetic() {
        return None;
    }
    let path_len = rest.iter().take_while(|c| is_path_char(**c)).count();
    let path = text.get(at..at + path_len)?.to_owned();
    let mut pos = at + path_len;
    let mut image = None;
    let mut normalized = None;
    if text.get(pos..)?.starts_with(" \"") {
        let start = pos + 1;
        let end = json_string_end(bytes, start)?;
        image = Some(serde_json::from_str::<String>(text.get(start..end)?).ok()?);
        pos = end;
        if text.get(pos..)?.starts_with(" (") {
            let inner = pos + 2;
            let close = inner + text.get(inner..)?.find(')')?;
            let written = text.get(inner..close)?;
            if written.is_empty() || written.contains(char::is_whitespace) {
                return None;
            }
            normalized = Some(written.to_owned());
            pos = close + 1;
        }
    }
    if !text.get(pos..)?.starts_with(": ") {
        return None;
    }
    Some(Head {
        path,
        image,
        normalized,
        reason_start: pos + 2,
    })
}

/// The end (one past the closing quote) of the JSON string at `start`.
fn json_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Splits a message body into items, by depth-first search over the places
/// an item can end, remembering the (position, items left) that failed.
struct Splitter<'a> {
    text: &'a str,
    failed: HashSet<(usize, usize)>,
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str) -> Splitter<'a> {
        Splitter {
            text,
            failed: HashSet::new(),
        }
    }

    /// Exactly `count` items from `at` to the end of the text.
    fn split(&mut self, at: usize, count: usize) -> Option<Vec<Violation>> {
        if count == 0 || self.failed.contains(&(at, count)) {
            return None;
        }
        let found = self.try_split(at, count);
        if found.is_none() {
            self.failed.insert((at, count));
        }
        found
    }

    fn try_split(&mut self, at: usize, count: usize) -> Option<Vec<Violation>> {
        let head = head(self.text, at)?;
        let text = self.text;
        let mut search = head.reason_start;
        while let Some(found) = text.get(search..).and_then(|t| t.find(" [")) {
            let bracket = search + found;
            search = bracket + 1;
            let Some(rule) = rule_at(text, bracket + 2) else {
                continue;
            };
            let end = bracket + 2 + rule.len() + 1;
            let violation = || Violation {
                path: head.path.clone(),
                image: head.image.clone(),
                normalized: head.normalized.clone().or_else(|| {
                    // Left out because it equals the image, unless the image
                    // does not parse (only `reference` reports those).
                    head.image.clone().filter(|_| rule != "reference")
                }),
                reason: text
                    .get(head.reason_start..bracket)
                    .unwrap_or_default()
                    .to_owned(),
                rule: rule.to_owned(),
            };
            if end == text.len() {
                if count == 1 {
                    return Some(vec![violation()]);
                }
                continue;
            }
            if count > 1
                && text.get(end..).is_some_and(|t| t.starts_with("; "))
                && let Some(mut rest) = self.split(end + 2, count - 1)
            {
                rest.insert(0, violation());
                return Some(rest);
            }
        }
        None
    }
}

/// The known rule id written at `at` and closed by `]`.
fn rule_at(text: &str, at: usize) -> Option<&'static str> {
    let rest = text.get(at..)?;
    RULE_IDS
        .iter()
        .find(|id| rest.strip_prefix(**id).is_some_and(|r| r.starts_with(']')))
        .copied()
}

/// The one-line fix for a violation of `rule` at `path` with `reason`: one
/// that would change the verdict. Chosen by the reason, since one rule
/// fails in several ways (a `repositories.reject` hit is not cured by
/// `registries.allow`); a reason this host does not know (an empty one for
/// SARIF's rule descriptions) gets the rule's general help.
pub fn fix(rule: &str, reason: &str, path: &str) -> String {
    specific_fix(rule, reason, path).unwrap_or_else(|| general_fix(rule).to_owned())
}

/// The rule's help whatever the reason.
fn general_fix(rule: &str) -> &'static str {
    match rule {
        "source" => "use an image the registries, repositories and images settings allow",
        "tag" => "use an allowed tag, or pin the image by digest",
        "reference" => "write a valid image reference: [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]",
        "shortName" => "write the image's registry in full",
        "digest" => "pin the image by digest: name:tag@sha256:<digest>",
        "pullPolicy" => "set the pull policy as the pullPolicy settings require",
        "imageMetadata" => {
            "use an image whose labels and annotations the imageMetadata settings accept"
        }
        "signature" => "use an image signed as the signatures settings require",
        _ => "see the reason",
    }
}

/// The fix for one known reason of `rule`, `None` for others.
fn specific_fix(rule: &str, reason: &str, path: &str) -> Option<String> {
    // An untagged image's tag reason starts by saying where `latest` came
    // from ("no tag was written, so the runtime pulls latest; tag latest is
    // rejected"): the fix depends on what follows.
    let (untagged, reason) = match reason.split_once("; ") {
        Some((implied, rest)) if implied.starts_with("no tag was written") => (true, rest),
        _ => (false, reason),
    };
    let has = |text: &str| reason.contains(text);
    let fix = match rule {
        "source" if rejected_by(reason).is_some() => {
            let list = rejected_by(reason).unwrap_or_default();
            return Some(format!(
                "use an image that {list} does not match, or remove the matching entry from {list}"
            ));
        }
        "source" if reason.starts_with("registry ") && has(" is not trusted") => {
            "use an image from a trusted registry, or add its registry to registries.allow"
        }
        "source" if has(" is not trusted") => {
            "use an image from a trusted source, or add its registry, repository or image to \
             registries.allow, repositories.allow or images.allow"
        }
        "tag" if has("no tag is written") || (untagged && has("write a tag or a digest")) => {
            "write a tag (or a digest) on the image: without one the runtime pulls latest"
        }
        "tag" if reason.starts_with("tag ") && has(" is rejected") => {
            "use a tag that tags.reject does not match, or pin the image by digest"
        }
        "tag" if reason.starts_with("tag ") && has(" is not allowed") => {
            "use a tag that tags.allow matches, or pin the image by digest"
        }
        "reference" if has(" has no image") => "give the container an image",
        "reference" if has("invalid image reference") => {
            "write a valid image reference: [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]"
        }
        "shortName" if has("names no registry") => {
            "write the image's registry in full, as the reason shows"
        }
        "digest" if has("could not be resolved") || has("resolving its digest failed") => {
            "pin the image by digest (name:tag@sha256:<digest>), or make the registry reachable \
             and the tag exist so that its digest resolves"
        }
        "digest" if has("not pinned to a digest") => {
            "pin the image by digest: name:tag@sha256:<digest>"
        }
        "pullPolicy" => {
            let field = if path.ends_with(".image.pullPolicy") {
                "the image volume's pullPolicy"
            } else {
                "imagePullPolicy"
            };
            let what = if has(" is not one of ") {
                "to one of Always, IfNotPresent, Never"
            } else if has("must be Always") {
                "to Always, or pin the image by digest"
            } else if has(" is not allowed") {
                "to one of the allowed values"
            } else if has(" sets no ") {
                "explicitly"
            } else {
                return None;
            };
            return Some(format!("set {field} {what}"));
        }
        "imageMetadata" if has("could not be read") => {
            "make the image's manifest and config readable from the registry, or set \
             imageMetadata.skipOnResolutionFailure"
        }
        "imageMetadata" if has(" is missing") || has("is not the required value") => {
            "use an image built with the label value imageMetadata.requireLabels asks for"
        }
        "imageMetadata" if has(" is rejected") => {
            "use an image without the label or annotation that imageMetadata.rejectLabels or \
             imageMetadata.rejectAnnotations matches"
        }
        "signature" if has("pinned to") || has("the tag moved") => {
            "pin the image by the digest its signatures were made for"
        }
        "signature" if has("is not signed as") => {
            "use an image signed as that signatures requirement says (e.g. cosign sign), or name \
             its actual signer in the requirement"
        }
        _ => return None,
    };
    Some(fix.to_owned())
}

/// `repositories.reject` in `… is rejected by repositories.reject "…"`.
fn rejected_by(reason: &str) -> Option<&str> {
    let (_, after) = reason.split_once(" is rejected by ")?;
    let entry = after.split(' ').next()?;
    // `images.reject[0]`: the list, without the index.
    let list = entry.split('[').next()?;
    list.ends_with(".reject").then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(
        path: &str,
        image: Option<&str>,
        normalized: Option<&str>,
        reason: &str,
        rule: &str,
    ) -> Violation {
        Violation {
            path: path.into(),
            image: image.map(Into::into),
            normalized: normalized.map(Into::into),
            reason: reason.into(),
            rule: rule.into(),
        }
    }

    #[test]
    fn the_spec_example() {
        let message = "2 image violations: spec.template.spec.containers[0].image \"nginx:1.27\" \
                       (docker.io/library/nginx:1.27): registry docker.io is not trusted \
                       (trusted: ghcr.io, harbor.corp.example) [source]; \
                       spec.template.spec.initContainers[0].image \"ghcr.io/org/init:latest\": \
                       tag latest is rejected [tag]";
        assert_eq!(
            parse_rejection(message),
            Some(vec![
                v(
                    "spec.template.spec.containers[0].image",
                    Some("nginx:1.27"),
                    Some("docker.io/library/nginx:1.27"),
                    "registry docker.io is not trusted (trusted: ghcr.io, harbor.corp.example)",
                    "source"
                ),
                v(
                    "spec.template.spec.initContainers[0].image",
                    Some("ghcr.io/org/init:latest"),
                    Some("ghcr.io/org/init:latest"),
                    "tag latest is rejected",
                    "tag"
                ),
            ])
        );
    }

    #[test]
    fn reasons_with_semicolons_and_quotes() {
        let message = "2 image violations: spec.containers[0].imagePullPolicy \"ghcr.io/org/app:1.0\": \
                       container \"app\" sets no imagePullPolicy (the API server would default it \
                       to IfNotPresent); set imagePullPolicy explicitly [pullPolicy]; \
                       spec.volumes[0].image.pullPolicy \"ghcr.io/org/models:1\": image volume \
                       \"models\" sets no pullPolicy; set pullPolicy explicitly [pullPolicy]";
        let parsed = parse_rejection(message).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].reason,
            "container \"app\" sets no imagePullPolicy (the API server would default it to \
             IfNotPresent); set imagePullPolicy explicitly"
        );
        assert_eq!(parsed[1].path, "spec.volumes[0].image.pullPolicy");
    }

    #[test]
    fn a_reason_that_looks_like_the_next_item() {
        // A registry error that quotes something shaped like a violation: the
        // count decides that it is one item.
        let message = "1 image violation: spec.containers[0].image \"a/b:1\" (docker.io/a/b:1): the \
                       digest could not be resolved: registry said \"x [tag]; spec.containers[1].image \
                       \"c\": d [source]\" [digest]";
        let parsed = parse_rejection(message).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].rule, "digest");
        assert!(
            parsed[0].reason.ends_with("d [source]\""),
            "{}",
            parsed[0].reason
        );
        // With a count of two, the shortest first reason wins.
        let two = message.replacen("1 image violation:", "2 image violations:", 1);
        let parsed = parse_rejection(&two).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].rule, "tag");
        assert_eq!(parsed[1].path, "spec.containers[1].image");
        assert_eq!(parsed[1].image.as_deref(), Some("c"));
        assert_eq!(
            (parsed[1].reason.as_str(), parsed[1].rule.as_str()),
            ("d [source]\"", "digest")
        );
    }

    #[test]
    fn images_with_separators_and_escapes() {
        let message = "2 image violations: spec.containers[0].image \"a; b [tag]; c\\\"d\\\\\": \
                       invalid reference format [reference]; spec.containers[1].image \" \": \
                       invalid reference format [reference]";
        let parsed = parse_rejection(message).unwrap();
        assert_eq!(parsed[0].image.as_deref(), Some("a; b [tag]; c\"d\\"));
        assert_eq!(parsed[0].normalized, None);
        assert_eq!(parsed[1].image.as_deref(), Some(" "));
        for violation in &parsed {
            assert!(message.contains(&violation.render()));
        }
    }

    #[test]
    fn a_container_without_an_image() {
        let message = "1 image violation: spec.template.spec.containers[0].image: container \
                       \"noimage\" has no image [reference]";
        assert_eq!(
            parse_rejection(message),
            Some(vec![v(
                "spec.template.spec.containers[0].image",
                None,
                None,
                "container \"noimage\" has no image",
                "reference"
            )])
        );
    }

    #[test]
    fn brackets_in_reasons_and_unknown_rules() {
        let message = "1 image violation: spec.containers[0].image \"[::1]:5000/app\": registry \
                       [::1]:5000 is rejected [by registries.reject] [source]";
        let parsed = parse_rejection(message).unwrap();
        assert_eq!(
            parsed[0].reason,
            "registry [::1]:5000 is rejected [by registries.reject]"
        );
        assert_eq!(parsed[0].normalized.as_deref(), Some("[::1]:5000/app"));
        assert_eq!(
            parse_rejection("1 image violation: spec.x \"a\": b [nope]"),
            None
        );
    }

    #[test]
    fn other_messages_are_not_violations() {
        for message in [
            "",
            "spec.template.spec.containers must be an array, found a string",
            "0 image violations: ",
            "2 image violations: spec.containers[0].image \"a\": b [tag]",
            "1 image violation: spec.containers[0].image \"a\": b [tag]; extra",
            "1 image violation: spec.containers[0].image \"unterminated: b [tag]",
            "x image violations: a: b [tag]",
        ] {
            assert_eq!(parse_rejection(message), None, "{message}");
        }
    }

    #[test]
    fn warnings_are_single_violations() {
        let warning = "spec.containers[0].image \"nginx\" (docker.io/library/nginx:latest): the \
                       image has no tag; it runs as latest [tag]";
        let parsed = parse_violation(warning).unwrap();
        assert_eq!(parsed.reason, "the image has no tag; it runs as latest");
        assert_eq!(parsed.render(), warning);
        assert_eq!(parse_violation("just words"), None);
    }

    /// Every expected message and warning of testdata/cases reads back into
    /// violations that render to the same text.
    #[test]
    fn every_case_message_round_trips() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/cases");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let case: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let expect = &case["expect"];
            if let Some(message) = expect["message"].as_str()
                && message.contains(" image violation")
            {
                let parsed = parse_rejection(message)
                    .unwrap_or_else(|| panic!("{}: {message}", path.display()));
                let rendered: Vec<String> = parsed.iter().map(Violation::render).collect();
                let body = message.split_once(": ").unwrap().1;
                assert_eq!(rendered.join("; "), body, "{}", path.display());
                checked += 1;
            }
            for warning in expect["warnings"].as_array().into_iter().flatten() {
                let warning = warning.as_str().unwrap();
                let parsed = parse_violation(warning)
                    .unwrap_or_else(|| panic!("{}: {warning}", path.display()));
                assert_eq!(parsed.render(), warning);
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} messages checked");
    }

    /// Each rule id and reason the policy writes (policy/src/rules), with
    /// the part of the fix that changes the verdict.
    const REASONS: [(&str, &str, &str, &str); 25] = [
        (
            "source",
            "spec.containers[0].image",
            "registry docker.io is not trusted (trusted: ghcr.io)",
            "registries.allow",
        ),
        (
            "source",
            "spec.containers[0].image",
            "repository docker.io/library/nginx is not trusted (trusted: repositories ghcr.io/org/*)",
            "repositories.allow",
        ),
        (
            "source",
            "spec.containers[0].image",
            "registry docker.io is rejected by registries.reject \"docker.io\"",
            "registries.reject does not match",
        ),
        (
            "source",
            "spec.containers[0].image",
            "repository ghcr.io/evil/app is rejected by repositories.reject \"ghcr.io/evil/*\" (it \
          also matches registries.allow \"ghcr.io\"; reject wins a tie)",
            "repositories.reject does not match",
        ),
        (
            "source",
            "spec.containers[0].image",
            "image is rejected by images.reject \"ghcr.io/org/app:1\"",
            "images.reject does not match",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "tag latest is rejected",
            "tags.reject does not match",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "tag dev-1 is rejected (matches \"dev-*\")",
            "tags.reject",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "tag 1.0 is not allowed (allowed: \"v*\")",
            "tags.allow matches",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "no tag is written, so the image runs as latest; write a tag or a digest",
            "write a tag",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "no tag was written, so the runtime pulls latest; write a tag or a digest",
            "write a tag",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "no tag was written, so the runtime pulls latest; tag latest is rejected",
            "tags.reject does not match",
        ),
        (
            "tag",
            "spec.containers[0].image",
            "no tag was written, so the runtime pulls latest; tag latest is not allowed (allowed: \"v*\")",
            "tags.allow matches",
        ),
        (
            "reference",
            "spec.containers[0].image",
            "invalid image reference: bad",
            "valid image",
        ),
        (
            "reference",
            "spec.containers[0].image",
            "container \"app\" has no image",
            "give the container an image",
        ),
        (
            "shortName",
            "spec.containers[0].image",
            "the image names no registry; write it in full, e.g. \"docker.io/library/nginx\"",
            "registry in full",
        ),
        (
            "digest",
            "spec.containers[0].image",
            "the image is not pinned to a digest; write it as name:tag@sha256:<digest>",
            "pin",
        ),
        (
            "digest",
            "spec.containers[0].image",
            "the digest of docker.io/library/nginx:1 could not be resolved: down",
            "reachable",
        ),
        (
            "pullPolicy",
            "spec.containers[0].imagePullPolicy",
            "container \"app\" sets no imagePullPolicy (the API server would default it to \
          IfNotPresent); set imagePullPolicy explicitly",
            "set imagePullPolicy explicitly",
        ),
        (
            "pullPolicy",
            "spec.volumes[0].image.pullPolicy",
            "image volume \"m\" sets no pullPolicy (the API server would default it to \
          IfNotPresent); set pullPolicy explicitly",
            "set the image volume's pullPolicy",
        ),
        (
            "pullPolicy",
            "spec.containers[0].imagePullPolicy",
            "the image is not pinned to a digest, so imagePullPolicy must be Always, not \
          IfNotPresent",
            "to Always, or pin",
        ),
        (
            "imageMetadata",
            "spec.containers[0].image",
            "the metadata of ghcr.io/org/app:1 could not be read: down",
            "skipOnResolutionFailure",
        ),
        (
            "imageMetadata",
            "spec.containers[0].image",
            "image config label stage=\"dev\" is rejected",
            "rejectLabels",
        ),
        (
            "imageMetadata",
            "spec.containers[0].image",
            "required image config label org.opencontainers.image.source is missing",
            "requireLabels",
        ),
        (
            "signature",
            "spec.containers[0].image",
            "the image is not signed as signatures[0] requires (keys[0]): Image verification \
          failed: missing signatures",
            "signed as that signatures requirement says",
        ),
        (
            "signature",
            "spec.containers[0].image",
            "the host verified the signatures of sha256:b, but the image is pinned to sha256:a",
            "pin the image by the digest",
        ),
    ];

    #[test]
    fn every_reason_has_a_fix_that_changes_the_verdict() {
        for (rule, path, reason, expected) in REASONS {
            let fix = specific_fix(rule, reason, path);
            assert!(
                fix.as_deref().is_some_and(|f| f.contains(expected)),
                "{rule} / {reason}: {fix:?} should say {expected:?}"
            );
        }
        // The issue's example: a reject hit never suggests an allow list.
        let reject_fix = fix(
            "source",
            "repository ghcr.io/evil/app is rejected by \
            repositories.reject \"ghcr.io/evil/*\"",
            "spec.containers[0].image",
        );
        assert!(!reject_fix.contains(".allow"), "{reject_fix}");
        for rule in RULE_IDS {
            assert!(
                REASONS.iter().any(|r| r.0 == rule),
                "no reason tested for {rule}"
            );
            assert_ne!(fix(rule, "", ""), "see the reason", "{rule}");
        }
    }

    /// Every violation the cases expect gets a fix chosen by its reason, not
    /// the rule's general help: a new reason in the policy fails here until
    /// it has one.
    #[test]
    fn every_case_violation_has_a_specific_fix() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/cases");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let case: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let expect = &case["expect"];
            let mut violations = expect["message"]
                .as_str()
                .and_then(parse_rejection)
                .unwrap_or_default();
            violations.extend(
                expect["warnings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w.as_str().and_then(parse_violation)),
            );
            for v in violations {
                assert!(
                    specific_fix(&v.rule, &v.reason, &v.path).is_some(),
                    "{}: no fix for [{}] {}",
                    path.display(),
                    v.rule,
                    v.reason
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} violations checked");
    }
}
