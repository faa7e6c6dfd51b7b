//! The verdict (SPEC 4): every violation of one evaluation, rendered as one
//! rejection message and one warning per warn-rule violation.

use std::fmt;

use serde::Serialize;

use crate::rules::{Action, RuleId};

/// One (image, rule) pair that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON field path of the image, e.g. `spec.containers[0].image`.
    pub path: String,
    /// The image as written, when there is one.
    pub image: Option<String>,
    /// Its normalized form, when it parsed.
    pub normalized: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The rule that failed.
    pub rule: RuleId,
    /// Deny or warn, from `actions`.
    pub action: Action,
}

impl fmt::Display for Violation {
    /// `path "image" (normalized): reason [rule]`; the normalized form is
    /// left out when it is what was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(image) = &self.image {
            write!(f, " {}", serde_json::Value::String(image.clone()))?;
            if let Some(normalized) = self.normalized.as_ref().filter(|n| *n != image) {
                write!(f, " ({normalized})")?;
            }
        }
        write!(f, ": {} [{}]", self.reason, self.rule)
    }
}

/// Every violation found in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// In field order: the order the images appear in the object.
    pub violations: Vec<Violation>,
    /// Edits to the object (mutating settings); applied only when the
    /// request is accepted.
    pub edits: Vec<crate::mutate::Edit>,
}

impl Verdict {
    fn with_action(&self, action: Action) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.action == action)
    }

    /// True when no violation denies.
    pub fn is_accepted(&self) -> bool {
        self.with_action(Action::Deny).next().is_none()
    }

    /// The rejection message: the count of deny violations, then each one.
    pub fn message(&self) -> Option<String> {
        let denies: Vec<String> = self
            .with_action(Action::Deny)
            .map(ToString::to_string)
            .collect();
        if denies.is_empty() {
            return None;
        }
        let n = denies.len();
        Some(format!(
            "{n} image violation{}: {}",
            if n == 1 { "" } else { "s" },
            denies.join("; ")
        ))
    }

    /// One admission warning per warn violation.
    pub fn warnings(&self) -> Vec<String> {
        self.with_action(Action::Warn)
            .map(ToString::to_string)
            .collect()
    }

    /// The response a Kubewarden host expects.
    pub fn into_response(self) -> ValidationResponse {
        let warnings = self.warnings();
        ValidationResponse {
            accepted: self.is_accepted(),
            message: self.message(),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings),
        }
    }
}

/// Kubewarden's `ValidationResponse` (snake_case keys, as the SDK writes it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationResponse {
    /// Whether the request is admitted.
    pub accepted: bool,
    /// The rejection message.
    pub message: Option<String>,
    /// HTTP-style status code for a rejection.
    pub code: Option<u16>,
    /// The whole mutated object, when the policy mutates.
    pub mutated_object: Option<serde_json::Value>,
    /// Audit annotations (unused).
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Admission warnings.
    pub warnings: Option<Vec<String>>,
}

impl ValidationResponse {
    /// A rejection for input the policy cannot evaluate (code 400).
    pub fn bad_request(message: String) -> ValidationResponse {
        ValidationResponse {
            accepted: false,
            message: Some(message),
            code: Some(400),
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    /// An acceptance with nothing to say.
    pub fn accept() -> ValidationResponse {
        Verdict::default().into_response()
    }
}

/// Kubewarden's `SettingsValidationResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsValidationResponse {
    /// Whether the settings are usable.
    pub valid: bool,
    /// Every problem, when they are not.
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(image: Option<&str>, normalized: Option<&str>, rule: RuleId, action: Action) -> Violation {
        Violation {
            path: "spec.containers[0].image".into(),
            image: image.map(Into::into),
            normalized: normalized.map(Into::into),
            reason: "why".into(),
            rule,
            action,
        }
    }

    #[test]
    fn normalized_form_only_when_different() {
        let a = v(
            Some("nginx"),
            Some("docker.io/library/nginx"),
            RuleId::Source,
            Action::Deny,
        );
        assert_eq!(
            a.to_string(),
            r#"spec.containers[0].image "nginx" (docker.io/library/nginx): why [source]"#
        );
        let b = v(
            Some("ghcr.io/a/b:1"),
            Some("ghcr.io/a/b:1"),
            RuleId::Tag,
            Action::Deny,
        );
        assert_eq!(
            b.to_string(),
            r#"spec.containers[0].image "ghcr.io/a/b:1": why [tag]"#
        );
        let c = v(None, None, RuleId::Reference, Action::Deny);
        assert_eq!(c.to_string(), "spec.containers[0].image: why [reference]");
    }

    #[test]
    fn images_are_quoted_as_json_strings() {
        let a = v(Some("a\"b\n"), None, RuleId::Reference, Action::Deny);
        assert!(a.to_string().contains(r#""a\"b\n""#), "{a}");
    }

    #[test]
    fn message_counts_deny_violations_and_warnings_are_separate() {
        let verdict = Verdict {
            violations: vec![
                v(Some("a"), None, RuleId::Source, Action::Deny),
                v(Some("b"), None, RuleId::Tag, Action::Warn),
                v(Some("c"), None, RuleId::Tag, Action::Deny),
            ],
            ..Verdict::default()
        };
        assert!(!verdict.is_accepted());
        let msg = verdict.message().unwrap_or_default();
        assert!(msg.starts_with("2 image violations: "), "{msg}");
        assert_eq!(verdict.warnings().len(), 1);
        let one = Verdict {
            violations: vec![v(Some("a"), None, RuleId::Source, Action::Deny)],
            ..Verdict::default()
        };
        assert!(
            one.message()
                .unwrap_or_default()
                .starts_with("1 image violation: ")
        );
    }

    #[test]
    fn warn_only_is_accepted_with_warnings() {
        let verdict = Verdict {
            violations: vec![v(Some("a"), None, RuleId::Source, Action::Warn)],
            ..Verdict::default()
        };
        let r = verdict.into_response();
        assert!(r.accepted);
        assert_eq!(r.message, None);
        assert_eq!(r.warnings.map(|w| w.len()), Some(1));
    }
}
