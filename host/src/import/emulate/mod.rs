//! The incumbents' own semantics, small and exact, for `import --images` /
//! `--scan`: one module per incumbent, each evaluating an image string as
//! the incumbent does (the sources are named in each module), so that the
//! images whose verdict changes can be listed with the reason.
//!
//! Offline by design: nothing here contacts a registry, so rules that need
//! one (OpenShift's image annotations and labels, policy.json's signature
//! requirements) are left to the imagegate side's own report.

pub mod gatekeeper;
pub mod openshift;
pub mod policy_json;
pub mod trusted_repos;

use serde_json::Value;

use super::{ReposMatch, SourceKind};

/// The old policy's verdict on one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldVerdict {
    /// Admitted.
    pub allowed: bool,
    /// Why, in the old policy's terms.
    pub why: String,
    /// When the old policy decided by one of its quirks, the reason id of the
    /// difference that quirk is (e.g. `prefix-boundary`); else `None`.
    pub quirk: Option<&'static str>,
}

impl OldVerdict {
    pub(crate) fn allow(why: impl Into<String>, quirk: Option<&'static str>) -> OldVerdict {
        OldVerdict {
            allowed: true,
            why: why.into(),
            quirk,
        }
    }

    pub(crate) fn deny(why: impl Into<String>, quirk: Option<&'static str>) -> OldVerdict {
        OldVerdict {
            allowed: false,
            why: why.into(),
            quirk,
        }
    }
}

/// Evaluates `image` as the source policy would.
pub fn evaluate(
    kind: SourceKind,
    documents: &[Value],
    mode: ReposMatch,
    image: &str,
) -> OldVerdict {
    match kind {
        SourceKind::Gatekeeper => gatekeeper::evaluate(documents, mode, image),
        SourceKind::TrustedRepos => {
            trusted_repos::evaluate(documents.first().unwrap_or(&Value::Null), image)
        }
        SourceKind::Openshift => openshift::evaluate(documents, image),
        SourceKind::PolicyJson => {
            policy_json::evaluate(documents.first().unwrap_or(&Value::Null), image)
        }
    }
}

/// A list of strings at a JSON pointer.
pub(crate) fn string_list(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
