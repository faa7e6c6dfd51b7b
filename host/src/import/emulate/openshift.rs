//! OpenShift: the Image configuration's registrySources as the nodes'
//! policy.json enforces them, and the ImagePolicy plugin's registry rules
//! (origin `pkg/image/apiserver/admission/imagepolicy`). Rules on image
//! annotations and labels need the registry: they are not evaluated here.

use imagegate_policy::reference::Reference;
use serde_json::Value;

use super::{OldVerdict, string_list};

/// Whether a registrySources entry (`host[:port]`, `*.domain`, or
/// `host/path`, `host/path:tag`) covers the image.
pub fn source_matches(entry: &str, image: &Reference) -> bool {
    let domain = image.domain();
    let host = image.host();
    if let Some(suffix) = entry.strip_prefix("*.") {
        return host.ends_with(&format!(".{suffix}"));
    }
    match entry.split_once('/') {
        None => entry == domain,
        Some(_) => {
            let full = image.to_string();
            let name = format!("{domain}/{}", image.path());
            full == entry || name == entry || name.starts_with(&format!("{entry}/"))
        }
    }
}

/// Every Image and ImagePolicyConfig document in turn.
pub fn evaluate(documents: &[Value], image: &str) -> OldVerdict {
    let Ok(parsed) = Reference::parse(image) else {
        return OldVerdict::deny("the runtime cannot parse it", None);
    };
    for document in documents {
        match document.get("kind").and_then(Value::as_str) {
            Some("Image") => {
                let allowed = string_list(document, "/spec/registrySources/allowedRegistries");
                let blocked = string_list(document, "/spec/registrySources/blockedRegistries");
                if blocked.iter().any(|e| source_matches(e, &parsed)) {
                    return OldVerdict::deny("blockedRegistries names it", None);
                }
                if !allowed.is_empty() && !allowed.iter().any(|e| source_matches(e, &parsed)) {
                    return OldVerdict::deny("not in allowedRegistries", None);
                }
            }
            _ => {
                let rules = document
                    .get("executionRules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut accept_rules = 0;
                let mut accepted = false;
                for rule in &rules {
                    let reject = rule.get("reject").and_then(Value::as_bool).unwrap_or(false);
                    let registries = string_list(rule, "/matchRegistries");
                    let integrated =
                        rule.get("matchIntegratedRegistry").and_then(Value::as_bool) == Some(true);
                    let by_registry = !registries.is_empty() || integrated;
                    if !by_registry {
                        continue;
                    }
                    let hit = registries.iter().any(|r| r == parsed.domain())
                        || integrated
                            && parsed.domain()
                                == "image-registry.openshift-image-registry.svc:5000";
                    if reject && hit {
                        return OldVerdict::deny("a reject rule matches its registry", None);
                    }
                    if !reject {
                        accept_rules += 1;
                        accepted |= hit;
                    }
                }
                if accept_rules > 0 && !accepted {
                    return OldVerdict::deny("no accept rule matches its registry", None);
                }
            }
        }
    }
    OldVerdict::allow("admitted", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The "Image configuration resources" examples.
    #[test]
    fn registry_sources() {
        let docs = vec![
            json!({"kind": "Image", "spec": {"registrySources": {"allowedRegistries":
            ["quay.io", "*.corp.example", "reg1.io/myrepo/myapp:latest", "registry.redhat.io/ubi8"]}}}),
        ];
        assert!(evaluate(&docs, "quay.io/x/y:1").allowed);
        assert!(evaluate(&docs, "a.corp.example/app").allowed);
        assert!(!evaluate(&docs, "corp.example/app").allowed);
        assert!(evaluate(&docs, "reg1.io/myrepo/myapp:latest").allowed);
        assert!(!evaluate(&docs, "reg1.io/myrepo/myapp:1").allowed);
        assert!(evaluate(&docs, "registry.redhat.io/ubi8/ubi:8").allowed);
        assert!(!evaluate(&docs, "registry.redhat.io/ubi8-evil/ubi:8").allowed);
        assert!(!evaluate(&docs, "nginx").allowed);
    }
}
