//! containers `policy.json` (containers/image `signature/policy_eval.go`,
//! `docker/policyconfiguration`): the most specific scope of the docker
//! transport decides. Signature requirements need the registry: an image
//! under one counts as admitted here ("if signed"), and imagegate's
//! signature rule is left out of the comparison.

use imagegate_policy::reference::Reference;
use serde_json::Value;

use super::OldVerdict;

/// The scopes to try, most specific first (`PolicyConfigurationNamespaces`).
fn scopes(image: &Reference) -> Vec<String> {
    let name = format!("{}/{}", image.domain(), image.path());
    let mut out = vec![image.to_string()];
    let mut current = name.as_str();
    out.push(current.to_owned());
    while let Some((parent, _)) = current.rsplit_once('/') {
        out.push(parent.to_owned());
        current = parent;
    }
    // *.example.com wildcards, longest first.
    let host = image.host();
    let mut rest = host;
    while let Some((_, parent)) = rest.split_once('.') {
        out.push(format!("*.{parent}"));
        rest = parent;
    }
    out.push(String::new());
    out
}

/// The verdict of the requirements of one scope.
fn verdict_of(requirements: &Value, scope: &str) -> OldVerdict {
    let list = requirements.as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = list
        .iter()
        .filter_map(|r| r.get("type").and_then(Value::as_str))
        .collect();
    let label = if scope.is_empty() {
        "the default".to_owned()
    } else {
        format!("scope \"{scope}\"")
    };
    if types.is_empty() || types.contains(&"reject") {
        OldVerdict::deny(format!("{label} rejects"), None)
    } else if types.iter().all(|t| *t == "insecureAcceptAnything") {
        OldVerdict::allow(format!("{label} accepts anything"), None)
    } else {
        OldVerdict::allow(format!("{label} accepts it if signed"), None)
    }
}

/// The most specific scope's requirements decide.
pub fn evaluate(policy: &Value, image: &str) -> OldVerdict {
    let Ok(parsed) = Reference::parse(image) else {
        return OldVerdict::deny("the runtime cannot parse it", None);
    };
    let docker = policy
        .pointer("/transports/docker")
        .and_then(Value::as_object);
    if let Some(docker) = docker {
        for scope in scopes(&parsed) {
            if let Some(requirements) = docker.get(&scope) {
                return verdict_of(requirements, &scope);
            }
        }
    }
    match policy.get("default") {
        Some(requirements) => verdict_of(requirements, ""),
        None => OldVerdict::deny("no default: the runtime refuses the policy", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // containers-policy.json(5)'s example: default reject, docker.io/library/busybox accepted.
    #[test]
    fn most_specific_scope_decides() {
        let policy = json!({"default": [{"type": "reject"}], "transports": {"docker": {
            "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}],
            "docker.io/library/busybox:bad": [{"type": "reject"}],
            "*.corp.example": [{"type": "insecureAcceptAnything"}],
            "registry.access.redhat.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}]}}});
        assert!(evaluate(&policy, "busybox:1.36").allowed);
        assert!(!evaluate(&policy, "busybox:bad").allowed);
        assert!(!evaluate(&policy, "nginx").allowed);
        assert!(evaluate(&policy, "a.b.corp.example/x").allowed);
        assert!(evaluate(&policy, "registry.access.redhat.com/ubi8").allowed);
    }
}
