//! Criterion benchmarks of the core, natively: the reference parser, the
//! settings compiler, the source decision and whole evaluations. `make bench`
//! runs them next to `imagegate bench`, which measures the same evaluation
//! through policy.wasm; BENCHMARKS.md compares the two.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use imagegate_policy::capabilities::Offline;
use imagegate_policy::reference::Reference;
use imagegate_policy::settings::compile_bytes;
use serde_json::{Value, json};

fn testdata(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The benchmark settings as JSON (the file is YAML, but a flat one whose
/// JSON form is written out here to keep YAML out of the core's dev tree).
fn bench_settings() -> Value {
    json!({
        "registries": {
            "allow": ["harbor.corp.example", "registry.k8s.io", "quay.io", "gcr.io", "*.dkr.ecr.us-east-1.amazonaws.com"],
            "reject": ["docker.io"]
        },
        "repositories": {
            "allow": ["ghcr.io/org", "ghcr.io/platform", "mcr.microsoft.com/dotnet"],
            "reject": ["ghcr.io/org/experimental"]
        }
    })
}

/// The settings both imagegate and trusted-repos-policy accept
/// (`testdata/settings/bench-peer.yaml`), for the row BENCHMARKS.md sets
/// against the module's `imagegate bench --compare`.
fn bench_peer_settings() -> Value {
    json!({
        "registries": {
            "allow": ["ghcr.io", "harbor.corp.example", "registry.k8s.io", "quay.io", "gcr.io",
                      "mcr.microsoft.com", "public.ecr.aws", "registry.gitlab.com", "nvcr.io", "docker.io"]
        },
        "tags": {"reject": ["latest"]}
    })
}

/// `{"request":…,"settings":…}` with the request's keys in the order of the
/// file, as policy-server and imagegate's host write them (`uid`, `kind`,
/// …, `operation`, `object`); a `serde_json::Value` would sort them and put
/// `object` first.
fn payload(request_json: &str, settings: &Value) -> Vec<u8> {
    let mut out = b"{\"request\":".to_vec();
    out.extend_from_slice(compact(request_json).as_bytes());
    out.extend_from_slice(b",\"settings\":");
    serde_json::to_writer(&mut out, settings).unwrap();
    out.push(b'}');
    out
}

/// The JSON text without whitespace outside strings.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn reference(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference");
    for image in [
        "nginx",
        "ghcr.io/org/team/app:3.1.0",
        "071460744267.dkr.ecr.us-east-1.amazonaws.com/test/snyk@sha256:4c0e8c5e4ffbb5c2d1b7d4a0c0bd7f0f9b27e9a3d2c1e0f9a8b7c6d5e4f3a2b1",
    ] {
        group.bench_function(format!("parse {image:.40}"), |b| {
            b.iter(|| Reference::parse(black_box(image)))
        });
    }
    group.finish();
}

fn settings(c: &mut Criterion) {
    let bytes = serde_json::to_vec(&bench_settings()).unwrap();
    c.bench_function("settings/compile 10 entries", |b| {
        b.iter(|| compile_bytes(black_box(&bytes)).unwrap())
    });
    let many: Vec<String> = (0..1000)
        .map(|i| format!("registry-{i}.corp.example"))
        .collect();
    let big = serde_json::to_vec(&json!({"registries": {"allow": many}})).unwrap();
    c.bench_function("settings/compile 1000 registries", |b| {
        b.iter(|| compile_bytes(black_box(&big)).unwrap())
    });
}

fn validate(c: &mut Criterion) {
    let request = testdata("requests/deployment_create.json");
    let settings = bench_settings();
    let bytes = payload(&request, &settings);
    let peer_bytes = payload(&request, &bench_peer_settings());
    let mut group = c.benchmark_group("validate");
    // Warm: the compiled settings are cached by their bytes, as in a reused
    // instance; cold: a changed settings object every call, as in a fresh
    // instance of policy-server.
    group.bench_function(
        "deployment 3+1 containers, 10 entries, cached settings",
        |b| b.iter(|| imagegate_policy::validate(black_box(&bytes), &Offline)),
    );
    // What policy.wasm's `validate` export does, response serialized: the
    // native side of the module-against-native comparison.
    group.bench_function(
        "deployment 3+1 containers, bench-peer settings, cached settings, response serialized",
        |b| {
            b.iter(|| {
                serde_json::to_vec(&imagegate_policy::validate(
                    black_box(&peer_bytes),
                    &Offline,
                ))
            })
        },
    );
    let variants: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut s = settings.clone();
            s["registries"]["allow"]
                .as_array_mut()
                .unwrap()
                .push(json!(format!("r{i}.example")));
            payload(&request, &s)
        })
        .collect();
    let mut i = 0;
    group.bench_function(
        "deployment 3+1 containers, 10 entries, settings compiled",
        |b| {
            b.iter(|| {
                i = (i + 1) % variants.len();
                imagegate_policy::validate(black_box(&variants[i]), &Offline)
            })
        },
    );
    // Scaling: 1,000 containers against 1,000 entries.
    let containers: Vec<Value> = (0..1000)
        .map(|i| json!({"name": format!("c{i}"), "image": format!("registry-{}.corp.example/team/app-{i}:1.0", i % 1000)}))
        .collect();
    let big_request = format!(
        r#"{{"uid":"u","kind":{{"kind":"Pod"}},"operation":"CREATE","object":{{"spec":{{"containers":{}}}}}}}"#,
        Value::Array(containers)
    );
    let many: Vec<String> = (0..1000)
        .map(|i| format!("registry-{i}.corp.example"))
        .collect();
    let big_settings = json!({"registries": {"allow": many}});
    let big = payload(&big_request, &big_settings);
    group.sample_size(20);
    group.bench_function("pod 1000 containers, 1000 entries, cached settings", |b| {
        b.iter(|| imagegate_policy::validate(black_box(&big), &Offline))
    });
    group.finish();
}

criterion_group!(benches, reference, settings, validate);
criterion_main!(benches);
