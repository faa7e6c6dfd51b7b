// `@imagegate/policy/patch`: the JSON Patch (RFC 6902) a host sends for a
// mutation, from the request's object to `validate`'s `mutated_object`,
// computed as the Rust hosts compute it (json-patch's `diff`): object keys in
// sorted order (serde_json's maps are sorted), replaces and adds for the keys
// of the new object, then removes for the keys it lacks; arrays element by
// element, extra elements added or removed at the end. Plain JavaScript, no
// dependencies, so browsers can load it as it is.

/** RFC 6901 escaping of one pointer token. */
function token(key) {
  return String(key).replaceAll('~', '~0').replaceAll('/', '~1');
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sortedKeys(object) {
  // serde_json orders keys by their UTF-8 bytes; for the ASCII keys of
  // Kubernetes objects that is JavaScript's default sort.
  return Object.keys(object).sort();
}

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function diffAt(left, right, path, patch) {
  if (isObject(left) && isObject(right)) {
    for (const key of sortedKeys(right)) {
      const at = `${path}/${token(key)}`;
      if (Object.hasOwn(left, key)) diffAt(left[key], right[key], at, patch);
      else patch.push({ op: 'add', path: at, value: right[key] });
    }
    for (const key of sortedKeys(left)) {
      if (!Object.hasOwn(right, key)) patch.push({ op: 'remove', path: `${path}/${token(key)}` });
    }
  } else if (Array.isArray(left) && Array.isArray(right)) {
    let shift = 0;
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      const at = `${path}/${i - shift}`;
      if (i < left.length && i < right.length) diffAt(left[i], right[i], at, patch);
      else if (i < left.length) {
        shift += 1;
        patch.push({ op: 'remove', path: at });
      } else patch.push({ op: 'add', path: at, value: right[i] });
    }
  } else if (!equal(left, right)) {
    patch.push({ op: 'replace', path, value: right });
  }
}

/** The operations that turn `left` into `right`. */
export function diff(left, right) {
  const patch = [];
  diffAt(left, right, '', patch);
  return patch;
}

/**
 * The patch of a `validate` response against the request's object: `[]`
 * when the response has no mutated object.
 */
export function responsePatch(object, response) {
  return response.mutated_object ? diff(object, response.mutated_object) : [];
}
