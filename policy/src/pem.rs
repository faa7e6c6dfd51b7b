//! PEM armour and just enough DER to tell a public key from a certificate
//! from a private key, for settings validation.
//!
//! The module never verifies a signature itself (the host does, with
//! Sigstore), so it needs no crypto crate: it checks that a `keys` entry is
//! one `PUBLIC KEY` block whose body is base64 of a DER SubjectPublicKeyInfo
//! with an algorithm cosign signs with, and that a certificate is one
//! `CERTIFICATE` block holding an X.509 `Certificate` structure. That is what
//! people get wrong when they paste keys into YAML (a private key, a
//! certificate in the key list, a truncated line, two keys in one entry), and
//! it is found when the settings are loaded instead of on every admission.

use std::fmt;

/// What is wrong with a PEM text. Messages never quote the text: it may be
/// a private key pasted by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN ...-----` line.
    NoArmour,
    /// A `BEGIN` line without its `END` line.
    Unterminated(String),
    /// More than one block where one is expected.
    SeveralBlocks(usize),
    /// A block of another kind than the one expected.
    WrongLabel {
        /// The label found (`PRIVATE KEY`).
        found: String,
        /// What the entry must hold.
        expected: &'static str,
    },
    /// Text before the first block or after the last one.
    StrayText,
    /// The body is not base64.
    Base64(String),
    /// The body is base64 but not the DER structure expected.
    Structure(String),
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NoArmour => f.write_str(
                "not PEM: expected a block starting with a line \"-----BEGIN PUBLIC KEY-----\" \
                 (or CERTIFICATE); paste the whole file, armour lines included",
            ),
            PemError::Unterminated(label) => {
                write!(
                    f,
                    "the PEM block \"{label}\" has no \"-----END {label}-----\" line"
                )
            }
            PemError::SeveralBlocks(n) => write!(
                f,
                "holds {n} PEM blocks; give each key or certificate as its own list entry"
            ),
            PemError::WrongLabel { found, expected } => {
                write!(f, "{}", wrong_label(found, expected))
            }
            PemError::StrayText => f.write_str(
                "has text outside its PEM block; keep only the -----BEGIN ... -----END block",
            ),
            PemError::Base64(why) => write!(f, "the PEM body is not valid base64: {why}"),
            PemError::Structure(why) => f.write_str(why),
        }
    }
}

/// The message for a block of the wrong kind, with the fix people need.
fn wrong_label(found: &str, expected: &str) -> String {
    let private = found.contains("PRIVATE KEY");
    match (expected, found) {
        (_, _) if private => format!(
            "this is a private key (\"{found}\"): never put it in settings; give the public key \
             (cosign.pub, or `cosign public-key --key cosign.key`)"
        ),
        ("PUBLIC KEY", "CERTIFICATE") => {
            "this is a certificate, not a public key: list it under certificates".to_owned()
        }
        ("PUBLIC KEY", "RSA PUBLIC KEY") => "this is a PKCS#1 RSA key (\"RSA PUBLIC KEY\"); \
             convert it to a SubjectPublicKeyInfo \"PUBLIC KEY\" with \
             `openssl rsa -RSAPublicKey_in -pubout`"
            .to_owned(),
        ("CERTIFICATE", "PUBLIC KEY") => {
            "this is a public key, not a certificate: list it under keys".to_owned()
        }
        _ => format!("expected a \"{expected}\" PEM block, found \"{found}\""),
    }
}

/// One PEM block: its label and the decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `PUBLIC KEY`, `CERTIFICATE`, ...
    pub label: String,
    /// The DER bytes.
    pub der: Vec<u8>,
}

/// Every PEM block in `text`. Lines may be indented (YAML block scalars,
/// copied configuration); nothing else may stand outside the blocks.
pub fn blocks(text: &str) -> Result<Vec<Block>, PemError> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let Some(label) = armour(line, "BEGIN") else {
            return Err(if out.is_empty() && !text.contains("-----BEGIN ") {
                PemError::NoArmour
            } else {
                PemError::StrayText
            });
        };
        let mut body = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if let Some(end) = armour(line, "END") {
                if end != label {
                    return Err(PemError::Unterminated(label.to_owned()));
                }
                ended = true;
                break;
            }
            if line.contains(':') {
                return Err(PemError::Structure(
                    "the PEM block has headers (an encrypted key?); give the public key".into(),
                ));
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PemError::Unterminated(label.to_owned()));
        }
        out.push(Block {
            label: label.to_owned(),
            der: base64(&body).map_err(PemError::Base64)?,
        });
    }
    if out.is_empty() {
        return Err(PemError::NoArmour);
    }
    Ok(out)
}

/// `-----BEGIN LABEL-----` → `LABEL` (for `which` = `BEGIN`).
fn armour<'a>(line: &'a str, which: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_suffix("-----")?
        .strip_prefix(which)?
        .strip_prefix(' ')
}

/// The one block of `text`, which must be labelled `expected`.
fn single(text: &str, expected: &'static str) -> Result<Vec<u8>, PemError> {
    let mut found = blocks(text)?;
    if let Some(other) = found.iter().find(|b| b.label != expected) {
        return Err(PemError::WrongLabel {
            found: other.label.clone(),
            expected,
        });
    }
    match found.len() {
        1 => Ok(found.remove(0).der),
        n => Err(PemError::SeveralBlocks(n)),
    }
}

/// Checks that `text` is one PEM public key with an algorithm Sigstore
/// verifies (ECDSA P-256 or P-384, RSA, Ed25519); returns its DER bytes.
pub fn public_key(text: &str) -> Result<Vec<u8>, PemError> {
    let der = single(text, "PUBLIC KEY")?;
    check_spki(&der).map_err(PemError::Structure)?;
    Ok(der)
}

/// Checks that `text` is one PEM certificate (an X.509 `Certificate`
/// structure: a SEQUENCE of the signed part, the algorithm and the
/// signature); returns its DER bytes.
pub fn certificate(text: &str) -> Result<Vec<u8>, PemError> {
    let der = single(text, "CERTIFICATE")?;
    let broken = |what: &str| PemError::Structure(format!("not an X.509 certificate: {what}"));
    let mut outer = Der::new(&der);
    let mut cert = outer.take(SEQUENCE).map_err(|e| broken(&e))?;
    if !outer.is_empty() {
        return Err(broken("bytes after the certificate"));
    }
    cert.take(SEQUENCE).map_err(|e| broken(&e))?;
    cert.take(SEQUENCE).map_err(|e| broken(&e))?;
    cert.take(BIT_STRING).map_err(|e| broken(&e))?;
    if !cert.is_empty() {
        return Err(broken("unexpected fields after the signature"));
    }
    Ok(der)
}

// DER tags used here.
const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

// Algorithm identifiers (DER contents of the OBJECT IDENTIFIER).
/// 1.2.840.10045.2.1 id-ecPublicKey
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7 prime256v1 (P-256)
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34 secp384r1 (P-384)
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.2.840.113549.1.1.1 rsaEncryption
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.3.101.112 Ed25519
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
/// subjectPublicKey BIT STRING }, with an algorithm cosign keys use.
fn check_spki(der: &[u8]) -> Result<(), String> {
    let broken = |what: String| format!("not a SubjectPublicKeyInfo public key: {what}");
    let mut outer = Der::new(der);
    let mut spki = outer.take(SEQUENCE).map_err(broken)?;
    if !outer.is_empty() {
        return Err(broken("bytes after the key".into()));
    }
    let mut algorithm = spki.take(SEQUENCE).map_err(broken)?;
    let oid = algorithm.take(OID).map_err(broken)?;
    let key = spki.take(BIT_STRING).map_err(broken)?;
    if !spki.is_empty() || key.is_empty() {
        return Err(broken("unexpected fields".into()));
    }
    match oid.rest {
        EC_PUBLIC_KEY => {
            let curve = algorithm.take(OID).map_err(broken)?;
            if curve.rest != P256 && curve.rest != P384 {
                return Err(
                    "an ECDSA key on a curve Sigstore does not verify; cosign keys use P-256 (or P-384)"
                        .into(),
                );
            }
            Ok(())
        }
        RSA | ED25519 => Ok(()),
        _ => Err(
            "a key algorithm Sigstore does not verify; use an ECDSA P-256/P-384, RSA or Ed25519 key"
                .into(),
        ),
    }
}

/// A cursor over DER bytes: definite lengths only, as DER requires.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The contents of the next element, which must have tag `tag`.
    fn take(&mut self, tag: u8) -> Result<Der<'a>, String> {
        let (&found, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| "the data ends early".to_owned())?;
        if found != tag {
            return Err(format!("expected DER tag {tag:#04x}, found {found:#04x}"));
        }
        let (&first, mut rest) = rest
            .split_first()
            .ok_or_else(|| "the data ends early".to_owned())?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err("a DER length is malformed".into());
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        };
        if rest.len() < len {
            return Err("the data ends early (truncated?)".into());
        }
        let (contents, after) = rest.split_at(len);
        self.rest = after;
        Ok(Der { rest: contents })
    }
}

/// Standard base64 with optional `=` padding (RFC 4648 section 4), as PEM
/// bodies are written.
fn base64(text: &str) -> Result<Vec<u8>, String> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 {
        return Err("too much padding".into());
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, c) in body.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => {
                return Err(format!(
                    "character {:?} at position {} of the body",
                    char::from(c),
                    i + 1
                ));
            }
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits >= 6 {
        return Err("the body's length is not a whole number of bytes (truncated?)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ECDSA P-256 public key (cosign's default), made with openssl.
    pub(crate) const P256_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAED7pN8tRjI+lUZZDw/MSni0eNrkbk
Af7gOzK4BSsvyGQ+rVJjhNMeM+4Z4V9NxzPa+VPiFx5WQfOjPvwjkIpgdg==
-----END PUBLIC KEY-----
";

    #[test]
    fn a_cosign_key_is_a_public_key() {
        let der = public_key(P256_KEY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(der.len(), 91);
        // Indented, as in a YAML block scalar, with CRLF line ends.
        let indented = P256_KEY
            .lines()
            .map(|l| format!("    {l}\r\n"))
            .collect::<String>();
        assert_eq!(public_key(&indented), Ok(der));
    }

    #[test]
    fn what_people_paste_instead_is_named() {
        let fail = |text: &str| public_key(text).expect_err("refused").to_string();
        assert!(fail("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE").starts_with("not PEM"));
        assert!(
            fail("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----")
                .starts_with("this is a private key (\"ENCRYPTED SIGSTORE PRIVATE KEY\"): never put it in settings")
        );
        assert!(
            fail("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .starts_with("this is a certificate, not a public key")
        );
        assert!(
            fail("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----")
                .contains("openssl rsa -RSAPublicKey_in -pubout")
        );
        assert_eq!(
            fail(&format!("{P256_KEY}{P256_KEY}")),
            "holds 2 PEM blocks; give each key or certificate as its own list entry"
        );
        let truncated: String = P256_KEY.replace(
            "Af7gOzK4BSsvyGQ+rVJjhNMeM+4Z4V9NxzPa+VPiFx5WQfOjPvwjkIpgdg==\n",
            "",
        );
        assert!(
            fail(&truncated)
                .starts_with("not a SubjectPublicKeyInfo public key: the data ends early"),
            "{}",
            fail(&truncated)
        );
        assert!(
            fail(&P256_KEY.replace("-----END PUBLIC KEY-----", ""))
                .contains("has no \"-----END PUBLIC KEY-----\" line")
        );
        assert!(
            fail(&P256_KEY.replace("MFkw", "MF*w"))
                .starts_with("the PEM body is not valid base64: character '*'")
        );
        assert!(fail(&format!("cosign.pub:\n{P256_KEY}")).starts_with("has text outside"));
    }

    #[test]
    fn only_algorithms_sigstore_verifies_pass() {
        let ed25519 = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAtMe8KmWO9sr/NSrjg0eceuP+y+zJyD8HKlcAhQmiHUE=
-----END PUBLIC KEY-----";
        assert!(public_key(ed25519).is_ok());
        let secp256k1 = "-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEhI5+PUXEyTCG3mI89eNonp7hzanlbCZG
eDEjd0Om+rv8s376MwAUzX8vHSOd2B3co+b7z5H+Y24OLjpn2e+Y8Q==
-----END PUBLIC KEY-----";
        assert_eq!(
            public_key(secp256k1).map_err(|e| e.to_string()),
            Err("an ECDSA key on a curve Sigstore does not verify; cosign keys use P-256 (or P-384)".into())
        );
    }

    #[test]
    fn certificates_are_checked_as_certificates() {
        // SEQUENCE { SEQUENCE {}, SEQUENCE {}, BIT STRING {0} }: the shape only.
        let shape = [0x30, 0x07, 0x30, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00];
        let pem = |der: &[u8]| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                encode(der)
            )
        };
        assert_eq!(certificate(&pem(&shape)), Ok(shape.to_vec()));
        assert_eq!(
            certificate(&pem(&shape[..8])).map_err(|e| e.to_string()),
            Err("not an X.509 certificate: the data ends early (truncated?)".into())
        );
        assert_eq!(
            certificate(P256_KEY).map_err(|e| e.to_string()),
            Err("this is a public key, not a certificate: list it under keys".into())
        );
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64(&encode(&bytes)), Ok(bytes));
        }
        assert!(base64("A").is_err());
        assert!(base64("AA===").is_err());
    }

    /// Standard base64 with padding (for the tests).
    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
        out
    }
}
