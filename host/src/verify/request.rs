//! What the policy asks `kubewarden/oci/v2/verify` for, read and checked.
//!
//! The payload is kubewarden-policy-sdk 0.17.3's `SigstoreVerificationInputV2`
//! (`src/host_capabilities/mod.rs`), an internally tagged enum (`"type"`),
//! exactly as policy-evaluator reads it (DEVELOPMENT.md "ABI notes"):
//!
//! ```json
//! {"type": "SigstorePubKeyVerify", "image": "…", "pub_keys": ["-----BEGIN PUBLIC KEY-----…"], "annotations": {"k": "v"} | null}
//! {"type": "SigstoreKeylessVerify", "image": "…", "keyless": [{"issuer": "…", "subject": "…"}], "annotations": …}
//! {"type": "SigstoreKeylessPrefixVerify", "image": "…", "keyless_prefix": [{"issuer": "…", "url_prefix": "…"}], "annotations": …}
//! {"type": "SigstoreGithubActionsVerify", "image": "…", "owner": "…", "repo": "…" | null, "annotations": …}
//! {"type": "SigstoreCertificateVerify", "image": "…", "certificate": [<PEM bytes>], "certificate_chain": [[…], …] | null,
//!  "require_rekor_bundle": bool, "annotations": …}
//! ```
//!
//! Every listed signer must have signed (policy-evaluator's `all_of`), and
//! each signature that counts must carry every requested annotation. Keys
//! and certificates are parsed here, before anything is fetched, so a bad key
//! is reported as such and not as a missing signature.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sigstore::cosign::signature_layers::{CertificateSubject, SignatureLayer};
use sigstore::cosign::verification_constraint::{
    CertificateVerifier, PublicKeyVerifier, VerificationConstraint,
};
use sigstore::crypto::{CosignVerificationKey, Signature};
use sigstore::registry::{Certificate, CertificateEncoding};

/// The OIDC issuer of GitHub Actions' workload identities.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `SigstoreVerificationInputV2`, as the SDK writes it.
// The variant names are the SDK's: serde writes them as the `type` tag.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum VerifyRequest {
    /// Signed by every one of these public keys.
    SigstorePubKeyVerify {
        /// The image, as the policy names it.
        image: String,
        /// PEM public keys.
        pub_keys: Vec<String>,
        /// Annotations every counted signature must carry.
        annotations: Option<BTreeMap<String, String>>,
    },
    /// Signed keylessly by every one of these identities.
    SigstoreKeylessVerify {
        /// The image.
        image: String,
        /// OIDC issuer and exact subject (e-mail or URI).
        keyless: Vec<KeylessInfo>,
        /// Annotations every counted signature must carry.
        annotations: Option<BTreeMap<String, String>>,
    },
    /// Signed keylessly by identities whose URI starts with these prefixes.
    SigstoreKeylessPrefixVerify {
        /// The image.
        image: String,
        /// OIDC issuer and subject URL prefix.
        keyless_prefix: Vec<KeylessPrefixInfo>,
        /// Annotations every counted signature must carry.
        annotations: Option<BTreeMap<String, String>>,
    },
    /// Signed keylessly by a GitHub Actions workflow of `owner[/repo]`.
    SigstoreGithubActionsVerify {
        /// The image.
        image: String,
        /// The GitHub user or organization.
        owner: String,
        /// The repository, or any of the owner's.
        repo: Option<String>,
        /// Annotations every counted signature must carry.
        annotations: Option<BTreeMap<String, String>>,
    },
    /// Signed by the key of this certificate, optionally checked against a
    /// chain (a private PKI).
    SigstoreCertificateVerify {
        /// The image.
        image: String,
        /// The PEM certificate, as bytes.
        certificate: Vec<u8>,
        /// PEM certificates (intermediates, then the root) that must have
        /// issued it.
        certificate_chain: Option<Vec<Vec<u8>>>,
        /// Only signatures with a Rekor bundle count.
        require_rekor_bundle: bool,
        /// Annotations every counted signature must carry.
        annotations: Option<BTreeMap<String, String>>,
    },
}

/// An OIDC issuer and an exact subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeylessInfo {
    /// The OIDC issuer URL.
    pub issuer: String,
    /// The e-mail address or URI in the certificate.
    pub subject: String,
}

/// An OIDC issuer and a subject URL prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeylessPrefixInfo {
    /// The OIDC issuer URL.
    pub issuer: String,
    /// The start of the URI in the certificate.
    pub url_prefix: String,
}

impl VerifyRequest {
    /// Reads the payload; the error says what is wrong with it.
    pub fn parse(payload: &[u8]) -> Result<VerifyRequest, String> {
        serde_json::from_slice(payload).map_err(|e| {
            format!(
                "kubewarden/oci/v2/verify: the request is not a Sigstore verification request \
                 (SigstorePubKeyVerify, SigstoreKeylessVerify, SigstoreKeylessPrefixVerify, \
                 SigstoreGithubActionsVerify or SigstoreCertificateVerify): {e}"
            )
        })
    }

    /// The image to verify.
    pub fn image(&self) -> &str {
        match self {
            VerifyRequest::SigstorePubKeyVerify { image, .. }
            | VerifyRequest::SigstoreKeylessVerify { image, .. }
            | VerifyRequest::SigstoreKeylessPrefixVerify { image, .. }
            | VerifyRequest::SigstoreGithubActionsVerify { image, .. }
            | VerifyRequest::SigstoreCertificateVerify { image, .. } => image,
        }
    }

    /// Everything but the image, as bytes that are equal exactly when two
    /// requests ask for the same signers and annotations: the
    /// requirement half of the verification cache's key.
    pub fn requirement_key(&self) -> Vec<u8> {
        let mut without_image = self.clone();
        match &mut without_image {
            VerifyRequest::SigstorePubKeyVerify { image, .. }
            | VerifyRequest::SigstoreKeylessVerify { image, .. }
            | VerifyRequest::SigstoreKeylessPrefixVerify { image, .. }
            | VerifyRequest::SigstoreGithubActionsVerify { image, .. }
            | VerifyRequest::SigstoreCertificateVerify { image, .. } => image.clear(),
        }
        // Serializing a struct of strings, maps and vectors cannot fail;
        // an empty key would only make the cache miss.
        Sha256::digest(serde_json::to_vec(&without_image).unwrap_or_default()).to_vec()
    }

    /// The signers this request requires, checked and ready to match
    /// signature layers.
    pub fn requirements(&self) -> Result<Vec<Requirement>, String> {
        let annotations = |a: &Option<BTreeMap<String, String>>| a.clone().unwrap_or_default();
        let requirements = match self {
            VerifyRequest::SigstorePubKeyVerify {
                pub_keys,
                annotations: a,
                ..
            } => {
                if pub_keys.is_empty() {
                    return Err(
                        "SigstorePubKeyVerify: pub_keys is empty; give at least one \
                                PEM public key"
                            .into(),
                    );
                }
                pub_keys
                    .iter()
                    .enumerate()
                    .map(|(i, pem)| {
                        Ok(Requirement {
                            signer: Signer::public_key(i, pub_keys.len(), pem)?,
                            annotations: annotations(a),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?
            }
            VerifyRequest::SigstoreKeylessVerify {
                keyless,
                annotations: a,
                ..
            } => {
                if keyless.is_empty() {
                    return Err(
                        "SigstoreKeylessVerify: keyless is empty; give at least one \
                                {issuer, subject}"
                            .into(),
                    );
                }
                keyless
                    .iter()
                    .map(|k| Requirement {
                        signer: Signer::Identity {
                            issuer: k.issuer.clone(),
                            subject: SubjectMatch::Exact(k.subject.clone()),
                        },
                        annotations: annotations(a),
                    })
                    .collect()
            }
            VerifyRequest::SigstoreKeylessPrefixVerify {
                keyless_prefix,
                annotations: a,
                ..
            } => {
                if keyless_prefix.is_empty() {
                    return Err(
                        "SigstoreKeylessPrefixVerify: keyless_prefix is empty; give at \
                                least one {issuer, url_prefix}"
                            .into(),
                    );
                }
                keyless_prefix
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        Ok(Requirement {
                            signer: Signer::Identity {
                                issuer: k.issuer.clone(),
                                subject: SubjectMatch::url_prefix(i, &k.url_prefix)?,
                            },
                            annotations: annotations(a),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?
            }
            VerifyRequest::SigstoreGithubActionsVerify {
                owner,
                repo,
                annotations: a,
                ..
            } => {
                if owner.is_empty() || owner.contains('/') {
                    return Err(format!(
                        "SigstoreGithubActionsVerify: owner {owner:?} is not a GitHub user or \
                         organization name"
                    ));
                }
                if repo
                    .as_deref()
                    .is_some_and(|r| r.is_empty() || r.contains('/'))
                {
                    return Err(format!(
                        "SigstoreGithubActionsVerify: repo {repo:?} is not a repository name \
                         (write it without the owner)"
                    ));
                }
                vec![Requirement {
                    signer: Signer::GithubActions {
                        owner: owner.clone(),
                        repo: repo.clone(),
                    },
                    annotations: annotations(a),
                }]
            }
            VerifyRequest::SigstoreCertificateVerify {
                certificate,
                certificate_chain,
                require_rekor_bundle,
                annotations: a,
                ..
            } => vec![Requirement {
                signer: Signer::certificate(
                    certificate,
                    certificate_chain.as_deref(),
                    *require_rekor_bundle,
                )?,
                annotations: annotations(a),
            }],
        };
        Ok(requirements)
    }
}

/// One signer that must have signed, and the annotations its signature
/// must carry.
#[derive(Debug)]
pub struct Requirement {
    /// Who must have signed.
    pub signer: Signer,
    /// What the signature's payload must carry in `optional`.
    pub annotations: BTreeMap<String, String>,
}

/// Who must have signed.
#[derive(Debug)]
pub enum Signer {
    /// A public key; `label` names it in messages.
    Key {
        /// `the public key (SHA256:…)`, or `public key 2 (…)` of several.
        label: String,
        /// The key, through the crate's own constraint.
        verifier: PublicKeyVerifier,
    },
    /// A keyless identity in a certificate the trust root's Fulcio issued.
    Identity {
        /// The OIDC issuer.
        issuer: String,
        /// How the subject must match.
        subject: SubjectMatch,
    },
    /// A GitHub Actions workflow of `owner[/repo]`.
    GithubActions {
        /// The owner.
        owner: String,
        /// The repository, if one is required.
        repo: Option<String>,
    },
    /// The key of a given certificate (checked against the chain when one
    /// was given).
    Certificate {
        /// `the certificate (CN=…)`.
        label: String,
        /// The crate's constraint.
        verifier: CertificateVerifier,
    },
}

/// How a keyless subject must match.
#[derive(Debug, Clone)]
pub enum SubjectMatch {
    /// The e-mail address or URI, exactly.
    Exact(String),
    /// A URI starting with this prefix, which ends with `/`.
    UrlPrefix(String),
}

impl SubjectMatch {
    /// A URL prefix; one that does not end with `/` gets one, so that
    /// `https://github.com/org` does not admit `https://github.com/org-evil`
    /// (as Kubewarden's `UrlPrefix` does).
    fn url_prefix(index: usize, prefix: &str) -> Result<SubjectMatch, String> {
        let (scheme, rest) = prefix.split_once("://").ok_or_else(|| {
            format!(
                "SigstoreKeylessPrefixVerify: keyless_prefix[{index}].url_prefix {prefix:?} is \
                 not a URL (write it as https://host/path)"
            )
        })?;
        if scheme.is_empty() || rest.is_empty() || prefix.chars().any(char::is_whitespace) {
            return Err(format!(
                "SigstoreKeylessPrefixVerify: keyless_prefix[{index}].url_prefix {prefix:?} is \
                 not a URL (write it as https://host/path)"
            ));
        }
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(SubjectMatch::UrlPrefix(prefix))
    }

    fn matches(&self, subject: &CertificateSubject) -> bool {
        match (self, subject) {
            (
                SubjectMatch::Exact(want),
                CertificateSubject::Email(s) | CertificateSubject::Uri(s),
            ) => want == s,
            (SubjectMatch::UrlPrefix(prefix), CertificateSubject::Uri(s)) => s.starts_with(prefix),
            (SubjectMatch::UrlPrefix(_), CertificateSubject::Email(_)) => false,
        }
    }
}

impl Signer {
    fn public_key(index: usize, count: usize, pem: &str) -> Result<Signer, String> {
        let bad = |why: String| {
            format!(
                "SigstorePubKeyVerify: pub_keys[{index}] is not a PEM public key ({why}); write \
                 it as cosign.pub is written, -----BEGIN PUBLIC KEY----- …"
            )
        };
        let parsed = pem::parse(pem.trim()).map_err(|e| bad(e.to_string()))?;
        if parsed.tag() != "PUBLIC KEY" {
            return Err(bad(format!("it is a {:?} block", parsed.tag())));
        }
        // The key must be one the crate can verify with (ECDSA P-256/384,
        // Ed25519, RSA); checking here names the key instead of failing
        // every signature later.
        CosignVerificationKey::try_from_der(parsed.contents()).map_err(|e| bad(e.to_string()))?;
        let verifier =
            PublicKeyVerifier::try_from(pem.trim().as_bytes()).map_err(|e| bad(e.to_string()))?;
        // One key (what the module sends: one request per key) is "the
        // public key"; of several, the number says which.
        let fingerprint = key_fingerprint(parsed.contents());
        let label = if count == 1 {
            format!("the public key ({fingerprint})")
        } else {
            format!("public key {} ({fingerprint})", index + 1)
        };
        Ok(Signer::Key { label, verifier })
    }

    fn certificate(
        pem_bytes: &[u8],
        chain: Option<&[Vec<u8>]>,
        require_rekor_bundle: bool,
    ) -> Result<Signer, String> {
        let parsed = pem::parse(pem_bytes).map_err(|e| {
            format!("SigstoreCertificateVerify: certificate is not a PEM certificate ({e})")
        })?;
        if parsed.tag() != "CERTIFICATE" {
            return Err(format!(
                "SigstoreCertificateVerify: certificate is a {:?} PEM block, not a CERTIFICATE",
                parsed.tag()
            ));
        }
        let chain: Option<Vec<Certificate>> = chain.map(|certs| {
            certs
                .iter()
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: data.clone(),
                })
                .collect()
        });
        if let Some(chain) = &chain {
            for (i, cert) in chain.iter().enumerate() {
                match pem::parse(&cert.data) {
                    Ok(p) if p.tag() == "CERTIFICATE" => {}
                    Ok(p) => {
                        return Err(format!(
                            "SigstoreCertificateVerify: certificate_chain[{i}] is a {:?} PEM \
                             block, not a CERTIFICATE",
                            p.tag()
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "SigstoreCertificateVerify: certificate_chain[{i}] is not a PEM \
                             certificate ({e})"
                        ));
                    }
                }
            }
        }
        let verifier =
            CertificateVerifier::from_pem(pem_bytes, require_rekor_bundle, chain.as_deref())
                .map_err(|e| {
                    let against = if chain.is_some() {
                        " or is not issued by certificate_chain"
                    } else {
                        ""
                    };
                    format!(
                        "SigstoreCertificateVerify: the certificate cannot be used to verify \
                         signatures{against}: {e}"
                    )
                })?;
        Ok(Signer::Certificate {
            label: format!("the certificate ({})", key_fingerprint(parsed.contents())),
            verifier,
        })
    }

    /// Whether `layer` is a signature by this signer.
    fn signed(&self, layer: &SignatureLayer) -> bool {
        match self {
            Signer::Key { verifier, .. } => verifier.verify(layer).unwrap_or(false),
            Signer::Certificate { verifier, .. } => verifier.verify(layer).unwrap_or(false),
            Signer::Identity { issuer, subject } => keyless_signed(layer, |cert| {
                cert.issuer.as_deref() == Some(issuer.as_str()) && subject.matches(&cert.subject)
            }),
            Signer::GithubActions { owner, repo } => keyless_signed(layer, |cert| {
                if cert.issuer.as_deref() != Some(GITHUB_ACTIONS_ISSUER) {
                    return false;
                }
                let Some(repository) = cert.github_workflow_repository.as_deref() else {
                    return false;
                };
                match (repository.split_once('/'), repo) {
                    (Some((o, r)), Some(want)) => o == owner && r == want,
                    (Some((o, _)), None) => o == owner,
                    (None, _) => false,
                }
            }),
        }
    }

    /// How messages name this signer.
    pub fn describe(&self) -> String {
        match self {
            Signer::Key { label, .. } | Signer::Certificate { label, .. } => label.clone(),
            Signer::Identity { issuer, subject } => match subject {
                SubjectMatch::Exact(s) => format!("the identity {s} (issuer {issuer})"),
                SubjectMatch::UrlPrefix(p) => {
                    format!("an identity under {p} (issuer {issuer})")
                }
            },
            Signer::GithubActions { owner, repo } => match repo {
                Some(repo) => format!("a GitHub Actions workflow of {owner}/{repo}"),
                None => format!("a GitHub Actions workflow of {owner}"),
            },
        }
    }
}

/// A keyless signature whose (trusted) certificate `accept`s, and whose
/// signature verifies with the certificate's key. The crate's own
/// `CertSubject*Verifier`s check only the certificate's fields; checking the
/// signature too means a certificate copied next to a forged signature
/// never counts.
fn keyless_signed(
    layer: &SignatureLayer,
    accept: impl Fn(&sigstore::cosign::signature_layers::CertificateSignature) -> bool,
) -> bool {
    let (Some(cert), Some(signature)) = (&layer.certificate_signature, &layer.signature) else {
        return false;
    };
    accept(cert)
        && cert
            .verification_key
            .verify_signature(
                Signature::Base64Encoded(signature.as_bytes()),
                &layer.raw_data,
            )
            .is_ok()
}

impl Requirement {
    /// Whether some layer is signed by the signer and carries the
    /// annotations; if not, why, in a few words.
    pub fn check(&self, layers: &[SignatureLayer]) -> Result<(), String> {
        let signed: Vec<&SignatureLayer> =
            layers.iter().filter(|l| self.signer.signed(l)).collect();
        if signed.is_empty() {
            return Err(format!("no signature by {}", self.signer.describe()));
        }
        if signed
            .iter()
            .any(|l| l.simple_signing.satisfies_annotations(&self.annotations))
        {
            return Ok(());
        }
        let wanted: Vec<String> = self
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Err(format!(
            "signed by {}, but no such signature carries the annotations {}",
            self.signer.describe(),
            wanted.join(", ")
        ))
    }
}

/// `SHA256:<base64>` of a key's or certificate's DER, as `ssh-keygen -l`
/// prints fingerprints: short, and enough to tell keys apart.
fn key_fingerprint(der: &[u8]) -> String {
    use base64::Engine as _;
    let hash = Sha256::digest(der);
    let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash);
    format!("SHA256:{}", &text[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore::cosign::Constraint as _;
    use sigstore::cosign::constraint::{AnnotationMarker, PrivateKeySigner};
    use sigstore::cosign::signature_layers::CertificateSignature;
    use sigstore::crypto::{SigStoreSigner, SigningScheme};

    const DIGEST: &str = "sha256:2bc4a0a7b1f5e5a86a4c7c1c5d1d1e1f1a1b1c1d1e1f2a2b2c2d2e2f3a3b3c3d";

    fn signer() -> SigStoreSigner {
        SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap()
    }

    fn public_pem(signer: &SigStoreSigner) -> String {
        signer
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap()
    }

    /// A layer for DIGEST signed by `signer`, with payload `annotations`.
    fn layer(signer: SigStoreSigner, annotations: &[(&str, &str)]) -> SignatureLayer {
        let mut layer =
            SignatureLayer::new_unsigned(&"127.0.0.1:5000/app".parse().unwrap(), DIGEST).unwrap();
        if !annotations.is_empty() {
            let marker = AnnotationMarker {
                annotations: annotations
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            };
            assert!(marker.add_constraint(&mut layer).unwrap());
        }
        assert!(
            PrivateKeySigner::new_with_signer(signer)
                .add_constraint(&mut layer)
                .unwrap()
        );
        layer
    }

    /// A keyless layer: signed by a fresh key whose (trusted) certificate
    /// names `subject`, `issuer` and `repository`; `forge` signs with another
    /// key than the certificate's.
    fn keyless_layer(
        subject: CertificateSubject,
        issuer: &str,
        repository: Option<&str>,
        forge: bool,
    ) -> SignatureLayer {
        let certified = signer();
        let verification_key = certified.to_verification_key().unwrap();
        let mut layer = layer(if forge { signer() } else { certified }, &[]);
        layer.certificate_signature = Some(CertificateSignature {
            verification_key,
            subject,
            issuer: Some(issuer.into()),
            github_workflow_trigger: None,
            github_workflow_sha: None,
            github_workflow_name: None,
            github_workflow_repository: repository.map(str::to_owned),
            github_workflow_ref: None,
        });
        layer
    }

    fn requirements(request: serde_json::Value) -> Result<Vec<Requirement>, String> {
        VerifyRequest::parse(request.to_string().as_bytes())?.requirements()
    }

    fn check(request: serde_json::Value, layers: &[SignatureLayer]) -> Result<(), String> {
        let mut failures: Vec<String> = requirements(request)?
            .iter()
            .filter_map(|r| r.check(layers).err())
            .collect();
        match failures.len() {
            0 => Ok(()),
            _ => Err(failures.remove(0)),
        }
    }

    #[test]
    fn reads_every_request_type_as_the_sdk_writes_it() {
        // Byte fields are arrays of numbers; annotations a map or null.
        let cert = serde_json::json!({
            "type": "SigstoreCertificateVerify", "image": "ghcr.io/org/app:1",
            "certificate": b"PEM".to_vec(), "certificate_chain": null,
            "require_rekor_bundle": true, "annotations": {"env": "prod"}
        });
        let parsed = VerifyRequest::parse(cert.to_string().as_bytes()).unwrap();
        assert_eq!(
            parsed,
            VerifyRequest::SigstoreCertificateVerify {
                image: "ghcr.io/org/app:1".into(),
                certificate: b"PEM".to_vec(),
                certificate_chain: None,
                require_rekor_bundle: true,
                annotations: Some([("env".to_owned(), "prod".to_owned())].into()),
            }
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), cert);
        let github = serde_json::json!({"type": "SigstoreGithubActionsVerify",
            "image": "i", "owner": "org", "repo": null, "annotations": null});
        assert_eq!(
            VerifyRequest::parse(github.to_string().as_bytes())
                .unwrap()
                .image(),
            "i"
        );
        let error =
            VerifyRequest::parse(br#"{"type":"SigstorePubKeyVerify","image":"i"}"#).unwrap_err();
        assert!(error.ends_with("missing field `pub_keys`"), "{error}");
    }

    #[test]
    fn the_cache_key_ignores_the_image_only() {
        let key = |image: &str, keys: &[&str]| {
            VerifyRequest::SigstorePubKeyVerify {
                image: image.into(),
                pub_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
                annotations: None,
            }
            .requirement_key()
        };
        assert_eq!(key("a:1", &["k"]), key("b@sha256:x", &["k"]));
        assert_ne!(key("a:1", &["k"]), key("a:1", &["k", "l"]));
    }

    #[test]
    fn keys_are_checked_before_anything_is_fetched() {
        let bad = |pub_keys: serde_json::Value| {
            requirements(
                serde_json::json!({"type": "SigstorePubKeyVerify", "image": "i",
                "pub_keys": pub_keys, "annotations": null}),
            )
            .unwrap_err()
        };
        assert!(
            bad(serde_json::json!(["not a key"]))
                .starts_with("SigstorePubKeyVerify: pub_keys[0] is not a PEM public key (")
        );
        let private = signer()
            .to_sigstore_keypair()
            .unwrap()
            .private_key_to_pem()
            .unwrap()
            .to_string();
        let good = public_pem(&signer());
        assert!(
            bad(serde_json::json!([good, private]))
                .starts_with("SigstorePubKeyVerify: pub_keys[1] is not a PEM public key (it is a \"PRIVATE KEY\" block)"),
        );
        assert_eq!(
            bad(serde_json::json!([])),
            "SigstorePubKeyVerify: pub_keys is empty; give at least one PEM public key"
        );
        let prefix = requirements(serde_json::json!({"type": "SigstoreKeylessPrefixVerify",
            "image": "i", "keyless_prefix": [{"issuer": "x", "url_prefix": "github.com/org"}],
            "annotations": null}))
        .unwrap_err();
        assert_eq!(
            prefix,
            "SigstoreKeylessPrefixVerify: keyless_prefix[0].url_prefix \"github.com/org\" is not \
             a URL (write it as https://host/path)"
        );
        let owner = requirements(serde_json::json!({"type": "SigstoreGithubActionsVerify",
            "image": "i", "owner": "org/repo", "repo": null, "annotations": null}))
        .unwrap_err();
        assert!(
            owner.contains("owner \"org/repo\" is not a GitHub user"),
            "{owner}"
        );
    }

    #[test]
    fn every_key_must_sign_and_carry_the_annotations_on_the_same_signature() {
        let (a, b) = (signer(), signer());
        let (a_pem, b_pem) = (public_pem(&a), public_pem(&b));
        let layers = [
            layer(a, &[("env", "staging")]),
            layer(b, &[("env", "prod")]),
        ];
        let request = |keys: Vec<&String>, env: &str| {
            serde_json::json!({"type": "SigstorePubKeyVerify", "image": "i",
                "pub_keys": keys, "annotations": {"env": env}})
        };
        assert_eq!(check(request(vec![&a_pem], "staging"), &layers), Ok(()));
        assert_eq!(check(request(vec![&b_pem], "prod"), &layers), Ok(()));
        // a signed, b carries env=prod: not on the same signature.
        let error = check(request(vec![&a_pem], "prod"), &layers).unwrap_err();
        assert!(
            error.starts_with("signed by the public key (SHA256:"),
            "{error}"
        );
        assert!(error.ends_with("but no such signature carries the annotations env=prod"));
        let error = check(request(vec![&a_pem, &b_pem], "staging"), &layers).unwrap_err();
        assert!(error.starts_with("signed by public key 2"), "{error}");
        let stranger = public_pem(&signer());
        let error = check(request(vec![&stranger], "prod"), &layers).unwrap_err();
        assert!(
            error.starts_with("no signature by the public key (SHA256:"),
            "{error}"
        );
    }

    #[test]
    fn keyless_identities_match_exactly_or_under_a_url_prefix() {
        const ISSUER: &str = "https://accounts.example.com";
        let email = keyless_layer(
            CertificateSubject::Email("dev@example.com".into()),
            ISSUER,
            None,
            false,
        );
        let uri = keyless_layer(
            CertificateSubject::Uri(
                "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main".into(),
            ),
            ISSUER,
            None,
            false,
        );
        let exact = |subject: &str, issuer: &str| {
            serde_json::json!({"type": "SigstoreKeylessVerify", "image": "i",
                "keyless": [{"issuer": issuer, "subject": subject}], "annotations": null})
        };
        let layers = [email, uri];
        assert_eq!(check(exact("dev@example.com", ISSUER), &layers), Ok(()));
        assert_eq!(
            check(
                exact("dev@example.com", "https://other.example.com"),
                &layers
            ),
            Err(
                "no signature by the identity dev@example.com (issuer https://other.example.com)"
                    .into()
            )
        );
        assert!(check(exact("evil@example.com", ISSUER), &layers).is_err());
        let prefix = |prefix: &str| {
            serde_json::json!({"type": "SigstoreKeylessPrefixVerify", "image": "i",
                "keyless_prefix": [{"issuer": ISSUER, "url_prefix": prefix}], "annotations": null})
        };
        assert_eq!(check(prefix("https://github.com/org"), &layers), Ok(()));
        assert_eq!(
            check(prefix("https://github.com/org/app/"), &layers),
            Ok(())
        );
        // `org` never admits `org-evil`: the prefix ends at a `/`.
        assert_eq!(
            check(prefix("https://github.com/or"), &layers),
            Err("no signature by an identity under https://github.com/or/ (issuer https://accounts.example.com)".into())
        );
    }

    #[test]
    fn a_certificate_next_to_a_signature_by_another_key_never_counts() {
        const ISSUER: &str = "https://accounts.example.com";
        let forged = keyless_layer(
            CertificateSubject::Email("dev@example.com".into()),
            ISSUER,
            None,
            true,
        );
        let request = serde_json::json!({"type": "SigstoreKeylessVerify", "image": "i",
            "keyless": [{"issuer": ISSUER, "subject": "dev@example.com"}], "annotations": null});
        assert!(check(request, &[forged]).is_err());
    }

    #[test]
    fn github_actions_match_the_workflow_repository() {
        let layer = |repository: &str, issuer: &str| {
            keyless_layer(
                CertificateSubject::Uri(format!(
                    "https://github.com/{repository}/.github/workflows/r.yml@refs/tags/v1"
                )),
                issuer,
                Some(repository),
                false,
            )
        };
        let request = |owner: &str, repo: Option<&str>| {
            serde_json::json!({"type": "SigstoreGithubActionsVerify", "image": "i",
                "owner": owner, "repo": repo, "annotations": null})
        };
        let layers = [layer("org/app", GITHUB_ACTIONS_ISSUER)];
        assert_eq!(check(request("org", None), &layers), Ok(()));
        assert_eq!(check(request("org", Some("app")), &layers), Ok(()));
        assert_eq!(
            check(request("org", Some("other")), &layers),
            Err("no signature by a GitHub Actions workflow of org/other".into())
        );
        assert!(check(request("or", None), &layers).is_err());
        // The same repository, but a token from another issuer.
        let elsewhere = [layer("org/app", "https://token.example.com")];
        assert!(check(request("org", None), &elsewhere).is_err());
    }
}
