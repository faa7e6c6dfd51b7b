//! Kubewarden policy artifacts in OCI registries: what `imagegate push`,
//! `imagegate pull` and `--policy registry://…` exchange (kubewarden-abi.md
//! §6, kwctl `src/push.rs`, policy-fetcher `src/registry/mod.rs`).
//!
//! **Layout** (as `kwctl push` writes it, so kwctl and policy-server read
//! what imagegate pushes, and the reverse): an OCI image manifest
//! (`schemaVersion: 2`, sent as `application/vnd.oci.image.manifest.v1+json`)
//! whose config is the two bytes `{}` of media type
//! `application/vnd.wasm.config.v1+json` and whose one layer is the module,
//! `application/vnd.wasm.content.layer.v1+wasm`. The manifest's annotations
//! are the module's metadata annotations, trimmed, without the multi-line
//! ones (the README usage text stays in the module), plus
//! `org.opencontainers.image.source` copied from `io.kubewarden.policy.source`.
//!
//! **Pulling** checks, in order: the tag or digest names an image manifest
//! (not an index); it has at least one layer and every layer is a wasm layer
//! (kwctl's rule); the first layer's bytes have the size and sha256 digest
//! the manifest gives; they start with the `\0asm` magic. Each failure is one
//! message naming the artifact and what is wrong.
//!
//! **Cache** (`--policy registry://…` and `pull` without `-o`):
//! `$IMAGEGATE_CACHE_DIR/policies`, else `$XDG_CACHE_HOME/imagegate/policies`,
//! else `$HOME/.cache/imagegate/policies`, then
//! `<registry>/<repository>/sha256-<manifest hex>/{manifest.json,policy.wasm}`.
//! Keyed by the manifest digest: a tag is resolved (one manifest GET) on every
//! use, so a tag moved to a new push is a new entry, never a stale hit. A
//! digest reference whose entry is there needs no network. An entry is used
//! only when its manifest hashes to the key and its module to the manifest's
//! layer digest; otherwise it is pulled again and replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use oci_client::Reference;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest, WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
};
use sha2::{Digest as _, Sha256};

use crate::files::{self, write_atomically};
use crate::metadata::{METADATA_SECTION, Metadata};
use crate::registry::{Registry, parse_reference};
use crate::wasm_sections;

/// The scheme of policy references, as Kubewarden writes them.
pub const SCHEME: &str = "registry://";

/// The annotation kwctl copies `io.kubewarden.policy.source` into.
pub const OCI_SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";

/// The metadata annotation holding the source URL.
pub const POLICY_SOURCE_ANNOTATION: &str = "io.kubewarden.policy.source";

/// The first bytes of every WebAssembly module.
const WASM_MAGIC: &[u8] = b"\0asm";

/// The manifest media types asked for when pulling (indexes too, so that
/// one is reported as such instead of as "not found").
const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// Whether `text` is a `registry://` reference rather than a file.
pub fn is_registry_uri(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// Reads `registry://HOST/REPO:TAG` (or `@sha256:…`); with `bare_ok`, the
/// scheme may be left out (as `kwctl push` allows for its destination).
pub fn parse_uri(uri: &str, bare_ok: bool) -> anyhow::Result<Reference> {
    let image = match uri.strip_prefix(SCHEME) {
        Some(image) => image,
        None if bare_ok && !uri.contains("://") => uri,
        None => anyhow::bail!(
            "{uri:?} is not a registry reference: write registry://HOST[:PORT]/REPOSITORY:TAG"
        ),
    };
    parse_reference(image).map_err(anyhow::Error::msg)
}

/// `registry://HOST/REPO` of `reference`, without tag or digest.
pub fn repository_uri(reference: &Reference) -> String {
    format!(
        "{SCHEME}{}/{}",
        reference.registry(),
        reference.repository()
    )
}

/// The sha256 digest (`sha256:<hex>`) of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The manifest annotations kwctl derives from the metadata annotations:
/// values trimmed, multi-line values dropped, and
/// `org.opencontainers.image.source` from `io.kubewarden.policy.source`
/// unless already there. `None` when nothing is left.
pub fn manifest_annotations(
    annotations: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let mut kept: BTreeMap<String, String> = annotations
        .into_iter()
        .flatten()
        .filter(|(_, value)| !value.trim().contains('\n'))
        .map(|(key, value)| (key.clone(), value.trim().to_owned()))
        .collect();
    if let Some(source) = kept.get(POLICY_SOURCE_ANNOTATION).cloned() {
        kept.entry(OCI_SOURCE_ANNOTATION.to_owned())
            .or_insert(source);
    }
    (!kept.is_empty()).then_some(kept)
}

/// The metadata embedded in `module`, if any; an embedded section that is
/// not valid metadata is an error.
pub fn embedded_metadata(module: &[u8], name: &str) -> anyhow::Result<Option<Metadata>> {
    let Some(section) = wasm_sections::find_custom_section(module, METADATA_SECTION)
        .with_context(|| format!("policy \"{name}\""))?
    else {
        return Ok(None);
    };
    let metadata = serde_json::from_slice(section).with_context(|| {
        format!("the {METADATA_SECTION} section of policy \"{name}\" is not valid metadata")
    })?;
    Ok(Some(metadata))
}

/// An artifact ready to push.
pub struct Artifact {
    /// The manifest.
    pub manifest: OciImageManifest,
    /// The manifest as sent (its sha256 is the pushed digest).
    pub manifest_bytes: Vec<u8>,
    /// The config blob, `{}`.
    pub config: Config,
    /// The module, the one layer.
    pub layer: ImageLayer,
}

/// The artifact for `module`, with the manifest annotations of `metadata`.
pub fn build(module: Vec<u8>, metadata: Option<&Metadata>) -> anyhow::Result<Artifact> {
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_owned(), None);
    let layer = ImageLayer::new(module, WASM_LAYER_MEDIA_TYPE.to_owned(), None);
    let annotations = manifest_annotations(metadata.and_then(|m| m.annotations.as_ref()));
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, annotations);
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    Ok(Artifact {
        manifest,
        manifest_bytes,
        config,
        layer,
    })
}

/// Pushes `artifact` to `reference`; returns the manifest digest.
pub fn push(
    registry: &Registry,
    reference: &Reference,
    artifact: &Artifact,
) -> anyhow::Result<String> {
    let client = registry.client()?;
    let auth = registry.auth_for(reference);
    let failed = |e: oci_client::errors::OciDistributionError| {
        anyhow::anyhow!(
            "cannot push to {}: {}",
            repository_uri(reference),
            registry.describe_error(&e, reference, "push")
        )
    };
    registry.block_on(async {
        client
            .store_auth_if_needed(reference.resolve_registry(), &auth)
            .await;
        client
            .push_blob(
                reference,
                artifact.layer.data.clone(),
                &artifact.manifest.layers[0].digest,
            )
            .await
            .map_err(failed)?;
        client
            .push_blob(
                reference,
                artifact.config.data.clone(),
                &artifact.manifest.config.digest,
            )
            .await
            .map_err(failed)?;
        let content_type = OCI_IMAGE_MEDIA_TYPE
            .parse()
            .context("the manifest media type is not a header value")?;
        client
            .push_manifest_raw(reference, artifact.manifest_bytes.clone(), content_type)
            .await
            .map_err(failed)?;
        anyhow::Ok(())
    })??;
    Ok(sha256_digest(&artifact.manifest_bytes))
}

/// Checks that `body` is a Kubewarden policy manifest; returns it.
pub fn check_manifest(body: &[u8], what: &str) -> anyhow::Result<OciImageManifest> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("{what}: the manifest is not JSON: {e}"))?;
    let media_type = value.get("mediaType").and_then(serde_json::Value::as_str);
    if value.get("manifests").is_some()
        || matches!(media_type, Some(t) if t == OCI_IMAGE_INDEX_MEDIA_TYPE || t == IMAGE_MANIFEST_LIST_MEDIA_TYPE)
    {
        anyhow::bail!(
            "{what} is an image index, not a Kubewarden policy: a policy artifact is one \
             manifest with a {WASM_LAYER_MEDIA_TYPE} layer"
        );
    }
    let manifest: OciImageManifest = serde_json::from_value(value)
        .map_err(|e| anyhow::anyhow!("{what}: not an OCI image manifest: {e}"))?;
    if manifest.layers.is_empty() {
        anyhow::bail!(
            "{what} has no layers, not a Kubewarden policy: a policy artifact has a \
             {WASM_LAYER_MEDIA_TYPE} layer"
        );
    }
    if let Some((index, layer)) = manifest
        .layers
        .iter()
        .enumerate()
        .find(|(_, layer)| layer.media_type != WASM_LAYER_MEDIA_TYPE)
    {
        anyhow::bail!(
            "{what} is not a Kubewarden policy: layer {index} has media type {:?}, not \
             {WASM_LAYER_MEDIA_TYPE}",
            layer.media_type
        );
    }
    Ok(manifest)
}

/// Checks the module bytes against the layer descriptor: size, digest,
/// `\0asm` magic.
pub fn check_layer(layer: &OciDescriptor, bytes: &[u8], what: &str) -> anyhow::Result<()> {
    let digest = sha256_digest(bytes);
    if i64::try_from(bytes.len()).ok() != Some(layer.size) || digest != layer.digest {
        anyhow::bail!(
            "{what}: the wasm layer does not match its manifest: expected {} ({} bytes), got \
             {digest} ({} bytes)",
            layer.digest,
            layer.size,
            bytes.len()
        );
    }
    if !bytes.starts_with(WASM_MAGIC) {
        anyhow::bail!(
            "{what}: the wasm layer is not a WebAssembly module (it does not start with the \
             \\0asm magic bytes)"
        );
    }
    Ok(())
}

/// A pulled policy.
#[derive(Debug)]
pub struct Pulled {
    /// The artifact pinned: `registry://HOST/REPO@sha256:…`.
    pub immutable_ref: String,
    /// The digest of the module (the layer).
    pub layer_digest: String,
    /// The module.
    pub module: Vec<u8>,
    /// Where the module is in the cache.
    pub path: PathBuf,
    /// Whether the module came from the cache rather than the registry.
    pub from_cache: bool,
}

/// Where pulled policies are kept (see the module documentation).
pub fn cache_root() -> anyhow::Result<PathBuf> {
    files::cache_root()
        .map(|root| root.join("policies"))
        .context(
            "no cache directory for pulled policies: set IMAGEGATE_CACHE_DIR, XDG_CACHE_HOME or HOME",
        )
}

/// The cache entry of manifest `digest` of `reference`'s repository.
pub fn entry_dir(root: &Path, reference: &Reference, digest: &str) -> PathBuf {
    let mut dir = root.join(reference.registry());
    for part in reference.repository().split('/') {
        dir.push(part);
    }
    dir.join(digest.replace(':', "-"))
}

/// The module of a valid cache entry for manifest `digest`, if there is one.
fn from_cache(dir: &Path, digest: &str, what: &str) -> Option<(OciDescriptor, Vec<u8>)> {
    let body = std::fs::read(dir.join("manifest.json")).ok()?;
    if sha256_digest(&body) != digest {
        return None;
    }
    let manifest = check_manifest(&body, what).ok()?;
    let layer = manifest.layers.into_iter().next()?;
    let module = std::fs::read(dir.join("policy.wasm")).ok()?;
    check_layer(&layer, &module, what).ok()?;
    Some((layer, module))
}

/// The policy `uri` names, from the cache under `root` or pulled into it.
pub fn pull_cached(registry: &Registry, uri: &str, root: &Path) -> anyhow::Result<Pulled> {
    let reference = parse_uri(uri, false)?;
    let what = format!("policy {uri}");
    let client = registry.client()?;
    let auth = registry.auth_for(&reference);
    let failed = |e: oci_client::errors::OciDistributionError| {
        anyhow::anyhow!(
            "cannot pull {uri}: {}",
            registry.describe_error(&e, &reference, "pull")
        )
    };

    // A digest reference already in the cache needs no network.
    if let Some(digest) = reference.digest() {
        let dir = entry_dir(root, &reference, digest);
        if let Some((layer, module)) = from_cache(&dir, digest, &what) {
            return Ok(Pulled {
                immutable_ref: format!("{}@{digest}", repository_uri(&reference)),
                layer_digest: layer.digest,
                module,
                path: dir.join("policy.wasm"),
                from_cache: true,
            });
        }
    }

    let (body, digest) = registry
        .block_on(async {
            client
                .store_auth_if_needed(reference.resolve_registry(), &auth)
                .await;
            client
                .pull_manifest_raw(&reference, &auth, ACCEPTED_MANIFESTS)
                .await
        })?
        .map_err(failed)?;
    let manifest = check_manifest(&body, &what)?;
    let dir = entry_dir(root, &reference, &digest);
    let immutable_ref = format!("{}@{digest}", repository_uri(&reference));
    let layer = &manifest.layers[0];
    if let Ok(module) = std::fs::read(dir.join("policy.wasm"))
        && check_layer(layer, &module, &what).is_ok()
        && std::fs::read(dir.join("manifest.json")).is_ok_and(|cached| cached == body)
    {
        return Ok(Pulled {
            immutable_ref,
            layer_digest: layer.digest.clone(),
            module,
            path: dir.join("policy.wasm"),
            from_cache: true,
        });
    }

    let mut module = Vec::new();
    registry
        .block_on(client.pull_blob(&reference, layer, &mut module))?
        .map_err(failed)?;
    check_layer(layer, &module, &what)?;
    write_atomically(&dir.join("policy.wasm"), &module)?;
    write_atomically(&dir.join("manifest.json"), &body)?;
    Ok(Pulled {
        immutable_ref,
        layer_digest: layer.digest.clone(),
        module,
        path: dir.join("policy.wasm"),
        from_cache: false,
    })
}

/// The module bytes for `--policy registry://…`, through the cache.
pub fn pull_for_policy(registry: &Registry, uri: &str) -> anyhow::Result<Vec<u8>> {
    Ok(pull_cached(registry, uri, &cache_root()?)?.module)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn manifest_annotations_are_kwctls() {
        let got = manifest_annotations(Some(&annotations(&[
            ("io.kubewarden.policy.title", " imagegate \n"),
            ("io.kubewarden.policy.usage", "# README\n\nlong text"),
            (POLICY_SOURCE_ANNOTATION, "https://example.com/src"),
        ])));
        assert_eq!(
            got,
            Some(annotations(&[
                ("io.kubewarden.policy.title", "imagegate"),
                (POLICY_SOURCE_ANNOTATION, "https://example.com/src"),
                (OCI_SOURCE_ANNOTATION, "https://example.com/src"),
            ]))
        );
        let own_source = manifest_annotations(Some(&annotations(&[
            (POLICY_SOURCE_ANNOTATION, "a"),
            (OCI_SOURCE_ANNOTATION, "b"),
        ])))
        .unwrap();
        assert_eq!(own_source[OCI_SOURCE_ANNOTATION], "b");
        assert_eq!(manifest_annotations(None), None);
    }

    #[test]
    fn built_manifest_is_the_kubewarden_layout() {
        let artifact = build(b"\0asm\x01\0\0\0".to_vec(), None).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&artifact.manifest_bytes).unwrap();
        assert_eq!(json["schemaVersion"], 2);
        assert!(json.get("mediaType").is_none(), "{json}");
        assert_eq!(json["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
        assert_eq!(json["config"]["size"], 2);
        assert_eq!(json["config"]["digest"], sha256_digest(b"{}"));
        assert_eq!(json["layers"].as_array().unwrap().len(), 1);
        assert_eq!(json["layers"][0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["size"], 8);
        assert!(json.get("annotations").is_none());
        // What is pushed is what pull accepts.
        let manifest = check_manifest(&artifact.manifest_bytes, "p").unwrap();
        check_layer(&manifest.layers[0], b"\0asm\x01\0\0\0", "p").unwrap();
    }

    #[test]
    fn foreign_manifests_are_refused_by_name() {
        let error = |body: &str| {
            check_manifest(body.as_bytes(), "policy X")
                .unwrap_err()
                .to_string()
        };
        assert!(error("nope").starts_with("policy X: the manifest is not JSON"));
        assert!(
            error(r#"{"schemaVersion":2,"manifests":[]}"#).contains("is an image index"),
            "index"
        );
        let config = r#"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2}"#;
        assert!(
            error(&format!(
                r#"{{"schemaVersion":2,"config":{config},"layers":[]}}"#
            ))
            .contains("has no layers")
        );
        let tar = format!(
            r#"{{"schemaVersion":2,"config":{config},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:00","size":1}}]}}"#
        );
        assert_eq!(
            error(&tar),
            "policy X is not a Kubewarden policy: layer 0 has media type \
             \"application/vnd.oci.image.layer.v1.tar+gzip\", not \
             application/vnd.wasm.content.layer.v1+wasm"
        );
    }

    #[test]
    fn layers_are_checked_for_digest_size_and_magic() {
        let good = b"\0asm\x01\0\0\0";
        let layer = OciDescriptor {
            media_type: WASM_LAYER_MEDIA_TYPE.into(),
            digest: sha256_digest(good),
            size: 8,
            ..OciDescriptor::default()
        };
        assert!(check_layer(&layer, good, "p").is_ok());
        let corrupted = b"\0asm\x01\0\0\x01";
        assert!(
            check_layer(&layer, corrupted, "p")
                .unwrap_err()
                .to_string()
                .contains("does not match its manifest")
        );
        let text = b"not wasm";
        let text_layer = OciDescriptor {
            digest: sha256_digest(text),
            size: 8,
            ..layer
        };
        assert!(
            check_layer(&text_layer, text, "p")
                .unwrap_err()
                .to_string()
                .contains("not a WebAssembly module")
        );
    }

    #[test]
    fn references_and_cache_entries() {
        assert!(parse_uri("registry://127.0.0.1:5000/p/imagegate:v1", false).is_ok());
        assert!(parse_uri("127.0.0.1:5000/p/imagegate:v1", false).is_err());
        assert!(parse_uri("127.0.0.1:5000/p/imagegate:v1", true).is_ok());
        assert!(parse_uri("https://x/y", true).is_err());
        let r = parse_uri("registry://127.0.0.1:5000/p/imagegate:v1", false).unwrap();
        assert_eq!(repository_uri(&r), "registry://127.0.0.1:5000/p/imagegate");
        assert_eq!(
            entry_dir(Path::new("/c"), &r, "sha256:ab"),
            Path::new("/c/127.0.0.1:5000/p/imagegate/sha256-ab")
        );
    }
}
