//! OpenShift: the cluster `Image` configuration (`config.openshift.io/v1`,
//! `spec.registrySources`, `spec.allowedRegistriesForImport`) and the
//! ImagePolicy admission plugin's `ImagePolicyConfig` (`executionRules`).
//!
//! How OpenShift decides:
//! - `registrySources.allowedRegistries` / `blockedRegistries` (only one of
//!   them may be set) become the nodes' containers policy.json: the runtime
//!   refuses to pull from other (or the blocked) registries. Entries are
//!   `host[:port][/path]`, `*.example.com` for subdomains.
//! - `insecureRegistries` lets the runtime pull over plain HTTP or without
//!   verifying TLS; `allowedRegistriesForImport` limits what image streams
//!   may import. Neither says what a Pod may run.
//! - ImagePolicyConfig: an image is refused when a `reject: true` rule
//!   matches it; when accept rules (`reject: false`) exist, it must match
//!   one. A rule matches when all its conditions do (registries, image
//!   annotations, labels). `resolveImages` resolves tags to digests
//!   (`DoNotAttempt`, `Attempt`, `AttemptRewrite`, `Required`,
//!   `RequiredRewrite`); `skipOnResolutionFailure` lets an image whose
//!   metadata cannot be read pass the rule.

use serde_json::{Map, Value, json};

use super::{Import, strings};

/// The integrated registry's name inside the cluster.
const INTEGRATED_REGISTRY: &str = "image-registry.openshift-image-registry.svc:5000";

/// Reads OpenShift documents into `import`.
pub fn import(documents: &[Value], import: &mut Import) {
    for (index, document) in documents.iter().enumerate() {
        let Some(object) = document.as_object() else {
            import.not_carried(
                "not-an-object",
                &format!("document {}", index + 1),
                "not an object: left out".into(),
            );
            continue;
        };
        match object.get("kind").and_then(Value::as_str) {
            Some("Image") => image_config(object, import),
            Some("ImagePolicyConfig") => image_policy(object, "ImagePolicyConfig ", import),
            _ if object.contains_key("executionRules") => image_policy(object, "", import),
            other => import.not_carried(
                "unsupported-kind",
                &format!("document {}", index + 1),
                format!("kind {other:?} is neither Image (config.openshift.io/v1) nor ImagePolicyConfig: left out"),
            ),
        }
    }
}

/// A registrySources entry as an imagegate registry or repository pattern.
fn source_entry(entry: &str) -> (&'static str, String) {
    let last = entry.rsplit('/').next().unwrap_or(entry);
    if entry.contains('@') || (entry.contains('/') && last.contains(':')) {
        return ("images", entry.to_owned());
    }
    match entry.split_once('/') {
        Some((_, path)) if !path.is_empty() => {
            ("repositories", entry.trim_end_matches('/').to_owned())
        }
        _ => ("registries", entry.trim_end_matches('/').to_owned()),
    }
}

fn image_config(object: &Map<String, Value>, import: &mut Import) {
    let empty = Map::new();
    let spec = object
        .get("spec")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let sources = spec
        .get("registrySources")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let at = "Image spec.registrySources.";
    let allowed = strings(sources, "allowedRegistries", at, import);
    let blocked = strings(sources, "blockedRegistries", at, import);
    let runtime_note = (
        "pull-time",
        "OpenShift enforced this on the nodes when pulling; imagegate refuses the workload at \
         admission (and running workloads show up in imagegate scan)"
            .to_owned(),
    );
    let mut first = true;
    let mut has_integrated = false;
    for (here, entry) in &allowed {
        let (kind, pattern) = source_entry(entry);
        has_integrated |= pattern.starts_with(INTEGRATED_REGISTRY);
        let note = first.then(|| runtime_note.clone());
        first = false;
        import.push(&[kind, "allow"], json!(pattern), here, note);
    }
    for (here, entry) in &blocked {
        let (kind, pattern) = source_entry(entry);
        let note = first.then(|| runtime_note.clone());
        first = false;
        import.push(&[kind, "reject"], json!(pattern), here, note);
    }
    if !allowed.is_empty() && !has_integrated {
        import.advise(
            "integrated-registry",
            &format!("{at}allowedRegistries"),
            format!(
                "Pods that run images from the integrated registry name {INTEGRATED_REGISTRY}: \
                 add it to registries.allow if they should run"
            ),
        );
    }
    for (here, entry) in strings(sources, "insecureRegistries", at, import) {
        import.not_carried(
            "runtime-setting",
            &here,
            format!(
                "insecure registries tell the runtime how to pull from {entry}; imagegate does not \
                 pull for Pods: keep this in the cluster's Image configuration"
            ),
        );
    }
    for key in ["containerRuntimeSearchRegistries"] {
        if sources.contains_key(key) {
            import.not_carried(
                "runtime-setting",
                &format!("{at}{key}"),
                "short-name search registries are a runtime setting: imagegate takes a name \
                 without a registry as Docker Hub, as Kubernetes does (shortNames: reject refuses \
                 such names)"
                    .into(),
            );
        }
    }
    if let Some(Value::Array(entries)) = spec.get("allowedRegistriesForImport") {
        for (i, entry) in entries.iter().enumerate() {
            let name = entry
                .get("domainName")
                .and_then(Value::as_str)
                .unwrap_or("?");
            import.not_carried(
                "image-streams",
                &format!("Image spec.allowedRegistriesForImport[{i}] \"{name}\""),
                format!(
                    "limits which registries image streams may import from, not what Pods run: \
                     to hold Pods to it too, add {{domainName: {name}, insecure: {}}} to \
                     registries.allow",
                    entry
                        .get("insecure")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                ),
            );
        }
    }
    for key in spec.keys() {
        if !["registrySources", "allowedRegistriesForImport"].contains(&key.as_str()) {
            import.not_carried(
                "cluster-setting",
                &format!("Image spec.{key}"),
                "a cluster image setting with no admission meaning: left out".into(),
            );
        }
    }
}

fn key_values(rule: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    rule.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            Some((
                kv.get("key")?.as_str()?.to_owned(),
                kv.get("value")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_owned(),
            ))
        })
        .collect()
}

fn image_policy(object: &Map<String, Value>, label: &str, import: &mut Import) {
    if let Some(mode) = object.get("resolveImages").and_then(Value::as_str) {
        let here = format!("{label}resolveImages \"{mode}\"");
        let (value, change) = match mode {
            "DoNotAttempt" => ("Never", None),
            "AttemptRewrite" => ("AttemptRewrite", None),
            "Attempt" => (
                "AttemptRewrite",
                Some(("rewrite", "Attempt resolved tags without rewriting the image; imagegate pins what it resolves (a mutating policy)".to_owned())),
            ),
            "Required" => (
                "Required",
                Some(("rewrite", "Required resolved tags without rewriting the image; imagegate pins what it resolves (a mutating policy)".to_owned())),
            ),
            "RequiredRewrite" => ("Required", None),
            other => {
                import.not_carried("unknown-value", &here, format!("resolveImages {other:?} is not an OpenShift value: left out"));
                ("", None)
            }
        };
        if !value.is_empty() {
            import.set(&["digests", "resolve"], json!(value), &here, change);
        }
    }
    let rules = object
        .get("executionRules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut metadata_rules = false;
    let mut skip = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let Some(rule) = rule.as_object() else {
            continue;
        };
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        let at = format!("{label}executionRules[{i}] ({name})");
        let reject = rule.get("reject").and_then(Value::as_bool).unwrap_or(false);
        let registries = strings(rule, "matchRegistries", &format!("{at} "), import);
        let annotations = key_values(rule, "matchImageAnnotations");
        let labels = key_values(rule, "matchDockerImageLabels");
        let conditions = usize::from(!registries.is_empty())
            + usize::from(!annotations.is_empty())
            + usize::from(!labels.is_empty());
        if conditions > 1 {
            import.not_carried(
                "rule-conjunction",
                &at,
                "the rule needed its registries AND its annotations or labels to match; imagegate \
                 applies registry lists and image metadata separately: each condition is carried \
                 on its own, so the rule now covers more images"
                    .into(),
            );
        }
        for (here, registry) in &registries {
            let (kind, pattern) = source_entry(registry);
            import.push(
                &[kind, if reject { "reject" } else { "allow" }],
                json!(pattern),
                here,
                None,
            );
        }
        for (key, value) in &annotations {
            metadata_rules = true;
            let here = format!("{at} matchImageAnnotations {key}={value}");
            let note = Some((
                "image-annotations",
                "OpenShift read the annotations of its Image API object (oc annotate image); \
                 imagegate reads the OCI manifest's annotations from the registry: set the \
                 annotation when pushing (e.g. podman push --annotation)"
                    .to_owned(),
            ));
            if reject {
                import.set(
                    &["imageMetadata", "rejectAnnotations", key.as_str()],
                    json!(value),
                    &here,
                    note,
                );
            } else {
                import.not_carried("accept-annotations", &here, "an accept rule on image annotations has no imagegate equivalent (imagegate can require labels, not annotations)".into());
            }
        }
        for (key, value) in &labels {
            metadata_rules = true;
            let here = format!("{at} matchDockerImageLabels {key}={value}");
            if reject {
                import.set(
                    &["imageMetadata", "rejectLabels", key.as_str()],
                    json!(value),
                    &here,
                    None,
                );
            } else {
                import.set(
                    &["imageMetadata", "requireLabels", key.as_str()],
                    json!(value),
                    &here,
                    Some((
                        "accept-labels",
                        "an image had to match one accept rule; imagegate requires this label of every image".to_owned(),
                    )),
                );
            }
        }
        if rule.get("matchIntegratedRegistry").and_then(Value::as_bool) == Some(true) {
            import.push(
                &["registries", if reject { "reject" } else { "allow" }],
                json!(INTEGRATED_REGISTRY),
                &format!("{at} matchIntegratedRegistry"),
                Some((
                    "integrated-registry",
                    format!("the integrated registry as Pods name it, {INTEGRATED_REGISTRY}; add its route's host if Pods use that"),
                )),
            );
        }
        if rule.contains_key("matchImageLabels") {
            import.not_carried(
                "image-object-labels",
                &format!("{at} matchImageLabels"),
                "labels of the OpenShift Image API object are not in the registry: left out".into(),
            );
        }
        if let Some(resources) = rule.get("onResources").and_then(Value::as_array) {
            let others: Vec<String> = resources
                .iter()
                .filter_map(|r| r.get("resource").and_then(Value::as_str))
                .filter(|r| {
                    ![
                        "pods",
                        "deployments",
                        "replicasets",
                        "statefulsets",
                        "daemonsets",
                        "replicationcontrollers",
                        "jobs",
                        "cronjobs",
                        "podtemplates",
                    ]
                    .contains(r)
                })
                .map(str::to_owned)
                .collect();
            if !others.is_empty() {
                import.not_carried(
                    "resources",
                    &format!("{at} onResources"),
                    format!(
                        "imagegate checks Pods and their controllers; {} are not checked",
                        others.join(", ")
                    ),
                );
            }
        }
        if !annotations.is_empty() || !labels.is_empty() {
            skip.push(
                rule.get("skipOnResolutionFailure")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            );
        }
    }
    if metadata_rules {
        let all_skip = !skip.is_empty() && skip.iter().all(|s| *s);
        let some_skip = skip.iter().any(|s| *s);
        if all_skip {
            import.set(
                &["imageMetadata", "skipOnResolutionFailure"],
                json!(true),
                &format!("{label}executionRules"),
                None,
            );
        } else if some_skip {
            import.changed(
                "skip-per-rule",
                &format!("{label}executionRules"),
                "skipOnResolutionFailure was set per rule; imagegate has one switch for every \
                 metadata rule: left false (a failed lookup is a violation)"
                    .into(),
            );
        }
    }
}
