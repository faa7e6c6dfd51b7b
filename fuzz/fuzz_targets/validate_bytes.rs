//! `validate` on arbitrary bytes: it always returns a response (it never
//! panics), the response serializes, and a rejection always says why.
#![no_main]

use imagegate_policy::capabilities::{Capabilities, CapabilityError};
use imagegate_policy::validate;
use libfuzzer_sys::fuzz_target;

/// Answers some lookups (a digest, a manifest, a configuration), so
/// `digests.resolve` settings reach the mutation path and `imageMetadata`
/// settings their checks.
struct Answers;

impl Capabilities for Answers {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        if image.len().is_multiple_of(2) {
            Ok(format!("sha256:{}", "ab".repeat(32)))
        } else {
            Err(CapabilityError(format!("no answer for {image}")))
        }
    }

    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        // A plain manifest for some names, an index for others, so the
        // imageMetadata rule's index path is reached too.
        Ok(match image.len() % 3 {
            0 => br#"{"schemaVersion":2,"annotations":{"a":"b"}}"#.to_vec(),
            1 => format!(
                r#"{{"manifests":[{{"digest":"sha256:{}","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
                "cd".repeat(32)
            )
            .into_bytes(),
            _ => return Err(CapabilityError(format!("no manifest for {image}"))),
        })
    }

    fn oci_manifest_config(&self, _image: &str) -> Result<Vec<u8>, CapabilityError> {
        Ok(br#"{"config":{"config":{"Labels":{"team":"a"}}}}"#.to_vec())
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
