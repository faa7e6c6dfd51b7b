#![allow(clippy::unwrap_used, clippy::expect_used)]

//! How the `signature` rule meets the other rules in one evaluation: which
//! images are verified, which are pinned to the verified digest, which host
//! calls are skipped. The case table (`testdata/cases/signature_*`) holds
//! the verdicts; these tests watch the host calls.

use std::cell::RefCell;

use imagegate_policy::capabilities::{Capabilities, CapabilityError};
use serde_json::{Value, json};

const TEAM: &str = include_str!("../../testdata/signatures/team.pub");
const VERIFIED: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const RESOLVED: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// Trusts every image under `ghcr.io/org/signed` at `VERIFIED`, resolves
/// every tag to `RESOLVED`, and records each call.
#[derive(Default)]
struct Host {
    calls: RefCell<Vec<String>>,
}

impl Capabilities for Host {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        self.calls
            .borrow_mut()
            .push(format!("manifest_digest {image}"));
        Ok(RESOLVED.to_owned())
    }
    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        self.calls
            .borrow_mut()
            .push(format!("oci_manifest {image}"));
        Ok(b"{}".to_vec())
    }
    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        Err(CapabilityError(format!("no config for {image}")))
    }
    fn verify(&self, request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        let request: Value = serde_json::from_slice(request).unwrap();
        let image = request["image"].as_str().unwrap();
        self.calls.borrow_mut().push(format!("verify {image}"));
        if image.starts_with("ghcr.io/org/signed") {
            Ok(json!({"is_trusted": true, "digest": VERIFIED})
                .to_string()
                .into_bytes())
        } else {
            Err(CapabilityError(format!(
                "no signatures found for image: {image} "
            )))
        }
    }
}

fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({"uid": "1", "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"},
           "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}}})
}

fn run(settings: Value, images: &[&str]) -> (imagegate_policy::ValidationResponse, Vec<String>) {
    let host = Host::default();
    let payload = json!({"request": pod(images), "settings": settings});
    let response = imagegate_policy::validate(&serde_json::to_vec(&payload).unwrap(), &host);
    (response, host.calls.take())
}

fn requirement() -> Value {
    json!([{"repository": "ghcr.io/org", "keys": [TEAM]}])
}

#[test]
fn the_verified_digest_is_pinned_without_a_second_lookup() {
    let (response, calls) = run(
        json!({"signatures": requirement(), "digests": {"resolve": "AttemptRewrite"}}),
        &["ghcr.io/org/signed/app:1", "quay.io/other/app:1"],
    );
    assert!(response.accepted, "{:?}", response.message);
    let mutated = response.mutated_object.expect("pinned");
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("ghcr.io/org/signed/app:1@{VERIFIED}")
    );
    // Outside every scope: resolved as usual.
    assert_eq!(
        mutated["spec"]["containers"][1]["image"],
        format!("quay.io/other/app:1@{RESOLVED}")
    );
    assert_eq!(
        calls,
        vec![
            "verify ghcr.io/org/signed/app:1",
            "manifest_digest quay.io/other/app:1"
        ]
    );
}

#[test]
fn without_resolve_nothing_is_pinned() {
    let (response, calls) = run(
        json!({"signatures": requirement()}),
        &["ghcr.io/org/signed/app:1"],
    );
    assert!(response.accepted);
    assert!(response.mutated_object.is_none());
    assert_eq!(calls, vec!["verify ghcr.io/org/signed/app:1"]);
}

#[test]
fn a_denied_signature_stops_further_lookups() {
    let (response, calls) = run(
        json!({"signatures": requirement(), "digests": {"resolve": "Required"},
               "imageMetadata": {"rejectAnnotations": {"a": "*"}}}),
        &["ghcr.io/org/unsigned:1"],
    );
    assert!(!response.accepted);
    assert_eq!(
        response.message.as_deref(),
        Some(
            "1 image violation: spec.containers[0].image \"ghcr.io/org/unsigned:1\": the image is not signed as signatures[0] requires (keys[0]): no signatures found for image: ghcr.io/org/unsigned:1 [signature]"
        )
    );
    assert_eq!(calls, vec!["verify ghcr.io/org/unsigned:1"]);
}

#[test]
fn in_warn_mode_a_failed_image_is_resolved_and_looked_up_as_usual() {
    let (response, calls) = run(
        json!({"signatures": requirement(), "digests": {"resolve": "AttemptRewrite"},
               "imageMetadata": {"rejectAnnotations": {"a": "*"}},
               "actions": {"signature": "warn"}}),
        &["ghcr.io/org/unsigned:1"],
    );
    assert!(response.accepted);
    assert_eq!(response.warnings.map(|w| w.len()), Some(1));
    assert_eq!(
        calls,
        vec![
            "verify ghcr.io/org/unsigned:1",
            "manifest_digest ghcr.io/org/unsigned:1",
            format!("oci_manifest ghcr.io/org/unsigned:1@{RESOLVED}").as_str(),
        ]
    );
}

#[test]
fn untrusted_and_exempt_images_are_not_verified() {
    let (response, calls) = run(
        json!({"signatures": requirement(), "registries": {"allow": ["quay.io"]},
               "exemptImages": ["ghcr.io/org/tools"]}),
        &["ghcr.io/org/app:1", "ghcr.io/org/tools:1"],
    );
    assert!(!response.accepted);
    assert!(response.message.unwrap().contains("[source]"));
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn the_most_specific_scope_decides_and_skip_exempts() {
    let settings = json!({"signatures": [
        {"registry": "ghcr.io", "keys": [TEAM]},
        {"repository": "ghcr.io/org/sandbox", "skip": true},
    ]});
    let (response, calls) = run(
        settings,
        &["ghcr.io/org/sandbox/app:1", "ghcr.io/org/app:1"],
    );
    assert!(!response.accepted);
    assert_eq!(calls, vec!["verify ghcr.io/org/app:1"]);
}
