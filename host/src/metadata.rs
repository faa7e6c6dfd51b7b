//! Kubewarden policy metadata (metadata.yml), as policy-evaluator models it
//! (`src/policy_metadata.rs`, kubewarden-abi.md §4.1): the fields, their
//! defaults, the checks `kwctl annotate` runs before embedding it, and the
//! custom section it is embedded in.
//!
//! Serialization follows policy-evaluator's field order and camelCase names,
//! so `kwctl inspect` and policy-server read what `imagegate annotate` writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The custom section the metadata lives in.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// The annotation that holds the usage text (README).
pub const USAGE_ANNOTATION: &str = "io.kubewarden.policy.usage";

/// The annotation `kwctl annotate` always writes: the version of the tool
/// that annotated the module.
pub const KWCTL_ANNOTATION: &str = "io.kubewarden.kwctl";

/// The protocol version a waPC policy must answer.
pub const PROTOCOL_V1: &str = "v1";

/// The protocol version stored for modules that are not waPC.
pub const PROTOCOL_UNKNOWN: &str = "Unknown";

/// The execution mode of waPC policies.
pub const EXECUTION_MODE_WAPC: &str = "kubewarden-wapc";

/// An admission operation a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// `CREATE`.
    #[serde(rename = "CREATE")]
    Create,
    /// `UPDATE`.
    #[serde(rename = "UPDATE")]
    Update,
    /// `DELETE`.
    #[serde(rename = "DELETE")]
    Delete,
    /// `CONNECT`.
    #[serde(rename = "CONNECT")]
    Connect,
    /// `*`.
    #[serde(rename = "*")]
    All,
}

/// One webhook rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// API groups (`""` is core).
    pub api_groups: Vec<String>,
    /// API versions.
    pub api_versions: Vec<String>,
    /// Resources, maybe with `/subresource`.
    pub resources: Vec<String>,
    /// Operations.
    pub operations: Vec<Operation>,
}

/// A Kubernetes resource type the policy may read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
}

/// How the module is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExecutionMode {
    /// waPC (the default; imagegate's mode).
    #[default]
    #[serde(rename = "kubewarden-wapc")]
    KubewardenWapc,
    /// Rego, OPA style.
    #[serde(rename = "opa")]
    Opa,
    /// Rego, Gatekeeper style.
    #[serde(rename = "gatekeeper")]
    Gatekeeper,
    /// A WASI command.
    #[serde(rename = "wasi")]
    Wasi,
}

/// What requests the policy gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PolicyType {
    /// Kubernetes admission requests.
    #[default]
    #[serde(rename = "kubernetes")]
    Kubernetes,
    /// Arbitrary JSON.
    #[serde(rename = "raw")]
    Raw,
}

fn default_true() -> bool {
    true
}

/// The metadata (policy-evaluator's `Metadata`, plus the monorepo's
/// `hostCapabilities`). Unknown keys are ignored, as there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Set by annotate from the module's `protocol_version` answer.
    #[serde(default)]
    pub protocol_version: Option<String>,
    /// Webhook rules (required).
    pub rules: Vec<Rule>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Whether the policy mutates (required).
    pub mutating: bool,
    /// Whether the policy can run in background audits.
    #[serde(default = "default_true")]
    pub background_audit: bool,
    /// Execution mode.
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    /// Policy type.
    #[serde(default)]
    pub policy_type: PolicyType,
    /// Kubernetes resources the policy may read.
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// Oldest Kubewarden that can run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
    /// Host capabilities the policy uses (Kubewarden monorepo addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<BTreeSet<String>>,
}

/// Keys metadata.yml must have.
const REQUIRED_KEYS: &[&str] = &["rules", "mutating"];

impl Metadata {
    /// Reads metadata from a parsed document, checking the required keys
    /// first so their absence is reported by name.
    pub fn from_document(document: Value) -> Result<Metadata, String> {
        let Value::Object(map) = &document else {
            return Err(format!(
                "expected a mapping with the keys rules and mutating, found {}",
                crate::input::describe(&document)
            ));
        };
        let missing: Vec<&str> = REQUIRED_KEYS
            .iter()
            .copied()
            .filter(|key| !map.contains_key(*key))
            .collect();
        if !missing.is_empty() {
            return Err(format!("missing required key(s): {}", missing.join(", ")));
        }
        serde_json::from_value(document).map_err(|e| e.to_string())
    }

    /// The checks policy-evaluator's `Metadata::validate` makes on rules,
    /// context-aware resources and the protocol version; every problem at once.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            for (field, list) in [
                ("apiGroups", &rule.api_groups),
                ("apiVersions", &rule.api_versions),
            ] {
                if list.is_empty() {
                    problems.push(format!("rules[{i}].{field} must not be empty"));
                } else if list.iter().any(|s| s == "*") && list.len() > 1 {
                    problems.push(format!(
                        "rules[{i}].{field}: no other elements can be given when \"*\" is used"
                    ));
                }
            }
            if rule.operations.is_empty() {
                problems.push(format!("rules[{i}].operations must not be empty"));
            } else if rule.operations.contains(&Operation::All) && rule.operations.len() > 1 {
                problems.push(format!(
                    "rules[{i}].operations: no other elements can be given when \"*\" is used"
                ));
            }
            if rule.resources.is_empty() {
                problems.push(format!("rules[{i}].resources must not be empty"));
            } else if let Err(problem) = validate_resources(&rule.resources) {
                problems.push(format!("rules[{i}].resources: {problem}"));
            }
        }
        for resource in &self.context_aware_resources {
            if resource.api_version.is_empty() || resource.kind.is_empty() {
                problems.push(
                    "contextAwareResources: apiVersion and kind must not be empty".to_owned(),
                );
            }
        }
        if self.execution_mode == ExecutionMode::KubewardenWapc
            && self.protocol_version.as_deref() != Some(PROTOCOL_V1)
        {
            problems.push(format!(
                "protocolVersion: a {EXECUTION_MODE_WAPC} policy must have protocol version \
                 {PROTOCOL_V1}, found {}",
                self.protocol_version.as_deref().unwrap_or("none")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Kubernetes' resource list rules (admissionregistration validation), as
/// policy-evaluator transposes them.
fn validate_resources(resources: &[String]) -> Result<(), String> {
    let mut wildcard_subresource_of: BTreeSet<&str> = BTreeSet::new(); // x/*
    let mut any_resource_with: BTreeSet<&str> = BTreeSet::new(); // */x
    let mut has_double_wildcard = false;
    let mut has_single_wildcard = false;
    let mut has_plain_resource = false;
    for resource in resources {
        match resource.as_str() {
            "" => return Err("empty resource is not allowed".into()),
            "*/*" => has_double_wildcard = true,
            "*" => has_single_wildcard = true,
            _ => {}
        }
        let Some((res, sub)) = resource.split_once('/') else {
            has_plain_resource |= resource != "*";
            continue;
        };
        if wildcard_subresource_of.contains(res) {
            return Err(format!(
                "if '{res}/*' is present, must not specify {resource}"
            ));
        }
        if any_resource_with.contains(sub) {
            return Err(format!(
                "if '*/{sub}' is present, must not specify {resource}"
            ));
        }
        if sub == "*" {
            wildcard_subresource_of.insert(res);
        }
        if res == "*" {
            any_resource_with.insert(sub);
        }
    }
    if resources.len() > 1 && has_double_wildcard {
        return Err("if '*/*' is present, must not specify other resources".into());
    }
    if has_single_wildcard && has_plain_resource {
        return Err(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods", "pods/ephemeralcontainers"],
                       "operations": ["CREATE", "UPDATE"]}],
            "mutating": false,
            "annotations": {"io.kubewarden.policy.title": "imagegate"},
            "unknownKey": 1
        })
    }

    #[test]
    fn defaults_and_order_match_policy_evaluator() {
        let mut m = Metadata::from_document(doc()).unwrap();
        assert!(m.background_audit);
        assert_eq!(m.execution_mode, ExecutionMode::KubewardenWapc);
        m.protocol_version = Some(PROTOCOL_V1.into());
        assert_eq!(m.validate(), Ok(()));
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.starts_with(r#"{"protocolVersion":"v1","rules":[{"apiGroups":[""]"#),
            "{json}"
        );
        assert!(json.contains(r#""mutating":false,"backgroundAudit":true,"executionMode":"kubewarden-wapc","policyType":"kubernetes","contextAwareResources":[]"#), "{json}");
    }

    #[test]
    fn required_keys_are_named() {
        assert_eq!(
            Metadata::from_document(json!({"annotations": {}})),
            Err("missing required key(s): rules, mutating".into())
        );
    }

    #[test]
    fn rule_problems_are_all_reported() {
        let mut m = Metadata::from_document(json!({
            "rules": [{"apiGroups": [], "apiVersions": ["*", "v1"],
                       "resources": ["*", "pods"], "operations": ["*", "CREATE"]}],
            "mutating": true
        }))
        .unwrap();
        m.protocol_version = Some(PROTOCOL_V1.into());
        let err = m.validate().unwrap_err();
        assert!(
            err.contains("rules[0].apiGroups must not be empty"),
            "{err}"
        );
        assert!(err.contains("rules[0].apiVersions: no other"), "{err}");
        assert!(err.contains("rules[0].operations: no other"), "{err}");
        assert!(
            err.contains("rules[0].resources: if '*' is present"),
            "{err}"
        );
    }

    #[test]
    fn wapc_needs_v1() {
        let m = Metadata::from_document(doc()).unwrap();
        assert!(
            m.validate()
                .unwrap_err()
                .contains("protocol version v1, found none")
        );
    }

    #[test]
    fn resource_rules() {
        let ok =
            |r: &[&str]| validate_resources(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(ok(&["pods", "pods/ephemeralcontainers"]), Ok(()));
        assert!(ok(&["pods/*", "pods/log"]).is_err());
        assert!(ok(&["*/*", "pods"]).is_err());
        assert_eq!(ok(&["*", "pods/log"]), Ok(()));
    }
}
