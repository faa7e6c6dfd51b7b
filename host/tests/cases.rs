//! Runs every `testdata/cases/*.json` case through the built `imagegate`
//! binary and `policy.wasm`: the table `policy/tests/cases.rs` runs through
//! the native core and `e2e-tests/cases.bats` through the annotated module,
//! with the same expectations.
//!
//! A case gives `settings` (passed with `--settings-json`) and one of:
//! * `request`: a fixture in `testdata/requests` (AdmissionReview or bare
//!   request), passed as that file; the response `uid` must be the fixture's;
//! * `image`: a one-container Pod, written to a file and passed as a plain
//!   object, which `imagegate run` wraps as CREATE (uid `imagegate-run`);
//! * `object`: a plain object, written to a file, wrapped the same way.
//!
//! A case's `capabilities` (recorded host answers) are written to a file and
//! passed with `--host-capabilities`, as the bats suite does.
//!
//! `allowed`, `status.message` (null when absent), `warnings` (empty when
//! null or absent) and the decoded JSON Patch (`[]` when the response has
//! none; `expect.patch` absent means `[]`) are compared with `expect`. Every
//! mismatch is collected and reported at once.
//!
//! One difference from the native run: `imagegate run`, like `kwctl run`,
//! asks `validate_settings` first and exits 1 when the settings are not valid,
//! so `validate` never sees them. A case that expects
//! `invalid settings: <M>` from `validate` must therefore make the host exit
//! 1 with `provided settings are not valid: <M>`: the same message from the
//! same settings code, reached through the other entry point.
//!
//! The tests fail, never skip, when policy.wasm is missing: run
//! `make policy.wasm` first (or set `IMAGEGATE_TEST_POLICY`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

mod common;

use common::{case_fixture, case_object, failures_in_parallel, real_policy, root};

/// The prefix of the policy's `validate` message for settings that are not valid.
const INVALID_SETTINGS_PREFIX: &str = "invalid settings: ";
/// What the host prints (after `imagegate: error: `) when the policy's
/// `validate_settings` refuses the settings.
const HOST_INVALID_SETTINGS_PREFIX: &str = "imagegate: error: provided settings are not valid: ";

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("imagegate-cases-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The request file a case describes and the uid its response must carry.
fn request_file(case: &Value, name: &str, dir: &Path) -> (PathBuf, String) {
    if let Some(fixture) = case.get("request") {
        let (path, _, uid) = case_fixture(fixture);
        return (path, uid);
    }
    let object = case_object(name, case);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, object.to_string()).expect("write request");
    (path, "imagegate-run".to_owned())
}

/// Runs one case; `Err` describes how the host's answer differs.
fn run_case(file: &Path, policy: &Path, dir: &Path) -> Result<(), String> {
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("case name");
    let text = std::fs::read_to_string(file).expect("read case");
    let case: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (request, uid) = request_file(&case, name, dir);
    let settings = case.get("settings").cloned().unwrap_or(Value::Null);
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command.arg("run");
    if let Some(capabilities) = case.get("capabilities") {
        let path = dir.join(format!("{name}.capabilities.json"));
        std::fs::write(&path, capabilities.to_string()).expect("write capabilities");
        command.arg("--host-capabilities").arg(path);
    }
    let output = command
        .arg("--policy")
        .arg(policy)
        .arg("--settings-json")
        .arg(settings.to_string())
        .arg("--request")
        .arg(&request)
        .env_remove("IMAGEGATE_POLICY")
        .stdin(Stdio::null())
        .output()
        .expect("start imagegate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    let expect = &case["expect"];
    let expected = json!({
        "uid": uid,
        "allowed": expect["allowed"],
        "message": expect.get("message").cloned().unwrap_or(Value::Null),
        "warnings": match expect.get("warnings") {
            None | Some(Value::Null) => json!([]),
            Some(w) => w.clone(),
        },
        "patch": expect.get("patch").cloned().unwrap_or(json!([])),
    });
    let differs = |got: String| {
        Err(format!(
            "testdata/cases/{name}.json:\n  expected {expected}\n       got {got}"
        ))
    };

    match output.status.code() {
        Some(0) => {}
        Some(1)
            if expected["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(INVALID_SETTINGS_PREFIX)) =>
        {
            // The settings gate (see the module comment).
            let want = format!(
                "{HOST_INVALID_SETTINGS_PREFIX}{}",
                expected["message"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches(INVALID_SETTINGS_PREFIX)
            );
            let ok = stdout.is_empty()
                && stderr.trim_end() == want
                && expected["allowed"] == json!(false)
                && expected["warnings"] == json!([])
                && expected["patch"] == json!([]);
            return if ok {
                Ok(())
            } else {
                differs(format!("exit 1, stdout {stdout:?}, stderr {stderr:?}"))
            };
        }
        code => {
            return differs(format!(
                "exit {code:?}, stdout {stdout:?}, stderr {stderr:?}"
            ));
        }
    }

    let response: Value = match serde_json::from_str(stdout.trim_end()) {
        Ok(v) if stdout.lines().count() == 1 => v,
        _ => return differs(format!("stdout that is not one JSON line: {stdout:?}")),
    };
    let patch = match response.get("patch").and_then(Value::as_str) {
        None => json!([]),
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
            match decoded {
                Some(patch) => patch,
                None => return differs(format!("a patch that is not base64 JSON: {encoded:?}")),
            }
        }
    };
    let got = json!({
        "uid": response["uid"],
        "allowed": response["allowed"],
        "message": response
            .get("status")
            .and_then(|s| s.get("message"))
            .cloned()
            .unwrap_or(Value::Null),
        "warnings": match response.get("warnings") {
            None | Some(Value::Null) => json!([]),
            Some(w) => w.clone(),
        },
        "patch": patch,
    });
    if got == expected {
        Ok(())
    } else {
        differs(got.to_string())
    }
}

#[test]
fn every_case_through_the_host() {
    let policy = real_policy();
    let dir = TempDir::new("requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/cases"))
        .expect("testdata/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() > 20,
        "expected the case table, found {} files",
        files.len()
    );

    // Each run compiles the module (~0.3 s): a few threads, one queue.
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let failures = failures_in_parallel(files.iter(), threads, |file| {
        run_case(file, &policy, &dir.0).err()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!("{} cases passed through imagegate", files.len());
}
