//! Kubewarden trusted-repos-policy (`src/validation.rs`, `src/image.rs`):
//! registry, tag and image checks that must all pass, on names compared as
//! text after oci-spec's parse (which defaults the registry to docker.io and
//! the path to library/, but keeps `registry-1.docker.io` as written).

use serde_json::Value;

use super::{OldVerdict, string_list};

/// An image as oci-spec reads it.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    registry: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn parse(image: &str) -> Option<Parsed> {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return None;
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_owned())),
        None => (image, None),
    };
    let (first, remainder) = rest.split_once('/').unwrap_or(("", rest));
    let (registry, name) = if !first.is_empty()
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        (first.to_owned(), remainder)
    } else {
        ("docker.io".to_owned(), rest)
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].find(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(name[last_slash + i + 1..].to_owned()),
        ),
        None => (name, None),
    };
    if path.is_empty() || path.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    Some(Parsed {
        registry,
        path,
        tag,
        digest,
    })
}

/// How an image entry matched: `Some(true)` by its path on another
/// registry than Docker Hub, `Some(false)` exactly or on its own registry.
fn matches(entries: &[String], image: &Parsed) -> Option<bool> {
    for entry in entries {
        let Some(e) = parse(entry) else { continue };
        if e == *image {
            return Some(false);
        }
        if e.tag.is_some() || e.digest.is_some() || e.path != image.path {
            continue;
        }
        if !entry_names_registry(entry) {
            // The repository alone: any registry.
            return Some(image.registry != "docker.io");
        }
        if e.registry == image.registry {
            return Some(false);
        }
    }
    None
}

fn entry_names_registry(entry: &str) -> bool {
    entry
        .split_once('/')
        .is_some_and(|(f, _)| f.contains('.') || f.contains(':') || f == "localhost")
}

/// The three checks of `validate_images`.
pub fn evaluate(settings: &Value, image: &str) -> OldVerdict {
    let Some(parsed) = parse(image) else {
        return OldVerdict::allow(
            "oci-spec cannot parse it, so no check ran",
            Some("reference"),
        );
    };
    let allow = string_list(settings, "/registries/allow");
    let reject = string_list(settings, "/registries/reject");
    let docker_hub_text = |r: &str| r == "docker.io";
    if reject.contains(&parsed.registry) {
        return OldVerdict::deny(format!("registry {} is rejected", parsed.registry), None);
    }
    if !allow.is_empty() && !allow.contains(&parsed.registry) {
        let quirk = (parsed.registry.contains("docker.io")
            && allow.iter().any(|a| docker_hub_text(a)))
        .then_some("docker-hub-forms");
        return OldVerdict::deny(
            format!("registry {} is not allowed", parsed.registry),
            quirk,
        );
    }
    let tag = parsed.tag.clone().unwrap_or_else(|| "latest".into());
    if string_list(settings, "/tags/reject").contains(&tag) {
        let quirk = match (&parsed.digest, &parsed.tag) {
            (Some(_), None) => Some("digest-only-latest"),
            (Some(_), Some(_)) => Some("pinned-images"),
            _ => None,
        };
        return OldVerdict::deny(format!("tag {tag} is rejected"), quirk);
    }
    let image_reject = string_list(settings, "/images/reject");
    if matches(&image_reject, &parsed).is_some() {
        return OldVerdict::deny("the image is rejected", None);
    }
    let image_allow = string_list(settings, "/images/allow");
    if !image_allow.is_empty() {
        return match matches(&image_allow, &parsed) {
            Some(cross) => OldVerdict::allow(
                "images.allow matches",
                cross.then_some("library-cross-registry"),
            ),
            None => OldVerdict::deny("the image is not in images.allow", None),
        };
    }
    let quirk = (parsed.registry.contains("docker.io")
        && parsed.registry != "docker.io"
        && reject.iter().any(|r| docker_hub_text(r)))
    .then_some("docker-hub-forms");
    OldVerdict::allow("every check passes", quirk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // trusted-repos-policy's own test cases (src/validation.rs).
    #[test]
    fn as_its_tests_decide() {
        let tags = json!({"tags": {"reject": ["latest"]}});
        assert!(!evaluate(&tags, "busybox").allowed);
        assert!(!evaluate(&tags, "busybox:latest").allowed);
        assert!(evaluate(&tags, "busybox:1.0.0").allowed);
        let reject = json!({"registries": {"reject": ["docker.io", "ghcr.io"]}});
        assert!(!evaluate(&reject, "busybox:1.0.0").allowed);
        assert!(
            evaluate(
                &json!({"registries": {"reject": ["docker.io"]}}),
                "ghcr.io/kubewarden/policy-server:1.0.0"
            )
            .allowed
        );
        let allow = json!({"registries": {"allow": ["ghcr.io"]}});
        assert!(!evaluate(&allow, "docker.io/alpine:1.0.0").allowed);
        let images = json!({"images": {"allow": ["nginx", "quay.io/coreos/etcd"]}});
        assert!(evaluate(&images, "nginx:1.21").allowed);
        assert!(evaluate(&images, "docker.io/library/nginx:1.21").allowed);
        assert!(evaluate(&images, "quay.io/coreos/etcd:v3.4.12").allowed);
        assert!(!evaluate(&images, "coreos/etcd:v3.4.12").allowed);
    }

    #[test]
    fn the_bypasses() {
        let images = json!({"images": {"allow": ["nginx"]}});
        let v = evaluate(&images, "evil.example/library/nginx:1");
        assert_eq!((v.allowed, v.quirk), (true, Some("library-cross-registry")));
        let reject = json!({"registries": {"reject": ["docker.io"]}});
        let v = evaluate(&reject, "registry-1.docker.io/library/nginx:1");
        assert_eq!((v.allowed, v.quirk), (true, Some("docker-hub-forms")));
        let tags = json!({"tags": {"reject": ["latest"]}});
        let digest = format!("busybox@sha256:{}", "a".repeat(64));
        let v = evaluate(&tags, &digest);
        assert_eq!((v.allowed, v.quirk), (false, Some("digest-only-latest")));
    }
}
