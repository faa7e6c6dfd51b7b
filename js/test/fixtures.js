// The case table every runner reads: testdata/cases/*.json, with the
// request fixtures of testdata/requests. One fixture, every host: the same
// files drive policy/tests/cases.rs (native core), host/tests/cases.rs and
// e2e-tests/cases.bats (policy.wasm through imagegate), and these tests.
import { readdirSync, readFileSync } from 'node:fs';
import { recordedCapabilities } from '@imagegate/policy/recorded';

export const testdata = new URL('../../testdata/', import.meta.url);

function readJson(url) {
  return JSON.parse(readFileSync(url, 'utf8'));
}

/** Every case, sorted by name: `{name, case}`. */
export function cases() {
  const dir = new URL('cases/', testdata);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), case: readJson(new URL(f, dir)) }));
}

/**
 * What a case hands the policy, as `imagegate run --request` gets it: the
 * fixture document (an AdmissionReview or a bare AdmissionRequest), or a
 * plain object (a one-container Pod for `image`) for the entry to wrap.
 */
export function input(c) {
  if (typeof c.request === 'string') return readJson(new URL(`requests/${c.request}`, testdata));
  if (Object.hasOwn(c, 'image')) {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app', namespace: 'default' },
      spec: { containers: [{ name: 'app', image: c.image }] },
    };
  }
  return c.object;
}

/**
 * Host lookups answered from a case's `capabilities` (the format of
 * `imagegate run --host-capabilities`, answered by
 * `@imagegate/policy/recorded` as imagegate and policy/tests/cases.rs answer
 * it). `calls` counts each (operation, argument) asked, so a test can check
 * nothing is asked twice.
 */
export function recorded(c) {
  if (!c.capabilities) return undefined;
  const host = recordedCapabilities(c.capabilities);
  const calls = new Map();
  const counted = (operation, f) => (argument) => {
    const key = `${operation} ${JSON.stringify(argument)}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return f(argument);
  };
  return {
    calls,
    manifestDigest: counted('manifest_digest', host.manifestDigest),
    ociManifest: counted('oci_manifest', host.ociManifest),
    ociManifestConfig: counted('oci_manifest_config', host.ociManifestConfig),
    verify: counted('verify', host.verify),
  };
}
