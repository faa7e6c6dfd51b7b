//! Hostile JSON that only raw bytes can carry, through `validate`.
//!
//! The case table (`testdata/cases`) goes through hosts that parse the
//! request into a JSON value first, as Kubewarden's policy-server, `kwctl`
//! and `imagegate run` do; that folds duplicate keys (the last copy wins, as
//! in the API server's Go decoder) and decodes escapes before the policy sees
//! anything. The core reads the payload bytes itself, so here the same
//! tricks reach it as written: a key written twice is refused at every level
//! the policy reads (readers disagree on which copy counts), escapes are
//! decoded before keys and values are compared, and malformed documents are
//! rejected with a reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use imagegate_policy::capabilities::Offline;
use imagegate_policy::validate;

const SETTINGS: &str = r#"{"registries": {"allow": ["ghcr.io"]}}"#;

/// A CREATE request for a Pod whose `object` is `object`, as raw text.
fn pod(object: &str) -> String {
    format!(
        r#"{{"settings": {SETTINGS}, "request": {{"uid": "u", "kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {object}}}}}"#
    )
}

fn verdict(payload: &str) -> (bool, String) {
    let response = validate(payload.as_bytes(), &Offline);
    (response.accepted, response.message.unwrap_or_default())
}

#[test]
fn a_key_written_twice_is_refused_wherever_the_policy_reads() {
    for (object, message) in [
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1", "image": "evil.io/x:1"}]}}"#,
            r#"invalid Pod: spec.containers[0]: key "image" is written twice"#,
        ),
        // The order does not matter: neither copy is trusted over the other.
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "evil.io/x:1", "image": "ghcr.io/org/app:1"}]}}"#,
            r#"invalid Pod: spec.containers[0]: key "image" is written twice"#,
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}"#,
            r#"invalid Pod: spec.containers[0]: key "imagePullPolicy" is written twice"#,
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1"}], "containers": [{"name": "a", "image": "evil.io/x:1"}]}}"#,
            r#"invalid Pod: spec: key "containers" is written twice"#,
        ),
        (
            r#"{"spec": {"initContainers": [], "initContainers": [{"name": "i", "image": "evil.io/x:1"}], "containers": []}}"#,
            r#"invalid Pod: spec: key "initContainers" is written twice"#,
        ),
        (
            r#"{"spec": {"containers": []}, "spec": {"containers": [{"name": "a", "image": "evil.io/x:1"}]}}"#,
            r#"invalid Pod: key "spec" is written twice"#,
        ),
        (
            r#"{"spec": {"containers": [], "volumes": [{"name": "v", "image": {"reference": "ghcr.io/m:1", "reference": "evil.io/m:1"}}]}}"#,
            r#"invalid Pod: spec.volumes[0].image: key "reference" is written twice"#,
        ),
        (
            r#"{"spec": {"containers": [], "volumes": [{"name": "v", "image": {"reference": "ghcr.io/m:1"}, "image": {"reference": "evil.io/m:1"}}]}}"#,
            r#"invalid Pod: spec.volumes[0]: key "image" is written twice"#,
        ),
        // An escaped spelling is the same key.
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1", "im\u0061ge": "evil.io/x:1"}]}}"#,
            r#"invalid Pod: spec.containers[0]: key "image" is written twice"#,
        ),
        (
            r#"{"spec": {"cont\u0061iners": [{"name": "a", "image": "evil.io/x:1"}], "containers": []}}"#,
            r#"invalid Pod: spec: key "containers" is written twice"#,
        ),
    ] {
        assert_eq!(
            verdict(&pod(object)),
            (false, message.to_owned()),
            "{object}"
        );
    }
}

#[test]
fn request_fields_written_twice_are_refused() {
    for payload in [
        // A second kind that would make the request look unchecked.
        format!(
            r#"{{"settings": {SETTINGS}, "request": {{"kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {{"spec": {{"containers": [{{"name": "a", "image": "evil.io/x:1"}}]}}}}, "kind": {{"kind": "Service"}}}}}}"#
        ),
        format!(
            r#"{{"settings": {SETTINGS}, "request": {{"operation": "CREATE", "kind": {{"kind": "Pod"}}, "operation": "DELETE", "object": {{}}}}}}"#
        ),
        format!(
            r#"{{"settings": {SETTINGS}, "request": {{"operation": "CREATE", "kind": {{"kind": "Pod", "kind": "Service"}}, "object": {{}}}}}}"#
        ),
        format!(
            r#"{{"settings": {SETTINGS}, "request": {{"operation": "UPDATE", "subResource": "status", "kind": {{"kind": "Pod"}}, "sub_resource": "ephemeralcontainers", "object": {{}}}}}}"#
        ),
        format!(
            r#"{{"settings": {SETTINGS}, "settings": {{}}, "request": {{"operation": "CREATE", "kind": {{"kind": "Pod"}}, "object": {{}}}}}}"#
        ),
    ] {
        let (accepted, message) = verdict(&payload);
        assert!(!accepted, "{payload}");
        assert!(message.starts_with("invalid request: "), "{message}");
    }
}

#[test]
fn escapes_are_decoded_before_anything_is_compared() {
    // Keys and values of the request, the path to the pod spec, the image.
    let payload = format!(
        r#"{{"settings": {SETTINGS}, "request": {{"uid": "u", "kind": {{"kind": "P\u006fd"}}, "oper\u0061tion": "CRE\u0041TE", "object": {{"sp\u0065c": {{"cont\u0061iners": [{{"name": "a", "im\u0061ge": "\u0065vil.io\/x:1"}}]}}}}}}}}"#
    );
    let (accepted, message) = verdict(&payload);
    assert!(!accepted);
    assert_eq!(
        message,
        r#"1 image violation: spec.containers[0].image "evil.io/x:1": registry evil.io is not trusted (trusted: ghcr.io) [source]"#
    );
    // A surrogate pair decodes to one non-ASCII character, refused.
    let (accepted, message) = verdict(&pod(
        r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/\ud835\udc28rg/app:1"}]}}"#,
    ));
    assert!(!accepted);
    assert!(message.contains("non-ASCII character"), "{message}");
    // An escaped NUL is not a terminator.
    let (accepted, message) = verdict(&pod(
        r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1\u0000evil"}]}}"#,
    ));
    assert!(!accepted);
    assert!(message.contains("invalid image reference"), "{message}");
}

#[test]
fn keys_in_another_letter_case_are_other_keys() {
    // `Image` is not `image` (the API server decodes JSON case-sensitively
    // and drops unknown fields): the container has no image.
    let (accepted, message) = verdict(&pod(
        r#"{"spec": {"containers": [{"name": "a", "Image": "ghcr.io/org/app:1"}]}}"#,
    ));
    assert!(!accepted);
    assert_eq!(
        message,
        r#"1 image violation: spec.containers[0].image: container "a" has no image [reference]"#
    );
}

#[test]
fn malformed_documents_are_rejected_with_a_reason() {
    let good = pod(r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1"}]}}"#);
    assert_eq!(verdict(&good), (true, String::new()));
    for payload in [
        format!("\u{feff}{good}"),
        format!("{good} {{}}"),
        format!("{good},"),
        good.replace("CREATE", "CREATE\u{0}"),
        good.replace(r#""uid": "u""#, r#""uid": NaN"#),
        good.replace(r#""uid": "u""#, r#""uid": "u"#),
        good.replace(r#""image""#, "'image'"),
        good.replace(r#"[{"name""#, r#"[,{"name""#),
        good.replace(r#""uid": "u""#, r#""uid": "\ud800""#),
        String::from_utf8_lossy(&[good.as_bytes(), b"\xff"].concat()).into_owned(),
    ] {
        let (accepted, message) = verdict(&payload);
        assert!(!accepted, "{payload:?}");
        assert!(
            message.starts_with("invalid request: "),
            "{payload:?}: {message}"
        );
    }
    // Invalid UTF-8 inside the image string.
    let bytes = [
        br#"{"settings": {}, "request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": {"containers": [{"name": "a", "image": "ghcr.io/"#.as_slice(),
        b"\xc0\xaf",
        br#"x:1"}]}}}}"#.as_slice(),
    ]
    .concat();
    let response = validate(&bytes, &Offline);
    assert!(!response.accepted);
    assert!(response.message.unwrap().starts_with("invalid request: "));
}

#[test]
fn numbers_and_other_types_where_strings_belong_are_refused() {
    for (object, message) in [
        (
            r#"{"spec": {"containers": [{"name": "a", "image": 1e999}]}}"#,
            "invalid request: number out of range",
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": -0}]}}"#,
            "invalid Pod: spec.containers[0].image: expected a string, found a number",
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": true}]}}"#,
            "invalid Pod: spec.containers[0].image: expected a string, found a boolean",
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": {"reference": "ghcr.io/a:1"}}]}}"#,
            "invalid Pod: spec.containers[0].image: expected a string, found an object",
        ),
        (
            r#"{"spec": {"containers": [{"name": 7, "image": "ghcr.io/a:1"}]}}"#,
            "invalid Pod: spec.containers[0].name: expected a string, found a number",
        ),
        (
            r#"{"spec": {"containers": [{"name": "a", "image": "ghcr.io/a:1", "imagePullPolicy": 1}]}}"#,
            "invalid Pod: spec.containers[0].imagePullPolicy: expected a string, found a number",
        ),
        (
            r#"{"spec": {"containers": "ghcr.io/a:1"}}"#,
            "invalid Pod: spec.containers: expected a list, found a string",
        ),
        (
            r#"{"spec": 0}"#,
            "invalid Pod: spec: expected an object, found a number",
        ),
    ] {
        let (accepted, got) = verdict(&pod(object));
        assert!(!accepted, "{object}");
        assert!(got.starts_with(message), "{object}: {got}");
    }
}
