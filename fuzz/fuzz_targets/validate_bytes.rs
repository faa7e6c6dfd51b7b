//! `validate` on arbitrary bytes: it always returns a response (it never
//! panics), the response serializes, and a rejection always says why.
#![no_main]

use imagegate_policy::capabilities::{Capabilities, CapabilityError};
use imagegate_policy::validate;
use libfuzzer_sys::fuzz_target;

/// Answers every lookup with one digest, so `digests.resolve` settings reach
/// the mutation path too.
struct Answers;

impl Capabilities for Answers {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        if image.len().is_multiple_of(2) {
            Ok(format!("sha256:{}", "ab".repeat(32)))
        } else {
            Err(CapabilityError(format!("no answer for {image}")))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let response = validate(data, &Answers);
    assert!(response.accepted || response.message.is_some());
    if let Some(message) = &response.message {
        assert!(!message.is_empty());
    }
    if !response.accepted {
        assert!(response.mutated_object.is_none());
    }
    let Ok(json) = serde_json::to_vec(&response) else {
        panic!("response does not serialize: {response:?}")
    };
    assert!(!json.is_empty());
});
