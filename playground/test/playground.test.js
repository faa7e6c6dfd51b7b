// Drives the built playground (`make playground`) in Debian's chromium
// through playwright-core: the page is served on 127.0.0.1 by a small static
// server started here, a preset is loaded, the image edited, and the verdict
// must change. Screenshots go to <playground>/screenshots/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromiumPath, launch, serve } from './browser.js';

const root = resolve(
  process.env.PLAYGROUND_DIR ?? fileURLToPath(new URL('../../target/playground/', import.meta.url)),
);
const screenshots = join(root, 'screenshots');

let server;
let origin;
let browser;
let page;
const pageErrors = [];
const foreignRequests = [];

before(async () => {
  assert.ok(existsSync(join(root, 'index.html')), `${root}/index.html is missing: run \`make playground\` first`);
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install -y chromium`);
  server = await serve(root);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
  page = browser.page;
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && pageErrors.push(`${r.status()} ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
  mkdirSync(screenshots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
});


async function waitForVerdict(text) {
  await page.waitForFunction((t) => document.getElementById('verdict')?.textContent === t, text, {
    timeout: 10_000,
  });
}

async function cells(table) {
  return page.locator(`#${table} tbody tr`).evaluateAll((rows) =>
    rows.map((row) => [...row.cells].map((c) => c.textContent.trim())),
  );
}

describe('playground', { timeout: 120_000 }, () => {
  test('loads offline, with the module and the YAML parser from its own folder', async () => {
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    assert.equal(await page.title(), 'imagegate playground');
    assert.deepStrictEqual(foreignRequests, []);
  });

  test('a preset, then an edited image: the verdict changes', async () => {
    await page.selectOption('#preset', 'private-registry');
    await waitForVerdict('REJECTED');
    assert.equal(
      await page.locator('#message').textContent(),
      '1 image violation: spec.template.spec.containers[0].image "nginx:1.27" (docker.io/library/nginx:1.27): ' +
        'registry docker.io is not trusted (trusted: private.example.com) [source]',
    );
    assert.deepStrictEqual(await cells('violations'), [
      [
        'spec.template.spec.containers[0].image',
        '"nginx:1.27"docker.io/library/nginx:1.27',
        'registry docker.io is not trusted (trusted: private.example.com)',
        'source',
      ],
    ]);
    const [image] = await cells('images');
    assert.deepStrictEqual(image, [
      'spec.template.spec.containers[0].image',
      'nginx:1.27docker.io/library/nginx:1.27',
      'docker.io(implied)',
      'library/nginx',
      '1.27',
      'default',
    ]);
    await page.screenshot({ path: join(screenshots, 'rejected.png'), fullPage: true });

    const workload = page.locator('#workload');
    const text = await workload.inputValue();
    await workload.fill(text.replace('image: nginx:1.27', 'image: private.example.com/web/nginx:1.27'));
    await waitForVerdict('ALLOWED');
    assert.equal(await page.locator('#violations-block').isHidden(), true);
    assert.equal(await page.locator('#message').textContent(), 'Every image passes (1 checked).');
    const [allowed] = await cells('images');
    assert.equal(allowed[1], 'private.example.com/web/nginx:1.27');
    // The address now holds the edited text, so the link shows this.
    assert.match(page.url(), /#s=.+&w=.+/);
    await page.screenshot({ path: join(screenshots, 'allowed.png'), fullPage: true });

    // The link brings the same editors back.
    const link = page.url();
    await page.goto('about:blank');
    await page.goto(link);
    await page.waitForSelector('body[data-ready="true"]');
    await waitForVerdict('ALLOWED');
    assert.match(await workload.inputValue(), /private\.example\.com\/web\/nginx:1\.27/);
  });

  test('every preset gives its scenario verdict', async () => {
    const want = {
      'private-registry': ['REJECTED', []],
      'trusted-registries-warn': ['ALLOWED', ['1 warning']],
      'openshift-registries': ['REJECTED', []],
      'pull-policy-always': ['ALLOWED', ['mutated']],
      'my-organisation': ['REJECTED', []],
      'tags-and-digests': ['REJECTED', []],
      signatures: ['REJECTED', []],
    };
    const ids = await page.locator('#preset option:not([disabled])').evaluateAll((os) => os.map((o) => o.value));
    assert.deepStrictEqual(ids, Object.keys(want));
    for (const [id, [text, badges]] of Object.entries(want)) {
      await page.selectOption('#preset', id);
      await waitForVerdict(text);
      assert.deepStrictEqual(await page.locator('#badges .badge').allTextContents(), badges, id);
    }
  });

  test('OpenShift patterns: only the port mismatch is rejected', async () => {
    await page.selectOption('#preset', 'openshift-registries');
    await waitForVerdict('REJECTED');
    const rows = await cells('violations');
    assert.deepStrictEqual(
      rows.map((r) => [r[0], r[3]]),
      [['spec.containers[2].image', 'source']],
    );
    assert.equal((await cells('images')).length, 3);
  });

  test('warn mode lists the warning, not a violation that rejects', async () => {
    await page.selectOption('#preset', 'trusted-registries-warn');
    await waitForVerdict('ALLOWED');
    assert.deepStrictEqual(await page.locator('#warnings li').allTextContents(), [
      'spec.containers[0].image "harbor.example.com/demo/nginx:1.27": registry harbor.example.com is not trusted ' +
        '(trusted: harbor.corp.example, registry.k8s.io, ghcr.io) [source]',
    ]);
    assert.deepStrictEqual(
      (await cells('violations')).map((r) => r[3]),
      ['source (warn)'],
    );
  });

  test('enforceAlways shows the patch and the mutated object', async () => {
    await page.selectOption('#preset', 'pull-policy-always');
    await waitForVerdict('ALLOWED');
    const patch = JSON.parse(await page.locator('#patch').textContent());
    assert.deepStrictEqual(patch, [
      { op: 'replace', path: '/spec/containers/0/imagePullPolicy', value: 'Always' },
      { op: 'add', path: '/spec/initContainers/0/imagePullPolicy', value: 'Always' },
    ]);
    assert.match(await page.locator('#mutated').textContent(), /imagePullPolicy: Always/);
    await page.screenshot({ path: join(screenshots, 'mutated.png'), fullPage: true });
  });

  test('settings that are not valid say why', async () => {
    await page.selectOption('#preset', 'private-registry');
    await waitForVerdict('REJECTED');
    await page.locator('#settings').fill('registries:\n  allow: ["ghcr.io/org*"]\nregistry: {}\n');
    await waitForVerdict('SETTINGS NOT VALID');
    assert.match(await page.locator('#message').textContent(), /^The settings are not valid: 2 settings problems: unknown key "registry"/);
    await page.locator('#settings').fill('registries: [unclosed\n');
    await waitForVerdict('CANNOT EVALUATE');
    assert.match(await page.locator('#message').textContent(), /^settings: /);
  });

  test('signatures: the rule with recorded host answers, then the recording edited', async () => {
    await page.selectOption('#preset', 'signatures');
    await waitForVerdict('REJECTED');
    assert.deepStrictEqual(await cells('violations'), [
      [
        'spec.template.spec.containers[1].image',
        '"ghcr.io/example-org/api:2.3.0"',
        'the image is not signed as signatures[0] requires (keys[0]): Image verification failed: missing signatures',
        'signature',
      ],
    ]);
    await page.screenshot({ path: join(screenshots, 'signature-rejected.png'), fullPage: true });

    // Sign the api image with the team key in the recording: both are
    // admitted, pinned to the digests whose signatures were verified.
    const host = page.locator('#host');
    const recording = await host.inputValue();
    const teamKey = recording.split('- key: |\n')[1].split('\n  ghcr.io')[0];
    const [head] = recording.split('  ghcr.io/example-org/api:2.3.0:');
    await host.fill(
      `${head}  ghcr.io/example-org/api:2.3.0:\n    digest: sha256:${'d2'.repeat(32)}\n    signatures:\n      - key: |\n${teamKey}\n`,
    );
    await waitForVerdict('ALLOWED');
    assert.deepStrictEqual(await page.locator('#badges .badge').allTextContents(), ['mutated']);
    assert.deepStrictEqual(JSON.parse(await page.locator('#patch').textContent()), [
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: `ghcr.io/example-org/web:2.3.0@sha256:${'d1'.repeat(32)}` },
      { op: 'replace', path: '/spec/template/spec/containers/1/image', value: `ghcr.io/example-org/api:2.3.0@sha256:${'d2'.repeat(32)}` },
    ]);
    // The recording is part of the link.
    assert.match(page.url(), /#s=.+&w=.+&h=.+/);
    await page.screenshot({ path: join(screenshots, 'signature-allowed.png'), fullPage: true });

    // No recording: the host answers nothing, and unverifiable is rejected.
    await host.fill('');
    await waitForVerdict('REJECTED');
    assert.match(await page.locator('#message').textContent(), /^2 image violations: .*no host capabilities are available \[signature\]/);
    // A recording with a typo says where.
    await host.fill('verfiy: {}\n');
    await waitForVerdict('CANNOT EVALUATE');
    assert.match(await page.locator('#message').textContent(), /^host answers: unknown key "verfiy"/);
  });

  test('no errors in the page, no request leaves 127.0.0.1', () => {
    assert.deepStrictEqual(pageErrors, []);
    assert.deepStrictEqual(foreignRequests, []);
  });
});
