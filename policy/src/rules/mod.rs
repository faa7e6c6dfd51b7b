//! The rules, one module per rule id (SPEC 2.9), and what a rule's
//! violation does (deny or warn).

pub mod digest;
pub mod image_metadata;
pub mod lookups;
pub mod pull_policy;
pub mod reference;
pub mod short_name;
pub mod signature;
pub mod source;
pub mod tag;

/// A rule id, printed as `[id]` after each violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// The image string must parse (and be present).
    Reference,
    /// `shortNames: reject`: the image must name its registry.
    ShortName,
    /// Trusted registries, repositories and images (SPEC 2.4).
    Source,
    /// Tag globs and regexes, explicit tags (SPEC 2.8).
    Tag,
    /// Digest pinning (SPEC 2.5).
    Digest,
    /// imagePullPolicy (SPEC 2.7).
    PullPolicy,
    /// Manifest annotations and config labels (SPEC 2.6).
    ImageMetadata,
    /// Sigstore signatures by the signers a scope names.
    Signature,
}

impl RuleId {
    /// Every rule id, in the order messages and settings list them.
    pub const ALL: [RuleId; 8] = [
        RuleId::Reference,
        RuleId::ShortName,
        RuleId::Source,
        RuleId::Tag,
        RuleId::Digest,
        RuleId::PullPolicy,
        RuleId::ImageMetadata,
        RuleId::Signature,
    ];

    /// The id as SPEC and the settings write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Reference => "reference",
            RuleId::ShortName => "shortName",
            RuleId::Source => "source",
            RuleId::Tag => "tag",
            RuleId::Digest => "digest",
            RuleId::PullPolicy => "pullPolicy",
            RuleId::ImageMetadata => "imageMetadata",
            RuleId::Signature => "signature",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a violation of a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Reject the request (the default).
    #[default]
    Deny,
    /// Accept, and return the violation as an admission warning.
    Warn,
}

/// The action of every rule.
#[derive(Debug, Clone, Default)]
pub struct Actions([Action; RuleId::ALL.len()]);

impl Actions {
    /// The action for `rule`.
    pub fn get(&self, rule: RuleId) -> Action {
        self.0[rule.index()]
    }

    /// Sets the action for `rule`.
    pub fn set(&mut self, rule: RuleId, action: Action) {
        self.0[rule.index()] = action;
    }
}
