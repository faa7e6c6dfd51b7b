//! `--format junit`: JUnit XML for CI dashboards (GitLab, Jenkins, GitHub
//! test reporters).
//!
//! One `<testsuite>` per file, one `<testcase>` per object (and per input
//! error): a rejection is a `<failure>` listing the violations with their
//! fixes, an object that could not be evaluated or a document that could not
//! be read an `<error>`, a skipped object `<skipped>`; warnings go to the
//! test case's `<system-out>`. `<testsuites>` carries the totals.

use std::fmt::Write as _;

use super::{Entry, Finding, ObjectResult, Outcome, Report, Status, document_label};

/// Text escaped for XML attributes and content; characters XML 1.0 cannot
/// hold (most control characters) are written as `\u{..}`.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&c.escape_default().to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// One test case and its kind.
struct Case {
    name: String,
    status: Status,
    body: String,
}

fn finding_text(finding: &Finding) -> String {
    let mut text = format!("line {}: {}", finding.line, finding.text);
    if let Some(fix) = finding.fix() {
        let _ = write!(text, "\n  fix: {fix}");
    }
    text
}

fn object_case(report: &Report, object: &ObjectResult) -> Case {
    let name = format!(
        "{} ({})",
        object.identity(),
        document_label(report.document_number(&object.at), object.at.item)
    );
    let status = object.status();
    let body = match &object.outcome {
        Outcome::Skipped(reason) => format!("<skipped message=\"{}\"/>", xml(reason)),
        Outcome::Failed(message) => format!(
            "<error message=\"{}\" type=\"error\">{}</error>",
            xml(message),
            xml(message)
        ),
        Outcome::Checked(verdict) => {
            let mut body = String::new();
            if !verdict.allowed {
                let lines: Vec<String> = verdict.violations.iter().map(finding_text).collect();
                let _ = write!(
                    body,
                    "<failure message=\"{}\" type=\"rejected\">{}</failure>",
                    xml(verdict.message.as_deref().unwrap_or("rejected")),
                    xml(&lines.join("\n"))
                );
            }
            if !verdict.warnings.is_empty() {
                let lines: Vec<String> = verdict
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {}", finding_text(w)))
                    .collect();
                let _ = write!(body, "<system-out>{}</system-out>", xml(&lines.join("\n")));
            }
            body
        }
    };
    Case { name, status, body }
}

/// The report as JUnit XML, ending with a newline.
pub fn render(report: &Report) -> String {
    let mut suites: Vec<Vec<Case>> = report.files.iter().map(|_| Vec::new()).collect();
    for entry in &report.entries {
        let (file, case) = match entry {
            Entry::Object(object) => (object.at.file, object_case(report, object)),
            Entry::Error(error) => {
                let mut name = String::from("input");
                if let Some(document) = error.document {
                    name = format!("document {document}");
                }
                let mut place = String::new();
                if let Some(line) = error.line {
                    let _ = write!(place, "line {line}");
                    if let Some(column) = error.column {
                        let _ = write!(place, ", column {column}");
                    }
                    place.push_str(": ");
                }
                let body = format!(
                    "<error message=\"{}\" type=\"input\">{}{}</error>",
                    xml(&error.message),
                    xml(&place),
                    xml(&error.message)
                );
                (
                    error.file,
                    Case {
                        name,
                        status: Status::Error,
                        body,
                    },
                )
            }
        };
        if let Some(suite) = suites.get_mut(file) {
            suite.push(case);
        }
    }

    let count =
        |cases: &[Case], status: Status| cases.iter().filter(|c| c.status == status).count();
    let all: Vec<&Case> = suites.iter().flatten().collect();
    let total = |status: Status| all.iter().filter(|c| c.status == status).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"imagegate scan\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        all.len(),
        total(Status::Rejected),
        total(Status::Error),
        total(Status::Skipped)
    );
    for (file, cases) in report.files.iter().zip(&suites) {
        let name = xml(&file.name);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            cases.len(),
            count(cases, Status::Rejected),
            count(cases, Status::Error),
            count(cases, Status::Skipped)
        );
        for case in cases {
            if case.body.is_empty() {
                let _ = writeln!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{name}\"/>",
                    xml(&case.name)
                );
            } else {
                let _ = writeln!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{name}\">{}</testcase>",
                    xml(&case.name),
                    case.body
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml("x\u{1}y\nz"), "x\\u{1}y\nz");
    }
}
