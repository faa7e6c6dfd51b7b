// The JS API beyond the case table: validateSettings, normalizeImage,
// explain, admissionRequest (the host's wrapping of plain objects), and the
// errors thrown for input that is not a request.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  admissionRequest,
  explain,
  normalizeImage,
  validate,
  validateSettings,
} from '@imagegate/policy';
import { diff, responsePatch } from '@imagegate/policy/patch';
import { recordedCapabilities } from '@imagegate/policy/recorded';
import { cases, input } from './fixtures.js';

const pod = (image, extra = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { containers: [{ name: 'web', image, ...extra }] },
});

describe('validateSettings', () => {
  test('valid settings', () => {
    assert.deepStrictEqual(validateSettings({ registries: { allow: ['ghcr.io'] } }), {
      valid: true,
      message: null,
    });
    assert.deepStrictEqual(validateSettings({}), { valid: true, message: null });
  });

  test('no settings (null or undefined) are {}', () => {
    assert.equal(validateSettings(null).valid, true);
    assert.equal(validateSettings(undefined).valid, true);
  });

  test('invalid settings name every problem with its key path', () => {
    assert.deepStrictEqual(
      validateSettings({ registry: {}, registries: { allow: ['ghcr.io/org*'] } }),
      {
        valid: false,
        message:
          '2 settings problems: unknown key "registry" (did you mean "registries"?); ' +
          'registries.allow[0] "ghcr.io/org*": a registry pattern has no repository path; ' +
          'to trust a repository and everything below it use repositories, e.g. "ghcr.io/org", ' +
          'or write the registry alone, "ghcr.io"',
      },
    );
  });

  test('the same message validate rejects with, in every invalid-settings case', () => {
    const prefix = 'invalid settings: ';
    const invalid = cases().filter(({ case: c }) => c.expect.message?.startsWith(prefix));
    assert.ok(invalid.length >= 1);
    for (const { name, case: c } of invalid) {
      assert.deepStrictEqual(
        validateSettings(c.settings),
        { valid: false, message: c.expect.message.slice(prefix.length) },
        name,
      );
    }
  });

  test('settings that are not an object are invalid, not an exception', () => {
    const r = validateSettings([1]);
    assert.equal(r.valid, false);
    assert.equal(typeof r.message, 'string');
  });
});

describe('normalizeImage', () => {
  test('nginx is docker.io/library/nginx, latest', () => {
    assert.deepStrictEqual(normalizeImage('nginx'), {
      written: 'nginx',
      normalized: 'docker.io/library/nginx',
      registry: 'docker.io',
      repository: 'library/nginx',
      tag: null,
      digest: null,
      effectiveTag: 'latest',
      pinned: false,
      namesRegistry: false,
    });
  });

  test('Docker Hub aliases, ports and digests', () => {
    const hub = normalizeImage('registry-1.docker.io/nginx:1.27');
    assert.equal(hub.normalized, 'docker.io/library/nginx:1.27');
    assert.equal(hub.namesRegistry, true);
    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = normalizeImage(`localhost:5000/a/b@${digest}`);
    assert.deepStrictEqual(pinned, {
      written: `localhost:5000/a/b@${digest}`,
      normalized: `localhost:5000/a/b@${digest}`,
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: null,
      digest,
      effectiveTag: null,
      pinned: true,
      namesRegistry: true,
    });
    assert.equal(normalizeImage('EVILHOST/app:1').registry, 'EVILHOST');
  });

  test('an invalid image throws the parser message', () => {
    assert.throws(() => normalizeImage('Nginx:1.27'), {
      name: 'Error',
      message: 'repository name "Nginx" must be lowercase',
    });
    assert.throws(() => normalizeImage(''), { message: 'image reference is empty' });
  });

  test('the message is the one the reference rule reports', () => {
    const c = cases().find(({ name }) => name === 'malformed_reference_uppercase').case;
    let message;
    try {
      normalizeImage(c.image);
    } catch (e) {
      message = e.message;
    }
    assert.ok(c.expect.message.includes(`invalid image reference: ${message} [reference]`), message);
  });

  test('a value that is not a string throws', () => {
    assert.throws(() => normalizeImage(42), {
      message: 'normalizeImage expects an image string, found a number',
    });
  });
});

describe('validate', () => {
  test('a plain object, an AdmissionRequest and an AdmissionReview give one verdict', () => {
    const settings = { registries: { allow: ['ghcr.io'] } };
    const object = pod('nginx:1.27');
    const request = admissionRequest(object);
    const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
    const want = {
      accepted: false,
      message:
        '1 image violation: spec.containers[0].image "nginx:1.27" (docker.io/library/nginx:1.27): ' +
        'registry docker.io is not trusted (trusted: ghcr.io) [source]',
      code: null,
      mutated_object: null,
      audit_annotations: null,
      warnings: null,
    };
    for (const r of [object, request, review]) assert.deepStrictEqual(validate(r, settings), want);
  });

  test('settings may be left out', () => {
    assert.equal(validate(pod('nginx')).accepted, true);
    assert.equal(validate(pod('Nginx')).accepted, false);
  });

  test('an object of the wrong shape is a 400 rejection, not an exception', () => {
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: { spec: { containers: {} } } } };
    const r = validate(bad, {});
    assert.equal(r.accepted, false);
    assert.equal(r.code, 400);
    assert.equal(r.message, 'invalid Deployment: spec.template.spec.containers: expected a list, found an object');
  });

  test('input that is no request throws, with the host message', () => {
    const expected = 'expected an AdmissionReview, an AdmissionRequest or a Kubernetes object';
    assert.throws(() => validate([1], {}), { message: `${expected}, found an array` });
    assert.throws(() => validate({ foo: 1 }, {}), { message: `${expected}, found an object with keys foo` });
    assert.throws(() => validate(undefined, {}), { message: `${expected}, found undefined` });
    assert.throws(() => validate({ kind: 'AdmissionReview' }, {}), {
      message: 'the AdmissionReview has no request',
    });
  });

  test('imageMetadata reads ociManifest and ociManifestConfig, and names a missing callback', () => {
    const settings = {
      imageMetadata: {
        rejectAnnotations: { 'images.openshift.io/deny-execution': 'true' },
        requireLabels: { team: '*' },
      },
    };
    const asked = [];
    const host = {
      manifestDigest: () => {
        throw new Error('unused');
      },
      ociManifest(image) {
        asked.push(`manifest ${image}`);
        return { schemaVersion: 2, annotations: { 'images.openshift.io/deny-execution': 'true' } };
      },
      ociManifestConfig(image) {
        asked.push(`config ${image}`);
        return { manifest: {}, digest: `sha256:${'a'.repeat(64)}`, config: { config: { Labels: null } } };
      },
    };
    const prefix = '1 image violation: spec.containers[0].image "ghcr.io/org/app:1": ';
    assert.equal(
      validate(pod('ghcr.io/org/app:1'), settings, host).message,
      `${prefix}manifest annotation images.openshift.io/deny-execution="true" is rejected, ` +
        'required image config label team is missing [imageMetadata]',
    );
    assert.deepEqual(asked, ['manifest ghcr.io/org/app:1', 'config ghcr.io/org/app:1']);
    const digestOnly = { manifestDigest: host.manifestDigest };
    assert.equal(
      validate(pod('ghcr.io/org/app:1'), settings, digestOnly).message,
      `${prefix}the metadata of ghcr.io/org/app:1 could not be read: the host gives no ociManifest ` +
        'capability (pass {ociManifest(image) {...}} in capabilities) [imageMetadata]',
    );
    const notJson = { ...host, ociManifest: () => undefined };
    assert.match(
      validate(pod('ghcr.io/org/app:1'), settings, notJson).message,
      /could not be read: the host's answer is not JSON: found undefined \[imageMetadata\]$/,
    );
  });

  test('values JSON cannot hold throw the engine error', () => {
    assert.throws(() => validate({ uid: 1n }, {}), TypeError);
    const cycle = { kind: 'Pod' };
    cycle.self = cycle;
    assert.throws(() => validate(cycle, {}), TypeError);
  });
});

describe('admissionRequest wraps plain objects as imagegate run does', () => {
  test('a Deployment', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {},
    };
    assert.deepStrictEqual(admissionRequest(deployment), {
      uid: 'imagegate-run',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
      name: 'web',
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username: 'imagegate', groups: ['system:authenticated'] },
      object: deployment,
      dryRun: false,
    });
  });

  test('core group, explicit namespace', () => {
    const r = admissionRequest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a' } });
    assert.deepStrictEqual(r.kind, { group: '', version: 'v1', kind: 'Pod' });
    assert.equal(r.resource.resource, 'pods');
    assert.equal(r.namespace, 'team-a');
  });

  test("other kinds get Kubernetes' plural guess and no namespace", () => {
    for (const [kind, plural] of [
      ['Ingress', 'ingresses'],
      ['NetworkPolicy', 'networkpolicies'],
      ['ConfigMap', 'configmaps'],
    ]) {
      const r = admissionRequest({ apiVersion: 'v1', kind });
      assert.equal(r.resource.resource, plural);
      assert.ok(!('namespace' in r) && !('name' in r));
    }
  });

  test('an AdmissionReview gives its request; a bare request is kept', () => {
    const request = { uid: 'abc', operation: 'CREATE' };
    assert.deepStrictEqual(admissionRequest({ kind: 'AdmissionReview', request }), request);
    assert.deepStrictEqual(admissionRequest(request), request);
  });

  test('a bad apiVersion is named', () => {
    assert.throws(() => admissionRequest({ apiVersion: 'a/b/c', kind: 'Pod' }), {
      message: 'apiVersion "a/b/c" is not "version" or "group/version"',
    });
  });
});

describe('explain', () => {
  test('violations with their field paths, and every image normalized', () => {
    const c = cases().find(({ name }) => name === 'spec_section_4_example').case;
    const { violations, images } = explain(input(c), c.settings);
    const response = validate(input(c), c.settings);
    // The deny violations are exactly the ones the message lists.
    const denies = violations.filter((v) => v.action === 'deny');
    assert.ok(denies.length > 0);
    assert.ok(response.message.startsWith(`${denies.length} image violation`));
    for (const v of denies) {
      const normalized = v.normalized && v.normalized !== v.image ? ` (${v.normalized})` : '';
      assert.ok(
        response.message.includes(`${v.path} ${JSON.stringify(v.image)}${normalized}: ${v.reason} [${v.rule}]`),
        JSON.stringify(v),
      );
    }
    assert.ok(images.length >= denies.length);
    for (const image of images) {
      assert.match(image.path, /^spec\.template\.spec\./);
      assert.deepStrictEqual(image.reference, normalizeImage(image.image));
    }
  });

  test('warnings are violations with action warn', () => {
    const c = cases().find(({ name }) => name === 'scenario_compliant_kubernetes_warn').case;
    const { violations } = explain(input(c), c.settings);
    assert.deepStrictEqual(
      violations.map((v) => [v.path, v.rule, v.action]),
      [['spec.containers[0].image', 'source', 'warn']],
    );
  });

  test('an image that does not parse carries the parser message', () => {
    const { images, violations } = explain(pod('Nginx'), {});
    assert.deepStrictEqual(images, [
      {
        path: 'spec.containers[0].image',
        kind: 'container',
        name: 'web',
        image: 'Nginx',
        pullPolicy: null,
        reference: null,
        error: 'repository name "Nginx" must be lowercase',
      },
    ]);
    assert.equal(violations[0].rule, 'reference');
  });

  test('requests the policy does not check have no images', () => {
    assert.deepStrictEqual(explain({ apiVersion: 'v1', kind: 'Service', spec: {} }, {}), {
      violations: [],
      images: [],
    });
  });

  test('invalid settings throw the message validate rejects with', () => {
    assert.throws(() => explain(pod('nginx'), { shortNames: 'sometimes' }), (e) => {
      assert.equal(e.message, validate(pod('nginx'), { shortNames: 'sometimes' }).message);
      return true;
    });
  });
});

describe('patch: the JSON Patch of a mutation, as the Rust hosts write it', () => {
  test('sorted keys, replace and add before remove, pointer escaping', () => {
    const before = { b: 1, a: { 'x/y': 1, 'm~n': 2 }, gone: true };
    const after = { b: 2, a: { 'x/y': 1, 'm~n': 3, new: [1] } };
    assert.deepStrictEqual(diff(before, after), [
      { op: 'replace', path: '/a/m~0n', value: 3 },
      { op: 'add', path: '/a/new', value: [1] },
      { op: 'replace', path: '/b', value: 2 },
      { op: 'remove', path: '/gone' },
    ]);
  });

  test('arrays element by element; removed tail elements at one index', () => {
    assert.deepStrictEqual(diff([1, 2, 3], [1, 5]), [
      { op: 'replace', path: '/1', value: 5 },
      { op: 'remove', path: '/2' },
    ]);
    assert.deepStrictEqual(diff([1, 2, 3], [1]), [
      { op: 'remove', path: '/1' },
      { op: 'remove', path: '/1' },
    ]);
    assert.deepStrictEqual(diff([1], [1, { a: 1 }]), [{ op: 'add', path: '/1', value: { a: 1 } }]);
    assert.deepStrictEqual(diff({ a: 1 }, null), [{ op: 'replace', path: '', value: null }]);
  });

  test('responsePatch: none without a mutated object', () => {
    assert.deepStrictEqual(responsePatch({ a: 1 }, { mutated_object: null }), []);
    assert.deepStrictEqual(responsePatch({ a: 1 }, { mutated_object: { a: 2 } }), [
      { op: 'replace', path: '/a', value: 2 },
    ]);
  });
});

describe('verify: the signature rule through a JavaScript host', () => {
  const key = readFileSync(new URL('../../testdata/signatures/team.pub', import.meta.url), 'utf8');
  const settings = { signatures: [{ repository: 'ghcr.io/org', keys: [key] }], digests: { resolve: 'AttemptRewrite' } };
  const digest = `sha256:${'c'.repeat(64)}`;

  test("the callback gets Kubewarden's v2/verify request and its answer pins the image", () => {
    const asked = [];
    const host = {
      manifestDigest: () => assert.fail('no second lookup for a verified image'),
      verify(request) {
        asked.push(request);
        return { is_trusted: true, digest };
      },
    };
    const response = validate(pod('ghcr.io/org/app:1'), settings, host);
    assert.equal(response.accepted, true);
    assert.equal(response.mutated_object.spec.containers[0].image, `ghcr.io/org/app:1@${digest}`);
    assert.deepStrictEqual(asked, [
      { type: 'SigstorePubKeyVerify', image: 'ghcr.io/org/app:1', pub_keys: [key], annotations: null },
    ]);
  });

  test('a throw is the reason in the violation; is_trusted false is a failure', () => {
    const thrown = validate(pod('ghcr.io/org/app:1'), settings, {
      verify() {
        throw new Error('no signatures found for image: ghcr.io/org/app:1');
      },
    });
    assert.equal(
      thrown.message,
      '1 image violation: spec.containers[0].image "ghcr.io/org/app:1": the image is not signed as ' +
        'signatures[0] requires (keys[0]): no signatures found for image: ghcr.io/org/app:1 [signature]',
    );
    const untrusted = validate(pod('ghcr.io/org/app:1'), settings, { verify: () => ({ is_trusted: false, digest }) });
    assert.match(untrusted.message, /the host did not trust the signatures \(is_trusted: false\) \[signature\]$/);
  });

  test('a host without verify fails closed, saying so', () => {
    const response = validate(pod('ghcr.io/org/app:1'), settings, { manifestDigest: () => digest });
    assert.equal(response.accepted, false);
    assert.match(response.message, /the host gives no verify capability \(pass \{verify\(request\) \{\.\.\.\}\} in capabilities\)/);
    assert.match(validate(pod('ghcr.io/org/app:1'), settings).message, /no host capabilities are available/);
  });

  test('recordedCapabilities answers a recording as imagegate does, and checks it', () => {
    const host = recordedCapabilities({
      verify: { 'ghcr.io/org/app:1': { digest, signatures: [{ key: `  ${key.replaceAll('\n', '\n  ')}` }] } },
    });
    assert.equal(validate(pod('ghcr.io/org/app:1'), settings, host).accepted, true);
    assert.equal(
      validate(pod('ghcr.io/org/other:1'), settings, host).message,
      '1 image violation: spec.containers[0].image "ghcr.io/org/other:1": the image is not signed as ' +
        'signatures[0] requires (keys[0]): no answer recorded for ghcr.io/org/other:1 [signature]',
    );
    assert.throws(() => recordedCapabilities({ verfiy: {} }), /unknown key "verfiy"/);
    assert.throws(
      () => recordedCapabilities({ verify: { 'a:1': { digest, signatures: [{ kye: 'K' }] } } }),
      /verify\."a:1"\.signatures\[0\]: unknown key "kye"/,
    );
  });
});
