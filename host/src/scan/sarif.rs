//! `--format sarif`: SARIF 2.1.0, for code-scanning UIs (GitHub code
//! scanning, GitLab, VS Code's SARIF viewer).
//!
//! One run; its driver lists one reporting descriptor per rule id (SPEC
//! §2.9), plus `rejection` for a rejection that is not a list of violations
//! (a pod spec of the wrong shape). Each violation is a result (`error` for
//! deny, `warning` for warn) located in its file at the line of its image
//! (else the nearest field written, else the object's first line), with the
//! object as a logical location. Input errors and objects that could not be
//! evaluated are tool execution notifications of the invocation, with their
//! file and position.

use serde_json::{Value, json};

use super::message::RULE_IDS;
use super::{Entry, Finding, Outcome, Report};

/// The rule of a rejection whose message is not a list of violations.
const REJECTION_RULE: &str = "rejection";

/// Short and full descriptions of each rule.
fn describe(rule: &str) -> (&'static str, &'static str) {
    match rule {
        "reference" => (
            "The image reference does not parse, or is missing",
            "Every image field must hold a reference in the grammar container runtimes use.",
        ),
        "shortName" => (
            "The image names no registry",
            "With shortNames: reject, images must write their registry.",
        ),
        "source" => (
            "The image's registry, repository or image is not trusted",
            "The most specific matching allow or reject entry of registries, repositories and images decides.",
        ),
        "tag" => (
            "The image's tag is not allowed",
            "tags.allow, tags.reject and their regex forms apply to images not pinned by digest.",
        ),
        "digest" => (
            "The image is not pinned to a digest",
            "digests.require needs every image pinned; digests.resolve: Required needs every tag resolved.",
        ),
        "pullPolicy" => (
            "The image pull policy is not allowed",
            "pullPolicy.requireExplicit, allow and alwaysForUnpinned constrain imagePullPolicy.",
        ),
        "imageMetadata" => (
            "The image's labels or annotations are not allowed",
            "Image manifest annotations and config labels are checked against the settings.",
        ),
        "signature" => (
            "The image is not signed as required",
            "signatures names, per registry, repository or image, the keys, keyless identities or certificates that must have signed it (Sigstore).",
        ),
        _ => (
            "The policy rejected the object",
            "The object cannot be evaluated as it is written, e.g. a pod spec of the wrong shape.",
        ),
    }
}

/// A relative URI reference for a file path: unreserved characters and `/`
/// kept, the rest percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn location(report: &Report, file: usize, line: usize, column: Option<usize>) -> Value {
    let mut region = json!({"startLine": line.max(1)});
    if let Some(column) = column {
        region["startColumn"] = json!(column.max(1));
    }
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri(report.file_name(file))},
            "region": region,
        }
    })
}

/// The report as SARIF 2.1.0 (pretty JSON, ending with a newline).
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let rule_ids: Vec<&str> = RULE_IDS.iter().copied().chain([REJECTION_RULE]).collect();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let (short, full) = describe(id);
            let help = if *id == REJECTION_RULE {
                "fix the object so that its pod spec has the shape Kubernetes expects".to_owned()
            } else {
                super::message::fix(id, "", "")
            };
            json!({
                "id": id,
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {"text": help},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for entry in &report.entries {
        let object = match entry {
            Entry::Error(error) => {
                notifications.push(json!({
                    "level": "error",
                    "message": {"text": error.message},
                    "locations": [location(report, error.file, error.line.unwrap_or(1), error.column)],
                }));
                continue;
            }
            Entry::Object(object) => object,
        };
        let verdict = match &object.outcome {
            Outcome::Checked(verdict) => verdict,
            Outcome::Failed(message) => {
                notifications.push(json!({
                    "level": "error",
                    "message": {"text": format!("{}: {message}", object.identity())},
                    "locations": [location(report, object.at.file, object.at.line, None)],
                }));
                continue;
            }
            Outcome::Skipped(_) => continue,
        };
        let findings = verdict
            .violations
            .iter()
            .map(|f| (f, "error"))
            .chain(verdict.warnings.iter().map(|f| (f, "warning")));
        for (finding, level) in findings {
            let rule = finding
                .violation
                .as_ref()
                .map_or(REJECTION_RULE, |v| v.rule.as_str());
            let index = rule_ids.iter().position(|id| *id == rule);
            let mut loc = location(report, object.at.file, finding.line, None);
            loc["logicalLocations"] = json!([{
                "fullyQualifiedName": object.identity(),
                "kind": "object",
            }]);
            results.push(json!({
                "ruleId": rule,
                "ruleIndex": index,
                "level": level,
                "message": {"text": message_text(&object.identity(), finding)},
                "locations": [loc],
            }));
        }
    }

    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "imagegate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&sarif)?;
    text.push('\n');
    Ok(text)
}

/// `Deployment/shop/web: spec...image "nginx:1.27": reason. Fix: ...`
fn message_text(identity: &str, finding: &Finding) -> String {
    match (&finding.violation, finding.fix()) {
        (Some(v), Some(fix)) => {
            let mut subject = v.path.clone();
            if let Some(image) = &v.image {
                subject.push(' ');
                subject.push_str(&Value::String(image.clone()).to_string());
            }
            format!(
                "{identity}: {subject}: {} [{}]. Fix: {fix}.",
                v.reason, v.rule
            )
        }
        _ => format!("{identity}: {}", finding.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_become_uri_references() {
        assert_eq!(uri("testdata/scan/a b.yaml"), "testdata/scan/a%20b.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(uri("dir/ü.yaml"), "dir/%C3%BC.yaml");
    }
}
