// `make playground`: assembles the static playground in one folder (default
// ../target/playground): the page (src/), the policy's wasm-bindgen build
// and the JSON Patch and recorded-answers helpers from ../js, and the `yaml` parser's browser
// build from node_modules (vendored, so the page works offline). Serve the
// folder with any static server, e.g. `python3 -m http.server -d target/playground`.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '..', 'target', 'playground'));
const js = join(here, '..', 'js');

const inputs = [
  [join(here, 'src'), out],
  [join(js, 'pkg', 'imagegate_policy.js'), join(out, 'imagegate_policy.js')],
  [join(js, 'pkg', 'imagegate_policy_bg.wasm'), join(out, 'imagegate_policy_bg.wasm')],
  [join(js, 'patch.js'), join(out, 'patch.js')],
  [join(js, 'recorded.js'), join(out, 'recorded.js')],
  [join(here, 'node_modules', 'yaml', 'browser', 'dist'), join(out, 'vendor', 'yaml')],
  [join(here, 'node_modules', 'yaml', 'LICENSE'), join(out, 'vendor', 'yaml', 'LICENSE')],
];

for (const [from] of inputs) {
  if (!existsSync(from)) {
    const hint = from.includes('node_modules') ? 'run `npm ci` in playground/' : 'run `make js` first';
    console.error(`playground: ${from} is missing: ${hint}`);
    process.exit(1);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [from, to] of inputs) cpSync(from, to, { recursive: true });

function size(path) {
  const s = statSync(path);
  return s.isDirectory() ? readdirSync(path).reduce((n, f) => n + size(join(path, f)), 0) : s.size;
}
console.log(`playground: ${out} (${Math.round(size(out) / 1024)} KiB; the policy module is ${size(join(out, 'imagegate_policy_bg.wasm'))} bytes)`);
