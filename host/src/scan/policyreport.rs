//! `-o policyreport`: the scan as `wgpolicyk8s.io/v1alpha2` reports, the
//! format Policy Reporter and `kubectl get policyreports` read, next to
//! Kyverno's and Kubewarden's audit scanner's.
//!
//! A `v1` List (JSON, for `kubectl apply -f -`) of one PolicyReport named
//! `imagegate` per namespace, and a ClusterPolicyReport `imagegate` for what
//! has no namespace (input errors). Each deny violation is a `fail` result
//! (severity high), each warn violation a `warn` (medium), an admitted
//! object without warnings one `pass`, an object that could not be
//! evaluated an `error`; policy `imagegate`, rule the violation's rule id,
//! source `imagegate`, the object as `resources[0]`, and the image, field
//! path, file and line as `properties`. Objects of kinds the policy does
//! not check are left out.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::{Entry, Finding, ObjectResult, Outcome, Report};

/// The policy name in every result.
const POLICY: &str = "imagegate";
/// The rule of a rejection that is not a list of violations.
const REJECTION_RULE: &str = "rejection";

#[derive(Default)]
struct Summary {
    pass: u64,
    fail: u64,
    warn: u64,
    error: u64,
    skip: u64,
}

#[derive(Default)]
struct PolicyReport {
    results: Vec<Value>,
    summary: Summary,
}

impl PolicyReport {
    fn add(&mut self, result: Value) {
        match result["result"].as_str() {
            Some("pass") => self.summary.pass += 1,
            Some("fail") => self.summary.fail += 1,
            Some("warn") => self.summary.warn += 1,
            Some("error") => self.summary.error += 1,
            _ => self.summary.skip += 1,
        }
        self.results.push(result);
    }

    fn render(self, kind: &str, namespace: Option<&str>) -> Value {
        let mut metadata = json!({
            "name": POLICY,
            "labels": {"app.kubernetes.io/managed-by": "imagegate"},
        });
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": kind,
            "metadata": metadata,
            "summary": {
                "pass": self.summary.pass,
                "fail": self.summary.fail,
                "warn": self.summary.warn,
                "error": self.summary.error,
                "skip": self.summary.skip,
            },
            "results": self.results,
        })
    }
}

/// The time of the results: `SOURCE_DATE_EPOCH` when set (reproducible
/// reports), else now.
fn timestamp() -> Value {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    json!({"seconds": seconds, "nanos": 0})
}

fn resource(object: &ObjectResult) -> Value {
    let mut reference = Map::new();
    for (key, value) in [
        ("apiVersion", &object.api_version),
        ("kind", &object.kind),
        ("name", &object.name),
        ("namespace", &object.namespace),
    ] {
        if let Some(value) = value {
            reference.insert(key.into(), json!(value));
        }
    }
    Value::Object(reference)
}

/// One result.
fn result(
    report: &Report,
    object: &ObjectResult,
    outcome: &str,
    rule: &str,
    message: &str,
    finding: Option<&Finding>,
    time: &Value,
) -> Value {
    let mut properties = Map::new();
    properties.insert("file".into(), json!(report.file_name(object.at.file)));
    let line = finding.map_or(object.at.line, |f| f.line);
    properties.insert("line".into(), json!(line.to_string()));
    if let Some(violation) = finding.and_then(|f| f.violation.as_ref()) {
        properties.insert("path".into(), json!(violation.path));
        if let Some(image) = &violation.image {
            properties.insert("image".into(), json!(image));
        }
        if let Some(normalized) = &violation.normalized {
            properties.insert("normalized".into(), json!(normalized));
        }
    }
    if let Some(fix) = finding.and_then(Finding::fix) {
        properties.insert("fix".into(), json!(fix));
    }
    let mut value = json!({
        "policy": POLICY,
        "rule": rule,
        "result": outcome,
        "source": "imagegate",
        "category": "Secure supply chain",
        "scored": true,
        "message": message,
        "resources": [resource(object)],
        "properties": properties,
        "timestamp": time,
    });
    match outcome {
        "fail" | "error" => value["severity"] = json!("high"),
        "warn" => value["severity"] = json!("medium"),
        _ => {}
    }
    value
}

fn rule_of(finding: &Finding) -> &str {
    finding
        .violation
        .as_ref()
        .map_or(REJECTION_RULE, |v| v.rule.as_str())
}

/// The report as a `v1` List of PolicyReports and a ClusterPolicyReport
/// (pretty JSON, ending with a newline).
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let time = timestamp();
    let mut namespaced: BTreeMap<String, PolicyReport> = BTreeMap::new();
    let mut cluster = PolicyReport::default();
    for entry in &report.entries {
        match entry {
            Entry::Error(error) => {
                let mut properties = Map::new();
                properties.insert("file".into(), json!(report.file_name(error.file)));
                if let Some(line) = error.line {
                    properties.insert("line".into(), json!(line.to_string()));
                }
                cluster.add(json!({
                    "policy": POLICY,
                    "rule": "input",
                    "result": "error",
                    "severity": "high",
                    "source": "imagegate",
                    "scored": true,
                    "message": error.message,
                    "properties": properties,
                    "timestamp": time,
                }));
            }
            Entry::Object(object) => {
                let results: Vec<Value> = match &object.outcome {
                    Outcome::Skipped(_) => continue,
                    Outcome::Failed(message) => {
                        vec![result(
                            report,
                            object,
                            "error",
                            "evaluation",
                            message,
                            None,
                            &time,
                        )]
                    }
                    Outcome::Checked(verdict) => {
                        let mut results: Vec<Value> = verdict
                            .violations
                            .iter()
                            .map(|f| {
                                result(report, object, "fail", rule_of(f), &f.text, Some(f), &time)
                            })
                            .chain(verdict.warnings.iter().map(|f| {
                                result(report, object, "warn", rule_of(f), &f.text, Some(f), &time)
                            }))
                            .collect();
                        if results.is_empty() {
                            results.push(result(
                                report,
                                object,
                                "pass",
                                "images",
                                "every image is admitted",
                                None,
                                &time,
                            ));
                        }
                        results
                    }
                };
                let target = match &object.namespace {
                    Some(namespace) => namespaced.entry(namespace.clone()).or_default(),
                    None => &mut cluster,
                };
                for r in results {
                    target.add(r);
                }
            }
        }
    }
    let mut items: Vec<Value> = namespaced
        .into_iter()
        .map(|(namespace, r)| r.render("PolicyReport", Some(&namespace)))
        .collect();
    if !cluster.results.is_empty() {
        items.push(cluster.render("ClusterPolicyReport", None));
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut text = serde_json::to_string_pretty(&list)?;
    text.push('\n');
    Ok(text)
}
