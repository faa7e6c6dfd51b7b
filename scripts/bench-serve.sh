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
#   scripts/bench-serve.sh
#   IMAGEGATE=target/release/imagegate POLICY=policy.wasm SETTINGS=testdata/settings/bench.yaml
#   BENCH_REQUEST=testdata/requests/deployment_create.json DURATION=10s CONNECTIONS=16 THREADS=2
set -euo pipefail

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

"$IMAGEGATE" serve --policy "$POLICY" --settings "$SETTINGS" \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" --addr 127.0.0.1:0 \
  > "$dir/stdout" 2> "$dir/stderr" &
server=$!
for _ in $(seq 200); do
  grep -q 'listening on' "$dir/stdout" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/stderr" >&2; exit 1; }
  sleep 0.05
done
addr="$(sed -n 's|.*listening on https://\([^ ]*\).*|\1|p' "$dir/stdout")"
[ -n "$addr" ] || { echo "the server did not start" >&2; cat "$dir/stderr" >&2; exit 1; }
rss() { awk -v k="$1:" '$1 == k { print $2 " " $3 }' "/proc/$server/status"; }

echo "imagegate serve: $(cat "$dir/stdout")"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS idle: $(rss VmRSS)"
# Warm-up: one second, not measured.
wrk -t1 -c1 -d1s -s "$dir/post.lua" "https://$addr/validate" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/post.lua" "https://$addr/validate" &
load=$!
peak=0
while kill -0 "$load" 2>/dev/null; do
  now="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server/status")"
  [ "$now" -gt "$peak" ] && peak="$now"
  sleep 0.2
done
wait "$load"
echo "RSS under load: peak sampled ${peak} kB; VmHWM $(rss VmHWM); at the end $(rss VmRSS)"
# The verdicts: every request answered, none failed.
metrics="$(openssl s_client -quiet -connect "$addr" -servername localhost 2>/dev/null <<REQ || true
GET /metrics HTTP/1.1
Host: localhost
Connection: close

REQ
)"
printf '%s\n' "$metrics" | grep -E '^imagegate_(admission_verdicts_total|errors_total|timeouts_total|instances_replaced_total)' || true
