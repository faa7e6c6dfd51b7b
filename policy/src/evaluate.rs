//! One evaluation: from an admission request and a compiled [`Policy`] to a
//! [`Verdict`]. Which requests are checked (SPEC 3), then every image field,
//! then every rule for each distinct image.

use crate::capabilities::Capabilities;
use crate::reference::Reference;
use crate::request::{AdmissionRequest, RequestError};
use crate::rules::{self, RuleId};
use crate::settings::{Policy, ShortNames};
use crate::verdict::{Verdict, Violation};

/// Evaluates one request. Requests the policy does not cover (other
/// operations, kinds or subresources) are accepted with no violations.
pub fn evaluate(
    policy: &Policy,
    request: &AdmissionRequest<'_>,
    _capabilities: &dyn Capabilities,
) -> Result<Verdict, RequestError> {
    let Some(location) = request.pod_spec_location()? else {
        return Ok(Verdict::default());
    };
    let sites = request.image_sites(&location)?;

    let mut verdict = Verdict::default();
    // Each distinct image is checked once, then reported at every site.
    let mut checked: Vec<(&str, Findings)> = Vec::new();
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
        let index = match checked.iter().position(|(i, _)| *i == image) {
            Some(index) => index,
            None => {
                checked.push((image, check_image(policy, image)));
                checked.len() - 1
            }
        };
        let findings = &checked[index].1;
        for (rule, reason) in &findings.failed {
            verdict.violations.push(Violation {
                path: site.path(&location),
                image: Some(image.to_owned()),
                normalized: findings.normalized.clone(),
                reason: reason.clone(),
                rule: *rule,
                action: policy.actions.get(*rule),
            });
        }
    }
    Ok(verdict)
}

/// What the rules found for one image string.
struct Findings {
    /// The normalized form, when the image parsed.
    normalized: Option<String>,
    /// Each failed rule with its reason.
    failed: Vec<(RuleId, String)>,
}

/// Every rule for one image string.
fn check_image(policy: &Policy, image: &str) -> Findings {
    let reference = match Reference::parse(image) {
        Ok(r) => r,
        Err(e) => {
            return Findings {
                normalized: None,
                failed: vec![(RuleId::Reference, rules::reference::invalid(&e))],
            };
        }
    };
    let names = policy.aliases.names(reference.domain());
    let mut failed = Vec::new();
    if !policy.exempt.iter().any(|p| p.matches(&names, &reference)) {
        let mut check = |rule: RuleId, reason: Option<String>| {
            if let Some(reason) = reason {
                failed.push((rule, reason));
            }
        };
        if policy.short_names == ShortNames::Reject {
            check(RuleId::ShortName, rules::short_name::check(&reference));
        }
        check(RuleId::Source, policy.source.decide(&names, &reference));
        check(RuleId::Tag, policy.tags.check(&reference));
        if policy.digests.require {
            check(RuleId::Digest, rules::digest::check_required(&reference));
        }
    }
    Findings {
        normalized: Some(reference.to_string()),
        failed,
    }
}
