//! The wire format of `/validate` and `/mutate`: `admission.k8s.io/v1`
//! AdmissionReview in, AdmissionReview out.
//!
//! The request side is strict, unlike `imagegate run`'s input (which also
//! takes a bare request or a plain object): the API server always sends a
//! whole review, so anything else is a client mistake, answered with 400 and
//! a message that says what was found where. The response side reuses
//! [`AdmissionResponse`], the shape `imagegate run` prints, so the two give
//! the same verdict, message, warnings and patch for the same request.
//!
//! The request is read without building a tree of the object: the review
//! and its `request` are split into their keys, each value kept as the raw
//! JSON text it was sent as ([`RawValue`], borrowed from the body), and the
//! policy gets those bytes (in policy-server's key order, see
//! [`crate::payload`]). Only the few small fields the log needs are decoded,
//! and the object only when the policy mutated it (for the patch). A 3 MiB
//! Pod then costs the server its body and the payload, not a `Value` tree
//! several times its size.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use imagegate_policy::rules::RuleId;

use crate::output::{AdmissionResponse, ValidationResponse};

/// The only AdmissionReview version served (the manifests ask for it in
/// `admissionReviewVersions`).
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// The kind of the request and response documents.
pub const KIND: &str = "AdmissionReview";

/// Which webhook endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`: the verdict only, never a patch.
    Validate,
    /// `/mutate`: the verdict and the JSON Patch of the policy's mutation.
    Mutate,
}

impl Endpoint {
    /// The path it is served on.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Validate => "/validate",
            Endpoint::Mutate => "/mutate",
        }
    }
}

/// A request body that is not an `admission.k8s.io/v1` AdmissionReview.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON at all.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("the body must be an AdmissionReview object, found {0}")]
    NotObject(&'static str),
    /// Another `apiVersion` (or none).
    #[error("apiVersion must be \"{API_VERSION}\", found {0}")]
    ApiVersion(String),
    /// Another `kind` (or none).
    #[error("kind must be \"{KIND}\", found {0}")]
    Kind(String),
    /// No `request`.
    #[error("the AdmissionReview has no request")]
    NoRequest,
    /// `request` is not an object.
    #[error("the AdmissionReview's request must be an object, found {0}")]
    RequestNotObject(&'static str),
    /// `request.uid` is missing, empty or not a string.
    #[error("request.uid must be a non-empty string, found {0}")]
    Uid(String),
}

/// A parsed AdmissionReview: its request, split into keys whose values
/// are the JSON text sent, and the fields the decision log names.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// What the request is about, for the decision log.
    pub head: RequestHead,
    /// `request`'s keys and their values as sent (duplicate keys: the last).
    pub fields: BTreeMap<String, &'a RawValue>,
}

/// The request's identifying fields; missing or mistyped ones are `None`
/// (the policy judges the request; the log only names it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `request.kind.kind`, e.g. `Pod`.
    pub kind: Option<String>,
    /// `request.namespace`.
    pub namespace: Option<String>,
    /// `request.name`.
    pub name: Option<String>,
    /// `request.operation`, e.g. `CREATE`.
    pub operation: Option<String>,
    /// `request.dryRun`.
    pub dry_run: Option<bool>,
}

/// Reads an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<Review<'_>, ReviewError> {
    let text =
        std::str::from_utf8(body).map_err(|e| ReviewError::NotJson(format!("not UTF-8: {e}")))?;
    let document: BTreeMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(document) => document,
        // Either not JSON, or JSON that is not an object: say which.
        Err(error) => {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => ReviewError::NotObject(describe_raw(text)),
                Err(_) => ReviewError::NotJson(error.to_string()),
            });
        }
    };
    let api_version = document.get("apiVersion").copied();
    if as_string(api_version).as_deref() != Some(API_VERSION) {
        return Err(ReviewError::ApiVersion(found(api_version)));
    }
    let kind = document.get("kind").copied();
    if as_string(kind).as_deref() != Some(KIND) {
        return Err(ReviewError::Kind(found(kind)));
    }
    let request = match document.get("request") {
        None => return Err(ReviewError::NoRequest),
        Some(raw) if raw.get() == "null" => return Err(ReviewError::NoRequest),
        Some(raw) => *raw,
    };
    let fields: BTreeMap<String, &RawValue> = serde_json::from_str(request.get())
        .map_err(|_| ReviewError::RequestNotObject(describe_raw(request.get())))?;
    let uid = fields.get("uid").copied();
    let Some(uid_text) = as_string(uid).filter(|u| !u.is_empty()) else {
        return Err(ReviewError::Uid(found(uid)));
    };
    let head = RequestHead {
        kind: fields
            .get("kind")
            .and_then(|raw| serde_json::from_str::<GroupVersionKind>(raw.get()).ok())
            .and_then(|gvk| gvk.kind),
        namespace: as_string(fields.get("namespace").copied()),
        name: as_string(fields.get("name").copied()),
        operation: as_string(fields.get("operation").copied()),
        dry_run: fields
            .get("dryRun")
            .and_then(|raw| serde_json::from_str(raw.get()).ok()),
    };
    Ok(Review {
        uid: uid_text,
        head,
        fields,
    })
}

#[derive(serde::Deserialize)]
struct GroupVersionKind {
    kind: Option<String>,
}

/// The string a raw value holds, if it is one.
fn as_string(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
}

/// What kind of JSON value `text` (valid JSON) is, as `describe` says it.
fn describe_raw(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// `"x"` (quoted, shortened) for a present value, `nothing` for a missing one.
fn found(value: Option<&RawValue>) -> String {
    const MAX: usize = 80;
    match value {
        None => "nothing".to_owned(),
        Some(value) => {
            let text = value.get().trim();
            if text.chars().count() > MAX {
                let short: String = text.chars().take(MAX).collect();
                format!("{short}…")
            } else {
                text.to_owned()
            }
        }
    }
}

/// The AdmissionResponse for the policy's answer, as `imagegate run` builds
/// it; `/validate` drops the patch (a validating webhook cannot patch, and
/// the API server runs mutating webhooks first, so `/validate` sees the
/// object `/mutate` already patched). The object is decoded only when the
/// policy mutated it, to compute the patch.
pub fn admission_response(
    endpoint: Endpoint,
    review: &Review<'_>,
    response: &ValidationResponse,
) -> AdmissionResponse {
    let object: Option<Value> = if response.mutated_object.is_some() {
        review
            .fields
            .get("object")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    } else {
        None
    };
    let mut admission = AdmissionResponse::from_validation(&review.uid, object.as_ref(), response);
    if endpoint == Endpoint::Validate {
        admission.patch = None;
        admission.patch_type = None;
    }
    admission
}

/// The rule ids (SPEC 2.9) a verdict names: each violation in the message
/// and in the warnings ends with `[id]`. Each id once, in order of appearance,
/// with the action: `deny` (message of a rejection) or `warn` (warnings).
pub fn fired_rules(response: &AdmissionResponse) -> Vec<(&'static str, &'static str)> {
    let mut fired: Vec<(&'static str, &'static str)> = Vec::new();
    let mut scan = |text: &str, action: &'static str| {
        for id in RuleId::ALL.map(RuleId::as_str) {
            if text.contains(&format!("[{id}]")) && !fired.contains(&(id, action)) {
                fired.push((id, action));
            }
        }
    };
    if !response.allowed
        && let Some(message) = response.status.as_ref().and_then(|s| s.message.as_deref())
    {
        scan(message, "deny");
    }
    for warning in response.warnings.iter().flatten() {
        scan(warning, "warn");
    }
    fired
}

/// The response document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseReview<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: &'a AdmissionResponse,
}

/// The AdmissionReview carrying `response`.
pub fn response_review(response: &AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&ResponseReview {
        api_version: API_VERSION,
        kind: KIND,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The error, or the uid.
    fn review(value: Value) -> Result<String, ReviewError> {
        parse_review(value.to_string().as_bytes()).map(|r| r.uid)
    }

    #[test]
    fn a_v1_review_gives_its_request_as_sent_and_what_the_log_names() {
        let body = br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "operation": "CREATE", "kind": {"group": "", "kind": "Pod"},
            "namespace": "ns", "dryRun": true, "object": {"b":  1, "a": [2]}}}"#;
        let parsed = parse_review(body).unwrap();
        assert_eq!(parsed.uid, "u-1");
        assert_eq!(
            parsed.head,
            RequestHead {
                kind: Some("Pod".into()),
                namespace: Some("ns".into()),
                name: None,
                operation: Some("CREATE".into()),
                dry_run: Some(true),
            }
        );
        // The object's bytes as sent, not re-encoded.
        assert_eq!(parsed.fields["object"].get(), r#"{"b":  1, "a": [2]}"#);
    }

    #[test]
    fn not_utf8_is_not_json() {
        assert!(matches!(
            parse_review(b"{\"a\": \"\xff\"}"),
            Err(ReviewError::NotJson(m)) if m.contains("UTF-8")
        ));
    }

    #[test]
    fn everything_else_says_what_was_found() {
        assert!(matches!(
            parse_review(b"{\"apiVersion\": "),
            Err(ReviewError::NotJson(m)) if m.contains("EOF")
        ));
        assert_eq!(review(json!([1])), Err(ReviewError::NotObject("an array")));
        assert_eq!(
            review(json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": KIND}))
                .map_err(|e| e.to_string()),
            Err(
                "apiVersion must be \"admission.k8s.io/v1\", found \"admission.k8s.io/v1beta1\""
                    .into()
            )
        );
        assert_eq!(
            review(json!({"apiVersion": API_VERSION, "kind": "Pod"})).map_err(|e| e.to_string()),
            Err("kind must be \"AdmissionReview\", found \"Pod\"".into())
        );
        assert_eq!(
            review(json!({"apiVersion": API_VERSION})).map_err(|e| e.to_string()),
            Err("kind must be \"AdmissionReview\", found nothing".into())
        );
        assert_eq!(
            review(json!({"apiVersion": API_VERSION, "kind": KIND})),
            Err(ReviewError::NoRequest)
        );
        assert_eq!(
            review(json!({"apiVersion": API_VERSION, "kind": KIND, "request": "x"})),
            Err(ReviewError::RequestNotObject("a string"))
        );
        assert_eq!(
            review(json!({"apiVersion": API_VERSION, "kind": KIND, "request": {"uid": ""}}))
                .map_err(|e| e.to_string()),
            Err("request.uid must be a non-empty string, found \"\"".into())
        );
    }

    #[test]
    fn validate_never_patches_and_mutate_does() {
        let body = json!({"apiVersion": API_VERSION, "kind": KIND,
            "request": {"uid": "u", "object": {"a": 1}}})
        .to_string();
        let review = parse_review(body.as_bytes()).unwrap();
        let answer = ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(json!({"a": 2})),
            audit_annotations: None,
            warnings: None,
        };
        let mutate = admission_response(Endpoint::Mutate, &review, &answer);
        assert!(mutate.patch.is_some());
        let validate = admission_response(Endpoint::Validate, &review, &answer);
        assert_eq!((validate.patch, validate.patch_type), (None, None));
        assert!(validate.allowed);
        let document: Value = serde_json::from_slice(&response_review(&mutate).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(document["apiVersion"], API_VERSION);
        assert_eq!(document["kind"], KIND);
        assert_eq!(document["response"]["uid"], "u");
        assert_eq!(document["response"]["patchType"], "JSONPatch");
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn fired_rules_come_from_the_message_and_the_warnings() {
        let answer = ValidationResponse {
            accepted: false,
            message: Some("2 image violations: a: x [source]; b: y [tag]; c: z [source]".into()),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: Some(vec!["d: unpinned [digest]".into()]),
        };
        let admission = AdmissionResponse::from_validation("u", None, &answer);
        assert_eq!(
            fired_rules(&admission),
            vec![("source", "deny"), ("tag", "deny"), ("digest", "warn")]
        );
    }
}
