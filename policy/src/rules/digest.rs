//! Rule `digest` (SPEC 2.5): pinning images to digests.
//!
//! **What it checks:** `digests.require` rejects images without a digest.
//! `digests.resolve` asks the host for the digest the registry serves for an
//! unpinned image's tag (Kubewarden's `oci/v1/manifest_digest`):
//! `AttemptRewrite` pins the image to it when the lookup succeeds and leaves
//! it as it is otherwise (so `require` may still reject it); `Required`
//! rejects an image whose digest cannot be resolved, saying why.
//!
//! **Why:** a tag can be moved to other content at any time; a digest
//! cannot. Pinning at admission makes every node run the same bytes the
//! policy saw, the OpenShift ImagePolicy `resolveImages` behaviour on any
//! registry.

use std::collections::BTreeMap;

use crate::capabilities::{Capabilities, CapabilityError};
use crate::reference::{Reference, grammar};

/// `digests.resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolve {
    /// Never ask the host (the default).
    #[default]
    Never,
    /// Pin when the lookup succeeds; leave the image otherwise.
    AttemptRewrite,
    /// Pin, or reject when the digest cannot be resolved.
    Required,
}

impl Resolve {
    /// Every value, as settings write them.
    pub const NAMES: [&'static str; 3] = ["Never", "AttemptRewrite", "Required"];

    /// Reads a settings value.
    pub fn parse(text: &str) -> Option<Resolve> {
        match text {
            "Never" => Some(Resolve::Never),
            "AttemptRewrite" => Some(Resolve::AttemptRewrite),
            "Required" => Some(Resolve::Required),
            _ => None,
        }
    }
}

/// The compiled `digests` settings.
#[derive(Debug, Clone, Default)]
pub struct DigestRules {
    /// Every image must be pinned.
    pub require: bool,
    /// Whether and how to resolve tags to digests.
    pub resolve: Resolve,
}

/// What resolving one image gave.
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

/// Host lookups made during one evaluation, each distinct name once.
pub struct Lookups<'c> {
    capabilities: &'c dyn Capabilities,
    /// A map, not a list scanned per lookup: a request near the API server's
    /// size limit can name tens of thousands of distinct images.
    done: BTreeMap<String, Result<String, CapabilityError>>,
    /// The `imageMetadata` rule's answers (manifests and configurations).
    pub(crate) metadata: crate::rules::image_metadata::Answers,
    /// The `signature` rule's answers.
    pub(crate) signatures: crate::rules::signature::Answers,
}

impl<'c> Lookups<'c> {
    /// Lookups through `capabilities`.
    pub fn new(capabilities: &'c dyn Capabilities) -> Lookups<'c> {
        Lookups {
            capabilities,
            done: BTreeMap::new(),
            metadata: Default::default(),
            signatures: Default::default(),
        }
    }

    /// The host the lookups go to.
    pub(crate) fn capabilities(&self) -> &'c dyn Capabilities {
        self.capabilities
    }

    fn manifest_digest(&mut self, name: &str) -> Result<String, CapabilityError> {
        if let Some(result) = self.done.get(name) {
            return result.clone();
        }
        let result = self.capabilities.manifest_digest(name).and_then(|digest| {
            grammar::parse_digest(&digest)
                .map(|()| digest.clone())
                .map_err(|e| CapabilityError(format!("the host answered an invalid digest: {e}")))
        });
        self.done.insert(name.to_owned(), result.clone());
        result
    }
}

impl DigestRules {
    /// Whether the settings pin `image` (resolving is on and it has no digest).
    pub fn pins(&self, image: &Reference) -> bool {
        self.resolve != Resolve::Never && !image.is_pinned()
    }

    /// Resolves `image` when the settings ask for it.
    pub fn resolve(&self, image: &Reference, lookups: &mut Lookups<'_>) -> Resolution {
        if !self.pins(image) {
            return Resolution::NotAttempted;
        }
        // The normalized name with its effective tag: what the runtime pulls,
        // and a name every host's parser reads the same way.
        let lookup = match image.effective_tag() {
            Some(tag) if image.tag().is_none() => format!("{image}:{tag}"),
            _ => image.to_string(),
        };
        match lookups.manifest_digest(&lookup) {
            Ok(digest) => Resolution::Pinned(format!("{lookup}@{digest}")),
            Err(e) => Resolution::Failed {
                lookup,
                reason: e.to_string(),
            },
        }
    }

    /// The reason `image` fails the rule after `resolution`, if it does.
    pub fn check(&self, image: &Reference, resolution: &Resolution) -> Option<String> {
        match resolution {
            Resolution::Failed { lookup, reason } if self.resolve == Resolve::Required => Some(
                format!("the digest of {lookup} could not be resolved: {reason}"),
            ),
            Resolution::Failed { reason, .. } if self.require => Some(format!(
                "the image is not pinned to a digest, and resolving its digest failed: {reason}"
            )),
            Resolution::NotAttempted if self.require && !image.is_pinned() => Some(
                "the image is not pinned to a digest; write it as name:tag@sha256:<digest>"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const DIGEST: &str = "sha256:4c0e8c5e4ffbb5c2d1b7d4a0c0bd7f0f9b27e9a3d2c1e0f9a8b7c6d5e4f3a2b1";

    /// Answers one digest for `docker.io/library/nginx:1.27`, fails otherwise,
    /// and counts the calls.
    struct Fake {
        calls: Cell<usize>,
    }

    impl Capabilities for Fake {
        fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
            self.calls.set(self.calls.get() + 1);
            match image {
                "docker.io/library/nginx:1.27" => Ok(DIGEST.to_owned()),
                "docker.io/library/bad:1" => Ok("sha256:nothex".to_owned()),
                _ => Err(CapabilityError(format!("manifest unknown: {image}"))),
            }
        }
        fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
            Err(CapabilityError(format!("no manifest for {image}")))
        }
        fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
            Err(CapabilityError(format!("no config for {image}")))
        }
    }

    fn image(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn rules(require: bool, resolve: Resolve) -> DigestRules {
        DigestRules { require, resolve }
    }

    #[test]
    fn attempt_rewrite_pins_to_the_normalized_name() {
        let fake = Fake {
            calls: Cell::new(0),
        };
        let mut lookups = Lookups::new(&fake);
        let r = rules(false, Resolve::AttemptRewrite);
        assert_eq!(
            r.resolve(&image("nginx:1.27"), &mut lookups),
            Resolution::Pinned(format!("docker.io/library/nginx:1.27@{DIGEST}"))
        );
        // Each distinct name is looked up once per evaluation.
        r.resolve(&image("docker.io/library/nginx:1.27"), &mut lookups);
        assert_eq!(fake.calls.get(), 1);
    }

    #[test]
    fn untagged_images_are_looked_up_as_latest() {
        let fake = Fake {
            calls: Cell::new(0),
        };
        let mut lookups = Lookups::new(&fake);
        let resolution =
            rules(false, Resolve::Required).resolve(&image("ghcr.io/org/app"), &mut lookups);
        assert_eq!(
            resolution,
            Resolution::Failed {
                lookup: "ghcr.io/org/app:latest".into(),
                reason: "manifest unknown: ghcr.io/org/app:latest".into()
            }
        );
    }

    #[test]
    fn pinned_images_and_never_are_not_looked_up() {
        let fake = Fake {
            calls: Cell::new(0),
        };
        let mut lookups = Lookups::new(&fake);
        let pinned = image(&format!("nginx:1.27@{DIGEST}"));
        assert_eq!(
            rules(true, Resolve::Required).resolve(&pinned, &mut lookups),
            Resolution::NotAttempted
        );
        assert_eq!(
            rules(true, Resolve::Never).resolve(&image("nginx:1.27"), &mut lookups),
            Resolution::NotAttempted
        );
        assert_eq!(fake.calls.get(), 0);
    }

    #[test]
    fn an_invalid_answer_is_a_failure() {
        let fake = Fake {
            calls: Cell::new(0),
        };
        let mut lookups = Lookups::new(&fake);
        let resolution =
            rules(false, Resolve::AttemptRewrite).resolve(&image("bad:1"), &mut lookups);
        assert!(
            matches!(&resolution, Resolution::Failed { reason, .. } if reason.starts_with("the host answered an invalid digest")),
            "{resolution:?}"
        );
    }

    #[test]
    fn check_combines_require_and_resolve() {
        let unpinned = image("ghcr.io/org/app:1");
        let failed = Resolution::Failed {
            lookup: "ghcr.io/org/app:1".into(),
            reason: "registry down".into(),
        };
        assert_eq!(
            rules(false, Resolve::Required).check(&unpinned, &failed),
            Some("the digest of ghcr.io/org/app:1 could not be resolved: registry down".into())
        );
        assert_eq!(
            rules(false, Resolve::AttemptRewrite).check(&unpinned, &failed),
            None
        );
        assert_eq!(
            rules(true, Resolve::AttemptRewrite).check(&unpinned, &failed),
            Some("the image is not pinned to a digest, and resolving its digest failed: registry down".into())
        );
        assert_eq!(
            rules(true, Resolve::AttemptRewrite).check(&unpinned, &Resolution::Pinned("x".into())),
            None
        );
        assert_eq!(
            rules(true, Resolve::Never).check(&unpinned, &Resolution::NotAttempted),
            Some(
                "the image is not pinned to a digest; write it as name:tag@sha256:<digest>".into()
            )
        );
        assert_eq!(
            rules(true, Resolve::Never)
                .check(&image(&format!("a@{DIGEST}")), &Resolution::NotAttempted),
            None
        );
    }
}
