//! Gatekeeper's `match` as advice for the Kubewarden ClusterAdmissionPolicy,
//! and the ready manifest `import --manifest` prints.

use serde::Serialize;
use serde_json::{Value, json};

use super::doc::SettingsDoc;

/// The module reference the manifest names; the user replaces it with
/// where they pushed imagegate (README "Deploying in Kubewarden").
pub const MODULE_PLACEHOLDER: &str = "registry://registry.example.com/policies/imagegate:v0.1.0";

/// Which objects the old policy saw.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchAdvice {
    /// `match.namespaces`: only these (empty: all).
    pub namespaces: Vec<String>,
    /// `match.excludedNamespaces`.
    pub excluded_namespaces: Vec<String>,
    /// `match.labelSelector`: objects' labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<Value>,
    /// `match.namespaceSelector`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Value>,
    /// Monitor mode: the old policy only audited (`dryrun`).
    pub monitor: bool,
}

impl MatchAdvice {
    /// Nothing to advise.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.excluded_namespaces.is_empty()
            && self.object_selector.is_none()
            && self.namespace_selector.is_none()
            && !self.monitor
    }

    /// The ClusterAdmissionPolicy `namespaceSelector`: the name label
    /// Kubernetes sets on every namespace, plus the old selector's terms.
    fn namespace_selector(&self) -> Option<Value> {
        let mut expressions = Vec::new();
        let mut labels = serde_json::Map::new();
        if !self.namespaces.is_empty() {
            expressions.push(json!({"key": "kubernetes.io/metadata.name", "operator": "In", "values": self.namespaces}));
        }
        if !self.excluded_namespaces.is_empty() {
            expressions.push(json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": self.excluded_namespaces}));
        }
        if let Some(selector) = &self.namespace_selector {
            if let Some(more) = selector.get("matchExpressions").and_then(Value::as_array) {
                expressions.extend(more.iter().cloned());
            }
            if let Some(more) = selector.get("matchLabels").and_then(Value::as_object) {
                labels.extend(more.clone());
            }
        }
        if expressions.is_empty() && labels.is_empty() {
            return None;
        }
        let mut selector = serde_json::Map::new();
        if !labels.is_empty() {
            selector.insert("matchLabels".into(), Value::Object(labels));
        }
        if !expressions.is_empty() {
            selector.insert("matchExpressions".into(), Value::Array(expressions));
        }
        Some(Value::Object(selector))
    }
}

/// Whether the settings make the policy mutate.
fn mutates(settings: &Value) -> bool {
    let resolve = settings
        .pointer("/digests/resolve")
        .and_then(Value::as_str)
        .is_some_and(|r| r != "Never");
    let enforce = settings
        .pointer("/pullPolicy/enforceAlways")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    resolve || enforce
}

/// A ready ClusterAdmissionPolicy with the settings (comments kept).
pub fn render(name: &str, settings: &SettingsDoc, advice: &MatchAdvice) -> String {
    let json = settings.to_json();
    let mut out = String::new();
    out.push_str(
        "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata:\n",
    );
    out.push_str(&format!("  name: {}\n", Value::String(name.to_owned())));
    out.push_str("spec:\n");
    out.push_str(&format!(
        "  # where you pushed imagegate (README \"Deploying in Kubewarden\")\n  module: {MODULE_PLACEHOLDER}\n"
    ));
    out.push_str(&format!(
        "  mode: {}\n",
        if advice.monitor { "monitor" } else { "protect" }
    ));
    out.push_str(&format!("  mutating: {}\n", mutates(&json)));
    out.push_str("  backgroundAudit: true\n");
    out.push_str(concat!(
        "  rules:\n",
        "    - apiGroups: [\"\"]\n",
        "      apiVersions: [\"v1\"]\n",
        "      resources: [\"pods\", \"pods/ephemeralcontainers\", \"replicationcontrollers\", \"podtemplates\"]\n",
        "      operations: [\"CREATE\", \"UPDATE\"]\n",
        "    - apiGroups: [\"apps\"]\n",
        "      apiVersions: [\"v1\"]\n",
        "      resources: [\"deployments\", \"replicasets\", \"statefulsets\", \"daemonsets\"]\n",
        "      operations: [\"CREATE\", \"UPDATE\"]\n",
        "    - apiGroups: [\"batch\"]\n",
        "      apiVersions: [\"v1\"]\n",
        "      resources: [\"jobs\", \"cronjobs\"]\n",
        "      operations: [\"CREATE\", \"UPDATE\"]\n",
    ));
    if let Some(selector) = advice.namespace_selector() {
        out.push_str(&format!("  namespaceSelector: {selector}\n"));
    }
    if let Some(selector) = &advice.object_selector {
        out.push_str(&format!("  objectSelector: {selector}\n"));
    }
    out.push_str("  settings:\n");
    out.push_str(&settings.to_yaml(4));
    out
}
