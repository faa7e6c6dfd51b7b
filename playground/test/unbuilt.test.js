// The playground opened without its build: playground/src served as it is
// (no policy module, no vendored YAML parser next to it), or index.html
// opened as a file. The page must say what is wrong and how to build and
// serve it, never LOADING for ever (src/boot.js).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { chromiumPath, launch, serve } from './browser.js';

const source = fileURLToPath(new URL('../src/', import.meta.url)).replace(/\/$/, '');

let server;
let browser;

before(async () => {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install -y chromium`);
  assert.ok(!existsSync(`${source}/imagegate_policy.js`), 'playground/src holds a build: remove it');
  server = await serve(source);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
});

async function verdictAndMessage(page) {
  await page.waitForFunction(() => document.getElementById('verdict')?.textContent !== 'LOADING', null, {
    timeout: 10_000,
  });
  return {
    verdict: await page.locator('#verdict').textContent(),
    message: await page.locator('#message').textContent(),
    status: await page.locator('#status').getAttribute('class'),
  };
}

describe('playground without its build', { timeout: 60_000 }, () => {
  test('served from playground/src: says it is not built, and how to build and serve it', async () => {
    const { page } = browser;
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const shown = await verdictAndMessage(page);
    assert.equal(shown.verdict, 'NOT BUILT');
    assert.equal(shown.status, 'status error');
    assert.match(shown.message, /^The playground is not built here: /);
    assert.match(shown.message, /`make playground`/);
    assert.match(shown.message, /python3 -m http\.server -d target\/playground/);
  });

  test('opened as a file: says browsers load no modules from file://, and how to serve it', async () => {
    const { page } = browser;
    await page.goto(pathToFileURL(`${source}/index.html`).href);
    const shown = await verdictAndMessage(page);
    assert.equal(shown.verdict, 'NOT BUILT');
    assert.match(shown.message, /^This page was opened as a file, and browsers do not load its modules from file:\/\/\./);
    assert.match(shown.message, /`make playground`/);
  });
});
