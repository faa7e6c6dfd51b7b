//! Rule `shortName` (`shortNames: reject`): the image must name its registry.
//!
//! **Why:** containerd reads `nginx` as `docker.io/library/nginx`, but CRI-O
//! resolves short names through `registries.conf` search lists, so the same
//! string may be pulled from another registry than the policy assumed.

use crate::reference::Reference;

/// The reason when `image` names no registry, `None` otherwise.
pub fn check(image: &Reference) -> Option<String> {
    (!image.names_registry())
        .then(|| format!("the image names no registry; write it in full, e.g. \"{image}\""))
}
