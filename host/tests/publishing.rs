//! What is published with the policy agrees with itself and with the
//! module (issue #9): `artifacthub-pkg.yml` with `metadata.yml`,
//! `questions-ui.yml` and the workspace version in `Cargo.toml`; the
//! questions UI and every manifest in `examples/` with the policy's own
//! settings validation (the real `policy.wasm` through `imagegate
//! check-settings`); the examples with the README scenarios they deploy.

// A failed expectation is a failed test here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Map, Value, json};

mod common;

use common::{real_policy, root};

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(name: &str) -> Value {
    serde_saphyr::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `imagegate check-settings` on `settings` with the real module: `Ok` when
/// valid, else the policy's answer.
fn check_settings(settings: &Value) -> Result<(), String> {
    let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .arg("check-settings")
        .arg("--policy")
        .arg(real_policy())
        .arg("--settings-json")
        .arg(settings.to_string())
        .output()
        .expect("run imagegate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        Some(0) => Ok(()),
        _ => Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The `[workspace.package]` version.
fn workspace_version() -> String {
    let cargo = read("Cargo.toml");
    let mut in_package = false;
    for line in cargo.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(rest) = line.strip_prefix("version = ") {
            return rest.trim_matches('"').to_owned();
        }
    }
    panic!("no version in [workspace.package] of Cargo.toml");
}

fn annotation<'a>(metadata: &'a Value, key: &str) -> &'a str {
    metadata["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("metadata.yml has no annotation {key}"))
}

#[test]
fn cargo_metadata_and_artifacthub_name_one_version() {
    let version = workspace_version();
    let metadata = yaml("metadata.yml");
    let hub = yaml("artifacthub-pkg.yml");
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.version"),
        version
    );
    assert_eq!(
        hub["version"],
        json!(version),
        "artifacthub-pkg.yml version"
    );
    let oci = annotation(&metadata, "io.kubewarden.policy.ociUrl");
    let tagged = format!("{oci}:v{version}");
    assert_eq!(
        hub["containersImages"],
        json!([{"name": "policy", "image": tagged}])
    );
    let install = hub["install"].as_str().unwrap();
    assert!(
        install.contains(&format!("kwctl pull {tagged}")),
        "{install}"
    );
    assert!(
        install.contains(&format!("registry://{tagged}")),
        "{install}"
    );
    let source = annotation(&metadata, "io.kubewarden.policy.source");
    assert_eq!(
        hub["links"],
        json!([
            {"name": "policy", "url": format!("{source}/releases/download/v{version}/policy.wasm")},
            {"name": "source", "url": source},
        ])
    );
}

#[test]
fn metadata_lists_every_host_capability_the_module_calls() {
    // The waPC entry names each operation it calls as a string literal.
    let entry = read("policy/src/entry/wapc.rs");
    let called: BTreeSet<String> = entry
        .split('"')
        .filter(|s| s.starts_with("v1/") || s.starts_with("v2/"))
        .map(|op| format!("oci/{op}"))
        .collect();
    assert!(called.contains("oci/v2/verify"), "{called:?}");
    let metadata = yaml("metadata.yml");
    let declared: BTreeSet<String> = metadata["hostCapabilities"]
        .as_array()
        .expect("metadata.yml hostCapabilities")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(declared, called);
}

#[test]
fn artifacthub_fields_come_from_metadata() {
    let metadata = yaml("metadata.yml");
    let hub = yaml("artifacthub-pkg.yml");
    let a = |key: &str| json!(annotation(&metadata, key));
    assert_eq!(hub["name"], a("io.kubewarden.policy.title"));
    assert_eq!(hub["displayName"], a("io.artifacthub.displayName"));
    assert_eq!(hub["description"], a("io.kubewarden.policy.description"));
    assert_eq!(hub["license"], a("io.kubewarden.policy.license"));
    assert_eq!(hub["homeURL"], a("io.kubewarden.policy.url"));
    let keywords: Vec<&str> = annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(hub["keywords"], json!(keywords));
    assert_eq!(
        hub["maintainers"],
        json!([{"name": annotation(&metadata, "io.kubewarden.policy.author")}])
    );
    assert_eq!(hub["provider"], json!({"name": "kubewarden"}));
    // createdAt is RFC 3339.
    let created = hub["createdAt"].as_str().unwrap();
    assert!(
        created.len() >= 20 && created.as_bytes()[10] == b'T',
        "{created}"
    );
}

#[test]
fn artifacthub_kubewarden_annotations_agree_with_metadata_and_questions() {
    let metadata = yaml("metadata.yml");
    let hub = yaml("artifacthub-pkg.yml");
    let annotations = hub["annotations"].as_object().unwrap();
    let text = |key: &str| {
        annotations
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("artifacthub-pkg.yml has no annotation {key}"))
    };
    assert_eq!(
        text("kubewarden/mutation"),
        metadata["mutating"].as_bool().unwrap().to_string()
    );
    assert_eq!(
        text("kubewarden/resources"),
        annotation(&metadata, "io.artifacthub.resources")
    );
    let rules: Value = serde_saphyr::from_str(text("kubewarden/rules")).unwrap();
    assert_eq!(rules, metadata["rules"]);
    // As kwctl scaffold artifacthub: only when the policy reads resources.
    let context = &metadata["contextAwareResources"];
    match annotations.get("kubewarden/contextAwareResources") {
        None => assert_eq!(context, &json!([])),
        Some(yaml) => {
            let listed: Value = serde_saphyr::from_str(yaml.as_str().unwrap()).unwrap();
            assert_eq!(&listed, context);
        }
    }
    assert_eq!(text("kubewarden/questions-ui"), read("questions-ui.yml"));
}

/// The settings object `variable: a.b` with `value` gives.
fn set_path(settings: &mut Map<String, Value>, variable: &str, value: Value) {
    match variable.split_once('.') {
        None => {
            settings.insert(variable.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = settings
                .entry(head.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap();
            set_path(inner, rest, value);
        }
    }
}

#[test]
fn questions_ui_gives_valid_settings() {
    let questions = yaml("questions-ui.yml");
    let questions = questions["questions"].as_array().unwrap();
    let mut variables = BTreeSet::new();
    let mut defaults = Map::new();
    for question in questions {
        let variable = question["variable"].as_str().unwrap();
        assert!(variables.insert(variable), "{variable} asked twice");
        for key in ["label", "description", "group", "type"] {
            assert!(question[key].is_string(), "{variable}: no {key}");
        }
        let kind = question["type"].as_str().unwrap();
        let default = question["default"].clone();
        match kind {
            "array[" => assert!(default.is_array(), "{variable}"),
            "boolean" => assert!(default.is_boolean(), "{variable}"),
            "enum" => {
                let options = question["options"].as_array().unwrap();
                assert!(options.contains(&default), "{variable}");
                // Each option alone is valid settings.
                for option in options {
                    let mut one = Map::new();
                    set_path(&mut one, variable, option.clone());
                    check_settings(&Value::Object(one))
                        .unwrap_or_else(|e| panic!("{variable} = {option}: {e}"));
                }
            }
            other => panic!("{variable}: unexpected type {other}"),
        }
        set_path(&mut defaults, variable, default);
    }
    check_settings(&Value::Object(defaults.clone()))
        .unwrap_or_else(|e| panic!("the questions' defaults {defaults:?}: {e}"));
    // The check itself rejects what the policy rejects.
    assert!(check_settings(&json!({"tags": {"reject": "latest"}})).is_err());
}

/// The settings of the README's `# case: NAME` yaml blocks.
fn readme_cases() -> BTreeMap<String, Value> {
    let readme = read("README.md");
    let mut cases = BTreeMap::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n# case: ") {
        let block = &rest[start + "```yaml\n".len()..];
        let end = block.find("```").unwrap();
        let body = &block[..end];
        let name = body
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# case: ")
            .trim();
        let settings: Value = serde_saphyr::from_str(body).unwrap();
        cases.insert(name.to_owned(), settings);
        rest = &block[end..];
    }
    cases
}

/// Each example and the README scenario it deploys.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "private-registry-only",
        "scenario_rancher_private_registry_only",
    ),
    (
        "trusted-registries-protect",
        "scenario_compliant_kubernetes_deny",
    ),
    (
        "trusted-registries-warn",
        "scenario_compliant_kubernetes_warn",
    ),
    (
        "trusted-registries-monitor",
        "scenario_compliant_kubernetes_deny",
    ),
    (
        "openshift-allowed-registries",
        "scenario_openshift_port_mismatch",
    ),
    ("ecr-repository", "scenario_ecr_repository_nginx_rejected"),
    (
        "docker-hub-except-one-image",
        "most_specific_image_beats_registry_reject",
    ),
    (
        "organisation-minus-experimental",
        "longer_repository_reject_beats_shorter_allow",
    ),
    (
        "digest-pinning",
        "digest_attempt_rewrite_pins_what_resolves",
    ),
    ("always-pull-images", "pull_policy_enforce_always_pod"),
    (
        "trusted-registries-signed",
        "scenario_trusted_registries_signed",
    ),
];

/// Whether settings make the policy return mutated objects.
fn mutates(settings: &Value) -> bool {
    matches!(
        settings["digests"]["resolve"].as_str(),
        Some("AttemptRewrite" | "Required")
    ) || settings["pullPolicy"]["enforceAlways"] == json!(true)
}

#[test]
fn examples_deploy_the_readme_scenarios_with_valid_settings() {
    let metadata = yaml("metadata.yml");
    let version = workspace_version();
    let module = format!(
        "registry://{}:v{version}",
        annotation(&metadata, "io.kubewarden.policy.ociUrl")
    );
    let cases = readme_cases();
    let files: BTreeSet<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let listed: BTreeSet<String> = EXAMPLES.iter().map(|(f, _)| format!("{f}.yaml")).collect();
    assert_eq!(files, listed, "examples/ and EXAMPLES differ");
    let mut modes = BTreeSet::new();
    let mut checked: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    for (file, case) in EXAMPLES {
        let name = format!("examples/{file}.yaml");
        let documents: Vec<Value> = serde_saphyr::from_multiple(&read(&name)).unwrap();
        let kinds: Vec<&str> = documents
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["ClusterAdmissionPolicy", "AdmissionPolicy"],
            "{name}"
        );
        for document in &documents {
            let what = format!("{name} {}", document["kind"]);
            assert_eq!(
                document["apiVersion"], "policies.kubewarden.io/v1",
                "{what}"
            );
            let spec = &document["spec"];
            assert_eq!(spec["module"], json!(module), "{what}");
            assert_eq!(spec["rules"], metadata["rules"], "{what}");
            let settings = &spec["settings"];
            assert_eq!(
                Some(settings),
                cases.get(*case),
                "{what}: settings differ from README case {case}"
            );
            assert_eq!(spec["mutating"], json!(mutates(settings)), "{what}");
            let mode = spec["mode"].as_str().unwrap();
            assert!(["protect", "monitor"].contains(&mode), "{what}: {mode}");
            modes.insert(mode.to_owned());
            if document["kind"] == "AdmissionPolicy" {
                assert!(document["metadata"]["namespace"].is_string(), "{what}");
            }
            let result = checked
                .entry(settings.to_string())
                .or_insert_with(|| check_settings(settings));
            assert_eq!(result, &Ok(()), "{what}");
        }
    }
    assert_eq!(modes.len(), 2, "both modes are shown");
    assert!(EXAMPLES.iter().any(|(f, _)| f.contains("digest")));
}

/// `imagegate ARGS` with its cache in a fresh directory: exit code and stderr.
fn imagegate(args: &[&str]) -> (Option<i32>, String) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cache = std::env::temp_dir().join(format!(
        "imagegate-publishing-{}-{call}",
        std::process::id()
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(args)
        .env("IMAGEGATE_CACHE_DIR", &cache)
        .output()
        .expect("run imagegate");
    let _ = std::fs::remove_dir_all(&cache);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn push_refuses_an_unannotated_module_before_any_network() {
    let policy = real_policy();
    let policy = policy.to_str().unwrap();
    // Port 1 on loopback: were it contacted, the error would be another.
    let (code, stderr) = imagegate(&["push", policy, "registry://127.0.0.1:1/p/imagegate:v1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "policy \"{policy}\" has no Kubewarden metadata: annotate it first"
        )) && stderr
            .trim_end()
            .ends_with("or push it anyway with --force"),
        "{stderr}"
    );
}

#[test]
fn registry_references_are_checked_and_unreachable_registries_named() {
    let (code, stderr) = imagegate(&["pull", "https://127.0.0.1:1/p/imagegate:v1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a registry reference: write registry://HOST[:PORT]/REPOSITORY:TAG"),
        "{stderr}"
    );
    let (code, stderr) = imagegate(&[
        "check-settings",
        "--policy",
        "registry://127.0.0.1:1/p/imagegate:v1",
        "--settings-json",
        "{}",
        "--insecure-registry",
        "127.0.0.1:1",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "imagegate: error: cannot pull registry://127.0.0.1:1/p/imagegate:v1: registry \
         127.0.0.1:1: connection refused"
    );
}
