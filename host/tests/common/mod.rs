//! Helpers shared by the host's integration tests (each test file is its own
//! crate and uses a part of them).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
