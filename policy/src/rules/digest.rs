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

use crate::reference::Reference;
use crate::rules::lookups::{Lookups, Resolution};

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
    /// `rewriteKinds`: the kinds whose images are rewritten to the resolved
    /// digest; `None` (not written) is Pods only.
    pub rewrite_kinds: Option<Vec<&'static str>>,
}

/// The kinds rewritten when `rewriteKinds` is not written. Only Pods: a
/// controller's template rewritten at admission differs from what GitOps
/// tools (Argo CD, Flux) keep in Git, which they show as drift forever,
/// while the Pods it creates are pinned anyway as they are admitted.
pub const DEFAULT_REWRITE_KINDS: [&str; 1] = ["Pod"];

impl DigestRules {
    /// Whether a resolved digest is written into an object of `kind`. The
    /// verdict does not depend on it: an image of a kind that is not
    /// rewritten is still resolved and judged as if it were (its Pods will
    /// be pinned when they are admitted).
    pub fn rewrites(&self, kind: Option<&str>) -> bool {
        let Some(kind) = kind else {
            return false;
        };
        match &self.rewrite_kinds {
            None => DEFAULT_REWRITE_KINDS.contains(&kind),
            Some(kinds) => kinds.contains(&kind),
        }
    }

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
    use crate::capabilities::{Capabilities, CapabilityError};
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
        DigestRules {
            require,
            resolve,
            rewrite_kinds: None,
        }
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
