//! The `imagegate` binary, run as users run it.
//!
//! Two kinds of policy module are used:
//! * the real `policy.wasm` at the workspace root (or `$IMAGEGATE_TEST_POLICY`),
//!   for what only the real module can show (wrapping, annotate, bench); the
//!   tests fail, never skip, when it is missing: run `make policy.wasm` first;
//! * tiny waPC guests written in WAT below, whose answers are fixed, to test
//!   the host alone: response building, guest failures, bad guest pointers,
//!   time and memory limits, host capabilities.

// Helpers outside `#[test]` functions are not covered by clippy's
// allow-expect-in-tests; a failed expectation is a failed test here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

mod common;

use common::real_policy;

// ---------------------------------------------------------------- helpers

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("imagegate-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The single line of JSON on stdout.
    fn json_line(&self) -> Value {
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "stdout is not one line: {:?}",
            self.stdout
        );
        serde_json::from_str(self.stdout.trim_end()).expect("stdout is JSON")
    }
}

fn imagegate(args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command
        .args(args)
        .env_remove("IMAGEGATE_POLICY")
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
        // imagegate may exit before reading stdin (a usage error): fine.
        if let Err(e) = pipe.write_all(input.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for imagegate");
    let run = Run {
        code: status.code().expect("exit code (not killed by a signal)"),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    };
    println!(
        "status {}\nstdout {}\nstderr {}",
        run.code, run.stdout, run.stderr
    );
    assert!(
        !run.stderr.contains("panicked"),
        "imagegate panicked: {}",
        run.stderr
    );
    run
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn pod_request(uid: &str) -> Value {
    json!({
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web", "namespace": "default", "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:masters"]},
        "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "ghcr.io/org/web:1.0"}]}
        }
    })
}

const DEPLOYMENT_YAML: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/org/web:1.0
";

// ------------------------------------------------------- WAT test guests

/// Data segments of a WAT guest: strings at known offsets.
#[derive(Default)]
struct Data(Vec<(u32, Vec<u8>)>);

impl Data {
    /// Places `bytes` in memory; returns (offset, length).
    fn add(&mut self, bytes: &str) -> (u32, u32) {
        let offset = self.0.last().map_or(16, |(o, b)| o + b.len() as u32 + 16);
        let len = bytes.len() as u32;
        self.0.push((offset, bytes.as_bytes().to_vec()));
        (offset, len)
    }

    fn segments(&self) -> String {
        self.0
            .iter()
            .map(|(offset, bytes)| {
                let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
                format!("  (data (i32.const {offset}) \"{escaped}\")\n")
            })
            .collect()
    }

    /// Instructions that answer `json` and return 1.
    fn respond(&mut self, json: &str) -> String {
        let (o, l) = self.add(json);
        format!("(call $guest_response (i32.const {o}) (i32.const {l})) (i32.const 1)")
    }

    /// Instructions that report `message` and return 0.
    fn fail(&mut self, message: &str) -> String {
        let (o, l) = self.add(message);
        format!("(call $guest_error (i32.const {o}) (i32.const {l})) (i32.const 0)")
    }
}

/// What each operation of a WAT guest does: instruction sequences that leave
/// the i32 `__guest_call` result on the stack.
struct Ops {
    validate_settings: String,
    validate: String,
    protocol_version: String,
}

impl Ops {
    fn accepting(data: &mut Data) -> Ops {
        Ops {
            validate_settings: data.respond(r#"{"valid":true}"#),
            validate: data.respond(r#"{"accepted":true}"#),
            protocol_version: data.respond(r#""v1""#),
        }
    }
}

/// A waPC guest in WAT that tells operations apart by the length of their
/// name (validate 8, protocol_version 16, validate_settings 17). The request
/// is copied to 64 KiB (operation) and 64 KiB + 64 (payload).
fn wat_guest(data: &Data, ops: &Ops) -> String {
    format!(
        r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 4)
{segments}
  (func (export "wapc_init"))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 65536) (i32.const 65600))
    (if (result i32) (i32.eq (local.get $op_len) (i32.const 17))
      (then {settings})
      (else
        (if (result i32) (i32.eq (local.get $op_len) (i32.const 16))
          (then {protocol})
          (else {validate}))))))
"#,
        segments = data.segments(),
        settings = ops.validate_settings,
        protocol = ops.protocol_version,
        validate = ops.validate,
    )
}

/// Writes a WAT guest built by `build` as a .wasm file.
fn fake_policy(dir: &TempDir, name: &str, build: impl FnOnce(&mut Data, &mut Ops)) -> PathBuf {
    let mut data = Data::default();
    let mut ops = Ops::accepting(&mut data);
    build(&mut data, &mut ops);
    let wasm = wat::parse_str(wat_guest(&data, &ops)).expect("valid WAT");
    dir.file(name, wasm)
}

fn run_fake(dir: &TempDir, policy: &Path, extra: &[&str]) -> Run {
    let request = dir.file("request.json", pod_request("uid-fake").to_string());
    let mut args = vec!["run", "--request", p(&request), "--policy", p(policy)];
    args.extend_from_slice(extra);
    imagegate(&args, None)
}

/// The internal-error response a failed guest gives, checked for shape.
fn internal_error_message(run: &Run) -> String {
    assert_eq!(run.code, 0, "a guest failure is still an evaluation");
    let response = run.json_line();
    assert_eq!(response["allowed"], json!(false));
    assert_eq!(response["status"]["code"], json!(500));
    let message = response["status"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(message.starts_with("internal server error: "), "{message}");
    message
}

// ------------------------------------------------------------ usage errors

#[test]
fn unknown_flag_exits_2() {
    let run = imagegate(&["run", "--no-such-flag"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--no-such-flag"), "{}", run.stderr);
}

#[test]
fn missing_request_file_exits_2_and_names_it() {
    let dir = TempDir::new("missing-request");
    let missing = dir.path("no-such-request.json");
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&missing),
            "--policy",
            p(&real_policy()),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("imagegate: error: request file \""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(p(&missing)), "{}", run.stderr);
}

#[test]
fn request_that_is_not_json_or_yaml_exits_2() {
    let dir = TempDir::new("not-json");
    let request = dir.file("bad.json", "{\"uid\": ");
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--policy",
            p(&real_policy()),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.json\": not JSON or YAML: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 1 column 8"), "{}", run.stderr);
}

#[test]
fn array_request_exits_2() {
    let run = imagegate(
        &["run", "--request", "-", "--policy", p(&real_policy())],
        Some("[1, 2]"),
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim_end(),
        "imagegate: error: request from stdin: expected an AdmissionReview, an \
         AdmissionRequest or a Kubernetes object, found an array"
    );
}

#[test]
fn settings_json_that_is_not_an_object_exits_2() {
    let dir = TempDir::new("settings-array");
    let request = dir.file("request.json", pod_request("u").to_string());
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--settings-json",
            "[1]",
            "--policy",
            p(&real_policy()),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("--settings-json: settings must be an object, found an array"),
        "{}",
        run.stderr
    );
}

#[test]
fn policy_that_is_not_wasm_exits_2() {
    let dir = TempDir::new("not-wasm");
    let request = dir.file("request.json", pod_request("u").to_string());
    let policy = dir.file("policy.wasm", "this is text");
    let run = imagegate(
        &["run", "--request", p(&request), "--policy", p(&policy)],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "is not a WebAssembly module (it does not start with the \\0asm magic bytes)"
        ),
        "{}",
        run.stderr
    );
    let missing = dir.path("missing.wasm");
    let run = imagegate(
        &["run", "--request", p(&request), "--policy", p(&missing)],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read policy"), "{}", run.stderr);
}

#[test]
fn wasm_that_is_not_a_wapc_module_exits_2() {
    let dir = TempDir::new("not-wapc");
    let request = dir.file("request.json", pod_request("u").to_string());
    let no_guest_call = dir.file(
        "a.wasm",
        wat::parse_str(r#"(module (memory (export "memory") 1))"#).expect("wat"),
    );
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--policy",
            p(&no_guest_call),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("is not a waPC module: it does not export the function __guest_call"),
        "{}",
        run.stderr
    );

    let unknown_import = dir.file(
        "b.wasm",
        wat::parse_str(
            r#"(module (import "env" "surprise" (func)) (memory (export "memory") 1)
                 (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 0)))"#,
        )
        .expect("wat"),
    );
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--policy",
            p(&unknown_import),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be linked"), "{}", run.stderr);
    assert!(run.stderr.contains("surprise"), "{}", run.stderr);
}

// ------------------------------------------------ input shapes, real policy

#[test]
fn plain_yaml_deployment_is_wrapped_as_a_create_request() {
    let dir = TempDir::new("yaml-deployment");
    let request = dir.file("deployment.yaml", DEPLOYMENT_YAML);
    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--policy",
            p(&real_policy()),
        ],
        None,
    );
    assert_eq!(run.code, 0);
    let response = run.json_line();
    // `{}` settings accept everything (SPEC §2).
    assert!(
        run.stdout
            .starts_with(r#"{"uid":"imagegate-run","allowed":true"#),
        "{}",
        run.stdout
    );
    assert_eq!(response["auditAnnotations"], Value::Null);
    assert_eq!(response["warnings"], Value::Null);
    assert!(response.get("status").is_none() && response.get("patch").is_none());

    let run = imagegate(
        &[
            "run",
            "--request",
            p(&request),
            "--policy",
            p(&real_policy()),
            "--output",
            "validation",
        ],
        None,
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.json_line()["accepted"], json!(true));
}

#[test]
fn admission_review_and_bare_request_are_both_accepted() {
    let dir = TempDir::new("review-and-bare");
    let bare = dir.file("bare.json", pod_request("uid-bare").to_string());
    let review = dir.file(
        "review.yaml",
        // YAML, to cover that too: JSON is YAML.
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": pod_request("uid-review")})
        .to_string(),
    );
    for (file, uid) in [(&bare, "uid-bare"), (&review, "uid-review")] {
        let run = imagegate(
            &["run", "--request", p(file), "--policy", p(&real_policy())],
            None,
        );
        assert_eq!(run.code, 0);
        let response = run.json_line();
        assert_eq!(response["uid"], json!(uid));
        assert_eq!(response["allowed"], json!(true));
    }
    // stdin works too.
    let run = imagegate(
        &["run", "--request", "-", "--policy", p(&real_policy())],
        Some(&pod_request("uid-stdin").to_string()),
    );
    assert_eq!(run.json_line()["uid"], json!("uid-stdin"));
}

#[test]
fn check_settings_prints_the_policy_answer() {
    let run = imagegate(
        &[
            "check-settings",
            "--settings-json",
            "{}",
            "--policy",
            p(&real_policy()),
        ],
        None,
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "{\"valid\":true,\"message\":null}\n");

    let run = imagegate(&["check-settings", "--policy", p(&real_policy())], None);
    assert_eq!(run.code, 2, "settings are required");
}

// ------------------------------------------------- --output text, real policy

/// `run` of `request` with `settings` through the real policy, with `extra` flags.
fn run_real(request: &Path, settings: &str, extra: &[&str]) -> Run {
    let policy = real_policy();
    let mut args = vec![
        "run",
        "--request",
        p(request),
        "--policy",
        p(&policy),
        "--settings-json",
        settings,
    ];
    args.extend_from_slice(extra);
    imagegate(&args, None)
}

#[test]
fn text_output_of_a_rejection_lists_each_violation_and_exits_3() {
    let dir = TempDir::new("text-rejected");
    let mut request = pod_request("uid-text");
    request["object"]["spec"]["containers"] = json!([
        {"name": "a", "image": "ghcr.io/org/a:1.0"},
        {"name": "b", "image": "harbor.corp.example/org/b:latest"}
    ]);
    let request = dir.file("pod.json", request.to_string());
    let settings =
        r#"{"registries":{"allow":["harbor.corp.example"]},"tags":{"reject":["latest"]}}"#;

    let admission = run_real(&request, settings, &[]);
    assert_eq!(
        admission.code, 0,
        "the JSON outputs exit 0 whatever the verdict, as kwctl"
    );
    let response = admission.json_line();
    assert_eq!(response["allowed"], json!(false));

    let text = run_real(&request, settings, &["--output", "text"]);
    assert_eq!(text.code, 3, "-o text: a rejection exits 3");
    assert_eq!(
        text.stdout,
        "REJECTED: 2 image violations\n\
         \x20 deny  spec.containers[0].image \"ghcr.io/org/a:1.0\"\n\
         \x20       registry ghcr.io is not trusted (trusted: harbor.corp.example) [source]\n\
         \x20       fix: use an image from a trusted registry, or add its registry to \
         registries.allow\n\
         \x20 deny  spec.containers[1].image \"harbor.corp.example/org/b:latest\"\n\
         \x20       tag latest is rejected [tag]\n\
         \x20       fix: use a tag that tags.reject does not match, or pin the image by digest\n"
    );
}

#[test]
fn text_output_of_an_accepted_request_lists_each_warning() {
    let dir = TempDir::new("text-warnings");
    let mut request = pod_request("uid-text");
    request["object"]["spec"]["containers"] = json!([
        {"name": "a", "image": "ghcr.io/org/a:1.0"},
        {"name": "b", "image": "quay.io/org/b:2.0"}
    ]);
    let request = dir.file("pod.json", request.to_string());
    let settings =
        r#"{"registries":{"allow":["harbor.corp.example"]},"actions":{"source":"warn"}}"#;

    let admission = run_real(&request, settings, &[]).json_line();
    assert_eq!(admission["allowed"], json!(true));
    let warnings: Vec<&str> = admission["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("string"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");

    let text = run_real(&request, settings, &["-o", "text"]);
    assert_eq!(text.code, 0);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 3 * warnings.len(), "{}", text.stdout);
    assert_eq!(lines[0], "ALLOWED");
    for (i, container) in ["spec.containers[0].image", "spec.containers[1].image"]
        .iter()
        .enumerate()
    {
        assert!(lines[1 + 3 * i].starts_with(&format!("  warn  {container} \"")));
        assert!(
            lines[2 + 3 * i].ends_with("is not trusted (trusted: harbor.corp.example) [source]")
        );
        assert!(lines[3 + 3 * i].contains("fix: "));
    }
}

#[test]
fn run_without_settings_says_so_on_stderr() {
    let dir = TempDir::new("no-settings");
    let request = dir.file("pod.json", pod_request("uid").to_string());
    let policy = real_policy();
    let run = imagegate(
        &["run", "--request", p(&request), "--policy", p(&policy)],
        None,
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains(
            "no settings given (--settings FILE or --settings-json JSON): evaluating with {}"
        ),
        "{}",
        run.stderr
    );
    let run = run_real(&request, "{}", &[]);
    assert!(!run.stderr.contains("no settings given"), "{}", run.stderr);
}

#[test]
fn check_settings_text_lists_each_problem() {
    let dir = TempDir::new("check-settings-text");
    let policy = fake_policy(&dir, "p.wasm", |d, ops| {
        ops.validate_settings = d.respond(
            r#"{"valid":false,"message":"2 settings problems: tags.allowRegex[0] \"^v\\\\d+($\": not a regular expression; registries.allow[1] \"ghcr.io/\": a registry has no path"}"#,
        );
    });
    let run = imagegate(
        &[
            "check-settings",
            "--settings-json",
            "{}",
            "--policy",
            p(&policy),
            "-o",
            "text",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "settings are NOT valid: 2 settings problems\n  \
         - tags.allowRegex[0] \"^v\\d+($\": not a regular expression\n  \
         - registries.allow[1] \"ghcr.io/\": a registry has no path\n"
    );
    // Not a terminal, no -o: JSON, as before.
    let run = imagegate(
        &[
            "check-settings",
            "--settings-json",
            "{}",
            "--policy",
            p(&policy),
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("{\"valid\":false,"),
        "{}",
        run.stdout
    );
}

// ------------------------------------------- responses, via WAT test guests

#[test]
fn invalid_settings_exit_1_with_the_policy_message() {
    let dir = TempDir::new("invalid-settings");
    let policy = fake_policy(&dir, "p.wasm", |d, ops| {
        ops.validate_settings =
            d.respond(r#"{"valid":false,"message":"registries.allow[0]: bad"}"#);
    });
    let run = run_fake(&dir, &policy, &["--settings-json", r#"{"registries":{}}"#]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr.trim_end(),
        "imagegate: error: provided settings are not valid: registries.allow[0]: bad"
    );

    let settings = dir.file("settings.yaml", "registries:\n  allow: [x]\n");
    let run = imagegate(
        &[
            "check-settings",
            "--settings",
            p(&settings),
            "--policy",
            p(&policy),
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "{\"valid\":false,\"message\":\"registries.allow[0]: bad\"}\n"
    );
}

#[test]
fn rejection_has_status_warnings_and_annotations_in_kwctl_order() {
    let dir = TempDir::new("rejection");
    let policy = fake_policy(&dir, "p.wasm", |d, ops| {
        ops.validate = d.respond(
            r#"{"accepted":false,"message":"1 image violation","code":403,"mutated_object":null,"audit_annotations":{"k":"v"},"warnings":["w1"]}"#,
        );
    });
    let run = run_fake(&dir, &policy, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "{\"uid\":\"uid-fake\",\"allowed\":false,\"status\":{\"message\":\"1 image violation\",\"code\":403},\"auditAnnotations\":{\"k\":\"v\"},\"warnings\":[\"w1\"]}\n"
    );
    let run = run_fake(&dir, &policy, &["--output", "validation"]);
    assert_eq!(
        run.stdout,
        "{\"accepted\":false,\"message\":\"1 image violation\",\"code\":403,\"mutated_object\":null,\"audit_annotations\":{\"k\":\"v\"},\"warnings\":[\"w1\"]}\n"
    );
}

#[test]
fn mutation_becomes_a_json_patch() {
    let dir = TempDir::new("mutation");
    let mut mutated = pod_request("x")["object"].clone();
    mutated["spec"]["containers"][0]["image"] = json!("ghcr.io/org/web:1.0@sha256:0123");
    let reply = json!({"accepted": true, "mutated_object": mutated}).to_string();
    let policy = fake_policy(&dir, "p.wasm", |d, ops| ops.validate = d.respond(&reply));
    let expected = json!([{"op": "replace", "path": "/spec/containers/0/image",
                           "value": "ghcr.io/org/web:1.0@sha256:0123"}]);

    let run = run_fake(&dir, &policy, &[]);
    let response = run.json_line();
    assert!(
        run.stdout
            .starts_with(r#"{"uid":"uid-fake","allowed":true,"patchType":"JSONPatch","patch":""#)
    );
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().expect("patch"))
        .expect("base64");
    assert_eq!(
        serde_json::from_slice::<Value>(&patch).expect("JSON"),
        expected
    );

    let run = run_fake(&dir, &policy, &["--patch"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).expect("JSON"),
        expected
    );
    assert!(run.stdout.lines().count() > 1, "pretty printed");

    let run = run_fake(&dir, &policy, &["--output", "text"]);
    assert_eq!(run.stdout, "ALLOWED\nMUTATED: 1 patch operation\n");

    let accepting = fake_policy(&dir, "q.wasm", |_, _| {});
    let run = run_fake(&dir, &accepting, &["--patch"]);
    assert_eq!(run.stdout, "[]\n");
}

#[test]
fn guest_error_is_an_internal_server_error() {
    let dir = TempDir::new("guest-error");
    let policy = fake_policy(&dir, "p.wasm", |d, ops| ops.validate = d.fail("boom"));
    let run = run_fake(&dir, &policy, &[]);
    assert_eq!(
        internal_error_message(&run),
        "internal server error: guest call failure: boom"
    );
    assert_eq!(run.json_line()["uid"], json!("uid-fake"));
}

#[test]
fn unparseable_reply_is_an_internal_server_error() {
    let dir = TempDir::new("bad-reply");
    let policy = fake_policy(&dir, "p.wasm", |d, ops| {
        ops.validate = d.respond("not json")
    });
    let message = internal_error_message(&run_fake(&dir, &policy, &[]));
    assert!(message.contains("is not a ValidationResponse"), "{message}");
}

#[test]
fn out_of_range_guest_pointers_fail_the_evaluation_not_the_host() {
    let dir = TempDir::new("bad-pointers");
    let cases = [
        // past the end of the 4-page memory
        (
            "response-past-end",
            "(call $guest_response (i32.const 262100) (i32.const 100)) (i32.const 1)",
        ),
        // ptr + len overflows 32 bits
        (
            "response-overflow",
            "(call $guest_response (i32.const -16) (i32.const 64)) (i32.const 1)",
        ),
        // a negative length is 4 GiB - 1
        (
            "error-huge-len",
            "(call $guest_error (i32.const 16) (i32.const -1)) (i32.const 0)",
        ),
        // the host writes the request outside memory
        (
            "request-past-end",
            "(call $guest_request (i32.const 262140) (i32.const 0)) (i32.const 1)",
        ),
        // host call arguments outside memory
        (
            "host-call",
            "(drop (call $host_call (i32.const 16) (i32.const -1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))) (i32.const 1)",
        ),
    ];
    for (name, instrs) in cases {
        let policy = fake_policy(&dir, &format!("{name}.wasm"), |_, ops| {
            ops.validate = instrs.to_owned()
        });
        let message = internal_error_message(&run_fake(&dir, &policy, &[]));
        assert!(
            message.contains("policy trapped in validate: "),
            "{name}: {message}"
        );
        assert!(
            message.contains("is outside the guest's linear memory (262144 bytes)"),
            "{name}: {message}"
        );
    }
}

#[test]
fn success_without_a_response_is_an_error() {
    let dir = TempDir::new("no-response");
    let policy = fake_policy(&dir, "p.wasm", |_, ops| {
        ops.validate = "(i32.const 1)".into()
    });
    let message = internal_error_message(&run_fake(&dir, &policy, &[]));
    assert!(
        message.contains("policy returned success from validate without a response"),
        "{message}"
    );
}

#[test]
fn traps_time_and_memory_limits_are_worded() {
    let dir = TempDir::new("limits");
    let unreachable = fake_policy(&dir, "unreachable.wasm", |_, ops| {
        ops.validate = "unreachable".into()
    });
    let message = internal_error_message(&run_fake(&dir, &unreachable, &[]));
    assert!(
        message.contains("policy trapped in validate: "),
        "{message}"
    );
    assert!(message.contains("unreachable"), "{message}");

    let endless = fake_policy(&dir, "loop.wasm", |_, ops| {
        ops.validate = "(loop $l (br $l)) (i32.const 1)".into()
    });
    let message = internal_error_message(&run_fake(&dir, &endless, &["--timeout-ms", "300"]));
    assert_eq!(
        message,
        "internal server error: policy exceeded its time limit of 300ms (in validate)"
    );

    let greedy = fake_policy(&dir, "grow.wasm", |_, ops| {
        ops.validate = "(drop (memory.grow (i32.const 1000))) (i32.const 1)".into();
    });
    let message = internal_error_message(&run_fake(&dir, &greedy, &["--memory-limit-mib", "16"]));
    assert_eq!(
        message,
        "internal server error: policy ran out of memory (limit 16 MiB) in validate"
    );

    let too_big_to_start = dir.file(
        "big.wasm",
        wat::parse_str(
            r#"(module (memory (export "memory") 2000)
                 (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 0)))"#,
        )
        .expect("wat"),
    );
    // A policy that cannot even start is a policy problem (exit 2), not
    // invalid settings.
    let run = run_fake(&dir, &too_big_to_start, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .ends_with("cannot start: policy ran out of memory (limit 64 MiB) in instantiation\n"),
        "{}",
        run.stderr
    );
}

/// A guest whose `validate` looks up `busybox:1.36` and accepts when the host
/// answers, or fails with the host's error as its own.
fn digest_lookup_policy(dir: &TempDir) -> PathBuf {
    digest_lookup_policy_for(dir, "busybox:1.36")
}

/// [`digest_lookup_policy`] for `image`.
fn digest_lookup_policy_for(dir: &TempDir, image: &str) -> PathBuf {
    host_call_policy(
        dir,
        ["kubewarden", "oci", "v1/manifest_digest"],
        &json!(image).to_string(),
    )
}

/// A guest whose `validate` makes one host call and accepts when the host
/// answers, or fails with the host's error as its own. Both branches pass a
/// loop header after the call, where wasmtime checks the epoch deadline.
fn host_call_policy(
    dir: &TempDir,
    [binding, namespace, operation]: [&str; 3],
    payload: &str,
) -> PathBuf {
    fake_policy(dir, "p.wasm", |d, ops| {
        let (b, bl) = d.add(binding);
        let (n, nl) = d.add(namespace);
        let (o, ol) = d.add(operation);
        let (m, ml) = d.add(payload);
        let ok = d.respond(r#"{"accepted":true}"#);
        // On failure, hand the host's error back as the guest error.
        ops.validate = format!(
            "(if (result i32) (call $host_call (i32.const {b}) (i32.const {bl}) (i32.const {n}) (i32.const {nl}) \
                                                (i32.const {o}) (i32.const {ol}) (i32.const {m}) (i32.const {ml}))
               (then (loop) {ok})
               (else (loop)
                     (call $host_error (i32.const 131072))
                     (call $guest_error (i32.const 131072) (call $host_error_len))
                     (i32.const 0)))"
        );
    })
}

#[test]
fn host_capabilities_are_refused_with_a_reason() {
    let dir = TempDir::new("capabilities");
    let policy = digest_lookup_policy(&dir);
    let message = internal_error_message(&run_fake(&dir, &policy, &["--offline"]));
    assert_eq!(
        message,
        "internal server error: guest call failure: host capability \
         kubewarden/oci/v1/manifest_digest is not available: imagegate was started with --offline"
    );
    let dns = host_call_policy(
        &dir,
        ["kubewarden", "net", "v1/dns_lookup_host"],
        "\"example.com\"",
    );
    let message = internal_error_message(&run_fake(&dir, &dns, &[]));
    assert_eq!(
        message,
        "internal server error: guest call failure: host capability \
         kubewarden/net/v1/dns_lookup_host is not implemented in this version of imagegate"
    );
}

/// A port on 127.0.0.1 that refuses connections: bound, then closed.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn registry_failures_are_one_line_naming_the_registry() {
    let dir = TempDir::new("registry-down");
    let registry = format!("127.0.0.1:{}", closed_port());
    let policy = digest_lookup_policy_for(&dir, &format!("{registry}/app:1"));
    let message = internal_error_message(&run_fake(
        &dir,
        &policy,
        &["--insecure-registry", &registry],
    ));
    assert_eq!(
        message,
        format!(
            "internal server error: guest call failure: registry {registry}: connection refused"
        )
    );
    // HTTPS unless named: the same closed port, refused before any TLS.
    let message = internal_error_message(&run_fake(&dir, &policy, &[]));
    assert!(
        message.ends_with(&format!("registry {registry}: connection refused")),
        "{message}"
    );

    let bad = digest_lookup_policy_for(&dir, "[::1:5000/app:1");
    let message = internal_error_message(&run_fake(&dir, &bad, &[]));
    assert_eq!(
        message,
        "internal server error: guest call failure: cannot read \"[::1:5000/app:1\" as an image \
         reference: unclosed [ in the registry"
    );
}

#[test]
fn time_waiting_on_a_registry_does_not_count_against_the_policy_time_limit() {
    let dir = TempDir::new("registry-hangs");
    // Accepts connections and never answers; the test holds them until the end.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let registry = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < until {
            match listener.accept() {
                Ok((connection, _)) => connections.push(connection),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
            if connections.len() >= 2 {
                break;
            }
        }
        connections
    });
    let policy = digest_lookup_policy_for(&dir, &format!("{registry}/app:1"));
    // The guest may run 50 ms; the lookup waits 600 ms. The verdict must be
    // the lookup's timeout, not the guest's.
    let message = internal_error_message(&run_fake(
        &dir,
        &policy,
        &[
            "--insecure-registry",
            &registry,
            "--lookup-timeout-ms",
            "600",
            "--timeout-ms",
            "50",
        ],
    ));
    assert_eq!(
        message,
        format!(
            "internal server error: guest call failure: registry {registry}: timeout after 600ms"
        )
    );
    drop(held);
}

#[test]
fn insecure_registries_are_written_as_images_name_them() {
    let run = imagegate(
        &[
            "run",
            "--request",
            "x.json",
            "--insecure-registry",
            "http://127.0.0.1:5000",
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "no scheme; write the registry as images name it, HOST[:PORT], e.g. 127.0.0.1:5000"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn recorded_host_answers_reach_the_guest() {
    let dir = TempDir::new("recorded");
    let policy = digest_lookup_policy(&dir);
    let digest = format!("sha256:{}", "a".repeat(64));
    let answers = dir.file(
        "answers.json",
        json!({"manifest_digest": {"busybox:1.36": digest}}).to_string(),
    );
    let run = run_fake(&dir, &policy, &["--host-capabilities", p(&answers)]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json_line()["allowed"], json!(true));

    // YAML too; a recorded failure is the host's error word for word.
    let failing = dir.file(
        "failing.yaml",
        "manifest_digest:\n  busybox:1.36: {error: \"manifest unknown: busybox:1.36\"}\n",
    );
    let message = internal_error_message(&run_fake(
        &dir,
        &policy,
        &["--host-capabilities", p(&failing)],
    ));
    assert_eq!(
        message,
        "internal server error: guest call failure: manifest unknown: busybox:1.36"
    );

    let empty = dir.file("empty.json", "{}");
    let message = internal_error_message(&run_fake(
        &dir,
        &policy,
        &["--host-capabilities", p(&empty)],
    ));
    assert_eq!(
        message,
        "internal server error: guest call failure: no answer recorded for busybox:1.36"
    );
}

#[test]
fn a_host_capabilities_file_with_unknown_keys_exits_2() {
    let dir = TempDir::new("recorded-bad");
    let policy = digest_lookup_policy(&dir);
    let typo = dir.file("typo.json", r#"{"manifest_digests": {}}"#);
    let run = run_fake(&dir, &policy, &["--host-capabilities", p(&typo)]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(&format!(
            "imagegate: error: host capabilities file \"{}\": unknown key \"manifest_digests\": \
             the file records only manifest_digest, oci_manifest, oci_manifest_config and verify answers, as \
             {{\"manifest_digest\": {{\"<image>\": \"sha256:...\" | {{\"error\": \"<message>\"}}}}, \
             \"oci_manifest\": ",
            p(&typo)
        )),
        "{}",
        run.stderr
    );
    let run = run_fake(
        &dir,
        &policy,
        &["--host-capabilities", p(&dir.path("missing.json"))],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("host capabilities file") && run.stderr.contains("cannot read it"),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------- annotate / inspect

/// Every custom section called `name`, read by hand (no shared code with the host).
fn custom_sections(module: &[u8], name: &str) -> Vec<Vec<u8>> {
    fn leb(bytes: &[u8], pos: &mut usize) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let byte = bytes[*pos];
            *pos += 1;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
    assert_eq!(&module[..8], b"\0asm\x01\0\0\0");
    let mut pos = 8;
    let mut found = Vec::new();
    while pos < module.len() {
        let id = module[pos];
        pos += 1;
        let size = leb(module, &mut pos);
        let end = pos + size;
        if id == 0 {
            let mut at = pos;
            let name_len = leb(module, &mut at);
            if &module[at..at + name_len] == name.as_bytes() {
                found.push(module[at + name_len..end].to_vec());
            }
        }
        pos = end;
    }
    found
}

const METADATA_YML: &str = "\
rules:
  - apiGroups: [\"\"]
    apiVersions: [\"v1\"]
    resources: [\"pods\", \"pods/ephemeralcontainers\"]
    operations: [\"CREATE\", \"UPDATE\"]
mutating: false
annotations:
  io.kubewarden.policy.title: imagegate
";

#[test]
fn annotate_then_inspect_round_trips() {
    let dir = TempDir::new("annotate");
    let metadata = dir.file("metadata.yml", METADATA_YML);
    let usage = dir.file("README.md", "# imagegate\n\nUsage text.\n");
    let annotated = dir.path("annotated.wasm");
    let policy = real_policy();
    let run = imagegate(
        &[
            "annotate",
            "--metadata",
            p(&metadata),
            "--usage",
            p(&usage),
            "--output-path",
            p(&annotated),
            p(&policy),
        ],
        None,
    );
    assert_eq!(run.code, 0);

    let bytes = std::fs::read(&annotated).expect("annotated module");
    let sections = custom_sections(&bytes, "io.kubewarden.metadata");
    assert_eq!(sections.len(), 1);
    let embedded: Value = serde_json::from_slice(&sections[0]).expect("metadata JSON");
    assert_eq!(embedded["protocolVersion"], json!("v1"));
    assert_eq!(embedded["mutating"], json!(false));
    assert_eq!(embedded["backgroundAudit"], json!(true));
    assert_eq!(embedded["executionMode"], json!("kubewarden-wapc"));
    assert_eq!(
        embedded["rules"][0]["resources"],
        json!(["pods", "pods/ephemeralcontainers"])
    );
    assert_eq!(
        embedded["annotations"]["io.kubewarden.policy.usage"],
        json!("# imagegate\n\nUsage text.\n")
    );
    // The original module is unchanged in front of the new section.
    let original = std::fs::read(&policy).expect("policy");
    assert_eq!(&bytes[..original.len()], &original[..]);

    let run = imagegate(&["inspect", "-o", "json", p(&annotated)], None);
    assert_eq!(run.code, 0);
    let inspected: Value = serde_json::from_str(&run.stdout).expect("inspect JSON");
    assert_eq!(inspected, embedded);
    let run = imagegate(&["inspect", p(&annotated)], None);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("protocolVersion: v1"), "{}", run.stdout);

    // Annotating again replaces the section instead of adding a second one.
    let twice = dir.path("twice.wasm");
    let run = imagegate(
        &[
            "annotate",
            "-m",
            p(&metadata),
            "--output-path",
            p(&twice),
            p(&annotated),
        ],
        None,
    );
    assert_eq!(run.code, 0);
    let bytes = std::fs::read(&twice).expect("annotated twice");
    assert_eq!(custom_sections(&bytes, "io.kubewarden.metadata").len(), 1);

    // And the annotated module still runs.
    let request = dir.file("request.json", pod_request("uid-annotated").to_string());
    let run = imagegate(
        &["run", "--request", p(&request), "--policy", p(&annotated)],
        None,
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.json_line()["uid"], json!("uid-annotated"));
}

#[test]
fn inspect_without_metadata_and_annotate_without_rules_fail_clearly() {
    let dir = TempDir::new("no-metadata");
    let policy = fake_policy(&dir, "p.wasm", |_, _| {});
    let run = imagegate(&["inspect", p(&policy)], None);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "imagegate: error: no Kubewarden metadata found inside {}",
            p(&policy)
        )
    );

    let metadata = dir.file("metadata.yml", "mutating: false\n");
    let out = dir.path("out.wasm");
    let run = imagegate(
        &[
            "annotate",
            "-m",
            p(&metadata),
            "--output-path",
            p(&out),
            p(&policy),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing required key(s): rules"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn annotate_stores_the_protocol_version_the_module_answers() {
    let dir = TempDir::new("protocol");
    let metadata = dir.file("metadata.yml", METADATA_YML);
    let out = dir.path("out.wasm");
    let unknown = fake_policy(&dir, "p.wasm", |d, ops| {
        ops.protocol_version = d.respond(r#""Unknown""#)
    });
    let run = imagegate(
        &[
            "annotate",
            "-m",
            p(&metadata),
            "--output-path",
            p(&out),
            p(&unknown),
        ],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("must have protocol version v1, found Unknown"),
        "{}",
        run.stderr
    );

    let v1 = fake_policy(&dir, "q.wasm", |_, _| {});
    let run = imagegate(
        &[
            "annotate",
            "-m",
            p(&metadata),
            "--output-path",
            p(&out),
            p(&v1),
        ],
        None,
    );
    assert_eq!(run.code, 0);
    let run = imagegate(&["inspect", "-o", "json", p(&out)], None);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).expect("JSON")["protocolVersion"],
        json!("v1")
    );
}

// ------------------------------------------------------------------- bench

#[test]
fn bench_prints_a_row_per_measurement() {
    let dir = TempDir::new("bench");
    let request = dir.file("deployment.yaml", DEPLOYMENT_YAML);
    let run = imagegate(
        &[
            "bench",
            "--request",
            p(&request),
            "--policy",
            p(&real_policy()),
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--fresh-instance",
        ],
        None,
    );
    assert_eq!(run.code, 0);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 6, "{}", run.stdout);
    for (row, (op, instance)) in rows[2..].iter().zip([
        ("validate", "reused"),
        ("validate_settings", "reused"),
        ("validate", "fresh"),
        ("validate_settings", "fresh"),
    ]) {
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&columns[..2], &[op, instance], "{row}");
        assert_eq!(columns.len(), 5, "{row}");
        for number in &columns[2..] {
            assert!(number.parse::<f64>().is_ok(), "{row}");
        }
    }
}

/// Checks an interleaved section of `bench` (heading, the `--policy` row,
/// the `other` row, and a ratio line with a positive p50 ratio).
fn interleaved_ratio(stdout: &str, what: &str, other: &str, ratio: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    let heading = format!("validate, {what}, interleaved in 20 rounds:");
    let at = lines
        .iter()
        .position(|l| *l == heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{stdout}"));
    assert!(lines[at + 1].starts_with("validate "), "{stdout}");
    assert!(
        lines[at + 2].trim_start().starts_with(&format!("{other} ")),
        "{stdout}"
    );
    let p50: f64 = lines[at + 3]
        .strip_prefix(&format!("ratio ({ratio}): p50 "))
        .and_then(|r| r.split('x').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", lines[at + 3]));
    assert!(p50 > 0.0, "{stdout}");
}

#[test]
fn bench_compare_interleaves_two_modules_and_prints_the_ratio() {
    let dir = TempDir::new("bench-compare");
    let request = dir.file("deployment.yaml", DEPLOYMENT_YAML);
    let other_settings = dir.file("other.yaml", "registries:\n  allow: [ghcr.io]\n");
    let policy = real_policy();
    let run = imagegate(
        &[
            "bench",
            "--request",
            p(&request),
            "--policy",
            p(&policy),
            "--iterations",
            "40",
            "--warmup",
            "1",
            "--compare",
            p(&policy),
            "--compare-settings",
            p(&other_settings),
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    interleaved_ratio(
        &run.stdout,
        "reused instances",
        "--compare",
        "--compare / --policy",
    );

    // Settings for the other module are read like --settings: a bad file is
    // an input error.
    let run = imagegate(
        &[
            "bench",
            "--request",
            p(&request),
            "--policy",
            p(&policy),
            "--compare",
            p(&policy),
            "--compare-settings",
            "/nonexistent/settings.yaml",
        ],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("/nonexistent/settings.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn bench_native_times_the_core_beside_the_module() {
    let dir = TempDir::new("bench-native");
    let request = dir.file("deployment.yaml", DEPLOYMENT_YAML);
    let settings = dir.file("settings.yaml", "registries:\n  allow: [ghcr.io]\n");
    let run_with = |policy: &Path| {
        imagegate(
            &[
                "bench",
                "--request",
                p(&request),
                "--settings",
                p(&settings),
                "--policy",
                p(policy),
                "--iterations",
                "40",
                "--warmup",
                "1",
                "--native",
            ],
            None,
        )
    };
    let run = run_with(&real_policy());
    assert_eq!(run.code, 0, "{}", run.stderr);
    interleaved_ratio(
        &run.stdout,
        "the module and the native core",
        "--native",
        "--policy / --native",
    );

    // A module that answers otherwise is not the same evaluation: refused,
    // with both answers shown.
    let other = fake_policy(&dir, "other.wasm", |_, _| {});
    let run = run_with(&other);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("answer differently") && run.stderr.contains(r#"{"accepted":true}"#),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------------ guest output

#[test]
fn guest_stdout_goes_to_stderr_so_stdout_stays_one_json_line() {
    let dir = TempDir::new("guest-stdout");
    let policy = dir.file(
        "p.wasm",
        wat::parse_str(
            r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 4)
  (data (i32.const 16) "hello from the guest\n")
  (data (i32.const 64) "{\"accepted\":true,\"valid\":true}")
  (data (i32.const 128) "\10\00\00\00\15\00\00\00")
  (func (export "__guest_call") (param i32 i32) (result i32)
    (call $guest_request (i32.const 65536) (i32.const 65600))
    ;; fd 1 (stdout) and fd 2 (stderr), one iovec at 128, bytes written at 256
    (drop (call $fd_write (i32.const 1) (i32.const 128) (i32.const 1) (i32.const 256)))
    (drop (call $fd_write (i32.const 2) (i32.const 128) (i32.const 1) (i32.const 256)))
    (call $guest_response (i32.const 64) (i32.const 30))
    (i32.const 1)))"#,
        )
        .expect("wat"),
    );
    let run = run_fake(&dir, &policy, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json_line()["allowed"], json!(true));
    // validate_settings and validate each wrote twice.
    assert_eq!(
        run.stderr.matches("hello from the guest").count(),
        4,
        "{}",
        run.stderr
    );
}

#[test]
fn request_and_settings_cannot_both_come_from_stdin() {
    let run = imagegate(
        &[
            "run",
            "--request",
            "-",
            "--settings",
            "-",
            "--policy",
            p(&real_policy()),
        ],
        Some("{}"),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot both read stdin"),
        "{}",
        run.stderr
    );
}
