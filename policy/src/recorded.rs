//! Recorded answers to Kubewarden's `oci/v2/verify`: the `verify` section of
//! a case's `capabilities` and of `imagegate run --host-capabilities FILE`.
//!
//! A recording says, per image name, which digest the registry serves and
//! which signatures it has; an answer is computed from that the way
//! Kubewarden's host computes it (policy-evaluator and policy-fetcher, see
//! DEVELOPMENT.md), so one recording gives the same answer to every
//! request, whichever signer or threshold the settings name, in every host:
//! the native case runner, `imagegate` (both use this module) and the
//! JavaScript one (`js/recorded.js`, the same rules).
//!
//! ```json
//! {"ghcr.io/org/app:1": {
//!    "digest": "sha256:…",
//!    "signatures": [
//!      {"key": "-----BEGIN PUBLIC KEY-----…", "annotations": {"env": "prod"}},
//!      {"issuer": "https://token.actions.githubusercontent.com", "subject": "https://github.com/org/app/…"},
//!      {"certificate": "-----BEGIN CERTIFICATE-----…", "chain": ["-----BEGIN CERTIFICATE-----…"]},
//!      {"key": "…", "digest": "sha256:<another>"}
//!    ]},
//!  "ghcr.io/org/slow:1": {"error": "failed to get image trusted layers: … timeout"}}
//! ```
//!
//! * The key is the image exactly as the policy asks (`registry/repo:tag`,
//!   or `…@sha256:…` for a pinned image); an image not recorded fails with
//!   `no answer recorded for <image>`.
//! * `{"error": "<message>"}` fails every request for that image with it.
//! * No signatures at all: `no signatures found for image: <image>`.
//! * A signature counts only if its payload names the image's digest (its
//!   own `digest`, when written, is the one its payload names).
//! * Every key, identity or certificate of the request must be matched by a
//!   counted signature carrying every requested annotation: then the answer
//!   is `{"is_trusted": true, "digest": <digest>}`, else the error
//!   `Image verification failed: missing signatures`. Keys and certificates
//!   compare as PEM text without indentation; a keyless prefix matches a
//!   subject that starts with it plus `/` (unless it ends with one); a
//!   request with a certificate chain needs a signature recorded with the
//!   same `chain`, and `require_rekor_bundle` one with `"rekor_bundle": true`.
//!
//! The recording is checked strictly (unknown keys, wrong types, bad
//! digests), so a typo cannot turn into a quietly different answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::reference::grammar;

/// The error Kubewarden's host gives when required signatures are missing.
pub const MISSING: &str = "Image verification failed: missing signatures";

/// The `verify` section of a recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyRecording(BTreeMap<String, Result<Image, String>>);

/// What the registry holds for one image name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Image {
    digest: String,
    signatures: Vec<Signature>,
}

/// One signature of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    signer: RecordedSigner,
    annotations: BTreeMap<String, String>,
    /// The digest its payload names.
    digest: Option<String>,
    rekor_bundle: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RecordedSigner {
    Key(String),
    Keyless {
        issuer: String,
        subject: String,
    },
    Certificate {
        pem: String,
        chain: Option<Vec<String>>,
    },
}

/// The format, for messages.
pub const FORMAT: &str = r#"{"<image>": {"digest": "sha256:...", "signatures": [{"key": "<PEM>"} | {"issuer": "...", "subject": "..."} | {"certificate": "<PEM>", "chain": ["<PEM>"]}, ...]} | {"error": "<message>"}}"#;

impl VerifyRecording {
    /// Reads a `verify` section; the error names the offending key.
    pub fn from_value(value: &Value) -> Result<VerifyRecording, String> {
        let Value::Object(images) = value else {
            return Err(format!("verify: expected an object {FORMAT}"));
        };
        let mut out = BTreeMap::new();
        for (name, entry) in images {
            let path = format!("verify.{}", Value::String(name.clone()));
            out.insert(name.clone(), read_image(entry, &path)?);
        }
        Ok(VerifyRecording(out))
    }

    /// Answers one `v2/verify` request (its JSON bytes) as Kubewarden's host
    /// would for the recorded registry: the answer's JSON, or the error.
    pub fn answer(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let request: Value = serde_json::from_slice(request)
            .map_err(|e| format!("the v2/verify request is not JSON: {e}"))?;
        let image = request
            .get("image")
            .and_then(Value::as_str)
            .ok_or("the v2/verify request names no image")?;
        let recorded = match self.0.get(image) {
            None => return Err(format!("no answer recorded for {image}")),
            Some(Err(message)) => return Err(message.clone()),
            Some(Ok(recorded)) => recorded,
        };
        if recorded.signatures.is_empty() {
            return Err(format!("no signatures found for image: {image}"));
        }
        let wanted = constraints(&request)?;
        let annotations = match request.get("annotations") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(map)) => strings(map, "annotations")?,
            Some(_) => return Err("the v2/verify request's annotations are not an object".into()),
        };
        let counted: Vec<&Signature> = recorded
            .signatures
            .iter()
            .filter(|s| s.digest.as_deref().unwrap_or(&recorded.digest) == recorded.digest)
            .filter(|s| {
                annotations
                    .iter()
                    .all(|(k, v)| s.annotations.get(k) == Some(v))
            })
            .collect();
        let satisfied = |c: &Constraint| counted.iter().any(|s| c.matches(s));
        if wanted.iter().all(satisfied) {
            Ok(
                serde_json::json!({"is_trusted": true, "digest": recorded.digest})
                    .to_string()
                    .into_bytes(),
            )
        } else {
            Err(MISSING.to_owned())
        }
    }
}

/// What one request asks for, one constraint per key, identity or certificate.
enum Constraint {
    Key(String),
    Keyless {
        issuer: String,
        subject: String,
    },
    Prefix {
        issuer: String,
        prefix: String,
    },
    Certificate {
        pem: String,
        chain: Option<Vec<String>>,
        rekor: bool,
    },
}

impl Constraint {
    fn matches(&self, signature: &Signature) -> bool {
        match (self, &signature.signer) {
            (Constraint::Key(key), RecordedSigner::Key(recorded)) => key == recorded,
            (
                Constraint::Keyless { issuer, subject },
                RecordedSigner::Keyless {
                    issuer: i,
                    subject: s,
                },
            ) => issuer == i && subject == s,
            (
                Constraint::Prefix { issuer, prefix },
                RecordedSigner::Keyless {
                    issuer: i,
                    subject: s,
                },
            ) => issuer == i && s.starts_with(prefix.as_str()),
            (
                Constraint::Certificate { pem, chain, rekor },
                RecordedSigner::Certificate { pem: p, chain: c },
            ) => pem == p && (chain.is_none() || chain == c) && (!rekor || signature.rekor_bundle),
            _ => false,
        }
    }
}

/// The constraints of a request, by its `type`.
fn constraints(request: &Value) -> Result<Vec<Constraint>, String> {
    let list = |key: &str| -> Result<&Vec<Value>, String> {
        request
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("the v2/verify request has no {key} list"))
    };
    let text = |v: &Value, key: &str| -> Result<String, String> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the v2/verify request has an entry without {key}"))
    };
    let pem_bytes = |v: &Value| -> Result<String, String> {
        let bytes: Vec<u8> = serde_json::from_value(v.clone())
            .map_err(|e| format!("a certificate in the v2/verify request is not bytes: {e}"))?;
        String::from_utf8(bytes)
            .map(|pem| unindent(&pem))
            .map_err(|e| format!("a certificate in the v2/verify request is not PEM text: {e}"))
    };
    let out = match request.get("type").and_then(Value::as_str) {
        Some("SigstorePubKeyVerify") => list("pub_keys")?
            .iter()
            .map(|k| k.as_str().map(|k| Constraint::Key(unindent(k))))
            .collect::<Option<Vec<_>>>()
            .ok_or("a pub_keys entry of the v2/verify request is not a string")?,
        Some("SigstoreKeylessVerify") => list("keyless")?
            .iter()
            .map(|k| {
                Ok(Constraint::Keyless {
                    issuer: text(k, "issuer")?,
                    subject: text(k, "subject")?,
                })
            })
            .collect::<Result<_, String>>()?,
        Some("SigstoreKeylessPrefixVerify") => list("keyless_prefix")?
            .iter()
            .map(|k| {
                let mut prefix = text(k, "url_prefix")?;
                // The host appends `/` so that `…/org` does not match `…/org-evil`.
                if !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(Constraint::Prefix {
                    issuer: text(k, "issuer")?,
                    prefix,
                })
            })
            .collect::<Result<_, String>>()?,
        Some("SigstoreCertificateVerify") => {
            let pem = pem_bytes(request.get("certificate").unwrap_or(&Value::Null))?;
            let chain = match request.get("certificate_chain") {
                None | Some(Value::Null) => None,
                Some(Value::Array(certs)) => {
                    Some(certs.iter().map(pem_bytes).collect::<Result<_, _>>()?)
                }
                Some(_) => {
                    return Err("the v2/verify request's certificate_chain is not a list".into());
                }
            };
            let rekor = request
                .get("require_rekor_bundle")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            vec![Constraint::Certificate { pem, chain, rekor }]
        }
        other => {
            return Err(format!(
                "no answer recorded for v2/verify requests of type {}",
                other.unwrap_or("(none)")
            ));
        }
    };
    if out.is_empty() {
        return Err("Must provide at least one pub key".into());
    }
    Ok(out)
}

/// One recorded image, or its error.
fn read_image(entry: &Value, path: &str) -> Result<Result<Image, String>, String> {
    let Value::Object(fields) = entry else {
        return Err(format!(
            "{path}: expected {{\"digest\", \"signatures\"}} or {{\"error\": \"<message>\"}}"
        ));
    };
    if let Some(error) = fields.get("error") {
        return match (error, fields.len()) {
            (Value::String(message), 1) => Ok(Err(message.clone())),
            (Value::String(_), _) => Err(format!("{path}: an error entry has only \"error\"")),
            _ => Err(format!("{path}.error: expected a string")),
        };
    }
    only(fields, path, &["digest", "signatures"])?;
    let digest = digest(fields.get("digest"), &format!("{path}.digest"))?
        .ok_or_else(|| format!("{path}: needs \"digest\", the digest the registry serves"))?;
    let mut signatures = Vec::new();
    match fields.get("signatures") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                signatures.push(read_signature(item, &format!("{path}.signatures[{i}]"))?);
            }
        }
        Some(_) => return Err(format!("{path}.signatures: expected a list")),
    }
    Ok(Ok(Image { digest, signatures }))
}

fn read_signature(item: &Value, path: &str) -> Result<Signature, String> {
    let Value::Object(fields) = item else {
        return Err(format!("{path}: expected an object"));
    };
    only(
        fields,
        path,
        &[
            "key",
            "issuer",
            "subject",
            "certificate",
            "chain",
            "annotations",
            "digest",
            "rekor_bundle",
        ],
    )?;
    let text = |key: &str| -> Result<Option<&str>, String> {
        match fields.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{path}.{key}: expected a string")),
        }
    };
    let signer = match (
        text("key")?,
        text("issuer")?,
        text("subject")?,
        text("certificate")?,
    ) {
        (Some(key), None, None, None) => RecordedSigner::Key(unindent(key)),
        (None, Some(issuer), Some(subject), None) => RecordedSigner::Keyless {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        },
        (None, None, None, Some(pem)) => RecordedSigner::Certificate {
            pem: unindent(pem),
            chain: match fields.get("chain") {
                None | Some(Value::Null) => None,
                Some(Value::Array(certs)) => Some(
                    certs
                        .iter()
                        .map(|c| c.as_str().map(unindent))
                        .collect::<Option<_>>()
                        .ok_or_else(|| format!("{path}.chain: expected PEM strings"))?,
                ),
                Some(_) => return Err(format!("{path}.chain: expected a list")),
            },
        },
        _ => {
            return Err(format!(
                "{path}: a signature is by one \"key\", one \"issuer\" and \"subject\", or one \"certificate\""
            ));
        }
    };
    if fields.contains_key("chain") && !matches!(signer, RecordedSigner::Certificate { .. }) {
        return Err(format!(
            "{path}.chain: only a certificate signature has a chain"
        ));
    }
    let annotations = match fields.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => strings(map, &format!("{path}.annotations"))?,
        Some(_) => return Err(format!("{path}.annotations: expected an object of strings")),
    };
    let rekor_bundle = match fields.get("rekor_bundle") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(format!("{path}.rekor_bundle: expected true or false")),
    };
    Ok(Signature {
        signer,
        annotations,
        digest: digest(fields.get("digest"), &format!("{path}.digest"))?,
        rekor_bundle,
    })
}

fn only(fields: &Map<String, Value>, path: &str, keys: &[&str]) -> Result<(), String> {
    match fields.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{path}: unknown key {k:?} (known: {})",
            keys.join(", ")
        )),
        None => Ok(()),
    }
}

fn digest(value: Option<&Value>, path: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(d)) => grammar::parse_digest(d)
            .map(|()| Some(d.clone()))
            .map_err(|e| format!("{path}: {e}")),
        Some(_) => Err(format!("{path}: expected a digest string")),
    }
}

fn strings(map: &Map<String, Value>, path: &str) -> Result<BTreeMap<String, String>, String> {
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!("{path}.{k}: expected a string")),
        })
        .collect()
}

/// PEM text without indentation or blank lines: the policy sends keys this
/// way, and recordings may indent theirs.
fn unindent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn recording(value: Value) -> VerifyRecording {
        VerifyRecording::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ask(r: &VerifyRecording, request: Value) -> Result<Value, String> {
        r.answer(request.to_string().as_bytes())
            .map(|a| serde_json::from_slice(&a).unwrap_or_default())
    }

    fn keys(image: &str, keys: &[&str], annotations: Value) -> Value {
        json!({"type": "SigstorePubKeyVerify", "image": image, "pub_keys": keys, "annotations": annotations})
    }

    #[test]
    fn answers_as_kubewardens_host() {
        let r = recording(json!({
            "a:1": {"digest": D, "signatures": [
                {"key": "KEY-A\n", "annotations": {"env": "prod"}},
                {"key": "KEY-B", "digest": OTHER},
                {"issuer": "https://issuer", "subject": "https://github.com/org/app/release.yml@refs/heads/main"},
            ]},
            "unsigned:1": {"digest": D},
            "down:1": {"error": "failed to get image trusted layers: timeout"},
        }));
        let trusted = Ok(json!({"is_trusted": true, "digest": D}));
        assert_eq!(ask(&r, keys("a:1", &["  KEY-A"], Value::Null)), trusted);
        assert_eq!(
            ask(&r, keys("a:1", &["KEY-A"], json!({"env": "prod"}))),
            trusted
        );
        assert_eq!(
            ask(&r, keys("a:1", &["KEY-A"], json!({"env": "dev"}))),
            Err(MISSING.into())
        );
        // Every key of one request must have signed; KEY-B signed another digest.
        assert_eq!(
            ask(&r, keys("a:1", &["KEY-A", "KEY-B"], Value::Null)),
            Err(MISSING.into())
        );
        assert_eq!(
            ask(&r, keys("a:1", &["KEY-C"], Value::Null)),
            Err(MISSING.into())
        );
        assert_eq!(
            ask(&r, keys("unsigned:1", &["KEY-A"], Value::Null)),
            Err("no signatures found for image: unsigned:1".into())
        );
        assert_eq!(
            ask(&r, keys("down:1", &["KEY-A"], Value::Null)),
            Err("failed to get image trusted layers: timeout".into())
        );
        assert_eq!(
            ask(&r, keys("b:1", &["KEY-A"], Value::Null)),
            Err("no answer recorded for b:1".into())
        );
        let prefix = |p: &str| {
            json!({"type": "SigstoreKeylessPrefixVerify", "image": "a:1",
            "keyless_prefix": [{"issuer": "https://issuer", "url_prefix": p}], "annotations": null})
        };
        assert_eq!(ask(&r, prefix("https://github.com/org")), trusted);
        assert_eq!(
            ask(&r, prefix("https://github.com/or")),
            Err(MISSING.into())
        );
        let exact = |s: &str| {
            json!({"type": "SigstoreKeylessVerify", "image": "a:1",
            "keyless": [{"issuer": "https://issuer", "subject": s}], "annotations": null})
        };
        assert_eq!(
            ask(
                &r,
                exact("https://github.com/org/app/release.yml@refs/heads/main")
            ),
            trusted
        );
        assert_eq!(
            ask(&r, exact("https://github.com/org/app/release.yml")),
            Err(MISSING.into())
        );
    }

    #[test]
    fn certificates_need_their_chain_and_bundle() {
        let r = recording(json!({"a:1": {"digest": D, "signatures": [
            {"certificate": "CERT", "chain": ["CA"]},
        ]}}));
        let cert = |chain: Value, rekor: bool| {
            json!({"type": "SigstoreCertificateVerify", "image": "a:1",
            "certificate": b"CERT".to_vec(), "certificate_chain": chain, "require_rekor_bundle": rekor,
            "annotations": null})
        };
        let trusted = Ok(json!({"is_trusted": true, "digest": D}));
        assert_eq!(ask(&r, cert(json!([b"CA".to_vec()]), false)), trusted);
        assert_eq!(ask(&r, cert(Value::Null, false)), trusted);
        assert_eq!(
            ask(&r, cert(json!([b"OTHER CA".to_vec()]), false)),
            Err(MISSING.into())
        );
        assert_eq!(ask(&r, cert(Value::Null, true)), Err(MISSING.into()));
    }

    #[test]
    fn recordings_are_checked_strictly() {
        let fail = |v: Value| VerifyRecording::from_value(&v).expect_err("refused");
        assert_eq!(
            fail(json!({"a:1": {"digest": D, "signature": []}})),
            "verify.\"a:1\": unknown key \"signature\" (known: digest, signatures)"
        );
        assert_eq!(
            fail(json!({"a:1": {"signatures": []}})),
            "verify.\"a:1\": needs \"digest\", the digest the registry serves"
        );
        assert!(
            fail(json!({"a:1": {"digest": "sha256:abc"}})).starts_with("verify.\"a:1\".digest: ")
        );
        assert_eq!(
            fail(json!({"a:1": {"digest": D, "signatures": [{"key": "K", "issuer": "i"}]}})),
            "verify.\"a:1\".signatures[0]: a signature is by one \"key\", one \"issuer\" and \"subject\", or one \"certificate\""
        );
        assert_eq!(
            fail(json!({"a:1": {"error": "x", "digest": D}})),
            "verify.\"a:1\": an error entry has only \"error\""
        );
        assert!(fail(json!([])).starts_with("verify: expected an object"));
    }
}
