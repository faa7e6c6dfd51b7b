// Recorded host answers for JavaScript hosts: the format of
// `imagegate run --host-capabilities FILE` and of the `capabilities` of a
// testdata/cases case, turned into the `capabilities` object `validate` and
// `explain` take. The same recording gives the same answers as imagegate's
// (host/src/recorded.rs) and the native case runner's
// (policy/src/recorded.rs): `verify` is answered from the recorded
// signatures by the rules of Kubewarden's host, written out below.

/** The error Kubewarden's host gives when required signatures are missing. */
export const MISSING = 'Image verification failed: missing signatures';

const SECTIONS = ['manifest_digest', 'oci_manifest', 'oci_manifest_config', 'verify'];
const SIGNATURE_KEYS = ['key', 'issuer', 'subject', 'certificate', 'chain', 'annotations', 'digest', 'rekor_bundle'];

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A recorded `{"error": "..."}` answer, or undefined. */
function recordedError(answer) {
  return isObject(answer) && Object.keys(answer).length === 1 && typeof answer.error === 'string'
    ? answer.error
    : undefined;
}

/** PEM text without indentation or blank lines, as the policy sends keys. */
function unindent(text) {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => `${l}\n`)
    .join('');
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;

function checkDigest(value, path) {
  if (typeof value !== 'string' || !DIGEST.test(value)) throw new Error(`${path}: expected a digest string`);
}

/** Checks a `verify` section as strictly as the Rust readers do. */
function checkVerify(section) {
  if (!isObject(section)) throw new Error('verify: expected an object of image names');
  for (const [image, entry] of Object.entries(section)) {
    const path = `verify.${JSON.stringify(image)}`;
    if (!isObject(entry)) throw new Error(`${path}: expected {"digest", "signatures"} or {"error": "<message>"}`);
    if ('error' in entry) {
      if (typeof entry.error !== 'string') throw new Error(`${path}.error: expected a string`);
      if (Object.keys(entry).length !== 1) throw new Error(`${path}: an error entry has only "error"`);
      continue;
    }
    for (const key of Object.keys(entry)) {
      if (!['digest', 'signatures'].includes(key)) throw new Error(`${path}: unknown key ${JSON.stringify(key)}`);
    }
    checkDigest(entry.digest, `${path}.digest`);
    for (const [i, s] of (entry.signatures ?? []).entries()) {
      const at = `${path}.signatures[${i}]`;
      if (!isObject(s)) throw new Error(`${at}: expected an object`);
      for (const key of Object.keys(s)) {
        if (!SIGNATURE_KEYS.includes(key)) throw new Error(`${at}: unknown key ${JSON.stringify(key)}`);
      }
      const kinds = [s.key !== undefined, s.issuer !== undefined || s.subject !== undefined, s.certificate !== undefined];
      const keyless = typeof s.issuer === 'string' && typeof s.subject === 'string';
      if (kinds.filter(Boolean).length !== 1 || (kinds[1] && !keyless)) {
        throw new Error(`${at}: a signature is by one "key", one "issuer" and "subject", or one "certificate"`);
      }
      if (s.digest !== undefined) checkDigest(s.digest, `${at}.digest`);
    }
  }
}

/** The constraints of one v2/verify request: what must have signed. */
function constraints(request) {
  const bytesToPem = (bytes) => unindent(new TextDecoder().decode(Uint8Array.from(bytes)));
  switch (request.type) {
    case 'SigstorePubKeyVerify':
      return request.pub_keys.map((key) => (s) => s.key !== undefined && unindent(s.key) === unindent(key));
    case 'SigstoreKeylessVerify':
      return request.keyless.map(({ issuer, subject }) => (s) => s.issuer === issuer && s.subject === subject);
    case 'SigstoreKeylessPrefixVerify':
      return request.keyless_prefix.map(({ issuer, url_prefix }) => {
        // The host appends `/` so that `.../org` does not match `.../org-evil`.
        const prefix = url_prefix.endsWith('/') ? url_prefix : `${url_prefix}/`;
        return (s) => s.issuer === issuer && typeof s.subject === 'string' && s.subject.startsWith(prefix);
      });
    case 'SigstoreCertificateVerify': {
      const pem = bytesToPem(request.certificate);
      const chain = request.certificate_chain?.map(bytesToPem) ?? null;
      return [
        (s) =>
          s.certificate !== undefined &&
          unindent(s.certificate) === pem &&
          (chain === null || JSON.stringify((s.chain ?? []).map(unindent)) === JSON.stringify(chain)) &&
          (!request.require_rekor_bundle || s.rekor_bundle === true),
      ];
    }
    default:
      throw new Error(`no answer recorded for v2/verify requests of type ${request.type}`);
  }
}

/** Answers one v2/verify request from a `verify` section. */
function answerVerify(section, request) {
  const entry = section?.[request.image];
  if (entry === undefined || entry === null) throw new Error(`no answer recorded for ${request.image}`);
  if ('error' in entry) throw new Error(entry.error);
  const signatures = entry.signatures ?? [];
  if (signatures.length === 0) throw new Error(`no signatures found for image: ${request.image}`);
  const annotations = Object.entries(request.annotations ?? {});
  const counted = signatures
    .filter((s) => (s.digest ?? entry.digest) === entry.digest)
    .filter((s) => annotations.every(([k, v]) => s.annotations?.[k] === v));
  const wanted = constraints(request);
  if (wanted.length === 0) throw new Error('Must provide at least one pub key');
  if (!wanted.every((c) => counted.some(c))) throw new Error(MISSING);
  return { is_trusted: true, digest: entry.digest };
}

/**
 * The host capabilities a recording answers. An image with no recorded
 * answer fails with `no answer recorded for <image>`; `{"error": "..."}`
 * fails with that message. Throws at once for a recording with unknown
 * sections or a malformed `verify` section.
 */
export function recordedCapabilities(recording) {
  const answers = recording ?? {};
  if (!isObject(answers)) throw new Error('host capabilities: expected an object');
  for (const key of Object.keys(answers)) {
    if (!SECTIONS.includes(key)) {
      throw new Error(`unknown key ${JSON.stringify(key)}: a recording has only ${SECTIONS.join(', ')}`);
    }
  }
  if (answers.verify !== undefined) checkVerify(answers.verify);
  const lookup = (section, image) => {
    const found = answers[section]?.[image];
    if (found === undefined || found === null) throw new Error(`no answer recorded for ${image}`);
    const error = recordedError(found);
    if (error !== undefined) throw new Error(error);
    return found;
  };
  return {
    manifestDigest(image) {
      const found = lookup('manifest_digest', image);
      if (typeof found !== 'string') throw new Error(`the recorded digest of ${image} is not a string`);
      return found;
    },
    ociManifest: (image) => lookup('oci_manifest', image),
    ociManifestConfig: (image) => lookup('oci_manifest_config', image),
    verify: (request) => answerVerify(answers.verify, request),
  };
}
