//! `--format json`: one JSON document for machines (the README gives its
//! shape):
//!
//! ```text
//! {"summary": {files, objects, rejected, warned, allowed, skipped, errors},
//!  "objects": [{file, document, item, line, apiVersion, kind, namespace, name,
//!               status, allowed, message, violations, warnings, patch?,
//!               skipped?, error?}],
//!  "errors": [{file, document, line, column, message}]}
//! ```
//!
//! `violations` and `warnings` hold `{path, image, normalized, reason, rule,
//! fix, line, text}`; a rejection that is not a list of violations is one
//! entry whose `reason` and `text` are the message and whose other fields
//! are null.

use serde::Serialize;
use serde_json::Value;

use super::{Entry, Finding, ObjectResult, Outcome, Report, Summary};

#[derive(Serialize)]
struct JsonReport<'a> {
    summary: Summary,
    objects: Vec<JsonObject<'a>>,
    errors: Vec<JsonError<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonObject<'a> {
    file: &'a str,
    document: usize,
    item: Option<usize>,
    line: usize,
    api_version: Option<&'a str>,
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    status: &'static str,
    allowed: Option<bool>,
    message: Option<&'a str>,
    violations: Vec<JsonFinding<'a>>,
    warnings: Vec<JsonFinding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    path: Option<&'a str>,
    image: Option<&'a str>,
    normalized: Option<&'a str>,
    reason: &'a str,
    rule: Option<&'a str>,
    fix: Option<String>,
    line: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonError<'a> {
    file: &'a str,
    document: Option<usize>,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

fn finding(f: &Finding) -> JsonFinding<'_> {
    let v = f.violation.as_ref();
    JsonFinding {
        path: v.map(|v| v.path.as_str()),
        image: v.and_then(|v| v.image.as_deref()),
        normalized: v.and_then(|v| v.normalized.as_deref()),
        reason: v.map_or(f.text.as_str(), |v| v.reason.as_str()),
        rule: v.map(|v| v.rule.as_str()),
        fix: f.fix(),
        line: f.line,
        text: &f.text,
    }
}

fn object<'a>(report: &'a Report, o: &'a ObjectResult) -> JsonObject<'a> {
    let (allowed, message, violations, warnings, patch) = match &o.outcome {
        Outcome::Checked(v) => (
            Some(v.allowed),
            v.message.as_deref(),
            v.violations.iter().map(finding).collect(),
            v.warnings.iter().map(finding).collect(),
            (!v.patch.is_empty()).then_some(v.patch.as_slice()),
        ),
        _ => (None, None, Vec::new(), Vec::new(), None),
    };
    JsonObject {
        file: report.file_name(o.at.file),
        document: report.document_number(&o.at),
        item: o.at.item,
        line: o.at.line,
        api_version: o.api_version.as_deref(),
        kind: o.kind.as_deref(),
        namespace: o.namespace.as_deref(),
        name: o.name.as_deref(),
        status: o.status().as_str(),
        allowed,
        message,
        violations,
        warnings,
        patch,
        skipped: match &o.outcome {
            Outcome::Skipped(reason) => Some(reason),
            _ => None,
        },
        error: match &o.outcome {
            Outcome::Failed(message) => Some(message),
            _ => None,
        },
    }
}

/// The report as pretty JSON, ending with a newline.
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for entry in &report.entries {
        match entry {
            Entry::Object(o) => objects.push(object(report, o)),
            Entry::Error(e) => errors.push(JsonError {
                file: report.file_name(e.file),
                document: e.document,
                line: e.line,
                column: e.column,
                message: &e.message,
            }),
        }
    }
    let mut text = serde_json::to_string_pretty(&JsonReport {
        summary: report.summary(),
        objects,
        errors,
    })?;
    text.push('\n');
    Ok(text)
}
