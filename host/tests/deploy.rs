//! The Kubernetes manifests in `deploy/` (README "Deploying the manifests"):
//! three kustomizations, the server (`deploy/server`) and one webhook
//! configuration each (`deploy/webhook-validating`, `deploy/webhook-mutating`),
//! so the webhook is installed only once the server is ready, and only one of
//! the two: one evaluation per request. These tests check that the
//! kustomizations list every manifest, that the server has what a webhook on
//! the path of every Pod needs (autoscaled replicas spread over nodes, a
//! PodDisruptionBudget, a PriorityClass, requests and limits, probes), that
//! both webhook configurations send every rule of metadata.yml from every
//! namespace but the webhook's own and kube-system, with a timeout and failure
//! policy that match the server's deadline, that TLS comes from cert-manager
//! with the CA injected, that the settings ConfigMap passes the policy's own
//! validation (`imagegate check-settings` with policy.wasm), and that the
//! webhook the README installs by default is the one those settings need.
//! e2e-tests/manifests.bats checks the same files against the Kubernetes
//! OpenAPI schemas.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

use common::{real_policy, root};

/// The kustomizations of deploy/, in install order.
const KUSTOMIZATIONS: [&str; 3] = ["server", "webhook-validating", "webhook-mutating"];

fn yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, found {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The files `deploy/NAME/kustomization.yaml` lists.
fn resources(kustomization: &str) -> Vec<PathBuf> {
    let dir = root().join("deploy").join(kustomization);
    let file = yaml(&dir.join("kustomization.yaml")).remove(0);
    strings(&file["resources"])
        .iter()
        .map(|r| dir.join(r))
        .collect()
}

/// Every document of the kustomization `deploy/NAME`, with its file name.
fn manifests(kustomization: &str) -> Vec<(String, Value)> {
    let mut documents = Vec::new();
    for file in resources(kustomization) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for document in yaml(&file) {
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

fn kinds(documents: &[(String, Value)]) -> Vec<String> {
    documents
        .iter()
        .map(|(_, d)| d["kind"].as_str().unwrap().to_owned())
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

fn server_args(server: &[(String, Value)]) -> Vec<String> {
    strings(&one(server, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"])
}

/// The settings the server reads (its `--settings` file, from the ConfigMap).
fn shipped_settings(server: &[(String, Value)]) -> String {
    let args = server_args(server);
    let settings_path = arg(&args, "settings").unwrap();
    let key = Path::new(settings_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    one(server, "ConfigMap")["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("the ConfigMap has no {key} for --settings={settings_path}"))
        .to_owned()
}

#[test]
fn the_kustomizations_list_every_manifest_once() {
    let mut listed: Vec<PathBuf> = KUSTOMIZATIONS.iter().flat_map(|k| resources(k)).collect();
    listed.sort();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("deploy")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(
                KUSTOMIZATIONS.contains(&name.as_str()),
                "deploy/{name} is not one of the kustomizations {KUSTOMIZATIONS:?}"
            );
            for file in std::fs::read_dir(&path).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "yaml")
                    && !file.ends_with("kustomization.yaml")
                {
                    files.push(file);
                }
            }
        } else if path.extension().is_some_and(|e| e == "yaml") {
            panic!("{} is in no kustomization", path.display());
        }
    }
    files.sort();
    assert_eq!(listed, files);
}

#[test]
fn the_server_has_what_a_webhook_on_every_pods_path_needs() {
    let documents = manifests("server");
    for (file, document) in &documents {
        assert!(
            document["apiVersion"].is_string() && document["kind"].is_string(),
            "{file}: a document without apiVersion and kind: {document}"
        );
    }
    for kind in [
        "Namespace",
        "ServiceAccount",
        "PriorityClass",
        "Deployment",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Service",
        "ConfigMap",
    ] {
        one(&documents, kind);
    }
    let namespace = one(&documents, "Namespace")["metadata"]["name"]
        .as_str()
        .unwrap();
    for (file, document) in &documents {
        let cluster_scoped = ["Namespace", "PriorityClass"];
        if !cluster_scoped.contains(&document["kind"].as_str().unwrap()) {
            assert_eq!(
                document["metadata"]["namespace"], namespace,
                "{file}: {} {} is not in the webhook's namespace",
                document["kind"], document["metadata"]["name"]
            );
        }
    }

    let deployment = one(&documents, "Deployment");
    let pod = &deployment["spec"]["template"];
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    for (key, value) in selector.as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key], value, "pod label {key}");
    }

    // The autoscaler owns the replica count: at least two, and the
    // Deployment does not set one that a later `kubectl apply` would restore.
    let autoscaler = &one(&documents, "HorizontalPodAutoscaler")["spec"];
    assert_eq!(autoscaler["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(
        autoscaler["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    let min = autoscaler["minReplicas"].as_u64().unwrap();
    assert!(min >= 2, "minReplicas {min}");
    assert!(autoscaler["maxReplicas"].as_u64().unwrap() > min);
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the Deployment sets replicas, which fights the HorizontalPodAutoscaler"
    );

    // Replicas never share a node while another has fewer.
    let spread = pod["spec"]["topologySpreadConstraints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["topologyKey"] == "kubernetes.io/hostname")
        .expect("a spread over kubernetes.io/hostname");
    assert_eq!(spread["whenUnsatisfiable"], "DoNotSchedule");
    assert_eq!(spread["maxSkew"], 1);
    assert_eq!(&spread["labelSelector"]["matchLabels"], selector);

    // One replica at a time may be disrupted.
    let budget = &one(&documents, "PodDisruptionBudget")["spec"];
    assert_eq!(&budget["selector"]["matchLabels"], selector);
    assert_eq!(budget["maxUnavailable"], 1);
    assert_eq!(&one(&documents, "Service")["spec"]["selector"], selector);

    // The scheduler places it before ordinary workloads.
    let priority = one(&documents, "PriorityClass");
    assert_eq!(
        pod["spec"]["priorityClassName"],
        priority["metadata"]["name"]
    );
    assert!(priority["value"].as_u64().unwrap() >= 1_000_000);
    assert_ne!(priority["globalDefault"], true);

    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    let resources = &container["resources"];
    for (section, name) in [
        ("requests", "cpu"),
        ("requests", "memory"),
        ("limits", "memory"),
    ] {
        assert!(
            resources[section][name].is_string(),
            "resources.{section}.{name} is not set"
        );
    }
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);

    // The shutdown delay and the drain (--shutdown-delay-ms,
    // --drain-timeout-ms) fit in the grace period.
    let args = server_args(&documents);
    assert_eq!(args.first().map(String::as_str), Some("serve"));
    let delay_ms: u64 = arg(&args, "shutdown-delay-ms").unwrap().parse().unwrap();
    let drain_ms: u64 = arg(&args, "drain-timeout-ms").unwrap().parse().unwrap();
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        delay_ms >= 5000,
        "endpoints need seconds to drop a Pod: {delay_ms} ms"
    );
    assert!(
        delay_ms + drain_ms < grace * 1000,
        "delay {delay_ms} ms + drain {drain_ms} ms, grace {grace} s"
    );
    // Idle connections outlive the API server's (90 s).
    let idle_ms: u64 = arg(&args, "idle-timeout-ms").unwrap().parse().unwrap();
    assert!(idle_ms > 90_000, "{idle_ms}");

    // Prometheus scrapes the plain-HTTP metrics port the server listens on.
    let metrics_addr = arg(&args, "metrics-addr").unwrap();
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scheme"], "http");
    let port = annotations["prometheus.io/port"].as_str().unwrap();
    assert!(
        metrics_addr.ends_with(&format!(":{port}")),
        "{metrics_addr} vs {port}"
    );
    let ports = container["ports"].as_array().unwrap();
    assert!(
        ports.iter().any(|p| p["containerPort"]
            .as_u64()
            .map(|n| n.to_string())
            .as_deref()
            == Some(port)),
        "the metrics port is declared: {ports:?}"
    );
}

#[test]
fn each_webhook_kustomization_holds_one_configuration_and_the_server_none() {
    let server = kinds(&manifests("server"));
    assert!(
        !server.iter().any(|k| k.ends_with("WebhookConfiguration")),
        "deploy/server installs a webhook configuration before the server is ready: {server:?}"
    );
    assert_eq!(
        kinds(&manifests("webhook-validating")),
        ["ValidatingWebhookConfiguration"]
    );
    assert_eq!(
        kinds(&manifests("webhook-mutating")),
        ["MutatingWebhookConfiguration"]
    );
}

#[test]
fn the_webhooks_cover_metadata_rules_and_match_the_server() {
    let server = manifests("server");
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

    let namespace = one(&server, "Namespace")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let service = one(&server, "Service");
    let deployment = one(&server, "Deployment");
    let args = server_args(&server);
    let timeout_ms: u64 = arg(&args, "timeout-ms").unwrap().parse().unwrap();
    let certificate = server
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

    for (kustomization, kind, path) in [
        (
            "webhook-validating",
            "ValidatingWebhookConfiguration",
            "/validate",
        ),
        (
            "webhook-mutating",
            "MutatingWebhookConfiguration",
            "/mutate",
        ),
    ] {
        let documents = manifests(kustomization);
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
    let policy = real_policy();
    let text = shipped_settings(&manifests("server"));
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

/// One evaluation per request: the README installs the webhook the shipped
/// settings need, and only that one.
#[test]
fn the_readme_installs_the_webhook_the_shipped_settings_need() {
    let text = shipped_settings(&manifests("server"));
    let settings: Value = serde_saphyr::from_str(&text).unwrap();
    let policy = imagegate_policy::settings::compile(&settings).unwrap();
    let (needed, other) = if policy.mutates() {
        ("webhook-mutating", "webhook-validating")
    } else {
        ("webhook-validating", "webhook-mutating")
    };
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("### Deploying the manifests")
        .nth(1)
        .expect("README has a \"Deploying the manifests\" section");
    let install = section
        .split("```console")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("the section starts with the install commands");
    let applied: Vec<&str> = install
        .lines()
        .filter_map(|l| l.trim().strip_prefix("kubectl apply -k "))
        .collect();
    assert_eq!(
        applied,
        ["deploy/server", &format!("deploy/{needed}")],
        "the install commands apply the server, then the webhook the shipped settings need \
         ({needed}), never {other}"
    );
    let rollout = install
        .find("kubectl -n imagegate rollout status deployment/imagegate")
        .expect("the install waits for the rollout");
    assert!(
        rollout < install.find(&format!("deploy/{needed}")).unwrap(),
        "the webhook is applied after the server is ready"
    );
}
