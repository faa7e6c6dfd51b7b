// Runs every testdata/cases case through the JS build, with the expectations
// policy/tests/cases.rs checks: allowed, the whole message, the warnings and
// the JSON Patch a host derives from mutated_object, with the case's
// recorded host answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { admissionRequest, validate } from '@imagegate/policy';
import { cases, input, recorded } from './fixtures.js';
import { responsePatch } from '@imagegate/policy/patch';

const table = cases();

test('the case table is there', () => {
  assert.ok(table.length > 20, `expected the case table, found ${table.length} cases`);
});

for (const { name, case: c } of table) {
  test(name, () => {
    const request = input(c);
    const host = recorded(c);
    const response = validate(request, c.settings, host);
    const repeated = [...(host?.calls ?? [])].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, [], 'the host was asked the same thing twice');
    const object = admissionRequest(request).object;
    const got = {
      allowed: response.accepted,
      message: response.message,
      warnings: response.warnings ?? [],
      patch: responsePatch(object, response),
    };
    const want = {
      allowed: c.expect.allowed,
      message: c.expect.message ?? null,
      warnings: c.expect.warnings ?? [],
      patch: c.expect.patch ?? [],
    };
    assert.deepStrictEqual(got, want, c.description);
  });
}
