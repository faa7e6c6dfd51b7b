//! Rule `imageMetadata` (SPEC 2.6): manifest annotations and image config
//! labels, read from the registry through the host.
//!
//! **What it checks:** `imageMetadata.rejectAnnotations` rejects an image
//! whose manifest carries one of the annotations (with that value, or any
//! value for `"*"`); `rejectLabels` does the same for the labels of its
//! image configuration; `requireLabels` rejects an image whose configuration
//! lacks one of the labels (or has another value). For a multi-arch image
//! (an OCI image index or Docker manifest list), the index's annotations and
//! those of its `linux/amd64` manifest count, and the labels are those of
//! that manifest's configuration. When the metadata cannot be read, the
//! image is a violation unless `skipOnResolutionFailure`.
//!
//! **How:** through Kubewarden's OCI host capabilities
//! (`kubewarden/oci/v1/oci_manifest` and `v1/oci_manifest_config`): the
//! manifest of the image first; for an index, the `linux/amd64` entry is
//! picked here (not by the host, whose choice depends on the platform it
//! runs on) and looked up by digest; the configuration only when a label
//! rule is set. Each host call is made once per distinct name in one
//! evaluation ([`Lookups`]). Only the few fields the rule needs are parsed.
//!
//! **Why:** OpenShift's ImagePolicy admission plugin rejects images with
//! the annotation `images.openshift.io/deny-execution: "true"`, but only for
//! its integrated registry; this is that rule, and label requirements, on
//! any OCI registry.
//!
//! Example settings:
//!
//! ```yaml
//! imageMetadata:
//!   rejectAnnotations: {"images.openshift.io/deny-execution": "true"}
//!   requireLabels: {"org.opencontainers.image.source": "*"}
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::capabilities::CapabilityError;
use crate::reference::{Reference, grammar};
use crate::rules::lookups::{Lookups, MetadataAnswer, Resolution};

/// The settings value that matches any value.
pub const ANY_VALUE: &str = "*";

/// The platform whose manifest counts in a multi-arch image.
const PLATFORM_OS: &str = "linux";
const PLATFORM_ARCHITECTURE: &str = "amd64";

/// One `key: value` settings entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    /// The annotation or label key, compared exactly.
    pub key: String,
    /// The value it must have; `None` for `"*"` (any value).
    pub value: Option<String>,
}

impl MetadataEntry {
    /// An entry as settings write it (`"*"` is any value).
    pub fn new(key: &str, value: &str) -> MetadataEntry {
        MetadataEntry {
            key: key.to_owned(),
            value: (value != ANY_VALUE).then(|| value.to_owned()),
        }
    }

    fn matches(&self, value: &str) -> bool {
        self.value.as_deref().is_none_or(|v| v == value)
    }
}

/// The compiled `imageMetadata` settings.
#[derive(Debug, Clone, Default)]
pub struct MetadataRules {
    /// `rejectAnnotations`.
    pub reject_annotations: Vec<MetadataEntry>,
    /// `rejectLabels`.
    pub reject_labels: Vec<MetadataEntry>,
    /// `requireLabels`.
    pub require_labels: Vec<MetadataEntry>,
    /// `skipOnResolutionFailure`: a failed lookup is not a violation.
    pub skip_on_resolution_failure: bool,
}

/// Where an annotation was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The manifest of a single-platform image.
    Manifest,
    /// The image index of a multi-arch image.
    Index,
    /// The `linux/amd64` manifest of a multi-arch image.
    PlatformManifest,
}

impl Part {
    fn annotation(self) -> &'static str {
        match self {
            Part::Manifest => "manifest annotation",
            Part::Index => "index annotation",
            Part::PlatformManifest => "linux/amd64 manifest annotation",
        }
    }
}

/// What was read about one image.
#[derive(Debug, Default)]
struct Metadata {
    /// Manifests whose annotations count, by where they were found.
    annotations: Vec<(Part, Rc<MetadataAnswer>)>,
    /// The image configuration, when a label rule asked for it.
    labels: Option<Rc<MetadataAnswer>>,
    /// The digest of the `linux/amd64` manifest, for a multi-arch image.
    platform_digest: Option<String>,
}

/// Which host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `v1/oci_manifest`.
    Manifest,
    /// `v1/oci_manifest_config`.
    Config,
}

/// A map of strings at `path` in `value`; absent or `null` is empty.
fn strings_at(value: &Value, path: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    match value.pointer(path) {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, v) in map {
                let Value::String(text) = v else {
                    return Err(format!("{path}/{key} is not a string"));
                };
                out.insert(key.clone(), text.clone());
            }
        }
        Some(_) => return Err(format!("{path} is not an object")),
    }
    Ok(out)
}

impl MetadataAnswer {
    fn parse(bytes: &[u8], call: Call) -> Result<MetadataAnswer, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if !value.is_object() {
            return Err("expected a JSON object".into());
        }
        if call == Call::Config {
            return Ok(MetadataAnswer {
                strings: strings_at(&value, "/config/config/Labels")?,
                manifests: None,
            });
        }
        let strings = strings_at(&value, "/annotations")?;
        let manifests = match value.get("manifests") {
            None | Some(Value::Null) => None,
            Some(Value::Array(entries)) => Some(
                entries
                    .iter()
                    .map(|entry| {
                        let text = |pointer: &str| {
                            entry
                                .pointer(pointer)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        (
                            text("/digest"),
                            text("/platform/os"),
                            text("/platform/architecture"),
                        )
                    })
                    .collect(),
            ),
            Some(_) => return Err("/manifests is not a list".into()),
        };
        Ok(MetadataAnswer { strings, manifests })
    }
}

/// One host call, made once per name in an evaluation.
fn ask(
    lookups: &mut Lookups<'_>,
    call: Call,
    name: &str,
) -> Result<Rc<MetadataAnswer>, CapabilityError> {
    // One map for both calls: the call's letter, then the name.
    let key = format!("{}{name}", if call == Call::Config { 'c' } else { 'm' });
    if let Some(answer) = lookups.metadata.get(&key) {
        return answer.clone();
    }
    let capabilities = lookups.capabilities();
    let (bytes, what) = match call {
        Call::Manifest => (capabilities.oci_manifest(name), "an OCI manifest"),
        Call::Config => (
            capabilities.oci_manifest_config(name),
            "an OCI manifest and image configuration",
        ),
    };
    let answer = bytes.and_then(|bytes| {
        MetadataAnswer::parse(&bytes, call)
            .map(Rc::new)
            .map_err(|e| CapabilityError(format!("the host's answer is not {what}: {e}")))
    });
    lookups.metadata.insert(key, answer.clone());
    answer
}

/// `"value"`, quoted as JSON so odd characters stay visible.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

impl MetadataRules {
    /// True when any rule is set (and lookups are needed).
    pub fn is_active(&self) -> bool {
        !(self.reject_annotations.is_empty()
            && self.reject_labels.is_empty()
            && self.require_labels.is_empty())
    }

    fn needs_labels(&self) -> bool {
        !(self.reject_labels.is_empty() && self.require_labels.is_empty())
    }

    /// The name the host is asked about: the pinned name when the digest
    /// rule pinned the image (the content that will run), else the
    /// normalized name with its effective tag, as the digest rule asks.
    pub fn lookup_name(image: &Reference, resolution: &Resolution) -> String {
        match (resolution, image.effective_tag()) {
            (Resolution::Pinned(pinned), _) => pinned.clone(),
            (_, Some(tag)) if image.tag().is_none() => format!("{image}:{tag}"),
            _ => image.to_string(),
        }
    }

    /// The reason `image` fails the rule, if it does; `lookup` is its
    /// [`MetadataRules::lookup_name`].
    pub fn check(
        &self,
        image: &Reference,
        lookup: &str,
        lookups: &mut Lookups<'_>,
    ) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let metadata = match self.read(image, lookup, lookups) {
            Ok(m) => m,
            Err(_) if self.skip_on_resolution_failure => return None,
            Err(e) => return Some(format!("the metadata of {lookup} could not be read: {e}")),
        };
        let mut reasons = Vec::new();
        for (part, answer) in &metadata.annotations {
            for entry in &self.reject_annotations {
                if let Some(value) = answer.strings.get(&entry.key)
                    && entry.matches(value)
                {
                    let mut reason = format!(
                        "{} {}={} is rejected",
                        part.annotation(),
                        entry.key,
                        quoted(value)
                    );
                    if let (Part::PlatformManifest, Some(digest)) =
                        (part, &metadata.platform_digest)
                    {
                        reason.push_str(&format!(" (manifest {digest})"));
                    }
                    reasons.push(reason);
                }
            }
        }
        let label_source = if metadata.platform_digest.is_some() {
            "linux/amd64 image config label"
        } else {
            "image config label"
        };
        let labels = metadata.labels.as_ref().map(|c| &c.strings);
        for entry in &self.reject_labels {
            if let Some(value) = labels.and_then(|l| l.get(&entry.key))
                && entry.matches(value)
            {
                reasons.push(format!(
                    "{label_source} {}={} is rejected",
                    entry.key,
                    quoted(value)
                ));
            }
        }
        for entry in &self.require_labels {
            match (labels.and_then(|l| l.get(&entry.key)), &entry.value) {
                (None, _) => {
                    reasons.push(format!("required {label_source} {} is missing", entry.key))
                }
                (Some(value), Some(required)) if value != required => reasons.push(format!(
                    "{label_source} {}={} is not the required value {}",
                    entry.key,
                    quoted(value),
                    quoted(required)
                )),
                _ => {}
            }
        }
        (!reasons.is_empty()).then(|| reasons.join(", "))
    }

    /// Reads what the rules need about `image`.
    fn read(
        &self,
        image: &Reference,
        lookup: &str,
        lookups: &mut Lookups<'_>,
    ) -> Result<Metadata, CapabilityError> {
        let top = ask(lookups, Call::Manifest, lookup)?;
        let mut metadata = Metadata::default();
        let target = match &top.manifests {
            None => {
                metadata.annotations.push((Part::Manifest, Rc::clone(&top)));
                lookup.to_owned()
            }
            Some(entries) => {
                let (digest, _, _) = entries
                    .iter()
                    .find(|(_, os, architecture)| {
                        os == PLATFORM_OS && architecture == PLATFORM_ARCHITECTURE
                    })
                    .ok_or_else(|| {
                        CapabilityError(format!(
                            "the image index has no {PLATFORM_OS}/{PLATFORM_ARCHITECTURE} manifest"
                        ))
                    })?;
                grammar::parse_digest(digest).map_err(|e| {
                    CapabilityError(format!(
                        "the image index names an invalid manifest digest: {e}"
                    ))
                })?;
                metadata.annotations.push((Part::Index, Rc::clone(&top)));
                metadata.platform_digest = Some(digest.clone());
                let target = format!("{}/{}@{digest}", image.domain(), image.path());
                if !self.reject_annotations.is_empty() {
                    let platform = ask(lookups, Call::Manifest, &target)?;
                    if platform.manifests.is_some() {
                        return Err(CapabilityError(format!(
                            "the {PLATFORM_OS}/{PLATFORM_ARCHITECTURE} entry of the image index is another index"
                        )));
                    }
                    metadata
                        .annotations
                        .push((Part::PlatformManifest, platform));
                }
                target
            }
        };
        if self.needs_labels() {
            metadata.labels = Some(ask(lookups, Call::Config, &target)?);
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::Capabilities;
    use std::cell::RefCell;

    const AMD64: &str = "sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    const ARM64: &str = "sha256:b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

    /// Answers from maps of names to JSON, and records every call.
    #[derive(Default)]
    struct Fake {
        manifests: BTreeMap<String, String>,
        configs: BTreeMap<String, String>,
        calls: RefCell<Vec<String>>,
    }

    impl Fake {
        fn manifest(mut self, name: &str, json: serde_json::Value) -> Fake {
            self.manifests.insert(name.into(), json.to_string());
            self
        }
        fn labels(mut self, name: &str, labels: serde_json::Value) -> Fake {
            let answer = serde_json::json!({
                "manifest": {"schemaVersion": 2, "config": {}, "layers": []},
                "digest": AMD64,
                "config": {"architecture": "amd64", "os": "linux", "config": {"Labels": labels}},
            });
            self.configs.insert(name.into(), answer.to_string());
            self
        }
    }

    impl Capabilities for Fake {
        fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
            Err(CapabilityError(format!("no digest for {image}")))
        }
        fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
            self.calls.borrow_mut().push(format!("manifest {image}"));
            self.manifests
                .get(image)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| CapabilityError(format!("manifest unknown: {image}")))
        }
        fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
            self.calls.borrow_mut().push(format!("config {image}"));
            self.configs
                .get(image)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| CapabilityError(format!("config unknown: {image}")))
        }
    }

    fn image(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn entries(pairs: &[(&str, &str)]) -> Vec<MetadataEntry> {
        pairs
            .iter()
            .map(|(k, v)| MetadataEntry::new(k, v))
            .collect()
    }

    fn check(rules: &MetadataRules, fake: &Fake, name: &str) -> Option<String> {
        let mut lookups = Lookups::new(fake);
        let reference = image(name);
        let lookup = MetadataRules::lookup_name(&reference, &Resolution::NotAttempted);
        rules.check(&reference, &lookup, &mut lookups)
    }

    fn deny_execution() -> MetadataRules {
        MetadataRules {
            reject_annotations: entries(&[("images.openshift.io/deny-execution", "true")]),
            ..MetadataRules::default()
        }
    }

    fn plain(annotations: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {}, "layers": [], "annotations": annotations})
    }

    fn index(annotations: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"digest": ARM64, "platform": {"architecture": "arm64", "os": "linux"}},
                {"digest": AMD64, "platform": {"architecture": "amd64", "os": "linux"}},
            ],
            "annotations": annotations})
    }

    #[test]
    fn inactive_rules_ask_nothing() {
        let fake = Fake::default();
        assert_eq!(check(&MetadataRules::default(), &fake, "nginx"), None);
        assert!(fake.calls.borrow().is_empty());
    }

    #[test]
    fn a_rejected_annotation_is_named() {
        let fake = Fake::default()
            .manifest(
                "ghcr.io/org/app:1",
                plain(serde_json::json!({"images.openshift.io/deny-execution": "true"})),
            )
            .manifest(
                "ghcr.io/org/ok:1",
                plain(serde_json::json!({"images.openshift.io/deny-execution": "false"})),
            );
        assert_eq!(
            check(&deny_execution(), &fake, "ghcr.io/org/app:1").as_deref(),
            Some(r#"manifest annotation images.openshift.io/deny-execution="true" is rejected"#)
        );
        assert_eq!(check(&deny_execution(), &fake, "ghcr.io/org/ok:1"), None);
        // Only the manifest is read when no label rule is set.
        assert_eq!(
            *fake.calls.borrow(),
            vec!["manifest ghcr.io/org/app:1", "manifest ghcr.io/org/ok:1"]
        );
    }

    #[test]
    fn star_matches_any_value_and_untagged_images_are_latest() {
        let rules = MetadataRules {
            reject_annotations: entries(&[("x", "*")]),
            ..MetadataRules::default()
        };
        let fake = Fake::default().manifest(
            "docker.io/library/nginx:latest",
            plain(serde_json::json!({"x": ""})),
        );
        assert_eq!(
            check(&rules, &fake, "nginx").as_deref(),
            Some(r#"manifest annotation x="" is rejected"#)
        );
    }

    #[test]
    fn labels_required_rejected_and_star() {
        let rules = MetadataRules {
            reject_labels: entries(&[("stage", "experimental")]),
            require_labels: entries(&[("team", "*"), ("tier", "backend"), ("owner", "*")]),
            ..MetadataRules::default()
        };
        let fake = Fake::default()
            .manifest("ghcr.io/org/app:1", plain(serde_json::Value::Null))
            .labels(
                "ghcr.io/org/app:1",
                serde_json::json!({"stage": "experimental", "team": "a", "tier": "frontend"}),
            );
        assert_eq!(
            check(&rules, &fake, "ghcr.io/org/app:1").as_deref(),
            Some(concat!(
                r#"image config label stage="experimental" is rejected, "#,
                r#"image config label tier="frontend" is not the required value "backend", "#,
                "required image config label owner is missing"
            ))
        );
        let ok = MetadataRules {
            require_labels: entries(&[("team", "*")]),
            ..MetadataRules::default()
        };
        assert_eq!(check(&ok, &fake, "ghcr.io/org/app:1"), None);
    }

    #[test]
    fn null_labels_are_no_labels() {
        let rules = MetadataRules {
            require_labels: entries(&[("team", "*")]),
            ..MetadataRules::default()
        };
        let fake = Fake::default()
            .manifest("ghcr.io/org/app:1", plain(serde_json::Value::Null))
            .labels("ghcr.io/org/app:1", serde_json::Value::Null);
        assert_eq!(
            check(&rules, &fake, "ghcr.io/org/app:1").as_deref(),
            Some("required image config label team is missing")
        );
    }

    #[test]
    fn an_index_counts_its_own_and_its_amd64_manifest_annotations() {
        let rules = MetadataRules {
            reject_annotations: entries(&[("a", "*"), ("b", "*")]),
            require_labels: entries(&[("team", "*")]),
            ..MetadataRules::default()
        };
        let platform = format!("ghcr.io/org/multi@{AMD64}");
        let fake = Fake::default()
            .manifest("ghcr.io/org/multi:1", index(serde_json::json!({"a": "1"})))
            .manifest(&platform, plain(serde_json::json!({"b": "2"})))
            .labels(&platform, serde_json::json!({}));
        assert_eq!(
            check(&rules, &fake, "ghcr.io/org/multi:1"),
            Some(format!(
                r#"index annotation a="1" is rejected, linux/amd64 manifest annotation b="2" is rejected (manifest {AMD64}), required linux/amd64 image config label team is missing"#
            ))
        );
        assert_eq!(
            *fake.calls.borrow(),
            vec![
                "manifest ghcr.io/org/multi:1".to_owned(),
                format!("manifest {platform}"),
                format!("config {platform}"),
            ]
        );
    }

    #[test]
    fn an_index_without_amd64_is_a_lookup_failure() {
        let fake = Fake::default().manifest(
            "ghcr.io/org/arm:1",
            serde_json::json!({"schemaVersion": 2, "manifests": [
                {"digest": ARM64, "platform": {"architecture": "arm64", "os": "linux"}}]}),
        );
        assert_eq!(
            check(&deny_execution(), &fake, "ghcr.io/org/arm:1").as_deref(),
            Some(
                "the metadata of ghcr.io/org/arm:1 could not be read: the image index has no linux/amd64 manifest"
            )
        );
    }

    #[test]
    fn failures_are_violations_unless_skipped() {
        let fake = Fake::default().manifest("ghcr.io/org/bad:1", serde_json::json!([1]));
        assert_eq!(
            check(&deny_execution(), &fake, "ghcr.io/org/gone:1").as_deref(),
            Some(
                "the metadata of ghcr.io/org/gone:1 could not be read: manifest unknown: ghcr.io/org/gone:1"
            )
        );
        let reason = check(&deny_execution(), &fake, "ghcr.io/org/bad:1").unwrap_or_default();
        assert!(
            reason.starts_with("the metadata of ghcr.io/org/bad:1 could not be read: the host's answer is not an OCI manifest"),
            "{reason}"
        );
        let skip = MetadataRules {
            skip_on_resolution_failure: true,
            ..deny_execution()
        };
        assert_eq!(check(&skip, &fake, "ghcr.io/org/gone:1"), None);
    }

    #[test]
    fn each_name_is_looked_up_once_per_evaluation() {
        let rules = MetadataRules {
            require_labels: entries(&[("team", "*")]),
            ..deny_execution()
        };
        let fake = Fake::default()
            .manifest("docker.io/library/nginx:1.27", plain(serde_json::json!({})))
            .labels(
                "docker.io/library/nginx:1.27",
                serde_json::json!({"team": "web"}),
            );
        let mut lookups = Lookups::new(&fake);
        for written in [
            "nginx:1.27",
            "docker.io/library/nginx:1.27",
            "ghcr.io/x/y:1",
            "ghcr.io/x/y:1",
        ] {
            let reference = image(written);
            let lookup = MetadataRules::lookup_name(&reference, &Resolution::NotAttempted);
            rules.check(&reference, &lookup, &mut lookups);
        }
        assert_eq!(
            *fake.calls.borrow(),
            vec![
                "manifest docker.io/library/nginx:1.27",
                "config docker.io/library/nginx:1.27",
                "manifest ghcr.io/x/y:1",
            ]
        );
    }

    #[test]
    fn pinned_lookups_use_the_pinned_name() {
        let pinned = image(&format!("ghcr.io/org/app@{AMD64}"));
        assert_eq!(
            MetadataRules::lookup_name(&pinned, &Resolution::NotAttempted),
            format!("ghcr.io/org/app@{AMD64}")
        );
        let rewritten = Resolution::Pinned(format!("ghcr.io/org/app:1@{AMD64}"));
        assert_eq!(
            MetadataRules::lookup_name(&image("ghcr.io/org/app:1"), &rewritten),
            format!("ghcr.io/org/app:1@{AMD64}")
        );
    }
}
