//! imagegate's own answer to `kubewarden/oci/v2/verify`, against real
//! cosign signatures on a real registry (Debian's docker-registry on
//! loopback), through the built `imagegate` binary: `run` and `serve`.
//!
//! The guest here is a small WAT module that asks the host exactly one
//! verification (the payload the test gives it, as kubewarden-policy-sdk
//! writes it), logs the host's answer or error through `__console_log`
//! (imagegate prints it on stderr as `imagegate: policy log: …`), and
//! accepts when the host answered, rejects when it failed. So each test sees
//! exactly what the host gave the policy.
//!
//! Then the same signatures through the real `policy.wasm` and its
//! `signature` rule (settings `signatures`): one table of cases, each run
//! through `imagegate run` and through `imagegate serve`, with the same
//! verdicts expected from both.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "common/signing.rs"]
mod signing;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use signing::{
    CosignKey, Scratch, Signing, TestPki, TestRegistry, TestSigstore, free_port, openssl,
};

// ------------------------------------------------------------- the guest

/// A waPC guest whose `validate` asks `kubewarden/oci/v2/verify` with
/// `payload`, logs the answer or the error, and accepts exactly when the
/// host answered.
fn relay_guest(dir: &Path, payload: &Value) -> PathBuf {
    let payload = payload.to_string();
    let hex = |text: &str| -> String { text.bytes().map(|b| format!("\\{b:02x}")).collect() };
    let accepted = r#"{"accepted":true}"#;
    let rejected = r#"{"accepted":false,"message":"the host did not verify"}"#;
    let valid = r#"{"valid":true}"#;
    let version = r#""v1""#;
    // Offsets: binding 16, namespace 48, operation 64, responses 96..,
    // payload 1024; the host's answer is copied to 128 KiB.
    let wat = format!(
        r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__console_log" (func $console_log (param i32 i32)))
  (memory (export "memory") 4)
  (data (i32.const 16) "kubewarden")
  (data (i32.const 48) "oci")
  (data (i32.const 64) "v2/verify")
  (data (i32.const 96) "{accepted_hex}")
  (data (i32.const 160) "{rejected_hex}")
  (data (i32.const 256) "{valid_hex}")
  (data (i32.const 288) "{version_hex}")
  (data (i32.const 1024) "{payload_hex}")
  (func (export "wapc_init"))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $len i32)
    (call $guest_request (i32.const 65536) (i32.const 65600))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then (call $guest_response (i32.const 256) (i32.const {valid_len})) (return (i32.const 1))))
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (call $guest_response (i32.const 288) (i32.const {version_len})) (return (i32.const 1))))
    (if (call $host_call (i32.const 16) (i32.const 10) (i32.const 48) (i32.const 3)
                         (i32.const 64) (i32.const 9) (i32.const 1024) (i32.const {payload_len}))
      (then
        (local.set $len (call $host_response_len))
        (call $host_response (i32.const 131072))
        (call $console_log (i32.const 131072) (local.get $len))
        (call $guest_response (i32.const 96) (i32.const {accepted_len})))
      (else
        (local.set $len (call $host_error_len))
        (call $host_error (i32.const 131072))
        (call $console_log (i32.const 131072) (local.get $len))
        (call $guest_response (i32.const 160) (i32.const {rejected_len}))))
    (i32.const 1)))
"#,
        accepted_hex = hex(accepted),
        accepted_len = accepted.len(),
        rejected_hex = hex(rejected),
        rejected_len = rejected.len(),
        valid_hex = hex(valid),
        valid_len = valid.len(),
        version_hex = hex(version),
        version_len = version.len(),
        payload_hex = hex(&payload),
        payload_len = payload.len(),
    );
    assert!(
        payload.len() < 60_000,
        "the payload fits below the request buffer"
    );
    let path = dir.join(format!("relay-{}.wasm", free_port()));
    std::fs::write(&path, wat::parse_str(wat).expect("valid WAT")).expect("write guest");
    path
}

/// The built imagegate, with no registry credentials of the user's; the
/// compiled-module cache is the one `make test` names
/// (`IMAGEGATE_CACHE_DIR`), as for the other suites.
fn imagegate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command.env_remove("DOCKER_CONFIG");
    command
}

fn pod(image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": image}]}
    })
}

/// What the host told the guest: `Ok(answer JSON)` or `Err(error text)`.
type HostAnswer = Result<Value, String>;

/// Runs the relay guest through `imagegate run` with `extra` flags.
fn run_verify(dir: &Path, registry: &str, payload: &Value, extra: &[&str]) -> HostAnswer {
    let policy = relay_guest(dir, payload);
    let request = dir.join("pod.json");
    std::fs::write(&request, pod("app").to_string()).expect("request");
    let output = imagegate()
        .args(["run", "--request"])
        .arg(&request)
        .arg("--policy")
        .arg(&policy)
        .args(["--insecure-registry", registry])
        .args(extra)
        .output()
        .expect("imagegate runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("stdout {stdout}\nstderr {stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let response: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    let logged = stderr
        .lines()
        .find_map(|l| l.strip_prefix("imagegate: policy log: "))
        .expect("the guest logged the host's answer")
        .to_owned();
    if response["allowed"] == json!(true) {
        Ok(serde_json::from_str(&logged).expect("the answer is JSON"))
    } else {
        Err(logged)
    }
}

fn pub_key_request(
    image: &str,
    keys: &[&CosignKey],
    annotations: Option<&[(&str, &str)]>,
) -> Value {
    json!({
        "type": "SigstorePubKeyVerify",
        "image": image,
        "pub_keys": keys.iter().map(|k| k.public_pem.clone()).collect::<Vec<_>>(),
        "annotations": annotations.map(|a| a.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>()),
    })
}

fn trusted(digest: &str) -> HostAnswer {
    Ok(json!({"is_trusted": true, "digest": digest}))
}

/// One registry with images for every case, made once; `dir` is inside the
/// registry's own directory, removed with it when the tests end.
struct World {
    dir: Scratch,
    registry: TestRegistry,
    trusted: CosignKey,
    second: CosignKey,
    other: CosignKey,
}

fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let registry = TestRegistry::start("signatures-registry");
        let dir = Scratch(registry.dir().join("work"));
        std::fs::create_dir_all(&dir.0).expect("work dir");
        let trusted = CosignKey::generate(&dir.0, "trusted");
        let second = CosignKey::generate(&dir.0, "second");
        let other = CosignKey::generate(&dir.0, "other");
        World {
            dir,
            registry,
            trusted,
            second,
            other,
        }
    })
}

// ------------------------------------------------------------ public keys

#[test]
fn an_image_signed_by_the_trusted_key_is_trusted_at_its_digest() {
    let w = world();
    let digest = w.registry.push_image("team/signed", "v1", "signed");
    w.registry
        .sign("team/signed", &digest, &[Signing::by(&w.trusted)]);
    let image = format!("{}:v1", w.registry.image("team/signed"));
    let answer = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &pub_key_request(&image, &[&w.trusted], None),
        &[],
    );
    assert_eq!(answer, trusted(&digest));
    // Pinned: the digest written is the one verified.
    let pinned = format!("{}@{digest}", w.registry.image("team/signed"));
    let answer = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &pub_key_request(&pinned, &[&w.trusted], None),
        &[],
    );
    assert_eq!(answer, trusted(&digest));
}

#[test]
fn an_unsigned_image_has_no_signatures() {
    let w = world();
    let digest = w.registry.push_image("team/unsigned", "v1", "unsigned");
    let image = format!("{}:v1", w.registry.image("team/unsigned"));
    let answer = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &pub_key_request(&image, &[&w.trusted], None),
        &[],
    );
    let repo = w.registry.image("team/unsigned");
    assert_eq!(
        answer,
        Err(format!(
            "no signatures found for {repo}@{digest}: the registry has no {repo}:{}.sig",
            digest.replace(':', "-")
        ))
    );
}

#[test]
fn a_signature_by_another_key_does_not_count() {
    let w = world();
    let digest = w.registry.push_image("team/other-key", "v1", "other key");
    w.registry
        .sign("team/other-key", &digest, &[Signing::by(&w.other)]);
    let image = format!("{}:v1", w.registry.image("team/other-key"));
    let answer = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &pub_key_request(&image, &[&w.trusted], None),
        &[],
    );
    let message = answer.expect_err("not trusted");
    assert!(
        message.starts_with(&format!(
            "{}@{digest} is not signed as required: no signature by the public key (SHA256:",
            w.registry.image("team/other-key")
        )),
        "{message}"
    );
}

#[test]
fn a_signature_whose_payload_names_another_digest_does_not_count() {
    let w = world();
    let digest = w
        .registry
        .push_image("team/replayed", "v1", "replayed target");
    let elsewhere = w
        .registry
        .push_image("team/replayed", "v0", "what was signed");
    w.registry.sign(
        "team/replayed",
        &digest,
        &[Signing::by(&w.trusted).naming(&elsewhere)],
    );
    let image = format!("{}:v1", w.registry.image("team/replayed"));
    let answer = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &pub_key_request(&image, &[&w.trusted], None),
        &[],
    );
    let repo = w.registry.image("team/replayed");
    assert_eq!(
        answer,
        Err(format!(
            "no valid signature of {repo}@{digest}: {repo}:{}.sig holds no signature of this \
             digest that can be read (each names another digest, is malformed, or has a Rekor \
             bundle that no key of the trust root signed)",
            digest.replace(':', "-")
        ))
    );
}

#[test]
fn a_tag_moved_after_signing_is_verified_at_its_new_digest() {
    let w = world();
    let signed = w
        .registry
        .push_image("team/moved", "v1", "the signed build");
    w.registry
        .sign("team/moved", &signed, &[Signing::by(&w.trusted)]);
    let image = format!("{}:v1", w.registry.image("team/moved"));
    let request = pub_key_request(&image, &[&w.trusted], None);
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &request, &[]),
        trusted(&signed)
    );
    let moved = w
        .registry
        .push_image("team/moved", "v1", "pushed over the tag");
    assert_ne!(moved, signed);
    let message = run_verify(&w.dir.0, &w.registry.addr, &request, &[]).expect_err("unsigned now");
    assert!(
        message.starts_with(&format!(
            "no signatures found for {}@{moved}",
            w.registry.image("team/moved")
        )),
        "{message}"
    );
}

#[test]
fn required_annotations_must_be_in_a_signature_by_the_key() {
    let w = world();
    let digest = w.registry.push_image("team/annotated", "v1", "annotated");
    w.registry.sign(
        "team/annotated",
        &digest,
        &[
            Signing::by(&w.trusted).with(&[("env", "staging")]),
            // The right annotation, but by a key that does not count.
            Signing::by(&w.other).with(&[("env", "prod")]),
        ],
    );
    let image = format!("{}:v1", w.registry.image("team/annotated"));
    let staging = pub_key_request(&image, &[&w.trusted], Some(&[("env", "staging")]));
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &staging, &[]),
        trusted(&digest)
    );
    let prod = pub_key_request(&image, &[&w.trusted], Some(&[("env", "prod")]));
    let message =
        run_verify(&w.dir.0, &w.registry.addr, &prod, &[]).expect_err("no prod signature");
    assert!(
        message.contains("is not signed as required: signed by the public key (SHA256:"),
        "{message}"
    );
    assert!(
        message.ends_with("but no such signature carries the annotations env=prod"),
        "{message}"
    );
}

#[test]
fn every_listed_key_must_have_signed() {
    let w = world();
    let digest = w.registry.push_image("team/two-keys", "v1", "two keys");
    w.registry
        .sign("team/two-keys", &digest, &[Signing::by(&w.trusted)]);
    let image = format!("{}:v1", w.registry.image("team/two-keys"));
    let both = pub_key_request(&image, &[&w.trusted, &w.second], None);
    let message = run_verify(&w.dir.0, &w.registry.addr, &both, &[]).expect_err("one is missing");
    assert!(
        message.contains("is not signed as required: no signature by public key 2 (SHA256:"),
        "{message}"
    );
    assert!(!message.contains("public key 1"), "{message}");
    w.registry.sign(
        "team/two-keys",
        &digest,
        &[Signing::by(&w.trusted), Signing::by(&w.second)],
    );
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &both, &[]),
        trusted(&digest)
    );
}

#[test]
fn bad_requests_are_named_before_anything_is_fetched() {
    let w = world();
    // The registry part is unreachable: only the request is read.
    let image = "127.0.0.1:1/team/app:v1";
    let bad_key = json!({"type": "SigstorePubKeyVerify", "image": image,
                         "pub_keys": ["-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"],
                         "annotations": null});
    let message = run_verify(&w.dir.0, "127.0.0.1:1", &bad_key, &[]).expect_err("refused");
    assert!(
        message.starts_with("SigstorePubKeyVerify: pub_keys[0] is not a PEM public key (it is a \"CERTIFICATE\" block)"),
        "{message}"
    );
    let empty = json!({"type": "SigstorePubKeyVerify", "image": image, "pub_keys": [], "annotations": null});
    assert_eq!(
        run_verify(&w.dir.0, "127.0.0.1:1", &empty, &[]),
        Err("SigstorePubKeyVerify: pub_keys is empty; give at least one PEM public key".into())
    );
    let unknown = json!({"type": "SigstoreMagicVerify", "image": image});
    let message = run_verify(&w.dir.0, "127.0.0.1:1", &unknown, &[]).expect_err("refused");
    assert!(
        message.starts_with(
            "kubewarden/oci/v2/verify: the request is not a Sigstore verification request"
        ),
        "{message}"
    );
    assert!(
        message.contains("unknown variant `SigstoreMagicVerify`"),
        "{message}"
    );
    let keyless = json!({"type": "SigstoreKeylessVerify", "image": image,
                         "keyless": [{"issuer": "https://token.actions.githubusercontent.com", "subject": "x"}],
                         "annotations": null});
    assert_eq!(
        run_verify(&w.dir.0, "127.0.0.1:1", &keyless, &[]),
        Err(
            "keyless signatures cannot be verified: imagegate has no Sigstore trust root (start \
             it with --sigstore-trust-config FILE, a trusted_root.json)"
                .into()
        )
    );
}

#[test]
fn a_registry_that_is_down_or_hangs_is_a_failure_that_says_so() {
    let w = world();
    let down = format!("127.0.0.1:{}", free_port());
    let request = pub_key_request(&format!("{down}/team/app:v1"), &[&w.trusted], None);
    assert_eq!(
        run_verify(&w.dir.0, &down, &request, &[]),
        Err(format!("registry {down}: connection refused"))
    );
    // A listener that accepts and never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").expect("listener");
    let addr = hanging.local_addr().expect("addr").to_string();
    let pinned = format!("{addr}/team/app@sha256:{}", "a".repeat(64));
    let request = pub_key_request(&pinned, &[&w.trusted], None);
    assert_eq!(
        run_verify(&w.dir.0, &addr, &request, &["--lookup-timeout-ms", "300"]),
        Err(format!("registry {addr}: timeout after 300ms"))
    );
    drop(hanging);
}

#[test]
fn offline_refuses_verification() {
    let w = world();
    let request = pub_key_request("127.0.0.1:1/team/app:v1", &[&w.trusted], None);
    assert_eq!(
        run_verify(&w.dir.0, "127.0.0.1:1", &request, &["--offline"]),
        Err(
            "host capability kubewarden/oci/v2/verify is not available: imagegate was started \
             with --offline"
                .into()
        )
    );
}

// ------------------------------------------------------ certificate chain

#[test]
fn a_certificate_from_a_private_pki_verifies_against_its_chain() {
    let w = world();
    let pki_dir = Scratch::new("pki");
    let pki = TestPki::make(&pki_dir.0);
    let digest = w
        .registry
        .push_image("team/pki", "v1", "signed with a certificate");
    w.registry
        .sign("team/pki", &digest, &[Signing::by(&pki.leaf_key)]);
    let image = format!("{}:v1", w.registry.image("team/pki"));
    let request = |chain: Option<Vec<&str>>| {
        json!({"type": "SigstoreCertificateVerify", "image": image,
               "certificate": pki.leaf_pem.as_bytes(),
               "certificate_chain": chain.map(|c| c.iter().map(|p| p.as_bytes().to_vec()).collect::<Vec<_>>()),
               "require_rekor_bundle": false, "annotations": null})
    };
    let chain = vec![pki.intermediate_pem.as_str(), pki.root_pem.as_str()];
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &request(Some(chain)), &[]),
        trusted(&digest)
    );
    // Another root did not issue it.
    let message = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &request(Some(vec![pki.other_root_pem.as_str()])),
        &[],
    )
    .expect_err("not issued by that root");
    assert!(
        message.starts_with("SigstoreCertificateVerify: the certificate cannot be used to verify signatures or is not issued by certificate_chain"),
        "{message}"
    );
    // The certificate is right, but this image is signed by another key.
    let other = w
        .registry
        .push_image("team/pki-other", "v1", "someone else");
    w.registry
        .sign("team/pki-other", &other, &[Signing::by(&w.other)]);
    let mut wrong_signer = request(None);
    wrong_signer["image"] = json!(format!("{}:v1", w.registry.image("team/pki-other")));
    let message =
        run_verify(&w.dir.0, &w.registry.addr, &wrong_signer, &[]).expect_err("other key");
    assert!(
        message.contains("is not signed as required: no signature by the certificate (SHA256:"),
        "{message}"
    );
}

// ---------------------------------------------- keyless, offline trust root

#[test]
fn keyless_signatures_verify_against_an_offline_trust_root() {
    let w = world();
    let dir = Scratch::new("keyless");
    let sigstore = TestSigstore::make(&dir.0);
    let root = sigstore
        .trusted_root
        .to_str()
        .expect("UTF-8 path")
        .to_owned();
    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    let (key, proof) = sigstore.issue(
        "URI:https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1",
        ISSUER,
        Some("org/app"),
    );
    let digest = w
        .registry
        .push_image("team/keyless", "v1", "signed keylessly");
    w.registry
        .sign("team/keyless", &digest, &[Signing::by(&key).keyless(proof)]);
    let image = format!("{}:v1", w.registry.image("team/keyless"));
    let trust = ["--sigstore-trust-config", root.as_str()];
    let exact = json!({"type": "SigstoreKeylessVerify", "image": image, "annotations": null,
        "keyless": [{"issuer": ISSUER,
                     "subject": "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1"}]});
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &exact, &trust),
        trusted(&digest)
    );
    let prefix = json!({"type": "SigstoreKeylessPrefixVerify", "image": image, "annotations": null,
        "keyless_prefix": [{"issuer": ISSUER, "url_prefix": "https://github.com/org"}]});
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &prefix, &trust),
        trusted(&digest)
    );
    let github = json!({"type": "SigstoreGithubActionsVerify", "image": image, "owner": "org",
        "repo": "app", "annotations": null});
    assert_eq!(
        run_verify(&w.dir.0, &w.registry.addr, &github, &trust),
        trusted(&digest)
    );
    let elsewhere = json!({"type": "SigstoreGithubActionsVerify", "image": image, "owner": "org",
        "repo": "other", "annotations": null});
    assert!(
        run_verify(&w.dir.0, &w.registry.addr, &elsewhere, &trust)
            .expect_err("another repository")
            .ends_with(
                "is not signed as required: no signature by a GitHub Actions workflow of org/other"
            )
    );
    // The same signature, judged with a trust root of another instance: its
    // certificate is not trusted, so it is no keyless signature at all.
    let other_dir = Scratch::new("keyless-other");
    let other = TestSigstore::make(&other_dir.0);
    let other_root = other.trusted_root.to_str().expect("UTF-8 path").to_owned();
    let message = run_verify(
        &w.dir.0,
        &w.registry.addr,
        &exact,
        &["--sigstore-trust-config", other_root.as_str()],
    )
    .expect_err("not this instance's bundle");
    assert!(
        message.starts_with(&format!(
            "no valid signature of {}@{digest}",
            w.registry.image("team/keyless")
        )),
        "{message}"
    );
    // A signature by the same key without a bundle or certificate is no
    // keyless signature either.
    w.registry
        .sign("team/keyless", &digest, &[Signing::by(&key)]);
    let message =
        run_verify(&w.dir.0, &w.registry.addr, &exact, &trust).expect_err("no certificate");
    assert!(
        message.contains(
            "is not signed as required: no signature by the identity https://github.com/org/app/"
        ),
        "{message}"
    );
}

#[test]
fn a_bad_trust_root_stops_the_command_before_anything_runs() {
    let w = world();
    let dir = Scratch::new("bad-root");
    let root = dir.path("trusted_root.json");
    std::fs::write(&root, r#"{"tlogs": []}"#).expect("file");
    let request = dir.path("pod.json");
    std::fs::write(&request, pod("app").to_string()).expect("request");
    let policy = relay_guest(
        &dir.0,
        &pub_key_request("127.0.0.1:1/a:1", &[&w.trusted], None),
    );
    let output = imagegate()
        .args(["run", "--request"])
        .arg(&request)
        .arg("--policy")
        .arg(&policy)
        .arg("--sigstore-trust-config")
        .arg(&root)
        .output()
        .expect("imagegate runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "imagegate: error: Sigstore trust root {}: certificateAuthorities holds no certificate \
             valid now: keyless signatures could never be verified with it",
            root.display()
        )
    );
}

// ------------------------------------------------------------------ serve

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `imagegate serve` with the relay guest, a self-signed certificate, and
/// `extra` flags; waits for its start-up line.
fn serve(dir: &Path, policy: &Path, registry: &str, extra: &[&str]) -> Served {
    std::fs::write(dir.join("settings.json"), "{}").expect("settings");
    let mut flags = vec!["--insecure-registry", registry];
    flags.extend_from_slice(extra);
    serve_with_settings(dir, policy, &flags)
}

/// `imagegate serve` with `dir/settings.json`, a self-signed certificate
/// made in `dir`, and `flags`; waits for its start-up line.
fn serve_with_settings(dir: &Path, policy: &Path, flags: &[&str]) -> Served {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tls.key",
            "-out",
            "tls.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
    let mut child = imagegate()
        .arg("serve")
        .arg("--policy")
        .arg(policy)
        .arg("--settings")
        .arg(dir.join("settings.json"))
        .arg("--tls-cert")
        .arg(dir.join("tls.pem"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .args(["--addr", "127.0.0.1:0", "--instances", "2"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("imagegate serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("start-up line");
    let addr = line
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Served { child, addr }
}

/// curl against the server (Debian's curl, as the other registry suites).
fn curl(dir: &Path, served: &Served, path: &str, body: Option<&Value>) -> String {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(dir.join("tls.pem"))
        .arg(format!("https://{}{path}", served.addr));
    if let Some(body) = body {
        command.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
        ]);
    }
    let output = command.output().expect("curl (Debian package curl)");
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn serve_caches_a_verification_per_digest_and_counts_it() {
    let w = world();
    let digest = w.registry.push_image("team/served", "v1", "served");
    w.registry
        .sign("team/served", &digest, &[Signing::by(&w.trusted)]);
    let dir = Scratch::new("serve-signatures");
    let image = format!("{}:v1", w.registry.image("team/served"));
    let policy = relay_guest(&dir.0, &pub_key_request(&image, &[&w.trusted], None));
    let served = serve(
        &dir.0,
        &policy,
        &w.registry.addr,
        &["--verification-cache-ttl-ms", "60000"],
    );
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "operation": "CREATE", "object": pod("app")}});
    for _ in 0..3 {
        let answer: Value =
            serde_json::from_str(&curl(&dir.0, &served, "/validate", Some(&review))).expect("JSON");
        assert_eq!(answer["response"]["allowed"], json!(true), "{answer}");
    }
    let metrics = curl(&dir.0, &served, "/metrics", None);
    assert_eq!(
        metric(&metrics, "imagegate_signature_cache_misses_total"),
        1,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "imagegate_signature_cache_hits_total"),
        2,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "imagegate_signature_verification_failures_total"),
        0
    );
    assert_eq!(metric(&metrics, "imagegate_signature_cache_entries"), 1);

    // The tag moves to an unsigned build: a new digest, so no cache hit,
    // and the failure is counted (and not cached).
    w.registry
        .push_image("team/served", "v1", "unsigned, pushed over the tag");
    for _ in 0..2 {
        let answer: Value =
            serde_json::from_str(&curl(&dir.0, &served, "/validate", Some(&review))).expect("JSON");
        assert_eq!(answer["response"]["allowed"], json!(false), "{answer}");
    }
    let metrics = curl(&dir.0, &served, "/metrics", None);
    assert_eq!(
        metric(&metrics, "imagegate_signature_cache_misses_total"),
        3,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "imagegate_signature_verification_failures_total"),
        2
    );
    assert_eq!(metric(&metrics, "imagegate_signature_cache_hits_total"), 2);
    drop(served);
}

// ------------------------------------------------ through policy.wasm

/// One case of the end-to-end table: the image a Pod runs, and what both
/// hosts must answer.
struct EndToEnd {
    name: &'static str,
    image: String,
    /// `Ok(patched image)` (None: no patch), or `Err(text the denial holds)`.
    expect: Result<Option<String>, String>,
    /// A warning that must be present (warn mode).
    warning: Option<String>,
}

/// The images, signatures and settings of the end-to-end table, on the
/// shared registry; plus a registry that is down and one that hangs.
fn end_to_end_table(pki: &TestPki, hanging: &str) -> (Value, Vec<EndToEnd>) {
    let w = world();
    let r = &w.registry;
    let reg = r.addr.clone();
    let down = format!("127.0.0.1:{}", free_port());

    let signed = r.push_image("e2e/team/signed", "v1", "e2e signed");
    r.sign("e2e/team/signed", &signed, &[Signing::by(&w.trusted)]);
    r.push_image("e2e/team/unsigned", "v1", "e2e unsigned");
    let other = r.push_image("e2e/team/other-key", "v1", "e2e other key");
    r.sign("e2e/team/other-key", &other, &[Signing::by(&w.other)]);
    let replayed = r.push_image("e2e/team/replayed", "v1", "e2e replayed");
    let elsewhere = r.push_image("e2e/team/replayed", "v0", "e2e what was signed");
    r.sign(
        "e2e/team/replayed",
        &replayed,
        &[Signing::by(&w.trusted).naming(&elsewhere)],
    );
    let before = r.push_image("e2e/team/moved", "v1", "e2e moved, signed");
    r.sign("e2e/team/moved", &before, &[Signing::by(&w.trusted)]);
    let moved = r.push_image("e2e/team/moved", "v1", "e2e moved, pushed over");
    let annotated = r.push_image("e2e/annotated/app", "v1", "e2e annotated");
    r.sign(
        "e2e/annotated/app",
        &annotated,
        &[Signing::by(&w.trusted).with(&[("env", "staging")])],
    );
    let dual = r.push_image("e2e/dual/app", "v1", "e2e two keys");
    r.sign("e2e/dual/app", &dual, &[Signing::by(&w.trusted)]);
    r.push_image("e2e/team/exempt", "v1", "e2e exempt");
    r.push_image("e2e/elsewhere/app", "v1", "e2e outside every scope");
    r.push_image("e2e/warned/app", "v1", "e2e warn mode");
    let pki_signed = r.push_image("e2e/pki/app", "v1", "e2e certificate");
    r.sign("e2e/pki/app", &pki_signed, &[Signing::by(&pki.leaf_key)]);

    let settings = json!({
        "signatures": [
            {"repository": format!("{reg}/e2e/team"), "keys": [w.trusted.public_pem]},
            {"repository": format!("{reg}/e2e/annotated"), "keys": [w.trusted.public_pem],
             "annotations": {"env": "prod"}},
            {"repository": format!("{reg}/e2e/dual"), "keys": [w.trusted.public_pem, w.second.public_pem],
             "threshold": 2},
            {"repository": format!("{reg}/e2e/pki"),
             "certificates": [{"certificate": pki.leaf_pem, "chain": [pki.intermediate_pem, pki.root_pem]}]},
            {"registry": down, "keys": [w.trusted.public_pem]},
            {"registry": hanging, "keys": [w.trusted.public_pem]},
        ],
        "digests": {"resolve": "AttemptRewrite"},
        "exemptImages": [format!("{reg}/e2e/team/exempt")],
    });
    let img = |repo: &str| format!("{reg}/{repo}:v1");
    let denied = |needle: String| Err(needle);
    let cases = vec![
        EndToEnd {
            name: "signed by the trusted key: admitted, pinned to the verified digest",
            image: img("e2e/team/signed"),
            expect: Ok(Some(format!("{}@{signed}", img("e2e/team/signed")))),
            warning: None,
        },
        EndToEnd {
            name: "unsigned",
            image: img("e2e/team/unsigned"),
            expect: denied("no signatures found for".into()),
            warning: None,
        },
        EndToEnd {
            name: "signed by another key",
            image: img("e2e/team/other-key"),
            expect: denied("is not signed as required: no signature by the public key".into()),
            warning: None,
        },
        EndToEnd {
            name: "the payload names another digest",
            image: img("e2e/team/replayed"),
            expect: denied(format!(
                "no valid signature of {reg}/e2e/team/replayed@{replayed}"
            )),
            warning: None,
        },
        EndToEnd {
            name: "a tag moved after signing",
            image: img("e2e/team/moved"),
            expect: denied(format!(
                "no signatures found for {reg}/e2e/team/moved@{moved}"
            )),
            warning: None,
        },
        EndToEnd {
            name: "a required annotation is missing",
            image: img("e2e/annotated/app"),
            expect: denied("but no such signature carries the annotations env=prod".into()),
            warning: None,
        },
        EndToEnd {
            name: "two keys required, one present",
            image: img("e2e/dual/app"),
            expect: denied("is not signed as required: no signature by the public key".into()),
            warning: None,
        },
        EndToEnd {
            name: "the registry is down",
            image: format!("{down}/team/app:v1"),
            expect: denied(format!("registry {down}: connection refused")),
            warning: None,
        },
        EndToEnd {
            name: "the registry hangs",
            image: format!("{hanging}/team/app@sha256:{}", "b".repeat(64)),
            expect: denied(format!("registry {hanging}: timeout after 500ms")),
            warning: None,
        },
        EndToEnd {
            name: "outside every scope: not verified, only resolved",
            image: img("e2e/elsewhere/app"),
            expect: Ok(Some(String::new())),
            warning: None,
        },
        EndToEnd {
            name: "an exempt image is not verified",
            image: img("e2e/team/exempt"),
            expect: Ok(None),
            warning: None,
        },
        EndToEnd {
            name: "a certificate chained to a private CA",
            image: img("e2e/pki/app"),
            expect: Ok(Some(format!("{}@{pki_signed}", img("e2e/pki/app")))),
            warning: None,
        },
    ];
    (settings, cases)
}

/// The verdict `response` (an AdmissionResponse, from run or serve) gives,
/// checked against the case; the patched image is read from the JSON Patch.
fn check_end_to_end(case: &EndToEnd, response: &Value) -> Result<(), String> {
    use base64::Engine as _;
    let allowed = response["allowed"] == json!(true);
    let message = response["status"]["message"].as_str().unwrap_or_default();
    let patched: Option<String> = response["patch"].as_str().map(|p| {
        let patch: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(p)
                .expect("base64 patch"),
        )
        .expect("JSON patch");
        patch
            .as_array()
            .and_then(|ops| {
                ops.iter()
                    .find(|op| op["path"].as_str().is_some_and(|p| p.ends_with("/image")))
            })
            .and_then(|op| op["value"].as_str())
            .unwrap_or_default()
            .to_owned()
    });
    let fail = |why: String| Err(format!("{}: {why}; response {response}", case.name));
    match &case.expect {
        Ok(expected) => {
            if !allowed {
                return fail("denied".into());
            }
            match (expected.as_deref(), patched.as_deref()) {
                (None, None) => {}
                // Resolved to some digest: any pin of the written image.
                (Some(""), Some(p)) if p.starts_with(&format!("{}@sha256:", case.image)) => {}
                (Some(e), Some(p)) if e == p => {}
                (e, p) => return fail(format!("patched image {p:?}, expected {e:?}")),
            }
        }
        Err(needle) => {
            if allowed {
                return fail("admitted".into());
            }
            if !message.contains("[signature]") || !message.contains(needle.as_str()) {
                return fail(format!("message lacks {needle:?} [signature]"));
            }
        }
    }
    if let Some(warning) = &case.warning {
        let warnings = response["warnings"].to_string();
        if !warnings.contains(warning.as_str()) {
            return fail(format!("no warning {warning:?}"));
        }
    }
    Ok(())
}

fn review_of(uid: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "name": "app", "namespace": "default", "operation": "CREATE",
                    "userInfo": {"username": "admin"}, "object": pod(image)}})
}

#[test]
fn the_signature_rule_gives_the_same_verdicts_through_run_and_serve() {
    let w = world();
    let dir = Scratch(w.registry.dir().join("e2e"));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let pki = TestPki::make(&dir.0);
    let hanging = TcpListener::bind("127.0.0.1:0").expect("listener");
    let hanging_addr = hanging.local_addr().expect("addr").to_string();
    let (settings, mut cases) = end_to_end_table(&pki, &hanging_addr);
    let settings_file = dir.path("settings.json");
    std::fs::write(&settings_file, settings.to_string()).expect("settings");
    // Warn mode: the same unsigned image, only warned about.
    let mut warn_settings = settings.clone();
    warn_settings["actions"] = json!({"signature": "warn"});
    let warn_file = dir.path("settings-warn.json");
    std::fs::write(&warn_file, warn_settings.to_string()).expect("settings");
    let unsigned = format!("{}/e2e/team/unsigned:v1", w.registry.addr);
    let flags = [
        "--insecure-registry",
        w.registry.addr.as_str(),
        "--insecure-registry",
        hanging_addr.as_str(),
        "--lookup-timeout-ms",
        "500",
    ];
    let policy = common::real_policy();
    let mut failures = Vec::new();

    // imagegate run, one process per case.
    let run = |settings: &Path, image: &str| -> Value {
        let request = dir.path("review.json");
        std::fs::write(&request, review_of("run", image).to_string()).expect("review");
        let output = imagegate()
            .args(["run", "--request"])
            .arg(&request)
            .arg("--settings")
            .arg(settings)
            .arg("--policy")
            .arg(&policy)
            .args(flags)
            .output()
            .expect("imagegate run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
    };
    for case in &cases {
        if let Err(e) = check_end_to_end(case, &run(&settings_file, &case.image)) {
            failures.push(format!("run: {e}"));
        }
    }
    let warn_case = EndToEnd {
        name: "warn mode: an unsigned image is admitted with a warning",
        image: unsigned.clone(),
        expect: Ok(Some(String::new())),
        warning: Some("no signatures found for".into()),
    };
    if let Err(e) = check_end_to_end(&warn_case, &run(&warn_file, &unsigned)) {
        failures.push(format!("run: {e}"));
    }

    // imagegate serve, the same cases, one server per settings file.
    for (file, cases) in [
        (&settings_file, &mut cases),
        (&warn_file, &mut vec![warn_case]),
    ] {
        let served_dir = Scratch(dir.path(&format!("serve-{}", free_port())));
        std::fs::create_dir_all(&served_dir.0).expect("dir");
        std::fs::copy(file, served_dir.path("settings.json")).expect("settings");
        let served = serve_with_settings(&served_dir.0, &policy, &flags);
        for case in cases.iter() {
            // /mutate: the pins come back as a patch (/validate only judges).
            let body = curl(
                &served_dir.0,
                &served,
                "/mutate",
                Some(&review_of("serve", &case.image)),
            );
            let review: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            if let Err(e) = check_end_to_end(case, &review["response"]) {
                failures.push(format!("serve: {e}"));
            }
        }
    }
    drop(hanging);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// -------------------------------------------------------------- benchmark

/// Per-request times (seconds) of `count` AdmissionReviews sent over one
/// keep-alive connection (one curl process, `-w %{time_total}` per
/// transfer).
fn timed_requests(dir: &Path, served: &Served, review: &Value, count: usize) -> Vec<f64> {
    let body = dir.join("review.json");
    std::fs::write(&body, review.to_string()).expect("review");
    let url = format!("https://{}/validate", served.addr);
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "120", "-w", "%{time_total}\\n"])
        .arg("--cacert")
        .arg(dir.join("tls.pem"))
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()));
    for _ in 0..count {
        // `-o` applies to one URL: each gets its own.
        command.args(["-o", "/dev/null"]).arg(&url);
    }
    let output = command.output().expect("curl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().parse::<f64>().expect("a time"))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `make bench`: what one verification costs in `imagegate serve`, cold
/// (the cache off: the digest lookup, the `.sig` manifest and its layers
/// from the loopback registry, the ECDSA check) and cached, for a tagged
/// image (a `HEAD` for the digest on every request) and a pinned one.
/// Servers are measured in interleaved rounds so that the machine's load
/// hits all alike. Not a test: it asserts nothing about time.
#[test]
#[ignore = "a measurement, run by `make bench`"]
fn bench_verification_cold_and_cached() {
    let w = world();
    let digest = w.registry.push_image("bench/app", "v1", "benchmarked");
    w.registry
        .sign("bench/app", &digest, &[Signing::by(&w.trusted)]);
    let tagged = format!("{}:v1", w.registry.image("bench/app"));
    let pinned = format!("{}@{digest}", w.registry.image("bench/app"));
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "b", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "operation": "CREATE", "object": pod("app")}});
    let rounds = 10;
    let per_round = 20;
    let mut rows = Vec::new();
    let mut servers = Vec::new();
    for (label, image, ttl) in [
        ("tagged, cold (cache off)", &tagged, "0"),
        ("tagged, cached", &tagged, "60000"),
        ("pinned, cold (cache off)", &pinned, "0"),
        ("pinned, cached", &pinned, "60000"),
    ] {
        let dir = Scratch::new("bench-verify");
        let policy = relay_guest(&dir.0, &pub_key_request(image, &[&w.trusted], None));
        let served = serve(
            &dir.0,
            &policy,
            &w.registry.addr,
            &["--verification-cache-ttl-ms", ttl],
        );
        // Warm: the connection, the instances, and (cached) the entry.
        timed_requests(&dir.0, &served, &review, 5);
        servers.push((label, dir, served, Vec::new()));
    }
    for _ in 0..rounds {
        for (_, dir, served, times) in &mut servers {
            times.extend(timed_requests(&dir.0, served, &review, per_round));
        }
    }
    println!(
        "\nsignature verification through imagegate serve ({} requests each, {rounds} interleaved \
         rounds, one keep-alive connection, loopback docker-registry, relay guest):",
        rounds * per_round
    );
    for (label, _, _, times) in &mut servers {
        times.sort_by(f64::total_cmp);
        let (p50, p90) = (percentile(times, 0.5), percentile(times, 0.9));
        println!(
            "  {label:<26} p50 {:>8.3} ms   p90 {:>8.3} ms",
            p50 * 1e3,
            p90 * 1e3
        );
        rows.push(p50);
    }
    println!(
        "  cold/cached (p50): tagged {:.1}x, pinned {:.1}x",
        rows[0] / rows[1],
        rows[2] / rows[3]
    );
}
