#!/usr/bin/env bash
# Load on `imagegate serve`, for BENCHMARKS.md: wrk (Debian's package) with
# a Lua body POSTs one AdmissionReview (BENCH_REQUEST, default the
# Deployment of `make bench`) to /validate over HTTPS on loopback for
# DURATION (default 10s), CONNECTIONS (default 16) connections, keep-alive.
# The server and wrk share the machine's cores. Prints wrk's report
# (requests/s, latency percentiles), the server's RSS before and at the end
# of the load and its peak (VmHWM), read from /proc, and the verdict counts
# from /metrics, which must all be the expected verdict.
#
# Beside it, with the same certificate, request and wrk flags: the bare
# HTTPS server of host/examples/bare_https.rs (the same hyper + rustls
# stack answering a fixed AdmissionReview: the ceiling; BARE=path, default
# built with cargo), and Kubewarden's policy-server when POLICY_SERVER=path
# names its binary (not built here; skipped without it). `serve` runs with
# its decision log (to a file) and the plain-HTTP metrics port on. Then the
# hostile load of issue 20: 32 concurrent 3 MiB Pods (curl), with the peak
# RSS, while one ordinary request is timed.
#
#   scripts/bench-serve.sh
#   IMAGEGATE=target/release/imagegate POLICY=policy.wasm SETTINGS=testdata/settings/bench.yaml
#   BENCH_REQUEST=testdata/requests/deployment_create.json DURATION=10s CONNECTIONS=16 THREADS=2
set -euo pipefail
# The bare server: BARE=path, or built here.
# POLICY_SERVER=path: Kubewarden policy-server, compared when given.

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGEGATE="${IMAGEGATE:-$ROOT/target/release/imagegate}"
POLICY="${POLICY:-$ROOT/policy.wasm}"
SETTINGS="${SETTINGS:-$ROOT/testdata/settings/bench.yaml}"
BENCH_REQUEST="${BENCH_REQUEST:-$ROOT/testdata/requests/deployment_create.json}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"

command -v wrk >/dev/null || { echo "bench-serve needs wrk: apt-get install -y wrk" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench-serve needs jq: apt-get install -y jq" >&2; exit 1; }

dir="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# A throwaway self-signed certificate (wrk does not verify certificates).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

# The request as a v1 AdmissionReview, as the API server sends it.
jq -c 'if .kind == "AdmissionReview" then .request else . end
       | {apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: .}' \
  "$BENCH_REQUEST" > "$dir/review.json"
cat > "$dir/post.lua" <<LUA
local f = assert(io.open("$dir/review.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

# wrk's summary line: requests/s and p99 of one run.
load() { # NAME URL PID
  local name="$1" url="$2" pid="$3" peak=0 now
  wrk -t1 -c1 -d1s -s "$dir/post.lua" "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/post.lua" "$url" >"$dir/wrk-$name" &
  local wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    now="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")"
    [ "$now" -gt "$peak" ] && peak="$now"
    sleep 0.2
  done
  wait "$wrk_pid"
  cat "$dir/wrk-$name"
  local rps p99
  rps="$(awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk-$name")"
  p99="$(awk '$1 == "99%" { print $2 }' "$dir/wrk-$name")"
  echo "$name: $rps requests/s, p99 $p99, RSS peak under load ${peak} kB"
  printf '%s %s %s %s\n' "$name" "$rps" "$p99" "$peak" >>"$dir/summary"
}
wait_line() { # FILE PID: the first stdout line with an address
  for _ in $(seq 400); do
    grep -q 'listening on' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The bare server.
BARE="${BARE:-}"
if [ -z "$BARE" ]; then
  (cd "$ROOT" && cargo build --release --locked -q -p imagegate-host --example bare_https)
  BARE="$ROOT/target/release/examples/bare_https"
fi
"$BARE" "$dir/tls.crt" "$dir/tls.key" 127.0.0.1:0 >"$dir/bare.out" 2>&1 &
bare=$!
wait_line "$dir/bare.out" "$bare" || { cat "$dir/bare.out" >&2; exit 1; }
bare_addr="$(sed -n 's|.*listening on https://\([^ ]*\).*|\1|p' "$dir/bare.out")"
load bare "https://$bare_addr/validate" "$bare"
stop "$bare"

# 2. policy-server, when given (its own configuration: the same module and settings).
if [ -n "${POLICY_SERVER:-}" ] && [ -x "${POLICY_SERVER}" ]; then
  ps_port=$(( 20000 + RANDOM % 20000 ))
  jq -n --arg m "file://$POLICY" --argjson s "$(python3 -c 'import sys,json,yaml;print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$SETTINGS" 2>/dev/null || echo '{}')" \
    '{imagegate: {module: $m, settings: $s, allowedToMutate: true}}' >"$dir/policies.yml"
  "$POLICY_SERVER" --policies "$dir/policies.yml" --cert-file "$dir/tls.crt" --key-file "$dir/tls.key" \
    --addr 127.0.0.1 --port "$ps_port" --ignore-kubernetes-connection-failure >"$dir/ps.out" 2>&1 &
  ps=$!
  for _ in $(seq 600); do curl -skf "https://127.0.0.1:$ps_port/readiness" >/dev/null && break; sleep 0.1; done
  load policy-server "https://127.0.0.1:$ps_port/validate/imagegate" "$ps"
  stop "$ps"
else
  echo "policy-server: skipped (POLICY_SERVER=path to compare)"
fi

# 3. imagegate serve, decision log and metrics on.
"$IMAGEGATE" serve --policy "$POLICY" --settings "$SETTINGS" \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" --addr 127.0.0.1:0 \
  --metrics-addr 127.0.0.1:0 --log-format json --log-level info --shutdown-delay-ms 0 \
  > "$dir/stdout" 2> "$dir/stderr" &
server=$!
wait_line "$dir/stdout" "$server" || { cat "$dir/stderr" >&2; exit 1; }
addr="$(sed -n 's|.*listening on https://\([^ ]*\) .*|\1|p' "$dir/stdout")"
metrics_addr="$(sed -n 's|.*metrics on http://\([^/]*\)/.*|\1|p' "$dir/stdout")"
rss() { awk -v k="$1:" '$1 == k { print $2 " " $3 }' "/proc/$server/status"; }
echo "imagegate serve: $(cat "$dir/stdout")"
echo "RSS idle: $(rss VmRSS)"
load serve "https://$addr/validate" "$server"
echo "RSS under load: VmHWM $(rss VmHWM); at the end $(rss VmRSS)"
echo "decision log lines: $(grep -c '"msg":"admission"' "$dir/stderr")"
curl -s "http://$metrics_addr/metrics" \
  | grep -E '^imagegate_(admission_verdicts_total|errors_total|timeouts_total|instances_replaced_total)' || true

# 4. Hostile: 32 concurrent Pods just under 3 MiB, and one ordinary request.
python3 - "$dir/big.json" <<'PY'
import json, sys
env = [{"name": "VARIABLE_%06d" % i, "value": "x" * 40} for i in range(40000)]
while True:
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "big", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default", "operation": "CREATE", "userInfo": {"username": "bench"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": "default"},
                   "spec": {"containers": [{"name": "app", "image": "ghcr.io/org/app:1", "env": env}]}}}}
    text = json.dumps(review, separators=(",", ":"))
    if len(text) <= 3 * 1024 * 1024 - 1024:
        break
    env = env[:-500]
open(sys.argv[1], "w").write(text)
PY
before_hostile="$(rss VmRSS)"
hostile=()
for _ in $(seq 32); do
  curl -sk -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary "@$dir/big.json" "https://$addr/validate" >>"$dir/hostile-codes" &
  hostile+=("$!")
done
sleep 0.3
ordinary="$(curl -sk -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' \
  --data-binary "@$dir/review.json" "https://$addr/validate")"
peak=0
running() { local p; for p in "${hostile[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
  now="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server/status")"
  [ "$now" -gt "$peak" ] && peak="$now"
  sleep 0.05
done
wait "${hostile[@]}" || true
echo "hostile: RSS before ${before_hostile}, peak sampled ${peak} kB, VmHWM $(rss VmHWM); ordinary request ${ordinary} s; answers: $(sort "$dir/hostile-codes" | uniq -c | tr '\n' ' ')"
echo
echo "summary (name requests/s p99 peak-RSS-kB):"
cat "$dir/summary"
awk '$1 == "bare" { b = $2 } $1 == "serve" { s = $2 } END { if (b > 0) printf "serve / bare: %.0f %%\n", 100 * s / b }' "$dir/summary"
