#!/usr/bin/env bats
# `imagegate scan` end to end through the annotated module: the manifests in
# testdata/scan (a Helm chart rendering, a multi-document file, a kubectl
# List, an API DeploymentList, a kustomization, a broken document) with
# testdata/settings/scan.yaml; reports, formats and exit codes.

load helpers

bats_require_minimum_version 1.5.0

SCAN="$ROOT/testdata/scan"
SCAN_SETTINGS="$ROOT/testdata/settings/scan.yaml"

scan() {
  "$IMAGEGATE" scan --policy "$POLICY" --settings "$SCAN_SETTINGS" "$@"
}

@test "scan a directory: the text report ends with the counts, exit 2 when a document is broken" {
  cd "$ROOT"
  run --separate-stderr scan testdata/scan
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  # Rejections and a broken document: the scan is incomplete, an input error.
  [ "$status" -eq 2 ]
  [ "${lines[-1]}" = "scanned 21 objects in 6 files: 8 rejected, 1 warned, 6 allowed, 6 skipped; 1 error" ]
  [[ "$output" == *"REJECTED  Deployment/shop/shop-frontend  testdata/scan/chart/rendered.yaml:39 (document 5)"* ]]
  [[ "$output" == *"fix: use an image from a trusted source, or add its registry, repository or image to registries.allow, repositories.allow or images.allow"* ]]
  [[ "$output" == *"fix: use a tag that tags.reject does not match, or pin the image by digest"* ]]
  [[ "$output" == *"ERROR  testdata/scan/apps/broken.yaml:19:14 (document 2)"* ]]
  [[ "$output" != *$'\e['* ]]
}

@test "helm template ... | imagegate scan -: exit 3 when something is rejected" {
  run --separate-stderr scan - <"$SCAN/chart/rendered.yaml"
  echo "output = ${output}"
  [ "$status" -eq 3 ]
  [[ "$output" == *"REJECTED  StatefulSet/shop/shop-redis  <stdin>:95 (document 7)"* ]]
  [ "${lines[-1]}" = "scanned 9 objects in 1 file: 3 rejected, 0 warned, 2 allowed, 4 skipped; 0 errors" ]
}

@test "scan --stdin-filename names stdin in every report" {
  run --separate-stderr scan - --stdin-filename chart/rendered.yaml <"$SCAN/chart/rendered.yaml"
  [ "$status" -eq 3 ]
  [[ "$output" == *"REJECTED  StatefulSet/shop/shop-redis  chart/rendered.yaml:95 (document 7)"* ]]
  [[ "$output" != *"<stdin>"* ]]
  run --separate-stderr scan - --stdin-filename chart/rendered.yaml -o sarif <"$SCAN/chart/rendered.yaml"
  [ "$status" -eq 3 ]
  jq -e '[.runs[0].results[].locations[0].physicalLocation.artifactLocation.uri] | unique == ["chart/rendered.yaml"]' <<<"$output"
  jq -e '.runs[0].tool.driver.version | test("^[0-9]+\\.[0-9]+\\.[0-9]+")' <<<"$output"
  [[ "$output" != *"%3Cstdin%3E"* ]]
  run --separate-stderr scan - --stdin-filename chart/rendered.yaml -o json <"$SCAN/chart/rendered.yaml"
  jq -e '[.objects[].file] | unique == ["chart/rendered.yaml"]' <<<"$output"
  run --separate-stderr scan - --stdin-filename chart/rendered.yaml -o junit <"$SCAN/chart/rendered.yaml"
  [[ "$output" == *'name="chart/rendered.yaml"'* ]]
}

@test "scan of an empty directory: nothing to scan is an input error (exit 2)" {
  mkdir "$BATS_TEST_TMPDIR/empty"
  run --separate-stderr scan "$BATS_TEST_TMPDIR/empty"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [[ "$stderr" == *"nothing to scan: no manifest files in $BATS_TEST_TMPDIR/empty"* ]]
}

@test "kubectl get deploy -A -o yaml | imagegate scan - -o json" {
  run --separate-stderr scan - -o json <"$SCAN/cluster/kubectl-get.yaml"
  echo "output = ${output}"
  [ "$status" -eq 3 ]
  jq -e '.summary == {files: 1, objects: 3, rejected: 1, warned: 0, allowed: 1, skipped: 1, errors: 0}' <<<"$output"
  jq -e '.objects[2] | .kind == "Deployment" and .name == "legacy-web" and .item == 2 and .line == 29
         and ([.violations[].rule] == ["source", "tag"])
         and .violations[0].image == "index.docker.io/library/nginx"
         and .violations[0].normalized == "docker.io/library/nginx"
         and .violations[0].line == 44' <<<"$output"
}

@test "scan --format json: the documented shape" {
  run --separate-stderr scan "$SCAN" --format json
  [ "$status" -eq 2 ]
  jq -e '(keys == ["errors", "objects", "summary"])
         and (.objects | all(has("file") and has("document") and has("item") and has("line")
              and has("apiVersion") and has("kind") and has("namespace") and has("name")
              and has("status") and has("allowed") and has("violations") and has("warnings")))
         and ([.objects[].violations[], .objects[].warnings[]]
              | all(keys == ["fix", "image", "line", "normalized", "path", "reason", "rule", "text"]))
         and (.summary.rejected == ([.objects[] | select(.status == "rejected")] | length))
         and (.errors[0] | .line == 19 and .column == 14 and .document == 2)' <<<"$output"
}

@test "scan --format sarif: SARIF 2.1.0 with a rule per rule id and the lines of the images" {
  cd "$ROOT"
  run --separate-stderr scan testdata/scan --format sarif
  [ "$status" -eq 2 ]
  jq -e '.version == "2.1.0"
         and ([.runs[0].tool.driver.rules[].id] == ["reference", "shortName", "source", "tag", "digest", "pullPolicy", "imageMetadata", "signature", "rejection"])
         and ([.runs[0].results[].ruleId] | unique == ["reference", "shortName", "source", "tag"])
         and (.runs[0].results | length == 16)
         and any(.runs[0].results[]; .ruleId == "tag"
               and .locations[0].physicalLocation == {artifactLocation: {uri: "testdata/scan/chart/rendered.yaml"}, region: {startLine: 67}})' <<<"$output"
}

@test "scan --format junit: one testsuite per file, one testcase per object" {
  run --separate-stderr scan "$SCAN" --format junit
  echo "output = ${output}"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = '<?xml version="1.0" encoding="UTF-8"?>' ]
  [[ "${lines[1]}" == '<testsuites name="imagegate scan" tests="22" failures="8" errors="1" skipped="6">' ]]
  [ "$(grep -c '<testsuite ' <<<"$output")" -eq 6 ]
  [ "$(grep -o '<testcase ' <<<"$output" | wc -l)" -eq 22 ]
  [ "$(grep -o '<failure ' <<<"$output" | wc -l)" -eq 8 ]
  if command -v xmllint >/dev/null; then xmllint --noout - <<<"$output"; fi
}

@test "scan exits 0 when nothing is denied, even with warnings" {
  run --separate-stderr scan "$SCAN/cluster/kubectl-get.yaml" --settings-json '{}' 2>/dev/null
  # --settings and --settings-json together are a usage error
  [ "$status" -eq 2 ]
  run --separate-stderr "$IMAGEGATE" scan --policy "$POLICY" --settings-json '{"shortNames": "reject", "actions": {"shortName": "warn"}}' \
    "$SCAN/chart/rendered.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "scanned 9 objects in 1 file: 0 rejected, 2 warned, 3 allowed, 4 skipped; 0 errors" ]]
}

@test "scan exits 2 when input is broken, whatever is denied" {
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{image: quay.io/a/b:1}]}\n---\nkind: [\n' \
    >"$BATS_TEST_TMPDIR/broken.yaml"
  run --separate-stderr scan "$BATS_TEST_TMPDIR/broken.yaml" "$BATS_TEST_TMPDIR/missing.yaml"
  echo "output = ${output}"
  [ "$status" -eq 2 ]
  [[ "$output" == *"ERROR  $BATS_TEST_TMPDIR/broken.yaml:6:7 (document 2)"* ]]
  [[ "$output" == *"ERROR  $BATS_TEST_TMPDIR/missing.yaml"* ]]
  [ "${lines[-1]}" = "scanned 1 object in 2 files: 0 rejected, 0 warned, 1 allowed, 0 skipped; 2 errors" ]
  # A rejection beside a broken file: still 2, so that a job that lets 3
  # pass never misses a file that was not read.
  run --separate-stderr scan "$BATS_TEST_TMPDIR/missing.yaml" - <"$SCAN/cluster/kubectl-get.yaml"
  [ "$status" -eq 2 ]
  [[ "${lines[-1]}" == *" 1 rejected, "*"; 1 error" ]]
}

@test "scan with settings the policy refuses exits 1 with its message" {
  run --separate-stderr "$IMAGEGATE" scan --policy "$POLICY" --settings-json '{"tags": {"reject": "latest"}}' "$SCAN"
  echo "stderr = ${stderr}"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [[ "$stderr" == *"provided settings are not valid: "* ]]
}

@test "scan without PATH or settings is a usage error" {
  run --separate-stderr "$IMAGEGATE" scan --policy "$POLICY" --settings "$SCAN_SETTINGS"
  [ "$status" -eq 2 ]
  run --separate-stderr "$IMAGEGATE" scan --policy "$POLICY" "$SCAN"
  [ "$status" -eq 2 ]
}
