#!/usr/bin/env bats
# The imagegate host end to end, through the real annotated module: output
# shapes, input forms, settings errors, exit codes, and the metadata that
# `make annotated-policy.wasm` embeds.

load helpers

bats_require_minimum_version 1.5.0

POD_REQUEST="$REQUESTS/pod_create.json"

# --- run: output shapes ------------------------------------------------------

@test "run prints the AdmissionResponse on one line, as kwctl run" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" \
    --settings-json '{"registries": {"allow": ["quay.io"]}}'
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  jq -e '.uid == "pod-create-0001"
         and .allowed == false
         and (.status.message | type == "string" and test("^[0-9]+ image violations?: "))
         and has("warnings")' <<<"$output"
}

@test "run --output validation prints the policy's snake_case ValidationResponse" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --output validation
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  jq -e '.accepted == true
         and has("mutated_object") and has("message") and has("warnings")
         and (has("allowed") | not) and (has("mutatedObject") | not)' <<<"$output"
}

@test "run --output text: REJECTED with the message" {
  settings='{"registries": {"allow": ["quay.io"]}}'
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings"
  echo "admission = ${output}"
  message=$(jq -r .status.message <<<"$output")
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings" --output text
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "REJECTED: $message" ]
}

@test "run --output text: ALLOWED, then one line per warning" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" \
    --settings-json '{"registries": {"allow": ["quay.io"]}, "actions": {"source": "warn"}}' -o text
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  [ "${lines[0]}" = "ALLOWED" ]
  for line in "${lines[@]:1}"; do
    [[ "$line" == "warning: "*"[source]" ]]
  done
}

@test "run --output text: ALLOWED alone when nothing is wrong" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --output text
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$output" = "ALLOWED" ]
}

@test "run --output text: MUTATED with the number of patch operations --patch prints" {
  settings='{"pullPolicy": {"enforceAlways": true}}'
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings" --patch
  echo "patch = ${output}"
  [ "$status" -eq 0 ]
  operations=$(jq length <<<"$output")
  [ "$operations" -ge 1 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings" -o text
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "ALLOWED" ]
  [[ "${lines[1]}" == "MUTATED: $operations patch operation"* ]]
}

@test "run --patch prints [] when nothing mutates" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --patch
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
}

# --- run: input forms ----------------------------------------------------------

@test "run accepts an AdmissionReview" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$REQUESTS/admissionreview_pod_create.json"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e --arg uid "$(jq -r .request.uid "$REQUESTS/admissionreview_pod_create.json")" \
    '.uid == $uid and .allowed == true' <<<"$output"
}

@test "run accepts a bare AdmissionRequest" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e '.uid == "pod-create-0001" and .allowed == true' <<<"$output"
}

@test "run accepts a bare AdmissionRequest on stdin" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request - <"$POD_REQUEST"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e '.uid == "pod-create-0001"' <<<"$output"
}

@test "run accepts plain YAML objects (demo/workloads) and wraps them as CREATE" {
  count=0
  for workload in "$ROOT"/demo/workloads/*.yaml; do
    run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --settings "$ROOT/demo/settings.yaml" \
      --request "$workload" --output text
    echo "$(basename "$workload"): ${output}"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "ALLOWED" || "${lines[0]}" == "REJECTED: "* ]]
    count=$((count + 1))
  done
  [ "$count" -ge 1 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$ROOT/demo/workloads/deployment-trusted.yaml"
  echo "output = ${output}"
  jq -e '.uid == "imagegate-run"' <<<"$output"
}

# --- settings ----------------------------------------------------------------

@test "run with a misspelt settings key exits 1 and suggests the key" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json '{"registires": {}}'
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [[ "$stderr" == *"provided settings are not valid"* ]]
  [[ "$stderr" == *'unknown key "registires" (did you mean "registries"?)'* ]]
}

@test "run with an invalid nested setting exits 1 and names its key path" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" \
    --settings-json '{"registries": {"allow": ["ghcr.io", "ghcr.io/org*"]}}'
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *'registries.allow[1] "ghcr.io/org*"'* ]]
}

@test "check-settings: valid settings print valid true and exit 0" {
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{"registries": {"allow": ["ghcr.io"]}}'
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$output" = '{"valid":true,"message":null}' ]
}

@test "check-settings: invalid settings print valid false with the message and exit 1" {
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{"registires": {}}'
  echo "output = ${output}"
  [ "$status" -eq 1 ]
  jq -e '.valid == false and (.message | contains("did you mean \"registries\""))' <<<"$output"
}

@test "settings from a YAML file" {
  cat >"$BATS_TEST_TMPDIR/settings.yaml" <<'EOF'
# only quay.io
registries:
  allow: [quay.io]
EOF
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings "$BATS_TEST_TMPDIR/settings.yaml"
  echo "check-settings = ${output}"
  [ "$status" -eq 0 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings "$BATS_TEST_TMPDIR/settings.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false and (.status.message | contains("quay.io"))' <<<"$output"
}

# --- usage and input errors: exit 2 ------------------------------------------

@test "a missing request file exits 2 and names the path" {
  missing="$BATS_TEST_TMPDIR/no-such-request.json"
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$missing"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [[ "$stderr" == *"$missing"* ]]
}

@test "a request that is neither JSON nor YAML exits 2" {
  printf 'a: [1, 2\nb: }\n' >"$BATS_TEST_TMPDIR/broken.yaml"
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$BATS_TEST_TMPDIR/broken.yaml"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"not JSON or YAML"* ]]
}

@test "an unknown flag exits 2" {
  run --separate-stderr "$IMAGEGATE" run --no-such-flag
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"--no-such-flag"* ]]
}

@test "a policy file that is not wasm exits 2" {
  echo "not a module" >"$BATS_TEST_TMPDIR/policy.wasm"
  run --separate-stderr "$IMAGEGATE" run --policy "$BATS_TEST_TMPDIR/policy.wasm" --request "$POD_REQUEST"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"is not a WebAssembly module"* ]]
}

# --- inspect -------------------------------------------------------------------

@test "inspect shows the metadata make annotated-policy.wasm embeds" {
  # mutating as metadata.yml says it (the module can mutate since pullPolicy.enforceAlways).
  mutating=$(sed -n 's/^mutating: *\(true\|false\).*/\1/p' "$ROOT/metadata.yml")
  echo "metadata.yml mutating = ${mutating}"
  [ -n "$mutating" ]
  run --separate-stderr "$IMAGEGATE" inspect "$POLICY" -o json
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e --argjson mutating "$mutating" '.protocolVersion == "v1"
         and .mutating == $mutating
         and .backgroundAudit == true
         and .executionMode == "kubewarden-wapc"
         and ([.rules[].resources[]] | index("pods/ephemeralcontainers") != null)
         and ([.rules[].resources[]] | sort) == (["cronjobs", "daemonsets", "deployments", "jobs", "pods",
              "pods/ephemeralcontainers", "podtemplates", "replicasets", "replicationcontrollers",
              "statefulsets"])' <<<"$output"
}

@test "inspect: the usage annotation is README.md" {
  run --separate-stderr "$IMAGEGATE" inspect "$POLICY" -o json
  [ "$status" -eq 0 ]
  jq -j '.annotations["io.kubewarden.policy.usage"]' <<<"$output" >"$BATS_TEST_TMPDIR/usage.md"
  run diff "$ROOT/README.md" "$BATS_TEST_TMPDIR/usage.md"
  echo "diff = ${output}"
  [ "$status" -eq 0 ]
}
