#!/usr/bin/env bats
# `imagegate import` end to end: each incumbent's policy in testdata/import
# becomes settings that policy.wasm accepts (check-settings) and that decide
# as the comments say (run); and `scan -o policyreport` against the
# wgpolicyk8s.io/v1alpha2 schema.

load helpers

bats_require_minimum_version 1.5.0

IMPORT="$ROOT/testdata/import"

# Imports $1 (more flags after it) into $BATS_TEST_TMPDIR/settings.yaml;
# the differences go to $BATS_TEST_TMPDIR/differences.txt.
import_to_file() {
  "$IMAGEGATE" import "$@" >"$BATS_TEST_TMPDIR/settings.yaml" 2>"$BATS_TEST_TMPDIR/differences.txt"
}

check_settings() {
  run --separate-stderr "$IMAGEGATE" check-settings --policy "$POLICY" --settings "$BATS_TEST_TMPDIR/settings.yaml"
  echo "check-settings: $output $stderr"
  [ "$status" -eq 0 ]
}

# The verdict of the imported settings for a one-container Pod running $1:
# ALLOWED or REJECTED: ...
verdict() {
  jq -n --arg image "$1" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app", namespace: "default"},
       spec: {containers: [{name: "app", image: $image}]}}' >"$BATS_TEST_TMPDIR/pod.json"
  "$IMAGEGATE" run --policy "$POLICY" --offline --settings "$BATS_TEST_TMPDIR/settings.yaml" \
    -r "$BATS_TEST_TMPDIR/pod.json" -o text | head -1
}

@test "import gatekeeper K8sAllowedRepos: prefixes become boundaries, said in comments and on stderr" {
  import_to_file "$IMPORT/gatekeeper-allowed-repos.yaml"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '^# imagegate settings imported from .*gatekeeper-allowed-repos.yaml (gatekeeper)' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q -- '- "docker.io/openpolicyagent"' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'startswith admitted every name that begins with "ghcr.io/example-org"' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'K8sAllowedRepos/repo-is-openpolicyagent spec.parameters.repos\[1\] "ghcr.io/example-org" -> repositories.allow\[1\] \[prefix-boundary\]' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'excludedNamespaces\|namespaceSelector' "$BATS_TEST_TMPDIR/differences.txt"
  check_settings
  [ "$(verdict ghcr.io/example-org/app:1.0)" = "ALLOWED" ]
  [[ "$(verdict ghcr.io/example-org-evil/app:1.0)" == "REJECTED: "* ]]
  [ "$(verdict openpolicyagent/opa:0.9.2)" = "ALLOWED" ]
  [ "$(verdict docker.io/openpolicyagent/opa:0.9.2)" = "ALLOWED" ]
  [ "$(verdict registry.k8s.io/pause:3.9)" = "ALLOWED" ]
  [[ "$(verdict registry.k8s.io/pause:4.0)" == "REJECTED: "* ]]
  [[ "$(verdict nginx-evil:1)" == "REJECTED: "* ]]
  [ "$(verdict quay.io/any/thing:1)" = "ALLOWED" ]
}

@test "import gatekeeper --repos-match contains says every entry matched anywhere" {
  run --separate-stderr "$IMAGEGATE" import --repos-match contains "$IMPORT/gatekeeper-allowed-repos.yaml"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *'[substring]: contains() admitted every image with "quay.io/" anywhere in it'* ]]
}

@test "import gatekeeper: three constraints in one file, exemptions, actions, -o json" {
  run --separate-stderr "$IMAGEGATE" import -o json "$IMPORT/gatekeeper-constraints.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(jq -r .from <<<"$output")" = "gatekeeper" ]
  [ "$(jq -c .settings.tags <<<"$output")" = '{"reject":["latest"],"requireExplicit":true}' ]
  [ "$(jq -c .settings.digests <<<"$output")" = '{"require":true}' ]
  [ "$(jq -cS .settings.actions <<<"$output")" = '{"digest":"warn","tag":"warn"}' ]
  [ "$(jq -c .settings.exemptImages <<<"$output")" = '["openpolicyagent/opa-exp:latest","openpolicyagent/opa-exp2:latest","openpolicyagent/opa-exp"]' ]
  jq -e '.differences[] | select(.reason == "exempt-prefix" and .change == "notCarried")
         | select(.source | contains("\"harbor.corp.example/*\""))' <<<"$output"
  jq -e '.differences[] | select(.reason == "exemptions-global")' <<<"$output"
  jq -e '.differences[] | select(.reason == "dryrun" and .setting == "actions.digest")' <<<"$output"
  jq .settings <<<"$output" >"$BATS_TEST_TMPDIR/settings.yaml"
  check_settings
}

@test "import --manifest prints a ClusterAdmissionPolicy with the match as namespaceSelector" {
  run --separate-stderr "$IMAGEGATE" import --manifest --name trusted-images "$IMPORT/gatekeeper-allowed-repos.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  "${VENV:-$ROOT/target/venv}/bin/python" -c 'import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin)))' \
    <<<"$output" >"$BATS_TEST_TMPDIR/manifest.json"
  [ "$(jq -r .kind "$BATS_TEST_TMPDIR/manifest.json")" = "ClusterAdmissionPolicy" ]
  [ "$(jq -r .metadata.name "$BATS_TEST_TMPDIR/manifest.json")" = "trusted-images" ]
  [ "$(jq -c .spec.namespaceSelector "$BATS_TEST_TMPDIR/manifest.json")" = \
    '{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system","gatekeeper-system"]}]}' ]
  [ "$(jq -r .spec.mode "$BATS_TEST_TMPDIR/manifest.json")" = "protect" ]
  jq .spec.settings "$BATS_TEST_TMPDIR/manifest.json" >"$BATS_TEST_TMPDIR/settings.yaml"
  check_settings
}

@test "import trusted-repos settings: same keys, comments on what the bypasses change" {
  import_to_file "$IMPORT/trusted-repos.yaml"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '(trusted-repos)' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'digest-only-latest' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'library-cross-registry' "$BATS_TEST_TMPDIR/differences.txt"
  check_settings
  [[ "$(verdict registry-1.docker.io/library/nginx:1.27)" == "REJECTED: "* ]]
  [ "$(verdict registry.corp.example/app:1)" = "ALLOWED" ]
  [ "$(verdict "busybox@sha256:$(printf 'a%.0s' {1..64})")" = "ALLOWED" ]
}

@test "import trusted-repos: registry and image must both pass" {
  import_to_file "$IMPORT/trusted-repos-both.yaml"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'images.allow\[2\] "quay.io/coreos/etcd" \[registry-and-image\]: never admitted' "$BATS_TEST_TMPDIR/differences.txt"
  ! grep -q '^registries:' "$BATS_TEST_TMPDIR/settings.yaml"
  check_settings
  [ "$(verdict ghcr.io/kubewarden/kwctl:v1.20.0)" = "ALLOWED" ]
  [[ "$(verdict ghcr.io/kubewarden/other:1)" == "REJECTED: "* ]]
  [[ "$(verdict quay.io/coreos/etcd:v3.5.0)" == "REJECTED: "* ]]
}

@test "import an OpenShift Image: registrySources carried, import and runtime settings reported" {
  import_to_file "$IMPORT/openshift-image.yaml"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '(openshift)' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'allowedRegistriesForImport\[0\] "quay.io" \[image-streams\]' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'insecureRegistries\[0\] "insecure.com" \[runtime-setting\]' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'additionalTrustedCA \[cluster-setting\]' "$BATS_TEST_TMPDIR/differences.txt"
  check_settings
  [ "$(verdict a.corp.example/app:1)" = "ALLOWED" ]
  [ "$(verdict reg1.io/myrepo/myapp:latest)" = "ALLOWED" ]
  [[ "$(verdict reg1.io/myrepo/myapp:1.0)" == "REJECTED: "* ]]
  [[ "$(verdict docker.io/library/nginx:1)" == "REJECTED: "* ]]
}

@test "import an OpenShift ImagePolicyConfig: annotations, integrated registry, resolveImages" {
  import_to_file "$IMPORT/openshift-imagepolicy.yaml"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '"images.openshift.io/deny-execution": "true"' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'resolve: "AttemptRewrite"' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'skipOnResolutionFailure: true' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'image-annotations' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q 'builds are not checked' "$BATS_TEST_TMPDIR/differences.txt"
  check_settings
}

@test "import a policy.json: scopes, sigstore keys and identities as signatures, GPG and other transports reported" {
  import_to_file "$IMPORT/policy.json"
  cat "$BATS_TEST_TMPDIR/settings.yaml" "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '(policy-json)' "$BATS_TEST_TMPDIR/settings.yaml"
  grep -q 'transports.docker-daemon \[transport\]' "$BATS_TEST_TMPDIR/differences.txt"
  grep -q '\[gpg\]' "$BATS_TEST_TMPDIR/differences.txt"
  run "$IMAGEGATE" import -o json "$IMPORT/policy.json"
  [ "$status" -eq 0 ]
  [ "$(jq '[.settings.signatures[] | select(.keys)] | length' <<<"$output")" -eq 2 ]
  [ "$(jq -c '.settings.signatures[] | select(.keyless) | .keyless' <<<"$output")" = \
    '[{"issuer":"https://github.com/login/oauth","subject":"release@example.com"}]' ]
  [ "$(jq -c '.settings.signatures[] | select(.skip)' <<<"$output")" = '{"repository":"ghcr.io/example-org/sandbox","skip":true}' ]
  check_settings
  [[ "$(verdict docker.io/library/nginx:1)" == "REJECTED: "* ]]
  [ "$(verdict busybox:1.36)" = "ALLOWED" ]
  [[ "$(verdict alpine:3.12)" == "REJECTED: "* ]]
}

@test "import: a document of no known kind is an input error naming --from" {
  echo '{"apiVersion": "v1", "kind": "ConfigMap"}' >"$BATS_TEST_TMPDIR/other.json"
  run --separate-stderr "$IMAGEGATE" import "$BATS_TEST_TMPDIR/other.json"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"cannot tell which policy this is"*"--from"* ]]
  run --separate-stderr "$IMAGEGATE" import "$BATS_TEST_TMPDIR/missing.yaml"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *'import file "'*'missing.yaml": cannot read it'* ]]
}

@test "import --from reads what detection would not, and reports what it cannot use" {
  echo '{"apiVersion": "v1", "kind": "ConfigMap"}' >"$BATS_TEST_TMPDIR/other.json"
  run --separate-stderr "$IMAGEGATE" import --from gatekeeper "$BATS_TEST_TMPDIR/other.json"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *'kind "ConfigMap" is not one of K8sAllowedRepos, K8sDisallowedTags, K8sImageDigests: left out'* ]]
}

@test "scan -o policyreport: one PolicyReport per namespace, valid against the wgpolicyk8s.io/v1alpha2 schema" {
  cd "$ROOT"
  run --separate-stderr env SOURCE_DATE_EPOCH=1700000000 "$IMAGEGATE" scan --policy "$POLICY" \
    --settings testdata/settings/scan.yaml testdata/scan -o policyreport
  echo "$output" | head -80
  [ "$status" -eq 2 ]
  "${VENV:-$ROOT/target/venv}/bin/python" testdata/policyreport/validate.py <<<"$output"
  [ "$(jq -r '.items[] | select(.kind == "PolicyReport") | .metadata.namespace' <<<"$output" | sort -u | wc -l)" -ge 2 ]
  jq -e '.items[] | select(.kind == "PolicyReport" and .metadata.namespace == "shop") | .results[]
         | select(.result == "fail" and .rule == "source" and .resources[0].kind == "Deployment"
                  and .resources[0].name == "shop-frontend" and .source == "imagegate" and .severity == "high")' <<<"$output"
  jq -e '.items[] | select(.kind == "ClusterPolicyReport") | .results[] | select(.result == "error" and .rule == "input")' <<<"$output"
  [ "$(jq '[.items[].results[] | select(.timestamp.seconds != 1700000000)] | length' <<<"$output")" -eq 0 ]
  # The summary counts the results.
  jq -e 'all(.items[]; .summary.fail == ([.results[] | select(.result == "fail")] | length))' <<<"$output"
}

@test "audit recipe: kubectl get pods,deployments,replicasets -A -o json | imagegate scan -, each workload once at its owner" {
  cd "$ROOT"
  "$IMAGEGATE" import testdata/import/gatekeeper-allowed-repos.yaml >"$BATS_TEST_TMPDIR/settings.yaml" 2>/dev/null
  run --separate-stderr "$IMAGEGATE" scan --policy "$POLICY" --settings "$BATS_TEST_TMPDIR/settings.yaml" \
    --format json - <testdata/import/cluster-dump.json
  echo "$output" | jq -c '.objects[] | [.kind, .namespace, .name, .status, .skipped]'
  [ "$status" -eq 3 ]
  # The Deployment is checked; its ReplicaSet and Pods are skipped, naming the owner.
  [ "$(jq -r '.objects[] | select(.name == "worker") | .status' <<<"$output")" = "rejected" ]
  [ "$(jq -r '.objects[] | select(.name == "worker-5c9f7") | .skipped' <<<"$output")" = "created by Deployment/worker, which is checked" ]
  [ "$(jq -r '.objects[] | select(.name == "worker-5c9f7-m2p6w") | .skipped' <<<"$output")" = "created by ReplicaSet/worker-5c9f7, which is checked" ]
  # A Pod whose owner is not in the dump is checked itself.
  [ "$(jq -r '.objects[] | select(.name == "coredns-abc") | .status' <<<"$output")" != "skipped" ]
  # kubectl debug's ephemeral container and the image volume are checked.
  jq -e '.objects[] | select(.name == "debug-session") | .violations[] | select(.path == "spec.ephemeralContainers[0].image")' <<<"$output"
  jq -e '.objects[] | select(.name == "model-server") | .violations[] | select(.path == "spec.volumes[0].image.reference")' <<<"$output"
  [ "$(jq '.summary.rejected' <<<"$output")" -eq 4 ]
}

@test "import --images: the images whose verdict changes, grouped by reason" {
  cd "$ROOT"
  run --separate-stderr "$IMAGEGATE" import --policy "$POLICY" testdata/import/gatekeeper-allowed-repos.yaml \
    --images testdata/import/images.txt
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "3 of 9 image(s) get another verdict under imagegate" ]
  [[ "$output" == *"prefix-boundary: admitted before, rejected now: a prefix match that crossed a name boundary"* ]]
  [[ "$output" == *"  ghcr.io/example-org-evil/miner:latest  (testdata/import/images.txt:5)"* ]]
  [[ "$output" == *"  nginxinc/nginx-unprivileged:1.27  (testdata/import/images.txt:9)"* ]]
  [[ "$output" == *"normalized-name: rejected before, admitted now"*"docker.io/openpolicyagent/opa:0.9.2"* ]]
}

@test "import --scan: a cluster dump, image volumes the old policy never saw, -o json" {
  cd "$ROOT"
  run --separate-stderr "$IMAGEGATE" import --policy "$POLICY" -o json testdata/import/gatekeeper-allowed-repos.yaml \
    --scan - <testdata/import/cluster-dump.json
  echo "$output" | jq -c '.changed[] | [.image, .reason, .at]'
  [ "$status" -eq 0 ]
  [ "$(jq -r '.changed[] | select(.image == "ghcr.io/example-org-evil/miner:latest") | .reason' <<<"$output")" = "prefix-boundary" ]
  [ "$(jq '.changed[] | select(.image == "ghcr.io/example-org-evil/miner:latest") | .at | length' <<<"$output")" -eq 3 ]
  [ "$(jq -r '.changed[] | select(.image == "evil.example/models/llama:v1") | .reason' <<<"$output")" = "image-volumes" ]
}

@test "import --images with trusted-repos: library/ on another registry, digest-only images as latest" {
  printf 'evil.example/library/busybox:1\nbusybox@sha256:%s\nbusybox:1.36\n' "$(printf 'a%.0s' {1..64})" >"$BATS_TEST_TMPDIR/images.txt"
  printf 'tags:\n  reject: [latest]\nimages:\n  allow: [busybox]\n' >"$BATS_TEST_TMPDIR/trusted.yaml"
  run --separate-stderr "$IMAGEGATE" import --policy "$POLICY" -o json "$BATS_TEST_TMPDIR/trusted.yaml" --images "$BATS_TEST_TMPDIR/images.txt"
  echo "$output" | jq -c '.changed[] | [.image, .reason, .old.why]'
  [ "$status" -eq 0 ]
  [ "$(jq '.images' <<<"$output")" -eq 3 ]
  [ "$(jq -r '.changed[] | select(.image == "evil.example/library/busybox:1") | .reason' <<<"$output")" = "library-cross-registry" ]
  [ "$(jq -r '.changed[] | select(.image | startswith("busybox@")) | .reason' <<<"$output")" = "digest-only-latest" ]
  [ "$(jq '.changed | length' <<<"$output")" -eq 2 ]
}

@test "README: the worked examples of \"Coming from ...\" are what imagegate import prints" {
  cd "$ROOT"
  # Each `$ imagegate import ...` line of a console block, then its output up to the fence.
  python3 - "$IMAGEGATE" "$POLICY" <<'PY'
import subprocess, sys
imagegate, policy = sys.argv[1], sys.argv[2]
lines = open("README.md").read().split("\n")
checked = 0
for i, line in enumerate(lines):
    if not line.startswith("$ imagegate import "):
        continue
    expected = []
    for later in lines[i + 1:]:
        if later.startswith("```"):
            break
        expected.append(later)
    command = line[2:].replace("imagegate import", f"{imagegate} import --policy {policy}", 1)
    got = subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout.rstrip("\n")
    if got != "\n".join(expected):
        print(f"README line {i + 1}: {line}\n--- README\n" + "\n".join(expected) + "\n--- imagegate\n" + got)
        sys.exit(1)
    checked += 1
print(f"{checked} examples")
sys.exit(0 if checked >= 4 else 1)
PY
}
