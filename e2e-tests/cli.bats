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

@test "run --output text: each violation with path, image, reason, rule and fix; exit 3" {
  settings='{"registries": {"allow": ["quay.io"]}}'
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings"
  echo "admission = ${output}"
  [ "$status" -eq 0 ]
  count=$(jq -r '.status.message | capture("^(?<n>[0-9]+) ").n' <<<"$output")
  [ "$count" -ge 2 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$settings" --output text
  echo "output = ${output}"
  [ "$status" -eq 3 ]
  [ "${lines[0]}" = "REJECTED: $count image violations" ]
  # Three lines per violation: what and where, the reason and its rule, the fix.
  [ "${#lines[@]}" -eq $((1 + 3 * count)) ]
  for ((i = 0; i < count; i++)); do
    [[ "${lines[$((1 + 3 * i))]}" =~ ^\ \ deny\ \ spec\.[a-zA-Z]+\[[0-9]+\]\.image(\.reference)?\ \" ]]
    [[ "${lines[$((2 + 3 * i))]}" == *"is not trusted (trusted: quay.io) [source]" ]]
    [[ "${lines[$((3 + 3 * i))]}" == *"fix: use an image from a trusted registry, or add its registry to registries.allow" ]]
  done
  # Not a terminal: no colours.
  [[ "$output" != *$'\e'* ]]
}

@test "run --output text: colours only on a terminal, and never with NO_COLOR" {
  settings='{"registries": {"allow": ["quay.io"]}}'
  cmd="'$IMAGEGATE' run --policy '$POLICY' --request '$POD_REQUEST' --settings-json '$settings' -o text"
  run script -qec "$cmd" /dev/null
  echo "terminal = ${output}"
  [ "$status" -eq 3 ]
  [[ "$output" == *$'\e[1;31mREJECTED\e[0m'* ]]
  run script -qec "NO_COLOR=1 $cmd" /dev/null
  echo "NO_COLOR = ${output}"
  [ "$status" -eq 3 ]
  [[ "$output" == *"REJECTED: "* ]]
  [[ "$output" != *$'\e['* ]]
}

@test "run --output text: ALLOWED, then each warning with its rule and fix" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" \
    --settings-json '{"registries": {"allow": ["quay.io"]}, "actions": {"source": "warn"}}' -o text
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 4 ]
  [ "${lines[0]}" = "ALLOWED" ]
  [ $(( (${#lines[@]} - 1) % 3 )) -eq 0 ]
  for ((i = 1; i < ${#lines[@]}; i += 3)); do
    [[ "${lines[$i]}" == "  warn  spec."* ]]
    [[ "${lines[$((i + 1))]}" == *"[source]" ]]
    [[ "${lines[$((i + 2))]}" == *"fix: "*"registries.allow" ]]
  done
}

@test "run without settings says so on stderr and evaluates with {}" {
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" -o text
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 0 ]
  [ "$output" = "ALLOWED" ]
  [[ "$stderr" == *"no settings given"*"evaluating with {}"* ]]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json '{}'
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
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
    [[ ("$status" -eq 0 && "${lines[0]}" == "ALLOWED") || ("$status" -eq 3 && "${lines[0]}" == "REJECTED: "*) ]]
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
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{"registries": {"allow": ["ghcr.io"]}}' -o text
  [ "$status" -eq 0 ]
  [ "$output" = "settings are valid" ]
}

@test "check-settings -o text: one problem per line, regular expressions as written; exit 1" {
  settings='{"tags": {"allowRegex": ["^v\\d+($"]}, "registires": {}}'
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json "$settings" -o json
  echo "json = ${output}"
  [ "$status" -eq 1 ]
  count=$(jq -r '.message | capture("^(?<n>[0-9]+) settings problem").n' <<<"$output")
  [ "$count" -eq 2 ]
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json "$settings" -o text
  echo "text = ${output}"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "settings are NOT valid: 2 settings problems" ]
  [ "${#lines[@]}" -eq 3 ]
  [[ "$output" == *'  - tags.allowRegex[0] "^v\d+($": '* ]]
  [[ "$output" == *'  - '*'"registires"'*'did you mean "registries"'* ]]
  [[ "$output" != *'\\d'* ]]
}

@test "check-settings: a readable report by default on a terminal" {
  run script -qec "'$IMAGEGATE' check-settings --policy '$POLICY' --settings-json '{\"registires\": {}}'" /dev/null
  echo "terminal = ${output}"
  [ "$status" -eq 1 ]
  [[ "$output" == *"settings are NOT valid"* ]]
  [[ "$output" != *'"valid"'* ]]
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

@test "inspect: the usage annotation is USAGE.md, a short user reference, not the README" {
  run --separate-stderr "$IMAGEGATE" inspect "$POLICY" -o json
  [ "$status" -eq 0 ]
  jq -j '.annotations["io.kubewarden.policy.usage"]' <<<"$output" >"$BATS_TEST_TMPDIR/usage.md"
  run diff "$ROOT/USAGE.md" "$BATS_TEST_TMPDIR/usage.md"
  echo "diff = ${output}"
  [ "$status" -eq 0 ]
  # What a policy user needs, bounded: inspect prints under 150 lines.
  run --separate-stderr "$IMAGEGATE" inspect "$POLICY"
  [ "$status" -eq 0 ]
  echo "inspect: ${#lines[@]} lines"
  [ "${#lines[@]}" -lt 150 ]
  [[ "$output" != *"## Developing imagegate"* && "$output" != *"## Decisions"* ]]
}

@test "USAGE.md: its settings reference is the README's, and its example is valid" {
  # The first yaml block after the heading "## Settings" in each file.
  settings_block() {
    awk '/^## Settings/ { on = 1 } on && /^```yaml$/ { b = 1; next } b && /^```$/ { exit } b { print }' "$1"
  }
  diff <(settings_block "$ROOT/README.md") <(settings_block "$ROOT/USAGE.md")
  awk '/^## Example/ { on = 1 } on && /^```yaml$/ { b = 1; next } b && /^```$/ { exit } b { print }' \
    "$ROOT/USAGE.md" >"$BATS_TEST_TMPDIR/example.yaml"
  [ -s "$BATS_TEST_TMPDIR/example.yaml" ]
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings "$BATS_TEST_TMPDIR/example.yaml" -o json
  echo "check-settings = ${output}"
  [ "$status" -eq 0 ]
}

# --- flag conventions, completions, man page -----------------------------------

# The subcommands, as `imagegate --help` lists them.
subcommands() {
  "$IMAGEGATE" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' | grep -vx help
}

@test "kwctl's annotate -o FILE and pull -o FILE fail with a tip naming --output-path" {
  run --separate-stderr "$IMAGEGATE" annotate -m "$ROOT/metadata.yml" -o "$BATS_TEST_TMPDIR/a.wasm" "$ROOT/policy.wasm"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"tip: write the annotated module with --output-path FILE (kwctl's -o FILE)"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/a.wasm" ]
  run --separate-stderr "$IMAGEGATE" pull registry://127.0.0.1:1/p/i:1 -o "$BATS_TEST_TMPDIR/p.wasm"
  echo "stderr = ${stderr}"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"--output-path FILE"* ]]
  run --separate-stderr "$IMAGEGATE" scan "$ROOT/testdata/scan" --settings-json '{}' -f json
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"tip: the report format is -o/--output (or --format)"* ]]
}

@test "completions: bash, zsh and fish scripts that load and name every subcommand" {
  mapfile -t commands < <(subcommands)
  echo "commands = ${commands[*]}"
  [ "${#commands[@]}" -ge 11 ]
  for shell in bash zsh fish; do
    run --separate-stderr "$IMAGEGATE" completions "$shell"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/imagegate.$shell"
    for command in "${commands[@]}"; do
      grep -q -- "$command" "$BATS_TEST_TMPDIR/imagegate.$shell" || { echo "$shell: no $command"; return 1; }
    done
    if command -v "$shell" >/dev/null; then
      "$shell" -n "$BATS_TEST_TMPDIR/imagegate.$shell"
    fi
  done
  # bash: sourced, it registers a completion for imagegate.
  bash -c "source '$BATS_TEST_TMPDIR/imagegate.bash' && complete -p imagegate"
  run --separate-stderr "$IMAGEGATE" completions tcsh
  [ "$status" -eq 2 ]
}

@test "man: a page for imagegate and for every subcommand" {
  run --separate-stderr "$IMAGEGATE" man
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == ".ie \\n(.g .ds Aq"* || "$output" == *".TH imagegate 1"* ]]
  mapfile -t commands < <(subcommands)
  run --separate-stderr "$IMAGEGATE" man --dir "$BATS_TEST_TMPDIR/man"
  [ "$status" -eq 0 ]
  [ -f "$BATS_TEST_TMPDIR/man/imagegate.1" ]
  for command in "${commands[@]}"; do
    [ -f "$BATS_TEST_TMPDIR/man/imagegate-$command.1" ] || { echo "no page for $command"; return 1; }
  done
  # roff writes the hyphens of flags as \-.
  grep -qE 'output(\\)?-path' "$BATS_TEST_TMPDIR/man/imagegate-pull.1"
  if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$BATS_TEST_TMPDIR/man/imagegate-scan.1" | grep -q -- "--stdin-filename"
  fi
}

# --- exit codes (README "Exit codes") ----------------------------------------------

@test "exit codes: check-settings 0 valid, 1 not valid, 2 input error" {
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{}'
  [ "$status" -eq 0 ]
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{"registires": {}}'
  [ "$status" -eq 1 ]
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings "$BATS_TEST_TMPDIR/missing.yaml"
  [ "$status" -eq 2 ]
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings-json '{}' -o yaml
  [ "$status" -eq 2 ]
}

@test "exit codes: run 0 evaluated (JSON, whatever the verdict), 1 not valid, 2 input error, 3 rejected (-o text)" {
  rejecting='{"registries": {"allow": ["quay.io"]}}'
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$rejecting"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false' <<<"$output"
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$rejecting" -o validation
  [ "$status" -eq 0 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json "$rejecting" -o text
  [ "$status" -eq 3 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json '{}' -o text
  [ "$status" -eq 0 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$POD_REQUEST" --settings-json '{"registires": {}}' -o text
  [ "$status" -eq 1 ]
  run --separate-stderr "$IMAGEGATE" run --policy "$POLICY" --request "$BATS_TEST_TMPDIR/missing.json" -o text
  [ "$status" -eq 2 ]
}
