//! Bounded work on hostile sizes: requests up to the API server's limit
//! (about 3 MiB), settings with thousands of entries, very long strings and
//! very deep JSON all get an answer, and the answer is the right one.
//!
//! No timing assertions: the tests check counts (violations, host lookups),
//! outcomes and that each evaluation ends. The paths they drive are the ones
//! that could turn quadratic (the per-request distinct-image cache, the
//! per-request digest lookups, the source index, glob matching), so a
//! regression shows as a test that takes minutes instead of seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::fmt::Write as _;

use imagegate_policy::capabilities::{Capabilities, CapabilityError, Offline};
use imagegate_policy::{ValidationResponse, validate, validate_settings};
use serde_json::{Value, json};

/// The API server's default request size limit (`--max-request-bytes` is
/// 3 MiB for etcd; the apiserver refuses larger bodies).
const API_SERVER_LIMIT: usize = 3 * 1024 * 1024;

fn payload(settings: &Value, object: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "settings": settings,
        "request": {"uid": "big", "operation": "CREATE", "kind": {"kind": "Pod"}, "object": object},
    }))
    .unwrap()
}

/// A Pod of `count` containers, container `i` running `image(i)`, padded with
/// a long name so the request reaches `API_SERVER_LIMIT`.
fn big_pod(count: usize, image: impl Fn(usize) -> String) -> Value {
    let containers: Vec<Value> = (0..count)
        .map(|i| json!({"name": format!("c{i}-{}", "x".repeat(40)), "image": image(i)}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"}, "spec": {"containers": containers}})
}

/// The number a rejection message starts with (`N image violations: ...`).
fn violations(response: &ValidationResponse) -> usize {
    let message = response.message.as_deref().unwrap_or_default();
    message
        .split_once(" image violation")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("not a violations message: {:.200}", message))
}

/// `registries.allow` with many literal and wildcard entries, and long
/// repository and image lists, none of which match `*.corp.example` images
/// except the one wildcard entry.
fn large_settings() -> Value {
    let registries: Vec<String> = (0..2000)
        .map(|i| format!("registry-{i}.example.net"))
        .chain((0..20).map(|i| format!("*.zone-{i}.example.org")))
        .chain(["*.corp.example".to_owned()])
        .collect();
    let repositories: Vec<String> = (0..2000).map(|i| format!("ghcr.io/org-{i}/team")).collect();
    let images: Vec<String> = (0..2000).map(|i| format!("busybox:1.{i}")).collect();
    json!({
        "registries": {"allow": registries},
        "repositories": {"allow": repositories, "reject": ["*.corp.example/blocked"]},
        "images": {"allow": images},
        "tags": {"reject": ["latest", "*-SNAPSHOT"], "allowRegex": ["v?\\d+(\\.\\d+)*"]},
    })
}

#[test]
fn three_mib_of_distinct_images_against_large_settings() {
    const COUNT: usize = 30_000;
    let object = big_pod(COUNT, |i| {
        format!("registry.corp.example/team-{i}/app-{i}:v{}.{}", i % 97, i)
    });
    let settings = large_settings();
    let bytes = payload(&settings, &object);
    assert!(bytes.len() >= API_SERVER_LIMIT, "{} bytes", bytes.len());
    let response = validate(&bytes, &Offline);
    assert!(
        response.accepted,
        "{:.300}",
        response.message.unwrap_or_default()
    );

    // The same images, every one rejected by the repository reject: one
    // violation per container, all reported.
    let object = big_pod(COUNT, |i| {
        format!("registry.corp.example/blocked/app-{i}:v{i}")
    });
    let response = validate(&payload(&settings, &object), &Offline);
    assert!(!response.accepted);
    assert_eq!(violations(&response), COUNT);
}

#[test]
fn three_mib_of_one_image_repeated() {
    const COUNT: usize = 40_000;
    let object = big_pod(COUNT, |_| "evil.io/miner:1".to_owned());
    let bytes = payload(&json!({"registries": {"allow": ["ghcr.io"]}}), &object);
    assert!(bytes.len() >= API_SERVER_LIMIT, "{} bytes", bytes.len());
    let response = validate(&bytes, &Offline);
    assert_eq!(violations(&response), COUNT);
}

/// Answers every lookup with one digest and counts the calls.
struct Counting {
    calls: Cell<usize>,
}

impl Capabilities for Counting {
    fn manifest_digest(&self, _image: &str) -> Result<String, CapabilityError> {
        self.calls.set(self.calls.get() + 1);
        Ok(format!("sha256:{}", "c".repeat(64)))
    }

    fn oci_manifest(&self, _image: &str) -> Result<Vec<u8>, CapabilityError> {
        self.calls.set(self.calls.get() + 1);
        Ok(br#"{"schemaVersion":2,"config":{},"layers":[],"annotations":{"a":"b"}}"#.to_vec())
    }

    fn oci_manifest_config(&self, _image: &str) -> Result<Vec<u8>, CapabilityError> {
        self.calls.set(self.calls.get() + 1);
        Ok(br#"{"manifest":{},"digest":"","config":{"config":{"Labels":{"team":"a"}}}}"#.to_vec())
    }

    fn verify(&self, _request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        self.calls.set(self.calls.get() + 1);
        Ok(format!(
            r#"{{"is_trusted":true,"digest":"sha256:{}"}}"#,
            "c".repeat(64)
        )
        .into_bytes())
    }
}

#[test]
fn thousands_of_signature_scopes_and_images_stay_linear() {
    const DISTINCT: usize = 17_000;
    const SCOPES: usize = 5_000;
    let key = include_str!("../../testdata/signatures/team.pub");
    // 5,000 requirements on 5,000 registries, one of them for the images'
    // repository, and every image twice: each distinct image is verified
    // once, through the one requirement on its registry.
    let mut requirements: Vec<Value> = (0..SCOPES)
        .map(|i| json!({"repository": format!("registry-{i}.example.net/team"), "keys": [key]}))
        .collect();
    requirements.push(json!({"repository": "ghcr.io/org", "keys": [key], "threshold": 1}));
    let settings = json!({"signatures": requirements, "digests": {"resolve": "AttemptRewrite"}});
    assert!(validate_settings(&serde_json::to_vec(&settings).unwrap()).valid);
    let object = big_pod(2 * DISTINCT, |i| {
        format!("ghcr.io/org/app-{}:v1", i % DISTINCT)
    });
    let bytes = payload(&settings, &object);
    assert!(bytes.len() >= API_SERVER_LIMIT, "{} bytes", bytes.len());
    let host = Counting {
        calls: Cell::new(0),
    };
    let response = validate(&bytes, &host);
    assert!(response.accepted, "{:?}", response.message);
    // One verification per distinct image, and no digest lookup besides.
    assert_eq!(host.calls.get(), DISTINCT);
    // Thousands of duplicate scopes are all named.
    let duplicated: Vec<Value> = (0..2 * SCOPES)
        .map(|i| json!({"registry": format!("r{}.example.net", i % SCOPES), "skip": true}))
        .collect();
    let check = validate_settings(&serde_json::to_vec(&json!({"signatures": duplicated})).unwrap());
    assert!(
        check
            .message
            .unwrap()
            .starts_with(&format!("{SCOPES} settings problems: "))
    );
}

#[test]
fn each_distinct_image_is_resolved_once_in_a_large_request() {
    const DISTINCT: usize = 17_000;
    // Each image twice: 34,000 containers, 17,000 lookups.
    let object = big_pod(2 * DISTINCT, |i| {
        format!("ghcr.io/org/app-{}:v1", i % DISTINCT)
    });
    let settings = json!({"digests": {"resolve": "AttemptRewrite"}});
    let bytes = payload(&settings, &object);
    assert!(bytes.len() >= API_SERVER_LIMIT, "{} bytes", bytes.len());
    let host = Counting {
        calls: Cell::new(0),
    };
    let response = validate(&bytes, &host);
    assert!(response.accepted, "{:?}", response.message);
    assert_eq!(host.calls.get(), DISTINCT);
    let mutated = response.mutated_object.expect("a mutated object");
    let pinned = mutated["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["image"].as_str().is_some_and(|i| i.contains("@sha256:")))
        .count();
    assert_eq!(pinned, 2 * DISTINCT);
}

#[test]
fn each_distinct_image_metadata_is_read_once_in_a_large_request() {
    const DISTINCT: usize = 17_000;
    let object = big_pod(2 * DISTINCT, |i| {
        format!("ghcr.io/org/app-{}:v1", i % DISTINCT)
    });
    let settings = json!({"imageMetadata": {
        "rejectAnnotations": {"images.openshift.io/deny-execution": "true"},
        "requireLabels": {"team": "*"}
    }});
    let bytes = payload(&settings, &object);
    let host = Counting {
        calls: Cell::new(0),
    };
    let response = validate(&bytes, &host);
    assert!(response.accepted, "{:?}", response.message);
    // One manifest and one configuration per distinct image.
    assert_eq!(host.calls.get(), 2 * DISTINCT);
}

#[test]
fn settings_with_thousands_of_entries_compile_and_decide() {
    let mut settings = large_settings();
    let many_aliases: Vec<Value> = (0..1000)
        .map(|i| {
            json!([
                format!("mirror-{i}.example.net"),
                format!("mirror-{i}.example.net:8443")
            ])
        })
        .collect();
    settings["registryAliases"] = Value::Array(many_aliases);
    settings["exemptImages"] = json!(
        (0..2000)
            .map(|i| format!("ghcr.io/exempt/app-{i}"))
            .collect::<Vec<_>>()
    );
    let text = settings.to_string();
    assert!(validate_settings(text.as_bytes()).valid);

    let decide = |image: &str| {
        validate(
            &payload(&settings, &big_pod(1, |_| image.to_owned())),
            &Offline,
        )
    };
    assert!(decide("registry-1999.example.net/a/b:v1").accepted);
    assert!(decide("a.zone-19.example.org/a/b:v1").accepted);
    assert!(decide("ghcr.io/org-1999/team/app:v2").accepted);
    assert!(decide("ghcr.io/exempt/app-1999:latest").accepted);
    assert!(decide("busybox:1.1999").accepted);
    assert!(!decide("busybox:1.2000").accepted);
    assert!(!decide("registry-2000.example.net/a/b:v1").accepted);
    assert!(!decide("ghcr.io/org-2000/team/app:v2").accepted);
}

#[test]
fn unreachable_allow_entries_are_found_among_thousands() {
    // The check for allow entries a registry entry makes unreachable looks
    // at registry entries against repository entries, which must not be a
    // product of the two lists: 10,000 of each, plus 10,000 rejects.
    const N: usize = 10_000;
    let registries: Vec<String> = (0..N)
        .map(|i| format!("registry-{i}.example.net"))
        .collect();
    let repositories: Vec<String> = (0..N)
        .map(|i| format!("repos-{i}.example.org/team"))
        .collect();
    let rejects: Vec<String> = (0..N)
        .map(|i| format!("repos-{i}.example.org/team/old"))
        .collect();
    let mut settings = json!({
        "registries": {"allow": registries},
        "repositories": {"allow": repositories, "reject": rejects},
    });
    assert!(validate_settings(settings.to_string().as_bytes()).valid);
    // One repository on an allowed registry with no reject on its registry:
    // found, and named.
    settings["repositories"]["allow"]
        .as_array_mut()
        .unwrap()
        .push(json!("registry-9999.example.net/team"));
    let response = validate_settings(settings.to_string().as_bytes());
    assert!(!response.valid);
    let message = response.message.unwrap();
    assert!(
        message.contains("registries.allow[9999]") && message.contains("repositories.allow[10000]"),
        "{message:.300}"
    );
}

#[test]
fn settings_problems_are_all_reported_however_many() {
    // 5,000 bad entries and 5,000 unknown keys: every one named, once.
    let bad: Vec<String> = (0..5000)
        .map(|i| format!("https://bad-{i}.example"))
        .collect();
    let mut settings = json!({"registries": {"allow": bad}});
    for i in 0..5000 {
        settings[format!("unknown{i}")] = json!(true);
    }
    let response = validate_settings(settings.to_string().as_bytes());
    assert!(!response.valid);
    let message = response.message.unwrap();
    assert!(
        message.starts_with("10000 settings problems: "),
        "{:.100}",
        message
    );
}

#[test]
fn very_long_strings_are_answered() {
    let megabyte = 1024 * 1024;
    let settings = json!({"registries": {"allow": ["ghcr.io", "*.example.*.com"]}, "tags": {"reject": ["*a*a*a*a*b"]}});
    for image in [
        // A host of one long label (the grammar has no length limit there).
        format!("{}.io/app:1", "a".repeat(megabyte)),
        // A path over the 255-character limit, a tag over 128.
        format!("ghcr.io/{}:1", "a".repeat(megabyte)),
        format!("ghcr.io/app:{}", "a".repeat(megabyte)),
        // Glob backtracking against a long host.
        format!(
            "{}.example.{}.net/app:1",
            "a".repeat(megabyte / 2),
            "a".repeat(megabyte / 2)
        ),
        // Nothing but separators.
        "/".repeat(megabyte),
        ":".repeat(megabyte),
        "@".repeat(megabyte),
    ] {
        let response = validate(
            &payload(&settings, &big_pod(1, |_| image.clone())),
            &Offline,
        );
        assert!(!response.accepted);
        assert_eq!(violations(&response), 1, "{:.80}", image);
    }
    // A tag just at the limit, on a trusted registry, matched by a glob
    // that backtracks: answered, and rejected by the glob.
    let tag = format!("{}b", "a".repeat(127));
    let response = validate(
        &payload(&settings, &big_pod(1, |_| format!("ghcr.io/app:{tag}"))),
        &Offline,
    );
    assert_eq!(violations(&response), 1);
}

/// `[[[...]]]` nested `depth` deep.
fn nested(depth: usize) -> String {
    let mut s = String::with_capacity(2 * depth);
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s
}

fn raw_payload(settings: &str, object: &str) -> Vec<u8> {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"{{"settings": {settings}, "request": {{"uid": "deep", "operation": "CREATE", "kind": {{"kind": "Pod"}}, "object": {object}}}}}"#
    );
    s.into_bytes()
}

#[test]
fn deep_json_outside_the_pod_spec_is_skipped_without_recursion() {
    // 100,000 levels in fields the policy does not read: skipped
    // iteratively, the images are still checked.
    let deep = nested(100_000);
    let object = format!(
        r#"{{"metadata": {{"annotations": {{}}, "x": {deep}}}, "spec": {{"containers": [{{"name": "a", "image": "evil.io/x:1", "args": {deep}}}], "affinity": {deep}}}}}"#
    );
    let response = validate(
        &raw_payload(r#"{"registries": {"allow": ["ghcr.io"]}}"#, &object),
        &Offline,
    );
    assert_eq!(violations(&response), 1);
    let response = validate(&raw_payload("{}", &object), &Offline);
    assert!(response.accepted, "{:?}", response.message);
}

#[test]
fn too_deep_json_where_it_is_read_is_a_clear_rejection() {
    let deep = nested(100_000);
    // Where an image belongs: the wrong type, named with its path.
    let object = format!(r#"{{"spec": {{"containers": [{{"name": "a", "image": {deep}}}]}}}}"#);
    let response = validate(&raw_payload("{}", &object), &Offline);
    assert!(!response.accepted);
    assert_eq!(
        response.message.as_deref(),
        Some("invalid Pod: spec.containers[0].image: expected a string, found a list")
    );

    // Settings too deep for the JSON reader (serde_json stops at 128
    // levels): invalid settings, saying so.
    let settings = format!(r#"{{"tags": {{"reject": {}}}}}"#, nested(1000));
    let object = r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/a:1"}]}}"#;
    let response = validate(&raw_payload(&settings, object), &Offline);
    assert!(!response.accepted);
    let message = response.message.unwrap();
    assert!(
        message.starts_with("invalid settings: 1 settings problem: settings are not valid JSON: recursion limit exceeded"),
        "{message}"
    );
    assert!(!validate_settings(settings.as_bytes()).valid);

    // A mutation reads the whole object: a too-deep object cannot be
    // mutated, and the request is refused with the reason rather than
    // admitted unmutated.
    let object = format!(
        r#"{{"metadata": {{"x": {}}}, "spec": {{"containers": [{{"name": "a", "image": "ghcr.io/a:1"}}]}}}}"#,
        nested(1000)
    );
    let response = validate(
        &raw_payload(r#"{"pullPolicy": {"enforceAlways": true}}"#, &object),
        &Offline,
    );
    assert!(!response.accepted);
    let message = response.message.unwrap();
    assert!(
        message.starts_with("invalid request: cannot mutate the object: recursion limit exceeded"),
        "{message}"
    );
}
