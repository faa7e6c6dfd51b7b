//! Rule `reference` (SPEC 1): every image must be present and parse with the
//! distribution grammar. Always deny: an image no rule can read is never
//! let through (the peer policy skips references it cannot parse).

use crate::reference::ReferenceError;

/// The reason for an image that does not parse.
pub fn invalid(error: &ReferenceError) -> String {
    format!("invalid image reference: {error}")
}

/// The reason for a container (or image volume) without an image.
pub fn missing(what: &str) -> String {
    format!("{what} has no image")
}
