//! Reading `signatures`: a list of requirements, each a scope (one of
//! `registry`, `repository`, `image`) and what must sign it, with every
//! mistake people make with keys and identities named at its key path.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::matcher::scope::Scope;
use crate::pem;
use crate::rules::signature::{Requirement, SignatureRules, Signer, Signers};
use crate::rules::source::SourceEntry;
use crate::settings::raw::{Reader, child, index};

const ENTRY_KEYS: &[&str] = &[
    "registry",
    "repository",
    "image",
    "keys",
    "keyless",
    "certificates",
    "threshold",
    "annotations",
    "skip",
    // Known to other tools; refused with a message of their own below.
    "skipOnResolutionFailure",
];
const KEYLESS_KEYS: &[&str] = &[
    "issuer",
    "subject",
    "urlPrefix",
    // Kyverno's and cosign's names: refused with a message of their own.
    "subjectRegExp",
    "issuerRegExp",
];
const CERTIFICATE_KEYS: &[&str] = &["certificate", "chain", "requireRekorBundle"];

/// Reads the `signatures` list.
pub fn read(r: &mut Reader, value: Option<&Value>) -> SignatureRules {
    let mut rules = SignatureRules::default();
    // Few requirements: a list, not another map type in the module.
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, item) in r.list(value, "signatures").iter().enumerate() {
        let path = index("signatures", i);
        let Some(entry) = r.object(Some(item), &path, ENTRY_KEYS) else {
            if !item.is_object() && !item.is_null() {
                continue;
            }
            r.problem(&path, None, "expected a requirement, found null");
            continue;
        };
        if entry.contains_key("skipOnResolutionFailure") {
            r.problem(
                &child(&path, "skipOnResolutionFailure"),
                None,
                "a signature requirement cannot skip failed verifications: Kubewarden reports an unsigned image and an unreachable signature alike, so skipping one would admit the other; use actions.signature: warn while a registry is down",
            );
        }
        let Some(scope) = read_scope(r, entry, &path) else {
            continue;
        };
        let canonical = scope.canonical();
        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == canonical) {
            r.problem(
                &path,
                None,
                format!("the same scope as signatures[{first}] ({canonical}); write one requirement per scope"),
            );
            continue;
        }
        seen.push((canonical, i));
        let skip = r.bool(entry.get("skip"), &child(&path, "skip"));
        let signers = read_signers(r, entry, &path, skip);
        rules.requirements.push(Requirement {
            scope,
            index: i,
            signers,
        });
    }
    rules
}

/// Exactly one of `registry`, `repository`, `image`.
fn read_scope(r: &mut Reader, entry: &Map<String, Value>, path: &str) -> Option<Scope> {
    let written: Vec<&str> = Scope::KEYS
        .iter()
        .copied()
        .filter(|k| entry.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let key = match written.as_slice() {
        [key] => *key,
        [] => {
            r.problem(
                path,
                None,
                "names no scope: write one of registry, repository or image (the images this requirement is about)",
            );
            return None;
        }
        several => {
            r.problem(
                path,
                None,
                format!(
                    "names {} scopes ({}); write one requirement per scope",
                    several.len(),
                    several.join(", ")
                ),
            );
            return None;
        }
    };
    let scope_path = child(path, key);
    let text = r.string(entry.get(key), &scope_path)?;
    match Scope::parse(key, text) {
        Ok(scope) => Some(scope),
        Err(e) => {
            r.problem(&scope_path, Some(text), e);
            None
        }
    }
}

/// The signers, threshold and annotations; `None` for `skip: true`.
fn read_signers(
    r: &mut Reader,
    entry: &Map<String, Value>,
    path: &str,
    skip: bool,
) -> Option<Signers> {
    let mut signers = Vec::new();
    let keys_path = child(path, "keys");
    let mut ders: Vec<(Vec<u8>, usize)> = Vec::new();
    let keys = r.strings(entry.get("keys"), &keys_path);
    if entry.get("keys").is_some_and(Value::is_array) && keys.is_empty() {
        r.problem(
            &keys_path,
            None,
            "an empty key list: no image could ever be verified; list the public keys (PEM) that may sign, or remove keys",
        );
    }
    for (i, text) in keys {
        let key_path = index(&keys_path, i);
        match pem::public_key(text) {
            Ok(der) => {
                if let Some((_, first)) = ders.iter().find(|(d, _)| *d == der) {
                    r.problem(
                        &key_path,
                        None,
                        format!("the same key as keys[{first}]; a key counts once"),
                    );
                    continue;
                }
                ders.push((der, i));
                signers.push(Signer::Key {
                    index: i,
                    pem: unindent(text),
                });
            }
            Err(e) => r.problem(&key_path, None, e.to_string()),
        }
    }

    let keyless_path = child(path, "keyless");
    let keyless = r.list(entry.get("keyless"), &keyless_path);
    if entry.get("keyless").is_some_and(Value::is_array) && keyless.is_empty() {
        r.problem(
            &keyless_path,
            None,
            "an empty identity list: no image could ever be verified; list the identities that may sign, or remove keyless",
        );
    }
    for (i, item) in keyless.iter().enumerate() {
        if let Some(signer) = read_identity(r, item, &index(&keyless_path, i), i) {
            if signers.iter().any(|s| s.same_identity(&signer)) {
                r.problem(
                    &index(&keyless_path, i),
                    None,
                    "the same identity twice; an identity counts once",
                );
                continue;
            }
            signers.push(signer);
        }
    }

    let certificates_path = child(path, "certificates");
    let certificates = r.list(entry.get("certificates"), &certificates_path);
    if entry.get("certificates").is_some_and(Value::is_array) && certificates.is_empty() {
        r.problem(
            &certificates_path,
            None,
            "an empty certificate list: no image could ever be verified; list the signing certificates, or remove certificates",
        );
    }
    for (i, item) in certificates.iter().enumerate() {
        if let Some(signer) = read_certificate(r, item, &index(&certificates_path, i), i) {
            signers.push(signer);
        }
    }

    let annotations_path = child(path, "annotations");
    let mut annotations = BTreeMap::new();
    for (key, value) in r.string_map(entry.get("annotations"), &annotations_path) {
        if key.is_empty() {
            r.problem(
                &annotations_path,
                None,
                "an empty annotation key; name the key",
            );
        } else if value == "*" {
            r.problem(
                &child(&annotations_path, key),
                Some(value),
                "the host compares annotation values exactly, so \"*\" would require the value * itself; write the value the signer sets",
            );
        } else {
            annotations.insert(key.to_owned(), value.to_owned());
        }
    }

    let threshold_path = child(path, "threshold");
    let threshold = match entry.get("threshold") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            r.problem(
                &threshold_path,
                None,
                format!("expected a whole number of signers, found {other}"),
            );
            None
        }
    };

    let written = ["keys", "keyless", "certificates"]
        .iter()
        .any(|k| entry.get(*k).is_some_and(|v| !v.is_null()));
    if skip {
        if written || threshold.is_some() || !annotations.is_empty() {
            r.problem(
                &child(path, "skip"),
                None,
                "skip: true needs no signature, so keys, keyless, certificates, threshold and annotations mean nothing next to it; remove one or the other",
            );
        }
        return None;
    }
    if !written {
        r.problem(
            path,
            None,
            "names no signer: list keys, keyless identities or certificates (or write skip: true to exempt the scope from a broader requirement)",
        );
        return Some(Signers {
            signers,
            threshold: 1,
            annotations: None,
        });
    }
    let count = signers.len();
    let threshold = match threshold {
        Some(0) => {
            r.problem(
                &threshold_path,
                None,
                "0 would admit unsigned images; write at least 1, or skip: true to exempt the scope",
            );
            1
        }
        Some(t) if usize::try_from(t).is_ok_and(|t| t > count) && count > 0 => {
            r.problem(
                &threshold_path,
                None,
                format!("{t} signers are required but only {count} are listed, so no image could ever be verified"),
            );
            count
        }
        Some(t) => usize::try_from(t).unwrap_or(1),
        None => 1,
    };
    Some(Signers {
        signers,
        threshold,
        annotations: (!annotations.is_empty()).then_some(annotations),
    })
}

/// `{issuer, subject}` or `{issuer, urlPrefix}`.
fn read_identity(r: &mut Reader, item: &Value, path: &str, i: usize) -> Option<Signer> {
    let identity = r.object(Some(item), path, KEYLESS_KEYS)?;
    for key in ["subjectRegExp", "issuerRegExp"] {
        if identity.contains_key(key) {
            r.problem(
                &child(path, key),
                None,
                "Kubewarden's host matches subjects exactly or by URL prefix, not by regular expression; write subject, or urlPrefix for every subject under a URL",
            );
        }
    }
    let issuer = r.string(identity.get("issuer"), &child(path, "issuer"));
    let subject = r.string(identity.get("subject"), &child(path, "subject"));
    let prefix = r.string(identity.get("urlPrefix"), &child(path, "urlPrefix"));
    let Some(issuer) = issuer.filter(|s| !s.is_empty()) else {
        r.problem(
            path,
            None,
            "needs issuer, the OIDC issuer URL (e.g. https://token.actions.githubusercontent.com)",
        );
        return None;
    };
    match (subject, prefix) {
        (Some(subject), None) if !subject.is_empty() => Some(Signer::Keyless {
            index: i,
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        }),
        (None, Some(prefix)) => match check_url_prefix(prefix) {
            Ok(()) => Some(Signer::KeylessPrefix {
                index: i,
                issuer: issuer.to_owned(),
                url_prefix: prefix.to_owned(),
            }),
            Err(e) => {
                r.problem(&child(path, "urlPrefix"), Some(prefix), e);
                None
            }
        },
        (Some(_), Some(_)) => {
            r.problem(
                path,
                None,
                "has both subject and urlPrefix; write subject for one identity, urlPrefix for every subject under a URL",
            );
            None
        }
        _ => {
            r.problem(
                path,
                None,
                "needs subject (the exact identity, e.g. an e-mail or a workflow URL) or urlPrefix",
            );
            None
        }
    }
}

/// A URL prefix Kubewarden's host can parse (it stops on one it cannot):
/// `https://` or `http://`, a host, no spaces.
fn check_url_prefix(prefix: &str) -> Result<(), String> {
    let rest = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))
        .ok_or("must be a URL starting with https:// (the subject of a keyless signature is a URL or an e-mail; prefixes are URLs)")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || prefix.chars().any(char::is_whitespace) {
        return Err(
            "must be a URL with a host and no spaces, e.g. https://github.com/example-org/".into(),
        );
    }
    Ok(())
}

/// `{certificate, chain, requireRekorBundle}`.
fn read_certificate(r: &mut Reader, item: &Value, path: &str, i: usize) -> Option<Signer> {
    let entry = r.object(Some(item), path, CERTIFICATE_KEYS)?;
    let certificate_path = child(path, "certificate");
    let Some(text) = r.string(entry.get("certificate"), &certificate_path) else {
        r.problem(
            path,
            None,
            "needs certificate, the signing certificate (PEM)",
        );
        return None;
    };
    let mut ok = match pem::certificate(text) {
        Ok(_) => true,
        Err(e) => {
            r.problem(&certificate_path, None, e.to_string());
            false
        }
    };
    let chain_path = child(path, "chain");
    let written_chain = entry.get("chain").is_some_and(|v| !v.is_null());
    let mut chain = Vec::new();
    for (j, text) in r.strings(entry.get("chain"), &chain_path) {
        match pem::certificate(text) {
            Ok(_) => chain.push(unindent(text)),
            Err(e) => {
                r.problem(&index(&chain_path, j), None, e.to_string());
                ok = false;
            }
        }
    }
    if written_chain && chain.is_empty() && ok {
        r.problem(
            &chain_path,
            None,
            "an empty chain; list the CA certificates (PEM), or remove chain to trust the certificate itself",
        );
        ok = false;
    }
    let require_rekor_bundle = r.bool(
        entry.get("requireRekorBundle"),
        &child(path, "requireRekorBundle"),
    );
    ok.then(|| Signer::Certificate {
        index: i,
        pem: unindent(text),
        chain: written_chain.then_some(chain),
        require_rekor_bundle,
    })
}

/// The PEM text without indentation or blank lines, as the host's PEM
/// parser wants it (YAML block scalars and copied files indent it).
fn unindent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Refuses requirements whose images the source rule always rejects, so
/// they are never checked: a reject entry covers the whole scope, and no
/// allow entry more specific than it could admit any of it. Conservative,
/// like the other reachability checks: only certain cases are refused.
/// `aliases` says whether `registryAliases` is set (two literal hosts may
/// then be one registry).
pub fn check_reachable(
    r: &mut Reader,
    rules: &SignatureRules,
    source: &[SourceEntry],
    aliases: bool,
) {
    if !rules.is_active() {
        return;
    }
    let entries: Vec<(&SourceEntry, Scope)> = source.iter().map(|e| (e, e.scope())).collect();
    for requirement in rules.requirements.iter().filter(|q| q.signers.is_some()) {
        let scope = &requirement.scope;
        // The most specific reject entry covering the whole scope: an allow
        // entry must beat it to admit any image of the scope.
        let Some((reject, reject_scope)) = entries
            .iter()
            .filter(|(e, s)| !e.is_allow() && s.covers(scope))
            .max_by_key(|(_, s)| s.specificity())
        else {
            continue;
        };
        let rescued = entries.iter().any(|(e, s)| {
            e.is_allow()
                && s.specificity() > reject_scope.specificity()
                && may_overlap(
                    s.registry().literal_host(),
                    scope.registry().literal_host(),
                    aliases,
                )
        });
        if !rescued {
            r.problem(
                &index("signatures", requirement.index),
                None,
                format!(
                    "never applies: every image of this {} is rejected by {} before its signatures are checked; remove the requirement or the reject entry",
                    scope.key(),
                    reject.describe()
                ),
            );
        }
    }
}

/// Whether two registry parts may name one registry.
fn may_overlap(a: Option<&str>, b: Option<&str>, aliases: bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => aliases || a == b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::signature::Signer;
    use crate::settings::compile::compile;
    use crate::settings::compile::tests::problems;
    use serde_json::{Value, json};

    const TEAM: &str = include_str!("../../../testdata/signatures/team.pub");
    const OTHER: &str = include_str!("../../../testdata/signatures/other.pub");
    const CA: &str = include_str!("../../../testdata/signatures/ca.crt");
    const SIGNER: &str = include_str!("../../../testdata/signatures/signer.crt");

    fn signatures(list: Value) -> Vec<String> {
        problems(json!({ "signatures": list }))
    }

    #[test]
    fn every_kind_of_signer_compiles() {
        let settings = json!({"signatures": [
            {"repository": "ghcr.io/org", "keys": [TEAM, format!("  {}", OTHER.replace('\n', "\n  "))], "threshold": 2,
             "annotations": {"env": "prod"}},
            {"registry": "harbor.corp.example", "keyless": [
                {"issuer": "https://token.actions.githubusercontent.com", "subject": "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"},
                {"issuer": "https://accounts.google.com", "urlPrefix": "https://github.com/org/"}]},
            {"image": "registry.corp.example/internal/app", "certificates": [{"certificate": SIGNER, "chain": [CA]}]},
            {"image": "ghcr.io/org/debug", "skip": true}
        ]});
        let policy = compile(&settings).unwrap_or_else(|e| panic!("{e}"));
        let requirements = &policy.signatures.requirements;
        assert_eq!(requirements.len(), 4);
        let keys = requirements[0]
            .signers
            .as_ref()
            .unwrap_or_else(|| panic!("signers"));
        assert_eq!(keys.threshold, 2);
        // Indented PEM is sent without its indentation.
        assert_eq!(
            keys.signers[1],
            Signer::Key {
                index: 1,
                pem: OTHER.to_owned()
            }
        );
        let keyless = requirements[1]
            .signers
            .as_ref()
            .unwrap_or_else(|| panic!("signers"));
        assert!(
            matches!(&keyless.signers[1], Signer::KeylessPrefix { url_prefix, .. } if url_prefix == "https://github.com/org/")
        );
        assert_eq!(keyless.threshold, 1);
        assert!(matches!(
            &requirements[2].signers.as_ref().unwrap_or_else(|| panic!("signers")).signers[0],
            Signer::Certificate { chain: Some(chain), require_rekor_bundle: false, .. } if chain.len() == 1
        ));
        assert!(requirements[3].signers.is_none());
    }

    #[test]
    fn keys_that_are_not_pem_public_keys_are_named_without_echoing_them() {
        let private = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        let found = signatures(
            json!([{"repository": "ghcr.io/org", "keys": [TEAM, private, "MFkwEwYH", CA, TEAM]}]),
        );
        assert_eq!(
            found,
            vec![
                "signatures[0].keys[1]: this is a private key (\"ENCRYPTED SIGSTORE PRIVATE KEY\"): never put it in settings; give the public key (cosign.pub, or `cosign public-key --key cosign.key`)",
                "signatures[0].keys[2]: not PEM: expected a block starting with a line \"-----BEGIN PUBLIC KEY-----\" (or CERTIFICATE); paste the whole file, armour lines included",
                "signatures[0].keys[3]: this is a certificate, not a public key: list it under certificates",
                "signatures[0].keys[4]: the same key as keys[0]; a key counts once",
            ]
        );
        assert!(!found.join(" ").contains("eyJrZGYiOnt9fQ"));
    }

    #[test]
    fn empty_lists_and_impossible_thresholds_are_refused() {
        assert_eq!(
            signatures(json!([{"repository": "ghcr.io/org", "keys": []}])),
            vec![
                "signatures[0].keys: an empty key list: no image could ever be verified; list the public keys (PEM) that may sign, or remove keys"
            ]
        );
        assert_eq!(
            signatures(json!([{"repository": "ghcr.io/org", "keys": [TEAM], "threshold": 0}])),
            vec![
                "signatures[0].threshold: 0 would admit unsigned images; write at least 1, or skip: true to exempt the scope"
            ]
        );
        assert_eq!(
            signatures(
                json!([{"repository": "ghcr.io/org", "keys": [TEAM, OTHER], "threshold": 3}])
            ),
            vec![
                "signatures[0].threshold: 3 signers are required but only 2 are listed, so no image could ever be verified"
            ]
        );
        assert_eq!(
            signatures(json!([{"repository": "ghcr.io/org", "keys": [TEAM], "threshold": "all"}])),
            vec!["signatures[0].threshold: expected a whole number of signers, found \"all\""]
        );
    }

    #[test]
    fn scopes_are_one_pattern_each() {
        assert_eq!(
            signatures(json!([
                {"keys": [TEAM]},
                {"registry": "ghcr.io", "repository": "ghcr.io/org", "keys": [TEAM]},
                {"image": "ghcr.io/org/app@sha256:abc", "keys": [TEAM]},
                {"repository": "ghcr.io/org", "keys": [TEAM]},
                {"repository": "GHCR.io/org", "keys": [OTHER]},
                {"registry": "ghcr.io/org", "keys": [TEAM]},
            ])),
            vec![
                "signatures[0]: names no scope: write one of registry, repository or image (the images this requirement is about)",
                "signatures[1]: names 2 scopes (registry, repository); write one requirement per scope",
                "signatures[2].image \"ghcr.io/org/app@sha256:abc\": digest \"sha256:abc\" must have 64 lowercase hex characters, found 3",
                "signatures[4]: the same scope as signatures[3] (repository ghcr.io/org); write one requirement per scope",
                "signatures[5].registry \"ghcr.io/org\": a registry pattern has no repository path; to trust a repository and everything below it use repositories, e.g. \"ghcr.io/org\", or write the registry alone, \"ghcr.io\"",
            ]
        );
    }

    #[test]
    fn signers_and_skip_are_checked() {
        assert_eq!(
            signatures(json!([
                {"repository": "ghcr.io/a"},
                {"repository": "ghcr.io/b", "skip": true, "keys": [TEAM]},
                {"repository": "ghcr.io/c", "keys": [TEAM], "skipOnResolutionFailure": true},
                {"repository": "ghcr.io/d", "keys": [TEAM], "annotations": {"env": "*", "": "x"}},
            ])),
            vec![
                "signatures[0]: names no signer: list keys, keyless identities or certificates (or write skip: true to exempt the scope from a broader requirement)",
                "signatures[1].skip: skip: true needs no signature, so keys, keyless, certificates, threshold and annotations mean nothing next to it; remove one or the other",
                "signatures[2].skipOnResolutionFailure: a signature requirement cannot skip failed verifications: Kubewarden reports an unsigned image and an unreachable signature alike, so skipping one would admit the other; use actions.signature: warn while a registry is down",
                "signatures[3].annotations: an empty annotation key; name the key",
                "signatures[3].annotations.env \"*\": the host compares annotation values exactly, so \"*\" would require the value * itself; write the value the signer sets",
            ]
        );
    }

    #[test]
    fn keyless_identities_are_what_kubewarden_matches() {
        let issuer = "https://token.actions.githubusercontent.com";
        assert_eq!(
            signatures(json!([{"repository": "ghcr.io/org", "keyless": [
                {"subject": "a@example.com"},
                {"issuer": issuer},
                {"issuer": issuer, "subject": "x", "urlPrefix": "https://github.com/org/"},
                {"issuer": issuer, "subjectRegExp": "^https://github.com/org/.*$"},
                {"issuer": issuer, "urlPrefix": "github.com/org"},
                {"issuer": issuer, "urlPrefix": "https://github.com/org"},
                {"issuer": issuer, "urlPrefix": "https://github.com/org"},
            ]}])),
            vec![
                "signatures[0].keyless[0]: needs issuer, the OIDC issuer URL (e.g. https://token.actions.githubusercontent.com)",
                "signatures[0].keyless[1]: needs subject (the exact identity, e.g. an e-mail or a workflow URL) or urlPrefix",
                "signatures[0].keyless[2]: has both subject and urlPrefix; write subject for one identity, urlPrefix for every subject under a URL",
                "signatures[0].keyless[3].subjectRegExp: Kubewarden's host matches subjects exactly or by URL prefix, not by regular expression; write subject, or urlPrefix for every subject under a URL",
                "signatures[0].keyless[3]: needs subject (the exact identity, e.g. an e-mail or a workflow URL) or urlPrefix",
                "signatures[0].keyless[4].urlPrefix \"github.com/org\": must be a URL starting with https:// (the subject of a keyless signature is a URL or an e-mail; prefixes are URLs)",
                "signatures[0].keyless[6]: the same identity twice; an identity counts once",
            ]
        );
    }

    #[test]
    fn certificates_are_certificates() {
        assert_eq!(
            signatures(json!([{"repository": "ghcr.io/org", "certificates": [
                {"certificate": TEAM},
                {"certificate": SIGNER, "chain": [TEAM]},
                {"certificate": SIGNER, "chain": []},
                {"chain": [CA]},
                {"certificate": format!("{SIGNER}{CA}")},
            ]}])),
            vec![
                "signatures[0].certificates[0].certificate: this is a public key, not a certificate: list it under keys",
                "signatures[0].certificates[1].chain[0]: this is a public key, not a certificate: list it under keys",
                "signatures[0].certificates[2].chain: an empty chain; list the CA certificates (PEM), or remove chain to trust the certificate itself",
                "signatures[0].certificates[3]: needs certificate, the signing certificate (PEM)",
                "signatures[0].certificates[4].certificate: holds 2 PEM blocks; give each key or certificate as its own list entry",
            ]
        );
    }

    #[test]
    fn a_scope_the_source_rule_always_rejects_is_refused() {
        let requirement = json!([{"repository": "ghcr.io/org/app", "keys": [TEAM]}]);
        assert_eq!(
            problems(json!({"registries": {"reject": ["ghcr.io"]}, "signatures": requirement})),
            vec![
                "signatures[0]: never applies: every image of this repository is rejected by registries.reject[0] \"ghcr.io\" before its signatures are checked; remove the requirement or the reject entry"
            ]
        );
        assert_eq!(
            problems(json!({"repositories": {"allow": ["ghcr.io"], "reject": ["ghcr.io/org"]}, "signatures": requirement}))
                .len(),
            2,
            "the refused registry-like repository and the unreachable requirement"
        );
        // A more specific allow entry may admit some of it: not certain.
        assert!(
            problems(json!({"registries": {"reject": ["ghcr.io"]},
            "images": {"allow": ["ghcr.io/org/app:1"]}, "signatures": requirement}))
            .is_empty()
        );
        // A reject entry that covers only part of the scope leaves the rest.
        assert!(problems(json!({"repositories": {"reject": ["ghcr.io/org/app/internal"]}, "signatures": requirement})).is_empty());
        // In warn mode rejected images are still verified.
        assert!(
            problems(
                json!({"registries": {"reject": ["ghcr.io"]}, "actions": {"source": "warn"},
            "signatures": requirement})
            )
            .is_empty()
        );
        // A skip scope needs nothing, so it is never "unreachable".
        assert!(
            problems(json!({"registries": {"reject": ["ghcr.io"]},
            "signatures": [{"repository": "ghcr.io/org", "skip": true}]}))
            .is_empty()
        );
    }

    #[test]
    fn signature_is_a_rule_id_for_actions() {
        assert!(problems(json!({"actions": {"signature": "warn"}})).is_empty());
        assert_eq!(
            problems(json!({"actions": {"signatures": "warn"}})),
            vec![r#"actions: unknown key "signatures" (did you mean "signature"?)"#]
        );
    }
}
