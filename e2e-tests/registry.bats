#!/usr/bin/env bats
# Digest resolution (SPEC 2.5) and image metadata (SPEC 2.6, rule
# imageMetadata) against REAL registries on loopback: Debian's
# docker-registry (the CNCF distribution registry), started and stopped here,
# holding small OCI images this file writes itself and pushes with skopeo.
# imagegate answers the policy's `kubewarden/oci/v1/manifest_digest`,
# `v1/oci_manifest` and `v1/oci_manifest_config` calls with its own registry
# client; nothing here is recorded or faked, except a
# listener that accepts connections and never answers (a registry that hangs).
#
# Needs docker-registry, skopeo and htpasswd (apache2-utils); the tests fail,
# never skip, without them: apt-get install -y docker-registry skopeo apache2-utils

load helpers
load registry

setup_file() {
  registry_sandbox

  # Images: one single-platform image (tag v1), and a multi-arch index over
  # two images (tag multi), written as an OCI layout.
  local layout="$REGISTRY_WORK/layout" v1 amd64 arm64 index
  mkdir -p "$layout"
  v1=$(put_image "$layout" linux amd64 "hello from v1")
  tag_layout "$layout" v1 "$v1" application/vnd.oci.image.manifest.v1+json
  export V1_DIGEST="${v1% *}"
  export V1_MANIFEST="$layout/blobs/sha256/${V1_DIGEST#sha256:}"

  local multi="$REGISTRY_WORK/multi"
  mkdir -p "$multi"
  amd64=$(put_image "$multi" linux amd64 "hello from amd64")
  arm64=$(put_image "$multi" linux arm64 "hello from arm64")
  index=$(printf '%s linux amd64\n%s linux arm64\n' "$amd64" "$arm64" | put_index "$multi")
  tag_layout "$multi" multi "$index" application/vnd.oci.image.index.v1+json
  export INDEX_DIGEST="${index% *}" AMD64_DIGEST="${amd64% *}" ARM64_DIGEST="${arm64% *}"

  # An open registry on 127.0.0.1, the same storage served on [::1] too.
  export OPEN="127.0.0.1:$(free_port)"
  start_registry "$REGISTRY_WORK/open" "$OPEN"
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests \
    "oci:$layout:v1" "docker://$OPEN/demo/app:v1"
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests --all \
    "oci:$multi:multi" "docker://$OPEN/demo/app:multi"
  export OPEN6="[::1]:$(free_port ::1)"
  start_registry "$REGISTRY_WORK/open" "$OPEN6"

  # imageMetadata: an image whose manifest carries OpenShift's
  # deny-execution annotation, its twin without it, an image without labels,
  # and a multi-arch index whose linux/amd64 manifest carries the annotation.
  local deny='{"images.openshift.io/deny-execution": "true"}' team='{"team": "payments"}'
  push_meta_image denied "$deny" "$team"
  push_meta_image twin null "$team"
  push_meta_image unlabelled null null
  local metamulti="$REGISTRY_WORK/meta-multi" m_amd64 m_arm64 m_index
  mkdir -p "$metamulti"
  m_amd64=$(put_image "$metamulti" linux amd64 "amd64" "$deny" "$team")
  m_arm64=$(put_image "$metamulti" linux arm64 "arm64" null "$team")
  m_index=$(printf '%s linux amd64\n%s linux arm64\n' "$m_amd64" "$m_arm64" | put_index "$metamulti" '{"release": "beta"}')
  tag_layout "$metamulti" multi "$m_index" application/vnd.oci.image.index.v1+json
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests --all \
    "oci:$metamulti:multi" "docker://$OPEN/meta/multi:1"
  export META_AMD64_DIGEST="${m_amd64% *}"

  # A registry that wants basic auth (htpasswd, bcrypt).
  htpasswd -Bbn alice 's3cret!' >"$REGISTRY_WORK/htpasswd"
  export PRIVATE="127.0.0.1:$(free_port)"
  start_registry "$REGISTRY_WORK/private" "$PRIVATE" "$REGISTRY_WORK/htpasswd"
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests --dest-creds 'alice:s3cret!' \
    "oci:$layout:v1" "docker://$PRIVATE/team/app:v1"

  # A port nothing listens on, and a listener that never answers.
  export DOWN="127.0.0.1:$(free_port)"
  export HANG="127.0.0.1:$(free_port)"
  start_hanging_listener "${HANG#*:}"
}

teardown_file() {
  stop_started
}

# Pushes $OPEN/meta/app:$1, a single-platform image with manifest
# annotations $2 and image config labels $3 (JSON objects, or null).
push_meta_image() {
  local name="$1" layout="$REGISTRY_WORK/meta-$1" digest
  mkdir -p "$layout"
  digest=$(put_image "$layout" linux amd64 "hello from meta" "$2" "$3")
  tag_layout "$layout" "$name" "$digest" application/vnd.oci.image.manifest.v1+json
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests \
    "oci:$layout:$name" "docker://$OPEN/meta/app:$name"
}

# `imagegate run` on a one-container Pod running image $1 with settings $2,
# and any further flags.
run_pod() {
  local image="$1" settings="$2"
  shift 2
  run timeout 60 "$IMAGEGATE" run --policy "$POLICY" --request "$(pod_with_image "$image")" \
    --settings-json "$settings" "$@"
  echo "status = $status"
  echo "output = $output"
}

# The value the JSON Patch in $output writes to the first container's image.
patched_image() {
  decoded_patch <<<"$output" | jq -r '.[] | select(.path == "/spec/containers/0/image") | .value'
}

# The policy's message in $output.
message() {
  jq -r '.status.message // ""' <<<"$output"
}

@test "AttemptRewrite pins a tag to the digest the registry serves" {
  run_pod "$OPEN/demo/app:v1" '{"digests": {"resolve": "AttemptRewrite"}}' --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == true' <<<"$output"
  [ "$(patched_image)" = "$OPEN/demo/app:v1@$V1_DIGEST" ]
  # The digest is the registry's, and the sha256 of the manifest bytes pushed.
  registry_digest=$(skopeo inspect --tls-verify=false "docker://$OPEN/demo/app:v1" | jq -r .Digest)
  echo "skopeo: $registry_digest"
  [ "$registry_digest" = "$V1_DIGEST" ]
  [ "sha256:$(sha256_of "$V1_MANIFEST")" = "$V1_DIGEST" ]
}

@test "a multi-arch tag resolves to the digest of its index, not of one platform's image" {
  run_pod "$OPEN/demo/app:multi" '{"digests": {"resolve": "Required"}}' --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == true' <<<"$output"
  [ "$(patched_image)" = "$OPEN/demo/app:multi@$INDEX_DIGEST" ]
  [ "$INDEX_DIGEST" != "$AMD64_DIGEST" ] && [ "$INDEX_DIGEST" != "$ARM64_DIGEST" ]
  skopeo inspect --raw --tls-verify=false "docker://$OPEN/demo/app:multi" >"$BATS_TEST_TMPDIR/index.json"
  jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == 2' "$BATS_TEST_TMPDIR/index.json"
  [ "sha256:$(sha256_of "$BATS_TEST_TMPDIR/index.json")" = "$INDEX_DIGEST" ]
}

@test "a registry on IPv6 loopback is reached as [::1]:PORT" {
  run_pod "$OPEN6/demo/app:v1" '{"digests": {"resolve": "Required"}}' --insecure-registry "$OPEN6"
  [ "$status" -eq 0 ]
  [ "$(patched_image)" = "$OPEN6/demo/app:v1@$V1_DIGEST" ]
}

@test "Required rejects a tag that does not exist, with the registry's reason" {
  run_pod "$OPEN/demo/app:nope" '{"digests": {"resolve": "Required"}}' --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false' <<<"$output"
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/demo/app:nope\": the digest of $OPEN/demo/app:nope could not be resolved: registry $OPEN: manifest unknown (MANIFEST_UNKNOWN) [digest]" ]
  [ "$(patched_image)" = "" ]
}

@test "Required rejects an image whose registry is down" {
  run_pod "$DOWN/demo/app:v1" '{"digests": {"resolve": "Required"}}' --insecure-registry "$DOWN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false' <<<"$output"
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$DOWN/demo/app:v1\": the digest of $DOWN/demo/app:v1 could not be resolved: registry $DOWN: connection refused [digest]" ]
}

@test "AttemptRewrite leaves an unresolvable image as it is, and require then rejects it" {
  run_pod "$DOWN/demo/app:v1" '{"digests": {"resolve": "AttemptRewrite"}}' --insecure-registry "$DOWN"
  jq -e '.allowed == true and (.patch == null)' <<<"$output"
  run_pod "$DOWN/demo/app:v1" '{"digests": {"resolve": "AttemptRewrite", "require": true}}' --insecure-registry "$DOWN"
  [[ "$(message)" == *"the image is not pinned to a digest, and resolving its digest failed: registry $DOWN: connection refused [digest]" ]]
}

@test "require alone rejects unpinned images and accepts pinned ones, without lookups" {
  run_pod "$OPEN/demo/app:v1" '{"digests": {"require": true}}' --offline
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/demo/app:v1\": the image is not pinned to a digest; write it as name:tag@sha256:<digest> [digest]" ]
  run_pod "$OPEN/demo/app:v1@$V1_DIGEST" '{"digests": {"require": true}}' --offline
  [ "$status" -eq 0 ]
  jq -e '.allowed == true and .patch == null' <<<"$output"
  # Pinned images are not looked up even when resolving: the registry is down.
  run_pod "$DOWN/demo/app:v1@$V1_DIGEST" '{"digests": {"require": true, "resolve": "Required"}}' --insecure-registry "$DOWN"
  jq -e '.allowed == true and .patch == null' <<<"$output"
}

@test "a registry that hangs costs one lookup timeout, not a hung host" {
  # Plain HTTP: the request is sent and never answered.
  run_pod "$HANG/demo/app:v1" '{"digests": {"resolve": "Required"}}' \
    --insecure-registry "$HANG" --lookup-timeout-ms 1500
  [ "$status" -eq 0 ]
  [[ "$(message)" == *"could not be resolved: registry $HANG: timeout after 1500ms [digest]" ]]
  # HTTPS: the TLS handshake is never answered.
  run_pod "$HANG/demo/app:v1" '{"digests": {"resolve": "Required"}}' --lookup-timeout-ms 1500
  [ "$status" -eq 0 ]
  [[ "$(message)" == *"could not be resolved: registry $HANG: timeout after 1500ms [digest]" ]]
}

@test "the policy's time limit counts the policy's work, not the host's wait on a registry" {
  # A 50 ms limit for the guest, a 1.5 s wait in the host: the verdict names
  # the registry's timeout, not "policy exceeded its time limit".
  run_pod "$HANG/demo/app:v1" '{"digests": {"resolve": "Required"}}' \
    --insecure-registry "$HANG" --lookup-timeout-ms 1500 --timeout-ms 50
  [ "$status" -eq 0 ]
  [[ "$(message)" == *"registry $HANG: timeout after 1500ms [digest]" ]]
  [[ "$output" != *"time limit"* ]]
}

@test "--offline refuses lookups with a clear reason" {
  run_pod "$OPEN/demo/app:v1" '{"digests": {"resolve": "Required"}}' --offline --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/demo/app:v1\": the digest of $OPEN/demo/app:v1 could not be resolved: host capability kubewarden/oci/v1/manifest_digest is not available: imagegate was started with --offline [digest]" ]
}

@test "HTTPS is the default: a plain-HTTP registry not named --insecure-registry fails with a hint" {
  run_pod "$OPEN/demo/app:v1" '{"digests": {"resolve": "Required"}}'
  [ "$status" -eq 0 ]
  [[ "$(message)" == *"registry $OPEN: TLS failed: "*"; if it serves plain HTTP, name it with --insecure-registry $OPEN [digest]" ]]
}

@test "basic auth: anonymous is refused, a docker config.json (auth or username/password) is used" {
  settings='{"digests": {"resolve": "Required"}}'
  run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE"
  [[ "$(message)" == *"registry $PRIVATE: unauthorized: the registry refused the pull anonymously: no docker config.json found (pass --docker-config FILE or set DOCKER_CONFIG) [digest]" ]]

  # --docker-config FILE, the base64 `auth` form `docker login` writes.
  jq -n --arg r "$PRIVATE" --arg a "$(printf '%s' 'alice:s3cret!' | base64)" \
    '{auths: {($r): {auth: $a}}}' >"$BATS_TEST_TMPDIR/config.json"
  run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE" --docker-config "$BATS_TEST_TMPDIR/config.json"
  [ "$(patched_image)" = "$PRIVATE/team/app:v1@$V1_DIGEST" ]

  # $DOCKER_CONFIG/config.json, the username/password form, keyed by URL.
  mkdir -p "$BATS_TEST_TMPDIR/docker"
  jq -n --arg r "http://$PRIVATE/v2/" '{auths: {($r): {username: "alice", password: "s3cret!"}}}' \
    >"$BATS_TEST_TMPDIR/docker/config.json"
  DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker" run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE"
  [ "$(patched_image)" = "$PRIVATE/team/app:v1@$V1_DIGEST" ]

  # A wrong password is named, with the file it came from.
  jq -n --arg r "$PRIVATE" '{auths: {($r): {username: "alice", password: "wrong"}}}' >"$BATS_TEST_TMPDIR/wrong.json"
  run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE" --docker-config "$BATS_TEST_TMPDIR/wrong.json"
  [[ "$(message)" == *"registry $PRIVATE: unauthorized: the registry refused the pull as user \"alice\" from $BATS_TEST_TMPDIR/wrong.json [digest]" ]]
}

@test "a docker config.json that cannot be read is an input error (exit 2)" {
  echo '{"auths": {"r": {"auth": "not base64!"}}}' >"$BATS_TEST_TMPDIR/bad.json"
  run_pod "$OPEN/demo/app:v1" '{}' --docker-config "$BATS_TEST_TMPDIR/bad.json"
  [ "$status" -eq 2 ]
  [ "$output" = "imagegate: error: docker config \"$BATS_TEST_TMPDIR/bad.json\": auths.\"r\": auth: not base64 text" ]
  run_pod "$OPEN/demo/app:v1" '{}' --docker-config "$BATS_TEST_TMPDIR/missing.json"
  [ "$status" -eq 2 ]
  [[ "$output" == "imagegate: error: docker config \"$BATS_TEST_TMPDIR/missing.json\": cannot read it: "* ]]
}

# imageMetadata (SPEC 2.6) against the open registry.

DENY_EXECUTION='{"imageMetadata": {"rejectAnnotations": {"images.openshift.io/deny-execution": "true"}}}'

@test "imageMetadata: an image annotated images.openshift.io/deny-execution is rejected, its twin is accepted" {
  run_pod "$OPEN/meta/app:denied" "$DENY_EXECUTION" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == false' <<<"$output"
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/meta/app:denied\": manifest annotation images.openshift.io/deny-execution=\"true\" is rejected [imageMetadata]" ]
  # The annotation is really in the manifest the registry serves.
  skopeo inspect --raw --tls-verify=false "docker://$OPEN/meta/app:denied" |
    jq -e '.annotations["images.openshift.io/deny-execution"] == "true"'
  run_pod "$OPEN/meta/app:twin" "$DENY_EXECUTION" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == true and .warnings == null' <<<"$output"
}

@test "imageMetadata: a required image config label that is missing is rejected" {
  settings='{"imageMetadata": {"requireLabels": {"team": "*"}}}'
  run_pod "$OPEN/meta/app:unlabelled" "$settings" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/meta/app:unlabelled\": required image config label team is missing [imageMetadata]" ]
  run_pod "$OPEN/meta/app:twin" "$settings" --insecure-registry "$OPEN"
  jq -e '.allowed == true' <<<"$output"
  run_pod "$OPEN/meta/app:twin" '{"imageMetadata": {"requireLabels": {"team": "search"}}}' --insecure-registry "$OPEN"
  [[ "$(message)" == *": image config label team=\"payments\" is not the required value \"search\" [imageMetadata]" ]]
}

@test "imageMetadata: for a multi-arch index, the index's and the linux/amd64 manifest's annotations count" {
  settings='{"imageMetadata": {"rejectAnnotations": {"images.openshift.io/deny-execution": "true", "release": "beta"}, "requireLabels": {"team": "payments"}}}'
  run_pod "$OPEN/meta/multi:1" "$settings" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/meta/multi:1\": index annotation release=\"beta\" is rejected, linux/amd64 manifest annotation images.openshift.io/deny-execution=\"true\" is rejected (manifest $META_AMD64_DIGEST) [imageMetadata]" ]
}

@test "imageMetadata: a lookup failure rejects, unless skipOnResolutionFailure" {
  run_pod "$OPEN/meta/app:nope" "$DENY_EXECUTION" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/meta/app:nope\": the metadata of $OPEN/meta/app:nope could not be read: registry $OPEN: manifest unknown (MANIFEST_UNKNOWN) [imageMetadata]" ]
  run_pod "$DOWN/meta/app:denied" "$DENY_EXECUTION" --insecure-registry "$DOWN"
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$DOWN/meta/app:denied\": the metadata of $DOWN/meta/app:denied could not be read: registry $DOWN: connection refused [imageMetadata]" ]
  skip='{"imageMetadata": {"rejectAnnotations": {"images.openshift.io/deny-execution": "true"}, "skipOnResolutionFailure": true}}'
  run_pod "$DOWN/meta/app:denied" "$skip" --insecure-registry "$DOWN"
  [ "$status" -eq 0 ]
  jq -e '.allowed == true and .warnings == null' <<<"$output"
  # Skipping failures does not skip answers: the annotated image is still rejected.
  run_pod "$OPEN/meta/app:denied" "$skip" --insecure-registry "$OPEN"
  jq -e '.allowed == false' <<<"$output"
}

@test "imageMetadata: actions.imageMetadata warn accepts with a warning" {
  settings='{"imageMetadata": {"rejectAnnotations": {"images.openshift.io/deny-execution": "*"}}, "actions": {"imageMetadata": "warn"}}'
  run_pod "$OPEN/meta/app:denied" "$settings" --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  jq -e --arg w "spec.containers[0].image \"$OPEN/meta/app:denied\": manifest annotation images.openshift.io/deny-execution=\"true\" is rejected [imageMetadata]" \
    '.allowed == true and .warnings == [$w] and .status == null' <<<"$output"
}

@test "imageMetadata: --offline refuses the manifest lookup with a clear reason" {
  run_pod "$OPEN/meta/app:twin" "$DENY_EXECUTION" --offline --insecure-registry "$OPEN"
  [ "$status" -eq 0 ]
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$OPEN/meta/app:twin\": the metadata of $OPEN/meta/app:twin could not be read: host capability kubewarden/oci/v1/oci_manifest is not available: imagegate was started with --offline [imageMetadata]" ]
}

@test "imageMetadata: manifests and configs are read with the same credentials as digests" {
  settings='{"imageMetadata": {"requireLabels": {"team": "*"}}}'
  run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE"
  [[ "$(message)" == *"could not be read: registry $PRIVATE: unauthorized: the registry refused the pull anonymously: "*" [imageMetadata]" ]]
  jq -n --arg r "$PRIVATE" --arg a "$(printf '%s' 'alice:s3cret!' | base64)" \
    '{auths: {($r): {auth: $a}}}' >"$BATS_TEST_TMPDIR/config.json"
  run_pod "$PRIVATE/team/app:v1" "$settings" --insecure-registry "$PRIVATE" --docker-config "$BATS_TEST_TMPDIR/config.json"
  # The manifest and the configuration were read: the verdict is about the label.
  [ "$(message)" = "1 image violation: spec.containers[0].image \"$PRIVATE/team/app:v1\": required image config label team is missing [imageMetadata]" ]
}
