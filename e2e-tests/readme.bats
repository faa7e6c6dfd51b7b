#!/usr/bin/env bats
# The settings examples in README.md are tested: every ```yaml block whose
# first line is `# case: NAME` is run, as YAML, with the workload of
# testdata/cases/NAME.json, and must give that case's expected verdict.

load helpers

# Writes each README block to $BATS_TEST_TMPDIR/readme/NAME.yaml.
extract_readme_settings() {
  mkdir -p "$BATS_TEST_TMPDIR/readme"
  awk -v dir="$BATS_TEST_TMPDIR/readme" '
    /^```yaml$/ { inblock = 1; first = 1; next }
    /^```$/     { inblock = 0; file = ""; next }
    inblock && first { first = 0; if ($0 ~ /^# case: /) { file = dir "/" $3 ".yaml" } ; next }
    inblock && file != "" { print > file }
  ' "$ROOT/README.md"
}

@test "README settings examples give the verdicts of their cases" {
  extract_readme_settings
  count=0
  for settings in "$BATS_TEST_TMPDIR"/readme/*.yaml; do
    name=$(basename "$settings" .yaml)
    case="$CASES/$name.json"
    [ -f "$case" ] || { echo "README names unknown case $name"; return 1; }
    request=$(case_request "$case")
    # shellcheck disable=SC2046 # the flags are two words or none
    run "$IMAGEGATE" run --policy "$POLICY" --settings "$settings" --request "$request" $(case_capability_flags "$case")
    echo "README example for $name"
    [ "$status" -eq 0 ]
    assert_case_output "$case"
    count=$((count + 1))
  done
  echo "checked $count README examples"
  [ "$count" -ge 6 ]
}
