//! Settings: read as written (`raw`), then compiled once into a [`Policy`]
//! (`compile`) that holds parsed patterns ready to match.
//!
//! Kubewarden sends the settings with every request and policy-server runs
//! every request in a fresh instance, so compiling must be cheap: no regex
//! unless the user wrote one, no global tables. Hosts that reuse an instance
//! also get [`compile_cached`], which keeps the last compiled settings keyed
//! by their bytes.

mod compile;
mod pasted;
mod raw;
mod reachability;
mod signatures;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::matcher::image::ImagePattern;
use crate::matcher::registry::Aliases;
use crate::rules::Actions;
use crate::rules::digest::DigestRules;
use crate::rules::image_metadata::MetadataRules;
use crate::rules::pull_policy::PullPolicyRules;
use crate::rules::signature::SignatureRules;
use crate::rules::source::SourceRules;
use crate::rules::tag::TagRules;

pub use compile::compile;

/// One problem in the settings, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    /// Key path, e.g. `registries.allow[1]`; empty for the top level.
    pub path: String,
    /// The offending entry as written, when there is one.
    pub entry: Option<String>,
    /// What is wrong, and how to fix it where we can tell.
    pub problem: String,
}

impl fmt::Display for SettingsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            f.write_str(&self.path)?;
            if let Some(entry) = &self.entry {
                write!(f, " {}", serde_json::Value::String(entry.clone()))?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.problem)
    }
}

/// Every problem found in a settings object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The problems, in the order the settings were read.
    pub problems: Vec<SettingsProblem>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "{n} settings problem{}: ", if n == 1 { "" } else { "s" })?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

/// `shortNames`: what to do with images that name no registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortNames {
    /// Docker Hub is implied, as containerd does (the default).
    #[default]
    Allow,
    /// The image must name its registry (CRI-O may resolve short names elsewhere).
    Reject,
}

/// Compiled settings: everything the rules need, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) source: SourceRules,
    pub(crate) aliases: Aliases,
    pub(crate) short_names: ShortNames,
    pub(crate) tags: TagRules,
    pub(crate) digests: DigestRules,
    pub(crate) pull_policy: PullPolicyRules,
    pub(crate) image_metadata: MetadataRules,
    pub(crate) signatures: SignatureRules,
    pub(crate) exempt: Vec<ImagePattern>,
    pub(crate) actions: Actions,
}

impl Policy {
    /// Whether these settings can change an object (`pullPolicy.enforceAlways`,
    /// `digests.resolve` other than `Never`): such settings need a mutating
    /// webhook (`mutating: true` in Kubewarden); any other settings only
    /// judge, and a validating webhook is the one place to run them.
    pub fn mutates(&self) -> bool {
        self.pull_policy.enforce_always
            || self.digests.resolve != crate::rules::digest::Resolve::Never
    }
}

thread_local! {
    /// The last settings compiled in this instance, keyed by their bytes.
    static LAST: RefCell<Option<(Vec<u8>, Rc<Policy>)>> = const { RefCell::new(None) };
}

/// Compiles settings from their JSON bytes, reusing the last compiled policy
/// when the bytes are the same.
pub fn compile_cached(bytes: &[u8]) -> Result<Rc<Policy>, SettingsError> {
    if let Some(hit) = LAST.with_borrow(|last| match last {
        Some((key, policy)) if same_bytes(key, bytes) => Some(Rc::clone(policy)),
        _ => None,
    }) {
        return Ok(hit);
    }
    let policy = Rc::new(compile_bytes(bytes)?);
    LAST.set(Some((bytes.to_vec(), Rc::clone(&policy))));
    Ok(policy)
}

/// `a == b`, eight bytes at a time: in wasm, `[u8]`'s equality is a
/// byte-by-byte `memcmp`, and this check runs on every `validate`.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let word = |chunk: &[u8]| chunk.try_into().map(u64::from_ne_bytes).unwrap_or_default();
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    a.len() == b.len()
        && a_words.remainder() == b_words.remainder()
        && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
}

/// Compiles settings from JSON bytes (a JSON object, or `null` for none).
pub fn compile_bytes(bytes: &[u8]) -> Result<Policy, SettingsError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| SettingsError {
        problems: vec![SettingsProblem {
            path: String::new(),
            entry: None,
            problem: format!("settings are not valid JSON: {e}"),
        }],
    })?;
    compile(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_is_slice_equality() {
        let long = b"{\"registries\": {\"allow\": [\"ghcr.io\"]}}".to_vec();
        for len in 0..long.len() {
            let a = &long[..len];
            assert!(same_bytes(a, a));
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a, &b), "differs at {at} of {len}");
            }
            assert!(!same_bytes(a, &long[..len + 1]));
        }
    }

    #[test]
    fn settings_mutate_when_they_force_always_or_resolve_digests() {
        let mutates = |json: &str| compile_bytes(json.as_bytes()).map(|p| p.mutates());
        for judging in [
            "{}",
            r#"{"registries": {"allow": ["ghcr.io"]}, "digests": {"require": true}}"#,
            r#"{"digests": {"resolve": "Never"}, "pullPolicy": {"enforceAlways": false, "alwaysForUnpinned": true}}"#,
        ] {
            assert_eq!(mutates(judging), Ok(false), "{judging}");
        }
        for mutating in [
            r#"{"pullPolicy": {"enforceAlways": true}}"#,
            r#"{"digests": {"resolve": "AttemptRewrite"}}"#,
            r#"{"digests": {"resolve": "Required"}}"#,
        ] {
            assert_eq!(mutates(mutating), Ok(true), "{mutating}");
        }
    }
}
