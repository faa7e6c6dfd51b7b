#!/usr/bin/env bats
# `imagegate annotate` writes what `kwctl annotate` writes: checked on the
# module `make annotated-policy.wasm` built with it.

load helpers

bats_require_minimum_version 1.5.0

@test "annotate writes io.kubewarden.kwctl with the annotating tool's version, as kwctl does" {
  version=$("$IMAGEGATE" --version | awk '{print $2}')
  run --separate-stderr "$IMAGEGATE" inspect -o json "$POLICY"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  jq -e --arg version "$version" '.annotations["io.kubewarden.kwctl"] == $version' <<<"$output"
}
