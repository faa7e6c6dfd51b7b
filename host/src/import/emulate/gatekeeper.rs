//! Gatekeeper's library templates, as their Rego evaluates an image string
//! (gatekeeper-library `library/general/allowedrepos`, `disallowedtags`,
//! `imagedigests`, and `lib/exempt_container.rego`).

use serde_json::Value;

use super::{OldVerdict, string_list};
use crate::import::ReposMatch;

/// `exempt_container`: an entry ending in `*` is a prefix, else exact.
fn exempt(exemptions: &[String], image: &str) -> bool {
    exemptions.iter().any(|e| match e.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => image == e,
    })
}

/// Whether the text after a matched prefix starts at a name boundary.
fn at_boundary(prefix: &str, image: &str) -> bool {
    prefix.ends_with('/')
        || image.len() == prefix.len()
        || image[prefix.len()..].starts_with(['/', ':', '@'])
}

/// The K8sImageDigests pattern `@[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`,
/// unanchored.
pub fn has_digest(image: &str) -> bool {
    image.match_indices('@').any(|(at, _)| {
        let rest = &image[at + 1..];
        let Some(colon) = rest.find(':') else {
            return false;
        };
        let algorithm = &rest[..colon];
        let components_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        let hex = &rest[colon + 1..];
        components_ok
            && hex
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
    })
}

/// Every constraint of the file; the image is denied when a constraint
/// with enforcementAction deny (the default) fails it.
pub fn evaluate(documents: &[Value], mode: ReposMatch, image: &str) -> OldVerdict {
    let mut warned = Vec::new();
    for constraint in documents {
        let kind = constraint.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = constraint
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let action = constraint
            .pointer("/spec/enforcementAction")
            .and_then(Value::as_str)
            .unwrap_or("deny");
        if exempt(
            &string_list(constraint, "/spec/parameters/exemptImages"),
            image,
        ) {
            continue;
        }
        let failure: Option<(String, Option<&'static str>)> = match kind {
            "K8sAllowedRepos" => {
                let repos = string_list(constraint, "/spec/parameters/repos");
                let hit = repos.iter().find(|r| match mode {
                    ReposMatch::Startswith => image.starts_with(r.as_str()),
                    ReposMatch::Contains => image.contains(r.as_str()),
                });
                match hit {
                    Some(_) => None,
                    None => Some((format!("{kind}/{name}: no repos entry matches"), None)),
                }
            }
            "K8sDisallowedTags" => {
                let tags = string_list(constraint, "/spec/parameters/tags");
                if let Some(tag) = tags.iter().find(|t| image.ends_with(&format!(":{t}"))) {
                    let pinned = image.contains('@');
                    Some((
                        format!("{kind}/{name}: tag {tag} is disallowed"),
                        pinned.then_some("pinned-images"),
                    ))
                } else if !image.contains(':') {
                    Some((format!("{kind}/{name}: no tag"), None))
                } else {
                    None
                }
            }
            "K8sImageDigests" => {
                (!has_digest(image)).then(|| (format!("{kind}/{name}: no digest"), None))
            }
            _ => None,
        };
        if let Some((why, quirk)) = failure {
            if action == "deny" {
                return OldVerdict::deny(why, quirk);
            }
            warned.push(why);
        }
    }
    // Admitted: say by which quirk, when one decided.
    for constraint in documents
        .iter()
        .filter(|c| c.get("kind").and_then(Value::as_str) == Some("K8sAllowedRepos"))
    {
        if exempt(
            &string_list(constraint, "/spec/parameters/exemptImages"),
            image,
        ) {
            let prefix_exempt = string_list(constraint, "/spec/parameters/exemptImages")
                .iter()
                .any(|e| {
                    e.strip_suffix('*')
                        .is_some_and(|p| image.starts_with(p) && !at_boundary(p, image))
                });
            if prefix_exempt {
                return OldVerdict::allow(
                    "exempt by a prefix that crossed a name boundary",
                    Some("prefix-boundary"),
                );
            }
            continue;
        }
        for repo in string_list(constraint, "/spec/parameters/repos") {
            let quirk = match mode {
                ReposMatch::Startswith if image.starts_with(&repo) => {
                    (!at_boundary(&repo, image)).then_some("prefix-boundary")
                }
                ReposMatch::Contains if image.contains(&repo) => {
                    if !image.starts_with(&repo) {
                        Some("substring")
                    } else {
                        (!at_boundary(&repo, image)).then_some("prefix-boundary")
                    }
                }
                _ => continue,
            };
            return OldVerdict::allow(format!("repos entry \"{repo}\" matches"), quirk);
        }
    }
    let why = if warned.is_empty() {
        "no constraint denies it".to_owned()
    } else {
        format!("only warned: {}", warned.join("; "))
    };
    // "Has a tag" was a ":" anywhere: localhost:5000/app passed untagged.
    let last = image.rsplit('/').next().unwrap_or(image);
    let untagged = image.contains(':') && !last.contains(':') && !image.contains('@');
    let checks_tags = documents
        .iter()
        .any(|c| c.get("kind").and_then(Value::as_str) == Some("K8sDisallowedTags"));
    OldVerdict::allow(why, (untagged && checks_tags).then_some("explicit-tag"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repos(list: &[&str]) -> Vec<Value> {
        vec![
            json!({"kind": "K8sAllowedRepos", "metadata": {"name": "r"}, "spec": {"parameters": {"repos": list}}}),
        ]
    }

    // gatekeeper-library allowedrepos test suite: "openpolicyagent/" admits
    // openpolicyagent/opa:0.9.2, refuses nginx.
    #[test]
    fn allowed_repos_as_the_library_tests_it() {
        let docs = repos(&["openpolicyagent/"]);
        assert!(evaluate(&docs, ReposMatch::Startswith, "openpolicyagent/opa:0.9.2").allowed);
        assert!(!evaluate(&docs, ReposMatch::Startswith, "nginx").allowed);
        assert!(
            !evaluate(
                &docs,
                ReposMatch::Startswith,
                "docker.io/openpolicyagent/opa"
            )
            .allowed
        );
        let docs = repos(&["ghcr.io/org"]);
        let v = evaluate(&docs, ReposMatch::Startswith, "ghcr.io/org-evil/x");
        assert_eq!((v.allowed, v.quirk), (true, Some("prefix-boundary")));
        let v = evaluate(&docs, ReposMatch::Contains, "evil.io/ghcr.io/org/x");
        assert_eq!((v.allowed, v.quirk), (true, Some("substring")));
    }

    // disallowedtags samples: tags ["latest"]; an image without ":" fails.
    #[test]
    fn disallowed_tags_as_the_library_tests_it() {
        let docs = vec![
            json!({"kind": "K8sDisallowedTags", "spec": {"parameters": {"tags": ["latest"], "exemptImages": ["openpolicyagent/opa-exp:latest"]}}}),
        ];
        assert!(!evaluate(&docs, ReposMatch::Startswith, "openpolicyagent/opa:latest").allowed);
        assert!(!evaluate(&docs, ReposMatch::Startswith, "openpolicyagent/opa").allowed);
        assert!(
            evaluate(
                &docs,
                ReposMatch::Startswith,
                "openpolicyagent/opa-exp:latest"
            )
            .allowed
        );
        assert!(evaluate(&docs, ReposMatch::Startswith, "localhost:5000/app").allowed);
    }

    #[test]
    fn image_digests_regex() {
        assert!(has_digest("app@sha256:abc"));
        assert!(has_digest(
            "app@sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
        ));
        assert!(!has_digest("app:1"));
        assert!(!has_digest("app@:abc"));
    }
}
