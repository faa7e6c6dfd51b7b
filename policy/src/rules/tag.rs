//! Rule `tag` (SPEC 2.8): which tags unpinned images may carry.
//!
//! **What it checks:** the effective tag (written, or `latest`) of an image
//! without a digest must match `tags.allow`/`tags.allowRegex` when either is
//! non-empty, and must match no `tags.reject`/`tags.rejectRegex` entry;
//! `tags.requireExplicit` asks for a written tag. Pinned images are exempt:
//! the runtime ignores their tag.
//!
//! **Which bypass it closes:** a digest-only image is not `latest` (the peer
//! policy treats it so), and an image with no tag is `latest`, not tag-less.

use crate::matcher::tag::TagPattern;
use crate::reference::Reference;

/// One tag entry with where it came from.
#[derive(Debug, Clone)]
pub struct TagEntry {
    /// The compiled pattern.
    pub pattern: TagPattern,
    /// The entry as written.
    pub text: String,
}

/// The compiled `tags` settings.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    /// `tags.allow` and `tags.allowRegex`.
    pub allow: Vec<TagEntry>,
    /// `tags.reject` and `tags.rejectRegex`.
    pub reject: Vec<TagEntry>,
    /// `tags.requireExplicit`.
    pub require_explicit: bool,
}

impl TagRules {
    /// The reasons an image's tag is refused (empty when it is fine).
    pub fn check(&self, image: &Reference) -> Option<String> {
        if image.is_pinned() {
            return None;
        }
        let tag = image.effective_tag()?;
        // With no tag written, "tag latest is rejected" reads as if the
        // user wrote `latest`: say where the tag came from first.
        let implied = if image.tag().is_none() {
            format!("no tag was written, so the runtime pulls {tag}; ")
        } else {
            String::new()
        };
        if self.require_explicit && image.tag().is_none() {
            return Some(format!("{implied}write a tag or a digest"));
        }
        if let Some(entry) = self.reject.iter().find(|e| e.pattern.matches(tag)) {
            return Some(if entry.pattern.is_literal() {
                format!("{implied}tag {tag} is rejected")
            } else {
                format!(
                    "{implied}tag {tag} is rejected (matches {})",
                    serde_json::Value::String(entry.text.clone())
                )
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|e| e.pattern.matches(tag)) {
            let allowed: Vec<String> = self
                .allow
                .iter()
                .map(|e| serde_json::Value::String(e.text.clone()).to_string())
                .collect();
            return Some(format!(
                "{implied}tag {tag} is not allowed (allowed: {})",
                allowed.join(", ")
            ));
        }
        None
    }
}
