//! One evaluation: from an admission request and a compiled [`Policy`] to a
//! [`Verdict`]. Which requests are checked (SPEC 3), then every image field,
//! then every rule for each distinct image.

use std::collections::BTreeMap;

use crate::capabilities::Capabilities;
use crate::mutate::Edit;
use crate::reference::Reference;
use crate::request::{AdmissionRequest, RequestError};
use crate::rules::image_metadata::MetadataRules;
use crate::rules::lookups::{Lookups, Resolution};
use crate::rules::signature::{Outcome, verify_name};
use crate::rules::{self, Action, RuleId};
use crate::settings::{Policy, ShortNames};
use crate::verdict::{Verdict, Violation};
use crate::workload::SiteKind;

/// Evaluates one request. Requests the policy does not cover (other
/// operations, kinds or subresources) are accepted with no violations.
pub fn evaluate(
    policy: &Policy,
    request: &AdmissionRequest<'_>,
    capabilities: &dyn Capabilities,
) -> Result<Verdict, RequestError> {
    let Some(location) = request.pod_spec_location()? else {
        return Ok(Verdict::default());
    };
    let sites = request.image_sites(&location)?;

    let mut verdict = Verdict::default();
    // AlwaysPullImages mutates Pods only; controllers are left alone.
    let enforce_always = policy.pull_policy.enforce_always && request.kind_name() == Some("Pod");
    // Digests are written only into the kinds `digests.rewriteKinds` names.
    let rewrite_digests = policy.digests.rewrites(request.kind_name());
    // Each distinct image is checked once, then reported at every site.
    let mut checked: Vec<Findings> = Vec::new();
    let mut index_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lookups = Lookups::new(capabilities);
    for site in sites.iter() {
        let Some(image) = site.image.as_deref() else {
            verdict.violations.push(Violation {
                path: site.path(&location),
                image: None,
                normalized: None,
                reason: rules::reference::missing(&site.owner()),
                rule: RuleId::Reference,
                action: policy.actions.get(RuleId::Reference),
            });
            continue;
        };
        let index = *index_of.entry(image).or_insert_with(|| {
            checked.push(check_image(policy, image, &mut lookups));
            checked.len() - 1
        });
        let findings = &checked[index];
        let violation = |path: String, rule: RuleId, reason: String| Violation {
            path,
            image: Some(image.to_owned()),
            normalized: findings.normalized(),
            reason,
            rule,
            action: policy.actions.get(rule),
        };
        for (rule, reason) in &findings.failed {
            verdict
                .violations
                .push(violation(site.path(&location), *rule, reason.clone()));
        }
        let Some(reference) = findings.reference.as_ref().filter(|_| !findings.exempt) else {
            continue;
        };
        if rewrite_digests && let Resolution::Pinned(pinned) = &findings.resolution {
            verdict.edits.push(Edit {
                pointer: site.image_pointer(&location),
                value: serde_json::Value::String(pinned.clone()),
            });
        }
        if policy.pull_policy.checks_anything()
            && let Some(reason) = policy.pull_policy.check(site, reference)
        {
            verdict.violations.push(violation(
                site.pull_policy_path(&location),
                RuleId::PullPolicy,
                reason,
            ));
        }
        if enforce_always
            && site.kind != SiteKind::ImageVolume
            && site.pull_policy.as_deref() != Some("Always")
        {
            verdict.edits.push(Edit {
                pointer: site.pull_policy_pointer(&location),
                value: serde_json::Value::String("Always".to_owned()),
            });
        }
    }
    Ok(verdict)
}

/// What the rules found for one image string.
struct Findings {
    /// The parsed reference, when the image parsed.
    reference: Option<Reference>,
    /// Matched by `exemptImages`: no rule applies.
    exempt: bool,
    /// Each failed rule with its reason.
    failed: Vec<(RuleId, String)>,
    /// What resolving its digest gave.
    resolution: Resolution,
}

impl Findings {
    /// The normalized form, when the image parsed.
    fn normalized(&self) -> Option<String> {
        self.reference.as_ref().map(ToString::to_string)
    }
}

/// Every per-image rule for one image string.
fn check_image(policy: &Policy, image: &str, lookups: &mut Lookups<'_>) -> Findings {
    let reference = match Reference::parse(image) {
        Ok(r) => r,
        Err(e) => {
            return Findings {
                reference: None,
                exempt: false,
                failed: vec![(RuleId::Reference, rules::reference::invalid(&e))],
                resolution: Resolution::NotAttempted,
            };
        }
    };
    let names = policy.aliases.names(reference.domain());
    let exempt = policy.exempt.iter().any(|p| p.matches(&names, &reference));
    let mut failed = Vec::new();
    let mut resolution = Resolution::NotAttempted;
    if !exempt {
        let check = |failed: &mut Vec<_>, rule: RuleId, reason: Option<String>| {
            if let Some(reason) = reason {
                failed.push((rule, reason));
            }
        };
        if policy.short_names == ShortNames::Reject {
            check(
                &mut failed,
                RuleId::ShortName,
                rules::short_name::check(&reference),
            );
        }
        check(
            &mut failed,
            RuleId::Source,
            policy.source.decide(&names, &reference),
        );
        check(&mut failed, RuleId::Tag, policy.tags.check(&reference));
        // An image the source rule denies is not looked up: the host does
        // not contact a registry the policy does not trust, and the request
        // is rejected anyway.
        let source_denies = policy.actions.get(RuleId::Source) == Action::Deny
            && failed.iter().any(|(rule, _)| *rule == RuleId::Source);
        let signature = if policy.signatures.is_active() && !source_denies {
            policy.signatures.check(&names, &reference, lookups)
        } else {
            Outcome::NotRequired
        };
        let signature_denies = policy.actions.get(RuleId::Signature) == Action::Deny
            && matches!(signature, Outcome::Failed(_));
        resolution = match &signature {
            // The verified digest is what runs: no second lookup that could
            // see the tag somewhere else.
            Outcome::Verified { digest } if policy.digests.pins(&reference) => {
                Resolution::Pinned(format!("{}@{digest}", verify_name(&reference)))
            }
            // Rejected for its signature: no more registry round trips.
            _ if signature_denies => Resolution::NotAttempted,
            _ => policy.digests.resolve(&reference, lookups),
        };
        check(
            &mut failed,
            RuleId::Digest,
            policy.digests.check(&reference, &resolution),
        );
        if let Outcome::Failed(reason) = signature {
            failed.push((RuleId::Signature, reason));
        }
        if policy.image_metadata.is_active() && !source_denies && !signature_denies {
            let lookup = MetadataRules::lookup_name(&reference, &resolution);
            if let Some(reason) = policy.image_metadata.check(&reference, &lookup, lookups) {
                failed.push((RuleId::ImageMetadata, reason));
            }
        }
    }
    drop(names);
    Findings {
        reference: Some(reference),
        exempt,
        failed,
        resolution,
    }
}
