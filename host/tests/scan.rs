//! `imagegate scan` end to end, over the manifests in testdata/scan with
//! testdata/settings/scan.yaml and the real policy.wasm (or
//! `$IMAGEGATE_TEST_POLICY`).
//!
//! The text and JSON reports are compared whole with golden files in
//! host/tests/golden/. After a deliberate change of the report, regenerate
//! them and review the diff:
//!
//! ```console
//! IMAGEGATE_BLESS=1 cargo test --release -p imagegate-host --test scan
//! git diff host/tests/golden
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;

use common::{real_policy, root};

const SETTINGS: &str = "testdata/settings/scan.yaml";
const MANIFESTS: &str = "testdata/scan";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `imagegate ARGS` in the workspace root (so reports name
/// `testdata/scan/...`), without colours.
fn imagegate(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("IMAGEGATE_POLICY")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start imagegate");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Err(e) = pipe.write_all(input) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
    }
    let output = child.wait_with_output().expect("wait for imagegate");
    let run = Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    };
    println!(
        "status {}\nstdout {}\nstderr {}",
        run.code, run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "imagegate panicked");
    run
}

/// `imagegate scan PATHS... --settings testdata/settings/scan.yaml --policy P EXTRA...`
fn scan(paths: &[&str], extra: &[&str], stdin: Option<&[u8]>) -> Run {
    let policy = real_policy();
    let mut args = vec!["scan"];
    args.extend_from_slice(paths);
    args.extend_from_slice(&["--settings", SETTINGS, "--policy", policy.to_str().unwrap()]);
    args.extend_from_slice(extra);
    imagegate(&args, stdin)
}

/// Compares `actual` with host/tests/golden/NAME, or writes it there when
/// IMAGEGATE_BLESS is set.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("IMAGEGATE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with IMAGEGATE_BLESS=1 cargo test --release -p imagegate-host --test scan",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the report, first at line {}:\nexpected: {:?}\nactual:   {:?}\n\
             (if the change is intended: IMAGEGATE_BLESS=1 cargo test --release -p imagegate-host --test scan)",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("imagegate-scan-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: t\nspec:\n  containers:\n    - name: app\n      image: {image}\n"
    )
}

// ------------------------------------------------------------ the testdata

#[test]
fn text_report_of_the_testdata() {
    let run = scan(&[MANIFESTS], &[], None);
    assert_eq!(
        run.code, 2,
        "objects are rejected, and a document is broken"
    );
    assert!(!run.stdout.contains('\u{1b}'), "no colours off a terminal");
    golden("scan.txt", &run.stdout);
    assert!(run.stdout.ends_with(
        "scanned 21 objects in 6 files: 8 rejected, 1 warned, 6 allowed, 6 skipped; 1 error\n"
    ));
}

#[test]
fn json_report_of_the_testdata() {
    let run = scan(&[MANIFESTS], &["--format", "json"], None);
    assert_eq!(run.code, 2);
    golden("scan.json", &run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    check_json_shape(&report);
    assert_eq!(
        report["summary"],
        json!({"files": 6, "objects": 21, "rejected": 8, "warned": 1, "allowed": 6,
               "skipped": 6, "errors": 1})
    );
    // Every kind of input is there: chart rendering, multi-document, List,
    // DeploymentList (items without kind), kustomization, broken document.
    let find = |name: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == json!(name))
            .unwrap_or_else(|| panic!("no object {name}"))
            .clone()
    };
    let frontend = find("shop-frontend");
    assert_eq!(
        frontend["kind"], "Service",
        "the first shop-frontend is the Service"
    );
    let reports = find("reports");
    assert_eq!(
        (
            &reports["kind"],
            &reports["apiVersion"],
            &reports["item"],
            &reports["line"]
        ),
        (
            &json!("Deployment"),
            &json!("apps/v1"),
            &json!(1),
            &json!(25)
        )
    );
    assert_eq!(reports["violations"][0]["line"], 36);
    let legacy = find("legacy-web");
    assert_eq!(legacy["file"], "testdata/scan/cluster/kubectl-get.yaml");
    assert_eq!(legacy["violations"][1]["rule"], "tag");
    let after = find("after-the-break");
    assert_eq!(
        (&after["document"], &after["status"]),
        (&json!(3), &json!("rejected"))
    );
    assert_eq!(
        report["errors"],
        json!([{"file": "testdata/scan/apps/broken.yaml", "document": 2, "line": 19,
                "column": 14, "message": "not YAML: unclosed bracket '['"}])
    );
    let kustomization = find_kind(&report, "Kustomization");
    assert_eq!(
        kustomization["skipped"],
        "kind Kustomization is not checked by the policy"
    );
}

fn find_kind(report: &Value, kind: &str) -> Value {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == json!(kind))
        .unwrap()
        .clone()
}

/// The JSON report has the shape the README documents.
fn check_json_shape(report: &Value) {
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| (*s).to_owned()).collect() };
    assert_eq!(keys(report), set(&["summary", "objects", "errors"]));
    let summary = &report["summary"];
    assert_eq!(
        keys(summary),
        set(&[
            "files", "objects", "rejected", "warned", "allowed", "skipped", "errors"
        ])
    );
    let objects = report["objects"].as_array().unwrap();
    let mut counted = std::collections::BTreeMap::<String, u64>::new();
    let finding_keys = set(&[
        "path",
        "image",
        "normalized",
        "reason",
        "rule",
        "fix",
        "line",
        "text",
    ]);
    for object in objects {
        let mut expected = set(&[
            "file",
            "document",
            "item",
            "line",
            "apiVersion",
            "kind",
            "namespace",
            "name",
            "status",
            "allowed",
            "message",
            "violations",
            "warnings",
        ]);
        let status = object["status"].as_str().unwrap();
        *counted.entry(status.to_owned()).or_default() += 1;
        match status {
            "skipped" => {
                expected.insert("skipped".into());
                assert!(object["skipped"].is_string());
                assert!(object["allowed"].is_null());
            }
            "error" => {
                expected.insert("error".into());
                assert!(object["error"].is_string());
            }
            "allowed" | "warned" => assert_eq!(object["allowed"], true),
            "rejected" => {
                assert_eq!(object["allowed"], false);
                assert!(object["message"].is_string());
                assert!(!object["violations"].as_array().unwrap().is_empty());
            }
            other => panic!("unknown status {other}"),
        }
        if object.get("patch").is_some() {
            expected.insert("patch".into());
        }
        assert_eq!(keys(object), expected, "{object}");
        assert!(object["file"].is_string() && object["document"].as_u64().unwrap() >= 1);
        assert!(object["line"].as_u64().unwrap() >= 1);
        assert!(object["item"].is_null() || object["item"].is_u64());
        for finding in object["violations"]
            .as_array()
            .unwrap()
            .iter()
            .chain(object["warnings"].as_array().unwrap())
        {
            assert_eq!(keys(finding), finding_keys, "{finding}");
            assert!(finding["reason"].is_string() && finding["text"].is_string());
            assert!(finding["line"].as_u64().unwrap() >= object["line"].as_u64().unwrap());
        }
        assert_eq!(
            status == "warned",
            !object["warnings"].as_array().unwrap().is_empty() && object["allowed"] == true
        );
    }
    for status in ["rejected", "warned", "allowed", "skipped"] {
        assert_eq!(
            summary[status].as_u64(),
            Some(counted.get(status).copied().unwrap_or(0)),
            "{status}"
        );
    }
    let errors = report["errors"].as_array().unwrap();
    for error in errors {
        assert_eq!(
            keys(error),
            set(&["file", "document", "line", "column", "message"])
        );
    }
    assert_eq!(
        summary["errors"].as_u64(),
        Some(errors.len() as u64 + counted.get("error").copied().unwrap_or(0))
    );
    assert_eq!(summary["objects"].as_u64(), Some(objects.len() as u64));
}

#[test]
fn sarif_report_of_the_testdata() {
    let run = scan(&[MANIFESTS], &["--format", "sarif"], None);
    assert_eq!(run.code, 2);
    let sarif: Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "imagegate");
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "reference",
            "shortName",
            "source",
            "tag",
            "digest",
            "pullPolicy",
            "imageMetadata",
            "signature",
            "rejection"
        ]
    );
    let results = run0["results"].as_array().unwrap();
    // 12 deny violations and 4 warnings in the testdata.
    assert_eq!(results.iter().filter(|r| r["level"] == "error").count(), 12);
    assert_eq!(
        results.iter().filter(|r| r["level"] == "warning").count(),
        4
    );
    let used: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        used,
        BTreeSet::from(["reference", "shortName", "source", "tag"])
    );
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index], result["ruleId"].as_str().unwrap());
    }
    // The nginx of the chart's frontend: its file, the line of its image.
    let nginx = results
        .iter()
        .find(|r| {
            r["ruleId"] == "source"
                && r["message"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("\"nginx:1.27\"")
        })
        .unwrap();
    let location = &nginx["locations"][0];
    assert_eq!(
        location["physicalLocation"],
        json!({"artifactLocation": {"uri": "testdata/scan/chart/rendered.yaml"},
               "region": {"startLine": 63}})
    );
    assert_eq!(
        location["logicalLocations"][0]["fullyQualifiedName"],
        "Deployment/shop/shop-frontend"
    );
    let notifications = &run0["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(run0["invocations"][0]["executionSuccessful"], false);
    assert_eq!(
        notifications[0]["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "testdata/scan/apps/broken.yaml"},
               "region": {"startLine": 19, "startColumn": 14}})
    );
}

/// A minimal well-formedness check: tags nest and close, attributes are
/// quoted, entities are the five XML ones. Returns the start tags seen.
fn xml_elements(xml: &str) -> Vec<(String, String)> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        // attributes: name="value" pairs
        let mut attrs = attributes.trim();
        while !attrs.is_empty() {
            let (key, after) = attrs.split_once("=\"").expect("attribute");
            assert!(
                key.chars().all(|c| c.is_ascii_alphanumeric()),
                "attribute name {key}"
            );
            let end = after.find('"').expect("closing quote");
            check_text(&after[..end]);
            attrs = after[end + 1..].trim_start();
        }
        seen.push((name.to_owned(), attributes.to_owned()));
        if !self_closing {
            stack.push(name.to_owned());
        }
    }
    check_text(rest.trim());
    assert!(stack.is_empty(), "unclosed {stack:?}");
    seen
}

fn check_text(text: &str) {
    assert!(
        !text.contains('<') && !text.contains('>') && !text.contains('"'),
        "{text}"
    );
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        rest = &rest[amp..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "bad entity in {text}"
        );
        rest = &rest[1..];
    }
}

#[test]
fn junit_report_of_the_testdata() {
    let run = scan(&[MANIFESTS], &["--format", "junit"], None);
    assert_eq!(run.code, 2);
    let elements = xml_elements(&run.stdout);
    let count = |name: &str| elements.iter().filter(|(n, _)| n == name).count();
    assert_eq!(count("testsuites"), 1);
    assert_eq!(count("testsuite"), 6, "one per file");
    assert_eq!(count("testcase"), 22, "21 objects and the broken document");
    assert_eq!(count("failure"), 8);
    assert_eq!(count("error"), 1);
    assert_eq!(count("skipped"), 6);
    assert_eq!(count("system-out"), 3, "the objects with warnings");
    assert_eq!(
        elements[0].1,
        "name=\"imagegate scan\" tests=\"22\" failures=\"8\" errors=\"1\" skipped=\"6\""
    );
    assert!(elements.iter().any(|(n, a)| n == "testsuite"
        && a == "name=\"testdata/scan/chart/rendered.yaml\" tests=\"9\" failures=\"3\" errors=\"0\" skipped=\"4\""));
}

// --------------------------------------------------------- inputs and exits

#[test]
fn stdin_is_read_like_a_file() {
    let file = "testdata/scan/chart/rendered.yaml";
    let bytes = std::fs::read(root().join(file)).unwrap();
    let from_stdin = scan(&["-"], &[], Some(&bytes));
    let from_file = scan(&[file], &[], None);
    assert_eq!(from_stdin.code, 3, "objects are rejected");
    assert_eq!(from_stdin.stdout, from_file.stdout.replace(file, "<stdin>"));
    // Named, stdin reads exactly as the file.
    let named = scan(&["-"], &["--stdin-filename", file], Some(&bytes));
    assert_eq!(named.stdout, from_file.stdout);
    for format in ["json", "sarif", "junit"] {
        let named = scan(
            &["-"],
            &["-o", format, "--stdin-filename", file],
            Some(&bytes),
        );
        let from_file = scan(&[file], &["-o", format], None);
        assert_eq!(named.stdout, from_file.stdout, "{format}");
    }
    assert!(
        from_stdin
            .stdout
            .contains("Deployment/shop/shop-frontend  <stdin>:39 (document 5)"),
        "{}",
        from_stdin.stdout
    );
}

#[test]
fn nothing_denied_exits_0() {
    let dir = TempDir::new("allowed");
    let a = dir.file("a.yaml", pod("ok", "registry.k8s.io/pause:3.10"));
    let run = scan(&[&a], &[], None);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "scanned 1 object in 1 file: 0 rejected, 0 warned, 1 allowed, 0 skipped; 0 errors\n"
    );
    // Warnings alone do not fail the scan.
    let b = dir.file("b.yaml", pod("warned", "busybox:1.36"));
    let run = scan(&[&b], &[], None);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with("WARNED  Pod/t/warned  "),
        "{}",
        run.stdout
    );
}

#[test]
fn broken_input_without_denials_exits_2() {
    let dir = TempDir::new("broken");
    let broken = dir.file(
        "broken.yaml",
        format!("{}---\nkind: [\n", pod("ok", "quay.io/a/b:1")),
    );
    let missing = dir.0.join("missing.yaml");
    let run = scan(
        &[&broken, missing.to_str().unwrap()],
        &["--format", "json"],
        None,
    );
    assert_eq!(run.code, 2);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    check_json_shape(&report);
    assert_eq!(report["summary"]["allowed"], 1);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (&errors[0]["document"], &errors[0]["line"]),
        (&json!(2), &json!(11))
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot read it: "),
        "{}",
        errors[1]
    );
    // With a denial too, the scan is still incomplete: 2 (README "Exit
    // codes"); the denial alone is 3.
    let denied = dir.file("denied.yaml", pod("no", "evil.example/x:1"));
    let run = scan(&[&broken, &denied], &[], None);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("REJECTED  "), "{}", run.stdout);
    let run = scan(&[&denied], &[], None);
    assert_eq!(run.code, 3);
}

#[test]
fn usage_and_settings_errors() {
    // No PATH, no settings: usage errors (2).
    let policy = real_policy();
    let run = imagegate(
        &[
            "scan",
            "--settings",
            SETTINGS,
            "--policy",
            policy.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    let run = imagegate(
        &["scan", MANIFESTS, "--policy", policy.to_str().unwrap()],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--settings"), "{}", run.stderr);
    let run = scan(&[MANIFESTS], &["--format", "yaml"], None);
    assert_eq!(run.code, 2);
    // stdin twice.
    let run = scan(&["-", "-"], &[], Some(b""));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("stdin"), "{}", run.stderr);
    // Settings the policy refuses: 1, with its message, nothing scanned.
    let run = imagegate(
        &[
            "scan",
            MANIFESTS,
            "--settings-json",
            r#"{"registry": {}}"#,
            "--policy",
            policy.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("provided settings are not valid: ")
            && run.stderr.contains("\"registries\""),
        "{}",
        run.stderr
    );
}

#[test]
fn mutations_are_reported_as_patches() {
    let dir = TempDir::new("mutation");
    let manifest = dir.file("pod.yaml", pod("pinned", "quay.io/org/app:1.0"));
    let recorded = dir.file(
        "answers.json",
        json!({"manifest_digest": {"quay.io/org/app:1.0":
            "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}})
        .to_string(),
    );
    let policy = real_policy();
    let args = |format: &'static str| {
        vec![
            "scan".to_owned(),
            manifest.clone(),
            "--settings-json".into(),
            r#"{"digests": {"resolve": "AttemptRewrite"}}"#.into(),
            "--policy".into(),
            policy.to_str().unwrap().to_owned(),
            "--host-capabilities".into(),
            recorded.clone(),
            "--format".into(),
            format.into(),
        ]
    };
    let json_args = args("json");
    let run = imagegate(
        &json_args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    assert_eq!(run.code, 0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    check_json_shape(&report);
    assert_eq!(
        report["objects"][0]["patch"],
        json!([{"op": "replace", "path": "/spec/containers/0/image",
                "value": "quay.io/org/app:1.0@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}])
    );
    let text_args = args("text");
    let run = imagegate(
        &text_args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    assert!(
        run.stdout.starts_with("MUTATED  Pod/t/pinned  "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  patch  replace /spec/containers/0/image = quay.io/org/app:1.0@sha256:")
    );
}

/// A waPC guest that accepts its first `validate` and rejects every later
/// one with "this instance was used before", and traps on payloads over
/// 3000 bytes: it shows that one instance serves every object, and that a
/// trap costs only its object.
fn counting_guest() -> Vec<u8> {
    let settings = r#"{"valid":true}"#;
    let accepted = r#"{"accepted":true}"#;
    let reused = r#"{"accepted":false,"message":"this instance was used before"}"#;
    let data = |s: &str| s.bytes().map(|b| format!("\\{b:02x}")).collect::<String>();
    let wat = format!(
        r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 4)
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 16) "{s}")
  (data (i32.const 64) "{a}")
  (data (i32.const 128) "{r}")
  (func (export "wapc_init"))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 65536) (i32.const 65600))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then (call $guest_response (i32.const 16) (i32.const {sl})) (return (i32.const 1))))
    (if (i32.gt_u (local.get $msg_len) (i32.const 3000)) (then unreachable))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.eq (global.get $calls) (i32.const 1))
      (then (call $guest_response (i32.const 64) (i32.const {al})) (return (i32.const 1))))
    (call $guest_response (i32.const 128) (i32.const {rl}))
    (i32.const 1)))"#,
        s = data(settings),
        a = data(accepted),
        r = data(reused),
        sl = settings.len(),
        al = accepted.len(),
        rl = reused.len(),
    );
    wat::parse_str(wat).unwrap()
}

#[test]
fn json_list_items_report_the_lines_of_their_images() {
    // Brackets and quotes inside strings must not move an item's lines.
    let list = "{\"apiVersion\": \"v1\", \"kind\": \"List\",\n\
                 \"metadata\": {\"note\": \"]} \\\" {[\"},\n\
                 \"items\": [\n\
                 {\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n\
                 \"metadata\": {\"name\": \"ok\", \"namespace\": \"t\"},\n\
                 \"spec\": {\"containers\": [{\"name\": \"a\", \"image\": \"quay.io/a/b:1\"}]}},\n\
                 {\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n\
                 \"metadata\": {\"name\": \"bad\", \"namespace\": \"t\"},\n\
                 \"spec\": {\"containers\": [\n\
                 {\"name\": \"a\",\n\
                 \"image\": \"evil.example/x:1\"}]}}\n\
                 ]}\n";
    let run = scan(
        &["-"],
        &["-o", "json", "--jobs", "2"],
        Some(list.as_bytes()),
    );
    assert_eq!(run.code, 3);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects[0]["line"], 4, "{}", objects[0]);
    assert_eq!(objects[1]["line"], 7, "{}", objects[1]);
    assert_eq!(objects[1]["violations"][0]["line"], 11, "{}", objects[1]);
}

#[test]
fn any_number_of_jobs_gives_the_same_report() {
    for format in ["text", "json", "sarif", "junit", "policyreport"] {
        let one = scan(&["testdata/scan"], &["-o", format, "--jobs", "1"], None);
        let four = scan(&["testdata/scan"], &["-o", format, "--jobs", "4"], None);
        let default = scan(&["testdata/scan"], &["-o", format], None);
        assert!(!one.stdout.is_empty(), "{format}: empty report");
        assert_eq!(
            one.stdout, four.stdout,
            "{format}: --jobs 4 differs from --jobs 1"
        );
        assert_eq!(
            one.stdout, default.stdout,
            "{format}: default --jobs differs"
        );
        assert_eq!((one.code, one.stderr), (four.code, four.stderr), "{format}");
    }
}

#[test]
fn jobs_must_be_a_positive_count() {
    for jobs in ["0", "two", "1025"] {
        let run = scan(&["testdata/scan"], &["--jobs", jobs], None);
        assert_eq!(run.code, 2, "--jobs {jobs}");
        assert!(run.stderr.contains("--jobs"), "{}", run.stderr);
    }
}

#[test]
fn one_instance_for_all_objects_and_a_new_one_after_a_trap() {
    let dir = TempDir::new("instances");
    let policy = dir.file("counting.wasm", counting_guest());
    let big = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  namespace: t\n  annotations:\n    note: {}\nspec:\n  containers:\n    - image: a\n",
        "x".repeat(4000)
    );
    let stream = [
        pod("p1", "a"),
        pod("p2", "a"),
        big,
        pod("p3", "a"),
        pod("p4", "a"),
    ]
    .join("---\n");
    let manifest = dir.file("all.yaml", stream);
    let run = imagegate(
        &[
            "scan",
            &manifest,
            "--settings-json",
            "{}",
            "--policy",
            &policy,
            "--format",
            "json",
            // One worker: the instance sees every object in order.
            "--jobs",
            "1",
        ],
        None,
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("p1", "allowed"),
            ("p2", "rejected"),
            ("big", "error"),
            ("p3", "allowed"),
            ("p4", "rejected")
        ]
    );
    assert!(
        report["objects"][2]["error"]
            .as_str()
            .unwrap()
            .starts_with("policy trapped in validate"),
        "{}",
        report["objects"][2]
    );
    assert_eq!(
        report["objects"][1]["violations"][0]["reason"],
        "this instance was used before"
    );
    assert_eq!(run.code, 2, "an object could not be evaluated");
}

#[test]
fn directories_are_walked_for_manifests_only() {
    let dir = TempDir::new("walk");
    dir.file("b/deep/pod.YML", pod("deep", "quay.io/a/b:1"));
    dir.file(
        "a.json",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "json"},
                              "spec": {"containers": [{"image": "quay.io/a/b:1"}]}})
        .to_string(),
    );
    dir.file("notes.txt", "apiVersion: v1\nkind: Pod\n");
    dir.file("values.yaml", "replicaCount: 1\n");
    let run = scan(&[dir.0.to_str().unwrap()], &["--format", "json"], None);
    assert_eq!(run.code, 0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let files: Vec<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let file = o["file"].as_str().unwrap();
            format!(
                "{} {}",
                &file[dir.0.to_str().unwrap().len() + 1..],
                o["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            "a.json allowed",
            "b/deep/pod.YML allowed",
            "values.yaml skipped"
        ]
    );
    assert_eq!(
        find_kind_or_null(&report),
        "not a Kubernetes object (no apiVersion and kind)"
    );
    // An empty directory: nothing to scan is an input error.
    let empty = TempDir::new("empty");
    empty.file("notes.txt", "not a manifest");
    let run = scan(&[empty.0.to_str().unwrap()], &[], None);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains(&format!(
            "nothing to scan: no manifest files in {}",
            empty.0.display()
        )),
        "{}",
        run.stderr
    );
}

fn find_kind_or_null(report: &Value) -> String {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"].is_null())
        .and_then(|o| o["skipped"].as_str())
        .unwrap_or_default()
        .to_owned()
}
