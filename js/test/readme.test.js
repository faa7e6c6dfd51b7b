// The Node.js example in README.md ("Running in JavaScript hosts") is run
// as it is written, importing the package by name, and its output must be
// the text block that follows it in the README.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The first js block of the section and the text block after it. */
function example() {
  const section = readme.split(/^## Running in JavaScript hosts$/m)[1];
  assert.ok(section, 'README.md has a section "Running in JavaScript hosts"');
  const match = section.match(/```js\n([\s\S]*?)```\n[\s\S]*?```text\n([\s\S]*?)```/);
  assert.ok(match, 'the section has a js block followed by a text block');
  return { code: match[1], output: match[2] };
}

test('the README example prints what the README says', () => {
  const { code, output } = example();
  assert.match(code, /from '@imagegate\/policy'/);
  // Inside the package folder, so `@imagegate/policy` resolves to this
  // package through its "exports", as it would for an installed package.
  const dir = mkdtempSync(join(packageDir, '.readme-example-'));
  try {
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code);
    const stdout = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(stdout, output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
