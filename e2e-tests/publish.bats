#!/usr/bin/env bats
# Publishing (issue #9) against a REAL registry on loopback (Debian's
# docker-registry): `imagegate push` writes the Kubewarden OCI artifact
# layout, `imagegate pull` and `--policy registry://…` read it back, through
# the cache, and refuse what is not a policy artifact with a clear message.
# Foreign artifacts are written with curl (the registry's own HTTP API) and
# skopeo, not with imagegate.
#
# Needs docker-registry, skopeo, curl and jq:
#   apt-get install -y docker-registry skopeo apache2-utils curl jq

load helpers
load registry

setup_file() {
  registry_sandbox
  # Pulled policies go here (and the module cache too), never to the user's.
  export IMAGEGATE_CACHE_DIR="$REGISTRY_WORK/cache"
  export REG="127.0.0.1:$(free_port)"
  start_registry "$REGISTRY_WORK/registry" "$REG"
  [ -f "$POLICY" ] || { echo "no $POLICY: make annotated-policy.wasm" >&2; return 1; }
  export PLAIN="$ROOT/policy.wasm"
}

teardown_file() {
  stop_started
}

ig() {
  run timeout 120 "$IMAGEGATE" "$@"
  echo "status = $status"
  echo "output = $output"
}

# The manifest of $1 (REPO:TAG or REPO@DIGEST) as the registry serves it.
manifest_of() {
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/${1%%[:@]*}/manifests/${1#*[:@]}"
}

# Uploads file $2 as a blob of repository $1 (monolithic POST+PUT); prints
# "sha256:<hex> <size>".
curl_blob() {
  local repo="$1" file="$2" digest location
  digest="sha256:$(sha256_of "$file")"
  location=$(curl -fsS -X POST -D - -o /dev/null "http://$REG/v2/$repo/blobs/uploads/" |
    sed -n 's/^[Ll]ocation: *\(.*\)\r$/\1/p')
  case "$location" in /*) location="http://$REG$location" ;; esac
  case "$location" in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$location" >/dev/null
  echo "$digest $(stat -c %s "$file")"
}

# Pushes to $1:$2 a manifest with the wasm config and one layer of media
# type $3 holding file $4.
curl_artifact() {
  local repo="$1" tag="$2" media_type="$3" file="$4" config layer
  printf '{}' >"$BATS_TEST_TMPDIR/config.json"
  config=$(curl_blob "$repo" "$BATS_TEST_TMPDIR/config.json")
  layer=$(curl_blob "$repo" "$file")
  jq -cn --arg cd "${config% *}" --argjson cs "${config#* }" --arg ld "${layer% *}" \
    --argjson ls "${layer#* }" --arg lm "$media_type" \
    '{schemaVersion: 2, config: {mediaType: "application/vnd.wasm.config.v1+json", digest: $cd, size: $cs},
      layers: [{mediaType: $lm, digest: $ld, size: $ls}]}' | tr -d '\n' >"$BATS_TEST_TMPDIR/manifest.json"
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$BATS_TEST_TMPDIR/manifest.json" "http://$REG/v2/$repo/manifests/$tag" >/dev/null
}

@test "push writes the Kubewarden artifact layout and prints the immutable reference" {
  ig push "$POLICY" "registry://$REG/policies/imagegate:v0.1.0" --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^"Policy successfully pushed: registry://$REG/policies/imagegate@sha256:"[0-9a-f]{64}$ ]]
  digest="${output##*@}"

  manifest_of "policies/imagegate:v0.1.0" >"$BATS_TEST_TMPDIR/m.json"
  cat "$BATS_TEST_TMPDIR/m.json"
  # The digest printed is the registry's digest of the manifest.
  [ "sha256:$(sha256_of "$BATS_TEST_TMPDIR/m.json")" = "$digest" ]
  [ "$(skopeo inspect --raw --tls-verify=false "docker://$REG/policies/imagegate:v0.1.0" | sha256sum | cut -d' ' -f1)" = "${digest#sha256:}" ]
  jq -e --arg d "sha256:$(sha256_of "$POLICY")" --argjson s "$(stat -c %s "$POLICY")" '
    .schemaVersion == 2
    and .config.mediaType == "application/vnd.wasm.config.v1+json" and .config.size == 2
    and (.layers | length) == 1
    and .layers[0].mediaType == "application/vnd.wasm.content.layer.v1+wasm"
    and .layers[0].digest == $d and .layers[0].size == $s
    and .annotations["io.kubewarden.policy.title"] == "imagegate"
    and .annotations["org.opencontainers.image.source"] == .annotations["io.kubewarden.policy.source"]
    and (.annotations | has("io.kubewarden.policy.usage") | not)' "$BATS_TEST_TMPDIR/m.json"
  # The config blob is `{}`.
  config=$(jq -r .config.digest "$BATS_TEST_TMPDIR/m.json")
  [ "$(curl -fsS "http://$REG/v2/policies/imagegate/blobs/$config")" = "{}" ]

  # -o json, and `registry://` may be left out of the destination.
  ig push "$POLICY" "$REG/policies/imagegate:v0.1.0" --insecure-registry "$REG" -o json
  [ "$status" -eq 0 ]
  jq -e --arg r "registry://$REG/policies/imagegate@$digest" '.immutable_ref == $r' <<<"$output"
}

@test "pull gives back the pushed bytes, by tag and by digest, and the cache serves repeats" {
  ig push "$POLICY" "registry://$REG/policies/imagegate:pull" --insecure-registry "$REG" -o json
  ref=$(jq -r .immutable_ref <<<"$output")

  ig pull "registry://$REG/policies/imagegate:pull" --output-path "$BATS_TEST_TMPDIR/pulled.wasm" --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  [ "$output" = "Policy successfully pulled: $ref -> $BATS_TEST_TMPDIR/pulled.wasm" ]
  cmp "$POLICY" "$BATS_TEST_TMPDIR/pulled.wasm"

  ig pull "$ref" --insecure-registry "$REG" --format json
  [ "$status" -eq 0 ]
  jq -e --arg r "$ref" --arg l "sha256:$(sha256_of "$POLICY")" \
    '.immutable_ref == $r and .layer_digest == $l and .from_cache == true' <<<"$output"
  cached=$(jq -r .path <<<"$output")
  [[ "$cached" == "$IMAGEGATE_CACHE_DIR/policies/$REG/policies/imagegate/sha256-"*"/policy.wasm" ]]
  cmp "$POLICY" "$cached"

  # The reference forms push takes: `registry://` may be left out; -o is the format.
  ig pull "$REG/policies/imagegate:pull" --insecure-registry "$REG" -o json
  [ "$status" -eq 0 ]
  jq -e --arg r "$ref" '.immutable_ref == $r' <<<"$output"
}

@test "run, check-settings, scan and inspect take --policy registry://" {
  ig push "$POLICY" "registry://$REG/policies/imagegate:run" --insecure-registry "$REG"
  uri="registry://$REG/policies/imagegate:run"
  request="$REQUESTS/pod_create.json"
  settings='{"registries": {"allow": ["registry.k8s.io"]}}'

  ig run --policy "$POLICY" --request "$request" --settings-json "$settings" --offline
  [ "$status" -eq 0 ]
  local_output="$output"
  ig run --policy "$uri" --request "$request" --settings-json "$settings" --offline --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  [ "$output" = "$local_output" ]

  ig check-settings --policy "$uri" --settings-json '{"tags": {"reject": "latest"}}' --insecure-registry "$REG"
  [ "$status" -eq 1 ]
  ig check-settings --policy "$uri" --settings-json "$settings" --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  jq -e '.valid == true' <<<"$output"

  ig scan "$(pod_with_image registry.k8s.io/pause:3.9)" --policy "$uri" --settings-json "$settings" --offline --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  ig scan "$(pod_with_image docker.io/library/nginx:1.27)" --policy "$uri" --settings-json "$settings" --offline --insecure-registry "$REG"
  [ "$status" -eq 3 ]

  ig inspect "$POLICY" -o json
  local_inspect="$output"
  ig inspect "$uri" -o json --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  [ "$output" = "$local_inspect" ]
  jq -e '.mutating == true and .protocolVersion == "v1" and .executionMode == "kubewarden-wapc"' <<<"$output"
}

@test "a tag moved to a new push is pulled again; a damaged cache entry is replaced" {
  uri="registry://$REG/policies/moving:latest"
  ig push "$POLICY" "$uri" --insecure-registry "$REG" -o json
  first=$(jq -r .immutable_ref <<<"$output")
  ig pull "$uri" --insecure-registry "$REG" --format json
  jq -e '.from_cache == false' <<<"$output"

  ig push "$PLAIN" "$uri" --force --insecure-registry "$REG" -o json
  second=$(jq -r .immutable_ref <<<"$output")
  [ "$first" != "$second" ]
  ig pull "$uri" --insecure-registry "$REG" --format json
  jq -e --arg r "$second" '.immutable_ref == $r and .from_cache == false' <<<"$output"
  cached=$(jq -r .path <<<"$output")
  cmp "$PLAIN" "$cached"

  # Damage the entry: the next use notices and pulls again.
  printf 'garbage' >"$cached"
  ig pull "$uri" --insecure-registry "$REG" --format json
  jq -e '.from_cache == false' <<<"$output"
  cmp "$PLAIN" "$cached"
}

@test "an unannotated module is refused unless --force, which pushes it without annotations" {
  ig push "$PLAIN" "registry://$REG/policies/plain:v1" --insecure-registry "$REG"
  [ "$status" -eq 2 ]
  [[ "$output" == *"policy \"$PLAIN\" has no Kubewarden metadata: annotate it first"*"or push it anyway with --force" ]]
  ig push "$PLAIN" "registry://$REG/policies/plain:v1" --insecure-registry "$REG" --force
  [ "$status" -eq 0 ]
  manifest_of "policies/plain:v1" | jq -e 'has("annotations") | not'
}

@test "pull accepts an artifact written by another tool in the same layout" {
  # What kwctl writes, byte by byte here with curl.
  curl_artifact policies/foreign v1 application/vnd.wasm.content.layer.v1+wasm "$POLICY"
  ig pull "registry://$REG/policies/foreign:v1" --output-path "$BATS_TEST_TMPDIR/f.wasm" --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  cmp "$POLICY" "$BATS_TEST_TMPDIR/f.wasm"
}

@test "what is not a policy artifact is refused with a clear message" {
  # A container image (a tar+gzip layer), pushed with skopeo.
  layout="$BATS_TEST_TMPDIR/layout"
  mkdir -p "$layout"
  image=$(put_image "$layout" linux amd64 "not a policy")
  tag_layout "$layout" v1 "$image" application/vnd.oci.image.manifest.v1+json
  skopeo copy --quiet --dest-tls-verify=false "oci:$layout:v1" "docker://$REG/demo/app:v1"
  ig pull "registry://$REG/demo/app:v1" --insecure-registry "$REG"
  [ "$status" -eq 2 ]
  [ "$output" = "imagegate: error: policy registry://$REG/demo/app:v1 is not a Kubewarden policy: layer 0 has media type \"application/vnd.oci.image.layer.v1.tar+gzip\", not application/vnd.wasm.content.layer.v1+wasm" ]

  # A wasm layer that is not WebAssembly.
  printf 'hello, not wasm' >"$BATS_TEST_TMPDIR/text"
  curl_artifact policies/text v1 application/vnd.wasm.content.layer.v1+wasm "$BATS_TEST_TMPDIR/text"
  ig run --policy "registry://$REG/policies/text:v1" --request "$REQUESTS/pod_create.json" --insecure-registry "$REG"
  [ "$status" -eq 2 ]
  [[ "$output" == *"policy registry://$REG/policies/text:v1: the wasm layer is not a WebAssembly module (it does not start with the \\0asm magic bytes)" ]]

  # A tag that does not exist, and a repository that does not.
  ig pull "registry://$REG/policies/imagegate:nope" --insecure-registry "$REG"
  [ "$status" -eq 2 ]
  [ "$output" = "imagegate: error: cannot pull registry://$REG/policies/imagegate:nope: registry $REG: manifest unknown (MANIFEST_UNKNOWN)" ]
  ig inspect "registry://$REG/nothing/here:v1" --insecure-registry "$REG"
  [ "$status" -eq 2 ]
  [[ "$output" == *"cannot pull registry://$REG/nothing/here:v1: registry $REG: "* ]]

  # Another scheme is not a registry reference (none is: pull takes push's
  # forms); HTTPS by default.
  ig pull "https://$REG/policies/imagegate:v0.1.0"
  [ "$status" -eq 2 ]
  [[ "$output" == *"is not a registry reference: write registry://HOST[:PORT]/REPOSITORY:TAG" ]]
  ig pull "registry://$REG/policies/imagegate:v0.1.0"
  [ "$status" -eq 2 ]
  [[ "$output" == *"TLS failed: "*"; if it serves plain HTTP, name it with --insecure-registry $REG" ]]
}

@test "make release pushes the annotated module with the version tag" {
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
  run make -C "$ROOT" --no-print-directory release REGISTRY="$REG/policies/release" PUSH_FLAGS="--insecure-registry $REG"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Policy successfully pushed: registry://$REG/policies/release@sha256:"* ]]
  ig pull "registry://$REG/policies/release:v$version" --output-path "$BATS_TEST_TMPDIR/release.wasm" --insecure-registry "$REG"
  [ "$status" -eq 0 ]
  cmp "$ROOT/annotated-policy.wasm" "$BATS_TEST_TMPDIR/release.wasm"
}
