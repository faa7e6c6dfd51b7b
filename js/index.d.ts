// Types of the Node.js entry: the functions and the declarations that
// wasm-bindgen writes from the JS entry (policy/src/entry/js.rs).
export {
  admissionRequest,
  explain,
  normalizeImage,
  validate,
  validateSettings,
} from './pkg/imagegate_policy.js';
export type {
  AdmissionInput,
  AdmissionRequest,
  AdmissionReview,
  Explanation,
  GroupVersionKind,
  GroupVersionResource,
  HostCapabilities,
  ImageField,
  KubernetesObject,
  NormalizedImage,
  OciManifest,
  OciManifestAndConfig,
  PullPolicy,
  RegistryEntry,
  RuleAction,
  RuleId,
  Settings,
  SignatureRequirement,
  SettingsValidationResponse,
  ValidationResponse,
  VerifyRequest,
  VerifyResponse,
  Violation,
} from './pkg/imagegate_policy.js';
