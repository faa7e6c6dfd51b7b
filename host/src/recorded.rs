//! Recorded host answers: `imagegate run --host-capabilities FILE`.
//!
//! The file (JSON or YAML) is the `capabilities` object of a
//! `testdata/cases/*.json` case, the same format the native case runner
//! (`policy/tests/cases.rs`, struct `Recorded`) replays:
//!
//! ```json
//! {"manifest_digest": {"docker.io/library/nginx:1.27": "sha256:…",
//!                      "ghcr.io/org/app:1.0": {"error": "manifest unknown: …"}},
//!  "oci_manifest": {"ghcr.io/org/app:1.0": {"schemaVersion": 2, "annotations": {…}, …}},
//!  "oci_manifest_config": {"ghcr.io/org/app:1.0": {"manifest": {…}, "digest": "sha256:…",
//!                                                  "config": {"config": {"Labels": {…}}}}}}
//! ```
//!
//! `kubewarden/oci/v1/manifest_digest` with the JSON string `<image>` answers
//! `{"digest": "<d>"}` or fails with exactly `<message>`;
//! `v1/oci_manifest` and `v1/oci_manifest_config` answer the recorded JSON
//! object as it is (an object whose only key is `"error"`, a string, is a
//! failure instead). `verify` describes, per image, the digest the registry
//! serves and the signatures it holds, and `kubewarden/oci/v2/verify` is
//! answered from that as Kubewarden's host would
//! (`imagegate_policy::recorded`, shared with the native case runner). An
//! image that is not in the map fails with
//! `no answer recorded for <image>`, in the native runner's words, so one
//! case gives one answer on every host. Nothing here touches the network.
//!
//! Unlike kwctl's `--replay-host-capabilities-interactions` (an ordered list
//! of exchanges), answers are keyed by image: the policy looks each distinct
//! image up once, in an order that is its own business.
//!
//! The file is checked strictly: an unknown key or a value of the wrong shape
//! is an input error (exit 2) naming the key, so a typo cannot silently turn
//! every lookup into `no answer recorded`.

use std::collections::BTreeMap;

use serde_json::Value;

use imagegate_policy::recorded::VerifyRecording;

use crate::capabilities::{Capability, CapabilityProvider, OciOperation};
use crate::input::{self, InputError, Source};

/// The format, for messages.
const FORMAT: &str = r#"{"manifest_digest": {"<image>": "sha256:..." | {"error": "<message>"}}, "oci_manifest": {"<image>": {<manifest>} | {"error": "<message>"}}, "oci_manifest_config": {"<image>": {"manifest": ..., "digest": ..., "config": ...} | {"error": "<message>"}}, "verify": {"<image>": {"digest": "sha256:...", "signatures": [...]} | {"error": "<message>"}}}"#;

/// Host answers replayed from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// `manifest_digest`: image → digest, or the error message to fail with.
    manifest_digest: BTreeMap<String, Result<String, String>>,
    /// `oci_manifest`: image → the manifest JSON, or the error message.
    oci_manifest: BTreeMap<String, Result<Value, String>>,
    /// `oci_manifest_config`: image → the `{manifest, digest, config}` JSON,
    /// or the error message.
    oci_manifest_config: BTreeMap<String, Result<Value, String>>,
    /// `verify`: what the registry holds, per image, for `v2/verify`.
    verify: VerifyRecording,
}

impl Recorded {
    /// Reads and checks `path` (`-` is stdin).
    pub fn load(path: &str) -> Result<Recorded, InputError> {
        let source_name = Source::file("host capabilities", path);
        let bytes = input::read_source(path, &source_name)?;
        let document = input::parse_document(&bytes, &source_name)?;
        Recorded::from_value(document).map_err(|problem| InputError::Shape {
            source_name,
            problem,
        })
    }

    /// Checks a parsed document; the error names the offending key.
    pub fn from_value(document: Value) -> Result<Recorded, String> {
        let Value::Object(top) = document else {
            return Err(format!(
                "expected an object {FORMAT}, found {}",
                input::describe(&document)
            ));
        };
        let mut recorded = Recorded::default();
        for (key, value) in top {
            match key.as_str() {
                "manifest_digest" => {
                    recorded.manifest_digest =
                        image_answers(&key, value, "a digest string", |answer| match answer {
                            Value::String(digest) => Ok(digest),
                            other => Err(other),
                        })?;
                }
                "oci_manifest" | "oci_manifest_config" => {
                    let answers = image_answers(
                        &key,
                        value,
                        "the answer's JSON object",
                        |answer| match answer {
                            Value::Object(fields) => Ok(Value::Object(fields)),
                            other => Err(other),
                        },
                    )?;
                    if key == "oci_manifest" {
                        recorded.oci_manifest = answers;
                    } else {
                        recorded.oci_manifest_config = answers;
                    }
                }
                "verify" => recorded.verify = VerifyRecording::from_value(&value)?,
                other => {
                    return Err(format!(
                        "unknown key {other:?}: the file records only manifest_digest, \
                         oci_manifest, oci_manifest_config and verify answers, as {FORMAT}"
                    ));
                }
            }
        }
        Ok(recorded)
    }

    /// The recorded answer for `image`.
    fn manifest_digest(&self, image: &str) -> Result<String, String> {
        match self.manifest_digest.get(image) {
            Some(answer) => answer.clone(),
            None => Err(format!("no answer recorded for {image}")),
        }
    }
}

/// The answers recorded under `key`: image → what `accept` takes (it hands
/// back what it does not, for the message naming `expected`), or
/// `{"error": "<message>"}` for a lookup that fails.
fn image_answers<T>(
    key: &str,
    value: Value,
    expected: &str,
    accept: impl Fn(Value) -> Result<T, Value>,
) -> Result<BTreeMap<String, Result<T, String>>, String> {
    let Value::Object(answers) = value else {
        return Err(format!(
            "{key}: expected an object of image names, found {}",
            input::describe(&value)
        ));
    };
    let mut out = BTreeMap::new();
    for (image, answer) in answers {
        let answer = match answer {
            Value::Object(mut fields) if fields.len() == 1 && fields.contains_key("error") => {
                match fields.remove("error") {
                    Some(Value::String(message)) => Err(message),
                    other => {
                        return Err(format!(
                            "{key}.{image:?}.error: expected a string, found {}",
                            input::describe(&other.unwrap_or(Value::Null))
                        ));
                    }
                }
            }
            other => match accept(other) {
                Ok(answer) => Ok(answer),
                Err(other) => {
                    return Err(format!(
                        "{key}.{image:?}: expected {expected} or {{\"error\": \"<message>\"}}, \
                         found {}",
                        match &other {
                            Value::Object(_) => "an object with other keys",
                            v => input::describe(v),
                        }
                    ));
                }
            },
        };
        out.insert(image, answer);
    }
    Ok(out)
}

/// The recorded JSON answer for `image` in `answers`.
fn json_answer(
    answers: &BTreeMap<String, Result<Value, String>>,
    image: &str,
) -> Result<Vec<u8>, String> {
    match answers.get(image) {
        Some(Ok(answer)) => Ok(answer.to_string().into_bytes()),
        Some(Err(message)) => Err(message.clone()),
        None => Err(format!("no answer recorded for {image}")),
    }
}

/// The image a `v1/manifest_digest` payload names: a JSON string.
pub fn image_of(capability: Capability, payload: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<String>(payload).map_err(|e| {
        format!("the payload of {capability} must be a JSON string naming an image: {e}")
    })
}

/// `{"digest":"sha256:…"}`, the answer Kubewarden gives.
pub fn digest_answer(digest: &str) -> Vec<u8> {
    serde_json::json!({ "digest": digest })
        .to_string()
        .into_bytes()
}

impl CapabilityProvider for Recorded {
    fn call(&self, capability: Capability, payload: &[u8]) -> Result<Vec<u8>, String> {
        match capability {
            Capability::Oci(OciOperation::ManifestDigest) => {
                let image = image_of(capability, payload)?;
                self.manifest_digest(&image).map(|d| digest_answer(&d))
            }
            Capability::Oci(OciOperation::Manifest) => {
                json_answer(&self.oci_manifest, &image_of(capability, payload)?)
            }
            Capability::Oci(OciOperation::ManifestConfig) => {
                json_answer(&self.oci_manifest_config, &image_of(capability, payload)?)
            }
            Capability::Oci(OciOperation::VerifyV2) => self.verify.answer(payload),
            other => Err(format!(
                "no answer recorded for host capability {other}: --host-capabilities records \
                 kubewarden/oci/v1/manifest_digest, v1/oci_manifest, v1/oci_manifest_config and \
                 v2/verify only"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DIGEST: Capability = Capability::Oci(OciOperation::ManifestDigest);

    fn recorded(value: Value) -> Recorded {
        Recorded::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn answers_digests_errors_and_nothing() {
        let r = recorded(json!({"manifest_digest": {
            "docker.io/library/nginx:1.27": D,
            "ghcr.io/org/app:1.0": {"error": "manifest unknown: ghcr.io/org/app:1.0"},
        }}));
        assert_eq!(
            r.call(DIGEST, br#""docker.io/library/nginx:1.27""#),
            Ok(format!(r#"{{"digest":"{D}"}}"#).into_bytes())
        );
        assert_eq!(
            r.call(DIGEST, br#""ghcr.io/org/app:1.0""#),
            Err("manifest unknown: ghcr.io/org/app:1.0".into())
        );
        assert_eq!(
            r.call(DIGEST, br#""quay.io/org/unknown:2""#),
            Err("no answer recorded for quay.io/org/unknown:2".into())
        );
        assert!(r.call(DIGEST, b"nginx").is_err_and(|e| e.starts_with(
            "the payload of kubewarden/oci/v1/manifest_digest must be a JSON string"
        )),);
        assert!(
            r.call(Capability::DnsLookupHost, br#""example.com""#)
                .is_err_and(|e| e.starts_with(
                    "no answer recorded for host capability kubewarden/net/v1/dns_lookup_host"
                ))
        );
    }

    #[test]
    fn answers_manifests_and_configs_as_recorded() {
        let manifest = json!({"schemaVersion": 2, "annotations": {"a": "b"}});
        let config = json!({"manifest": manifest, "digest": D, "config": {"config": {"Labels": {"x": "y"}}}});
        let r = recorded(json!({
            "oci_manifest": {"ghcr.io/org/app:1": manifest, "ghcr.io/org/gone:1": {"error": "manifest unknown"}},
            "oci_manifest_config": {"ghcr.io/org/app:1": config},
        }));
        let manifest_op = Capability::Oci(OciOperation::Manifest);
        let config_op = Capability::Oci(OciOperation::ManifestConfig);
        assert_eq!(
            r.call(manifest_op, br#""ghcr.io/org/app:1""#),
            Ok(manifest.to_string().into_bytes())
        );
        assert_eq!(
            r.call(manifest_op, br#""ghcr.io/org/gone:1""#),
            Err("manifest unknown".into())
        );
        assert_eq!(
            r.call(config_op, br#""ghcr.io/org/app:1""#),
            Ok(config.to_string().into_bytes())
        );
        assert_eq!(
            r.call(config_op, br#""ghcr.io/org/gone:1""#),
            Err("no answer recorded for ghcr.io/org/gone:1".into())
        );
    }

    #[test]
    fn answers_verify_from_the_recorded_signatures() {
        let r = recorded(json!({"verify": {
            "ghcr.io/org/app:1": {"digest": D, "signatures": [{"key": "KEY"}]},
            "ghcr.io/org/down:1": {"error": "failed to get image trusted layers: timeout"},
        }}));
        let verify = Capability::Oci(OciOperation::VerifyV2);
        let request = |image: &str| {
            json!({"type": "SigstorePubKeyVerify", "image": image, "pub_keys": ["KEY"], "annotations": null})
                .to_string()
                .into_bytes()
        };
        assert_eq!(
            r.call(verify, &request("ghcr.io/org/app:1")),
            Ok(format!(r#"{{"digest":"{D}","is_trusted":true}}"#).into_bytes())
        );
        assert_eq!(
            r.call(verify, &request("ghcr.io/org/down:1")),
            Err("failed to get image trusted layers: timeout".into())
        );
        assert_eq!(
            r.call(verify, &request("ghcr.io/org/other:1")),
            Err("no answer recorded for ghcr.io/org/other:1".into())
        );
        assert_eq!(
            Recorded::from_value(json!({"verify": {"a:1": {"digest": D, "signatures": [{"kye": "K"}]}}})),
            Err("verify.\"a:1\".signatures[0]: unknown key \"kye\" (known: key, issuer, subject, certificate, chain, annotations, digest, rekor_bundle)".into())
        );
    }

    #[test]
    fn an_empty_recording_answers_nothing() {
        let r = recorded(json!({}));
        assert_eq!(
            r.call(DIGEST, br#""busybox""#),
            Err("no answer recorded for busybox".into())
        );
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_named() {
        let problem = |v: Value| Recorded::from_value(v).expect_err("refused");
        assert!(
            problem(json!({"manifest_digests": {}}))
                .starts_with("unknown key \"manifest_digests\": the file records only"),
        );
        assert_eq!(
            problem(json!({"oci_manifest": {"a:1": "x"}})),
            "oci_manifest.\"a:1\": expected the answer's JSON object or {\"error\": \"<message>\"}, \
             found a string"
        );
        assert_eq!(
            problem(json!({"oci_manifest_config": {"a:1": {"error": 1}}})),
            "oci_manifest_config.\"a:1\".error: expected a string, found a number"
        );
        assert_eq!(
            problem(json!({"oci_manifest": []})),
            "oci_manifest: expected an object of image names, found an array"
        );
        assert_eq!(
            problem(json!([])),
            format!("expected an object {FORMAT}, found an array")
        );
        assert_eq!(
            problem(json!({"manifest_digest": []})),
            "manifest_digest: expected an object of image names, found an array"
        );
        assert_eq!(
            problem(json!({"manifest_digest": {"a:1": 3}})),
            "manifest_digest.\"a:1\": expected a digest string or {\"error\": \"<message>\"}, \
             found a number"
        );
        assert_eq!(
            problem(json!({"manifest_digest": {"a:1": {"error": "x", "why": 1}}})),
            "manifest_digest.\"a:1\": expected a digest string or {\"error\": \"<message>\"}, \
             found an object with other keys"
        );
        assert_eq!(
            problem(json!({"manifest_digest": {"a:1": {"error": null}}})),
            "manifest_digest.\"a:1\".error: expected a string, found null"
        );
    }
}
