//! Gatekeeper constraints of the gatekeeper-library templates:
//! `K8sAllowedRepos`, `K8sDisallowedTags`, `K8sImageDigests`.
//!
//! How the templates decide (gatekeeper-library, `library/general/*/template.yaml`):
//! - K8sAllowedRepos: an image passes when `startswith(image, repo)` for some
//!   entry of `parameters.repos`, on the image string as written. The older
//!   template (and Rancher's copy) used `contains(image, repo)`.
//! - K8sDisallowedTags: an image fails when it ends with `:TAG` for an entry
//!   of `parameters.tags`, or when it contains no `:` at all.
//! - K8sImageDigests: an image fails unless it matches
//!   `@[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
//! - `parameters.exemptImages`: an entry ending in `*` exempts every image
//!   that starts with the rest; any other entry exempts that exact string.
//!   The exemption is per constraint.

use serde_json::{Map, Value, json};

use super::{Import, ReposMatch, strings};

/// The constraint kinds read.
pub const KINDS: [&str; 3] = ["K8sAllowedRepos", "K8sDisallowedTags", "K8sImageDigests"];

/// Whether the first component of an image names a registry (the
/// reference grammar's rule).
pub fn names_registry(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// What one `repos` entry becomes.
#[derive(Debug, PartialEq, Eq)]
pub struct Translation {
    /// `registries.allow`, ...
    pub section: &'static str,
    /// The pattern.
    pub pattern: String,
    /// Reason id and message when the meaning changes.
    pub change: Option<(&'static str, String)>,
}

/// A `repos` entry as imagegate allow entries.
pub fn translate_repo(repo: &str, mode: ReposMatch) -> Result<Translation, String> {
    let mut translation = translate_prefix(repo)?;
    if mode == ReposMatch::Contains {
        let message = format!(
            "contains() admitted every image with \"{repo}\" anywhere in it (e.g. \
             evil.example/{repo}x); imagegate matches the parsed name from its registry"
        );
        translation.change = Some(match translation.change {
            Some((_, old)) => ("substring", format!("{message}; {old}")),
            None => ("substring", message),
        });
    }
    Ok(translation)
}

fn translate_prefix(repo: &str) -> Result<Translation, String> {
    if repo.is_empty() {
        return Ok(Translation {
            section: "registries.allow",
            pattern: "*:*".into(),
            change: Some((
                "empty-entry",
                "an empty entry admitted every image; \"*:*\" trusts every registry, and the \
                 image must still parse"
                    .into(),
            )),
        });
    }
    if repo.contains('@') {
        check_reference(repo)?;
        return Ok(Translation {
            section: "images.allow",
            pattern: repo.to_owned(),
            change: None,
        });
    }
    let (first, rest) = match repo.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (repo, None),
    };
    let has_registry = names_registry(first);
    let Some(rest) = rest else {
        if has_registry {
            check_reference(&format!("{repo}/x"))?;
            let mut change = Some((
                "prefix-boundary",
                format!(
                    "startswith admitted every registry whose name begins with \"{repo}\" \
                     ({repo}.evil.example, {repo}x); imagegate trusts the registry {repo} only"
                ),
            ));
            if is_docker_hub(repo) {
                change = Some(("docker-hub-forms", docker_hub_note(repo)));
            }
            return Ok(Translation {
                section: "registries.allow",
                pattern: repo.to_owned(),
                change,
            });
        }
        return Ok(short_name(repo));
    };
    // A prefix that ends at a "/" keeps to name boundaries.
    if rest.is_empty() {
        if has_registry {
            check_reference(&format!("{repo}x"))?;
            return Ok(Translation {
                section: "registries.allow",
                pattern: first.to_owned(),
                change: is_docker_hub(first).then(|| ("docker-hub-forms", docker_hub_note(first))),
            });
        }
        check_reference(first)?;
        return Ok(Translation {
            section: "repositories.allow",
            pattern: format!("docker.io/{first}"),
            change: Some(("docker-hub-forms", docker_hub_note("docker.io"))),
        });
    }
    let base = repo.trim_end_matches('/');
    let last = base.rsplit('/').next().unwrap_or(base);
    if let Some((name, tag_prefix)) = base.rsplit_once(':').filter(|_| last.contains(':')) {
        check_reference(name)?;
        let mut change = None;
        if !has_registry || is_docker_hub(first) {
            change = Some(("docker-hub-forms", docker_hub_note("docker.io")));
        }
        return Ok(Translation {
            section: "images.allow",
            pattern: format!("{name}:{tag_prefix}*"),
            change,
        });
    }
    check_reference(base)?;
    let pattern = if has_registry {
        base.to_owned()
    } else {
        format!("docker.io/{base}")
    };
    let change = if repo.ends_with('/') {
        (!has_registry || is_docker_hub(first))
            .then(|| ("docker-hub-forms", docker_hub_note("docker.io")))
    } else {
        Some((
            "prefix-boundary",
            format!(
                "startswith admitted every name that begins with \"{repo}\" ({repo}-evil/app, \
                 {repo}x); imagegate trusts {pattern} and the repositories below it at a / \
                 boundary"
            ),
        ))
    };
    Ok(Translation {
        section: "repositories.allow",
        pattern,
        change,
    })
}

/// A Docker Hub name without a registry (`nginx`, `nginx:1.2`).
fn short_name(repo: &str) -> Translation {
    if let Some((name, tag_prefix)) = repo.split_once(':') {
        return Translation {
            section: "images.allow",
            pattern: format!("{name}:{tag_prefix}*"),
            change: Some((
                "docker-hub-forms",
                format!(
                    "startswith matched the text \"{repo}\" only; imagegate matches the image \
                     docker.io/library/{name} however it is written (docker.io/{name}, \
                     registry-1.docker.io/library/{name})"
                ),
            )),
        };
    }
    Translation {
        section: "repositories.allow",
        pattern: repo.to_owned(),
        change: Some((
            "prefix-boundary",
            format!(
                "startswith admitted every image whose text begins with \"{repo}\" ({repo}-evil, \
                 {repo}x/app, {repo}.evil.example/app); imagegate trusts docker.io/library/{repo} \
                 only, however it is written"
            ),
        )),
    }
}

fn docker_hub_note(registry: &str) -> String {
    format!(
        "the text {registry}/ never matched images written without a registry (nginx, \
         bitnami/redis); imagegate normalizes them, so they are on Docker Hub and trusted too, \
         as are index.docker.io/ and registry-1.docker.io/ names"
    )
}

fn check_reference(text: &str) -> Result<(), String> {
    imagegate_policy::reference::Reference::parse(text)
        .map(|_| ())
        .map_err(|e| format!("not an image name: {e}"))
}

/// An `exemptImages` entry as an imagegate `exemptImages` pattern.
pub fn translate_exempt(entry: &str) -> Result<Translation, String> {
    let Some(prefix) = entry.strip_suffix('*') else {
        check_reference(entry)?;
        return Ok(Translation {
            section: "exemptImages",
            pattern: entry.to_owned(),
            change: None,
        });
    };
    let last = prefix.rsplit('/').next().unwrap_or(prefix);
    if let Some((name, tag_prefix)) = prefix.rsplit_once(':').filter(|_| last.contains(':')) {
        check_reference(name)?;
        return Ok(Translation {
            section: "exemptImages",
            pattern: format!("{name}:{tag_prefix}*"),
            change: None,
        });
    }
    if prefix.ends_with('/') || prefix.is_empty() || !prefix.contains('/') && names_registry(prefix)
    {
        return Err(format!(
            "exempts every image under the prefix \"{prefix}\"; imagegate's exemptImages name \
             images (one repository, tags by glob): list those repositories in exemptImages, or \
             trust the prefix with repositories.allow"
        ));
    }
    check_reference(prefix)?;
    Ok(Translation {
        section: "exemptImages",
        pattern: prefix.to_owned(),
        change: Some((
            "prefix-boundary",
            format!(
                "\"{entry}\" exempted every image whose text begins with \"{prefix}\" (also \
                 {prefix}-evil); imagegate exempts the repository {prefix}, every tag and digest"
            ),
        )),
    })
}

fn section(path: &'static str) -> Vec<&'static str> {
    path.split('.').collect()
}

/// Reads Gatekeeper constraints into `import`.
pub fn import(documents: &[Value], mode: ReposMatch, import: &mut Import) {
    let mut matches: Vec<(String, Value)> = Vec::new();
    let mut actions: Vec<(String, &'static str, String)> = Vec::new();
    let mut exemptions: Vec<(String, Vec<String>)> = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let Some(object) = document.as_object() else {
            import.not_carried(
                "not-a-constraint",
                &format!("document {}", index + 1),
                "not an object: left out".into(),
            );
            continue;
        };
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = object
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("(no name)");
        let label = format!("{kind}/{name}");
        if !KINDS.contains(&kind) {
            import.not_carried(
                "unsupported-kind",
                &label,
                format!("kind {kind:?} is not one of {}: left out", KINDS.join(", ")),
            );
            continue;
        }
        let empty = Map::new();
        let spec = object
            .get("spec")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let parameters = spec
            .get("parameters")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let at = format!("{label} spec.parameters.");
        let rule = match kind {
            "K8sAllowedRepos" => {
                allowed_repos(parameters, &at, mode, import);
                "source"
            }
            "K8sDisallowedTags" => {
                disallowed_tags(parameters, &at, import);
                "tag"
            }
            _ => {
                import.set(
                    &["digests", "require"],
                    json!(true),
                    &label,
                    Some((
                        "digest-grammar",
                        "K8sImageDigests accepted any text shaped like @algorithm:hex; \
                         imagegate parses the digest (sha256 needs 64 lower-case hex) and \
                         rejects a malformed one [reference]"
                            .into(),
                    )),
                );
                "digest"
            }
        };
        let mut exempt = Vec::new();
        for (here, entry) in strings(parameters, "exemptImages", &at, import) {
            exempt.push(entry.clone());
            match translate_exempt(&entry) {
                Ok(t) => {
                    let path = section(t.section);
                    import.push(&path, json!(t.pattern), &here, t.change);
                }
                Err(why) => import.not_carried("exempt-prefix", &here, why),
            }
        }
        exemptions.push((label.clone(), exempt));
        let action = spec
            .get("enforcementAction")
            .and_then(Value::as_str)
            .unwrap_or("deny")
            .to_owned();
        actions.push((label.clone(), rule, action));
        matches.push((label, spec.get("match").cloned().unwrap_or(Value::Null)));
    }
    exemptions_are_global(&exemptions, import);
    apply_actions(&actions, import);
    apply_match(&matches, import);
}

fn allowed_repos(parameters: &Map<String, Value>, at: &str, mode: ReposMatch, import: &mut Import) {
    let repos = strings(parameters, "repos", at, import);
    if repos.is_empty() {
        import.push(
            &["registries", "reject"],
            json!("*:*"),
            &format!("{at}repos"),
            Some((
                "empty-entry",
                "no repos: K8sAllowedRepos rejected every image; so does \"*:*\" here".into(),
            )),
        );
    }
    for (here, repo) in repos {
        match translate_repo(&repo, mode) {
            Ok(t) => {
                let path = section(t.section);
                import.push(&path, json!(t.pattern), &here, t.change);
            }
            Err(why) => import.not_carried("not-an-image-name", &here, why),
        }
    }
}

fn disallowed_tags(parameters: &Map<String, Value>, at: &str, import: &mut Import) {
    for (here, tag) in strings(parameters, "tags", at, import) {
        let glob = tag.contains(['*', '?']);
        let change = if glob {
            Some((
                "tag-glob",
                format!("\"{tag}\" was a literal tag; in imagegate * and ? are glob characters"),
            ))
        } else {
            Some((
                "pinned-images",
                "K8sDisallowedTags also rejected images pinned by digest that wrote this tag \
                 (nginx:latest@sha256:...); imagegate applies tags to unpinned images only, \
                 since the runtime ignores the tag of a pinned image"
                    .into(),
            ))
        };
        import.push(&["tags", "reject"], json!(tag), &here, change);
    }
    import.set(
        &["tags", "requireExplicit"],
        json!(true),
        &format!("{at}tags"),
        Some((
            "explicit-tag",
            "K8sDisallowedTags rejected an image without any \":\" (so localhost:5000/app \
             passed untagged, and app@sha256:... passed); imagegate requires a tag on every \
             unpinned image and none on a pinned one"
                .into(),
        )),
    );
}

fn exemptions_are_global(exemptions: &[(String, Vec<String>)], import: &mut Import) {
    let differ = exemptions.windows(2).any(|w| w[0].1 != w[1].1);
    if differ {
        import.changed(
            "exemptions-global",
            &exemptions
                .iter()
                .map(|e| e.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            "each constraint had its own exemptImages; imagegate's exemptImages skip every rule, \
             so an image exempt from one constraint is now exempt from all"
                .into(),
        );
    }
}

fn apply_actions(actions: &[(String, &'static str, String)], import: &mut Import) {
    let all_dryrun = !actions.is_empty() && actions.iter().all(|a| a.2 == "dryrun");
    if all_dryrun {
        import.advice.monitor = true;
        import.advise(
            "dryrun",
            "spec.enforcementAction",
            "every constraint was dryrun (audit only): deploy the ClusterAdmissionPolicy with \
             mode: monitor (the --manifest output does)"
                .into(),
        );
        return;
    }
    for (label, rule, action) in actions {
        let here = format!("{label} spec.enforcementAction \"{action}\"");
        match action.as_str() {
            "deny" => {}
            "warn" => import.set(&["actions", rule], json!("warn"), &here, None),
            "dryrun" => import.set(
                &["actions", rule],
                json!("warn"),
                &here,
                Some((
                    "dryrun",
                    "dryrun only audited; warn admits with a warning to the user".into(),
                )),
            ),
            other => import.not_carried(
                "enforcement-action",
                &here,
                format!("enforcementAction {other:?} has no imagegate equivalent: the rule denies"),
            ),
        }
    }
}

fn apply_match(matches: &[(String, Value)], import: &mut Import) {
    let Some((label, first)) = matches.first() else {
        return;
    };
    if matches.iter().any(|m| m.1 != *first) {
        import.not_carried(
            "match-differs",
            &matches
                .iter()
                .map(|m| m.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            "the constraints match different objects; one ClusterAdmissionPolicy applies all the \
             settings to the same objects: split the import per match if that matters"
                .into(),
        );
        return;
    }
    let Some(spec) = first.as_object() else {
        return;
    };
    let here = format!("{label} spec.match");
    let names = |key: &str| -> Vec<String> {
        spec.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    import.advice.namespaces = names("namespaces");
    import.advice.excluded_namespaces = names("excludedNamespaces");
    import.advice.object_selector = spec.get("labelSelector").cloned();
    import.advice.namespace_selector = spec.get("namespaceSelector").cloned();
    let wildcard = |n: &String| n.contains('*');
    if import
        .advice
        .namespaces
        .iter()
        .chain(&import.advice.excluded_namespaces)
        .any(wildcard)
    {
        import.not_carried(
            "namespace-glob",
            &here,
            "namespace names with * (a Gatekeeper prefix glob) cannot be a namespaceSelector \
             value: list the namespaces, or label them"
                .into(),
        );
        import.advice.namespaces.retain(|n| !wildcard(n));
        import.advice.excluded_namespaces.retain(|n| !wildcard(n));
    }
    if !import.advice.is_empty() {
        import.advise(
            "match",
            &here,
            "the namespaces and selectors go into the ClusterAdmissionPolicy \
             (namespaceSelector on kubernetes.io/metadata.name, objectSelector): print it with \
             --manifest"
                .into(),
        );
    }
    let kinds: Vec<String> = spec
        .get("kinds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|k| {
            k.get("kinds")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    if !kinds.is_empty() && !kinds.iter().any(|k| k == "*") {
        import.advise(
            "kinds",
            &format!("{here}.kinds"),
            format!(
                "Gatekeeper matched {}; imagegate's rules cover Pods (with kubectl debug's \
                 ephemeral containers) and every controller that creates them, so a bad image \
                 is refused when its Deployment is applied rather than when its Pods are created",
                kinds.join(", ")
            ),
        );
    }
    if spec.contains_key("scope") {
        import.advise(
            "scope",
            &format!("{here}.scope"),
            "scope: imagegate's kinds are namespaced; a ClusterAdmissionPolicy sees every \
             namespace unless a namespaceSelector narrows it"
                .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(repo: &str) -> (&'static str, String, Option<&'static str>) {
        let t = translate_repo(repo, ReposMatch::Startswith).unwrap();
        (t.section, t.pattern, t.change.map(|c| c.0))
    }

    // The gatekeeper-library examples: repos ["openpolicyagent/"] in
    // allowedrepos/samples/repo-must-be-openpolicyagent.
    #[test]
    fn repos_entries_become_the_narrowest_pattern_that_keeps_them() {
        assert_eq!(
            t("openpolicyagent/"),
            (
                "repositories.allow",
                "docker.io/openpolicyagent".into(),
                Some("docker-hub-forms")
            )
        );
        assert_eq!(
            t("ghcr.io/org/"),
            ("repositories.allow", "ghcr.io/org".into(), None)
        );
        assert_eq!(
            t("ghcr.io/org"),
            (
                "repositories.allow",
                "ghcr.io/org".into(),
                Some("prefix-boundary")
            )
        );
        assert_eq!(t("ghcr.io/"), ("registries.allow", "ghcr.io".into(), None));
        assert_eq!(
            t("ghcr.io"),
            (
                "registries.allow",
                "ghcr.io".into(),
                Some("prefix-boundary")
            )
        );
        assert_eq!(
            t("quay.io:5000/"),
            ("registries.allow", "quay.io:5000".into(), None)
        );
        assert_eq!(
            t("nginx"),
            (
                "repositories.allow",
                "nginx".into(),
                Some("prefix-boundary")
            )
        );
        assert_eq!(
            t("ghcr.io/org/app:1."),
            ("images.allow", "ghcr.io/org/app:1.*".into(), None)
        );
        assert_eq!(
            t("docker.io/"),
            (
                "registries.allow",
                "docker.io".into(),
                Some("docker-hub-forms")
            )
        );
        assert_eq!(
            t(""),
            ("registries.allow", "*:*".into(), Some("empty-entry"))
        );
        assert!(translate_repo("Ghcr.io/Org", ReposMatch::Startswith).is_err());
    }

    #[test]
    fn contains_says_it_matched_anywhere() {
        let t = translate_repo("ghcr.io/org/", ReposMatch::Contains).unwrap();
        assert_eq!(t.change.unwrap().0, "substring");
    }

    #[test]
    fn exempt_prefixes() {
        assert_eq!(
            translate_exempt("ghcr.io/org/app:1.*").unwrap().pattern,
            "ghcr.io/org/app:1.*"
        );
        assert_eq!(
            translate_exempt("ghcr.io/org/app*").unwrap().pattern,
            "ghcr.io/org/app"
        );
        assert_eq!(
            translate_exempt("ghcr.io/org/app:1.0").unwrap().change,
            None
        );
        assert!(translate_exempt("ghcr.io/org/*").is_err());
        assert!(translate_exempt("ghcr.io*").is_err());
    }
}
