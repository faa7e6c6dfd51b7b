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
pub trait Capabilities {
    /// The manifest digest (`sha256:...`) the registry serves for `image`
    /// (Kubewarden `oci/v1/manifest_digest`).
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError>;
}

/// A host that answers nothing: for evaluations that need no lookups.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Capabilities for Offline {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        Err(CapabilityError(format!(
            "cannot look up the digest of {image}: no host capabilities are available"
        )))
    }
}
