//! Host capabilities: what the policy asks the host for through
//! `__host_call(binding, namespace, operation, payload)` (kubewarden-abi.md §2).
//!
//! Two steps, as in Kubewarden's `host_callback` (policy-evaluator
//! `src/runtimes/callback.rs`): [`Capability::parse`] names the capability or
//! answers `unknown binding|namespace|operation: X` with Kubewarden's words;
//! then a [`CapabilityProvider`] answers it. `kubewarden/tracing/log` is
//! answered here (the event goes to stderr). The rest goes to one
//! [`CapabilityProvider`]: [`Unavailable`] refuses every capability, saying
//! whether that is because of `--offline` or because it is not implemented;
//! `crate::recorded::Recorded` replays answers from a file
//! (`--host-capabilities`).

use std::fmt;
use std::io::Write;

/// A host capability Kubewarden defines, by (binding, namespace, operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `kubewarden/tracing/log`: a log event from the policy.
    Log,
    /// `kubewarden/oci/*`.
    Oci(OciOperation),
    /// `kubewarden/net/v1/dns_lookup_host`.
    DnsLookupHost,
    /// `kubewarden/crypto/v1/is_certificate_trusted`.
    IsCertificateTrusted,
    /// `kubewarden/kubernetes/*`.
    Kubernetes(KubernetesOperation),
    /// The deprecated `kubernetes/{ingresses,namespaces,services}/*` API.
    ClusterContext(ClusterContextResource),
}

/// `kubewarden/oci/<operation>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciOperation {
    /// `v1/manifest_digest`: tag → digest.
    ManifestDigest,
    /// `v1/oci_manifest`.
    Manifest,
    /// `v1/oci_manifest_config`.
    ManifestConfig,
    /// `v1/verify` (legacy Sigstore).
    VerifyV1,
    /// `v2/verify`.
    VerifyV2,
}

/// `kubewarden/kubernetes/<operation>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubernetesOperation {
    /// `list_resources_by_namespace`.
    ListByNamespace,
    /// `list_resources_all`.
    ListAll,
    /// `get_resource`.
    GetResource,
    /// `can_i`.
    CanI,
}

/// `kubernetes/<namespace>/*` of the deprecated ClusterContext API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterContextResource {
    /// `ingresses`.
    Ingresses,
    /// `namespaces`.
    Namespaces,
    /// `services`.
    Services,
}

impl Capability {
    /// Names the capability a host call asks for; an unknown part is an error
    /// worded as Kubewarden words it.
    pub fn parse(binding: &str, namespace: &str, operation: &str) -> Result<Capability, String> {
        let unknown_namespace = || Err(format!("unknown namespace: {namespace}"));
        let unknown_operation = || Err(format!("unknown operation: {operation}"));
        match binding {
            "kubewarden" => match namespace {
                "tracing" => match operation {
                    "log" => Ok(Capability::Log),
                    _ => unknown_operation(),
                },
                "oci" => match operation {
                    "v1/manifest_digest" => Ok(Capability::Oci(OciOperation::ManifestDigest)),
                    "v1/oci_manifest" => Ok(Capability::Oci(OciOperation::Manifest)),
                    "v1/oci_manifest_config" => Ok(Capability::Oci(OciOperation::ManifestConfig)),
                    "v1/verify" => Ok(Capability::Oci(OciOperation::VerifyV1)),
                    "v2/verify" => Ok(Capability::Oci(OciOperation::VerifyV2)),
                    _ => unknown_operation(),
                },
                "net" => match operation {
                    "v1/dns_lookup_host" => Ok(Capability::DnsLookupHost),
                    _ => unknown_operation(),
                },
                "crypto" => match operation {
                    "v1/is_certificate_trusted" => Ok(Capability::IsCertificateTrusted),
                    _ => unknown_operation(),
                },
                "kubernetes" => match operation {
                    "list_resources_by_namespace" => {
                        Ok(Capability::Kubernetes(KubernetesOperation::ListByNamespace))
                    }
                    "list_resources_all" => {
                        Ok(Capability::Kubernetes(KubernetesOperation::ListAll))
                    }
                    "get_resource" => Ok(Capability::Kubernetes(KubernetesOperation::GetResource)),
                    "can_i" => Ok(Capability::Kubernetes(KubernetesOperation::CanI)),
                    _ => unknown_operation(),
                },
                _ => unknown_namespace(),
            },
            "kubernetes" => match namespace {
                "ingresses" => Ok(Capability::ClusterContext(
                    ClusterContextResource::Ingresses,
                )),
                "namespaces" => Ok(Capability::ClusterContext(
                    ClusterContextResource::Namespaces,
                )),
                "services" => Ok(Capability::ClusterContext(ClusterContextResource::Services)),
                _ => unknown_namespace(),
            },
            _ => Err(format!("unknown binding: {binding}")),
        }
    }

    /// The capability's name as Kubewarden's allow-lists write it, with the
    /// binding in front: `kubewarden/oci/v1/manifest_digest`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "kubewarden/tracing/log",
            Capability::Oci(OciOperation::ManifestDigest) => "kubewarden/oci/v1/manifest_digest",
            Capability::Oci(OciOperation::Manifest) => "kubewarden/oci/v1/oci_manifest",
            Capability::Oci(OciOperation::ManifestConfig) => {
                "kubewarden/oci/v1/oci_manifest_config"
            }
            Capability::Oci(OciOperation::VerifyV1) => "kubewarden/oci/v1/verify",
            Capability::Oci(OciOperation::VerifyV2) => "kubewarden/oci/v2/verify",
            Capability::DnsLookupHost => "kubewarden/net/v1/dns_lookup_host",
            Capability::IsCertificateTrusted => "kubewarden/crypto/v1/is_certificate_trusted",
            Capability::Kubernetes(KubernetesOperation::ListByNamespace) => {
                "kubewarden/kubernetes/list_resources_by_namespace"
            }
            Capability::Kubernetes(KubernetesOperation::ListAll) => {
                "kubewarden/kubernetes/list_resources_all"
            }
            Capability::Kubernetes(KubernetesOperation::GetResource) => {
                "kubewarden/kubernetes/get_resource"
            }
            Capability::Kubernetes(KubernetesOperation::CanI) => "kubewarden/kubernetes/can_i",
            Capability::ClusterContext(ClusterContextResource::Ingresses) => "kubernetes/ingresses",
            Capability::ClusterContext(ClusterContextResource::Namespaces) => {
                "kubernetes/namespaces"
            }
            Capability::ClusterContext(ClusterContextResource::Services) => "kubernetes/services",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Answers the host capabilities other than logging.
pub trait CapabilityProvider: Send + Sync {
    /// Answers one call: the response bytes, or an error message the guest
    /// reads through `__host_error`.
    fn call(&self, capability: Capability, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// Why [`Unavailable`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailableReason {
    /// The user asked for no network access.
    Offline,
    /// This version of imagegate does not implement the capability.
    NotImplemented,
}

/// A provider that refuses every capability, saying why.
#[derive(Debug, Clone, Copy)]
pub struct Unavailable(pub UnavailableReason);

impl CapabilityProvider for Unavailable {
    fn call(&self, capability: Capability, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(match self.0 {
            UnavailableReason::Offline => format!(
                "host capability {capability} is not available: imagegate was started with --offline"
            ),
            UnavailableReason::NotImplemented => format!(
                "host capability {capability} is not implemented in this version of imagegate"
            ),
        })
    }
}

/// Where the policy's log events (`kubewarden/tracing/log`, `__console_log`) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSink {
    /// To the host's stderr, one line each.
    Stderr,
    /// Nowhere (benchmarks).
    Discard,
}

impl LogSink {
    /// Writes one log line from the policy.
    pub fn write(self, line: &[u8]) {
        if self == LogSink::Stderr {
            let mut err = std::io::stderr().lock();
            // Losing a log line is better than failing the evaluation.
            let _ = err
                .write_all(b"imagegate: policy log: ")
                .and_then(|()| err.write_all(line.trim_ascii_end()))
                .and_then(|()| err.write_all(b"\n"));
        }
    }
}

/// The dispatcher the runtime calls for every `__host_call`.
pub struct HostCapabilities {
    provider: Box<dyn CapabilityProvider>,
    log: LogSink,
}

impl HostCapabilities {
    /// A dispatcher answering through `provider` and logging to `log`.
    pub fn new(provider: Box<dyn CapabilityProvider>, log: LogSink) -> Self {
        HostCapabilities { provider, log }
    }

    /// What this version offers: everything refused, with the reason that
    /// fits `offline`.
    pub fn unavailable(offline: bool, log: LogSink) -> Self {
        let reason = if offline {
            UnavailableReason::Offline
        } else {
            UnavailableReason::NotImplemented
        };
        HostCapabilities::new(Box::new(Unavailable(reason)), log)
    }

    /// Where log lines go.
    pub fn log_sink(&self) -> LogSink {
        self.log
    }

    /// Answers one `__host_call`.
    pub fn call(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        match Capability::parse(binding, namespace, operation)? {
            Capability::Log => {
                self.log.write(payload);
                Ok(Vec::new())
            }
            capability => self.provider.call(capability, payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parts_are_named_like_kubewarden() {
        assert_eq!(
            Capability::parse("nope", "oci", "x"),
            Err("unknown binding: nope".into())
        );
        assert_eq!(
            Capability::parse("kubewarden", "nope", "x"),
            Err("unknown namespace: nope".into())
        );
        assert_eq!(
            Capability::parse("kubewarden", "oci", "v9/x"),
            Err("unknown operation: v9/x".into())
        );
    }

    #[test]
    fn names_round_trip() {
        let cap = Capability::parse("kubewarden", "oci", "v1/manifest_digest");
        assert_eq!(cap, Ok(Capability::Oci(OciOperation::ManifestDigest)));
        assert_eq!(
            cap.map(Capability::name),
            Ok("kubewarden/oci/v1/manifest_digest")
        );
    }

    #[test]
    fn refusals_say_why() {
        let offline = HostCapabilities::unavailable(true, LogSink::Discard);
        assert_eq!(
            offline.call("kubewarden", "oci", "v1/manifest_digest", b"\"busybox\""),
            Err(
                "host capability kubewarden/oci/v1/manifest_digest is not available: \
                 imagegate was started with --offline"
                    .into()
            )
        );
        let online = HostCapabilities::unavailable(false, LogSink::Discard);
        assert_eq!(
            online.call("kubewarden", "oci", "v1/manifest_digest", b"\"busybox\""),
            Err(
                "host capability kubewarden/oci/v1/manifest_digest is not implemented in \
                 this version of imagegate"
                    .into()
            )
        );
        assert_eq!(
            online.call("kubewarden", "tracing", "log", b"{}"),
            Ok(Vec::new())
        );
    }
}
