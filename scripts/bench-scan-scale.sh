#!/usr/bin/env bash
# Scale of `imagegate scan` on a cluster-sized dump, for BENCHMARKS.md: a
# `kubectl get pods,deployments,replicasets -A -o json` shaped List of N
# objects (default 100,000: one Deployment, one ReplicaSet it owns and
# three Pods the ReplicaSet owns, per workload; one workload in ten with an
# untrusted image), scanned from stdin with --format json, with --jobs 1 and
# with the default (one worker per core); prints the wall time, CPU time and
# peak RSS (GNU time) of each.
#
#   scripts/bench-scan-scale.sh [N]
#   IMAGEGATE=target/release/imagegate POLICY=policy.wasm SETTINGS=testdata/settings/bench.yaml
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-100000}"
IMAGEGATE="${IMAGEGATE:-$ROOT/target/release/imagegate}"
POLICY="${POLICY:-$ROOT/policy.wasm}"
SETTINGS="${SETTINGS:-$ROOT/testdata/settings/bench.yaml}"

dump="$(mktemp)"
trap 'rm -f "$dump"' EXIT
python3 - "$N" >"$dump" <<'PY'
import json, sys
n = int(sys.argv[1])
def template(i):
    image = "docker.io/library/nginx:1.27" if i % 10 == 0 else f"ghcr.io/org/service-{i % 97}:1.{i % 13}.0"
    return {"metadata": {"labels": {"app": f"app-{i}"}},
            "spec": {"containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"},
                                    {"name": "sidecar", "image": "ghcr.io/org/proxy:2.1.0"}]}}
def meta(name, ns, owner=None):
    m = {"name": name, "namespace": ns, "uid": f"uid-{name}"}
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": f"uid-{owner[1]}", "controller": True}]
    return m
out = sys.stdout
out.write('{"apiVersion": "v1", "kind": "List", "items": [\n')
written = 0
i = 0
while written < n:
    ns = f"team-{i % 20}"
    objects = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(f"app-{i}", ns),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": f"app-{i}"}}, "template": template(i)}},
               {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta(f"app-{i}-5d9c", ns, ("Deployment", f"app-{i}")),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": f"app-{i}"}}, "template": template(i)}}]
    for p in range(3):
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta(f"app-{i}-5d9c-{p}", ns, ("ReplicaSet", f"app-{i}-5d9c")),
                        "spec": template(i)["spec"]})
    for o in objects[: n - written]:
        out.write(("," if written else "") + json.dumps(o) + "\n")
        written += 1
    i += 1
out.write("]}\n")
PY
echo "dump: $N objects, $(du -h "$dump" | cut -f1)"
# The same dump with one worker, then with the default (one per core): the
# ratio of the two is what the machine's load affects least.
for jobs in 1 default; do
  args=()
  [ "$jobs" = default ] || args=(--jobs "$jobs")
  echo "--jobs $jobs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "wall %e s, user %U s, system %S s, peak RSS %M KiB" \
    "$IMAGEGATE" scan --policy "$POLICY" --settings "$SETTINGS" --format json "${args[@]}" - <"$dump" \
    | jq -r '.summary | "objects \(.objects): \(.rejected) rejected, \(.allowed) allowed, \(.skipped) skipped (created by a checked owner)"' || true
done
