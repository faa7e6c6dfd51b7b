//! Helpers shared by the host's integration tests (each test file is its own
//! crate and uses a part of them).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

/// The workspace root: testdata, policy.wasm and the README live there.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built policy module: `IMAGEGATE_TEST_POLICY`, else `policy.wasm` in
/// the workspace root. The tests fail, never skip, when it is missing.
pub fn real_policy() -> PathBuf {
    let path = std::env::var_os("IMAGEGATE_TEST_POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("policy.wasm"));
    assert!(
        path.is_file(),
        "the policy module {} is missing: run `make policy.wasm` first \
         (or point IMAGEGATE_TEST_POLICY at a built module)",
        path.display()
    );
    path
}

/// A case's `request` fixture: its path under `testdata/requests`, the
/// AdmissionRequest in it (an AdmissionReview's `request`, or the document
/// itself) and that request's uid.
pub fn case_fixture(fixture: &Value) -> (PathBuf, Value, String) {
    let fixture = fixture.as_str().expect("`request` names a fixture file");
    let path = root().join("testdata/requests").join(fixture);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let document: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let request = if document["kind"] == "AdmissionReview" {
        document["request"].clone()
    } else {
        document
    };
    let uid = request["uid"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no uid", path.display()))
        .to_owned();
    (path, request, uid)
}

/// The plain object a case without a `request` checks: a Pod running its
/// `image`, or its `object`.
pub fn case_object(name: &str, case: &Value) -> Value {
    if let Some(image) = case.get("image") {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "app", "namespace": "default"},
               "spec": {"containers": [{"name": "app", "image": image}]}})
    } else {
        case.get("object")
            .unwrap_or_else(|| panic!("{name}: no request, image or object"))
            .clone()
    }
}

/// Runs `check` on every item, `threads` at a time from one queue, and
/// returns every failure it reported, sorted (the case-table runners: each
/// check starts an imagegate process).
pub fn failures_in_parallel<T, F>(
    items: impl Iterator<Item = T> + Send,
    threads: usize,
    check: impl Fn(T) -> F + Sync,
) -> Vec<String>
where
    F: IntoIterator<Item = String>,
{
    let queue = Mutex::new(items);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let Some(item) = queue.lock().unwrap().next() else {
                        break;
                    };
                    let found = check(item);
                    failures.lock().unwrap().extend(found);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}
