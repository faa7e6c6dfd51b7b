//! What imagegate prints: the policy's answers and the AdmissionResponse
//! built from them exactly as Kubewarden builds it (policy-evaluator
//! `src/admission_response.rs`, kubewarden-abi.md §1.5 and §7).
//!
//! * [`ValidationResponse`] and [`SettingsValidationResponse`] are the policy's
//!   own replies (snake_case, as the SDK writes them), parsed leniently:
//!   unknown keys are ignored and every field but `accepted`/`valid` may be
//!   missing or null.
//! * [`AdmissionResponse`] is what `kwctl run` prints: camelCase, keys in
//!   kwctl's order, `patchType`/`patch`/`status` left out when absent,
//!   `auditAnnotations`/`warnings` printed as `null` when absent.
//! * A guest failure or an unparseable reply becomes `allowed: false`, code
//!   500, `internal server error: <reason>`, as policy-evaluator answers.
//! * [`text_verdict`] is the same AdmissionResponse for people
//!   (`run --output text`), violations one by one with their fixes.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::fmt::Write as _;

use crate::runtime::GuestError;
use crate::scan::message::{parse_rejection, parse_violation};
use crate::scan::text::violation_lines;
use crate::terminal::{Style, clean};

/// The message policy-evaluator gives when a policy mutates a DELETE request.
pub const MUTATION_OF_NULL_OBJECT: &str = "Incoming object is null, which happens only with \
     DELETE operations, but the policy is attempting a mutation. This is not allowed";

/// The policy's answer to `validate` (SDK `ValidationResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    /// Whether the request is admitted.
    pub accepted: bool,
    /// Why it is rejected.
    #[serde(default)]
    pub message: Option<String>,
    /// The HTTP code of a rejection.
    #[serde(default)]
    pub code: Option<u16>,
    /// The whole object, mutated.
    #[serde(default)]
    pub mutated_object: Option<Value>,
    /// Audit annotations.
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Admission warnings.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

impl ValidationResponse {
    /// A rejection with `internal server error: <reason>` and code 500.
    pub fn internal_error(reason: &str) -> ValidationResponse {
        ValidationResponse {
            accepted: false,
            message: Some(format!("internal server error: {reason}")),
            code: Some(500),
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    /// Reads the policy's reply to `validate`; a failed call or a reply that
    /// is not a ValidationResponse becomes an internal error.
    pub fn from_guest(reply: Result<Vec<u8>, GuestError>) -> ValidationResponse {
        match reply {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                ValidationResponse::internal_error(&format!(
                    "the policy's reply to validate is not a ValidationResponse: {e}"
                ))
            }),
            Err(error) => ValidationResponse::internal_error(&error.to_string()),
        }
    }
}

/// The policy's answer to `validate_settings` (SDK `SettingsValidationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsValidationResponse {
    /// Whether the settings are valid.
    pub valid: bool,
    /// Why not.
    #[serde(default)]
    pub message: Option<String>,
}

impl SettingsValidationResponse {
    /// Reads the policy's reply to `validate_settings`; as policy-evaluator
    /// does, a failed call or an unreadable reply means the settings are not
    /// valid.
    pub fn from_guest(reply: Result<Vec<u8>, GuestError>) -> SettingsValidationResponse {
        match reply {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).unwrap_or_else(|e| SettingsValidationResponse {
                    valid: false,
                    message: Some(format!(
                        "the policy's reply to validate_settings is not a \
                         SettingsValidationResponse: {e}"
                    )),
                })
            }
            Err(error) => SettingsValidationResponse {
                valid: false,
                message: Some(format!(
                    "Error invoking settings validation callback: {error}"
                )),
            },
        }
    }
}

/// The only patch type Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PatchType {
    /// RFC 6902.
    #[serde(rename = "JSONPatch")]
    JsonPatch,
}

/// `status` of an AdmissionResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionStatus {
    /// The rejection message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// The AdmissionResponse as `kwctl run` prints it (keys in this order).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// Copied from the request.
    pub uid: String,
    /// The verdict.
    pub allowed: bool,
    /// `JSONPatch` when there is a patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// The base64 of the RFC 6902 patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Message and code, when either is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionStatus>,
    /// Audit annotations (`null` when none).
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings (`null` when none).
    pub warnings: Option<Vec<String>>,
}

/// The JSON Patch that turns `object` into `mutated`; empty when equal.
pub fn patch_between(object: &Value, mutated: &Value) -> json_patch::Patch {
    json_patch::diff(object, mutated)
}

/// The JSON Patch the policy's answer asks for: empty without a mutation or
/// when the request has no object.
pub fn patch_of(object: Option<&Value>, response: &ValidationResponse) -> json_patch::Patch {
    match (object, &response.mutated_object) {
        (Some(object), Some(mutated)) => patch_between(object, mutated),
        _ => json_patch::Patch(Vec::new()),
    }
}

impl AdmissionResponse {
    /// Builds the response from the policy's answer, as policy-evaluator's
    /// `from_policy_validation_response` does. `object` is the request's
    /// `object` (`None` or JSON null on DELETE).
    pub fn from_validation(
        uid: &str,
        object: Option<&Value>,
        response: &ValidationResponse,
    ) -> AdmissionResponse {
        let object = object.filter(|o| !o.is_null());
        if response.mutated_object.is_some() && object.is_none() {
            return AdmissionResponse {
                uid: uid.to_owned(),
                allowed: false,
                patch_type: None,
                patch: None,
                status: Some(AdmissionStatus {
                    message: Some(MUTATION_OF_NULL_OBJECT.to_owned()),
                    code: None,
                }),
                audit_annotations: None,
                warnings: None,
            };
        }

        let patch = patch_of(object, response);
        let patch = if patch.0.is_empty() {
            None
        } else {
            match serde_json::to_string(&patch) {
                Ok(json) => Some(base64::engine::general_purpose::STANDARD.encode(json)),
                Err(e) => {
                    let error = ValidationResponse::internal_error(&format!(
                        "cannot serialize the JSON patch: {e}"
                    ));
                    return AdmissionResponse::from_validation(uid, None, &error);
                }
            }
        };
        let status =
            (response.message.is_some() || response.code.is_some()).then(|| AdmissionStatus {
                message: response.message.clone(),
                code: response.code,
            });
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| PatchType::JsonPatch),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
        }
    }
}

/// The AdmissionResponse for people (`run -o text`): `ALLOWED`, or
/// `REJECTED: N image violations` and each violation as `scan`'s text report
/// writes it (`  deny  path "image" (normalized)`, the reason and its
/// `[rule]`, `fix: …`; README "The imagegate host"), or `REJECTED:
/// <status.message>` when the message is not a list of violations
/// (`REJECTED` when there is none); then `MUTATED: <n> patch operation(s)`
/// when the response carries a patch of `patch_operations` operations; then
/// each warning, as a `warn` block when it is a violation, else as `warning:
/// <w>`. No trailing newline. Control characters in messages are escaped so
/// that none can start a line of its own; ANSI colours only with `style`.
pub fn text_verdict(response: &AdmissionResponse, patch_operations: usize, style: Style) -> String {
    let message = response.status.as_ref().and_then(|s| s.message.as_deref());
    let mut out = String::new();
    let violations = message
        .filter(|_| !response.allowed)
        .and_then(parse_rejection);
    match (response.allowed, message, &violations) {
        (true, _, _) => out.push_str(&style.green("ALLOWED")),
        (false, _, Some(list)) => {
            let plural = if list.len() == 1 { "" } else { "s" };
            let _ = write!(
                out,
                "{}: {} image violation{plural}",
                style.red("REJECTED"),
                list.len()
            );
        }
        (false, Some(message), None) => {
            let _ = write!(out, "{}: {}", style.red("REJECTED"), clean(message));
        }
        (false, None, None) => out.push_str(&style.red("REJECTED")),
    }
    out.push('\n');
    for violation in violations.iter().flatten() {
        violation_lines(&mut out, violation, &style.red("deny"), "", style);
    }
    if response.patch.is_some() {
        let plural = if patch_operations == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{}: {patch_operations} patch operation{plural}",
            style.green("MUTATED")
        );
    }
    for warning in response.warnings.iter().flatten() {
        match parse_violation(warning) {
            Some(violation) => {
                violation_lines(&mut out, &violation, &style.yellow("warn"), "", style);
            }
            None => {
                let _ = writeln!(out, "{}: {}", style.yellow("warning"), clean(warning));
            }
        }
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accepted() -> ValidationResponse {
        ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    #[test]
    fn accepted_without_status_or_patch() {
        let r = AdmissionResponse::from_validation("u1", Some(&json!({"a": 1})), &accepted());
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(r#"{"uid":"u1","allowed":true,"auditAnnotations":null,"warnings":null}"#)
        );
    }

    #[test]
    fn rejection_keys_in_kwctl_order() {
        let mut v = accepted();
        v.accepted = false;
        v.message = Some("no".into());
        v.code = Some(403);
        v.warnings = Some(vec!["w".into()]);
        v.audit_annotations = Some(BTreeMap::from([("k".into(), "v".into())]));
        let r = AdmissionResponse::from_validation("u2", Some(&json!({})), &v);
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(
                r#"{"uid":"u2","allowed":false,"status":{"message":"no","code":403},"auditAnnotations":{"k":"v"},"warnings":["w"]}"#
            )
        );
    }

    #[test]
    fn status_with_only_a_code() {
        let mut v = accepted();
        v.code = Some(201);
        let r = AdmissionResponse::from_validation("u", Some(&json!({})), &v);
        assert_eq!(
            serde_json::to_value(&r)
                .ok()
                .and_then(|j| j.get("status").cloned()),
            Some(json!({"code": 201}))
        );
    }

    #[test]
    fn mutation_becomes_base64_json_patch() {
        let object = json!({"spec": {"containers": [{"image": "nginx"}]}});
        let mut v = accepted();
        v.mutated_object = Some(json!({"spec": {"containers": [{"image": "nginx@sha256:00"}]}}));
        let r = AdmissionResponse::from_validation("u", Some(&object), &v);
        assert_eq!(r.patch_type, Some(PatchType::JsonPatch));
        let decoded = r
            .patch
            .as_deref()
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        assert_eq!(
            decoded,
            Some(
                json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx@sha256:00"}])
            )
        );
        let line = serde_json::to_string(&r).unwrap_or_default();
        assert!(line.starts_with(r#"{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":""#));
    }

    #[test]
    fn unchanged_mutation_gives_no_patch() {
        let object = json!({"a": [1, 2]});
        let mut v = accepted();
        v.mutated_object = Some(object.clone());
        let r = AdmissionResponse::from_validation("u", Some(&object), &v);
        assert_eq!((r.patch_type, r.patch), (None, None));
        assert!(patch_of(Some(&object), &v).0.is_empty());
    }

    #[test]
    fn mutating_a_delete_is_refused() {
        let mut v = accepted();
        v.mutated_object = Some(json!({}));
        for object in [None, Some(&Value::Null)] {
            let r = AdmissionResponse::from_validation("u", object, &v);
            assert!(!r.allowed);
            assert_eq!(
                r.status.and_then(|s| s.message).as_deref(),
                Some(MUTATION_OF_NULL_OBJECT)
            );
        }
    }

    #[test]
    fn guest_replies_are_read_leniently() {
        let v = ValidationResponse::from_guest(Ok(
            br#"{"accepted":false,"message":"m","code":null,"extra":1}"#.to_vec(),
        ));
        assert!(!v.accepted);
        assert_eq!(v.message.as_deref(), Some("m"));
        assert_eq!(v.code, None);
    }

    #[test]
    fn bad_replies_are_internal_errors() {
        let v = ValidationResponse::from_guest(Ok(b"not json".to_vec()));
        assert_eq!(v.code, Some(500));
        assert!(
            v.message
                .as_deref()
                .is_some_and(|m| m.starts_with("internal server error: the policy's reply"))
        );
        let v = ValidationResponse::from_guest(Err(GuestError::CallFailed("boom".into())));
        assert_eq!(
            v.message.as_deref(),
            Some("internal server error: guest call failure: boom")
        );
        let s = SettingsValidationResponse::from_guest(Err(GuestError::CallFailed("x".into())));
        assert!(!s.valid);
        assert_eq!(
            s.message.as_deref(),
            Some("Error invoking settings validation callback: guest call failure: x")
        );
    }

    const PLAIN: Style = Style { color: false };

    fn admission(allowed: bool, message: Option<&str>, warnings: &[&str]) -> AdmissionResponse {
        AdmissionResponse {
            uid: "u".into(),
            allowed,
            patch_type: None,
            patch: None,
            status: message.map(|m| AdmissionStatus {
                message: Some(m.into()),
                code: Some(400),
            }),
            audit_annotations: None,
            warnings: (!warnings.is_empty())
                .then(|| warnings.iter().map(|w| (*w).to_owned()).collect()),
        }
    }

    #[test]
    fn text_allowed_and_rejected() {
        assert_eq!(
            text_verdict(&admission(true, None, &[]), 0, PLAIN),
            "ALLOWED"
        );
        assert_eq!(
            text_verdict(
                &admission(false, Some("1 image violation: x"), &[]),
                0,
                PLAIN
            ),
            "REJECTED: 1 image violation: x"
        );
        assert_eq!(
            text_verdict(&admission(false, None, &[]), 0, PLAIN),
            "REJECTED"
        );
        // A message on an accepted response is not a rejection.
        assert_eq!(
            text_verdict(&admission(true, Some("m"), &[]), 0, PLAIN),
            "ALLOWED"
        );
    }

    #[test]
    fn text_warnings_one_per_line() {
        assert_eq!(
            text_verdict(&admission(true, None, &["w1", "w2"]), 0, PLAIN),
            "ALLOWED\nwarning: w1\nwarning: w2"
        );
        assert_eq!(
            text_verdict(&admission(false, Some("no"), &["w"]), 0, PLAIN),
            "REJECTED: no\nwarning: w"
        );
    }

    #[test]
    fn text_mutation_counts_patch_operations() {
        let object = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        let mut v = accepted();
        v.mutated_object = Some(
            json!({"spec": {"containers": [{"image": "a@sha256:0"}, {"image": "b@sha256:1"}]}}),
        );
        v.warnings = Some(vec!["pinned".into()]);
        let r = AdmissionResponse::from_validation("u", Some(&object), &v);
        let n = patch_of(Some(&object), &v).0.len();
        assert_eq!(
            text_verdict(&r, n, PLAIN),
            "ALLOWED\nMUTATED: 2 patch operations\nwarning: pinned"
        );
        let mut one = admission(true, None, &[]);
        one.patch = Some("W10=".into());
        assert_eq!(
            text_verdict(&one, 1, PLAIN),
            "ALLOWED\nMUTATED: 1 patch operation"
        );
        // No patch in the response, no MUTATED line, whatever the count says.
        assert_eq!(
            text_verdict(&admission(true, None, &[]), 3, PLAIN),
            "ALLOWED"
        );
    }

    #[test]
    fn text_lists_each_violation_with_its_fix() {
        let message = "2 image violations: spec.containers[0].image \"nginx\" \
                       (docker.io/library/nginx:latest): registry docker.io is not trusted \
                       (trusted: ghcr.io) [source]; spec.containers[1].image \"ghcr.io/o/a:dev\": \
                       tag dev is rejected [tag]";
        let warning = "spec.containers[1].imagePullPolicy \"ghcr.io/o/a:dev\": container \"a\" \
                       sets no imagePullPolicy (the API server would default it to \
                       IfNotPresent); set imagePullPolicy explicitly [pullPolicy]";
        let text = text_verdict(&admission(false, Some(message), &[warning]), 0, PLAIN);
        assert_eq!(
            text,
            "REJECTED: 2 image violations\n\
             \x20 deny  spec.containers[0].image \"nginx\" (docker.io/library/nginx:latest)\n\
             \x20       registry docker.io is not trusted (trusted: ghcr.io) [source]\n\
             \x20       fix: use an image from a trusted registry, or add its registry to \
             registries.allow\n\
             \x20 deny  spec.containers[1].image \"ghcr.io/o/a:dev\"\n\
             \x20       tag dev is rejected [tag]\n\
             \x20       fix: use a tag that tags.reject does not match, or pin the image by \
             digest\n\
             \x20 warn  spec.containers[1].imagePullPolicy \"ghcr.io/o/a:dev\"\n\
             \x20       container \"a\" sets no imagePullPolicy (the API server would default \
             it to IfNotPresent); set imagePullPolicy explicitly [pullPolicy]\n\
             \x20       fix: set imagePullPolicy explicitly"
        );
        let colored = text_verdict(
            &admission(false, Some(message), &[]),
            0,
            Style { color: true },
        );
        assert!(colored.starts_with("\u{1b}[1;31mREJECTED\u{1b}[0m: 2 image violations\n"));
    }

    #[test]
    fn text_escapes_control_characters() {
        assert_eq!(
            text_verdict(
                &admission(false, Some("a\nALLOWED"), &["w\r\u{1b}[0m"]),
                0,
                PLAIN
            ),
            "REJECTED: a\\nALLOWED\nwarning: w\\r\\u{1b}[0m"
        );
    }

    #[test]
    fn validation_output_keeps_sdk_nulls() {
        assert_eq!(
            serde_json::to_string(&accepted()).ok().as_deref(),
            Some(
                r#"{"accepted":true,"message":null,"code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#
            )
        );
    }
}
