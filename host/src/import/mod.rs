//! `imagegate import`: an incumbent's image policy read into imagegate
//! settings, with every change of meaning said.
//!
//! One module per source ([`gatekeeper`], [`trusted_repos`], [`openshift`],
//! [`policy_json`]) turns the documents it reads into an [`Import`]: the
//! settings ([`doc::SettingsDoc`], which keeps a comment on each entry whose
//! meaning changes) and the [`Difference`]s, each naming where in the source
//! it comes from. Nothing the source says is dropped silently: what cannot
//! be expressed is a difference of kind [`Change::NotCarried`].

pub mod compare;
pub mod doc;
pub mod emulate;
pub mod gatekeeper;
pub mod manifest;
pub mod openshift;
pub mod policy_json;
pub mod trusted_repos;

use serde::Serialize;
use serde_json::{Map, Value};

use self::doc::SettingsDoc;
use self::manifest::MatchAdvice;

/// The policies `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Gatekeeper constraints: K8sAllowedRepos, K8sDisallowedTags, K8sImageDigests.
    Gatekeeper,
    /// Kubewarden trusted-repos-policy settings.
    TrustedRepos,
    /// OpenShift `config.openshift.io/v1` Image, or an ImagePolicyConfig.
    Openshift,
    /// containers `policy.json` (containers-policy.json(5)).
    PolicyJson,
}

impl SourceKind {
    /// The name `--from` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Gatekeeper => "gatekeeper",
            SourceKind::TrustedRepos => "trusted-repos",
            SourceKind::Openshift => "openshift",
            SourceKind::PolicyJson => "policy-json",
        }
    }
}

/// How Gatekeeper's K8sAllowedRepos compares an image with each `repos` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReposMatch {
    /// The upstream gatekeeper-library template: `startswith(image, repo)`.
    Startswith,
    /// The older template (and Rancher's copy of it): `contains(image, repo)`.
    Contains,
}

/// What a difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// Carried over; some images get another verdict (the reason says which).
    Changed,
    /// Not expressible in imagegate settings: left out, said here.
    NotCarried,
    /// Belongs to the deployment, not the settings (where the policy runs,
    /// which objects reach it).
    Advice,
}

/// One change of meaning.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// What it is.
    pub change: Change,
    /// A short stable id of the reason, e.g. `prefix-boundary`.
    pub reason: &'static str,
    /// Where in the source: `K8sAllowedRepos/repo-is-openpolicyagent
    /// spec.parameters.repos[0] "openpolicyagent/"`.
    pub source: String,
    /// The imagegate setting it became, e.g. `repositories.allow[0]`; none
    /// when not carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// What changes, for people.
    pub message: String,
}

/// What an import gives.
#[derive(Debug, Default)]
pub struct Import {
    /// The settings, with their comments.
    pub settings: SettingsDoc,
    /// Every change of meaning.
    pub differences: Vec<Difference>,
    /// Which objects the old policy saw (Gatekeeper's `match`), for the
    /// ClusterAdmissionPolicy.
    pub advice: MatchAdvice,
}

impl Import {
    /// Adds a list entry with a comment saying what changes (also a
    /// difference), or none when the meaning is the same.
    pub fn push(
        &mut self,
        section: &[&str],
        value: Value,
        source: &str,
        change: Option<(&'static str, String)>,
    ) {
        let setting = self
            .settings
            .push(section, value, change.as_ref().map(|c| c.1.clone()));
        self.note_change(setting, source, change);
    }

    /// Records a changed meaning as a difference naming the setting written.
    fn note_change(
        &mut self,
        setting: String,
        source: &str,
        change: Option<(&'static str, String)>,
    ) {
        if let Some((reason, message)) = change {
            self.differences.push(Difference {
                change: Change::Changed,
                reason,
                source: source.to_owned(),
                setting: Some(setting),
                message,
            });
        }
    }

    /// Sets a scalar (or map entry) with an optional comment.
    pub fn set(
        &mut self,
        path: &[&str],
        value: Value,
        source: &str,
        change: Option<(&'static str, String)>,
    ) {
        let setting = self
            .settings
            .set(path, value, change.as_ref().map(|c| c.1.clone()));
        self.note_change(setting, source, change);
    }

    /// Says what was left out, and why.
    pub fn not_carried(&mut self, reason: &'static str, source: &str, message: String) {
        self.differences.push(Difference {
            change: Change::NotCarried,
            reason,
            source: source.to_owned(),
            setting: None,
            message,
        });
    }

    /// Advice for the deployment.
    pub fn advise(&mut self, reason: &'static str, source: &str, message: String) {
        self.differences.push(Difference {
            change: Change::Advice,
            reason,
            source: source.to_owned(),
            setting: None,
            message,
        });
    }

    /// A difference about the whole policy (no setting of its own).
    pub fn changed(&mut self, reason: &'static str, source: &str, message: String) {
        self.differences.push(Difference {
            change: Change::Changed,
            reason,
            source: source.to_owned(),
            setting: None,
            message,
        });
    }
}

/// The documents of a source file: YAML streams split at `---`, `List`s
/// flattened.
pub fn documents(text: &str, name: &str) -> Result<Vec<Value>, String> {
    let mut chunks = vec![String::new()];
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed.starts_with("---#") {
            chunks.push(String::new());
        } else if trimmed == "..." {
            continue;
        } else if let Some(last) = chunks.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    let mut out = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        let meaningful = chunk
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if !meaningful {
            continue;
        }
        let source = crate::input::Source::file("import", name);
        let value = crate::input::parse_document(chunk.as_bytes(), &source).map_err(|e| {
            if chunks.len() > 1 {
                format!("{e} (document {})", index + 1)
            } else {
                e.to_string()
            }
        })?;
        match value {
            Value::Object(ref map)
                if map.get("kind").and_then(Value::as_str) == Some("List")
                    && map.get("items").is_some_and(Value::is_array) =>
            {
                if let Some(Value::Array(items)) = map.get("items") {
                    out.extend(items.iter().cloned());
                }
            }
            Value::Null => {}
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return Err(format!("import file \"{name}\": no document in it"));
    }
    Ok(out)
}

/// Which source a document is, from its shape.
pub fn detect(documents: &[Value]) -> Option<SourceKind> {
    let first = documents.first()?.as_object()?;
    let kind = first.get("kind").and_then(Value::as_str);
    let api = first
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    match kind {
        Some(k)
            if gatekeeper::KINDS.contains(&k) || api.starts_with("constraints.gatekeeper.sh") =>
        {
            return Some(SourceKind::Gatekeeper);
        }
        Some("Image" | "ImagePolicyConfig") => return Some(SourceKind::Openshift),
        _ => {}
    }
    if first.contains_key("executionRules") || api.contains("openshift.io") {
        return Some(SourceKind::Openshift);
    }
    if first.contains_key("default") || first.contains_key("transports") {
        return Some(SourceKind::PolicyJson);
    }
    let trusted_keys = ["registries", "tags", "images"];
    if !first.is_empty() && first.keys().all(|k| trusted_keys.contains(&k.as_str())) {
        return Some(SourceKind::TrustedRepos);
    }
    None
}

/// A list of strings at `key` of `map`; non-strings are reported.
pub fn strings(
    map: &Map<String, Value>,
    key: &str,
    at: &str,
    import: &mut Import,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match map.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}{key}[{i}]");
                match item.as_str() {
                    Some(s) => out.push((format!("{here} \"{s}\""), s.to_owned())),
                    None => import.not_carried(
                        "not-a-string",
                        &here,
                        format!(
                            "expected a string, found {}: left out",
                            crate::input::describe(item)
                        ),
                    ),
                }
            }
        }
        Some(other) => import.not_carried(
            "not-a-list",
            &format!("{at}{key}"),
            format!(
                "expected a list, found {}: left out",
                crate::input::describe(other)
            ),
        ),
    }
    out
}

/// The differences every import has: what imagegate checks that the
/// incumbents did not see.
pub fn common_differences(import: &mut Import, source: SourceKind) {
    let what = match source {
        SourceKind::Gatekeeper => "the Gatekeeper library templates",
        SourceKind::TrustedRepos => "trusted-repos-policy",
        SourceKind::Openshift => "the ImagePolicy admission plugin",
        SourceKind::PolicyJson => "policy.json (checked by the runtime at pull time)",
    };
    import.changed(
        "image-volumes",
        source.as_str(),
        format!(
            "imagegate also checks image volumes (volumes[].image.reference), which {what} \
             did not see"
        ),
    );
    import.changed(
        "parsed-references",
        source.as_str(),
        "imagegate parses every image as the runtime does (docker.io/library/ normalization, \
         registry-1.docker.io is docker.io, ports): an image written another way for the same \
         repository gets the same verdict, and an image that does not parse is rejected \
         [reference]"
            .to_owned(),
    );
}
