#!/usr/bin/env bats
# Every manifest of deploy/ (each file its kustomizations list) and
# examples/ is a valid object for several current Kubernetes minor
# versions: the strict schemas generated from each version's OpenAPI
# document (kubernetes-validate, pinned in e2e-tests/requirements.txt and
# installed by `make setup-test` into target/venv), and, for the cert-manager
# and Kubewarden custom resources, the fields of their documented APIs
# (e2e-tests/validate-manifests.py). Then the check itself: it must find
# typos, wrong types and unknown kinds.

load helpers

VENV="${VENV:-$ROOT/target/venv}"
# The newest minor versions kubernetes-validate 1.37 ships: the three the
# Kubernetes project supports, and the one before.
KUBERNETES_VERSIONS=(1.34 1.35 1.36 1.37)

setup_file() {
  [ -x "$VENV/bin/python" ] || {
    echo "no manifest validator in $VENV: run make setup-test" >&2
    return 1
  }
}

# Runs the validator on the files given, for every version above.
validate() {
  local flags=() version
  for version in "${KUBERNETES_VERSIONS[@]}"; do flags+=(--kubernetes-version "$version"); done
  run "$VENV/bin/python" "$BATS_TEST_DIRNAME/validate-manifests.py" "${flags[@]}" "$@"
  echo "$output"
}

# The files deploy/$1/kustomization.yaml lists, one a line.
kustomization_files() {
  "$VENV/bin/python" -c 'import sys, yaml, os
d = sys.argv[1]
for r in yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))["resources"]:
    print(os.path.join(d, r))' "$ROOT/deploy/$1"
}

@test "every manifest of deploy/ is valid for Kubernetes 1.34 to 1.37" {
  local files=()
  for kustomization in server webhook-validating webhook-mutating; do
    mapfile -t -O "${#files[@]}" files < <(kustomization_files "$kustomization")
  done
  [ "${#files[@]}" -ge 7 ]
  validate "${files[@]}"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == *"checks of ${#files[@]} files against Kubernetes 1.34, 1.35, 1.36, 1.37: all valid" ]]
}

@test "every example is valid for Kubernetes 1.34 to 1.37, with the Kubewarden policy fields" {
  validate "$ROOT"/examples/*.yaml
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == *"all valid" ]]
}

@test "the check finds unknown fields, wrong types and values in built-in and custom kinds" {
  cat >"$BATS_TEST_TMPDIR/broken.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraint: []
      containers: [{name: web, image: "ghcr.io/org/web:1", ports: [{containerPort: "8443"}]}]
---
apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: imagegate}
spec:
  module: registry://ghcr.io/imagegate/policies/imagegate:v0.1.0
  mode: protected
  mutating: false
  rules: [{apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE], scpoe: Namespaced}]
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: serving, namespace: imagegate}
spec: {secretName: tls, issuerRef: {name: ca}, dnsName: [imagegate.imagegate.svc]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3, minReplicas: two}
EOF
  validate "$BATS_TEST_TMPDIR/broken.yaml"
  [ "$status" -eq 1 ]
  for problem in \
    "document 1 (Deployment/web): Kubernetes 1.34: spec.template.spec: Additional properties are not allowed ('topologySpreadConstraint' was unexpected)" \
    "document 1 (Deployment/web): Kubernetes 1.37: spec.template.spec.containers.0.ports.0.containerPort: '8443' is not of type 'integer'" \
    "document 2 (ClusterAdmissionPolicy/imagegate): Kubernetes 1.35: spec.mode: 'protected' is not one of ['protect', 'monitor']" \
    "document 2 (ClusterAdmissionPolicy/imagegate): Kubernetes 1.36: spec.rules.0: Additional properties are not allowed ('scpoe' was unexpected)" \
    "document 3 (Certificate/serving): Kubernetes 1.34: spec: Additional properties are not allowed ('dnsName' was unexpected)" \
    "document 4 (HorizontalPodAutoscaler/web): Kubernetes 1.37: spec.minReplicas: 'two' is not of type 'integer'"; do
    grep -qF "$BATS_TEST_TMPDIR/broken.yaml: $problem" <<<"$output" || { echo "missing: $problem"; return 1; }
  done
  [ "${lines[-1]}" = "24 manifest problems (Kubernetes 1.34, 1.35, 1.36, 1.37)" ]
}

@test "a kind the check has no schema for is an error, not skipped" {
  printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\nkind: NoApiVersion\n' >"$BATS_TEST_TMPDIR/unknown.yaml"
  validate "$BATS_TEST_TMPDIR/unknown.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"document 1 (Widget/w): no schema for example.com/v1 Widget in Kubernetes 1.34 or among the custom resources this check knows"* ]]
  [[ "$output" == *"document 2: not a Kubernetes object (no apiVersion and kind)"* ]]
}

@test "a field that a newer Kubernetes added is refused for the versions that lack it" {
  # Pod-level resources (spec.resources) arrived in Kubernetes 1.34's
  # schema; earlier minor versions do not know the field.
  cat >"$BATS_TEST_TMPDIR/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  resources: {limits: {memory: 64Mi}}
  containers: [{name: web, image: "ghcr.io/org/web:1"}]
EOF
  run "$VENV/bin/python" "$BATS_TEST_DIRNAME/validate-manifests.py" \
    --kubernetes-version 1.31 --kubernetes-version 1.37 "$BATS_TEST_TMPDIR/pod.yaml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Kubernetes 1.31: spec: Additional properties are not allowed ('resources' was unexpected)"* ]]
  [[ "$output" != *"Kubernetes 1.37"* ]]
}
