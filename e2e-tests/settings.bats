#!/usr/bin/env bats
# Settings people paste where settings belong, checked by `imagegate
# check-settings` through the real annotated module: each is named with what
# to write instead (policy/src/settings/pasted.rs), and a settings file with
# nothing in it is refused rather than read as `{}` (host/src/input.rs).

load helpers

bats_require_minimum_version 1.5.0

# check-settings of the YAML file $1; the policy's message is in $output,
# the host's errors in $stderr. The assertions look for text without quotes,
# so they hold for the JSON answer and a readable report alike.
check_settings_file() {
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings "$1"
  echo "status = ${status}"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
}

@test "the deploy/ ConfigMap passed as settings says to pass its data.settings.yaml" {
  check_settings_file "$ROOT/deploy/server/settings.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"this is a whole ConfigMap (as deploy/server/settings.yaml ships it), not settings: the settings are the text of its data."* ]]
}

@test "the deploy/ ConfigMap's data.settings.yaml is valid settings" {
  inner="$BATS_TEST_TMPDIR/settings.yaml"
  # The block under `settings.yaml: |`, unindented.
  sed -n '/settings.yaml: |/,$p' "$ROOT/deploy/server/settings.yaml" | tail -n +2 | sed 's/^    //' >"$inner"
  check_settings_file "$inner"
  [ "$status" -eq 0 ]
}

@test "a whole ClusterAdmissionPolicy passed as settings says to pass its spec.settings" {
  # The first document of a shipped example.
  sed '/^---$/,$d' "$ROOT/examples/trusted-registries-protect.yaml" >"$BATS_TEST_TMPDIR/cap.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/cap.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"this is a whole Kubewarden ClusterAdmissionPolicy, not settings: the settings are what is under its spec.settings"* ]]
}

@test "a settings: wrapper is named" {
  printf 'settings:\n  registries:\n    allow: [ghcr.io]\n' >"$BATS_TEST_TMPDIR/wrapped.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/wrapped.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"wrapper (a policy's spec.settings): write what is inside it at the top level"* ]]
}

@test "Gatekeeper K8sAllowedRepos repos are translated" {
  printf 'repos:\n  - "quay.io/"\n  - "ghcr.io/acme/"\n' >"$BATS_TEST_TMPDIR/repos.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/repos.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"this looks like Gatekeeper K8sAllowedRepos parameters (repos: string prefixes)"* ]]
  [[ "$output" == *quay.io*ghcr.io/acme* ]]
}

@test "an empty settings file is refused, saying to write {} to accept every image" {
  : >"$BATS_TEST_TMPDIR/empty.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/empty.yaml"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"the file is empty, so it holds no settings; to accept every image on purpose, write {}"* ]]
  printf '# nothing yet\n' >"$BATS_TEST_TMPDIR/comments.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/comments.yaml"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"the file has only comments or null"* ]]
  printf '{}\n' >"$BATS_TEST_TMPDIR/braces.yaml"
  check_settings_file "$BATS_TEST_TMPDIR/braces.yaml"
  [ "$status" -eq 0 ]
}
