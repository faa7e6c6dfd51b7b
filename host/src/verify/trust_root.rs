//! The Sigstore trust root for keyless signatures, read from a file:
//! `--sigstore-trust-config FILE`.
//!
//! The file is Sigstore's `trusted_root.json` (protobuf-specs
//! `dev.sigstore.trustroot.v1.TrustedRoot`, the file `cosign` and
//! `sigstore-go` read with `--trusted-root`), or a client trust
//! configuration (`ClientTrustConfig`, media type
//! `application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`) whose
//! `trustedRoot` is one, which is what policy-server's
//! `--sigstore-trust-config` reads. Nothing is fetched: no TUF, so the file
//! is as fresh as whoever copied it made it (README "Signatures").
//!
//! What is taken from it, as the sigstore crate's `SigstoreTrustRoot` takes
//! it: the certificates of every `certificateAuthorities[*].certChain`
//! already valid (an expired Fulcio CA still vouches for certificates it
//! issued while it was valid; the Rekor bundle's time is checked against
//! them), and the `tlogs[*].publicKey.rawBytes` (Rekor keys) that are valid
//! now, by `logId.keyId`. A file from which no certificate authority can be
//! read is refused: keyless verification could never succeed with it.

use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use sigstore::trust::ManualTrustRoot;

/// The parts of `TrustedRoot` used here (JSON names, camelCase).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustedRoot {
    #[serde(default)]
    tlogs: Vec<TransparencyLog>,
    #[serde(default)]
    certificate_authorities: Vec<CertificateAuthority>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransparencyLog {
    public_key: Option<PublicKey>,
    log_id: Option<LogId>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKey {
    raw_bytes: Option<String>,
    valid_for: Option<TimeRange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificateAuthority {
    cert_chain: Option<CertChain>,
    valid_for: Option<TimeRange>,
}

#[derive(Debug, Deserialize)]
struct CertChain {
    #[serde(default)]
    certificates: Vec<RawCertificate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCertificate {
    raw_bytes: String,
}

#[derive(Debug, Deserialize)]
struct TimeRange {
    start: Option<String>,
    end: Option<String>,
}

/// A trust root read from a file.
#[derive(Debug)]
pub struct TrustRootFile {
    /// What the cosign client is built with.
    pub root: ManualTrustRoot<'static>,
}

impl TrustRootFile {
    /// Reads and checks `path`; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<TrustRootFile, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read the Sigstore trust root {}: {e}",
                path.display()
            )
        })?;
        TrustRootFile::parse(&bytes, chrono::Utc::now().timestamp())
            .map_err(|e| format!("Sigstore trust root {}: {e}", path.display()))
    }

    /// Reads a trusted root or a client trust configuration; `now` is the
    /// time (Unix seconds) validity periods are checked against.
    pub fn parse(bytes: &[u8], now: i64) -> Result<TrustRootFile, String> {
        let document: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("not JSON (a trusted_root.json is expected): {e}"))?;
        let (document, prefix) = match document.get("trustedRoot") {
            Some(inner) => (inner.clone(), "trustedRoot."),
            None => (document, ""),
        };
        let trusted: TrustedRoot = serde_json::from_value(document)
            .map_err(|e| format!("not a Sigstore trusted root: {e}"))?;
        let b64 = |what: &str, text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| format!("{prefix}{what}: not base64: {e}"))
        };

        let mut root = ManualTrustRoot::default();
        for (i, ca) in trusted.certificate_authorities.iter().enumerate() {
            if !valid(
                ca.valid_for.as_ref(),
                now,
                true,
                &format!("{prefix}certificateAuthorities[{i}].validFor"),
            )? {
                continue;
            }
            for (j, cert) in ca
                .cert_chain
                .iter()
                .flat_map(|c| c.certificates.iter())
                .enumerate()
            {
                let der = b64(
                    &format!("certificateAuthorities[{i}].certChain.certificates[{j}].rawBytes"),
                    &cert.raw_bytes,
                )?;
                root.fulcio_certs.push(der.into());
            }
        }
        if root.fulcio_certs.is_empty() {
            return Err(format!(
                "{prefix}certificateAuthorities holds no certificate valid now: keyless \
                 signatures could never be verified with it"
            ));
        }
        for (i, log) in trusted.tlogs.iter().enumerate() {
            let (Some(key), Some(id)) = (&log.public_key, &log.log_id) else {
                continue;
            };
            let Some(raw) = &key.raw_bytes else { continue };
            if !valid(
                key.valid_for.as_ref(),
                now,
                false,
                &format!("{prefix}tlogs[{i}].publicKey.validFor"),
            )? {
                continue;
            }
            let key_id = b64(&format!("tlogs[{i}].logId.keyId"), &id.key_id)?;
            let hex: String = key_id.iter().map(|b| format!("{b:02x}")).collect();
            root.rekor_keys
                .insert(hex, b64(&format!("tlogs[{i}].publicKey.rawBytes"), raw)?);
        }
        Ok(TrustRootFile { root })
    }
}

/// Whether a validity period holds at `now`: started, and (unless
/// `allow_expired`) not ended. Times are RFC 3339, as protobuf JSON writes
/// timestamps.
fn valid(
    range: Option<&TimeRange>,
    now: i64,
    allow_expired: bool,
    path: &str,
) -> Result<bool, String> {
    let Some(range) = range else { return Ok(true) };
    let seconds = |text: &Option<String>, which: &str| -> Result<Option<i64>, String> {
        text.as_deref()
            .map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|d| d.timestamp())
                    .map_err(|e| format!("{path}.{which} {t:?}: not an RFC 3339 time: {e}"))
            })
            .transpose()
    };
    let start = seconds(&range.start, "start")?;
    let end = seconds(&range.end, "end")?;
    if start.is_some_and(|s| now < s) {
        return Ok(false);
    }
    Ok(allow_expired || end.is_none_or(|e| now <= e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    fn root(json: serde_json::Value) -> Result<TrustRootFile, String> {
        TrustRootFile::parse(json.to_string().as_bytes(), NOW)
    }

    #[test]
    fn reads_cas_and_current_rekor_keys() {
        let file = root(serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {"publicKey": {"rawBytes": "AQID", "validFor": {"start": "2021-01-12T11:53:27.000Z"}},
                 "logId": {"keyId": "q80="}},
                {"publicKey": {"rawBytes": "BAUG", "validFor": {"start": "2021-01-01T00:00:00Z", "end": "2022-01-01T00:00:00Z"}},
                 "logId": {"keyId": "AAE="}}
            ],
            "certificateAuthorities": [
                {"certChain": {"certificates": [{"rawBytes": "MAA="}, {"rawBytes": "MAE="}]},
                 "validFor": {"start": "2021-03-07T03:20:29.000Z", "end": "2022-12-31T23:59:59.999Z"}},
                {"certChain": {"certificates": [{"rawBytes": "MAI="}]},
                 "validFor": {"start": "2099-01-01T00:00:00Z"}}
            ]
        }))
        .unwrap();
        // The expired CA counts, the future one does not.
        assert_eq!(file.root.fulcio_certs.len(), 2);
        // The expired Rekor key does not count.
        assert_eq!(
            file.root.rekor_keys.keys().collect::<Vec<_>>(),
            vec!["abcd"]
        );
        assert_eq!(file.root.rekor_keys["abcd"], vec![1, 2, 3]);
    }

    #[test]
    fn a_client_trust_config_wraps_the_trusted_root() {
        let file = root(serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": {"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "MAA="}]}}]},
            "signingConfig": {}
        }))
        .unwrap();
        assert_eq!(file.root.fulcio_certs.len(), 1);
    }

    #[test]
    fn problems_are_named_with_their_path() {
        assert_eq!(
            root(serde_json::json!({"tlogs": []})).unwrap_err(),
            "certificateAuthorities holds no certificate valid now: keyless signatures could \
             never be verified with it"
        );
        assert_eq!(
            root(serde_json::json!({"certificateAuthorities": [
                {"certChain": {"certificates": [{"rawBytes": "not base64!"}]}}]}))
            .unwrap_err(),
            "certificateAuthorities[0].certChain.certificates[0].rawBytes: not base64: Invalid \
             symbol 32, offset 3."
        );
        assert!(
            root(serde_json::json!({"trustedRoot": {"certificateAuthorities": [
                {"validFor": {"start": "yesterday"}}]}}))
            .unwrap_err()
            .starts_with("trustedRoot.certificateAuthorities[0].validFor.start \"yesterday\": not an RFC 3339 time")
        );
        assert!(
            TrustRootFile::parse(b"[1", NOW)
                .unwrap_err()
                .starts_with("not JSON")
        );
    }
}
