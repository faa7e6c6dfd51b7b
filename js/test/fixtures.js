// The case table every runner reads: testdata/cases/*.json, with the
// request fixtures of testdata/requests. One fixture, every host: the same
// files drive policy/tests/cases.rs (native core), host/tests/cases.rs and
// e2e-tests/cases.bats (policy.wasm through imagegate), and these tests.
import { readdirSync, readFileSync } from 'node:fs';

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
 * `imagegate run --host-capabilities`): `{"manifest_digest": {"<image>":
 * "sha256:..." | {"error": "..."}}, "oci_manifest": {"<image>": {...} |
 * {"error": "..."}}, "oci_manifest_config": {"<image>": {...} | {"error":
 * "..."}}}`, as policy/tests/cases.rs replays them. A name with no recorded
 * answer fails with `no answer recorded for <name>`. `calls` counts each
 * (operation, image) asked, so a test can check nothing is asked twice.
 */
export function recorded(c) {
  if (!c.capabilities) return undefined;
  const calls = new Map();
  const answer = (operation, image) => {
    const key = `${operation} ${image}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const found = c.capabilities[operation]?.[image];
    if (found === undefined || found === null) throw new Error(`no answer recorded for ${image}`);
    const keys = found && typeof found === 'object' ? Object.keys(found) : [];
    if (keys.length === 1 && typeof found.error === 'string') throw new Error(found.error);
    return found;
  };
  return {
    calls,
    manifestDigest(image) {
      const found = answer('manifest_digest', image);
      if (typeof found === 'string') return found;
      throw new Error(found.error ?? '');
    },
    ociManifest: (image) => answer('oci_manifest', image),
    ociManifestConfig: (image) => answer('oci_manifest_config', image),
  };
}
