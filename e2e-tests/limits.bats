#!/usr/bin/env bats
# Requests at the API server's size limit (3 MiB) through the host and the
# built module, and what the host's resource limits do to a policy call that
# needs more: a clean rejection (allowed: false, code 500, the limit named),
# never a crash. Outcomes and counts only; no timing assertions.

load helpers

bats_require_minimum_version 1.5.0

# The API server refuses request bodies over 3 MiB.
LIMIT_BYTES=$((3 * 1024 * 1024))

# Writes a Pod of $2 containers to $1, container i running image $3 with
# `{i}` replaced by i, padded with long names so that 30,000 containers
# reach the 3 MiB limit.
big_pod() {
  local out="$1" count="$2" image="$3"
  jq -n --argjson n "$count" --arg image "$image" '
    {apiVersion: "v1", kind: "Pod", metadata: {name: "big", namespace: "default"},
     spec: {containers: [range(0; $n) as $i | {name: ("c\($i)-" + ("x" * 40)),
                                               image: ($image | gsub("\\{i\\}"; "\($i)"))}]}}' >"$out"
}

# Settings with $1 wildcard registry entries that match none of big_pod's
# images, so each image is compared with every one of them.
wildcard_settings() {
  jq -nc --argjson n "$1" '{registries: {allow: ([range(0; $n) | "*.zone-\(.).example.org"] + ["*.corp.example"])}}'
}

@test "a 3 MiB Pod of 30,000 distinct images is evaluated: every violation reported" {
  request="$BATS_TEST_TMPDIR/big.json"
  big_pod "$request" 30000 "evil.io/team-{i}/app-{i}:v{i}"
  size=$(stat -c %s "$request")
  echo "request: $size bytes"
  [ "$size" -ge "$LIMIT_BYTES" ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$request" \
    --settings-json '{"registries": {"allow": ["ghcr.io"]}}'
  echo "status = $status, stderr = ${stderr}"
  echo "output = ${output:0:300}"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false and (.status.message | startswith("30000 image violations: "))' <<<"$output"
}

@test "a 3 MiB Pod on trusted registries is admitted" {
  request="$BATS_TEST_TMPDIR/big.json"
  big_pod "$request" 30000 "registry.corp.example/team-{i}/app-{i}:v{i}"
  [ "$(stat -c %s "$request")" -ge "$LIMIT_BYTES" ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$request" \
    --settings-json "$(wildcard_settings 20)"
  echo "status = $status, stderr = ${stderr}"
  echo "output = ${output:0:300}"
  [ "$status" -eq 0 ]
  jq -e '.allowed == true and .status == null' <<<"$output"
}

@test "the memory limit turns a 3 MiB evaluation into a clean internal error" {
  request="$BATS_TEST_TMPDIR/big.json"
  big_pod "$request" 30000 "evil.io/team-{i}/app-{i}:v{i}"
  # Room for the module and its settings check, not for the request.
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$request" \
    --settings-json '{"registries": {"allow": ["ghcr.io"]}}' --memory-limit-mib 4
  echo "status = $status, stderr = ${stderr}"
  echo "output = ${output:0:500}"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false and .status.code == 500
         and (.status.message | test("^internal server error: policy ran out of memory \\(limit 4 MiB\\) in validate"))' <<<"$output"
}

@test "the time limit turns a long evaluation into a clean internal error" {
  request="$BATS_TEST_TMPDIR/big.json"
  big_pod "$request" 30000 "registry.corp.example/team-{i}/app-{i}:v{i}"
  # 30,000 images against 3,000 wildcard entries: about 10^8 comparisons,
  # far more than the limit allows; the settings alone are checked quickly.
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$request" \
    --settings-json "$(wildcard_settings 3000)" --timeout-ms 300
  echo "status = $status, stderr = ${stderr}"
  echo "output = ${output:0:500}"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false and .status.code == 500
         and (.status.message == "internal server error: policy exceeded its time limit of 300ms (in validate)")' <<<"$output"
}

@test "an object nested deeper than JSON readers go is refused with a message, not a crash" {
  request="$BATS_TEST_TMPDIR/deep.json"
  {
    printf '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "deep"}, "spec": {"containers": [{"name": "a", "image": "ghcr.io/org/app:1"}], "affinity": '
    printf '%.0s[' $(seq 1 100000)
    printf '%.0s]' $(seq 1 100000)
    printf '}}\n'
  } >"$request"
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$request"
  echo "status = $status"
  echo "output = ${output:0:300}"
  echo "stderr = ${stderr:0:300}"
  # Refused as input (exit 2, naming the file and the reason), or evaluated;
  # never killed by a signal.
  [ "$status" -lt 128 ]
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"deep.json"* ]]
    [[ "$stderr" == *"recursion limit exceeded"* ]]
  fi
}

@test "settings nested too deep are invalid settings, with the reason" {
  settings=$(printf '{"tags": {"reject": %s}}' "$(printf '%.0s[' $(seq 1 500))$(printf '%.0s]' $(seq 1 500))")
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json "$settings"
  echo "status = $status"
  echo "output = ${output:0:300}"
  echo "stderr = ${stderr:0:300}"
  [ "$status" -lt 128 ]
  [ "$status" -ne 0 ]
  [[ "$output$stderr" == *"recursion limit exceeded"* ]]
}
