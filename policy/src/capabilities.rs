//! Host capabilities the rules may ask for (OCI lookups, Sigstore verification), behind one small
//! trait so the core stays pure: the waPC entry answers through Kubewarden's
//! host calls, tests through a map-backed fake.

use std::fmt;

/// Why a host lookup failed, in the host's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityError(pub String);

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lookups a host can answer for the policy.
///
/// The OCI manifest lookups return the host's answer as raw JSON bytes,
/// exactly as Kubewarden's host call returns it; the rule that asks parses
/// only the fields it needs.
pub trait Capabilities {
    /// The manifest digest (`sha256:...`) the registry serves for `image`
    /// (Kubewarden `oci/v1/manifest_digest`).
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError>;

    /// The manifest the registry serves for `image`, an OCI image manifest
    /// or image index (or their Docker v2 forms), as JSON (Kubewarden
    /// `oci/v1/oci_manifest`).
    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError>;

    /// The image manifest and image configuration of `image`, as the JSON
    /// `{"manifest": {...}, "digest": "sha256:...", "config": {...}}`
    /// (Kubewarden `oci/v1/oci_manifest_config`).
    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError>;

    /// Sigstore verification of an image's signatures (Kubewarden
    /// `oci/v2/verify`): `request` is the JSON of one of Kubewarden's request
    /// types (`{"type": "SigstorePubKeyVerify", "image": ..., ...}`), passed
    /// to the host exactly as written; the answer is the host's JSON
    /// `{"is_trusted": true, "digest": "sha256:..."}`. A host that finds the
    /// signatures missing or wrong answers with an error, as Kubewarden's does.
    ///
    /// The default refuses, so a host (or a test fake) that only answers the
    /// OCI lookups fails verification closed instead of not compiling.
    fn verify(&self, _request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        Err(CapabilityError(
            "cannot verify signatures: this host does not answer kubewarden/oci/v2/verify"
                .to_owned(),
        ))
    }
}

/// A host that answers nothing: for evaluations that need no lookups.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Offline {
    fn refuse(what: &str, image: &str) -> CapabilityError {
        CapabilityError(format!(
            "cannot look up the {what} of {image}: no host capabilities are available"
        ))
    }
}

impl Capabilities for Offline {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        Err(Offline::refuse("digest", image))
    }

    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        Err(Offline::refuse("manifest", image))
    }

    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        Err(Offline::refuse("manifest and configuration", image))
    }

    fn verify(&self, _request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        Err(CapabilityError(
            "cannot verify signatures: no host capabilities are available".to_owned(),
        ))
    }
}
