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
} from '@imagegate/policy';

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
  const rule: 'reference' | 'shortName' | 'source' | 'tag' | 'digest' | 'pullPolicy' | 'imageMetadata' = v.rule;
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
