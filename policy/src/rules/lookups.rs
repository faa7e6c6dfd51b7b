//! Host lookups made during one evaluation, and what they gave: shared by
//! the rules that ask the host (`digest`, `imageMetadata`, `signature`).
//!
//! Its own module, below those rules, so that every arrow between them
//! points one way: each rule imports these types, and this module imports
//! no rule. Each rule keeps its own parsing of the host's answers; only
//! the caches (each distinct question asked once) live here.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::capabilities::{Capabilities, CapabilityError};
use crate::reference::grammar;

/// What resolving one image's digest gave (rule `digest`); the
/// `imageMetadata` rule then reads the pinned image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Not attempted: the image is pinned, or resolving is off.
    NotAttempted,
    /// The image to write instead: `registry/path:tag@digest`.
    Pinned(String),
    /// The lookup failed, in the host's words.
    Failed {
        /// The name that was looked up.
        lookup: String,
        /// Why it failed.
        reason: String,
    },
}

/// The fields the `imageMetadata` rule reads from one host answer (it
/// parses them). From `v1/oci_manifest`
/// (an OCI image manifest or image index; Docker v2 manifests and lists have
/// the same fields): the annotations, and an index's entries. From
/// `v1/oci_manifest_config` (`{"manifest": {...}, "digest": "...",
/// "config": <image config>}`): the labels, which an OCI (or Docker) image
/// configuration keeps in `config.Labels`.
///
/// Answers are read as a `serde_json::Value` and walked by hand, and both
/// kinds share this one type: the core already parses settings that way,
/// and a derived deserializer (or a cache) per answer type would add to the
/// module's size for nothing.
#[derive(Debug, Default)]
pub struct MetadataAnswer {
    /// The annotations of a manifest, or the labels of a configuration.
    pub(crate) strings: BTreeMap<String, String>,
    /// `manifests[]` of an index: `(digest, os, architecture)`; `None` for
    /// an image manifest.
    pub(crate) manifests: Option<Vec<(String, String, String)>>,
}

/// Host lookups made during one evaluation, each distinct name once.
pub struct Lookups<'c> {
    capabilities: &'c dyn Capabilities,
    /// A map, not a list scanned per lookup: a request near the API server's
    /// size limit can name tens of thousands of distinct images.
    digests: BTreeMap<String, Result<String, CapabilityError>>,
    /// The `imageMetadata` rule's answers, by call letter and name.
    pub(crate) metadata: BTreeMap<String, Result<Rc<MetadataAnswer>, CapabilityError>>,
    /// The `signature` rule's verification answers, by request text (the
    /// same map type as the digests': one copy of its code).
    pub(crate) signatures: BTreeMap<String, Result<String, CapabilityError>>,
}

impl<'c> Lookups<'c> {
    /// Lookups through `capabilities`.
    pub fn new(capabilities: &'c dyn Capabilities) -> Lookups<'c> {
        Lookups {
            capabilities,
            digests: BTreeMap::new(),
            metadata: BTreeMap::new(),
            signatures: BTreeMap::new(),
        }
    }

    /// The host the lookups go to.
    pub(crate) fn capabilities(&self) -> &'c dyn Capabilities {
        self.capabilities
    }

    /// The manifest digest of `name` (`oci/v1/manifest_digest`), checked.
    pub(crate) fn manifest_digest(&mut self, name: &str) -> Result<String, CapabilityError> {
        if let Some(result) = self.digests.get(name) {
            return result.clone();
        }
        let result = self.capabilities.manifest_digest(name).and_then(|digest| {
            grammar::parse_digest(&digest)
                .map(|()| digest.clone())
                .map_err(|e| CapabilityError(format!("the host answered an invalid digest: {e}")))
        });
        self.digests.insert(name.to_owned(), result.clone());
        result
    }
}
