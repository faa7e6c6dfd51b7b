# Shared setup for the end-to-end suite: every test runs the built module
# (annotated-policy.wasm) through the real `imagegate` host.

ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
# `make host` builds it statically, for musl (Makefile HOST_TARGET).
IMAGEGATE="${IMAGEGATE:-$ROOT/target/$(uname -m)-unknown-linux-musl/release/imagegate}"
POLICY="${POLICY:-$ROOT/annotated-policy.wasm}"
CASES="$ROOT/testdata/cases"
REQUESTS="$ROOT/testdata/requests"

# The request file a case describes: a fixture, or a plain object written to
# a temporary file (a one-container Pod for `image`), which `imagegate run`
# wraps as a CREATE request.
case_request() {
  local case="$1" out="$BATS_TEST_TMPDIR/request.json"
  if jq -e 'has("request")' "$case" >/dev/null; then
    echo "$REQUESTS/$(jq -r .request "$case")"
  elif jq -e 'has("image")' "$case" >/dev/null; then
    jq '{apiVersion: "v1", kind: "Pod", metadata: {name: "app", namespace: "default"},
         spec: {containers: [{name: "app", image: .image}]}}' "$case" >"$out"
    echo "$out"
  else
    jq '.object' "$case" >"$out"
    echo "$out"
  fi
}

# The decoded JSON Patch of an AdmissionResponse on stdin (`[]` for none).
decoded_patch() {
  local patch
  patch=$(jq -r '.patch // empty')
  if [ -z "$patch" ]; then echo '[]'; else base64 -d <<<"$patch"; fi
}

# The flags that give `imagegate run` the case's recorded host answers
# (`--host-capabilities FILE`), when the case has any.
case_capability_flags() {
  local case="$1" out="$BATS_TEST_TMPDIR/capabilities.json"
  if jq -e 'has("capabilities")' "$case" >/dev/null; then
    jq '.capabilities' "$case" >"$out"
    echo "--host-capabilities $out"
  fi
}

# Compares $output (an AdmissionResponse) with the expectation of the case
# file $1: allowed, the whole message, the warnings and the JSON Patch.
assert_case_output() {
  local case="$1" patch
  echo "output = ${output}"
  echo "expect = $(jq -c .expect "$case")"
  jq -e --argjson exp "$(jq -c .expect "$case")" \
    '.allowed == $exp.allowed
     and (.status.message // null) == $exp.message
     and (.warnings // []) == ($exp.warnings // [])' <<<"$output"
  patch=$(decoded_patch <<<"$output")
  echo "patch = $patch"
  jq -e --argjson got "$patch" '(.expect.patch // []) == $got' "$case"
}

# Runs testdata/cases/NAME.json through `imagegate run` and checks the
# response against the case. Like `kwctl run`, `imagegate run` checks the
# settings first: a case that expects `invalid settings: M` must exit 1 with
# `provided settings are not valid: M`.
run_case() {
  local case="$CASES/$1.json"
  [ -f "$case" ] || { echo "no case $case"; return 1; }
  local request settings_problem
  request=$(case_request "$case")
  # shellcheck disable=SC2046 # the flags are two words or none
  run "$IMAGEGATE" run --policy "$POLICY" --settings-json "$(jq -c .settings "$case")" --request "$request" $(case_capability_flags "$case")
  settings_problem=$(jq -r '.expect.message // "" | select(startswith("invalid settings: ")) | sub("^invalid settings: "; "")' "$case")
  if [ -n "$settings_problem" ]; then
    echo "output = ${output}"
    [ "$status" -eq 1 ]
    [[ "$output" == *"provided settings are not valid: $settings_problem"* ]]
    return
  fi
  [ "$status" -eq 0 ]
  assert_case_output "$case"
}
