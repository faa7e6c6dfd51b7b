//! Rule `pullPolicy` (SPEC 2.7): which `imagePullPolicy` each container (and
//! image volume) may use, and the AlwaysPullImages mutation.
//!
//! **What it checks:** `requireExplicit` wants the field written;
//! `allow` limits the effective policy (written, or the Kubernetes default:
//! `Always` for an unpinned image whose effective tag is `latest`, else
//! `IfNotPresent`); `alwaysForUnpinned` wants `Always` for every image without
//! a digest. `enforceAlways` is not a check but a mutation of Pods: every
//! container's policy becomes `Always`, as the AlwaysPullImages admission
//! controller does.
//!
//! **Why:** with `IfNotPresent`, a pod can start from an image another
//! tenant's credentials pulled onto the node, and a mutable tag can change
//! under a running workload. The API server fills in the default before
//! admission webhooks run, so `requireExplicit` matters for manifests checked
//! before they reach a cluster (`imagegate scan`, CI, `kwctl run`).

use crate::reference::Reference;
use crate::workload::{ImageSite, SiteKind};

/// A value of `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the node does not have the image.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// Every value, as Kubernetes spells them.
    pub const NAMES: [&'static str; 3] = ["Always", "IfNotPresent", "Never"];

    /// Reads a value as Kubernetes spells it (case-sensitive, as the API is).
    pub fn parse(text: &str) -> Option<PullPolicy> {
        match text {
            "Always" => Some(PullPolicy::Always),
            "IfNotPresent" => Some(PullPolicy::IfNotPresent),
            "Never" => Some(PullPolicy::Never),
            _ => None,
        }
    }

    /// The value as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }

    /// What the API server writes when the field is empty (SPEC 2.7):
    /// `Always` for an unpinned image whose effective tag is `latest`.
    pub fn default_for(image: Option<&Reference>) -> PullPolicy {
        match image {
            Some(r)
                if !r.is_pinned() && r.effective_tag() == Some(crate::reference::DEFAULT_TAG) =>
            {
                PullPolicy::Always
            }
            _ => PullPolicy::IfNotPresent,
        }
    }
}

/// The compiled `pullPolicy` settings.
#[derive(Debug, Clone, Default)]
pub struct PullPolicyRules {
    /// Every container must write `imagePullPolicy`.
    pub require_explicit: bool,
    /// The effective policy must be one of these (empty: any).
    pub allow: Vec<PullPolicy>,
    /// Unpinned images must be pulled `Always`.
    pub always_for_unpinned: bool,
    /// Mutate Pods: every container's policy becomes `Always`.
    pub enforce_always: bool,
}

impl PullPolicyRules {
    /// True when any check (not the mutation) is configured.
    pub fn checks_anything(&self) -> bool {
        self.require_explicit || !self.allow.is_empty() || self.always_for_unpinned
    }

    /// The reason a site's pull policy is refused, `None` when it is fine.
    pub fn check(&self, site: &ImageSite<'_>, image: &Reference) -> Option<String> {
        let field = field_name(site.kind);
        let default = PullPolicy::default_for(Some(image));
        let written = match site.pull_policy.as_deref() {
            None => None,
            Some(text) => match PullPolicy::parse(text) {
                Some(p) => Some(p),
                None => {
                    return Some(format!(
                        "{field} {} is not one of {}",
                        serde_json::Value::String(text.to_owned()),
                        PullPolicy::NAMES.join(", ")
                    ));
                }
            },
        };
        if self.require_explicit && written.is_none() {
            return Some(format!(
                "{} sets no {field} (the API server would default it to {}); set {field} explicitly",
                site.owner(),
                default.as_str()
            ));
        }
        let effective = written.unwrap_or(default);
        let described = match written {
            Some(p) => p.as_str().to_owned(),
            None => format!("{} (the default)", effective.as_str()),
        };
        if !self.allow.is_empty() && !self.allow.contains(&effective) {
            let allowed: Vec<&str> = self.allow.iter().map(|p| p.as_str()).collect();
            return Some(format!(
                "{field} {described} is not allowed (allowed: {})",
                allowed.join(", ")
            ));
        }
        if self.always_for_unpinned && !image.is_pinned() && effective != PullPolicy::Always {
            return Some(format!(
                "the image is not pinned to a digest, so {field} must be Always, not {described}"
            ));
        }
        None
    }
}

/// The pull-policy field of a site: `imagePullPolicy`, or `pullPolicy` for
/// image volumes.
pub fn field_name(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::ImageVolume => "pullPolicy",
        _ => "imagePullPolicy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn site(kind: SiteKind, pull_policy: Option<&'static str>) -> ImageSite<'static> {
        ImageSite {
            kind,
            index: 0,
            name: Some(Cow::Borrowed("app")),
            image: None,
            pull_policy: pull_policy.map(Cow::Borrowed),
        }
    }

    fn image(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const DIGEST: &str = "@sha256:4c0e8c5e4ffbb5c2d1b7d4a0c0bd7f0f9b27e9a3d2c1e0f9a8b7c6d5e4f3a2b1";

    #[test]
    fn kubernetes_default_follows_the_effective_tag() {
        assert_eq!(
            PullPolicy::default_for(Some(&image("nginx"))),
            PullPolicy::Always
        );
        assert_eq!(
            PullPolicy::default_for(Some(&image("nginx:latest"))),
            PullPolicy::Always
        );
        assert_eq!(
            PullPolicy::default_for(Some(&image("nginx:1.27"))),
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            PullPolicy::default_for(Some(&image(&format!("nginx{DIGEST}")))),
            PullPolicy::IfNotPresent
        );
        assert_eq!(PullPolicy::default_for(None), PullPolicy::IfNotPresent);
    }

    #[test]
    fn require_explicit_names_the_container_and_the_default() {
        let rules = PullPolicyRules {
            require_explicit: true,
            ..Default::default()
        };
        assert_eq!(
            rules.check(&site(SiteKind::InitContainer, None), &image("nginx")),
            Some(r#"init container "app" sets no imagePullPolicy (the API server would default it to Always); set imagePullPolicy explicitly"#.into())
        );
        assert_eq!(
            rules.check(&site(SiteKind::Container, Some("Never")), &image("nginx")),
            None
        );
        assert_eq!(
            rules.check(&site(SiteKind::ImageVolume, None), &image("models:1")),
            Some(r#"image volume "app" sets no pullPolicy (the API server would default it to IfNotPresent); set pullPolicy explicitly"#.into())
        );
    }

    #[test]
    fn allow_uses_the_effective_policy() {
        let rules = PullPolicyRules {
            allow: vec![PullPolicy::Always],
            ..Default::default()
        };
        assert_eq!(
            rules.check(&site(SiteKind::Container, None), &image("nginx")),
            None
        );
        assert_eq!(
            rules.check(&site(SiteKind::Container, None), &image("nginx:1.27")),
            Some(
                "imagePullPolicy IfNotPresent (the default) is not allowed (allowed: Always)"
                    .into()
            )
        );
        assert_eq!(
            rules.check(&site(SiteKind::Container, Some("Never")), &image("nginx")),
            Some("imagePullPolicy Never is not allowed (allowed: Always)".into())
        );
    }

    #[test]
    fn always_for_unpinned() {
        let rules = PullPolicyRules {
            always_for_unpinned: true,
            ..Default::default()
        };
        assert_eq!(
            rules.check(&site(SiteKind::Container, Some("IfNotPresent")), &image("nginx:1.27")),
            Some("the image is not pinned to a digest, so imagePullPolicy must be Always, not IfNotPresent".into())
        );
        assert_eq!(
            rules.check(
                &site(SiteKind::Container, Some("IfNotPresent")),
                &image(&format!("nginx{DIGEST}"))
            ),
            None
        );
        assert_eq!(
            rules.check(
                &site(SiteKind::Container, Some("Always")),
                &image("nginx:1.27")
            ),
            None
        );
    }

    #[test]
    fn values_outside_the_api_are_violations() {
        let rules = PullPolicyRules {
            allow: vec![PullPolicy::Always],
            ..Default::default()
        };
        assert_eq!(
            rules.check(&site(SiteKind::Container, Some("always")), &image("nginx")),
            Some(r#"imagePullPolicy "always" is not one of Always, IfNotPresent, Never"#.into())
        );
    }
}
