//! A plain Kubernetes object wrapped as the AdmissionRequest the API server
//! would send for creating it: how `imagegate run`, `imagegate scan` and the
//! JavaScript entry evaluate manifests that are not admission requests. One
//! definition, so every host judges a manifest the same way.

use serde_json::{Map, Value, json};

/// The `uid` of a request imagegate builds around a plain object.
pub const WRAPPED_UID: &str = "imagegate-run";

/// The user a wrapped request is made by.
pub const WRAPPED_USERNAME: &str = "imagegate";

/// Wraps a Kubernetes object as the CREATE request the API server would send:
/// `kind` and `resource` from `apiVersion` and `kind` (plural from
/// [`resource_name`]), `requestKind`/`requestResource` equal to them, `name`
/// and `namespace` from `metadata` (namespace `default` for the namespaced
/// workload kinds when the object names none, as `kubectl apply` would), a
/// fixed `uid` ([`WRAPPED_UID`]) and user ([`WRAPPED_USERNAME`]).
pub fn wrap_object(object: Map<String, Value>) -> Result<Value, String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [version] if !version.is_empty() => ("", *version),
        [group, version] if !group.is_empty() && !version.is_empty() => (*group, *version),
        _ => {
            return Err(format!(
                "apiVersion \"{api_version}\" is not \"version\" or \"group/version\""
            ));
        }
    };
    if kind.is_empty() {
        return Err("kind is empty".into());
    }
    let metadata = object.get("metadata").and_then(Value::as_object);
    let text = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (resource, namespaced) = resource_name(kind);
    let namespace = text("namespace").or_else(|| namespaced.then(|| "default".to_owned()));

    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    let mut request = Map::new();
    request.insert("uid".into(), json!(WRAPPED_UID));
    request.insert("kind".into(), gvk.clone());
    request.insert("resource".into(), gvr.clone());
    request.insert("requestKind".into(), gvk);
    request.insert("requestResource".into(), gvr);
    if let Some(name) = text("name") {
        request.insert("name".into(), json!(name));
    }
    if let Some(namespace) = namespace {
        request.insert("namespace".into(), json!(namespace));
    }
    request.insert("operation".into(), json!("CREATE"));
    request.insert(
        "userInfo".into(),
        json!({"username": WRAPPED_USERNAME, "groups": ["system:authenticated"]}),
    );
    request.insert("object".into(), Value::Object(object));
    request.insert("dryRun".into(), json!(false));
    Ok(Value::Object(request))
}

/// The resource (lower-case plural) of a kind, and whether imagegate knows it
/// to be namespaced. The kinds SPEC §3 checks are listed; others get
/// Kubernetes' own guess (apimachinery `meta.UnsafeGuessKindToResource`:
/// lower-case, then `s` → `ses`, `y` → `ies`, else `+s`).
pub fn resource_name(kind: &str) -> (String, bool) {
    const KNOWN: &[(&str, &str)] = &[
        ("Pod", "pods"),
        ("Deployment", "deployments"),
        ("ReplicaSet", "replicasets"),
        ("StatefulSet", "statefulsets"),
        ("DaemonSet", "daemonsets"),
        ("ReplicationController", "replicationcontrollers"),
        ("Job", "jobs"),
        ("CronJob", "cronjobs"),
        ("PodTemplate", "podtemplates"),
    ];
    if let Some((_, plural)) = KNOWN.iter().find(|(k, _)| *k == kind) {
        return ((*plural).to_owned(), true);
    }
    let lower = kind.to_ascii_lowercase();
    let plural = if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    };
    (plural, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_deployment_becomes_a_create_in_default() {
        let request = wrap_object(object(
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                                "metadata": {"name": "web"}}),
        ))
        .unwrap();
        assert_eq!(request["uid"], json!(WRAPPED_UID));
        assert_eq!(request["operation"], json!("CREATE"));
        assert_eq!(
            request["requestResource"],
            json!({"group": "apps", "version": "v1", "resource": "deployments"})
        );
        assert_eq!(request["namespace"], json!("default"));
        assert_eq!(request["userInfo"]["username"], json!(WRAPPED_USERNAME));
    }

    #[test]
    fn unknown_kinds_get_kubernetes_guess() {
        assert_eq!(resource_name("Ingress"), ("ingresses".into(), false));
        assert_eq!(
            resource_name("NetworkPolicy"),
            ("networkpolicies".into(), false)
        );
        assert_eq!(resource_name("CronJob"), ("cronjobs".into(), true));
    }

    #[test]
    fn a_bad_api_version_or_empty_kind_is_named() {
        assert_eq!(
            wrap_object(object(json!({"apiVersion": "a/b/c", "kind": "Pod"}))),
            Err("apiVersion \"a/b/c\" is not \"version\" or \"group/version\"".into())
        );
        assert_eq!(
            wrap_object(object(json!({"apiVersion": "v1", "kind": ""}))),
            Err("kind is empty".into())
        );
    }
}
