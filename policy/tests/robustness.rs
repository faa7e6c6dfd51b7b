//! No input makes the core panic: `validate` and `validate_settings` on
//! truncated, bit-flipped and spliced versions of every fixture, and on
//! random bytes, always return a response. (Coverage-guided fuzzing comes
//! with cargo-fuzz; this keeps a cheap, deterministic guard in `cargo test`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use imagegate_policy::capabilities::Offline;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn payloads() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/requests");
    let settings = r#"{"registries": {"allow": ["ghcr.io", {"domainName": "*.corp", "insecure": true}]}, "repositories": {"reject": ["ghcr.io/org/x"]}, "images": {"allow": ["busybox:1.36"]}, "tags": {"reject": ["latest"], "allowRegex": ["v?\\d+(\\.\\d+)*"]}, "shortNames": "reject", "actions": {"tag": "warn"}}"#;
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let request = fs::read_to_string(entry.unwrap().path()).unwrap();
        out.push(format!(r#"{{"request": {request}, "settings": {settings}}}"#).into_bytes());
    }
    out
}

const MUTANTS_PER_FIXTURE: usize = 400;

#[test]
fn validate_never_panics_on_mutated_requests() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let interesting: &[&[u8]] = &[
        b"\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"null",
        b"\\u0000",
        b"\xff",
        b"@",
        b"/",
        b"\"image\":",
        b"1e999",
        b"\"containers\":",
        b"\"kind\":{\"kind\":\"Pod\"}",
    ];
    let mut responses = 0;
    for payload in payloads() {
        for _ in 0..MUTANTS_PER_FIXTURE {
            let mut bytes = payload.clone();
            match rng.below(4) {
                0 => bytes.truncate(rng.below(bytes.len())),
                1 => {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let i = rng.below(bytes.len());
                    let insert = interesting[rng.below(interesting.len())];
                    bytes.splice(i..i, insert.iter().copied());
                }
                _ => {
                    let (a, b) = (rng.below(bytes.len()), rng.below(bytes.len()));
                    let (a, b) = (a.min(b), a.max(b));
                    bytes.drain(a..b);
                }
            }
            let response = imagegate_policy::validate(&bytes, &Offline);
            // A rejection always says why.
            assert!(
                response.accepted || response.message.is_some(),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
            responses += 1;
        }
    }
    assert!(responses > 1000);
}

#[test]
fn validate_settings_never_panics_on_random_bytes() {
    let mut rng = Rng(0x0bad_cafe_f00d_beef);
    let alphabet = br#"{}[]":,.*?@/\ 0123456789abcdefghijklmnopqrstuvwxyzABCDEF-_nulltrue"#;
    for _ in 0..5000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let response = imagegate_policy::validate_settings(&bytes);
        assert!(response.valid || response.message.is_some());
    }
}
