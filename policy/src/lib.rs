//! imagegate policy core: which container images a Kubernetes cluster may run.
//!
//! The core is plain Rust with no I/O: it parses image references
//! ([`reference`](mod@reference)), compiles settings once into a [`Policy`]
//! ([`settings`]), walks the pod specs of an admission request
//! ([`workload`]), applies each rule ([`rules`]) and renders a
//! [`Verdict`]. The Kubewarden (waPC) entry in `entry/wapc.rs` is a thin
//! adapter around [`validate`] and [`validate_settings`].
//!
//! ```
//! use imagegate_policy::{validate, validate_settings, capabilities::Offline};
//!
//! let settings = br#"{"registries": {"allow": ["ghcr.io"]}}"#;
//! assert!(validate_settings(settings).valid);
//!
//! let payload = br#"{
//!   "settings": {"registries": {"allow": ["ghcr.io"]}},
//!   "request": {"uid": "1", "operation": "CREATE", "kind": {"kind": "Pod"},
//!               "object": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}
//! }"#;
//! let response = validate(payload, &Offline);
//! assert!(!response.accepted);
//! assert_eq!(
//!     response.message.as_deref(),
//!     Some(r#"1 image violation: spec.containers[0].image "nginx:1.27" (docker.io/library/nginx:1.27): registry docker.io is not trusted (trusted: ghcr.io) [source]"#)
//! );
//! ```

pub mod capabilities;
pub mod evaluate;
mod json;
pub mod matcher;
pub mod mutate;
mod pem;
// Recorded host answers, for hosts and test runners; not in the module.
#[cfg(not(target_arch = "wasm32"))]
pub mod recorded;
pub mod reference;
pub mod request;
pub mod rules;
pub mod settings;
pub mod verdict;
pub mod workload;
pub mod wrap;

#[cfg(all(any(feature = "wapc", feature = "js"), target_arch = "wasm32"))]
mod entry;

pub use evaluate::evaluate;
pub use json::ShapeError;
pub use request::RequestError;
pub use settings::{Policy, SettingsError, compile_cached};
pub use verdict::{SettingsValidationResponse, ValidationResponse, Verdict, Violation};

use capabilities::Capabilities;
use request::ValidatePayload;

/// Kubewarden's `validate`: `payload` is `{"request": ..., "settings": ...}`.
/// Never fails: input the policy cannot read is rejected with a message.
pub fn validate(bytes: &[u8], capabilities: &dyn Capabilities) -> ValidationResponse {
    let payload = match ValidatePayload::parse(bytes) {
        Ok(p) => p,
        Err(e) => return ValidationResponse::bad_request(e.to_string()),
    };
    let settings = payload.settings.map_or("null", |s| s.get());
    let policy = match compile_cached(settings.as_bytes()) {
        Ok(p) => p,
        Err(e) => return ValidationResponse::bad_request(format!("invalid settings: {e}")),
    };
    let verdict = match evaluate(&policy, &payload.request, capabilities) {
        Ok(verdict) => verdict,
        Err(e) => return ValidationResponse::bad_request(e.to_string()),
    };
    let edits = verdict.edits.clone();
    let mut response = verdict.into_response();
    // A rejection wins over a mutation; an accepted request with nothing to
    // change returns no object.
    if response.accepted && !edits.is_empty() {
        match mutate::mutated_object(bytes, &edits) {
            Ok(object) => response.mutated_object = Some(object),
            Err(e) => {
                return ValidationResponse::bad_request(format!(
                    "invalid request: cannot mutate the object: {e}"
                ));
            }
        }
    }
    response
}

/// Kubewarden's `validate_settings`: `settings` is the settings object.
pub fn validate_settings(settings: &[u8]) -> SettingsValidationResponse {
    match compile_cached(settings) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(e) => SettingsValidationResponse {
            valid: false,
            message: Some(e.to_string()),
        },
    }
}
