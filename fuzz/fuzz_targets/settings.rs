//! The settings compiler on arbitrary bytes.
//!
//! `compile_bytes` never panics; it gives the same answer twice (the same
//! compiled policy, or the same problems, at least one of them); and
//! `validate_settings` (through the per-instance cache) agrees with it.
//! Settings that compile are then used on a Pod with a few tricky images, so
//! the fuzzed patterns meet the matchers: that never panics either, and a
//! rejection always says why.
#![no_main]

use imagegate_policy::capabilities::Offline;
use imagegate_policy::settings::compile_bytes;
use imagegate_policy::{validate, validate_settings};
use libfuzzer_sys::fuzz_target;

const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.27",
    "ghcr.io/org/app:v1.2.3",
    "ghcr.io:443/org-evil/app",
    "EVILHOST/app:latest",
    "registry-1.docker.io/library/busybox:1.36",
    "[::1]:5000/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "localhost/x:1-SNAPSHOT@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "a.b.example.com:80/team/x/y",
    "not a reference",
];

fuzz_target!(|data: &[u8]| {
    let first = compile_bytes(data);
    let second = compile_bytes(data);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(!a.problems.is_empty());
            assert!(a.to_string().contains(" settings problem"));
        }
        _ => panic!("compiled differently twice: {first:?} / {second:?}"),
    }
    for _ in 0..2 {
        let response = validate_settings(data);
        assert_eq!(response.valid, first.is_ok());
        assert_eq!(
            response.message,
            first.as_ref().err().map(ToString::to_string)
        );
    }
    if first.is_err() {
        return;
    }
    let Ok(settings) = std::str::from_utf8(data) else {
        return;
    };
    let containers: Vec<String> = IMAGES
        .iter()
        .enumerate()
        .map(|(i, image)| format!(r#"{{"name": "c{i}", "image": "{image}"}}"#))
        .collect();
    let payload = format!(
        r#"{{"settings": {settings}, "request": {{"uid": "u", "operation": "CREATE", "kind": {{"kind": "Pod"}},
            "object": {{"spec": {{"containers": [{}]}}}}}}}}"#,
        containers.join(", ")
    );
    let response = validate(payload.as_bytes(), &Offline);
    assert!(response.accepted || response.message.is_some());
    // "not a reference" is always a reference violation, whatever the settings.
    assert!(!response.accepted, "{settings}");
});
