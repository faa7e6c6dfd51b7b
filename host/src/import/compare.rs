//! `import --images FILE` / `--scan PATH`: every image under the old
//! policy's semantics ([`super::emulate`]) and under imagegate's (the
//! imported settings through policy.wasm, offline), and the images whose
//! verdict differs, grouped by reason.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::emulate::OldVerdict;

/// Rules left out of the comparison: they need a registry, and the
/// comparison runs offline.
pub const OFFLINE_RULES: [&str; 2] = ["signature", "imageMetadata"];

/// An image to compare, with where it was found.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image as written.
    pub image: String,
    /// `images.txt:3`, `Deployment/shop/web spec.template.spec.containers[0].image`.
    pub at: String,
    /// Whether the old policy saw it (image volumes were never seen).
    pub seen_by_old: bool,
}

/// imagegate's verdict, as the comparison reads it.
#[derive(Debug, Clone, Serialize)]
pub struct NewVerdict {
    /// Admitted (ignoring the offline rules).
    pub allowed: bool,
    /// The rules of the deny violations.
    pub rules: Vec<String>,
    /// The rejection message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One image whose verdict differs.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    /// The image.
    pub image: String,
    /// Where it was found.
    pub at: Vec<String>,
    /// The reason id.
    pub reason: &'static str,
    /// The old verdict.
    pub old: Value,
    /// imagegate's.
    pub imagegate: NewVerdict,
}

/// What a reason id means, for the grouped report.
pub fn describe(reason: &str) -> &'static str {
    match reason {
        "prefix-boundary" => {
            "a prefix match that crossed a name boundary (ghcr.io/org matched ghcr.io/org-evil)"
        }
        "substring" => "contains() matched the text anywhere in the image",
        "library-cross-registry" => {
            "the repository matched on another registry (nginx matched evil.example/library/nginx)"
        }
        "docker-hub-forms" => {
            "Docker Hub written another way (registry-1.docker.io/..., or no registry)"
        }
        "digest-only-latest" => "a digest-only image was treated as tag latest",
        "pinned-images" => "the tag of an image pinned by digest was checked",
        "explicit-tag" => "\"has a tag\" was \":\" anywhere in the text",
        "reference" => "the image does not parse as the runtime reads it",
        "image-volumes" => "an image volume the old policy never saw",
        "normalized-name" => "imagegate reads the name as the runtime does",
        _ => "another rule of the imported settings",
    }
}

/// The reason an image's verdict changed.
fn reason(image: &Image, old: &OldVerdict, new: &NewVerdict) -> &'static str {
    if !image.seen_by_old && !new.allowed {
        return "image-volumes";
    }
    if let Some(quirk) = old.quirk {
        return quirk;
    }
    if new.rules.iter().any(|r| r == "reference") {
        return "reference";
    }
    if new.allowed {
        return "normalized-name";
    }
    "other"
}

/// The images whose verdict differs, each once (with every place it was
/// found), in the order first found.
pub fn compare(
    images: &[Image],
    old: impl Fn(&str) -> OldVerdict,
    mut new: impl FnMut(&str) -> anyhow::Result<NewVerdict>,
) -> anyhow::Result<(usize, Vec<Changed>)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut changed: Vec<Changed> = Vec::new();
    let mut unique = 0;
    for image in images {
        if let Some(&index) = seen.get(image.image.as_str()) {
            if index != usize::MAX {
                changed[index].at.push(image.at.clone());
            }
            continue;
        }
        unique += 1;
        let before = if image.seen_by_old {
            old(&image.image)
        } else {
            OldVerdict::allow("never seen", None)
        };
        let after = new(&image.image)?;
        if before.allowed == after.allowed {
            seen.insert(&image.image, usize::MAX);
            continue;
        }
        seen.insert(&image.image, changed.len());
        changed.push(Changed {
            image: image.image.clone(),
            at: vec![image.at.clone()],
            reason: reason(image, &before, &after),
            old: json!({"allowed": before.allowed, "why": before.why}),
            imagegate: after,
        });
    }
    Ok((unique, changed))
}

/// The grouped report for people.
pub fn render_text(unique: usize, changed: &[Changed]) -> String {
    let mut out = format!(
        "{} of {unique} image(s) get another verdict under imagegate\n",
        changed.len()
    );
    let mut groups: BTreeMap<(&str, bool), Vec<&Changed>> = BTreeMap::new();
    for c in changed {
        groups
            .entry((c.reason, c.imagegate.allowed))
            .or_default()
            .push(c);
    }
    for ((reason, allowed), items) in groups {
        let direction = if allowed {
            "rejected before, admitted now"
        } else {
            "admitted before, rejected now"
        };
        out.push_str(&format!("\n{reason}: {direction}: {}\n", describe(reason)));
        for c in items {
            out.push_str(&format!("  {}  ({})\n", c.image, c.at.join(", ")));
            out.push_str(&format!(
                "    before: {}\n",
                c.old["why"].as_str().unwrap_or("")
            ));
            let now = match &c.imagegate.message {
                Some(m) => m.clone(),
                None if c.imagegate.allowed => "admitted".into(),
                None => "rejected".into(),
            };
            out.push_str(&format!("    imagegate: {now}\n"));
        }
    }
    out
}

/// The images of a pod spec at `path` (containers, init and ephemeral
/// containers, image volumes).
fn pod_spec_images(spec: &Value, path: &str, owner: &str, out: &mut Vec<Image>) {
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for (i, container) in spec
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = container.get("image").and_then(Value::as_str) {
                out.push(Image {
                    image: image.to_owned(),
                    at: format!("{owner} {path}.{key}[{i}].image"),
                    seen_by_old: true,
                });
            }
        }
    }
    for (i, volume) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(image) = volume.pointer("/image/reference").and_then(Value::as_str) {
            out.push(Image {
                image: image.to_owned(),
                at: format!("{owner} {path}.volumes[{i}].image.reference"),
                seen_by_old: false,
            });
        }
    }
}

/// The images of a Kubernetes object of a kind imagegate checks.
pub fn object_images(object: &Value, out: &mut Vec<Image>) {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(no name)");
    let owner = match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    let (pointer, path) = match kind {
        "Pod" => ("/spec", "spec"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "spec.jobTemplate.spec.template.spec",
        ),
        "PodTemplate" => ("/template/spec", "template.spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicationController"
        | "Job" => ("/spec/template/spec", "spec.template.spec"),
        _ => return,
    };
    if let Some(spec) = object.pointer(pointer) {
        pod_spec_images(spec, path, &owner, out);
    }
}

/// `--images FILE`: one image per line; blank lines and `#` comments skipped.
pub fn image_lines(text: &str, name: &str) -> Vec<Image> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| Image {
            image: line.to_owned(),
            at: format!("{name}:{}", i + 1),
            seen_by_old: true,
        })
        .collect()
}
