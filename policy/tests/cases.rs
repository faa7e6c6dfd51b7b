#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Runs every `testdata/cases/*.json` case through the native core.
//!
//! The same files are run through `policy.wasm` by `host/tests/cases.rs`
//! and by the bats suite, with identical expectations: one fixture, every
//! host. After a deliberate change of behaviour, regenerate the expectations
//! with `IMAGEGATE_BLESS=1 cargo test -p imagegate-policy --test cases` and
//! review the diff.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use imagegate_policy::capabilities::{Capabilities, CapabilityError};
use imagegate_policy::recorded::VerifyRecording;
use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// The admission request a case describes, as `imagegate run` builds it:
/// a fixture file, or a plain object (or a one-container Pod for `image`)
/// wrapped as a CREATE request.
fn request_of(case: &Value) -> Value {
    if let Some(file) = case["request"].as_str() {
        let text = fs::read_to_string(testdata().join("requests").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        return if v["kind"] == "AdmissionReview" {
            v["request"].clone()
        } else {
            v
        };
    }
    let object = if let Some(image) = case.get("image") {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "default"},
               "spec": {"containers": [{"name": "app", "image": image}]}})
    } else {
        case["object"].clone()
    };
    let (group, version) = match object["apiVersion"]
        .as_str()
        .unwrap_or("v1")
        .split_once('/')
    {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            object["apiVersion"].as_str().unwrap_or("v1").to_owned(),
        ),
    };
    json!({"uid": "imagegate-run", "kind": {"group": group, "version": version, "kind": object["kind"]},
           "operation": "CREATE", "object": object})
}

/// Host lookups answered from the case's `capabilities` fixture, the same
/// file format `imagegate run --host-capabilities` reads:
///
/// ```json
/// {"manifest_digest": {"<image>": "sha256:..." | {"error": "..."}},
///  "oci_manifest": {"<image>": <manifest or index JSON> | {"error": "..."}},
///  "oci_manifest_config": {"<image>": {"manifest": ..., "digest": ..., "config": ...} | {"error": "..."}}}
/// ```
///
/// and `"verify": {"<image>": {"digest": ..., "signatures": [...]}}`,
/// answered as Kubewarden's host would by `imagegate_policy::recorded`,
/// as `imagegate` answers it.
///
/// A name with no recorded answer fails with `no answer recorded for <name>`.
/// Every call is counted: the case fails when the policy asks the host the
/// same thing twice in one evaluation.
struct Recorded {
    answers: Value,
    verify: VerifyRecording,
    calls: RefCell<BTreeMap<String, usize>>,
}

impl Recorded {
    fn answer(&self, operation: &str, image: &str) -> Result<&Value, CapabilityError> {
        *self
            .calls
            .borrow_mut()
            .entry(format!("{operation} {image}"))
            .or_default() += 1;
        match &self.answers[operation][image] {
            Value::Null => Err(CapabilityError(format!("no answer recorded for {image}"))),
            Value::Object(o) if o.len() == 1 && o.get("error").is_some_and(Value::is_string) => {
                Err(CapabilityError(
                    o["error"].as_str().unwrap_or_default().to_owned(),
                ))
            }
            answer => Ok(answer),
        }
    }

    /// The calls made more than once.
    fn repeated(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(call, n)| format!("{call} ({n} times)"))
            .collect()
    }
}

impl Capabilities for Recorded {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        match self.answer("manifest_digest", image)? {
            Value::String(digest) => Ok(digest.clone()),
            other => panic!("manifest_digest.{image}: not a digest: {other}"),
        }
    }

    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        Ok(serde_json::to_vec(self.answer("oci_manifest", image)?).expect("json"))
    }

    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        Ok(serde_json::to_vec(self.answer("oci_manifest_config", image)?).expect("json"))
    }

    fn verify(&self, request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        *self
            .calls
            .borrow_mut()
            .entry(format!("verify {}", String::from_utf8_lossy(request)))
            .or_default() += 1;
        self.verify.answer(request).map_err(CapabilityError)
    }
}

#[test]
fn cases() {
    let bless = std::env::var_os("IMAGEGATE_BLESS").is_some();
    let mut files: Vec<PathBuf> = fs::read_dir(testdata().join("cases"))
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
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("case");
        let mut case: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let payload = json!({"request": request_of(&case), "settings": case["settings"]});
        let bytes = serde_json::to_vec(&payload).expect("payload");
        let answers = case.get("capabilities").cloned().unwrap_or(Value::Null);
        let verify = match answers.get("verify") {
            Some(section) => VerifyRecording::from_value(section)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display())),
            None => VerifyRecording::default(),
        };
        let capabilities = Recorded {
            answers,
            verify,
            calls: RefCell::default(),
        };
        let response = imagegate_policy::validate(&bytes, &capabilities);
        let repeated = capabilities.repeated();
        if !repeated.is_empty() {
            failures.push(format!(
                "{}: the host was asked more than once: {}",
                file.display(),
                repeated.join(", ")
            ));
        }
        // Hosts turn the mutated object into a JSON Patch against the
        // request's object, as Kubewarden does; the cases hold that patch.
        let patch = match &response.mutated_object {
            Some(mutated) => {
                serde_json::to_value(json_patch::diff(&payload["request"]["object"], mutated))
                    .expect("patch")
            }
            None => json!([]),
        };
        let got = json!({
            "allowed": response.accepted,
            "message": response.message,
            "warnings": response.warnings.unwrap_or_default(),
            "patch": patch,
        });
        let expected = &case["expect"];
        let same = expected["allowed"] == got["allowed"]
            && expected["message"] == got["message"]
            && expected.get("warnings").cloned().unwrap_or(json!([])) == got["warnings"]
            && expected.get("patch").cloned().unwrap_or(json!([])) == got["patch"];
        if bless && !same {
            let mut got = got;
            // Keep the files short: no patch written means no mutation.
            if got["patch"] == json!([]) {
                got.as_object_mut().expect("object").remove("patch");
            }
            case["expect"] = got;
            let mut out = serde_json::to_string_pretty(&case).expect("json");
            out.push('\n');
            fs::write(file, out).expect("write");
        } else if !same {
            failures.push(format!(
                "{}:\n  expected {}\n       got {}",
                file.display(),
                expected,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
