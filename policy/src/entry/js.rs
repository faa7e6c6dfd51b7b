//! The JavaScript entry (feature `js`, `wasm32-unknown-unknown`): the same
//! core as the waPC entry, exported with wasm-bindgen for Node.js and the
//! browser.
//!
//! Values cross the boundary as JSON text: `JSON.stringify` on the way in,
//! `JSON.parse` on the way out, both the engine's own. The core already reads
//! `validate`'s payload and the settings as JSON bytes, so nothing is
//! converted twice, and no serde-to-JsValue layer (serde-wasm-bindgen, which
//! would also turn maps into JS `Map`s unless told otherwise) is linked.
//!
//! Exports (TypeScript names; the declarations are in [`TYPESCRIPT`]):
//!
//! * `validate(request, settings, capabilities)`: Kubewarden's
//!   `ValidationResponse`, as the waPC entry returns it. `request` is an
//!   AdmissionReview, an AdmissionRequest, or a plain Kubernetes object,
//!   which is wrapped as a CREATE request exactly as `imagegate run` wraps it
//!   (host `src/input.rs`, mirrored in [`admission_request`]).
//!   `capabilities` optionally answers host lookups with synchronous
//!   callbacks: `manifestDigest(image)` (`digests.resolve`), and
//!   `ociManifest(image)` / `ociManifestConfig(image)` (`imageMetadata`),
//!   which answer the JSON objects Kubewarden's host calls answer, and
//!   `verify(request)` (`signatures`), which takes Kubewarden's
//!   `oci/v2/verify` request object and answers `{is_trusted, digest}`; without
//!   `capabilities` (or without a callback) every such lookup fails, as in a
//!   host with no capabilities.
//! * `validateSettings(settings)`: `{valid, message}`.
//! * `normalizeImage(image)`: the parts of one image reference; throws the
//!   parser's message for an image that does not parse.
//! * `explain(request, settings, capabilities)`: every violation as data, and every image
//!   field with its normalized form (what the playground lists).
//! * `admissionRequest(input)`: the AdmissionRequest `validate` evaluates.
//!
//! Errors are thrown as JS `Error`s carrying the core's message.

#[cfg(feature = "wapc")]
compile_error!(
    "the JS entry is built with `--no-default-features --features js`: the waPC SDK must not be \
     linked into the JavaScript module"
);

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::capabilities::{Capabilities, CapabilityError, Offline};
use crate::reference::Reference;
use crate::request::ValidatePayload;
use crate::rules::Action;
use crate::workload::ImageSite;
use crate::wrap::wrap_object;

#[wasm_bindgen]
extern "C" {
    /// `JSON.stringify(value)`: a string, or `undefined` for values JSON
    /// cannot hold (`undefined`, functions). Throws for cycles and BigInts.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn json_stringify(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `JSON.parse(text)`.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;

    /// The host's lookups, given by the caller (`HostCapabilities`).
    type HostCapabilities;

    /// `capabilities.manifestDigest(image)`; a throw (also "not a
    /// function") is the host's failure.
    #[wasm_bindgen(method, catch, js_name = manifestDigest)]
    fn manifest_digest(this: &HostCapabilities, image: &str) -> Result<JsValue, JsValue>;

    /// `capabilities.ociManifest` itself: the callbacks of `imageMetadata`
    /// are optional, so their presence is checked before the call.
    #[wasm_bindgen(method, getter, js_name = ociManifest)]
    fn oci_manifest_callback(this: &HostCapabilities) -> JsValue;

    /// `capabilities.ociManifest(image)`.
    #[wasm_bindgen(method, catch, js_name = ociManifest)]
    fn oci_manifest(this: &HostCapabilities, image: &str) -> Result<JsValue, JsValue>;

    /// `capabilities.ociManifestConfig` itself.
    #[wasm_bindgen(method, getter, js_name = ociManifestConfig)]
    fn oci_manifest_config_callback(this: &HostCapabilities) -> JsValue;

    /// `capabilities.ociManifestConfig(image)`.
    #[wasm_bindgen(method, catch, js_name = ociManifestConfig)]
    fn oci_manifest_config(this: &HostCapabilities, image: &str) -> Result<JsValue, JsValue>;

    /// `capabilities.verify` itself.
    #[wasm_bindgen(method, getter, js_name = verify)]
    fn verify_callback(this: &HostCapabilities) -> JsValue;

    /// `capabilities.verify(request)`.
    #[wasm_bindgen(method, catch, js_name = verify)]
    fn verify(this: &HostCapabilities, request: JsValue) -> Result<JsValue, JsValue>;

    /// Anything thrown: its `message`, when it has one.
    type Thrown;

    #[wasm_bindgen(method, getter)]
    fn message(this: &Thrown) -> JsValue;
}

/// TypeScript declarations of what crosses the boundary; the exported
/// functions below name these types.
#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT: &'static str = r#"
/** A Kubernetes object: at least `apiVersion` and `kind`. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** `group`/`version`/`kind` of a request's object. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** `group`/`version`/`resource` of a request. */
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** An admission.k8s.io/v1 AdmissionRequest (the fields the policy reads, and the rest). */
export interface AdmissionRequest {
  uid?: string;
  kind?: GroupVersionKind;
  resource?: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  name?: string;
  namespace?: string;
  operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo?: { username?: string; uid?: string; groups?: string[]; [key: string]: unknown };
  object?: Record<string, unknown> | null;
  oldObject?: Record<string, unknown> | null;
  dryRun?: boolean;
  options?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** An admission.k8s.io/v1 AdmissionReview; its `request` is evaluated. */
export interface AdmissionReview {
  apiVersion?: string;
  kind: "AdmissionReview";
  request: AdmissionRequest;
}

/**
 * What `validate` and `explain` accept: an AdmissionReview, an AdmissionRequest,
 * or a plain Kubernetes object (wrapped as a CREATE request, as `imagegate run` does).
 */
export type AdmissionInput = AdmissionReview | AdmissionRequest | KubernetesObject;

export type RuleId = "reference" | "shortName" | "source" | "tag" | "digest" | "pullPolicy" | "imageMetadata" | "signature";
export type RuleAction = "deny" | "warn";
export type PullPolicy = "Always" | "IfNotPresent" | "Never";
/** The kinds whose pod specs are checked. */
export type WorkloadKind =
  | "Pod"
  | "Deployment"
  | "ReplicaSet"
  | "StatefulSet"
  | "DaemonSet"
  | "ReplicationController"
  | "Job"
  | "CronJob"
  | "PodTemplate";

/** A registry entry: `host[:port]`, or an object with `insecure` (default port 80). */
export type RegistryEntry = string | { domainName: string; insecure?: boolean };

/** The policy's settings (README "Settings"); every key is optional. `null` means absent. */
export interface Settings {
  registries?: { allow?: RegistryEntry[] | null; reject?: RegistryEntry[] | null } | null;
  repositories?: { allow?: string[] | null; reject?: string[] | null } | null;
  images?: { allow?: string[] | null; reject?: string[] | null } | null;
  registryAliases?: string[][] | null;
  shortNames?: "allow" | "reject" | null;
  tags?: {
    allow?: string[] | null;
    reject?: string[] | null;
    allowRegex?: string[] | null;
    rejectRegex?: string[] | null;
    requireExplicit?: boolean | null;
  } | null;
  digests?: {
    require?: boolean | null;
    resolve?: "Never" | "AttemptRewrite" | "Required" | null;
    /** The kinds whose images are rewritten to the digest; by default `["Pod"]`. */
    rewriteKinds?: WorkloadKind[] | null;
  } | null;
  pullPolicy?: {
    requireExplicit?: boolean | null;
    allow?: PullPolicy[] | null;
    alwaysForUnpinned?: boolean | null;
    enforceAlways?: boolean | null;
  } | null;
  imageMetadata?: {
    /** Manifest annotation key to value; `"*"` matches any value. */
    rejectAnnotations?: Record<string, string> | null;
    /** Image config label key to value; `"*"` matches any value. */
    rejectLabels?: Record<string, string> | null;
    requireLabels?: Record<string, string> | null;
    skipOnResolutionFailure?: boolean | null;
  } | null;
  /** Signature requirements (README "Signatures"): the most specific matching scope decides. */
  signatures?: SignatureRequirement[] | null;
  exemptImages?: string[] | null;
  actions?: { [rule in RuleId]?: RuleAction | null } | null;
}

/**
 * One signature requirement: exactly one scope (`registry`, `repository` or
 * `image`), then either `skip: true` or the signers, of which `threshold`
 * (default 1) must have signed.
 */
export interface SignatureRequirement {
  registry?: string;
  repository?: string;
  image?: string;
  /** Cosign public keys, PEM (`-----BEGIN PUBLIC KEY-----`). */
  keys?: string[] | null;
  /** Keyless (Fulcio) identities: an exact subject, or every subject under a URL prefix. */
  keyless?: ({ issuer: string; subject: string } | { issuer: string; urlPrefix: string })[] | null;
  /** Signing certificates of a private PKI, PEM, each optionally with the CA chain it must chain up to. */
  certificates?: { certificate: string; chain?: string[] | null; requireRekorBundle?: boolean | null }[] | null;
  /** How many of the signers must have signed; 1 (any) by default. */
  threshold?: number | null;
  /** Annotations every counted signature must carry, compared exactly. */
  annotations?: Record<string, string> | null;
  /** The scope needs no signature (it carves an exception out of a broader scope). */
  skip?: boolean | null;
}

/**
 * Lookups the policy asks its host for. Each is called synchronously, at most
 * once per distinct image in one evaluation.
 */
export interface HostCapabilities {
  /**
   * The manifest digest (`sha256:<hex>`) the registry serves for `image`, a
   * normalized `registry/repository:tag` (`digests.resolve`, Kubewarden's
   * `oci/v1/manifest_digest`). Throw an Error whose message says why when it
   * cannot be resolved: the message is the reason in the violation.
   */
  manifestDigest(image: string): string;
  /**
   * The manifest the registry serves for `image` (`imageMetadata`, Kubewarden's
   * `oci/v1/oci_manifest`): an OCI image manifest or image index (or their
   * Docker v2 forms) as a JSON object. The policy reads `annotations`, and for
   * an index `manifests[].digest` and `manifests[].platform`. `image` is a
   * normalized `registry/repository:tag`, or `registry/repository@digest` for
   * the linux/amd64 manifest of an index. Throw when it cannot be read.
   */
  ociManifest?(image: string): OciManifest;
  /**
   * The image manifest and image configuration of `image` (`imageMetadata`
   * label rules, Kubewarden's `oci/v1/oci_manifest_config`):
   * `{manifest, digest, config}`; the policy reads `config.config.Labels`.
   * Throw when it cannot be read.
   */
  ociManifestConfig?(image: string): OciManifestAndConfig;
  /**
   * Sigstore verification (`signatures`, Kubewarden's `oci/v2/verify`): the
   * request is Kubewarden's own JSON, passed as it would go to policy-server.
   * Return `{is_trusted: true, digest}` with the digest whose signatures were
   * verified; throw an Error saying why when the image is not signed as
   * asked, as Kubewarden's host does.
   */
  verify?(request: VerifyRequest): VerifyResponse;
}

/** Kubewarden's `SigstoreVerificationInputV2`, the types the policy sends. */
export type VerifyRequest =
  | { type: "SigstorePubKeyVerify"; image: string; pub_keys: string[]; annotations: Record<string, string> | null }
  | { type: "SigstoreKeylessVerify"; image: string; keyless: { issuer: string; subject: string }[]; annotations: Record<string, string> | null }
  | { type: "SigstoreKeylessPrefixVerify"; image: string; keyless_prefix: { issuer: string; url_prefix: string }[]; annotations: Record<string, string> | null }
  | {
      type: "SigstoreCertificateVerify";
      image: string;
      /** The PEM certificate's bytes (UTF-8), as Kubewarden's `Vec<u8>` serializes. */
      certificate: number[];
      certificate_chain: number[][] | null;
      require_rekor_bundle: boolean;
      annotations: Record<string, string> | null;
    };

/** Kubewarden's `VerificationResponse`. */
export interface VerifyResponse {
  is_trusted: boolean;
  /** The digest whose signatures were verified (`sha256:...`). */
  digest: string;
}

/** The parts of an OCI image manifest or image index the policy reads; other fields are allowed. */
export interface OciManifest {
  annotations?: Record<string, string> | null;
  /** Present in an image index. */
  manifests?: { digest: string; platform?: { os: string; architecture: string; [key: string]: unknown } | null; [key: string]: unknown }[];
  [key: string]: unknown;
}

/** Kubewarden's `oci/v1/oci_manifest_config` answer; other fields are allowed. */
export interface OciManifestAndConfig {
  manifest?: OciManifest;
  digest?: string;
  /** The image configuration; the labels are `config.Labels`. */
  config?: { config?: { Labels?: Record<string, string> | null; [key: string]: unknown } | null; [key: string]: unknown };
  [key: string]: unknown;
}

/** Kubewarden's ValidationResponse, as the waPC entry returns it (snake_case keys). */
export interface ValidationResponse {
  accepted: boolean;
  /** The rejection message: the count of deny violations, then each one. */
  message: string | null;
  /** 400 for a request the policy cannot read; null otherwise. */
  code: number | null;
  /** The whole mutated object, when the policy mutates an accepted request. */
  mutated_object: Record<string, unknown> | null;
  audit_annotations: Record<string, string> | null;
  /** One admission warning per warn-rule violation; null when there are none. */
  warnings: string[] | null;
}

/** Kubewarden's SettingsValidationResponse. */
export interface SettingsValidationResponse {
  valid: boolean;
  /** Every problem, with its key path, when the settings are not valid. */
  message: string | null;
}

/** One image reference, parsed and normalized. */
export interface NormalizedImage {
  /** The image as written. */
  written: string;
  /** `registry/repository[:tag][@digest]`, normalized. */
  normalized: string;
  /** The normalized registry: `docker.io` for Docker Hub under any of its names. */
  registry: string;
  /** The repository path without the registry (`library/nginx`). */
  repository: string;
  /** The tag as written. */
  tag: string | null;
  /** The digest as written (`sha256:...`). */
  digest: string | null;
  /** The tag a runtime pulls: the tag, `latest` when neither tag nor digest is written, null when pinned without a tag. */
  effectiveTag: string | null;
  /** True when the image has a digest. */
  pinned: boolean;
  /** True when the image names its registry. */
  namesRegistry: boolean;
}

/** One (image, rule) pair that failed. */
export interface Violation {
  /** Field path, e.g. `spec.containers[0].image`. */
  path: string;
  /** The image as written; null when the field is missing. */
  image: string | null;
  /** Its normalized form, when it parsed. */
  normalized: string | null;
  reason: string;
  rule: RuleId;
  action: RuleAction;
}

/** One image field of the object's pod spec. */
export interface ImageField {
  /** Field path of the image, e.g. `spec.template.spec.initContainers[0].image`. */
  path: string;
  kind: "container" | "init container" | "ephemeral container" | "image volume";
  /** The container's (or volume's) name. */
  name: string | null;
  /** The image as written; null when missing. */
  image: string | null;
  /** `imagePullPolicy` (or an image volume's `pullPolicy`) as written. */
  pullPolicy: string | null;
  /** The parsed image, when it parses. */
  reference: NormalizedImage | null;
  /** The parser's message, when it does not. */
  error: string | null;
}

/** Everything one evaluation found, as data. */
export interface Explanation {
  /** Every violation, deny and warn, in field order. */
  violations: Violation[];
  /** Every image field the policy checks; empty for requests it does not check. */
  images: ImageField[];
}
"#;

/// Kubewarden's `validate` for JavaScript: the core's `ValidationResponse`.
#[wasm_bindgen(unchecked_return_type = "ValidationResponse")]
pub fn validate(
    #[wasm_bindgen(unchecked_param_type = "AdmissionInput")] request: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "HostCapabilities | null")]
    capabilities: JsValue,
) -> Result<JsValue, JsValue> {
    let payload = payload(&request, &settings)?;
    to_js(&crate::validate(
        payload.as_bytes(),
        host(&capabilities).as_ref(),
    ))
}

/// Kubewarden's `validate_settings` for JavaScript.
#[wasm_bindgen(js_name = validateSettings, unchecked_return_type = "SettingsValidationResponse")]
pub fn validate_settings(
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: JsValue,
) -> Result<JsValue, JsValue> {
    let settings = stringify(&settings)?.unwrap_or_else(|| "null".to_owned());
    to_js(&crate::validate_settings(settings.as_bytes()))
}

/// Parses and normalizes one image reference; throws the parser's message
/// when it does not parse.
#[wasm_bindgen(js_name = normalizeImage, unchecked_return_type = "NormalizedImage")]
pub fn normalize_image(
    #[wasm_bindgen(unchecked_param_type = "string")] image: JsValue,
) -> Result<JsValue, JsValue> {
    let Some(image) = image.as_string() else {
        return Err(error(format!(
            "normalizeImage expects an image string, found {}",
            describe_js(&image)
        )));
    };
    let reference = Reference::parse(&image).map_err(|e| error(e.to_string()))?;
    to_js(&NormalizedImage::new(&image, &reference))
}

/// Every violation as data and every image field with its normalized form.
/// Throws, with the message `validate` would reject with, when the request
/// cannot be read or the settings are not valid.
#[wasm_bindgen(unchecked_return_type = "Explanation")]
pub fn explain(
    #[wasm_bindgen(unchecked_param_type = "AdmissionInput")] request: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "HostCapabilities | null")]
    capabilities: JsValue,
) -> Result<JsValue, JsValue> {
    let payload = payload(&request, &settings)?;
    let parsed = ValidatePayload::parse(payload.as_bytes()).map_err(|e| error(e.to_string()))?;
    let settings = parsed.settings.map_or("null", |s| s.get());
    let policy = crate::compile_cached(settings.as_bytes())
        .map_err(|e| error(format!("invalid settings: {e}")))?;
    let verdict = crate::evaluate(&policy, &parsed.request, host(&capabilities).as_ref())
        .map_err(|e| error(e.to_string()))?;
    let violations = verdict
        .violations
        .iter()
        .map(|v| ViolationOut {
            path: &v.path,
            image: v.image.as_deref(),
            normalized: v.normalized.as_deref(),
            reason: &v.reason,
            rule: v.rule.as_str(),
            action: if v.action == Action::Warn {
                "warn"
            } else {
                "deny"
            },
        })
        .collect();
    let mut images = Vec::new();
    if let Some(location) = parsed
        .request
        .pod_spec_location()
        .map_err(|e| error(e.to_string()))?
    {
        let sites = parsed
            .request
            .image_sites(&location)
            .map_err(|e| error(e.to_string()))?;
        images = sites
            .iter()
            .map(|site| ImageField::new(site, site.path(&location)))
            .collect();
    }
    to_js(&Explanation { violations, images })
}

/// The AdmissionRequest `validate` evaluates for `input`: an AdmissionReview's
/// request, a bare request as it is, or a plain object wrapped as CREATE.
#[wasm_bindgen(js_name = admissionRequest, unchecked_return_type = "AdmissionRequest")]
pub fn admission_request_js(
    #[wasm_bindgen(unchecked_param_type = "AdmissionInput")] input: JsValue,
) -> Result<JsValue, JsValue> {
    to_js(&request_value(&input)?)
}

/// The caller's capabilities, or [`Offline`] when it gave none.
fn host(capabilities: &JsValue) -> Box<dyn Capabilities> {
    if capabilities.is_undefined() || capabilities.is_null() {
        Box::new(Offline)
    } else {
        Box::new(JsHost(capabilities.clone().unchecked_into()))
    }
}

/// Lookups answered by JavaScript.
struct JsHost(HostCapabilities);

impl Capabilities for JsHost {
    fn manifest_digest(&self, image: &str) -> Result<String, CapabilityError> {
        // The core checks the answer against the digest grammar.
        match self.0.manifest_digest(image) {
            Ok(answer) => answer.as_string().ok_or_else(|| {
                CapabilityError(format!(
                    "the host's answer is not a digest: found {}",
                    describe_js(&answer)
                ))
            }),
            Err(thrown) => Err(CapabilityError(thrown_message(&thrown))),
        }
    }

    fn oci_manifest(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        if !self.0.oci_manifest_callback().is_function() {
            return Err(missing_callback("ociManifest"));
        }
        json_answer(self.0.oci_manifest(image))
    }

    fn oci_manifest_config(&self, image: &str) -> Result<Vec<u8>, CapabilityError> {
        if !self.0.oci_manifest_config_callback().is_function() {
            return Err(missing_callback("ociManifestConfig"));
        }
        json_answer(self.0.oci_manifest_config(image))
    }

    fn verify(&self, request: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        if !self.0.verify_callback().is_function() {
            return Err(CapabilityError(
                "the host gives no verify capability (pass {verify(request) {...}} in capabilities)"
                    .to_owned(),
            ));
        }
        // The request crosses as the object Kubewarden's host would parse.
        let text = std::str::from_utf8(request).map_err(|e| CapabilityError(e.to_string()))?;
        let request =
            json_parse(text).map_err(|thrown| CapabilityError(thrown_message(&thrown)))?;
        json_answer(self.0.verify(request))
    }
}

fn missing_callback(name: &str) -> CapabilityError {
    CapabilityError(format!(
        "the host gives no {name} capability (pass {{{name}(image) {{...}}}} in capabilities)"
    ))
}

/// A callback's answer as JSON bytes (the core reads what it needs).
fn json_answer(answer: Result<JsValue, JsValue>) -> Result<Vec<u8>, CapabilityError> {
    let answer = answer.map_err(|thrown| CapabilityError(thrown_message(&thrown)))?;
    match stringify(&answer) {
        Ok(Some(text)) => Ok(text.into_bytes()),
        Ok(None) => Err(CapabilityError(format!(
            "the host's answer is not JSON: found {}",
            describe_js(&answer)
        ))),
        Err(thrown) => Err(CapabilityError(format!(
            "the host's answer is not JSON: {}",
            thrown_message(&thrown)
        ))),
    }
}

/// The message of something JavaScript threw: an Error's `message`, or a
/// thrown string.
fn thrown_message(thrown: &JsValue) -> String {
    if let Some(text) = thrown.as_string() {
        return text;
    }
    if thrown.is_object()
        && let Some(message) = thrown.unchecked_ref::<Thrown>().message().as_string()
    {
        return message;
    }
    format!("the host's lookup failed with {}", describe_js(thrown))
}

/// The `validate` payload `{"request": ..., "settings": ...}`; the settings
/// are passed as `JSON.stringify` wrote them (the core's settings cache is
/// keyed by their bytes).
fn payload(request: &JsValue, settings: &JsValue) -> Result<String, JsValue> {
    let request = request_value(request)?;
    let settings = stringify(settings)?.unwrap_or_else(|| "null".to_owned());
    let request = serde_json::to_string(&request).map_err(|e| error(e.to_string()))?;
    Ok(format!(r#"{{"request":{request},"settings":{settings}}}"#))
}

/// Reads `input` as JSON and picks the AdmissionRequest out of it.
fn request_value(input: &JsValue) -> Result<Value, JsValue> {
    let Some(text) = stringify(input)? else {
        return Err(error(format!("{EXPECTED}, found {}", describe_js(input))));
    };
    let document: Value = serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
    admission_request(document).map_err(error)
}

/// `JSON.stringify(value)`, `None` when JSON has no text for it.
fn stringify(value: &JsValue) -> Result<Option<String>, JsValue> {
    Ok(json_stringify(value)?.as_string())
}

/// Serializes `value` and hands JavaScript the parsed object.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| error(e.to_string()))?;
    json_parse(&text)
}

/// A JS `Error` with `message`.
fn error(message: impl AsRef<str>) -> JsValue {
    JsError::new(message.as_ref()).into()
}

/// `undefined`, `a function`, ... for values JSON has no text for.
fn describe_js(value: &JsValue) -> String {
    match value.js_typeof().as_string().as_deref() {
        Some("undefined") => "undefined".to_owned(),
        Some("object") if value.is_null() => "null".to_owned(),
        Some("object") => "an object".to_owned(),
        Some("string") => "a string".to_owned(),
        Some("number") => "a number".to_owned(),
        Some("boolean") => "a boolean".to_owned(),
        Some(other) => format!("a {other}"),
        None => "a value".to_owned(),
    }
}

/// The parts of one image reference (`NormalizedImage` in TypeScript).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NormalizedImage<'a> {
    written: &'a str,
    normalized: String,
    registry: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
    effective_tag: Option<&'a str>,
    pinned: bool,
    names_registry: bool,
}

impl<'a> NormalizedImage<'a> {
    fn new(written: &'a str, reference: &'a Reference) -> NormalizedImage<'a> {
        NormalizedImage {
            written,
            normalized: reference.to_string(),
            registry: reference.domain(),
            repository: reference.path(),
            tag: reference.tag(),
            digest: reference.digest(),
            effective_tag: reference.effective_tag(),
            pinned: reference.is_pinned(),
            names_registry: reference.names_registry(),
        }
    }
}

/// `Violation` in TypeScript.
#[derive(Serialize)]
struct ViolationOut<'a> {
    path: &'a str,
    image: Option<&'a str>,
    normalized: Option<&'a str>,
    reason: &'a str,
    rule: &'static str,
    action: &'static str,
}

/// `ImageField` in TypeScript.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageField {
    path: String,
    kind: &'static str,
    name: Option<String>,
    image: Option<String>,
    pull_policy: Option<String>,
    reference: Option<Value>,
    error: Option<String>,
}

impl ImageField {
    fn new(site: &ImageSite<'_>, path: String) -> ImageField {
        let image = site.image.as_deref();
        let (reference, error) = match image.map(Reference::parse) {
            Some(Ok(reference)) => (
                serde_json::to_value(NormalizedImage::new(image.unwrap_or_default(), &reference))
                    .ok(),
                None,
            ),
            Some(Err(e)) => (None, Some(e.to_string())),
            None => (None, None),
        };
        ImageField {
            path,
            kind: site.kind.noun(),
            name: site.name.as_deref().map(str::to_owned),
            image: image.map(str::to_owned),
            pull_policy: site.pull_policy.as_deref().map(str::to_owned),
            reference,
            error,
        }
    }
}

/// `Explanation` in TypeScript.
#[derive(Serialize)]
struct Explanation<'a> {
    violations: Vec<ViolationOut<'a>>,
    images: Vec<ImageField>,
}

// ---------------------------------------------------------------------------
// Reading a request the way `imagegate run` does. This mirrors
// `host/src/input.rs` (`admission_request`); both wrap a plain object with
// the core's `wrap::wrap_object`, so it gets the same request in every host.
// The node tests check the wrapping field by field.
// ---------------------------------------------------------------------------

const EXPECTED: &str = "expected an AdmissionReview, an AdmissionRequest or a Kubernetes object";

/// `an array`, `a string`, … for "found …" messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Picks the AdmissionRequest out of a parsed request document: an
/// AdmissionReview's `request`, a bare request as it is, a plain object
/// (string `apiVersion` and `kind`) wrapped as CREATE.
fn admission_request(document: Value) -> Result<Value, String> {
    let Value::Object(map) = document else {
        return Err(format!("{EXPECTED}, found {}", describe(&document)));
    };
    let kind = map.get("kind");
    if kind.and_then(Value::as_str) == Some("AdmissionReview") {
        return match map.get("request") {
            Some(request @ Value::Object(_)) => Ok(request.clone()),
            Some(other) => Err(format!(
                "the AdmissionReview's request must be an object, found {}",
                describe(other)
            )),
            None => Err("the AdmissionReview has no request".into()),
        };
    }
    let is_object_shaped =
        map.get("apiVersion").is_some_and(Value::is_string) && kind.is_some_and(Value::is_string);
    if is_object_shaped {
        return wrap_object(map);
    }
    let is_request_shaped = ["uid", "operation", "object", "oldObject"]
        .iter()
        .any(|k| map.contains_key(*k))
        || kind.is_some_and(Value::is_object);
    if is_request_shaped {
        return Ok(Value::Object(map));
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
    Err(format!(
        "{EXPECTED}, found an object {}",
        if keys.is_empty() {
            "with no keys".to_owned()
        } else {
            format!("with keys {}", keys.join(", "))
        }
    ))
}
