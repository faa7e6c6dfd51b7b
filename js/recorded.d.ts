// Types of @imagegate/policy/recorded (recorded.js).
import type { HostCapabilities } from './pkg/imagegate_policy.js';

/** The error Kubewarden's host gives when required signatures are missing. */
export declare const MISSING: string;

/** One recorded signature of an image (the `verify` section). */
export type RecordedSignature = (
  | { key: string }
  | { issuer: string; subject: string }
  | { certificate: string; chain?: string[] | null; rekor_bundle?: boolean }
) & {
  /** Annotations the signer set. */
  annotations?: Record<string, string> | null;
  /** The digest the signature's payload names, when not the image's. */
  digest?: string;
};

/** The format of `imagegate run --host-capabilities FILE` and of a case's `capabilities`. */
export interface Recording {
  manifest_digest?: Record<string, string | { error: string }>;
  oci_manifest?: Record<string, Record<string, unknown>>;
  oci_manifest_config?: Record<string, Record<string, unknown>>;
  /** Per image name: the digest the registry serves and its signatures, or an error. */
  verify?: Record<string, { digest: string; signatures?: RecordedSignature[] | null } | { error: string }>;
}

/** The host capabilities a recording answers, as imagegate answers them. */
export declare function recordedCapabilities(recording: Recording | null | undefined): Required<HostCapabilities>;
