//! containers `policy.json` (containers-policy.json(5)): `default` and the
//! `docker` transport's scopes.
//!
//! How the runtime decides: for an image pulled over the `docker`
//! transport, the most specific scope that matches it applies (a full
//! reference with tag or digest, then `host[:port]/path` prefixes at `/`
//! boundaries, then `host[:port]`, then `*.domain` wildcards, then the
//! transport's `""` scope, then `default`); every requirement of that
//! scope must be satisfied: `insecureAcceptAnything`, `reject`, `signedBy`
//! (GPG simple signing), `sigstoreSigned` (cosign: `keyPath(s)`,
//! `keyData(s)`, or `fulcio` with an OIDC issuer and subject e-mail).

use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::Import;

/// What a scope's requirements amount to.
enum Verdict {
    Accept,
    Reject,
    /// Signed by any of these signers (a `signatures` entry).
    Signed(Map<String, Value>),
    /// Signed in a way imagegate cannot check (GPG).
    Unverifiable(String),
}

/// A docker scope as an imagegate scope: (`registries`|`repositories`|`images`, pattern).
fn scope_kind(scope: &str) -> (&'static str, &'static str, String) {
    let last = scope.rsplit('/').next().unwrap_or(scope);
    if scope.contains('@') || (scope.contains('/') && last.contains(':')) {
        ("images", "image", scope.to_owned())
    } else if scope.contains('/') {
        ("repositories", "repository", scope.to_owned())
    } else {
        ("registries", "registry", scope.to_owned())
    }
}

/// Reads a policy.json into `import`; `base` is the directory relative
/// key paths are read from.
pub fn import(documents: &[Value], base: &Path, import: &mut Import) {
    let empty = Map::new();
    let policy = documents
        .first()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for key in policy.keys() {
        if key != "default" && key != "transports" {
            import.not_carried("unknown-key", key, "not a policy.json key: left out".into());
        }
    }
    let transports = policy
        .get("transports")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for transport in transports.keys() {
        if transport != "docker" {
            import.not_carried(
                "transport",
                &format!("transports.{transport}"),
                format!("Pods pull over the docker transport; the {transport} transport's scopes do not apply to them: left out"),
            );
        }
    }
    let docker = transports
        .get("docker")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let default = docker
        .get("")
        .map(|r| (r, "transports.docker[\"\"]".to_owned()))
        .or_else(|| policy.get("default").map(|r| (r, "default".to_owned())));

    let default_verdict = default
        .as_ref()
        .map(|(requirements, here)| requirements_verdict(requirements, here, base, import));
    let mut signed_scopes: Vec<String> = Vec::new();
    if matches!(default_verdict, Some(Verdict::Signed(_))) {
        signed_scopes.push("*:*".into());
    }
    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut any_allow = false;
    for (scope, requirements) in docker.iter().filter(|(s, _)| !s.is_empty()) {
        let here = format!("transports.docker[\"{scope}\"]");
        let (section, signature_key, pattern) = scope_kind(scope);
        match requirements_verdict(requirements, &here, base, import) {
            Verdict::Reject => import.push(&[section, "reject"], json!(pattern), &here, None),
            Verdict::Accept => {
                any_allow = true;
                accepted.push((signature_key.to_owned(), pattern.clone()));
                import.push(&[section, "allow"], json!(pattern), &here, None);
            }
            Verdict::Signed(mut requirement) => {
                any_allow = true;
                import.push(&[section, "allow"], json!(pattern), &here, None);
                requirement.insert(signature_key.into(), json!(pattern));
                // The scope first, as README "Signatures" writes it.
                let mut ordered = Map::new();
                ordered.insert(signature_key.into(), json!(pattern));
                ordered.extend(requirement.into_iter().filter(|(k, _)| k != signature_key));
                signed_scopes.push(pattern.clone());
                import.push(&["signatures"], Value::Object(ordered), &here, None);
            }
            Verdict::Unverifiable(why) => {
                any_allow = true;
                import.push(
                    &[section, "allow"],
                    json!(pattern),
                    &here,
                    Some((
                        "signature-not-carried",
                        format!("trusted without the signature check: {why}"),
                    )),
                );
            }
        }
    }
    // Narrower accept scopes inside signed ones need no signature.
    for (key, pattern) in &accepted {
        if signed_scopes
            .iter()
            .any(|s| pattern.starts_with(&format!("{s}/")) || *s == "*:*")
        {
            let here = format!("transports.docker[\"{pattern}\"]");
            let mut skip = Map::new();
            skip.insert(key.clone(), json!(pattern));
            skip.insert("skip".into(), json!(true));
            import.push(&["signatures"], Value::Object(skip), &here, None);
        }
    }
    let (Some((_, here)), Some(verdict)) = (default, default_verdict) else {
        import.changed(
            "no-default",
            "default",
            "policy.json has no default (the runtime refuses to start); imagegate accepts images no scope names".into(),
        );
        return;
    };
    match verdict {
        Verdict::Reject => {
            if !any_allow {
                import.push(
                    &["registries", "reject"],
                    json!("*:*"),
                    &here,
                    Some((
                        "reject-all",
                        "the default rejects, and no scope accepts: every image is rejected".into(),
                    )),
                );
            }
        }
        Verdict::Accept => {
            if any_allow {
                import.push(
                    &["registries", "allow"],
                    json!("*:*"),
                    &here,
                    Some((
                        "default-accept",
                        "the default accepts; imagegate rejects images no allow entry matches once any allow list is set, so every registry is allowed here".into(),
                    )),
                );
            }
        }
        Verdict::Signed(mut requirement) => {
            import.push(&["registries", "allow"], json!("*:*"), &here, None);
            let mut ordered = Map::new();
            ordered.insert("registry".into(), json!("*:*"));
            ordered.append(&mut requirement);
            import.push(&["signatures"], Value::Object(ordered), &here, None);
        }
        Verdict::Unverifiable(why) => import.push(
            &["registries", "allow"],
            json!("*:*"),
            &here,
            Some((
                "signature-not-carried",
                format!("every registry trusted without the signature check: {why}"),
            )),
        ),
    }
}

/// What a list of requirements amounts to; what cannot be carried is reported.
fn requirements_verdict(
    requirements: &Value,
    here: &str,
    base: &Path,
    import: &mut Import,
) -> Verdict {
    let Some(list) = requirements.as_array() else {
        import.not_carried(
            "not-a-list",
            here,
            "requirements must be a list: the scope is rejected".into(),
        );
        return Verdict::Reject;
    };
    if list.is_empty() {
        import.not_carried(
            "empty",
            here,
            "an empty requirement list is invalid in policy.json: the scope is rejected".into(),
        );
        return Verdict::Reject;
    }
    let mut signers: Vec<(String, Value)> = Vec::new();
    let mut signed_requirements = 0;
    let mut gpg = None;
    for (i, requirement) in list.iter().enumerate() {
        let at = format!("{here}[{i}]");
        match requirement.get("type").and_then(Value::as_str) {
            Some("reject") => return Verdict::Reject,
            Some("insecureAcceptAnything") => {}
            Some("signedBy") => {
                gpg = Some(format!(
                    "{at} is signedBy (GPG simple signing), which Kubewarden's verification \
                     (Sigstore) does not check; re-sign with cosign and write a signatures entry"
                ));
            }
            Some("sigstoreSigned") => {
                signed_requirements += 1;
                signers.extend(sigstore_signers(requirement, &at, base, import));
            }
            other => import.not_carried(
                "unknown-requirement",
                &at,
                format!("requirement type {other:?} is not known: left out"),
            ),
        }
    }
    if let Some(why) = gpg {
        import.not_carried("gpg", here, why.clone());
        if signers.is_empty() {
            return Verdict::Unverifiable(why);
        }
    }
    if signers.is_empty() {
        return if signed_requirements > 0 {
            Verdict::Reject
        } else {
            Verdict::Accept
        };
    }
    let mut requirement = Map::new();
    let keys: Vec<Value> = signers
        .iter()
        .filter(|s| s.0 == "keys")
        .map(|s| s.1.clone())
        .collect();
    let keyless: Vec<Value> = signers
        .iter()
        .filter(|s| s.0 == "keyless")
        .map(|s| s.1.clone())
        .collect();
    if !keys.is_empty() {
        requirement.insert("keys".into(), Value::Array(keys));
    }
    if !keyless.is_empty() {
        requirement.insert("keyless".into(), Value::Array(keyless));
    }
    if signed_requirements > 1 {
        if signed_requirements == signers.len() {
            requirement.insert("threshold".into(), json!(signed_requirements));
        } else {
            import.changed(
                "threshold",
                here,
                "every sigstoreSigned requirement had to pass, each by any of its keys; imagegate counts signers over one list: any one of them suffices here".into(),
            );
        }
    }
    Verdict::Signed(requirement)
}

/// The signers of one sigstoreSigned requirement: ("keys", PEM) or ("keyless", {issuer, subject}).
fn sigstore_signers(
    requirement: &Value,
    at: &str,
    base: &Path,
    import: &mut Import,
) -> Vec<(String, Value)> {
    let mut signers = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    if let Some(p) = requirement.get("keyPath").and_then(Value::as_str) {
        paths.push(p.to_owned());
    }
    if let Some(list) = requirement.get("keyPaths").and_then(Value::as_array) {
        paths.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for path in paths {
        let full = base.join(&path);
        match std::fs::read_to_string(&full) {
            Ok(pem) => signers.push(("keys".to_owned(), json!(pem))),
            Err(error) => import.not_carried(
                "key-file",
                &format!("{at}.keyPath \"{path}\""),
                format!("cannot read the key ({error}): left out; run import where the key file is, or paste the PEM into signatures[].keys"),
            ),
        }
    }
    let mut datas: Vec<String> = Vec::new();
    if let Some(d) = requirement.get("keyData").and_then(Value::as_str) {
        datas.push(d.to_owned());
    }
    if let Some(list) = requirement.get("keyDatas").and_then(Value::as_array) {
        datas.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for data in datas {
        match base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(pem) => signers.push(("keys".to_owned(), json!(pem))),
            None => import.not_carried(
                "key-data",
                &format!("{at}.keyData"),
                "not base64 of a PEM key: left out".into(),
            ),
        }
    }
    if let Some(fulcio) = requirement.get("fulcio") {
        let issuer = fulcio.get("oidcIssuer").and_then(Value::as_str);
        let subject = fulcio.get("subjectEmail").and_then(Value::as_str);
        match (issuer, subject) {
            (Some(issuer), Some(subject)) => signers.push((
                "keyless".to_owned(),
                json!({"issuer": issuer, "subject": subject}),
            )),
            _ => import.not_carried(
                "fulcio",
                &format!("{at}.fulcio"),
                "needs oidcIssuer and subjectEmail: left out".into(),
            ),
        }
        if fulcio.get("caPath").is_some() || fulcio.get("caData").is_some() {
            import.changed(
                "trust-root",
                &format!("{at}.fulcio"),
                "the Fulcio CA comes from the host's Sigstore trust root (policy-server's, or imagegate --sigstore-trust-config), not from the policy".into(),
            );
        }
    }
    for key in [
        "rekorPublicKeyPath",
        "rekorPublicKeyData",
        "rekorPublicKeyPaths",
        "rekorPublicKeyDatas",
    ] {
        if requirement.get(key).is_some() {
            import.changed(
                "trust-root",
                &format!("{at}.{key}"),
                "Rekor's key comes from the host's Sigstore trust root, not from the policy".into(),
            );
        }
    }
    if let Some(identity) = requirement.get("signedIdentity") {
        let kind = identity.get("type").and_then(Value::as_str).unwrap_or("?");
        if kind != "matchRepoDigestOrExact" {
            import.not_carried(
                "signed-identity",
                &format!("{at}.signedIdentity"),
                format!("signedIdentity {kind}: imagegate checks that the signature names the image's own digest (matchRepoDigestOrExact)"),
            );
        }
    }
    if requirement.get("pki").is_some() {
        import.not_carried(
            "pki",
            &format!("{at}.pki"),
            "write the certificates into signatures[].certificates (PEM): left out".into(),
        );
    }
    signers
}
