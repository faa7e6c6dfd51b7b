// The Node.js entry of @imagegate/policy.
//
// `make js` builds the module with `wasm-bindgen --target web`, whose output
// runs in browsers (async `init()` fetches the .wasm next to it) and, through
// this file, in Node.js: the .wasm is read from the package folder and
// instantiated synchronously, so the functions are ready on import.
// Browsers and bundlers import `@imagegate/policy/web` and call its default
// export (init) first.
import { readFileSync } from 'node:fs';
import { initSync } from './pkg/imagegate_policy.js';

initSync({ module: readFileSync(new URL('./pkg/imagegate_policy_bg.wasm', import.meta.url)) });

export {
  admissionRequest,
  explain,
  normalizeImage,
  validate,
  validateSettings,
} from './pkg/imagegate_policy.js';
