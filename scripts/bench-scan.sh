#!/usr/bin/env bash
# Throughput of `imagegate scan`, for BENCHMARKS.md: N small Deployments
# (default 10,000; one in ten with an untrusted image, one in ten with a
# short name) generated into a temporary directory, scanned
#   1. as N files in a directory tree,
#   2. as one multi-document stream on stdin (`helm template ... | imagegate scan -`),
#   3. as one `kind: List` (`kubectl get deploy -A -o yaml | imagegate scan -`),
# each RUNS times (default 3); prints the best wall time and objects/second.
#
#   scripts/bench-scan.sh [N]
#   IMAGEGATE=target/release/imagegate POLICY=policy.wasm SETTINGS=testdata/settings/bench.yaml RUNS=3
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-10000}"
RUNS="${RUNS:-3}"
IMAGEGATE="${IMAGEGATE:-$ROOT/target/release/imagegate}"
POLICY="${POLICY:-$ROOT/policy.wasm}"
SETTINGS="${SETTINGS:-$ROOT/testdata/settings/bench.yaml}"

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

# One Deployment per record, written by awk (a shell loop takes minutes):
# INDEX PAD, every line prefixed by PAD ("- " then "  " for List items).
deployments() { # MODE: tree (a file each under $dir/tree), stream, list
  awk -v n="$N" -v mode="$1" -v dir="$dir" '
    function image(i) {
      if (i % 10 == 0) return "docker.io/library/nginx:1.27"      # untrusted: rejected
      if (i % 10 == 5) return "nginx:1.27-alpine"                 # short name, untrusted
      return sprintf("ghcr.io/org/service-%d:1.%d.0", i % 97, i % 13)
    }
    function doc(i, first, pad,   s) {
      s = first "apiVersion: apps/v1\n"
      s = s pad "kind: Deployment\n"
      s = s pad "metadata:\n"
      s = s pad "  name: app-" i "\n"
      s = s pad "  namespace: team-" (i % 20) "\n"
      s = s pad "  labels: {app: app-" i "}\n"
      s = s pad "spec:\n"
      s = s pad "  replicas: 2\n"
      s = s pad "  selector:\n"
      s = s pad "    matchLabels: {app: app-" i "}\n"
      s = s pad "  template:\n"
      s = s pad "    metadata:\n"
      s = s pad "      labels: {app: app-" i "}\n"
      s = s pad "    spec:\n"
      s = s pad "      containers:\n"
      s = s pad "        - name: app\n"
      s = s pad "          image: " image(i) "\n"
      s = s pad "          ports: [{containerPort: 8080}]\n"
      s = s pad "        - name: metrics\n"
      s = s pad "          image: registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0\n"
      return s
    }
    BEGIN {
      if (mode == "list") printf "apiVersion: v1\nkind: List\nitems:\n"
      for (i = 0; i < n; i++) {
        if (mode == "tree") {
          file = sprintf("%s/tree/ns-%d/app-%d.yaml", dir, i % 20, i)
          printf "%s", doc(i, "", "") > file
          close(file)
        } else if (mode == "stream") {
          printf "---\n%s", doc(i, "", "")
        } else {
          printf "%s", doc(i, "- ", "  ")
        }
      }
    }'
}

for ((d = 0; d < 20; d++)); do mkdir -p "$dir/tree/ns-$d"; done
deployments tree
deployments stream >"$dir/stream.yaml"
deployments list >"$dir/list.yaml"

measure() { # LABEL STDIN-FILE PATH: best of RUNS (wall time; CPU time of that run)
  local label="$1" input="$2" path="$3" best="" cpu="" start end ms code
  for ((r = 0; r < RUNS; r++)); do
    start=$(date +%s%N)
    code=0
    /usr/bin/time -o "$dir/time" -f "%U %S" \
      "$IMAGEGATE" scan --policy "$POLICY" --settings "$SETTINGS" --format json "$path" \
      <"$input" >"$dir/report.json" || code=$?
    end=$(date +%s%N)
    [ "$code" -eq 0 ] || [ "$code" -eq 3 ] || { echo "scan failed with exit code $code" >&2; exit 1; }
    ms=$(((end - start) / 1000000))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then
      best="$ms"
      cpu=$(tail -n1 "$dir/time" | awk '{printf "%.2f", $1 + $2}')
    fi
  done
  local objects rejected
  objects=$(jq '[.objects[] | select(.status != "skipped")] | length' "$dir/report.json")
  rejected=$(jq '.summary.rejected' "$dir/report.json")
  [ "$objects" -eq "$N" ] || { echo "$label: $objects objects checked, expected $N" >&2; exit 1; }
  printf '%-36s %6d objects (%d rejected) in %5.2f s (CPU %5s s): %6d objects/s\n' \
    "$label" "$objects" "$rejected" "$(echo "$best / 1000" | bc -l)" "$cpu" "$((N * 1000 / (best > 0 ? best : 1)))"
}

echo "imagegate scan, $N Deployments, best of $RUNS, $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"
measure "directory of $N files" /dev/null "$dir/tree"
measure "one multi-document stream (stdin)" "$dir/stream.yaml" -
measure "one kind: List (stdin)" "$dir/list.yaml" -
