//! Tag → digest against real registries: imagegate's answer to
//! `kubewarden/oci/v1/manifest_digest` (kubewarden-abi.md §2.1), and the
//! manifest and image configuration lookups `kubewarden/oci/v1/oci_manifest`
//! and `v1/oci_manifest_config` (the `imageMetadata` rule).
//!
//! The manifest lookups answer what Kubewarden's policy-evaluator answers
//! (`callback_handler/oci.rs`, through policy-fetcher's `Registry`):
//! `oci_manifest` is oci-client's `pull_manifest` serialized, an image
//! manifest or an index as the registry serves it; `oci_manifest_config` is
//! `{"manifest", "digest", "config"}` from `pull_manifest_and_config`, with
//! the configuration as a JSON value. For an index, `pull_manifest_and_config`
//! picks the `linux/amd64` manifest here, where Kubewarden picks the platform
//! policy-server runs on; imagegate's policy never relies on that choice (it
//! picks `linux/amd64` from the index itself and asks by digest).
//! `kubewarden/oci/v2/verify` (Sigstore signatures) is answered by
//! [`crate::verify`] with this client's digest lookups, credentials and time
//! limit.
//!
//! The lookup is what Kubewarden's policy-server does: oci-client's
//! `fetch_manifest_digest`, a `HEAD /v2/<repository>/manifests/<tag>` with the
//! OCI and Docker manifest *and* index media types in `Accept`, answered with
//! the registry's `Docker-Content-Digest` (or, when a registry leaves that
//! header out, the sha256 of the manifest a `GET` returns). A multi-arch tag
//! therefore resolves to the digest of its index, the digest a runtime pulls
//! on every platform. Docker Hub (`docker.io`) is contacted as
//! `index.docker.io`, as the client does.
//!
//! * **Transport:** HTTPS, with the system's trusted CAs; plain HTTP only for
//!   the registries named with `--insecure-registry HOST[:PORT]`, matched
//!   exactly against the registry part of the image (`127.0.0.1:5000`).
//! * **Credentials:** anonymous, or basic auth from a Docker `config.json`
//!   ([`crate::docker_config`]); a registry that answers with a bearer-token
//!   challenge (Docker Hub, ghcr.io, Harbor) gets the credentials at its token
//!   endpoint, as the client does it.
//! * **Time:** each lookup has its own limit (`--lookup-timeout-ms`), on the
//!   connection, every read, and the whole exchange. The time the guest waits
//!   on a lookup does not count against the guest's own time limit (see
//!   `crate::runtime`).
//! * **Errors** are one line that names the registry and the reason:
//!   `registry 127.0.0.1:5000: connection refused`,
//!   `registry 127.0.0.1:5000: manifest unknown (MANIFEST_UNKNOWN)`,
//!   `registry 127.0.0.1:5000: timeout after 5000ms`,
//!   `registry 127.0.0.1:5000: unauthorized: the registry refused an
//!   anonymous pull (…)`. The policy puts them into its verdict.
//!
//! The client is async (reqwest); the waPC callback is not. One
//! current-thread tokio runtime, made with the provider, runs each lookup to
//! completion inside the callback (`block_on`), so the guest sees an ordinary
//! blocking host call.

use std::error::Error as _;
use std::net::Ipv6Addr;
use std::sync::OnceLock;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::errors::{OciDistributionError, OciError};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::capabilities::{Capability, CapabilityProvider, OciOperation};
use crate::docker_config::DockerConfig;
use crate::recorded::{digest_answer, image_of};
use crate::verify::{SignatureOptions, Signatures};

/// Default limit of one lookup, in milliseconds.
pub const DEFAULT_LOOKUP_TIMEOUT_MS: u64 = 5000;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Limit of one lookup.
    pub timeout: Duration,
    /// Credentials, when a `config.json` was found.
    pub credentials: Option<DockerConfig>,
    /// Signature verification (`oci/v2/verify`): trust root and cache.
    pub signatures: SignatureOptions,
}

/// Answers `oci/v1/manifest_digest` from registries.
///
/// The HTTP client and its runtime are made on the first request: making
/// them reads every system CA certificate (a few milliseconds), which an
/// evaluation that looks nothing up should not pay.
pub struct Registry {
    connection: OnceLock<Result<Connection, String>>,
    timeout: Duration,
    insecure: Vec<String>,
    credentials: Option<DockerConfig>,
    signatures: Signatures,
}

/// The client and the runtime that drives it.
struct Connection {
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl Registry {
    /// A client for `options`. Nothing is connected until the first
    /// request; the Sigstore trust root, if any, is read now (its errors
    /// name the file).
    pub fn new(options: RegistryOptions) -> Result<Registry, String> {
        let signatures = Signatures::new(&options.signatures, &options.insecure)?;
        Ok(Registry {
            connection: OnceLock::new(),
            timeout: options.timeout,
            insecure: options.insecure,
            credentials: options.credentials,
            signatures,
        })
    }

    /// The signature verifier (its cache counters, for `serve`'s metrics).
    pub fn signatures(&self) -> &Signatures {
        &self.signatures
    }

    /// Makes the client and its runtime now, if not made yet.
    pub fn connected(&self) -> Result<(), String> {
        self.connection().map(|_| ())
    }

    /// Runs `work` (a future of another client: the Sigstore one) on this
    /// client's runtime within the lookup limit; an error names the
    /// registry, as lookups' errors do.
    pub fn within_limit<T>(
        &self,
        reference: &Reference,
        work: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let registry = reference.resolve_registry();
        let answer = self
            .connection()?
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, work).await });
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!("registry {registry}: {}", one_line(&error))),
            Err(_elapsed) => Err(format!("registry {registry}: {}", self.timed_out())),
        }
    }

    /// The client and runtime, made on first use; fails only when the HTTP
    /// client or the runtime cannot be made.
    fn connection(&self) -> Result<&Connection, String> {
        self.connection
            .get_or_init(|| self.connect())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn connect(&self) -> Result<Connection, String> {
        // reqwest is built without a default crypto provider (no aws-lc-rs,
        // see Cargo.toml); it uses the process default, which is ring. An
        // error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the registry client's runtime: {e}"))?;
        let config = ClientConfig {
            protocol: if self.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(self.insecure.clone())
            },
            connect_timeout: Some(self.timeout),
            read_timeout: Some(self.timeout),
            // Digest lookups never pick a platform; `oci_manifest_config` on
            // an index takes its linux/amd64 manifest (see the module docs).
            platform_resolver: Some(Box::new(linux_amd64_resolver)),
            user_agent: concat!("imagegate/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot create the registry client: {e}"))?;
        Ok(Connection { client, runtime })
    }

    /// The digest the registry serves for `image` (`registry/path:tag`).
    pub fn manifest_digest(&self, image: &str) -> Result<String, String> {
        let (reference, auth) = self.prepare(image)?;
        let client = &self.connection()?.client;
        self.finish(&reference, client.fetch_manifest_digest(&reference, &auth))
    }

    /// The manifest (image manifest or index) the registry serves for
    /// `image`, as the JSON `kubewarden/oci/v1/oci_manifest` answers.
    pub fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, String> {
        let (reference, auth) = self.prepare(image)?;
        let client = &self.connection()?.client;
        let (manifest, _digest) =
            self.finish(&reference, client.pull_manifest(&reference, &auth))?;
        serde_json::to_vec(&manifest).map_err(|e| format!("cannot write the manifest: {e}"))
    }

    /// The image manifest, its digest and the image configuration of
    /// `image` (an index's linux/amd64 manifest), as the JSON
    /// `kubewarden/oci/v1/oci_manifest_config` answers.
    pub fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, String> {
        let (reference, auth) = self.prepare(image)?;
        let client = &self.connection()?.client;
        let (manifest, digest, config) = self.finish(
            &reference,
            client.pull_manifest_and_config(&reference, &auth),
        )?;
        let config: serde_json::Value = serde_json::from_str(&config).map_err(|e| {
            format!(
                "registry {}: the image configuration is not JSON: {e}",
                reference.resolve_registry()
            )
        })?;
        serde_json::to_vec(&serde_json::json!({
            "manifest": manifest,
            "digest": digest,
            "config": config,
        }))
        .map_err(|e| format!("cannot write the manifest and configuration: {e}"))
    }

    /// The reference and the credentials for `image`.
    fn prepare(&self, image: &str) -> Result<(Reference, RegistryAuth), String> {
        let reference = parse_reference(image)?;
        let auth = match self
            .credentials
            .as_ref()
            .and_then(|c| c.basic_auth(reference.registry()))
        {
            Some(basic) => RegistryAuth::Basic(basic.username.clone(), basic.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok((reference, auth))
    }

    /// Runs one lookup within the time limit; an error names the registry.
    fn finish<T>(
        &self,
        reference: &Reference,
        lookup: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, String> {
        let registry = reference.resolve_registry();
        let answer = self
            .connection()?
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, lookup).await });
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!(
                "registry {registry}: {}",
                self.reason(&error, reference)
            )),
            Err(_elapsed) => Err(format!("registry {registry}: {}", self.timed_out())),
        }
    }

    fn timed_out(&self) -> String {
        format!("timeout after {}ms", self.timeout.as_millis())
    }

    /// The reason a lookup failed, in a few words.
    fn reason(&self, error: &OciDistributionError, reference: &Reference) -> String {
        match error {
            OciDistributionError::UnauthorizedError { .. } => format!(
                "unauthorized: the registry refused the pull {}",
                self.how_authenticated(reference)
            ),
            OciDistributionError::AuthenticationFailure(message) => {
                format!("authentication failed: {message}")
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let errors: Vec<String> = envelope.errors.iter().map(oci_error).collect();
                if errors.is_empty() {
                    "the registry answered with an empty error list".into()
                } else {
                    errors.join("; ")
                }
            }
            OciDistributionError::ServerError { code, message, .. } => {
                http_status(*code, message, &self.how_authenticated(reference))
            }
            OciDistributionError::RequestError(error) => {
                self.request_error(error, reference.resolve_registry())
            }
            other => one_line(&other.to_string()),
        }
    }

    /// `as user "alice" from FILE`, or why the pull was anonymous.
    fn how_authenticated(&self, reference: &Reference) -> String {
        match &self.credentials {
            Some(config) => config.how_pulled(reference.registry()),
            None => "anonymously: no docker config.json found (pass --docker-config FILE or \
                     set DOCKER_CONFIG)"
                .into(),
        }
    }

    /// Connection-level failures: refused, timed out, DNS, TLS.
    fn request_error(&self, error: &reqwest::Error, registry: &str) -> String {
        if error.is_timeout() {
            return self.timed_out();
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
        let mut innermost = None;
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                    std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                    std::io::ErrorKind::TimedOut => return self.timed_out(),
                    _ => {}
                }
            }
            if let Some(tls) = tls_error(cause) {
                let hint = if self.insecure.iter().any(|r| r == registry) {
                    String::new()
                } else {
                    format!(
                        "; if it serves plain HTTP, name it with --insecure-registry {registry}"
                    )
                };
                return format!("TLS failed: {tls}{hint}");
            }
            innermost = Some(cause);
            source = cause.source();
        }
        let what = if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        match innermost {
            Some(cause) => format!("{what}: {}", one_line(&cause.to_string())),
            None => format!("{what}: {}", one_line(&error.to_string())),
        }
    }
}

/// What `push`, `pull` and `--policy registry://…` (`crate::artifact`)
/// reuse: the same client, credentials and error wording as the lookups.
impl Registry {
    /// Runs `future` (a request of [`Registry::client`], which has made
    /// the connection) to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> anyhow::Result<F::Output> {
        Ok(self
            .connection()
            .map_err(anyhow::Error::msg)?
            .runtime
            .block_on(future))
    }

    /// The client, connected on first use.
    pub fn client(&self) -> anyhow::Result<&Client> {
        Ok(&self.connection().map_err(anyhow::Error::msg)?.client)
    }

    /// The credentials for `reference`'s registry: basic auth from the
    /// config.json, else anonymous.
    pub fn auth_for(&self, reference: &Reference) -> RegistryAuth {
        match self
            .credentials
            .as_ref()
            .and_then(|c| c.basic_auth(reference.registry()))
        {
            Some(basic) => RegistryAuth::Basic(basic.username.clone(), basic.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// `registry HOST: <reason>`, the reason worded as for lookups;
    /// `action` (`push`, `pull`) names what an unauthorized answer refused.
    pub fn describe_error(
        &self,
        error: &OciDistributionError,
        reference: &Reference,
        action: &str,
    ) -> String {
        let registry = reference.resolve_registry();
        let reason = match error {
            OciDistributionError::UnauthorizedError { .. } => format!(
                "unauthorized: the registry refused the {action} {}",
                self.how_authenticated(reference)
            ),
            other => self.reason(other, reference),
        };
        format!("registry {registry}: {reason}")
    }
}

impl CapabilityProvider for Registry {
    fn call(&self, capability: Capability, payload: &[u8]) -> Result<Vec<u8>, String> {
        match capability {
            Capability::Oci(OciOperation::ManifestDigest) => {
                let image = image_of(capability, payload)?;
                self.manifest_digest(&image).map(|d| digest_answer(&d))
            }
            Capability::Oci(OciOperation::Manifest) => {
                self.oci_manifest(&image_of(capability, payload)?)
            }
            Capability::Oci(OciOperation::ManifestConfig) => {
                self.oci_manifest_config(&image_of(capability, payload)?)
            }
            Capability::Oci(OciOperation::VerifyV2) => self.signatures.verify(self, payload),
            other => Err(format!(
                "host capability {other} is not implemented in this version of imagegate"
            )),
        }
    }
}

/// The rustls error behind `cause`, looking through the io::Errors that
/// wrap it (an io::Error hides the error it wraps from `source()`).
fn tls_error<'e>(cause: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current = cause;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = current.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// `manifest unknown (MANIFEST_UNKNOWN)`.
fn oci_error(error: &OciError) -> String {
    let code = serde_json::to_value(&error.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", error.code));
    if error.message.is_empty() {
        code
    } else {
        format!("{} ({code})", one_line(&error.message))
    }
}

/// `HTTP 503 Service Unavailable: <first line of the body>`.
fn http_status(code: u16, body: &str, how: &str) -> String {
    let reason = reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let body = one_line(body);
    let mut text = format!("HTTP {code}{reason}");
    if code == 403 {
        text.push_str(&format!(": the registry refused the pull {how}"));
    }
    if !body.is_empty() {
        let cut: String = body.chars().take(200).collect();
        text.push_str(": ");
        text.push_str(&cut);
    }
    text
}

/// Keeps a message on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the image a policy asks about. oci-client's parser implements the
/// reference grammar from before bracketed IPv6 hosts were allowed, so
/// `[::1]:5000/app:1` is split here: the host checked as an IPv6 address
/// (and port), the rest parsed by the client's grammar.
pub fn parse_reference(image: &str) -> Result<Reference, String> {
    let invalid =
        |e: &dyn std::fmt::Display| format!("cannot read {image:?} as an image reference: {e}");
    if !image.starts_with('[') {
        return Reference::try_from(image).map_err(|e| invalid(&e));
    }
    let (host, remainder) = image
        .split_once('/')
        .ok_or_else(|| invalid(&"an IPv6 registry needs a repository after it"))?;
    let (address, port) = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .ok_or_else(|| invalid(&"unclosed [ in the registry"))?;
    if address.parse::<Ipv6Addr>().is_err() {
        return Err(invalid(&format!("{address:?} is not an IPv6 address")));
    }
    if !port.is_empty()
        && !port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(&format!(
            "bad port {port:?} after the IPv6 address"
        )));
    }
    // Any domain with a dot works as a stand-in: the grammar then takes the
    // whole remainder as the repository path.
    let rest = Reference::try_from(format!("ipv6.invalid/{remainder}")).map_err(|e| invalid(&e))?;
    let registry = host.to_owned();
    let repository = rest.repository().to_owned();
    Ok(match (rest.tag(), rest.digest()) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.into(), digest.into())
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest.into()),
        (tag, None) => Reference::with_tag(registry, repository, tag.unwrap_or("latest").into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn parts(image: &str) -> (String, String, String, Option<String>, Option<String>) {
        let r = parse_reference(image).unwrap_or_else(|e| panic!("{e}"));
        (
            r.registry().to_owned(),
            r.resolve_registry().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(str::to_owned),
        )
    }

    #[test]
    fn normalized_names_parse_and_docker_hub_is_index_docker_io() {
        assert_eq!(
            parts("docker.io/library/nginx:1.27"),
            (
                "docker.io".into(),
                "index.docker.io".into(),
                "library/nginx".into(),
                Some("1.27".into()),
                None
            )
        );
        assert_eq!(
            parts("127.0.0.1:5000/team/app:v1"),
            (
                "127.0.0.1:5000".into(),
                "127.0.0.1:5000".into(),
                "team/app".into(),
                Some("v1".into()),
                None
            )
        );
        assert_eq!(parts("busybox").3, Some("latest".into()));
    }

    #[test]
    fn bracketed_ipv6_registries_are_read() {
        assert_eq!(
            parts("[::1]:5000/team/app:v1"),
            (
                "[::1]:5000".into(),
                "[::1]:5000".into(),
                "team/app".into(),
                Some("v1".into()),
                None
            )
        );
        assert_eq!(parts("[fd00::2]/app").3, Some("latest".into()));
        let pinned = parts(&format!("[::1]:5000/app:1@{D}"));
        assert_eq!((pinned.3, pinned.4), (Some("1".into()), Some(D.into())));
        assert_eq!(parts(&format!("[::1]/app@{D}")).4, Some(D.into()));
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let error = |image: &str| parse_reference(image).expect_err("refused");
        assert_eq!(
            error("[::1]:5000"),
            "cannot read \"[::1]:5000\" as an image reference: an IPv6 registry needs a \
             repository after it"
        );
        assert!(error("[nope]:5000/app").ends_with("\"nope\" is not an IPv6 address"));
        assert!(error("[::1]:50x/app").ends_with("bad port \":50x\" after the IPv6 address"));
        assert!(error("[::1/app").ends_with("unclosed [ in the registry"));
        assert!(error("UPPER/Case:1").starts_with("cannot read \"UPPER/Case:1\""));
    }

    #[test]
    fn status_lines_are_short() {
        assert_eq!(
            http_status(503, "<html>\n down \n</html>", ""),
            "HTTP 503 Service Unavailable: <html> down </html>"
        );
        assert_eq!(
            http_status(403, "", "anonymously: x"),
            "HTTP 403 Forbidden: the registry refused the pull anonymously: x"
        );
    }
}
