//! Documents people paste where settings belong: a Kubernetes object that
//! holds the settings (a ClusterAdmissionPolicy, the deploy/ ConfigMap), a
//! `settings:` wrapper, or another tool's settings (Gatekeeper's
//! K8sAllowedRepos `repos`). Each is named with what to write instead,
//! rather than as a list of unknown keys.

use serde_json::{Map, Value};

use crate::settings::SettingsProblem;
use crate::settings::raw::Reader;

/// Top-level keys that are a pasted shape, not a misspelled setting.
pub const KEYS: &[&str] = &["settings", "repos"];

/// How many Gatekeeper prefixes a translation shows before "…".
const TRANSLATED: usize = 8;

/// A whole Kubernetes object (it has `apiVersion` and `kind`) pasted as
/// settings: one problem that says which object it is and where in it the
/// settings are, since its other keys would only be noise.
pub fn document(top: &Map<String, Value>) -> Option<SettingsProblem> {
    let kind = top.get("kind")?.as_str()?;
    top.get("apiVersion")?;
    let spec = top.get("spec").and_then(Value::as_object);
    let problem = match kind {
        "ClusterAdmissionPolicy" | "AdmissionPolicy" => format!(
            "this is a whole Kubewarden {kind}, not settings: the settings are what is under its spec.settings; write only that"
        ),
        "ConfigMap" => {
            let keys: Vec<&str> = top
                .get("data")
                .and_then(Value::as_object)
                .map(|data| data.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let key = keys.first().copied().unwrap_or("settings.yaml");
            format!(
                "this is a whole ConfigMap (as deploy/server/settings.yaml ships it), not settings: the settings are the text of its data.\"{key}\"; write that text, e.g. kubectl get configmap {} -o jsonpath='{{.data.{}}}'",
                top.get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("imagegate-settings"),
                key.replace('.', "\\.")
            )
        }
        "K8sAllowedRepos" => {
            let repos = spec
                .and_then(|s| s.get("parameters"))
                .and_then(|p| p.get("repos"));
            format!(
                "this is a Gatekeeper K8sAllowedRepos constraint, not settings: {}",
                gatekeeper_advice(repos)
            )
        }
        _ => format!(
            "this is a Kubernetes {kind} object, not settings: settings are an object with keys such as registries, repositories, images and tags"
        ),
    };
    Some(SettingsProblem {
        path: String::new(),
        entry: None,
        problem,
    })
}

/// Records a problem for each pasted key ([`KEYS`]) among the top-level
/// keys (the caller then reads the other keys without them).
pub fn check_keys(r: &mut Reader, top: &Map<String, Value>) {
    if top.contains_key("settings") {
        r.problem(
            "settings",
            None,
            "a pasted \"settings:\" wrapper (a policy's spec.settings): write what is inside it at the top level",
        );
    }
    if let Some(repos) = top.get("repos") {
        r.problem("repos", None, gatekeeper_advice(Some(repos)));
    }
}

/// What Gatekeeper's `repos` (string prefixes) become here, with the
/// translation of the prefixes written.
fn gatekeeper_advice(repos: Option<&Value>) -> String {
    let prefixes: Vec<&str> = repos
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (mut registries, mut repositories) = (Vec::new(), Vec::new());
    for prefix in prefixes.iter().take(TRANSLATED) {
        let name = prefix.trim_end_matches('/');
        // `quay.io/` or `quay.io`: a registry; anything with a path, a
        // repository (matched at "/" boundaries, so narrower than a prefix).
        if name.contains('/') || !(name.contains('.') || name.contains(':')) {
            repositories.push(name);
        } else {
            registries.push(name);
        }
    }
    // Written by hand, not through serde: one more serializer would add to
    // the module's size for one message.
    let mut settings = Vec::new();
    for (key, list) in [("registries", registries), ("repositories", repositories)] {
        if !list.is_empty() {
            let quoted: Vec<String> = list
                .iter()
                .map(|name| Value::String((*name).to_owned()).to_string())
                .collect();
            settings.push(format!("\"{key}\":{{\"allow\":[{}]}}", quoted.join(",")));
        }
    }
    let more = if prefixes.len() > TRANSLATED {
        format!(" (and {} more prefixes alike)", prefixes.len() - TRANSLATED)
    } else {
        String::new()
    };
    let example = if settings.is_empty() {
        r#"{"registries": {"allow": ["quay.io"]}, "repositories": {"allow": ["ghcr.io/acme"]}}"#
            .to_owned()
    } else {
        format!("{{{}}}", settings.join(","))
    };
    format!(
        "this looks like Gatekeeper K8sAllowedRepos parameters (repos: string prefixes); imagegate matches whole registries, and repositories at \"/\" boundaries (so \"ghcr.io/acme\" does not match ghcr.io/acme-evil): write {example}{more}"
    )
}

#[cfg(test)]
mod tests {
    use crate::settings::compile::tests::problems;
    use serde_json::json;

    #[test]
    fn gatekeeper_repos_are_translated() {
        assert_eq!(
            problems(json!({"repos": ["quay.io/", "ghcr.io/acme/", "registry.k8s.io", "nginx"]})),
            vec![
                r#"repos: this looks like Gatekeeper K8sAllowedRepos parameters (repos: string prefixes); imagegate matches whole registries, and repositories at "/" boundaries (so "ghcr.io/acme" does not match ghcr.io/acme-evil): write {"registries":{"allow":["quay.io","registry.k8s.io"]},"repositories":{"allow":["ghcr.io/acme","nginx"]}}"#
            ]
        );
    }

    #[test]
    fn a_settings_wrapper_is_named_and_other_keys_still_read() {
        assert_eq!(
            problems(
                json!({"settings": {"registries": {"allow": ["ghcr.io"]}}, "tags": {"reject": [1]}})
            ),
            vec![
                r#"settings: a pasted "settings:" wrapper (a policy's spec.settings): write what is inside it at the top level"#,
                "tags.reject[0]: expected a string, found the number 1",
            ]
        );
    }

    #[test]
    fn whole_objects_are_named_alone() {
        let cap = json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy",
            "metadata": {"name": "imagegate"}, "spec": {"module": "x", "settings": {}}});
        assert_eq!(
            problems(cap),
            vec![
                "this is a whole Kubewarden ClusterAdmissionPolicy, not settings: the settings are what is under its spec.settings; write only that"
            ]
        );
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "imagegate-settings"}, "data": {"settings.yaml": "tags: {}"}});
        assert_eq!(
            problems(config_map),
            vec![
                r#"this is a whole ConfigMap (as deploy/server/settings.yaml ships it), not settings: the settings are the text of its data."settings.yaml"; write that text, e.g. kubectl get configmap imagegate-settings -o jsonpath='{.data.settings\.yaml}'"#
            ]
        );
        let constraint = json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos",
            "spec": {"parameters": {"repos": ["quay.io/"]}}});
        assert!(problems(constraint)[0].starts_with("this is a Gatekeeper K8sAllowedRepos constraint, not settings: this looks like Gatekeeper K8sAllowedRepos parameters (repos: string prefixes); imagegate matches whole registries, and repositories at \"/\" boundaries (so \"ghcr.io/acme\" does not match ghcr.io/acme-evil): write {\"registries\":{\"allow\":[\"quay.io\"]}}"));
        assert_eq!(
            problems(json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}})),
            vec![
                "this is a Kubernetes Deployment object, not settings: settings are an object with keys such as registries, repositories, images and tags"
            ]
        );
    }

    #[test]
    fn prefixes_with_a_trailing_slash_say_what_to_write() {
        assert_eq!(
            problems(json!({
                "registries": {"allow": ["quay.io/", "ghcr.io/acme/"]},
                "repositories": {"allow": ["ghcr.io/acme/", "quay.io/"]},
                "images": {"allow": ["ghcr.io/acme/app/"]}
            })),
            vec![
                r#"registries.allow[0] "quay.io/": write the registry without the trailing "/", "quay.io": a registry entry already covers every repository in it"#,
                r#"registries.allow[1] "ghcr.io/acme/": a registry pattern has no repository path; to trust a repository and everything below it use repositories, e.g. "ghcr.io/acme", or write the registry alone, "ghcr.io""#,
                r#"repositories.allow[0] "ghcr.io/acme/": write the repository without the trailing "/", "ghcr.io/acme": a repository entry already covers every repository below it, at "/" boundaries"#,
                r#"repositories.allow[1] "quay.io/": "quay.io" is a registry: write it in registries, without the trailing "/""#,
                r#"images.allow[0] "ghcr.io/acme/app/": an image pattern names one repository, not a prefix: write it without the trailing "/" ("ghcr.io/acme/app"); to cover every repository below it, use repositories"#,
            ]
        );
    }
}
