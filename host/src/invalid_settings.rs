//! The error every command returns when the policy refuses the settings.
//!
//! Its own module, below both `commands` and `serve`: `serve` (reload)
//! and the commands both raise it, and `main` maps it to exit code 1, so
//! neither side has to import the other for it.

/// The policy rejected the settings (exit code 1, as `kwctl run`).
#[derive(Debug, thiserror::Error)]
#[error("provided settings are not valid{}", .0.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
pub struct InvalidSettings(pub Option<String>);
