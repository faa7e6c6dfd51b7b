"""Checks every item of a v1 List on stdin against the trimmed
wgpolicyk8s.io/v1alpha2 schema beside this file; prints each problem and
exits 1 when there is one. Used by e2e-tests/import.bats (scan -o
policyreport)."""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "wgpolicyk8s.io-v1alpha2.schema.json").read_text())
document = json.load(sys.stdin)
assert document.get("kind") == "List", "not a v1 List"
problems = []
for index, item in enumerate(document["items"]):
    for error in jsonschema.Draft7Validator(schema).iter_errors(item):
        problems.append(f"items[{index}] {'/'.join(map(str, error.path))}: {error.message}")
print("\n".join(problems) if problems else f"{len(document['items'])} reports valid")
sys.exit(1 if problems else 0)
