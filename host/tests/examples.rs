//! Safer defaults in what we ship: every cluster-wide policy in `examples/`
//! leaves the control plane's namespaces alone, so a strict registry list
//! never stops kube-system's Pods (registry.k8s.io images and vendors'
//! agents) from starting. A ClusterAdmissionPolicy whose namespaceSelector
//! does send kube-system must then accept those Pods through policy.wasm.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use serde_json::{Value, json};

mod common;

use common::{real_policy, root};

/// The namespaces every cluster-wide example leaves out (as deploy/ does).
const CONTROL_PLANE: [&str; 4] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kubewarden",
];

/// Whether a Kubernetes LabelSelector (as a webhook's namespaceSelector)
/// selects the namespace `name`, whose only label is the one the API server
/// sets, `kubernetes.io/metadata.name`. An absent selector selects all.
fn selects(selector: &Value, name: &str) -> bool {
    let label = |key: &str| (key == "kubernetes.io/metadata.name").then_some(name);
    let labels_match = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(key, value)| label(key) == value.as_str());
    let expressions_match = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|expression| {
            let value = label(expression["key"].as_str().unwrap());
            let listed = || {
                expression["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| Some(v.as_str().unwrap()) == value)
            };
            match expression["operator"].as_str().unwrap() {
                "In" => listed(),
                "NotIn" => !listed(),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("unknown operator {other}"),
            }
        });
    labels_match && expressions_match
}

/// `imagegate run` of a kube-system Pod running `image` with `settings`.
fn allows_in_kube_system(settings: &Value, image: &str) -> bool {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("imagegate-examples-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pod = dir.join("pod.json");
    std::fs::write(
        &pod,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "kube-proxy-x", "namespace": "kube-system"},
               "spec": {"containers": [{"name": "kube-proxy", "image": image}]}})
        .to_string(),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["run", "--policy"])
        .arg(real_policy())
        .arg("--request")
        .arg(&pod)
        .arg("--settings-json")
        .arg(settings.to_string())
        .output()
        .expect("run imagegate");
    let _ = std::fs::remove_dir_all(&dir);
    let response: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    response["allowed"] == json!(true)
}

#[test]
fn cluster_wide_examples_leave_the_control_plane_alone() {
    let mut cluster_wide = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        for document in documents
            .iter()
            .filter(|d| d["kind"] == "ClusterAdmissionPolicy")
        {
            cluster_wide += 1;
            let what = format!("{} {}", path.display(), document["metadata"]["name"]);
            let selector = &document["spec"]["namespaceSelector"];
            for namespace in CONTROL_PLANE {
                assert!(
                    !selects(selector, namespace),
                    "{what}: namespaceSelector sends {namespace}'s objects to the policy"
                );
            }
            assert!(selects(selector, "default"), "{what}: selects nothing");
            // Belt and braces: were kube-system sent, its Pods must pass.
            if selects(selector, "kube-system") {
                assert!(
                    allows_in_kube_system(
                        &document["spec"]["settings"],
                        "registry.k8s.io/kube-proxy:v1.31.0"
                    ),
                    "{what}: rejects registry.k8s.io Pods in kube-system"
                );
            }
        }
    }
    assert!(cluster_wide >= 10, "{cluster_wide} cluster-wide examples");
}

#[test]
fn the_selector_reading_is_the_api_servers() {
    let not_in = json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name",
        "operator": "NotIn", "values": ["kube-system"]}]});
    assert!(!selects(&not_in, "kube-system"));
    assert!(selects(&not_in, "shop"));
    assert!(selects(&Value::Null, "kube-system"));
    let labels = json!({"matchLabels": {"kubernetes.io/metadata.name": "shop"}});
    assert!(selects(&labels, "shop") && !selects(&labels, "kube-system"));
    let other_label = json!({"matchExpressions": [{"key": "team", "operator": "Exists"}]});
    assert!(!selects(&other_label, "kube-system"));
}

#[test]
fn a_strict_list_without_the_selector_would_reject_kube_system() {
    // What the selector prevents: the strict example's settings judge a
    // kube-system Pod like any other.
    let strict = json!({"registries": {"allow": ["harbor.corp.example"]}});
    assert!(!allows_in_kube_system(
        &strict,
        "registry.k8s.io/kube-proxy:v1.31.0"
    ));
}
