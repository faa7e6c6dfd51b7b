//! One evaluation: from an admission request and a compiled [`Policy`] to a
//! [`Verdict`]. Which requests are checked (SPEC 3), then every image field,
//! then every rule for each distinct image.

use std::fmt;

use crate::capabilities::Capabilities;
use crate::json::{JsonType, ShapeError};
use crate::reference::Reference;
use crate::request::AdmissionRequest;
use crate::rules::{self, RuleId};
use crate::settings::{Policy, ShortNames};
use crate::verdict::{Verdict, Violation};
use crate::workload;

/// A request the policy cannot evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// A field the policy needs is missing.
    Missing(&'static str),
    /// The object (of the kind named) has the wrong shape.
    Shape(String, ShapeError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Missing(field) => write!(f, "invalid request: {field} is missing"),
            RequestError::Shape(kind, e) => write!(f, "invalid {kind}: {e}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Evaluates one request. Requests the policy does not cover (other
/// operations, kinds or subresources) are accepted with no violations.
pub fn evaluate(
    policy: &Policy,
    request: &AdmissionRequest<'_>,
    _capabilities: &dyn Capabilities,
) -> Result<Verdict, RequestError> {
    let operation = request
        .operation
        .as_deref()
        .ok_or(RequestError::Missing("request.operation"))?;
    if operation != "CREATE" && operation != "UPDATE" {
        return Ok(Verdict::default());
    }
    match request.sub_resource.as_deref() {
        None | Some("") | Some("ephemeralcontainers") => {}
        Some(_) => return Ok(Verdict::default()),
    }
    let kind = request
        .kind
        .as_ref()
        .and_then(|k| k.kind.as_deref())
        .ok_or(RequestError::Missing("request.kind.kind"))?;
    let Some(location) = workload::pod_spec_location(kind) else {
        return Ok(Verdict::default());
    };
    let object = request
        .object
        .filter(|o| JsonType::of(o) != JsonType::Null)
        .ok_or(RequestError::Missing("request.object"))?;
    let sites = workload::image_sites(object, location)
        .map_err(|e| RequestError::Shape(kind.to_owned(), e))?;

    let mut verdict = Verdict::default();
    // Each distinct image is checked once, then reported at every site.
    let mut checked: Vec<(&str, Findings)> = Vec::new();
    for site in &sites {
        let Some(image) = site.image.as_deref() else {
            verdict.violations.push(Violation {
                path: site.path.clone(),
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
                path: site.path.clone(),
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
