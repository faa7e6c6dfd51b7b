//! `imagegate scan`: the pieces the command (`commands/scan.rs`) puts
//! together. [`inputs`] reads files into objects, [`message`] reads the
//! policy's verdicts back into violations, [`locate`] finds their lines, and
//! [`text`], [`json`], [`sarif`] and [`junit`] write the report.

pub mod inputs;
pub mod json;
pub mod junit;
pub mod locate;
pub mod message;
pub mod policyreport;
pub mod sarif;
pub mod text;

use serde_json::Value;

use self::inputs::{At, File, InputError};
use self::message::Violation;

/// The kinds the policy checks (SPEC §3); objects of other kinds are skipped.
pub const CHECKED_KINDS: [&str; 9] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

/// Everything a report shows.
#[derive(Debug, Default)]
pub struct Report {
    /// The files read, in order.
    pub files: Vec<File>,
    /// For each document index of [`At::document`]: its position in its file.
    pub document_numbers: Vec<usize>,
    /// Objects and input errors, in file and document order.
    pub entries: Vec<Entry>,
}

/// One line of the report.
#[derive(Debug)]
pub enum Entry {
    /// An object (or a document that is not one).
    Object(ObjectResult),
    /// Input that could not be read.
    Error(InputError),
}

/// What the scan says about one object.
#[derive(Debug)]
pub struct ObjectResult {
    /// Where it is.
    pub at: At,
    /// `apiVersion`, when it is a Kubernetes object.
    pub api_version: Option<String>,
    /// `kind`, when it is a Kubernetes object.
    pub kind: Option<String>,
    /// The namespace of the request (`default` for namespaced kinds that name
    /// none, as `kubectl apply` would), or `metadata.namespace` for skipped
    /// objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
    /// The verdict.
    pub outcome: Outcome,
}

/// What happened to an object.
#[derive(Debug)]
pub enum Outcome {
    /// Not checked: a kind the policy does not cover, or not an object.
    Skipped(String),
    /// The policy's answer.
    Checked(Verdict),
    /// It could not be evaluated (the policy trapped, the object cannot be
    /// wrapped as a request).
    Failed(String),
}

/// The policy's answer for one object.
#[derive(Debug)]
pub struct Verdict {
    /// Admitted.
    pub allowed: bool,
    /// The rejection message as the policy wrote it.
    pub message: Option<String>,
    /// The deny violations (one finding holding the whole message when it is
    /// not a list of violations).
    pub violations: Vec<Finding>,
    /// The warn violations.
    pub warnings: Vec<Finding>,
    /// The JSON Patch (RFC 6902) the policy's mutation gives; empty when none.
    pub patch: Vec<Value>,
}

/// One violation or warning.
#[derive(Debug)]
pub struct Finding {
    /// Read from the text, when it is in the policy's violation form.
    pub violation: Option<Violation>,
    /// The text as the policy wrote it.
    pub text: String,
    /// The file line of the image (else of the nearest field written, else
    /// of the object).
    pub line: usize,
}

impl Finding {
    /// The one-line fix, when the rule is known.
    pub fn fix(&self) -> Option<String> {
        self.violation
            .as_ref()
            .map(|v| message::fix(&v.rule, &v.reason, &v.path))
    }
}

/// The status of an object in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Admitted, no warnings.
    Allowed,
    /// Admitted with warnings.
    Warned,
    /// Denied.
    Rejected,
    /// Not checked.
    Skipped,
    /// Could not be evaluated.
    Error,
}

impl Status {
    /// `allowed`, `warned`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Allowed => "allowed",
            Status::Warned => "warned",
            Status::Rejected => "rejected",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }
}

impl ObjectResult {
    /// The object's status.
    pub fn status(&self) -> Status {
        match &self.outcome {
            Outcome::Skipped(_) => Status::Skipped,
            Outcome::Failed(_) => Status::Error,
            Outcome::Checked(v) if !v.allowed => Status::Rejected,
            Outcome::Checked(v) if !v.warnings.is_empty() => Status::Warned,
            Outcome::Checked(_) => Status::Allowed,
        }
    }

    /// `Kind/namespace/name` (`Kind/name` without a namespace); `document`
    /// for what is not a Kubernetes object.
    pub fn identity(&self) -> String {
        let Some(kind) = &self.kind else {
            return "(not a Kubernetes object)".into();
        };
        let name = self.name.as_deref().unwrap_or("(no name)");
        match &self.namespace {
            Some(namespace) => format!("{kind}/{namespace}/{name}"),
            None => format!("{kind}/{name}"),
        }
    }
}

/// The counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Files read (or that could not be).
    pub files: usize,
    /// Objects found (and documents that are not objects): checked, skipped
    /// and failed.
    pub objects: usize,
    /// Objects denied.
    pub rejected: usize,
    /// Objects admitted with warnings.
    pub warned: usize,
    /// Objects admitted without warnings.
    pub allowed: usize,
    /// Objects not checked.
    pub skipped: usize,
    /// Input errors and objects that could not be evaluated.
    pub errors: usize,
}

impl Report {
    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            files: self.files.len(),
            ..Summary::default()
        };
        for entry in &self.entries {
            let Entry::Object(object) = entry else {
                summary.errors += 1;
                continue;
            };
            summary.objects += 1;
            match object.status() {
                Status::Allowed => summary.allowed += 1,
                Status::Warned => summary.warned += 1,
                Status::Rejected => summary.rejected += 1,
                Status::Skipped => summary.skipped += 1,
                Status::Error => summary.errors += 1,
            }
        }
        summary
    }

    /// The file's name.
    pub fn file_name(&self, file: usize) -> &str {
        self.files.get(file).map_or("", |f| f.name.as_str())
    }

    /// The 1-based position of a document in its file.
    pub fn document_number(&self, at: &At) -> usize {
        self.document_numbers.get(at.document).copied().unwrap_or(0)
    }

    /// The exit code (README "Exit codes"): 2 when some input could not be
    /// read or evaluated (the scan is incomplete, whatever else it found),
    /// else 3 when something is denied, else 0.
    pub fn exit_code(&self) -> u8 {
        let summary = self.summary();
        if summary.errors > 0 {
            crate::exit_code::INPUT_ERROR
        } else if summary.rejected > 0 {
            crate::exit_code::REJECTED
        } else {
            0
        }
    }
}

/// `document 3`, `document 1, items[2]`.
pub fn document_label(number: usize, item: Option<usize>) -> String {
    match item {
        Some(item) => format!("document {number}, items[{item}]"),
        None => format!("document {number}"),
    }
}
