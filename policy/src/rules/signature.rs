//! Rule `signature`: images must be signed (Sigstore / cosign) by the keys,
//! keyless identities or certificates their scope names.
//!
//! **What it checks:** `signatures` is a list of requirements, each scoped
//! by a registry, repository or image pattern (the source lists' patterns).
//! For each image the most specific matching scope decides (SPEC 2.4's
//! order; among equally specific scopes the first one written); images
//! outside every scope are not checked, and a scope with `skip: true` needs
//! no signature. A requirement names signers (public keys, keyless
//! identities, certificates) and how many of them must have signed
//! (`threshold`, default 1), and optionally annotations every counted
//! signature must carry.
//!
//! **How:** through Kubewarden's own host capability,
//! `kubewarden/oci/v2/verify`, with its request types
//! (`SigstorePubKeyVerify`, `SigstoreKeylessVerify`,
//! `SigstoreKeylessPrefixVerify`, `SigstoreCertificateVerify`), so in
//! Kubewarden the verification is policy-server's own. Kubewarden's host
//! requires *every* key (or identity) of one request to have signed; the
//! module sends one request per signer, in the order written, and stops as
//! soon as the threshold is reached or can no longer be, so one rule serves
//! "any", "all" and "k of n" and the message names the signer that failed.
//! Each distinct request is sent once per evaluation.
//!
//! **The verified digest is what runs:** the host answers the digest whose
//! signatures it verified. A pinned image is verified at its digest, and an
//! answer naming another digest is a violation; an unpinned image is pinned
//! to the verified digest when `digests.resolve` is on (evaluate.rs), so a
//! tag moved after the check cannot swap the content.
//!
//! **Why:** "was this image signed by us?" is the question after "where does
//! it come from?"; containers' `policy.json` answers it per scope, and this
//! is that model at admission, in the same settings as the source rule.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::capabilities::CapabilityError;
use crate::matcher::registry::RegistryNames;
use crate::matcher::scope::{HostIndex, Scope};
use crate::reference::{Reference, grammar};
use crate::rules::lookups::Lookups;

/// Longest host reason a violation quotes (Kubewarden's can run to pages:
/// its "missing signatures" error lists every key in YAML).
const MAX_REASON: usize = 300;

/// One signer a requirement names; `index` is its place in its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// `keys[index]`: a PEM public key.
    Key {
        /// Index in `keys`.
        index: usize,
        /// The PEM text, without indentation.
        pem: String,
    },
    /// `keyless[index]` with `subject`: an exact OIDC identity.
    Keyless {
        /// Index in `keyless`.
        index: usize,
        /// OIDC issuer URL.
        issuer: String,
        /// The certificate's subject, compared exactly.
        subject: String,
    },
    /// `keyless[index]` with `urlPrefix`.
    KeylessPrefix {
        /// Index in `keyless`.
        index: usize,
        /// OIDC issuer URL.
        issuer: String,
        /// A URL the subject must start with (the host appends `/`).
        url_prefix: String,
    },
    /// `certificates[index]`: a signing certificate of a private PKI.
    Certificate {
        /// Index in `certificates`.
        index: usize,
        /// The PEM certificate, without indentation.
        pem: String,
        /// PEM certificates the certificate must chain up to.
        chain: Option<Vec<String>>,
        /// Whether the signature must carry a Rekor bundle.
        require_rekor_bundle: bool,
    },
}

impl Signer {
    /// `keys[0]`, `keyless[1]`, `certificates[0]`.
    pub fn label(&self) -> String {
        match self {
            Signer::Key { index, .. } => format!("keys[{index}]"),
            Signer::Keyless { index, .. } | Signer::KeylessPrefix { index, .. } => {
                format!("keyless[{index}]")
            }
            Signer::Certificate { index, .. } => format!("certificates[{index}]"),
        }
    }

    /// Whether both are the same keyless identity (whatever their index).
    pub(crate) fn same_identity(&self, other: &Signer) -> bool {
        match (self, other) {
            (
                Signer::Keyless {
                    issuer, subject, ..
                },
                Signer::Keyless {
                    issuer: i,
                    subject: s,
                    ..
                },
            ) => issuer == i && subject == s,
            (
                Signer::KeylessPrefix {
                    issuer, url_prefix, ..
                },
                Signer::KeylessPrefix {
                    issuer: i,
                    url_prefix: u,
                    ..
                },
            ) => issuer == i && url_prefix == u,
            _ => false,
        }
    }
}

/// What one scope requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signers {
    /// Every signer, keys first, then keyless identities, then certificates.
    pub signers: Vec<Signer>,
    /// How many signers must have signed (1 to `signers.len()`).
    pub threshold: usize,
    /// Annotations every counted signature must carry.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// One `signatures[index]` entry.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The images it is about.
    pub scope: Scope,
    /// Its index in `signatures`.
    pub index: usize,
    /// What must sign; `None` for `skip: true`.
    pub signers: Option<Signers>,
}

/// The compiled `signatures` list.
#[derive(Debug, Clone, Default)]
pub struct SignatureRules {
    /// Every requirement, in settings order.
    pub requirements: Vec<Requirement>,
    /// The requirements' scopes by registry host.
    index: HostIndex,
}

/// What the rule found for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Outside every scope, or in a `skip` scope.
    NotRequired,
    /// Signed as required; `digest` is the one the host verified.
    Verified {
        /// `sha256:...`.
        digest: String,
    },
    /// Not signed as required (or not verifiable): the violation's reason.
    Failed(String),
}

/// The request for one signer, as Kubewarden's `SigstoreVerificationInputV2`
/// (kubewarden-policy-sdk 0.17.3) serializes: internally tagged by `type`,
/// a certificate as an array of its PEM's bytes (`Vec<u8>`), `annotations`
/// null when there are none. Built as a `serde_json::Value` (keys in sorted
/// order; the host reads them by name, the tag included): the module
/// already has the code that writes one, and a derived serializer per type
/// would add to its size.
fn verify_request(
    signer: &Signer,
    image: &str,
    annotations: Option<&BTreeMap<String, String>>,
) -> Value {
    let mut request = Map::new();
    let text = |s: &str| Value::String(s.to_owned());
    let bytes = |s: &str| Value::Array(s.bytes().map(Value::from).collect());
    let identity = |issuer: &str, key: &str, value: &str| {
        let mut m = Map::new();
        m.insert("issuer".into(), text(issuer));
        m.insert(key.into(), text(value));
        Value::Array(vec![Value::Object(m)])
    };
    let (kind, signers, list) = match signer {
        Signer::Key { pem, .. } => (
            "SigstorePubKeyVerify",
            "pub_keys",
            Value::Array(vec![text(pem)]),
        ),
        Signer::Keyless {
            issuer, subject, ..
        } => (
            "SigstoreKeylessVerify",
            "keyless",
            identity(issuer, "subject", subject),
        ),
        Signer::KeylessPrefix {
            issuer, url_prefix, ..
        } => (
            "SigstoreKeylessPrefixVerify",
            "keyless_prefix",
            identity(issuer, "url_prefix", url_prefix),
        ),
        Signer::Certificate { pem, .. } => ("SigstoreCertificateVerify", "certificate", bytes(pem)),
    };
    request.insert("type".into(), kind.into());
    request.insert("image".into(), image.into());
    request.insert(signers.into(), list);
    if let Signer::Certificate {
        chain,
        require_rekor_bundle,
        ..
    } = signer
    {
        let chain = chain.as_ref().map_or(Value::Null, |c| {
            Value::Array(c.iter().map(|pem| bytes(pem)).collect())
        });
        request.insert("certificate_chain".into(), chain);
        request.insert(
            "require_rekor_bundle".into(),
            (*require_rekor_bundle).into(),
        );
    }
    let annotations = annotations.map_or(Value::Null, |a| {
        // Inserted one by one: collecting would sort them again.
        let mut map = Map::new();
        for (k, v) in a {
            map.insert(k.clone(), text(v));
        }
        Value::Object(map)
    });
    request.insert("annotations".into(), annotations);
    Value::Object(request)
}

/// One request to the host, through [`Lookups`]: the verified digest, or
/// the reason it failed (one line).
fn ask(lookups: &mut Lookups<'_>, request: &Value) -> Result<String, String> {
    let text = request.to_string();
    if let Some(answer) = lookups.signatures.get(&text) {
        return answer.clone().map_err(|CapabilityError(reason)| reason);
    }
    let answer = lookups
        .capabilities()
        .verify(text.as_bytes())
        .map_err(|CapabilityError(reason)| one_line(&reason))
        .and_then(|answer| {
            // Kubewarden's `VerificationResponse`: `{is_trusted, digest}`.
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|e| format!("the host's answer is not a verification response: {e}"))?;
            let (Some(trusted), Some(digest)) = (
                answer.get("is_trusted").and_then(Value::as_bool),
                answer.get("digest").and_then(Value::as_str),
            ) else {
                return Err(
                    "the host's answer is not a verification response {is_trusted, digest}".into(),
                );
            };
            if !trusted {
                return Err("the host did not trust the signatures (is_trusted: false)".into());
            }
            grammar::parse_digest(digest)
                .map_err(|e| format!("the host's answer names an invalid digest: {e}"))?;
            Ok(digest.to_owned())
        });
    lookups
        .signatures
        .insert(text, answer.clone().map_err(CapabilityError));
    answer
}

/// The first line of a host's reason, trimmed and bounded, so a violation
/// stays one line.
fn one_line(reason: &str) -> String {
    let line = reason
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("the host gave no reason");
    match line.char_indices().nth(MAX_REASON) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// The name the host is asked to verify: the normalized name, with the
/// effective tag written out when the image has neither tag nor digest
/// (what the runtime pulls, and what every host's parser reads alike).
pub fn verify_name(image: &Reference) -> String {
    match image.effective_tag() {
        Some(tag) if image.tag().is_none() => format!("{image}:{tag}"),
        _ => image.to_string(),
    }
}

impl SignatureRules {
    /// The rules for `requirements`, in settings order.
    pub fn new(requirements: Vec<Requirement>) -> SignatureRules {
        let index = HostIndex::new(requirements.iter().map(|r| &r.scope));
        SignatureRules {
            requirements,
            index,
        }
    }

    /// True when any requirement is set.
    pub fn is_active(&self) -> bool {
        !self.requirements.is_empty()
    }

    /// The requirement for an image: the most specific matching scope, the
    /// first written among equally specific ones.
    pub fn requirement_for(
        &self,
        names: &RegistryNames<'_>,
        image: &Reference,
    ) -> Option<&Requirement> {
        let mut best: Option<&Requirement> = None;
        for requirement in self
            .index
            .candidates(names)
            .into_iter()
            .filter_map(|i| self.requirements.get(i))
            .filter(|r| r.scope.matches(names, image))
        {
            if best.is_none_or(|b| requirement.scope.specificity() > b.scope.specificity()) {
                best = Some(requirement);
            }
        }
        best
    }

    /// Checks one image: asks the host as its requirement says.
    pub fn check(
        &self,
        names: &RegistryNames<'_>,
        image: &Reference,
        lookups: &mut Lookups<'_>,
    ) -> Outcome {
        let Some(requirement) = self.requirement_for(names, image) else {
            return Outcome::NotRequired;
        };
        let Some(signers) = &requirement.signers else {
            return Outcome::NotRequired;
        };
        let name = verify_name(image);
        let outcome = signers.verify(&name, lookups);
        match outcome {
            Ok(digest) => match image.digest() {
                Some(pinned) if pinned != digest => Outcome::Failed(format!(
                    "the host verified the signatures of {digest}, but the image is pinned to {pinned}"
                )),
                _ => Outcome::Verified { digest },
            },
            Err(why) => Outcome::Failed(format!(
                "the image is not signed as signatures[{}] requires ({}): {why}",
                requirement.index,
                signers.needs()
            )),
        }
    }
}

impl Signers {
    /// `keys[0]`, `all of keys[0], keys[1]`, `one of ...`, `2 of ...`.
    fn needs(&self) -> String {
        let labels = labels(self.signers.iter());
        match (self.threshold, self.signers.len()) {
            (_, 1) => labels,
            (t, n) if t == n => format!("all of {labels}"),
            (1, _) => format!("one of {labels}"),
            (t, _) => format!("{t} of {labels}"),
        }
    }

    /// Asks the host about one signer at a time, in the order written,
    /// until the threshold is reached or can no longer be; the verified
    /// digest, or why the requirement is not met.
    fn verify(&self, image: &str, lookups: &mut Lookups<'_>) -> Result<String, String> {
        let mut verified: Vec<(&Signer, String)> = Vec::new();
        let mut failed: Vec<(&Signer, String)> = Vec::new();
        for (asked, signer) in self.signers.iter().enumerate() {
            let remaining = self.signers.len() - asked;
            if verified.len() >= self.threshold || verified.len() + remaining < self.threshold {
                break;
            }
            let request = verify_request(signer, image, self.annotations.as_ref());
            match ask(lookups, &request) {
                Ok(digest) => verified.push((signer, digest)),
                Err(reason) => failed.push((signer, reason)),
            }
        }
        if verified.len() < self.threshold {
            // One signer: the host's reason alone; else each signer's.
            return Err(match failed.as_slice() {
                [(_, reason)] if self.signers.len() == 1 => reason.clone(),
                _ => {
                    let mut why: Vec<String> = Vec::new();
                    if !verified.is_empty() {
                        why.push(format!(
                            "verified {}",
                            labels(verified.iter().map(|(s, _)| *s))
                        ));
                    }
                    for (signer, reason) in &failed {
                        why.push(format!("{}: {reason}", signer.label()));
                    }
                    why.join("; ")
                }
            });
        }
        let digest = verified
            .first()
            .map(|(_, d)| d.as_str())
            .unwrap_or_default();
        if verified.iter().any(|(_, d)| d != digest) {
            let digests: Vec<String> = verified
                .iter()
                .map(|(s, d)| format!("{} {d}", s.label()))
                .collect();
            return Err(format!(
                "the host verified different digests ({}): the tag moved during verification; pin the image by digest",
                digests.join(", ")
            ));
        }
        Ok(digest.to_owned())
    }
}

/// `keys[0], keys[1]`.
fn labels<'a>(signers: impl Iterator<Item = &'a Signer>) -> String {
    signers.map(Signer::label).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::Capabilities;
    use crate::matcher::registry::Aliases;
    use std::cell::RefCell;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /// Answers by the first key, identity or certificate of each request
    /// (`good` is trusted at digest A, `moved` at digest B, anything else
    /// is an error); records every request.
    #[derive(Default)]
    struct Fake {
        requests: RefCell<Vec<serde_json::Value>>,
    }

    impl Capabilities for Fake {
        fn manifest_digest(&self, _: &str) -> Result<String, CapabilityError> {
            unreachable!()
        }
        fn oci_manifest(&self, _: &str) -> Result<Vec<u8>, CapabilityError> {
            unreachable!()
        }
        fn oci_manifest_config(&self, _: &str) -> Result<Vec<u8>, CapabilityError> {
            unreachable!()
        }
        fn verify(&self, request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
            let request: serde_json::Value =
                serde_json::from_slice(request).unwrap_or_else(|e| panic!("{e}"));
            self.requests.borrow_mut().push(request.clone());
            let all: Vec<&str> = ["pub_keys", "keyless", "keyless_prefix"]
                .iter()
                .filter_map(|k| request[k].as_array())
                .flatten()
                .map(|v| {
                    v.as_str()
                        .or(v["subject"].as_str())
                        .or(v["url_prefix"].as_str())
                        .unwrap_or("")
                })
                .collect();
            let digest = if all.iter().all(|s| s.starts_with("good")) {
                A
            } else if all.iter().all(|s| s.starts_with("moved")) {
                B
            } else {
                return Err(CapabilityError(
                    "Image verification failed: missing signatures\nThe following constraints were not satisfied:\n- kind: pubKey".into(),
                ));
            };
            Ok(serde_json::json!({"is_trusted": true, "digest": digest})
                .to_string()
                .into_bytes())
        }
    }

    fn keys(pems: &[&str], threshold: usize) -> SignatureRules {
        SignatureRules::new(vec![Requirement {
            scope: Scope::parse("repository", "ghcr.io/org").unwrap_or_else(|e| panic!("{e}")),
            index: 0,
            signers: Some(Signers {
                signers: pems
                    .iter()
                    .enumerate()
                    .map(|(index, pem)| Signer::Key {
                        index,
                        pem: (*pem).to_owned(),
                    })
                    .collect(),
                threshold,
                annotations: None,
            }),
        }])
    }

    fn check(rules: &SignatureRules, image: &str, fake: &Fake) -> Outcome {
        let image = Reference::parse(image).unwrap_or_else(|e| panic!("{e}"));
        let aliases = Aliases::default();
        let mut lookups = Lookups::new(fake);
        rules.check(&aliases.names(image.domain()), &image, &mut lookups)
    }

    #[test]
    fn one_key_is_one_request_in_kubewardens_shape() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1"], 1), "ghcr.io/org/app", &fake),
            Outcome::Verified { digest: A.into() }
        );
        assert_eq!(
            *fake.requests.borrow(),
            vec![serde_json::json!({
                "type": "SigstorePubKeyVerify",
                "image": "ghcr.io/org/app:latest",
                "pub_keys": ["good1"],
                "annotations": null
            })]
        );
    }

    #[test]
    fn all_keys_required_are_asked_one_by_one() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1", "good2"], 2), "ghcr.io/org/app:1", &fake),
            Outcome::Verified { digest: A.into() }
        );
        let asked: Vec<serde_json::Value> = fake
            .requests
            .borrow()
            .iter()
            .map(|r| r["pub_keys"].clone())
            .collect();
        assert_eq!(
            asked,
            vec![serde_json::json!(["good1"]), serde_json::json!(["good2"])]
        );
        // The first missing one decides: the second is not asked.
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["other", "good1"], 2), "ghcr.io/org/app:1", &fake),
            Outcome::Failed("the image is not signed as signatures[0] requires (all of keys[0], keys[1]): keys[0]: Image verification failed: missing signatures".into())
        );
        assert_eq!(fake.requests.borrow().len(), 1);
    }

    #[test]
    fn any_key_stops_at_the_first_trusted_one() {
        let fake = Fake::default();
        assert_eq!(
            check(
                &keys(&["other", "good1", "good2"], 1),
                "ghcr.io/org/app:1",
                &fake
            ),
            Outcome::Verified { digest: A.into() }
        );
        let asked: Vec<serde_json::Value> = fake
            .requests
            .borrow()
            .iter()
            .map(|r| r["pub_keys"].clone())
            .collect();
        assert_eq!(
            asked,
            vec![serde_json::json!(["other"]), serde_json::json!(["good1"])]
        );
    }

    #[test]
    fn a_threshold_counts_keys_and_stops_when_out_of_reach() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["other1", "other2", "good1"], 2), "ghcr.io/org/app:1", &fake),
            Outcome::Failed("the image is not signed as signatures[0] requires (2 of keys[0], keys[1], keys[2]): keys[0]: MISSING; keys[1]: MISSING".replace("MISSING", "Image verification failed: missing signatures"))
        );
        // After two failures, one key left cannot make two.
        assert_eq!(fake.requests.borrow().len(), 2);
        let fake = Fake::default();
        assert_eq!(
            check(
                &keys(&["good1", "other", "good2"], 2),
                "ghcr.io/org/app:1",
                &fake
            ),
            Outcome::Verified { digest: A.into() }
        );
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1", "other"], 2), "ghcr.io/org/app:1", &fake),
            Outcome::Failed("the image is not signed as signatures[0] requires (all of keys[0], keys[1]): verified keys[0]; keys[1]: Image verification failed: missing signatures".into())
        );
    }

    #[test]
    fn some_verified_and_the_rest_not_says_which() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1", "other", "good2x", "bad"], 3), "ghcr.io/org/app:1", &fake),
            Outcome::Failed("the image is not signed as signatures[0] requires (3 of keys[0], keys[1], keys[2], keys[3]): verified keys[0], keys[2]; keys[1]: MISSING; keys[3]: MISSING".replace("MISSING", "Image verification failed: missing signatures"))
        );
    }

    #[test]
    fn signers_that_verify_different_digests_fail() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1", "moved1"], 2), "ghcr.io/org/app:1", &fake),
            Outcome::Failed(format!(
                "the image is not signed as signatures[0] requires (all of keys[0], keys[1]): the host verified different digests (keys[0] {A}, keys[1] {B}): the tag moved during verification; pin the image by digest"
            ))
        );
    }

    #[test]
    fn a_pinned_image_must_be_verified_at_its_digest() {
        let fake = Fake::default();
        assert_eq!(
            check(
                &keys(&["good1"], 1),
                &format!("ghcr.io/org/app:1@{A}"),
                &fake
            ),
            Outcome::Verified { digest: A.into() }
        );
        assert_eq!(
            fake.requests.borrow()[0]["image"],
            format!("ghcr.io/org/app:1@{A}")
        );
        assert_eq!(
            check(
                &keys(&["moved1"], 1),
                &format!("ghcr.io/org/app@{A}"),
                &Fake::default()
            ),
            Outcome::Failed(format!(
                "the host verified the signatures of {B}, but the image is pinned to {A}"
            ))
        );
    }

    #[test]
    fn outside_every_scope_nothing_is_asked() {
        let fake = Fake::default();
        assert_eq!(
            check(&keys(&["good1"], 1), "ghcr.io/org-evil/app:1", &fake),
            Outcome::NotRequired
        );
        assert!(fake.requests.borrow().is_empty());
    }

    #[test]
    fn each_request_is_sent_once_per_evaluation() {
        let fake = Fake::default();
        let rules = keys(&["good1"], 1);
        let aliases = Aliases::default();
        let mut lookups = Lookups::new(&fake);
        for image in [
            "ghcr.io/org/app:1",
            "ghcr.io/org/app:1",
            "ghcr.io/org/app:2",
        ] {
            let image = Reference::parse(image).unwrap_or_else(|e| panic!("{e}"));
            rules.check(&aliases.names(image.domain()), &image, &mut lookups);
        }
        assert_eq!(fake.requests.borrow().len(), 2);
    }

    #[test]
    fn host_reasons_are_one_bounded_line() {
        assert_eq!(
            one_line("\n  no signatures found for image: x \nmore"),
            "no signatures found for image: x"
        );
        assert_eq!(one_line(&"y".repeat(1000)).chars().count(), MAX_REASON + 1);
        assert_eq!(one_line(""), "the host gave no reason");
    }

    #[test]
    fn other_request_types_are_kubewardens() {
        let annotations: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())].into();
        let signers = [
            Signer::Keyless {
                index: 0,
                issuer: "https://issuer".into(),
                subject: "good@example.com".into(),
            },
            Signer::KeylessPrefix {
                index: 1,
                issuer: "https://issuer".into(),
                url_prefix: "https://github.com/org".into(),
            },
            Signer::Certificate {
                index: 0,
                pem: "CERT".into(),
                chain: Some(vec!["CA".into()]),
                require_rekor_bundle: false,
            },
        ];
        let requests: Vec<serde_json::Value> = signers
            .iter()
            .map(|s| verify_request(s, "r/x:1", Some(&annotations)))
            .collect();
        assert_eq!(
            requests,
            vec![
                serde_json::json!({"type": "SigstoreKeylessVerify", "image": "r/x:1",
                    "keyless": [{"issuer": "https://issuer", "subject": "good@example.com"}],
                    "annotations": {"env": "prod"}}),
                serde_json::json!({"type": "SigstoreKeylessPrefixVerify", "image": "r/x:1",
                    "keyless_prefix": [{"issuer": "https://issuer", "url_prefix": "https://github.com/org"}],
                    "annotations": {"env": "prod"}}),
                serde_json::json!({"type": "SigstoreCertificateVerify", "image": "r/x:1",
                    "certificate": [67, 69, 82, 84], "certificate_chain": [[67, 65]],
                    "require_rekor_bundle": false, "annotations": {"env": "prod"}}),
            ]
        );
        // The text as it goes to the host: keys sorted, `type` among them.
        assert_eq!(
            verify_request(&signers[2], "r/x:1", None).to_string(),
            r#"{"annotations":null,"certificate":[67,69,82,84],"certificate_chain":[[67,65]],"image":"r/x:1","require_rekor_bundle":false,"type":"SigstoreCertificateVerify"}"#
        );
    }
}
