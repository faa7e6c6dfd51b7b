//! The Kubernetes manifests in `deploy/` (README "Run as a standalone
//! webhook"): they parse, they hold every object the webhook needs, both
//! webhook configurations send every rule of metadata.yml (the kinds SPEC §3
//! checks, `pods/ephemeralcontainers` included) from every namespace but the
//! webhook's own and kube-system, their timeout and failure policy match the
//! server's deadline, TLS comes from cert-manager with the CA injected, and
//! the settings ConfigMap passes the policy's own settings validation
//! (`imagegate check-settings` with policy.wasm).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

use common::root;

/// Every document of every deploy/*.yaml, with the file it came from.
fn manifests() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("deploy"))
        .expect("deploy/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let parsed: Vec<Value> =
            serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for document in parsed.into_iter().filter(|d| !d.is_null()) {
            documents.push((name.clone(), document));
        }
    }
    documents
}

fn one<'a>(documents: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = documents
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, found {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// (group, version, resource, operation) for each rule entry.
fn rule_tuples(rules: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut tuples = BTreeSet::new();
    for rule in rules.as_array().expect("rules is a list") {
        for group in strings(&rule["apiGroups"]) {
            for version in strings(&rule["apiVersions"]) {
                for resource in strings(&rule["resources"]) {
                    for operation in strings(&rule["operations"]) {
                        tuples.insert((
                            group.clone(),
                            version.clone(),
                            resource.clone(),
                            operation,
                        ));
                    }
                }
            }
        }
    }
    tuples
}

/// The value of `--NAME=VALUE` in the server's args.
fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("--{name}=");
    args.iter().find_map(|a| a.strip_prefix(prefix.as_str()))
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let text = std::fs::read_to_string(root().join("deploy/kustomization.yaml")).unwrap();
    let kustomization: Value = serde_saphyr::from_str(&text).unwrap();
    let mut listed = strings(&kustomization["resources"]);
    listed.sort();
    let mut files: Vec<String> = std::fs::read_dir(root().join("deploy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    assert_eq!(listed, files);
}

#[test]
fn every_object_the_webhook_needs_is_there() {
    let documents = manifests();
    for (file, document) in &documents {
        assert!(
            document["apiVersion"].is_string() && document["kind"].is_string(),
            "{file}: a document without apiVersion and kind: {document}"
        );
    }
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ConfigMap",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        one(&documents, kind);
    }
    let namespace = one(&documents, "Namespace")["metadata"]["name"]
        .as_str()
        .unwrap();
    for (file, document) in &documents {
        let cluster_scoped = [
            "Namespace",
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ];
        if !cluster_scoped.contains(&document["kind"].as_str().unwrap()) {
            assert_eq!(
                document["metadata"]["namespace"], namespace,
                "{file}: {} {} is not in the webhook's namespace",
                document["kind"], document["metadata"]["name"]
            );
        }
    }

    let deployment = one(&documents, "Deployment");
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    assert_eq!(
        &one(&documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        selector
    );
    assert_eq!(&one(&documents, "Service")["spec"]["selector"], selector);
    for (key, value) in selector.as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key], value, "pod label {key}");
    }
    // Draining (--drain-timeout-ms) fits in the grace period.
    let args = strings(&container["args"]);
    assert_eq!(args.first().map(String::as_str), Some("serve"));
    let drain_ms: u64 = arg(&args, "drain-timeout-ms").unwrap().parse().unwrap();
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        drain_ms < grace * 1000,
        "drain {drain_ms} ms, grace {grace} s"
    );
}

#[test]
fn the_webhooks_cover_metadata_rules_and_match_the_server() {
    let documents = manifests();
    let metadata: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(root().join("metadata.yml")).unwrap())
            .unwrap();
    let wanted = rule_tuples(&metadata["rules"]);
    assert!(wanted.contains(&(
        String::new(),
        "v1".into(),
        "pods/ephemeralcontainers".into(),
        "CREATE".into()
    )));

    let namespace = one(&documents, "Namespace")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let service = one(&documents, "Service");
    let deployment = one(&documents, "Deployment");
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    let timeout_ms: u64 = arg(&args, "timeout-ms").unwrap().parse().unwrap();
    let certificate = documents
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Certificate" && d["spec"]["isCA"] != true)
        .expect("a serving Certificate");
    let tls_secret = certificate["spec"]["secretName"].as_str().unwrap();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == tls_secret),
        "the Deployment mounts the serving certificate's Secret {tls_secret}"
    );
    let dns_names = strings(&certificate["spec"]["dnsNames"]);
    let service_name = service["metadata"]["name"].as_str().unwrap();
    assert!(dns_names.contains(&format!("{service_name}.{namespace}.svc")));

    for (kind, path) in [
        ("ValidatingWebhookConfiguration", "/validate"),
        ("MutatingWebhookConfiguration", "/mutate"),
    ] {
        let configuration = one(&documents, kind);
        assert_eq!(
            configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            format!(
                "{}/{}",
                certificate["metadata"]["namespace"].as_str().unwrap(),
                certificate["metadata"]["name"].as_str().unwrap()
            ),
            "{kind}: the CA comes from the serving Certificate"
        );
        let webhooks = configuration["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 1, "{kind}");
        let webhook = &webhooks[0];
        let got = rule_tuples(&webhook["rules"]);
        let missing: Vec<_> = wanted.difference(&got).collect();
        assert!(
            missing.is_empty(),
            "{kind} misses metadata.yml rules {missing:?}"
        );
        assert_eq!(
            webhook["admissionReviewVersions"],
            serde_json::json!(["v1"])
        );
        assert_eq!(webhook["sideEffects"], "None");
        assert_eq!(
            webhook["failurePolicy"], "Fail",
            "{kind}: fail closed, as a timeout does"
        );
        let seconds = webhook["timeoutSeconds"].as_u64().unwrap();
        assert!(
            seconds * 1000 > timeout_ms && seconds * 1000 <= timeout_ms + 2000,
            "{kind}: timeoutSeconds {seconds} must leave the server's deadline \
             ({timeout_ms} ms) room to answer first, and not much more"
        );
        let client = &webhook["clientConfig"]["service"];
        assert_eq!(client["name"], service_name);
        assert_eq!(client["namespace"], namespace.as_str());
        assert_eq!(client["path"], path);
        let exempt = webhook["namespaceSelector"]["matchExpressions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
            .map(|e| strings(&e["values"]))
            .unwrap_or_default();
        assert!(
            exempt.contains(&namespace) && exempt.contains(&"kube-system".to_owned()),
            "{kind}: exempts {exempt:?}"
        );
    }
}

#[test]
fn the_settings_configmap_passes_the_policys_validation() {
    let policy = std::env::var_os("IMAGEGATE_TEST_POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("policy.wasm"));
    assert!(
        policy.is_file(),
        "the policy module {} is missing: run `make policy.wasm` first",
        policy.display()
    );
    let documents = manifests();
    let configmap = one(&documents, "ConfigMap");
    let deployment = one(&documents, "Deployment");
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    let settings_path = arg(&args, "settings").unwrap();
    let key = Path::new(settings_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let text = configmap["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("the ConfigMap has no {key} for --settings={settings_path}"));

    let file = std::env::temp_dir().join(format!("imagegate-deploy-{}.yaml", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .arg("check-settings")
        .arg("--policy")
        .arg(&policy)
        .arg("--settings")
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(answer["valid"], true, "{answer}");
    assert!(output.status.success());
}
