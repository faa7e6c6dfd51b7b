#!/usr/bin/env bash
# `imagegate serve` built several ways, under the same load, interleaved:
# for BENCHMARKS.md "The container image" (musl's allocator against glibc's
# and mimalloc). Each round runs every binary given once, in order: serve
# with policy.wasm and testdata/settings/bench.yaml over HTTPS on loopback,
# wrk POSTing the AdmissionReview of BENCH_REQUEST to /validate for DURATION
# with CONNECTIONS keep-alive connections. Prints, per run, requests/s, p50
# and p99 latency, the server's CPU time per request (utime + stime from
# /proc, so the figure depends less on what else the machine runs than
# requests/s does), its peak RSS, and a last line with the median of each
# binary's CPU per request over the rounds.
#
#   scripts/bench-builds.sh glibc=target/release/imagegate \
#     musl=target/x86_64-unknown-linux-musl/release/imagegate
#   ROUNDS=3 DURATION=8s CONNECTIONS=16 THREADS=2 POLICY=policy.wasm
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
POLICY="${POLICY:-$ROOT/policy.wasm}"
SETTINGS="${SETTINGS:-$ROOT/testdata/settings/bench.yaml}"
BENCH_REQUEST="${BENCH_REQUEST:-$ROOT/testdata/requests/deployment_create.json}"
DURATION="${DURATION:-8s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"

[ "$#" -ge 1 ] || { echo "usage: $0 NAME=BINARY..." >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench-builds needs wrk: apt-get install -y wrk" >&2; exit 1; }

dir="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
jq -c 'if .kind == "AdmissionReview" then .request else . end
       | {apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: .}' \
  "$BENCH_REQUEST" >"$dir/review.json"
cat >"$dir/post.lua" <<LUA
local f = assert(io.open("$dir/review.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

# utime + stime of process $1, in clock ticks.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

echo "$(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for round in $(seq 1 "$ROUNDS"); do
  for build in "$@"; do
    name="${build%%=*}" binary="${build#*=}"
    "$binary" serve --policy "$POLICY" --settings "$SETTINGS" \
      --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" --addr 127.0.0.1:0 \
      >"$dir/stdout" 2>"$dir/stderr" &
    server=$!
    for _ in $(seq 200); do
      grep -q 'listening on' "$dir/stdout" 2>/dev/null && break
      kill -0 "$server" 2>/dev/null || { cat "$dir/stderr" >&2; exit 1; }
      sleep 0.05
    done
    addr=$(sed -n 's/.*listening on https:\/\/\([^ ]*\).*/\1/p' "$dir/stdout")
    wrk -t1 -c4 -d1s -s "$dir/post.lua" "https://$addr/validate" >/dev/null
    before=$(cpu_ticks "$server")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/post.lua" \
      "https://$addr/validate" >"$dir/wrk"
    after=$(cpu_ticks "$server")
    requests=$(awk '/requests in/ {print $1}' "$dir/wrk")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
    kill "$server"
    wait "$server" || true
    server=""
    us=$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
      'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    echo "$us" >>"$dir/cpu-$name"
    printf '%-10s round %s: %8s requests/s, p50 %8s, p99 %8s, %6s us CPU per request, peak RSS %s kB\n' \
      "$name" "$round" "$(awk '/Requests\/sec/ {print $2}' "$dir/wrk")" \
      "$(awk '$1 == "50%" {print $2}' "$dir/wrk")" "$(awk '$1 == "99%" {print $2}' "$dir/wrk")" \
      "$us" "$rss"
  done
done
for build in "$@"; do
  name="${build%%=*}"
  printf '%s: median %s us CPU per request; ' "$name" "$(sort -n "$dir/cpu-$name" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')"
done
echo
