//! Rule `digest` (SPEC 2.5): `digests.require` rejects unpinned images.
//! Tag-to-digest resolution through the host comes with the OCI host
//! capabilities.

use crate::reference::Reference;

/// The reason when pinning is required and `image` has no digest.
pub fn check_required(image: &Reference) -> Option<String> {
    (!image.is_pinned()).then(|| {
        "the image is not pinned to a digest; write it as name:tag@sha256:<digest>".to_owned()
    })
}
