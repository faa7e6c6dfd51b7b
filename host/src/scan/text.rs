//! `--format text`: the report for people.
//!
//! Objects that are rejected, warned, mutated or could not be evaluated are
//! listed, each under a heading with its status, `Kind/namespace/name` and
//! `file:line (document N)`; each violation gives the field path, the image
//! as written and normalized, its line, the reason, the rule and a fix.
//! Input errors give `file:line:column (document N)` and the parser's
//! message. Allowed and skipped objects are only counted, in the summary
//! line that ends the report. Colours (ANSI) only when asked for: the
//! command asks when stdout is a terminal and `NO_COLOR` is not set.

use std::fmt::Write as _;

use super::message::Violation;
use super::{Entry, Finding, ObjectResult, Outcome, Report, Status, Summary, document_label};
use crate::terminal::{Style, clean};

/// The whole report, ending with a newline.
pub fn render(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    for entry in &report.entries {
        match entry {
            Entry::Object(object) => object_block(&mut out, report, object, style),
            Entry::Error(error) => {
                let mut place = clean(report.file_name(error.file));
                if let Some(line) = error.line {
                    let _ = write!(place, ":{line}");
                    if let Some(column) = error.column {
                        let _ = write!(place, ":{column}");
                    }
                }
                if let Some(document) = error.document {
                    let _ = write!(place, " (document {document})");
                }
                let _ = writeln!(out, "{}  {place}", style.red("ERROR"));
                let _ = writeln!(out, "  {}\n", clean(&error.message));
            }
        }
    }
    out.push_str(&summary_line(&report.summary(), style));
    out.push('\n');
    out
}

fn object_block(out: &mut String, report: &Report, object: &ObjectResult, style: Style) {
    let status = object.status();
    let patch = match &object.outcome {
        Outcome::Checked(verdict) => verdict.patch.as_slice(),
        _ => &[],
    };
    let label = match status {
        Status::Rejected => style.red("REJECTED"),
        Status::Warned => style.yellow("WARNED"),
        Status::Error => style.red("ERROR"),
        Status::Allowed if !patch.is_empty() => style.green("MUTATED"),
        Status::Allowed | Status::Skipped => return,
    };
    let _ = writeln!(
        out,
        "{label}  {}  {}:{} ({})",
        style.bold(&clean(&object.identity())),
        clean(report.file_name(object.at.file)),
        object.at.line,
        document_label(report.document_number(&object.at), object.at.item)
    );
    match &object.outcome {
        Outcome::Failed(message) => {
            let _ = writeln!(out, "  {}", clean(message));
        }
        Outcome::Checked(verdict) => {
            for finding in &verdict.violations {
                finding_lines(out, finding, &style.red("deny"), style);
            }
            for finding in &verdict.warnings {
                finding_lines(out, finding, &style.yellow("warn"), style);
            }
            for op in patch {
                let text = |key: &str| {
                    op.get(key).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                };
                let _ = writeln!(
                    out,
                    "  {}  {} {} = {}",
                    style.green("patch"),
                    clean(&text("op").unwrap_or_default()),
                    clean(&text("path").unwrap_or_default()),
                    clean(&text("value").unwrap_or_default()),
                );
            }
        }
        Outcome::Skipped(_) => {}
    }
    out.push('\n');
}

/// `  deny  path "image" (normalized)  line N`, then the reason with its
/// rule, then the fix.
fn finding_lines(out: &mut String, finding: &Finding, label: &str, style: Style) {
    let line = style.dim(&format!("line {}", finding.line));
    match &finding.violation {
        Some(violation) => violation_lines(out, violation, label, &line, style),
        None => {
            let _ = writeln!(out, "  {label}  {}  {line}", clean(&finding.text));
        }
    }
}

/// One violation for people: `  LABEL  path "image" (normalized)  WHERE`,
/// then the reason and its `[rule]`, then `fix: …`. `scan` gives the file
/// line as `place`; `run -o text` gives nothing.
pub fn violation_lines(
    out: &mut String,
    violation: &Violation,
    label: &str,
    place: &str,
    style: Style,
) {
    let indent = "        ";
    let mut subject = violation.path.clone();
    if let Some(image) = &violation.image {
        let _ = write!(subject, " {}", serde_json::Value::String(image.clone()));
        if let Some(normalized) = violation.normalized.as_ref().filter(|n| *n != image) {
            let _ = write!(subject, " ({normalized})");
        }
    }
    let subject = clean(&subject);
    if place.is_empty() {
        let _ = writeln!(out, "  {label}  {subject}");
    } else {
        let _ = writeln!(out, "  {label}  {subject}  {place}");
    }
    let _ = writeln!(
        out,
        "{indent}{} {}",
        clean(&violation.reason),
        style.dim(&format!("[{}]", violation.rule))
    );
    let fix = super::message::fix(&violation.rule, &violation.reason, &violation.path);
    let _ = writeln!(out, "{indent}fix: {}", style.green(&fix));
}

/// `scanned 21 objects in 8 files: 3 rejected, 1 warned, 11 allowed, 6 skipped; 1 error`.
fn summary_line(summary: &Summary, style: Style) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let rejected = format!("{} rejected", summary.rejected);
    let warned = format!("{} warned", summary.warned);
    let errors = plural(summary.errors, "error");
    format!(
        "scanned {} in {}: {}, {}, {} allowed, {} skipped; {}",
        plural(summary.objects, "object"),
        plural(summary.files, "file"),
        if summary.rejected > 0 {
            style.red(&rejected)
        } else {
            rejected
        },
        if summary.warned > 0 {
            style.yellow(&warned)
        } else {
            warned
        },
        summary.allowed,
        summary.skipped,
        if summary.errors > 0 {
            style.red(&errors)
        } else {
            errors
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_when_asked() {
        let summary = Summary {
            files: 1,
            objects: 2,
            rejected: 1,
            allowed: 1,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&summary, Style { color: false }),
            "scanned 2 objects in 1 file: 1 rejected, 0 warned, 1 allowed, 0 skipped; 0 errors"
        );
        assert!(
            summary_line(&summary, Style { color: true })
                .contains("\u{1b}[1;31m1 rejected\u{1b}[0m")
        );
    }
}
