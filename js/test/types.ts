// Compiled (never run) by `npm run typecheck`: the declarations wasm-bindgen
// writes from policy/src/entry/js.rs describe the API precisely, so correct
// calls type-check and wrong ones do not.
import {
  admissionRequest,
  explain,
  normalizeImage,
  validate,
  validateSettings,
  type AdmissionRequest,
  type Explanation,
  type HostCapabilities,
  type NormalizedImage,
  type Settings,
  type SettingsValidationResponse,
  type ValidationResponse,
  type VerifyRequest,
  type VerifyResponse,
} from '@imagegate/policy';
import { recordedCapabilities } from '@imagegate/policy/recorded';

const settings: Settings = {
  registries: { allow: ['ghcr.io', { domainName: '*.mydomain.com', insecure: true }] },
  tags: { reject: ['latest'] },
  pullPolicy: { allow: ['Always', 'IfNotPresent'], enforceAlways: true },
  actions: { source: 'warn' },
};

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  spec: { containers: [{ name: 'web', image: 'nginx' }] },
};

const response: ValidationResponse = validate(pod, settings);
const accepted: boolean = response.accepted;
const message: string | null = response.message;
const warnings: string[] | null = response.warnings;
const mutated: Record<string, unknown> | null = response.mutated_object;
validate({ kind: 'AdmissionReview', request: { uid: '1', operation: 'CREATE', object: pod } }, null);

const check: SettingsValidationResponse = validateSettings(settings);
const valid: boolean = check.valid;

const image: NormalizedImage = normalizeImage('nginx');
const effectiveTag: string | null = image.effectiveTag;
const pinned: boolean = image.pinned;

const explanation: Explanation = explain(pod, settings);
for (const v of explanation.violations) {
  const rule: 'reference' | 'shortName' | 'source' | 'tag' | 'digest' | 'pullPolicy' | 'imageMetadata' | 'signature' =
    v.rule;
  const path: string = v.path;
  void rule, path;
}
const request: AdmissionRequest = admissionRequest(pod);

// @ts-expect-error: shortNames is allow or reject
const badEnum: Settings = { shortNames: 'sometimes' };
// @ts-expect-error: pull policies are Always, IfNotPresent or Never
const badPolicy: Settings = { pullPolicy: { allow: ['Sometimes'] } };
// @ts-expect-error: actions are deny or warn
const badAction: Settings = { actions: { tag: 'ignore' } };
// @ts-expect-error: normalizeImage takes a string
normalizeImage(42);

void accepted, message, warnings, mutated, valid, effectiveTag, pinned, request, badEnum, badPolicy, badAction;

const recorded: HostCapabilities = {
  manifestDigest(image: string): string {
    if (image === 'docker.io/library/nginx:1.27') return `sha256:${'a'.repeat(64)}`;
    throw new Error(`manifest unknown: ${image}`);
  },
};
validate(pod, { digests: { resolve: 'AttemptRewrite' } }, recorded);
explain(pod, { digests: { resolve: 'Required' } }, recorded);
const withMetadata: HostCapabilities = {
  ...recorded,
  ociManifest: (image: string) => ({ annotations: { image } }),
  ociManifestConfig: () => ({ config: { config: { Labels: { team: 'a' } } } }),
};
validate(pod, { imageMetadata: { requireLabels: { team: '*' }, skipOnResolutionFailure: true } }, withMetadata);
// @ts-expect-error: label values are strings
const badLabels: Settings = { imageMetadata: { requireLabels: { team: true } } };
void badLabels;
// @ts-expect-error: manifestDigest answers a string
const badHost: HostCapabilities = { manifestDigest: (image: string) => image.length };
void badHost;

const signed: Settings = {
  signatures: [
    { repository: 'ghcr.io/org', keys: ['-----BEGIN PUBLIC KEY-----...'], threshold: 1, annotations: { env: 'prod' } },
    { registry: 'ghcr.io', keyless: [{ issuer: 'https://issuer', urlPrefix: 'https://github.com/org/' }] },
    { image: 'corp.example/app', certificates: [{ certificate: '-----BEGIN CERTIFICATE-----...', chain: [] }] },
    { repository: 'ghcr.io/org/sandbox', skip: true },
  ],
  actions: { signature: 'warn' },
};
const verifier: HostCapabilities = {
  ...recorded,
  verify(request: VerifyRequest): VerifyResponse {
    const image: string = request.image;
    if (request.type === 'SigstorePubKeyVerify') void (request.pub_keys satisfies string[]);
    return { is_trusted: true, digest: `sha256:${image.length}` };
  },
};
validate(pod, signed, verifier);
validate(pod, signed, recordedCapabilities({ verify: { 'ghcr.io/org/app:1': { digest: 'sha256:1', signatures: [{ key: 'K' }] } } }));
// @ts-expect-error: a threshold is a number
const badThreshold: Settings = { signatures: [{ repository: 'ghcr.io/org', keys: [], threshold: 'all' }] };
// @ts-expect-error: verify answers {is_trusted, digest}
const badVerify: HostCapabilities = { ...recorded, verify: () => true };
void badThreshold, badVerify;
