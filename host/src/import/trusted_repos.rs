//! Kubewarden trusted-repos-policy settings (`registries`, `tags`, `images`,
//! each `allow` / `reject`).
//!
//! How trusted-repos-policy decides (`src/validation.rs`): every image must
//! pass three independent checks, registry AND tag AND image.
//! - registry: the registry oci-spec's parser reads (`docker.io` when the
//!   image names none) compared as text with `registries.reject` / `allow`;
//! - tag: the tag as written (`latest` when none, also for a digest-only
//!   image) compared as text with `tags.reject`;
//! - image: the image as written, or its repository path without the
//!   registry (`library/nginx`, on any registry), or registry/path, compared
//!   with `images.reject` / `allow`.
//!
//! imagegate accepts the same keys, but one entry decides the source (the
//! most specific) where trusted-repos needs the registry and the image to
//! both pass: so an `images.allow` entry next to `registries.allow` is
//! rewritten (the registry list only filtered the images), and an
//! `images.allow` entry on a rejected registry is left out.

use imagegate_policy::reference::Reference;
use serde_json::{Map, Value, json};

use super::{Import, strings};

const KEYS: [(&str, &[&str]); 3] = [
    ("registries", &["allow", "reject"]),
    ("tags", &["reject"]),
    ("images", &["allow", "reject"]),
];

fn docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// A registry entry's normalized name, for comparing with parsed images.
fn registry_key(entry: &str) -> String {
    let lower = entry.to_ascii_lowercase();
    if docker_hub(&lower) {
        "docker.io".into()
    } else {
        lower
    }
}

/// Reads trusted-repos-policy settings into `import`.
pub fn import(documents: &[Value], import: &mut Import) {
    let empty = Map::new();
    let settings = documents
        .first()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if documents.len() > 1 {
        import.not_carried(
            "extra-documents",
            "documents 2 and later",
            "trusted-repos-policy settings are one document: the others are left out".into(),
        );
    }
    for (key, value) in settings {
        let Some((_, subkeys)) = KEYS.iter().find(|(k, _)| *k == key.as_str()) else {
            import.not_carried(
                "unknown-key",
                key,
                format!("{key} is not a trusted-repos-policy setting: left out"),
            );
            continue;
        };
        if let Some(map) = value.as_object() {
            for sub in map.keys().filter(|s| !subkeys.contains(&s.as_str())) {
                import.not_carried(
                    "unknown-key",
                    &format!("{key}.{sub}"),
                    "not a trusted-repos-policy setting: left out".into(),
                );
            }
        }
    }
    let section = |key: &str| {
        settings
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let registries = section("registries");
    let tags = section("tags");
    let images = section("images");

    let registry_allow = strings(&registries, "allow", "registries.", import);
    let registry_reject = strings(&registries, "reject", "registries.", import);
    let image_allow = strings(&images, "allow", "images.", import);
    let image_reject = strings(&images, "reject", "images.", import);
    let tag_reject = strings(&tags, "reject", "tags.", import);

    let allowed_registries: Vec<String> = registry_allow
        .iter()
        .map(|(_, r)| registry_key(r))
        .collect();
    let rejected_registries: Vec<String> = registry_reject
        .iter()
        .map(|(_, r)| registry_key(r))
        .collect();

    for (here, registry) in &registry_reject {
        let change = docker_hub(&registry_key(registry)).then(|| {
            (
                "docker-hub-forms",
                "trusted-repos compared the registry as text, so registry-1.docker.io/... and \
                 index.docker.io/... images slipped past this reject; imagegate rejects every \
                 name of Docker Hub"
                    .to_owned(),
            )
        });
        import.push(
            &["registries", "reject"],
            json!(registry),
            here,
            change.or_else(|| glob_note(registry)),
        );
    }
    if image_allow.is_empty() {
        for (here, registry) in &registry_allow {
            let change = docker_hub(&registry_key(registry)).then(|| {
                (
                    "docker-hub-forms",
                    "trusted-repos took an image with an upper-case registry (EVILHOST/app) for a \
                     Docker Hub image and refused registry-1.docker.io/... names; imagegate reads \
                     the registry the runtime pulls from"
                        .to_owned(),
                )
            });
            import.push(
                &["registries", "allow"],
                json!(registry),
                here,
                change.or_else(|| glob_note(registry)),
            );
        }
    } else if !registry_allow.is_empty() {
        import.changed(
            "registry-and-image",
            "registries.allow",
            "trusted-repos required the registry AND the image to pass; with images.allow set, \
             registries.allow only filtered it: the images.allow entries on those registries are \
             kept and registries.allow is not written (imagegate's most specific entry decides, \
             so both lists would trust every image of the registry)"
                .into(),
        );
    }

    for (here, image) in &image_allow {
        let parsed = match Reference::parse(image) {
            Ok(parsed) => parsed,
            Err(error) => {
                import.not_carried(
                    "not-an-image-name",
                    here,
                    format!("not an image name: {error}"),
                );
                continue;
            }
        };
        let registry = parsed.domain().to_ascii_lowercase();
        if !allowed_registries.is_empty() && !allowed_registries.contains(&registry) {
            import.not_carried(
                "registry-and-image",
                here,
                format!(
                    "never admitted: its registry {registry} is not in registries.allow, and both \
                     had to pass; left out"
                ),
            );
            continue;
        }
        if rejected_registries.contains(&registry) {
            import.not_carried(
                "registry-and-image",
                here,
                format!(
                    "never admitted: its registry {registry} is in registries.reject, and both had \
                     to pass; left out (in imagegate the image entry would win)"
                ),
            );
            continue;
        }
        import.push(
            &["images", "allow"],
            json!(image),
            here,
            any_registry_note(image, &parsed, true),
        );
    }
    for (here, image) in &image_reject {
        match Reference::parse(image) {
            Ok(parsed) => {
                let note = any_registry_note(image, &parsed, false);
                import.push(&["images", "reject"], json!(image), here, note);
            }
            Err(error) => import.not_carried(
                "not-an-image-name",
                here,
                format!("not an image name: {error}"),
            ),
        }
    }
    for (here, tag) in &tag_reject {
        let change = glob_note(tag).unwrap_or_else(|| {
            if tag == "latest" {
                (
                    "digest-only-latest",
                    "trusted-repos also rejected digest-only images (app@sha256:...) as latest; \
                     imagegate applies tags to unpinned images only: a pinned image runs its \
                     digest, whatever the tag"
                        .to_owned(),
                )
            } else {
                (
                    "pinned-images",
                    format!(
                        "trusted-repos also rejected pinned images that wrote this tag \
                         (app:{tag}@sha256:...); imagegate applies tags to unpinned images only"
                    ),
                )
            }
        });
        import.push(&["tags", "reject"], json!(tag), here, Some(change));
    }
}

/// An entry without a registry matched that path on every registry.
fn any_registry_note(
    image: &str,
    parsed: &Reference,
    allow: bool,
) -> Option<(&'static str, String)> {
    if parsed.names_registry() {
        return None;
    }
    let path = parsed.path();
    Some((
        "library-cross-registry",
        if allow {
            format!(
                "trusted-repos matched \"{image}\" as the path {path} on any registry (evil.example/{path} \
                 passed); imagegate trusts docker.io/{path} only"
            )
        } else {
            format!(
                "trusted-repos rejected the path {path} on every registry; imagegate rejects \
                 docker.io/{path} only: add an images.reject entry per registry if you meant \
                 everywhere"
            )
        },
    ))
}

fn glob_note(entry: &str) -> Option<(&'static str, String)> {
    entry.contains(['*', '?']).then(|| {
        (
            "glob",
            format!("\"{entry}\" was compared as text; in imagegate * and ? are wildcards"),
        )
    })
}
