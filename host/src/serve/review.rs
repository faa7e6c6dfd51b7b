//! The wire format of `/validate` and `/mutate`: `admission.k8s.io/v1`
//! AdmissionReview in, AdmissionReview out.
//!
//! The request side is strict, unlike `imagegate run`'s input (which also
//! takes a bare request or a plain object): the API server always sends a
//! whole review, so anything else is a client mistake, answered with 400 and
//! a message that says what was found where. The response side reuses
//! [`AdmissionResponse`], the shape `imagegate run` prints, so the two give
//! the same verdict, message, warnings and patch for the same request.

use serde::Serialize;
use serde_json::Value;

use crate::input::describe;
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

/// A parsed AdmissionReview: the request to evaluate and its uid.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request`, handed to the policy as it is.
    pub request: Value,
}

/// Reads an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<Review, ReviewError> {
    let document: Value =
        serde_json::from_slice(body).map_err(|e| ReviewError::NotJson(e.to_string()))?;
    let Value::Object(mut map) = document else {
        return Err(ReviewError::NotObject(describe(&document)));
    };
    let api_version = map.get("apiVersion");
    if api_version.and_then(Value::as_str) != Some(API_VERSION) {
        return Err(ReviewError::ApiVersion(found(api_version)));
    }
    let kind = map.get("kind");
    if kind.and_then(Value::as_str) != Some(KIND) {
        return Err(ReviewError::Kind(found(kind)));
    }
    let request = match map.remove("request") {
        None | Some(Value::Null) => return Err(ReviewError::NoRequest),
        Some(request @ Value::Object(_)) => request,
        Some(other) => return Err(ReviewError::RequestNotObject(describe(&other))),
    };
    let uid = request.get("uid");
    match uid.and_then(Value::as_str) {
        Some(text) if !text.is_empty() => Ok(Review {
            uid: text.to_owned(),
            request,
        }),
        _ => Err(ReviewError::Uid(found(uid))),
    }
}

/// `"x"` (quoted, shortened) for a present value, `nothing` for a missing one.
fn found(value: Option<&Value>) -> String {
    const MAX: usize = 80;
    match value {
        None => "nothing".to_owned(),
        Some(value) => {
            let text = value.to_string();
            if text.chars().count() > MAX {
                let short: String = text.chars().take(MAX).collect();
                format!("{short}…")
            } else {
                text
            }
        }
    }
}

/// The AdmissionResponse for the policy's answer, as `imagegate run` builds
/// it; `/validate` drops the patch (a validating webhook cannot patch, and
/// the API server runs mutating webhooks first, so `/validate` sees the
/// object `/mutate` already patched).
pub fn admission_response(
    endpoint: Endpoint,
    review: &Review,
    response: &ValidationResponse,
) -> AdmissionResponse {
    let object = review.request.get("object");
    let mut admission = AdmissionResponse::from_validation(&review.uid, object, response);
    if endpoint == Endpoint::Validate {
        admission.patch = None;
        admission.patch_type = None;
    }
    admission
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

    fn review(value: Value) -> Result<Review, ReviewError> {
        parse_review(value.to_string().as_bytes())
    }

    #[test]
    fn a_v1_review_gives_its_request_and_uid() {
        let parsed = review(json!({"apiVersion": API_VERSION, "kind": KIND,
            "request": {"uid": "u-1", "operation": "CREATE"}}));
        assert_eq!(
            parsed,
            Ok(Review {
                uid: "u-1".into(),
                request: json!({"uid": "u-1", "operation": "CREATE"})
            })
        );
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
        let review = Review {
            uid: "u".into(),
            request: json!({"uid": "u", "object": {"a": 1}}),
        };
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
