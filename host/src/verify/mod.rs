//! Sigstore/cosign signatures: imagegate's answer to
//! `kubewarden/oci/v2/verify`, as Kubewarden's policy-evaluator answers it
//! (DEVELOPMENT.md "ABI notes: v2/verify").
//!
//! One verification:
//!
//! 1. the request is read and every key, certificate and identity in it
//!    checked ([`request`]), before anything is fetched;
//! 2. the image's digest: the one written (`…@sha256:…`), else the one the
//!    registry serves for the tag now (the same `HEAD` as
//!    `oci/v1/manifest_digest`);
//! 3. with `serve`'s cache ([`cache`]), a success for the same
//!    repository@digest and requirement less than the TTL ago answers at once;
//! 4. the sigstore crate's cosign client fetches the signature layers of that
//!    digest (`<repository>:sha256-<hex>.sig`, and OCI referrers), keeping
//!    only layers whose simple-signing payload names that digest; layers
//!    carrying a Fulcio certificate count as keyless signatures only when the
//!    certificate chains to the trust root's Fulcio CAs and has a Rekor
//!    bundle signed by one of its Rekor keys (`--sigstore-trust-config`);
//! 5. every signer must have signed at least one layer that carries every
//!    requested annotation.
//!
//! The answer is `{"is_trusted": true, "digest": "<the verified digest>"}`;
//! anything else is an error the policy reads, one line saying what is
//! missing (policy-evaluator answers failures as errors too). The whole
//! verification has the lookup time limit (`--lookup-timeout-ms`).
//!
//! The cosign client's registry client is the crate's own oci-client,
//! configured with the same plain-HTTP registries (`--insecure-registry`)
//! and given the same credentials (`--docker-config`) as digest lookups.

pub mod cache;
pub mod request;
pub mod trust_root;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sigstore::cosign::{self, ClientBuilder, CosignCapabilities, SignatureLayer};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

use crate::registry::{Registry, parse_reference};
use cache::{CacheStats, VerificationCache};
use request::{Requirement, VerifyRequest};
use trust_root::TrustRootFile;

/// How signatures are verified: the trust root for keyless signatures, and
/// (in `serve`) the cache.
#[derive(Debug, Clone, Default)]
pub struct SignatureOptions {
    /// `--sigstore-trust-config FILE`.
    pub trust_root: Option<PathBuf>,
    /// `serve`'s cache: time to keep a success and the number kept.
    pub cache: Option<(Duration, usize)>,
}

/// Verifies signatures for a [`Registry`].
pub struct Signatures {
    trust_root: Option<TrustRootFile>,
    insecure: Vec<String>,
    /// Idle cosign clients; one is taken per verification (the client's
    /// methods take `&mut self`), so verifications run side by side.
    clients: Mutex<Vec<cosign::Client>>,
    cache: Option<VerificationCache>,
}

impl Signatures {
    /// Reads the trust root now, so a bad file stops the command before
    /// anything runs.
    pub fn new(options: &SignatureOptions, insecure: &[String]) -> Result<Signatures, String> {
        let trust_root = options
            .trust_root
            .as_deref()
            .map(TrustRootFile::load)
            .transpose()?;
        Ok(Signatures {
            trust_root,
            insecure: insecure.to_vec(),
            clients: Mutex::new(Vec::new()),
            cache: options
                .cache
                .map(|(ttl, capacity)| VerificationCache::new(ttl, capacity)),
        })
    }

    /// The cache's counters, when there is a cache.
    pub fn cache_stats(&self) -> Option<Arc<CacheStats>> {
        self.cache.as_ref().map(VerificationCache::stats)
    }

    /// Answers one `v2/verify` call.
    pub fn verify(&self, registry: &Registry, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request = VerifyRequest::parse(payload)?;
        let answer = self.verified_digest(registry, &request);
        if answer.is_err()
            && let Some(cache) = &self.cache
        {
            cache.record_failure();
        }
        let digest = answer?;
        serde_json::to_vec(&serde_json::json!({"is_trusted": true, "digest": digest}))
            .map_err(|e| format!("cannot write the verification answer: {e}"))
    }

    /// The digest whose signatures satisfy `request`.
    fn verified_digest(
        &self,
        registry: &Registry,
        request: &VerifyRequest,
    ) -> Result<String, String> {
        let requirements = request.requirements()?;
        let keyless = matches!(
            request,
            VerifyRequest::SigstoreKeylessVerify { .. }
                | VerifyRequest::SigstoreKeylessPrefixVerify { .. }
                | VerifyRequest::SigstoreGithubActionsVerify { .. }
        );
        if keyless && self.trust_root.is_none() {
            return Err(
                "keyless signatures cannot be verified: imagegate has no Sigstore trust root \
                 (start it with --sigstore-trust-config FILE, a trusted_root.json)"
                    .into(),
            );
        }
        let image = request.image();
        let reference = parse_reference(image)?;
        let digest = match reference.digest() {
            Some(digest) => digest.to_owned(),
            None => registry.manifest_digest(image)?,
        };
        let pinned = OciReference::with_digest(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            digest.clone(),
        );
        let cache_key = (pinned.to_string(), request.requirement_key());
        if let Some(cache) = &self.cache
            && cache.lookup(&cache_key, Instant::now())
        {
            return Ok(digest);
        }

        let layers = self.signature_layers(registry, &reference, &pinned)?;
        if layers.is_empty() {
            return Err(self.why_no_layers(registry, &pinned, &digest));
        }
        let missing: Vec<String> = requirements
            .iter()
            .filter_map(|r: &Requirement| r.check(&layers).err())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{pinned} is not signed as required: {}",
                missing.join("; ")
            ));
        }
        if let Some(cache) = &self.cache {
            cache.insert(cache_key, Instant::now());
        }
        Ok(digest)
    }

    /// The trusted signature layers of `pinned`, within the lookup limit.
    fn signature_layers(
        &self,
        registry: &Registry,
        reference: &oci_client::Reference,
        pinned: &OciReference,
    ) -> Result<Vec<SignatureLayer>, String> {
        let auth = Auth::from(&registry.auth_for(reference));
        registry.connected()?;
        let mut client = self.client()?;
        let layers = registry.within_limit(reference, async {
            client
                .trusted_signature_layers(&auth, pinned)
                .await
                .map_err(|e| e.to_string())
        })?;
        // A client whose verification timed out is dropped with its future;
        // one that finished goes back for the next verification.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(client);
        Ok(layers)
    }

    /// An idle cosign client, or a new one. The caller has made the
    /// registry's connection first, which installs the TLS provider the
    /// client's oci-client uses.
    fn client(&self) -> Result<cosign::Client, String> {
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
        {
            return Ok(client);
        }
        let config = ClientConfig {
            protocol: if self.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(self.insecure.clone())
            },
            ..ClientConfig::default()
        };
        let builder = ClientBuilder::default().with_oci_client_config(config);
        let builder = match &self.trust_root {
            Some(root) => builder
                .with_trust_repository(&root.root)
                .map_err(|e| format!("the Sigstore trust root cannot be used: {e}"))?,
            None => builder,
        };
        builder
            .build()
            .map_err(|e| format!("cannot create the Sigstore client: {e}"))
    }

    /// Why `pinned` has no trusted signature layer: no `.sig` at all, or
    /// only signatures of something else.
    fn why_no_layers(&self, registry: &Registry, pinned: &OciReference, digest: &str) -> String {
        let sig_tag = format!("{}.sig", digest.replace(':', "-"));
        let sig_image = format!("{}/{}:{sig_tag}", pinned.registry(), pinned.repository());
        match registry.manifest_digest(&sig_image) {
            Ok(_) => format!(
                "no valid signature of {pinned}: {sig_image} holds no signature of this digest \
                 that can be read (each names another digest, is malformed, or has a Rekor \
                 bundle that no key of the trust root signed)"
            ),
            Err(e) if e.contains("MANIFEST_UNKNOWN") || e.contains("HTTP 404") => {
                format!("no signatures found for {pinned}: the registry has no {sig_image}")
            }
            Err(e) => format!("no signatures found for {pinned}: {e}"),
        }
    }
}
