//! Host capabilities the rules may ask for (OCI lookups), behind one small
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
}
