//! The Kubewarden waPC entry: registers `validate`, `validate_settings` and
//! `protocol_version`, and answers host lookups through Kubewarden's host
//! calls. Everything else lives in the core.

use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

use crate::capabilities::{Capabilities, CapabilityError};

/// Called by the waPC host after instantiation; registers the handlers.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn validate(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&crate::validate(payload, &HostCalls))?)
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&crate::validate_settings(payload))?)
}

/// Lookups answered by the Kubewarden host (`kubewarden/oci/...`).
struct HostCalls;

/// One `kubewarden/oci/<operation>` call with the JSON string `image`: the
/// answer's bytes, or the host's words.
fn oci_call(operation: &str, image: &str) -> Result<Vec<u8>, CapabilityError> {
    let request = serde_json::to_vec(image).map_err(|e| CapabilityError(e.to_string()))?;
    host_call(operation, &request)
}

/// One `kubewarden/oci/<operation>` call with `payload` as it is.
fn host_call(operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
    guest::host_call("kubewarden", "oci", operation, payload).map_err(|e| {
        // wapc-guest prefixes the host's words with "Host error: ".
        let text = e.to_string();
        CapabilityError(
            text.strip_prefix("Host error: ")
                .unwrap_or(&text)
                .to_owned(),
        )
    })
}

impl Capabilities for HostCalls {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            digest: String,
        }
        let answer = oci_call("v1/manifest_digest", image)?;
        serde_json::from_slice::<Answer>(&answer)
            .map(|a| a.digest)
            .map_err(|e| CapabilityError(format!("the host's answer is not a digest: {e}")))
    }

    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        oci_call("v1/oci_manifest", image)
    }

    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        oci_call("v1/oci_manifest_config", image)
    }

    fn verify(&self, request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        host_call("v2/verify", request)
    }
}
