//! `imagegate serve` end to end: the built binary serving over real HTTPS on
//! loopback, with a CA and a server certificate the test makes (openssl
//! CLI), and a client that trusts only that CA (rustls).
//!
//! * every case of `testdata/cases/*.json` through `/mutate` and `/validate`,
//!   with the expectations `host/tests/cases.rs` checks for `imagegate run`
//!   (one server per distinct settings; `/validate` gives the same verdict
//!   without the patch); cases whose settings are not valid must stop the
//!   server at start-up with the message `imagegate run` gives;
//! * what is not an `admission.k8s.io/v1` AdmissionReview gets 400, a body
//!   over 3 MiB 413, other methods 405, other paths 404;
//! * a policy that loops forever is denied with the time-limit message, and
//!   the server goes on answering (the instance is replaced);
//! * SIGHUP reloads the settings and changes the verdict; settings that are
//!   not valid are refused and the old ones stay; a changed file is picked
//!   up without a signal;
//! * SIGHUP, then SIGTERM, while requests are in flight: every one of them
//!   is answered, then the server exits 0;
//! * SIGHUP after a certificate renewal: the new certificate is served; a
//!   key that does not match is refused and the renewed pair stays;
//! * settings that are not valid, or a missing certificate, stop start-up.
//!
//! The tests fail, never skip, when policy.wasm is missing: run
//! `make policy.wasm` first (or set `IMAGEGATE_TEST_POLICY`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

mod common;

use common::{case_fixture, case_object, failures_in_parallel, real_policy, root};

/// A directory of one test, under cargo's temporary directory for
/// integration tests (`target/tmp`), removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("imagegate-serve-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scratch(name: &str) -> Scratch {
    Scratch(scratch_path(name))
}

/// The test CA and a certificate for `localhost` and 127.0.0.1 signed by it.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        // Kept for the whole process (the tests share it), in target/tmp.
        let dir = scratch_path("pki");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=imagegate test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&dir, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "tls.key",
            "-out",
            "tls.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&dir, &csr);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "tls.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tls.crt",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        Pki {
            ca: dir.join("ca.crt"),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    })
}

/// A client config that trusts the test CA only.
fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&pki().ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }))
}

/// One HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }
}

/// One request over a new TLS connection (`Connection: close`).
fn https(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(client_config(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    tls.flush().unwrap();
    let mut raw = Vec::new();
    if let Err(error) = tls.read_to_end(&mut raw) {
        // A peer that closes without close_notify: what arrived is the answer.
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw)));
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The leaf certificate the server presents.
fn served_certificate(addr: SocketAddr) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut connection = rustls::ClientConnection::new(client_config(), name).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp).unwrap();
    }
    connection.peer_certificates().unwrap()[0].to_vec()
}

/// The first certificate of a PEM file.
fn certificate_in(path: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// A running `imagegate serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// The plain-HTTP metrics address, under `--metrics-addr`.
    metrics_addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

/// `imagegate serve` with the test certificate on a free port, and `extra` flags.
fn serve_command(policy: &Path, settings: &Path, extra: &[&str]) -> Command {
    let pki = pki();
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command
        .arg("serve")
        .arg("--policy")
        .arg(policy)
        .arg("--settings")
        .arg(settings)
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&pki.key)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .env_remove("IMAGEGATE_POLICY")
        .stdin(Stdio::null());
    command
}

impl Server {
    fn start(policy: &Path, settings: &Path, extra: &[&str]) -> Server {
        Server::spawn(serve_command(policy, settings, extra))
    }

    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("https://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not start: stdout {line:?}, stderr {:?}",
                    stderr.lock().unwrap()
                )
            });
        let metrics_addr = line
            .split("metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok());
        Server {
            child,
            addr,
            metrics_addr,
            stderr,
        }
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        https(self.addr, "POST", path, body.to_string().as_bytes())
    }

    /// A metric's value, from the plain-HTTP port when there is one.
    fn metric(&self, line_start: &str) -> Option<f64> {
        let text = match self.metrics_addr {
            Some(addr) => {
                let mut tcp = TcpStream::connect(addr).unwrap();
                tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut text = String::new();
                tcp.read_to_string(&mut text).unwrap();
                text
            }
            None => https(self.addr, "GET", "/metrics", b"").text(),
        };
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
    }

    /// A metric's value read over a new TLS connection; `None` when the
    /// server did not take the connection.
    fn metric_on_new_connection(&self, line_start: &str) -> Option<f64> {
        let mut client = KeepAlive::connect(self.addr)?;
        if !client.send("GET", "/metrics", "Connection: close\r\n", b"") {
            return None;
        }
        let (_, _, body) = client.receive()?;
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
    }

    /// Polls every 20 ms while `waiting` holds; fails after 30 s, saying
    /// `what` never happened, with the server's stderr.
    fn wait_while(&self, what: &str, mut waiting: impl FnMut() -> bool) {
        let start = Instant::now();
        while waiting() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{what}; stderr: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until `metric` reaches `value`.
    fn wait_for_metric(&self, metric: &str, value: f64) {
        self.wait_while(&format!("{metric} never reached {value}"), || {
            self.metric(metric) < Some(value)
        });
    }

    /// Waits (bounded) until the server's stderr contains `text`.
    fn wait_for_log(&self, text: &str) {
        self.wait_while(&format!("no {text:?} on stderr"), || {
            !self.stderr.lock().unwrap().contains(text)
        });
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn review(request: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// A CREATE request for `object`, as `imagegate run` wraps a plain object
/// (the core's `wrap::wrap_object`, which run and the JS entry use).
fn wrapped(object: Value) -> Value {
    match object {
        Value::Object(map) => imagegate_policy::wrap::wrap_object(map).unwrap(),
        other => panic!("not an object: {other}"),
    }
}

/// The AdmissionReview a case describes and the uid its response must carry.
fn case_review(case: &Value, name: &str) -> (Value, String) {
    if let Some(fixture) = case.get("request") {
        let (_, request, uid) = case_fixture(fixture);
        return (review(request), uid);
    }
    let object = case_object(name, case);
    (review(wrapped(object)), "imagegate-run".to_owned())
}

/// uid, allowed, message, warnings and decoded patch of an AdmissionReview response.
fn summary(reply: &Reply) -> Result<Value, String> {
    if reply.status != 200 {
        return Err(format!("HTTP {}: {}", reply.status, reply.text()));
    }
    let document = reply.json();
    if document["apiVersion"] != "admission.k8s.io/v1" || document["kind"] != "AdmissionReview" {
        return Err(format!("not an AdmissionReview: {document}"));
    }
    let response = &document["response"];
    let patch = match response.get("patch").and_then(Value::as_str) {
        None => json!([]),
        Some(encoded) => {
            if response["patchType"] != "JSONPatch" {
                return Err(format!("a patch without patchType JSONPatch: {response}"));
            }
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .ok_or_else(|| format!("a patch that is not base64 JSON: {encoded:?}"))?
        }
    };
    Ok(json!({
        "uid": response["uid"],
        "allowed": response["allowed"],
        "message": response.get("status").and_then(|s| s.get("message")).cloned().unwrap_or(Value::Null),
        "warnings": match response.get("warnings") {
            None | Some(Value::Null) => json!([]),
            Some(w) => w.clone(),
        },
        "patch": patch,
    }))
}

/// Cases sharing settings and recorded host answers: one server for them.
type Group = Vec<(String, Value)>;

fn run_group(policy: &Path, dir: &Path, index: usize, group: &Group) -> Vec<String> {
    let mut failures = Vec::new();
    let first = &group[0].1;
    let settings = dir.join(format!("settings-{index}.json"));
    std::fs::write(&settings, first["settings"].to_string()).unwrap();
    let mut extra: Vec<String> = vec![
        "--instances".into(),
        "1".into(),
        "--reload-interval-ms".into(),
        "0".into(),
    ];
    if let Some(capabilities) = first.get("capabilities") {
        let path = dir.join(format!("capabilities-{index}.json"));
        std::fs::write(&path, capabilities.to_string()).unwrap();
        extra.extend(["--host-capabilities".into(), path.display().to_string()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();

    let expected_of = |case: &Value, uid: &str| {
        let expect = &case["expect"];
        json!({
            "uid": uid,
            "allowed": expect["allowed"],
            "message": expect.get("message").cloned().unwrap_or(Value::Null),
            "warnings": match expect.get("warnings") {
                None | Some(Value::Null) => json!([]),
                Some(w) => w.clone(),
            },
            "patch": expect.get("patch").cloned().unwrap_or(json!([])),
        })
    };

    // Settings the policy finds not valid: the server must not start, and
    // must say what `imagegate run` says (host/tests/cases.rs).
    let invalid = first["expect"]["message"]
        .as_str()
        .and_then(|m| m.strip_prefix("invalid settings: "));
    if let Some(message) = invalid {
        let output = serve_command(policy, &settings, &extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let want = format!("imagegate: error: provided settings are not valid: {message}");
        if output.status.code() != Some(1) || stderr.trim_end() != want || !output.stdout.is_empty()
        {
            for (name, _) in group {
                failures.push(format!(
                    "testdata/cases/{name}.json: expected exit 1 with {want:?}, got {:?} {stderr:?}",
                    output.status.code()
                ));
            }
        }
        return failures;
    }

    let server = Server::start(policy, &settings, &extra);
    for (name, case) in group {
        let (review, uid) = case_review(case, name);
        let expected = expected_of(case, &uid);
        match summary(&server.post("/mutate", &review)) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "testdata/cases/{name}.json /mutate:\n  expected {expected}\n       got {got}"
            )),
            Err(e) => failures.push(format!("testdata/cases/{name}.json /mutate: {e}")),
        }
        let mut expected = expected;
        expected["patch"] = json!([]);
        match summary(&server.post("/validate", &review)) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "testdata/cases/{name}.json /validate:\n  expected {expected}\n       got {got}"
            )),
            Err(e) => failures.push(format!("testdata/cases/{name}.json /validate: {e}")),
        }
    }
    failures
}

#[test]
fn every_case_through_the_server_as_through_imagegate_run() {
    let policy = real_policy();
    let dir = scratch("cases");
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut count = 0;
    for entry in std::fs::read_dir(root().join("testdata/cases")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let key = format!(
            "{}|{}",
            case["settings"],
            case.get("capabilities").cloned().unwrap_or_default()
        );
        groups.entry(key).or_default().push((name, case));
        count += 1;
    }
    assert!(count > 20, "expected the case table, found {count} cases");

    let groups: Vec<Group> = groups.into_values().collect();
    let failures = failures_in_parallel(groups.iter().enumerate(), 2, |(index, group)| {
        run_group(&policy, &dir, index, group)
    });
    assert!(
        failures.is_empty(),
        "{} differences over {count} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn pod(image: &str) -> Value {
    review(wrapped(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": image}]}})))
}

#[test]
fn what_is_not_an_admission_review_gets_a_clear_400_and_big_bodies_413() {
    let dir = scratch("malformed");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let server = Server::start(&real_policy(), &settings, &["--instances", "1"]);

    let cases: [(&[u8], &str); 6] = [
        (b"{not json", "/validate: not an admission.k8s.io/v1 AdmissionReview: the body is not JSON: key must be a string at line 1 column 2"),
        (b"[]", "/validate: not an admission.k8s.io/v1 AdmissionReview: the body must be an AdmissionReview object, found an array"),
        (br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}"#,
         "/validate: not an admission.k8s.io/v1 AdmissionReview: apiVersion must be \"admission.k8s.io/v1\", found \"admission.k8s.io/v1beta1\""),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"u"}}"#,
         "/validate: not an admission.k8s.io/v1 AdmissionReview: kind must be \"AdmissionReview\", found \"Pod\""),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
         "/validate: not an admission.k8s.io/v1 AdmissionReview: the AdmissionReview has no request"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#,
         "/validate: not an admission.k8s.io/v1 AdmissionReview: request.uid must be a non-empty string, found nothing"),
    ];
    for (body, message) in cases {
        let reply = https(server.addr, "POST", "/validate", body);
        assert_eq!((reply.status, reply.text().trim_end()), (400, message));
    }

    // 3 MiB + 1 byte: 413, and the whole body was accepted on the wire.
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let reply = https(server.addr, "POST", "/mutate", &big);
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("larger than the limit of 3145728 bytes"),
        "{}",
        reply.text()
    );
    // Exactly 3 MiB is read and judged on its content.
    let mut padded = pod("ghcr.io/org/app:1").to_string().into_bytes();
    padded.resize(3 * 1024 * 1024, b' ');
    let reply = https(server.addr, "POST", "/mutate", &padded);
    assert_eq!(summary(&reply).unwrap()["allowed"], true);

    let reply = https(server.addr, "GET", "/validate", b"");
    assert_eq!(reply.status, 405);
    assert!(
        reply.headers.to_ascii_lowercase().contains("allow: post"),
        "{}",
        reply.headers
    );
    assert_eq!(https(server.addr, "GET", "/nope", b"").status, 404);
    assert_eq!(https(server.addr, "GET", "/healthz", b"").status, 200);
    assert_eq!(https(server.addr, "GET", "/readyz", b"").status, 200);

    let metrics = https(server.addr, "GET", "/metrics", b"");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers.contains("text/plain; version=0.0.4"),
        "{}",
        metrics.headers
    );
    for line in [
        "imagegate_http_requests_total{path=\"/validate\",code=\"400\"} 6",
        "imagegate_http_requests_total{path=\"/mutate\",code=\"413\"} 1",
        "imagegate_http_requests_total{path=\"other\",code=\"404\"} 1",
        "imagegate_errors_total{kind=\"bad_request\"} 6",
        "imagegate_errors_total{kind=\"too_large\"} 1",
        "imagegate_admission_verdicts_total{path=\"/mutate\",verdict=\"allowed\"} 1",
        "imagegate_admission_duration_seconds_count{path=\"/mutate\"} 1",
        "imagegate_pool_instances 1",
    ] {
        assert!(
            metrics.text().lines().any(|l| l == line),
            "{line} not in\n{}",
            metrics.text()
        );
    }
}

/// A waPC module whose `validate_settings` (17 bytes) accepts and whose
/// `validate` spins `ITERATIONS` times, then accepts.
fn spinning_module(dir: &Path, iterations: &str) -> PathBuf {
    let wat = format!(
        r#"(module
          (import "wapc" "__guest_response" (func $resp (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{{\"accepted\":true}}")
          (data (i32.const 32) "{{\"valid\":true}}")
          (func (export "__guest_call") (param $op i32) (param $msg i32) (result i32)
            (local $n i64)
            (if (i32.eq (local.get $op) (i32.const 17))
              (then (call $resp (i32.const 32) (i32.const 14)) (return (i32.const 1))))
            (local.set $n (i64.const {iterations}))
            (block $done (loop $again
              (br_if $done (i64.eqz (local.get $n)))
              (local.set $n (i64.sub (local.get $n) (i64.const 1)))
              (br $again)))
            (call $resp (i32.const 0) (i32.const 17))
            (i32.const 1)))"#
    );
    let path = dir.join(format!("spin-{iterations}.wasm"));
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

#[test]
fn a_policy_that_never_ends_is_denied_at_the_deadline_and_replaced() {
    let dir = scratch("deadline");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    // i64::MAX iterations: forever.
    let module = spinning_module(&dir, "9223372036854775807");
    let server = Server::start(
        &module,
        &settings,
        &["--instances", "1", "--timeout-ms", "200"],
    );
    for round in 1..=2 {
        let started = Instant::now();
        let got = summary(&server.post("/validate", &pod("nginx"))).unwrap();
        // Not a timing assertion: without the deadline this never returns.
        assert!(started.elapsed() < Duration::from_secs(20));
        // The guest's own deadline names the call; on a machine so loaded
        // that the epoch thread runs late, the pool's bound (0.1 s later)
        // answers instead, naming the lookups too.
        let message = got["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message
                == "internal server error: policy exceeded its time limit of 200ms (in validate)"
                || message
                    == "internal server error: policy exceeded its time limit of 200ms (in \
                        validate, registry lookups included)",
            "round {round}: {got}"
        );
        assert_eq!(
            (
                &got["uid"],
                &got["allowed"],
                &got["warnings"],
                &got["patch"]
            ),
            (
                &json!("imagegate-run"),
                &json!(false),
                &json!([]),
                &json!([])
            ),
            "round {round}"
        );
    }
    assert_eq!(server.metric("imagegate_timeouts_total "), Some(2.0));
    assert_eq!(
        server.metric("imagegate_instances_replaced_total "),
        Some(2.0)
    );
    assert_eq!(
        server.metric("imagegate_errors_total{kind=\"policy\"} "),
        Some(2.0)
    );
}

#[test]
fn sighup_and_file_changes_reload_settings_without_a_restart() {
    let dir = scratch("reload");
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "registries:\n  allow: [docker.io]\n").unwrap();
    let server = Server::start(&real_policy(), &settings, &["--reload-interval-ms", "0"]);
    let allowed =
        |image: &str| summary(&server.post("/validate", &pod(image))).unwrap()["allowed"].clone();
    assert_eq!(allowed("nginx:1.27"), true);

    std::fs::write(&settings, "registries:\n  allow: [ghcr.io]\n").unwrap();
    server.signal("HUP");
    server.wait_for_metric("imagegate_settings_generation ", 1.0);
    assert_eq!(allowed("nginx:1.27"), false);
    assert_eq!(allowed("ghcr.io/org/app:1"), true);

    // Not valid: refused, the previous settings stay.
    std::fs::write(&settings, "registries:\n  alow: [docker.io]\n").unwrap();
    server.signal("HUP");
    server.wait_for_metric("imagegate_settings_reloads_total{result=\"error\"} ", 1.0);
    assert_eq!(allowed("nginx:1.27"), false);
    assert_eq!(server.metric("imagegate_settings_generation "), Some(1.0));
    assert!(
        server.stderr.lock().unwrap().contains(
            "settings reload refused, the previous settings stay in force: provided settings are not valid"
        ),
        "{}",
        server.stderr.lock().unwrap()
    );
    drop(server);

    // Without a signal: the file is polled.
    std::fs::write(&settings, "{}").unwrap();
    let server = Server::start(&real_policy(), &settings, &["--reload-interval-ms", "50"]);
    assert_eq!(
        summary(&server.post("/validate", &pod("nginx:1.27"))).unwrap()["allowed"],
        true
    );
    std::fs::write(&settings, "registries:\n  reject: [docker.io]\n").unwrap();
    server.wait_for_metric("imagegate_settings_generation ", 1.0);
    assert_eq!(
        summary(&server.post("/validate", &pod("nginx:1.27"))).unwrap()["allowed"],
        false
    );
}

#[test]
fn sighup_reloads_the_certificate_and_refuses_a_broken_one() {
    let dir = scratch("cert-reload");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let pki = pki();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::copy(&pki.cert, &cert).unwrap();
    std::fs::copy(&pki.key, &key).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    command
        .arg("serve")
        .arg("--policy")
        .arg(real_policy())
        .arg("--settings")
        .arg(&settings)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--addr", "127.0.0.1:0", "--reload-interval-ms", "0"]);
    let server = Server::spawn(command);
    let serial = |path: &Path| {
        let output = Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let before = serial(&cert);
    assert_eq!(served_certificate(server.addr), certificate_in(&cert));

    // A renewal: a new key and certificate from the same CA.
    let pki_dir = pki.ca.parent().unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "new.key",
            "-out",
            "new.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "new.csr",
            "-CA",
            pki.ca.to_str().unwrap(),
            "-CAkey",
            pki_dir.join("ca.key").to_str().unwrap(),
            "-set_serial",
            "4242",
            "-out",
            "new.crt",
            "-days",
            "2",
            "-extfile",
            pki_dir.join("ext.cnf").to_str().unwrap(),
        ],
    );
    std::fs::rename(dir.join("new.crt"), &cert).unwrap();
    std::fs::rename(dir.join("new.key"), &key).unwrap();
    assert_ne!(serial(&cert), before);
    server.signal("HUP");
    server.wait_for_log("TLS certificate reloaded");
    // The new certificate is the one served, and it works.
    assert_eq!(served_certificate(server.addr), certificate_in(&cert));
    assert_eq!(https(server.addr, "GET", "/healthz", b"").status, 200);

    // A key that does not match: refused, the renewed pair stays.
    std::fs::copy(&pki.key, &key).unwrap();
    server.signal("HUP");
    server.wait_for_log("TLS certificate reload refused");
    assert_eq!(served_certificate(server.addr), certificate_in(&cert));
    assert_eq!(https(server.addr, "GET", "/healthz", b"").status, 200);
}

#[test]
fn sighup_then_sigterm_while_busy_answer_every_request_in_flight() {
    let dir = scratch("drain");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    // Long enough that requests queue behind two instances.
    let module = spinning_module(&dir, "200000000");
    let mut server = Server::start(
        &module,
        &settings,
        &["--instances", "2", "--timeout-ms", "120000"],
    );
    let addr = server.addr;
    let clients: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let mut request = pod("nginx");
                request["request"]["uid"] = json!(format!("in-flight-{i}"));
                https(addr, "POST", "/validate", request.to_string().as_bytes())
            })
        })
        .collect();
    server.wait_for_metric("imagegate_in_flight_requests ", 6.0);
    // A reload while they run: they finish with the settings they started with.
    std::fs::write(&settings, "{\"registries\": {}}").unwrap();
    server.signal("HUP");
    server.wait_for_metric("imagegate_settings_generation ", 1.0);
    server.signal("TERM");
    for (i, client) in clients.into_iter().enumerate() {
        let reply = client.join().unwrap();
        let got = summary(&reply).unwrap();
        assert_eq!(
            (got["uid"].clone(), got["allowed"].clone()),
            (json!(format!("in-flight-{i}")), json!(true))
        );
    }
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = server.stderr.lock().unwrap().clone();
    assert!(stderr.contains(r#""signal":"SIGTERM""#), "{stderr}");
    assert!(stderr.contains("drained; exiting"), "{stderr}");
}

#[test]
fn bad_settings_or_certificates_stop_start_up() {
    let dir = scratch("startup");
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "registires:\n  allow: [ghcr.io]\n").unwrap();
    let output = serve_command(&real_policy(), &settings, &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("imagegate: error: provided settings are not valid: ")
            && stderr.contains("registires"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    std::fs::write(&settings, "{}").unwrap();
    let missing = dir.join("missing.crt");
    let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .arg("serve")
        .arg("--policy")
        .arg(real_policy())
        .arg("--settings")
        .arg(&settings)
        .arg("--tls-cert")
        .arg(&missing)
        .arg("--tls-key")
        .arg(&pki().key)
        .env_remove("IMAGEGATE_POLICY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--tls-cert \"{}\": cannot read it",
            missing.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_registry_policy_is_pulled_as_run_pulls_it() {
    // Nothing listens on port 1: the pull fails, naming the registry, so the
    // server went the registry:// way rather than looking for a file.
    let dir = scratch("registry-policy");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let output = serve_command(
        Path::new("registry://127.0.0.1:1/policies/imagegate:v1"),
        &settings,
        &["--insecure-registry", "127.0.0.1:1"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "imagegate: error: cannot pull registry://127.0.0.1:1/policies/imagegate:v1: \
             registry 127.0.0.1:1:"
        ),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Hostile and ordinary clients (issue 20, section 2), logs and metrics (3).

/// A keep-alive HTTPS client on one connection, for the tests below.
struct KeepAlive {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl KeepAlive {
    /// Connects and completes the handshake; `None` when the server refused
    /// or closed the connection before the handshake ended.
    fn connect(addr: SocketAddr) -> Option<KeepAlive> {
        let mut tcp = TcpStream::connect(addr).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut connection = rustls::ClientConnection::new(client_config(), name).unwrap();
        while connection.is_handshaking() {
            connection.complete_io(&mut tcp).ok()?;
        }
        Some(KeepAlive {
            tls: rustls::StreamOwned::new(connection, tcp),
        })
    }

    /// Writes one request; `false` when it could not be written.
    fn send(&mut self, method: &str, path: &str, extra_headers: &str, body: &[u8]) -> bool {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{extra_headers}\r\n",
            body.len()
        );
        self.tls.write_all(head.as_bytes()).is_ok()
            && self.tls.write_all(body).is_ok()
            && self.tls.flush().is_ok()
    }

    /// Reads one response (status, lower-case headers, body); `None` when
    /// the connection ended first.
    fn receive(&mut self) -> Option<(u16, String, Vec<u8>)> {
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            match self.tls.read(&mut byte) {
                Ok(1) => raw.push(byte[0]),
                _ => return None,
            }
        }
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        self.tls.read_exact(&mut body).ok()?;
        Some((status, head, body))
    }

    /// Whether the server closed the connection (EOF or reset, not a
    /// timeout).
    fn closed_by_server(&mut self, within: Duration) -> bool {
        self.tls.sock.set_read_timeout(Some(within)).unwrap();
        let mut byte = [0u8; 1];
        match self.tls.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

/// The resident set of a process, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The memory limit of deploy/server/deployment.yaml's container, in bytes.
fn deployment_memory_limit() -> u64 {
    let text = std::fs::read_to_string(root().join("deploy/server/deployment.yaml")).unwrap();
    let limits = text.split("limits:").nth(1).expect("a limits section");
    let value = limits
        .lines()
        .find_map(|l| l.trim().strip_prefix("memory:"))
        .expect("a memory limit")
        .trim();
    let mebibytes: u64 = value
        .strip_suffix("Mi")
        .expect("a limit in Mi")
        .parse()
        .unwrap();
    mebibytes * 1024 * 1024
}

/// A valid Pod review just under the API server's 3 MiB: many env vars.
fn largest_pod_review() -> Vec<u8> {
    let env: Vec<Value> = (0..40_000)
        .map(|i| json!({"name": format!("VARIABLE_{i:06}"), "value": "x".repeat(40)}))
        .collect();
    let mut review = pod("ghcr.io/org/app:1");
    review["request"]["object"]["spec"]["containers"][0]["env"] = Value::Array(env.clone());
    let mut bytes = review.to_string().into_bytes();
    let mut count = env.len();
    while bytes.len() > 3 * 1024 * 1024 - 1024 {
        count -= 500;
        review["request"]["object"]["spec"]["containers"][0]["env"] =
            Value::Array(env[..count].to_vec());
        bytes = review.to_string().into_bytes();
    }
    assert!(bytes.len() > 2_900_000, "{}", bytes.len());
    bytes
}

#[test]
fn concurrent_largest_bodies_stay_within_the_memory_limit_and_ordinary_requests_answer() {
    let dir = scratch("bodies");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let server = Server::start(&real_policy(), &settings, &["--instances", "2"]);
    let limit = deployment_memory_limit();
    let body = Arc::new(largest_pod_review());
    let pid = server.child.id();

    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_bytes(pid)));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                peak.fetch_max(rss_bytes(pid), std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let addr = server.addr;
    let hostile: Vec<_> = (0..32)
        .map(|_| {
            let body = Arc::clone(&body);
            std::thread::spawn(move || {
                let mut client = KeepAlive::connect(addr).expect("connected");
                assert!(client.send("POST", "/validate", "", &body));
                client.receive().map(|(status, _, _)| status)
            })
        })
        .collect();
    // While they are in flight: an ordinary request on a fresh connection.
    server.wait_for_metric("imagegate_in_flight_requests ", 8.0);
    let started = Instant::now();
    let reply = https(
        addr,
        "POST",
        "/validate",
        pod("ghcr.io/org/app:1").to_string().as_bytes(),
    );
    let ordinary = started.elapsed();
    assert_eq!(summary(&reply).unwrap()["allowed"], true);
    let statuses: Vec<Option<u16>> = hostile.into_iter().map(|h| h.join().unwrap()).collect();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!(
        "peak RSS {} MiB (limit {} MiB); ordinary request answered in {ordinary:?}; {statuses:?}",
        peak >> 20,
        limit >> 20
    );
    // Each large body is answered: allowed (200), or 503 when the budget
    // stayed full for the whole deadline; never dropped.
    assert!(
        statuses.iter().all(|s| matches!(s, Some(200 | 503))),
        "{statuses:?}"
    );
    assert!(peak < limit, "peak RSS {peak} over the limit {limit}");
    assert!(
        ordinary < Duration::from_secs(1),
        "the ordinary request took {ordinary:?}"
    );
}

#[test]
fn connections_over_the_cap_are_closed_and_oversize_headers_get_431() {
    let dir = scratch("caps");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let server = Server::start(
        &real_policy(),
        &settings,
        &[
            "--max-connections",
            "4",
            "--max-header-bytes",
            "8192",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    );
    // Four clients that complete the handshake and then stall.
    let mut stalled: Vec<KeepAlive> = (0..4)
        .map(|_| KeepAlive::connect(server.addr).expect("under the cap"))
        .collect();
    server.wait_for_metric("imagegate_open_connections ", 4.0);
    let mut refused = TcpStream::connect(server.addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(
        matches!(refused.read(&mut buf), Ok(0) | Err(_)),
        "the fifth connection is closed without an answer"
    );
    assert!(server.metric("imagegate_connections_refused_total ") >= Some(1.0));
    // One stalled client leaves: there is room again.
    drop(stalled.pop());
    server.wait_while("no room after a client left", || {
        server
            .metric_on_new_connection("imagegate_open_connections ")
            .is_none()
    });
    drop(stalled);

    // A request head over 8 KiB: 431; one under it is answered.
    let mut client = KeepAlive::connect(server.addr).unwrap();
    let big = format!("X-Padding: {}\r\n", "a".repeat(16 * 1024));
    assert!(
        client.send("GET", "/healthz", &big, b"")
            || client.closed_by_server(Duration::from_secs(5))
    );
    // 431, or closed: also acceptable.
    if let Some((status, _, _)) = client.receive() {
        assert_eq!(status, 431);
    }
    let mut client = KeepAlive::connect(server.addr).unwrap();
    let fine = format!("X-Padding: {}\r\n", "a".repeat(4 * 1024));
    assert!(client.send("GET", "/healthz", &fine, b""));
    assert_eq!(client.receive().map(|r| r.0), Some(200));

    // Plain HTTP to the TLS port: a plain-text 400 that says so.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = plain.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.ends_with("this port serves HTTPS only: use https://\n"),
        "{answer:?}"
    );
}

#[test]
fn idle_keep_alive_connections_outlive_the_api_servers_and_then_close() {
    let dir = scratch("idle");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    // The default idle timeout is longer than the API server's 90 s.
    let help = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let default = help
        .split("--idle-timeout-ms <MS>")
        .nth(1)
        .and_then(|rest| rest.split("[default: ").nth(1))
        .and_then(|rest| rest.split(']').next())
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no default in {help}"));
    assert!(default > 90_000, "{default}");

    // With the defaults, a connection idle for longer than the old 10 s is
    // still served.
    let server = Server::start(&real_policy(), &settings, &[]);
    let mut client = KeepAlive::connect(server.addr).unwrap();
    assert!(client.send("GET", "/healthz", "", b""));
    assert_eq!(client.receive().map(|r| r.0), Some(200));
    std::thread::sleep(Duration::from_secs(11));
    assert!(client.send("GET", "/healthz", "", b""));
    assert_eq!(
        client.receive().map(|r| r.0),
        Some(200),
        "kept after 11 s idle"
    );
    drop(server);

    // A short idle timeout: closed after it, not before.
    let server = Server::start(&real_policy(), &settings, &["--idle-timeout-ms", "1500"]);
    let mut client = KeepAlive::connect(server.addr).unwrap();
    assert!(client.send("GET", "/healthz", "", b""));
    assert_eq!(client.receive().map(|r| r.0), Some(200));
    std::thread::sleep(Duration::from_millis(500));
    assert!(client.send("GET", "/healthz", "", b""));
    assert_eq!(client.receive().map(|r| r.0), Some(200));
    assert!(
        client.closed_by_server(Duration::from_secs(10)),
        "closed once idle for 1.5 s"
    );
}

#[test]
fn sigterm_with_keep_alive_clients_sending_loses_no_request() {
    let dir = scratch("sigterm");
    let settings = dir.join("settings.json");
    std::fs::write(&settings, "{}").unwrap();
    let mut server = Server::start(
        &real_policy(),
        &settings,
        &["--shutdown-delay-ms", "1500", "--drain-timeout-ms", "10000"],
    );
    let addr = server.addr;
    let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body = Arc::new(pod("ghcr.io/org/app:1").to_string().into_bytes());
    // Each client: (answered, answered after the signal, lost).
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (signalled, body) = (Arc::clone(&signalled), Arc::clone(&body));
            std::thread::spawn(move || {
                let (mut answered, mut after, mut lost) = (0u64, 0u64, 0u64);
                let mut client = KeepAlive::connect(addr).expect("connected before the signal");
                loop {
                    let sent = client.send("POST", "/validate", "", &body);
                    match client.receive() {
                        Some((200, head, _)) => {
                            answered += 1;
                            if signalled.load(std::sync::atomic::Ordering::SeqCst) {
                                after += 1;
                            }
                            if !head.contains("connection: close") {
                                continue;
                            }
                        }
                        Some((status, _, body)) => {
                            panic!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                        }
                        // Written, or being written, and no answer: lost.
                        None => {
                            let _ = sent;
                            lost += 1;
                        }
                    }
                    // The server asked to close (or closed): a new
                    // connection, until it no longer accepts.
                    match KeepAlive::connect(addr) {
                        Some(next) => client = next,
                        None => return (answered, after, lost),
                    }
                }
            })
        })
        .collect();
    server.wait_for_metric(
        "imagegate_admission_verdicts_total{path=\"/validate\",verdict=\"allowed\"} ",
        200.0,
    );
    let signalled_at = Instant::now();
    signalled.store(true, std::sync::atomic::Ordering::SeqCst);
    server.signal("TERM");
    // Not ready at once, still answering.
    assert_eq!(https(addr, "GET", "/readyz", b"").status, 503);
    let results: Vec<(u64, u64, u64)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        signalled_at.elapsed() >= Duration::from_millis(1500),
        "accepted for the whole delay"
    );
    let lost: u64 = results.iter().map(|r| r.2).sum();
    assert_eq!(lost, 0, "requests lost: {results:?}");
    assert!(
        results.iter().all(|r| r.1 > 0),
        "every client was answered after the signal: {results:?}"
    );
    let stderr = server.stderr.lock().unwrap().clone();
    assert!(stderr.contains("drained; exiting"), "{stderr}");
}

#[test]
fn one_json_decision_line_per_review_and_metrics_on_the_plain_http_port() {
    let dir = scratch("observe");
    let settings = dir.join("settings.json");
    std::fs::write(
        &settings,
        r#"{"registries": {"allow": ["ghcr.io"]}, "tags": {"reject": ["latest"]}}"#,
    )
    .unwrap();
    let mut command = serve_command(
        &real_policy(),
        &settings,
        &["--metrics-addr", "127.0.0.1:0", "--log-level", "info"],
    );
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let server = Server::spawn(command);
    let metrics_addr = server
        .metrics_addr
        .expect("a metrics address on the start line");

    let mut denied = pod("docker.io/library/nginx:latest");
    denied["request"]["uid"] = json!("uid-denied");
    denied["request"]["dryRun"] = json!(true);
    let got = summary(&server.post("/validate", &denied)).unwrap();
    assert_eq!(got["allowed"], false);
    let mut allowed = pod("ghcr.io/org/app:1");
    allowed["request"]["uid"] = json!("uid-allowed");
    assert_eq!(
        summary(&server.post("/validate", &allowed)).unwrap()["allowed"],
        true
    );

    server.wait_for_log("uid-allowed");
    let stderr = server.stderr.lock().unwrap().clone();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let decisions: Vec<&Value> = lines.iter().filter(|l| l["msg"] == "admission").collect();
    assert_eq!(decisions.len(), 2, "{stderr}");
    let line = decisions[0];
    for (key, want) in [
        ("level", json!("info")),
        ("uid", json!("uid-denied")),
        ("kind", json!("Pod")),
        ("namespace", json!("default")),
        ("name", json!("app")),
        ("operation", json!("CREATE")),
        ("dryRun", json!(true)),
        ("allowed", json!(false)),
        ("rules", json!(["source:deny", "tag:deny"])),
        ("path", json!("/validate")),
    ] {
        assert_eq!(line[key], want, "{key} in {line}");
    }
    assert!(
        line["durationMs"].as_f64().is_some_and(|d| d > 0.0),
        "{line}"
    );
    assert!(
        line["ts"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{line}"
    );
    // Nothing of the object but its name: no image, no spec.
    assert!(!stderr.contains("nginx"), "{stderr}");
    assert_eq!(decisions[1]["allowed"], true);
    assert_eq!(decisions[1]["rules"], json!([]));

    // Plain HTTP, no certificate.
    let mut tcp = TcpStream::connect(metrics_addr).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    for line in [
        "imagegate_admission_rules_total{rule=\"source\",action=\"deny\"} 1",
        "imagegate_admission_rules_total{rule=\"tag\",action=\"deny\"} 1",
        "imagegate_admission_verdicts_total{path=\"/validate\",verdict=\"denied\"} 1",
        "imagegate_admission_verdicts_total{path=\"/validate\",verdict=\"allowed\"} 1",
        "imagegate_admission_duration_seconds_count{path=\"/validate\"} 2",
        "imagegate_pool_busy_instances 0",
        "imagegate_settings_reloads_total{result=\"ok\"} 0",
        "# TYPE imagegate_host_calls_total counter",
        "imagegate_body_budget_in_use_bytes 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }

    // --log-format text, --log-level warn: no decision lines.
    let mut command = serve_command(
        &real_policy(),
        &settings,
        &["--log-format", "text", "--log-level", "warn"],
    );
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let quiet = Server::spawn(command);
    assert_eq!(
        summary(&quiet.post("/validate", &allowed)).unwrap()["allowed"],
        true
    );
    std::fs::write(&settings, "{\"registries\": 1}").unwrap();
    quiet.signal("HUP");
    quiet.wait_for_log("WARN  settings reload refused");
    assert!(!quiet.stderr.lock().unwrap().contains("admission"));
}
