#!/usr/bin/env bats
# The container image of the Containerfile, built with Debian's podman from
# the context `make image-context` stages (target/image/context) and run with
# Debian's runc, as a cluster would run it: read-only root filesystem, the
# image's non-root user, settings and TLS mounted read-only. Against it, over
# HTTPS on loopback: allowed and denied AdmissionReviews, /healthz, /readyz,
# /metrics, a settings reload by SIGHUP sent to the container, registry
# lookups over HTTPS through a private CA mounted as README "Deploying the
# manifests" says, a clean stop on SIGTERM with requests in flight. Then the
# image is pushed to a loopback registry and run again by digest.
#
# podman keeps everything inside this file's temporary directory: its
# storage and run directories (--root, --runroot), and, through a private
# mount namespace held open for the whole file, the machine-wide places it
# would also write to (/var/lib/containers/cache, /run/containers).

load helpers
load registry

# Absolute: podman runs with another working directory (nsenter).
IMAGE_CONTEXT="$(realpath -m "${IMAGE_CONTEXT:-$ROOT/target/image/context}")"
IMAGE=localhost/imagegate:e2e

# podman, inside the private mount namespace, with this file's storage.
pod_man() {
  nsenter --mount="/proc/$(cat "$CONTAINER_WORK/holder.pid")/ns/mnt" -- \
    podman --root "$CONTAINER_WORK/storage" --runroot "$CONTAINER_WORK/run" \
    --storage-driver vfs --runtime /usr/sbin/runc --cgroup-manager=cgroupfs \
    --events-backend=file --tmpdir "$CONTAINER_WORK/tmp" "$@"
}

# A CA ($1.crt, $1.key) in $CONTAINER_WORK/pki.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$1" -keyout "$CONTAINER_WORK/pki/$1.key" -out "$CONTAINER_WORK/pki/$1.crt" 2>/dev/null
}

# A server certificate $2.crt/.key for 127.0.0.1 and localhost, signed by CA $1.
make_server_cert() {
  local ca="$CONTAINER_WORK/pki/$1" out="$CONTAINER_WORK/pki/$2"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$out.key" -out "$out.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$out.ext"
  openssl x509 -req -in "$out.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
    -days 2 -extfile "$out.ext" -out "$out.crt" 2>/dev/null
  chmod a+r "$out.key"
}

# An AdmissionReview (uid $1) of a CREATE of a one-container Pod running
# image $2, written to $BATS_TEST_TMPDIR/review-$1.json.
review() {
  local out="$BATS_TEST_TMPDIR/review-$1.json"
  jq -n --arg uid "$1" --arg image "$2" '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
    request: {uid: $uid, kind: {group: "", version: "v1", kind: "Pod"},
      resource: {group: "", version: "v1", resource: "pods"}, name: "app", namespace: "default",
      operation: "CREATE", userInfo: {username: "e2e"},
      object: {apiVersion: "v1", kind: "Pod", metadata: {name: "app", namespace: "default"},
        spec: {containers: [{name: "app", image: $image, imagePullPolicy: "IfNotPresent"}]}}}}' >"$out"
  echo "$out"
}

# POSTs review file $2 to path $1 of the webhook on port ${3:-$WEBHOOK_PORT}.
post() {
  curl -sS --fail-with-body --max-time 10 --cacert "$CONTAINER_WORK/pki/webhook-ca.crt" \
    -H 'Content-Type: application/json' --data-binary "@$2" "https://127.0.0.1:${3:-$WEBHOOK_PORT}$1"
}

# GETs path $1 of the webhook on port ${2:-$WEBHOOK_PORT}; prints the body.
get() {
  curl -sS --fail-with-body --max-time 10 --cacert "$CONTAINER_WORK/pki/webhook-ca.crt" \
    "https://127.0.0.1:${2:-$WEBHOOK_PORT}$1"
}

# Waits (up to 30 s) until /readyz answers 200 on port $1; shows the logs of
# container $2 when it does not.
wait_ready() {
  local i
  for i in $(seq 1 300); do
    if get /readyz "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "the container $2 is not ready after 30 s" >&2
  pod_man logs "$2" >&2 || true
  return 1
}

# Runs the image (${IMAGE_REF:-$IMAGE}) as container $1, serving on port $2
# with the settings directory $3, read-only, as the image's user, plus any
# further podman options after `--`.
run_webhook() {
  local name="$1" port="$2" settings="$3"
  shift 3
  [ "${1:-}" != "--" ] || shift
  pod_man run -d --name "$name" --network host --read-only \
    -v "$CONTAINER_WORK/pki:/etc/imagegate/tls:ro" \
    -v "$settings:/etc/imagegate/settings:ro" \
    "$@" "${IMAGE_REF:-$IMAGE}" serve --policy /policy.wasm \
    --settings /etc/imagegate/settings/settings.yaml \
    --tls-cert /etc/imagegate/tls/webhook.crt --tls-key /etc/imagegate/tls/webhook.key \
    --addr "127.0.0.1:$port" --reload-interval-ms 0 --lookup-timeout-ms 3000
  wait_ready "$port" "$name"
}

setup_file() {
  registry_sandbox
  local missing=() tool
  for tool in podman openssl unshare nsenter curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ -x /usr/sbin/runc ] || missing+=(runc)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "container.bats needs: ${missing[*]} (apt-get install -y podman runc openssl curl util-linux)" >&2
    return 1
  fi
  for file in imagegate policy.wasm ca-certificates.crt; do
    [ -f "$IMAGE_CONTEXT/$file" ] || { echo "no $IMAGE_CONTEXT/$file: run make image-context first" >&2; return 1; }
  done

  export CONTAINER_WORK="$BATS_FILE_TMPDIR/container"
  mkdir -p "$CONTAINER_WORK"/{pki,tmp,settings,cache,registry-certs}
  # Every podman call, and what it starts, shares one private mount
  # namespace where /var/lib and /run are empty tmpfs: what podman writes
  # there besides its storage vanishes with it. It ends by itself after an
  # hour; teardown_file ends it at once.
  unshare --mount --propagation private -- bash -c \
    'mount -t tmpfs -o mode=0755 tmpfs /var/lib && mount -t tmpfs -o mode=0755 tmpfs /run &&
     echo $$ >"$1" && exec sleep 3600' _ "$CONTAINER_WORK/holder.pid" 3>&- &
  for _ in $(seq 1 100); do [ -s "$CONTAINER_WORK/holder.pid" ] && break; sleep 0.05; done
  cat "$CONTAINER_WORK/holder.pid" >>"$REGISTRY_WORK/pids"
  # runc here cannot set the default rlimits podman asks for.
  export CONTAINERS_CONF="$CONTAINER_WORK/containers.conf"
  printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"

  # The webhook's CA and certificate; a second CA, "private", for a
  # registry that only a mounted CA makes trusted.
  make_ca webhook-ca
  make_server_cert webhook-ca webhook
  make_ca private-ca
  make_server_cert private-ca registry
  # Only the private CA's certificate goes into the container.
  mkdir -p "$CONTAINER_WORK/private-ca"
  cp "$CONTAINER_WORK/pki/private-ca.crt" "$CONTAINER_WORK/private-ca/"
  cp "$CONTAINER_WORK/pki/private-ca.crt" "$CONTAINER_WORK/registry-certs/ca.crt"
  # The image's user (65532) writes the module cache.
  chown 65532:65532 "$CONTAINER_WORK/cache"

  # A registry over HTTPS with the private CA's certificate.
  export REGISTRY_PORT
  REGISTRY_PORT=$(free_port)
  mkdir -p "$CONTAINER_WORK/registry"
  cat >"$CONTAINER_WORK/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $CONTAINER_WORK/registry}}
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  tls: {certificate: $CONTAINER_WORK/pki/registry.crt, key: $CONTAINER_WORK/pki/registry.key}
EOF
  docker-registry serve "$CONTAINER_WORK/registry.yml" >"$CONTAINER_WORK/registry.log" 2>&1 3>&- &
  echo "$!" >>"$REGISTRY_WORK/pids"
  wait_for_port "127.0.0.1:$REGISTRY_PORT" "$CONTAINER_WORK/registry.log"

  export WEBHOOK_PORT
  WEBHOOK_PORT=$(free_port)
  cat >"$CONTAINER_WORK/settings/settings.yaml" <<'EOF'
registries:
  allow: [ghcr.io]
tags:
  reject: [latest]
EOF
}

teardown_file() {
  if [ -n "${CONTAINER_WORK:-}" ] && [ -s "$CONTAINER_WORK/holder.pid" ]; then
    pod_man rm --force --all --time 5 >/dev/null 2>&1 || true
  fi
  stop_started
}

@test "the staged binary is statically linked: the image needs no libc" {
  run file "$IMAGE_CONTEXT/imagegate"
  echo "$output"
  [[ "$output" == *"statically linked"* || "$output" == *"static-pie linked"* ]]
  run readelf --program-headers "$IMAGE_CONTEXT/imagegate"
  [[ "$output" != *"INTERP"* ]]
}

@test "podman builds the image from the staged context, pulling nothing" {
  run pod_man build --isolation chroot --pull=never -f "$ROOT/Containerfile" \
    --build-arg VERSION=e2e -t "$IMAGE" "$IMAGE_CONTEXT"
  echo "$output"
  [ "$status" -eq 0 ]
  run pod_man image inspect "$IMAGE" --format '{{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels "org.opencontainers.image.version"}}'
  echo "$output"
  [ "$output" = '65532:65532 ["/usr/local/bin/imagegate"] e2e' ]
  # Its size, for BENCHMARKS.md.
  pod_man image inspect "$IMAGE" --format '{{.Size}}' >"$BATS_FILE_TMPDIR/image-size"
  echo "image size: $(cat "$BATS_FILE_TMPDIR/image-size") bytes" >&3
}

@test "the image holds the binary, the module, the CA roots and nothing else" {
  pod_man create --name listing "$IMAGE" >/dev/null
  run bash -c "$(declare -f pod_man); pod_man export listing | tar -t | sort"
  pod_man rm listing >/dev/null
  echo "$output"
  [ "$status" -eq 0 ]
  # podman adds empty mount points for /etc/hostname and friends, /proc,
  # /sys, /dev and /run; every file comes from the Containerfile.
  files=$(grep -v '/$' <<<"$output" | grep -v -E '^(etc/(hostname|hosts|resolv\.conf)|run/\.containerenv)$' | tr '\n' ' ')
  [ "$files" = "etc/ssl/certs/ca-certificates.crt policy.wasm usr/local/bin/imagegate " ]
  grep -qx 'etc/imagegate/ca/' <<<"$output"
  # The CA bundle is a real one.
  [ "$(grep -c 'BEGIN CERTIFICATE' "$IMAGE_CONTEXT/ca-certificates.crt")" -gt 100 ]
}

@test "the container serves from a read-only root as uid 65532, and allows an allowed image" {
  run_webhook webhook "$WEBHOOK_PORT" "$CONTAINER_WORK/settings" -- \
    -v "$CONTAINER_WORK/private-ca:/etc/imagegate/ca:ro" \
    -v "$CONTAINER_WORK/cache:/var/cache/imagegate"
  run pod_man inspect webhook --format '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}'
  [ "$output" = "true 65532:65532" ]
  pid=$(pod_man inspect webhook --format '{{.State.Pid}}')
  run grep -E '^(Uid|Gid):' "/proc/$pid/status"
  echo "$output"
  [[ "$output" == *"Uid:	65532	65532	65532	65532"* ]]
  [[ "$output" == *"Gid:	65532	65532	65532	65532"* ]]

  run post /validate "$(review allowed-1 ghcr.io/org/app:1.2.3)"
  echo "$output"
  [ "$status" -eq 0 ]
  jq -e '.kind == "AdmissionReview" and .response.uid == "allowed-1" and .response.allowed == true' <<<"$output"
}

@test "the container denies an image from an untrusted registry, uid echoed, with the policy's message" {
  run post /validate "$(review denied-1 nginx:1.27)"
  echo "$output"
  [ "$status" -eq 0 ]
  jq -e '.response.uid == "denied-1" and .response.allowed == false' <<<"$output"
  jq -e '.response.status.message == "1 image violation: spec.containers[0].image \"nginx:1.27\" (docker.io/library/nginx:1.27): registry docker.io is not trusted (trusted: ghcr.io) [source]"' <<<"$output"
}

@test "the container answers /healthz, /readyz and /metrics" {
  run get /healthz
  [ "$status" -eq 0 ]
  run get /readyz
  [ "$status" -eq 0 ]
  run get /metrics
  echo "$output"
  [ "$status" -eq 0 ]
  grep -E '^imagegate_admission_verdicts_total\{path="/validate",verdict="allowed"\} 1$' <<<"$output"
  grep -E '^imagegate_admission_verdicts_total\{path="/validate",verdict="denied"\} 1$' <<<"$output"
}

@test "the module cache is written when its directory is mounted writable" {
  run find "$CONTAINER_WORK/cache" -name '*.cwasm'
  echo "$output"
  [ -n "$output" ]
  [ "$(stat -c %u "$output")" -eq 65532 ]
}

@test "the image goes to a registry over HTTPS and is run again by its digest" {
  run pod_man push --cert-dir "$CONTAINER_WORK/registry-certs" \
    --digestfile "$CONTAINER_WORK/digest" "$IMAGE" "127.0.0.1:$REGISTRY_PORT/imagegate:e2e"
  echo "$output"
  [ "$status" -eq 0 ]
  digest=$(cat "$CONTAINER_WORK/digest")
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]
  # What a node downloads: the compressed layers, for BENCHMARKS.md.
  layers=$(skopeo inspect --raw --cert-dir "$CONTAINER_WORK/registry-certs" \
    "docker://127.0.0.1:$REGISTRY_PORT/imagegate@$digest" | jq '[.layers[].size] | add')
  echo "pushed: $layers bytes of compressed layers" >&3
  # The local name goes (the first container still uses the image), and
  # the image is pulled by digest from the registry.
  pod_man untag "$IMAGE"
  run pod_man pull --cert-dir "$CONTAINER_WORK/registry-certs" "127.0.0.1:$REGISTRY_PORT/imagegate@$digest"
  echo "$output"
  [ "$status" -eq 0 ]
  run pod_man image inspect "127.0.0.1:$REGISTRY_PORT/imagegate@$digest" --format '{{json .RepoDigests}}'
  echo "$output"
  jq -e --arg ref "127.0.0.1:$REGISTRY_PORT/imagegate@$digest" 'index($ref) != null' <<<"$output"
  by_digest_port=$(free_port)
  # Read-only, and without the cache volume: the cache is off, quietly.
  IMAGE_REF="127.0.0.1:$REGISTRY_PORT/imagegate@$digest" \
    run_webhook by-digest "$by_digest_port" "$CONTAINER_WORK/settings"
  run pod_man inspect by-digest --format '{{.ImageName}}'
  [ "$output" = "127.0.0.1:$REGISTRY_PORT/imagegate@$digest" ]
  echo "$digest" >"$CONTAINER_WORK/pushed-digest"
  echo "$by_digest_port" >"$CONTAINER_WORK/by-digest-port"
}

@test "SIGHUP sent to the container reloads the settings; lookups trust the private CA mounted at /etc/imagegate/ca" {
  digest=$(cat "$CONTAINER_WORK/pushed-digest")
  image="127.0.0.1:$REGISTRY_PORT/imagegate:e2e"
  run post /mutate "$(review before-hup "$image")"
  echo "$output"
  jq -e '.response.uid == "before-hup" and .response.allowed == false' <<<"$output"
  # Trust the private registry, and pin every image to the digest it serves.
  cat >"$CONTAINER_WORK/settings/settings.yaml" <<EOF
registries:
  allow: [ghcr.io, "127.0.0.1:$REGISTRY_PORT"]
digests:
  resolve: Required
EOF
  # Polling is off (--reload-interval-ms 0): only the signal reloads.
  pod_man kill --signal HUP webhook
  for _ in $(seq 1 100); do
    get /metrics | grep -q '^imagegate_settings_reloads_total{result="ok"} 1$' && break
    sleep 0.1
  done
  # The tag resolves, through the private CA, to the digest just pushed, and
  # /mutate pins it.
  run post /mutate "$(review after-hup "$image")"
  echo "$output"
  [ "$status" -eq 0 ]
  jq -e '.response.uid == "after-hup" and .response.allowed == true and .response.patchType == "JSONPatch"' <<<"$output"
  patch=$(jq -r .response.patch <<<"$output" | base64 -d)
  echo "patch = $patch"
  jq -e --arg pinned "$image@$digest" 'any(.[]; .path == "/spec/containers/0/image" and .value == $pinned)' <<<"$patch"
}

@test "without the private CA, the registry's certificate is refused, and the verdict says so" {
  # The container run by digest has only the image's public roots.
  port=$(cat "$CONTAINER_WORK/by-digest-port")
  pod_man kill --signal HUP by-digest
  for _ in $(seq 1 100); do
    get /metrics "$port" | grep -q '^imagegate_settings_reloads_total{result="ok"} 1$' && break
    sleep 0.1
  done
  run post /mutate "$(review no-ca "127.0.0.1:$REGISTRY_PORT/imagegate:e2e")" "$port"
  echo "$output"
  jq -e '.response.uid == "no-ca" and .response.allowed == false' <<<"$output"
  jq -e '.response.status.message | test("certificate|issuer"; "i")' <<<"$output"
}

@test "SIGTERM stops the container cleanly: every request in flight is answered, exit code 0" {
  # Evaluations that take seconds: digest lookups against a registry that
  # accepts connections and never answers.
  port=$(cat "$CONTAINER_WORK/by-digest-port")
  hanging=$(free_port)
  start_hanging_listener "$hanging"
  printf 'registries:\n  allow: ["127.0.0.1:%s"]\ndigests:\n  resolve: Required\n' "$hanging" \
    >"$CONTAINER_WORK/settings/settings.yaml"
  pod_man kill --signal HUP by-digest
  for _ in $(seq 1 100); do
    get /metrics "$port" | grep -q '^imagegate_settings_reloads_total{result="ok"} 2$' && break
    sleep 0.1
  done
  clients=()
  for i in 1 2 3 4; do
    post /validate "$(review "in-flight-$i" "127.0.0.1:$hanging/app:1")" "$port" \
      >"$BATS_TEST_TMPDIR/answer-$i.json" 2>&1 3>&- &
    clients+=("$!")
  done
  for _ in $(seq 1 100); do
    get /metrics "$port" | grep -q '^imagegate_in_flight_requests 4$' && break
    sleep 0.1
  done
  run get /metrics "$port"
  grep -q '^imagegate_in_flight_requests 4$' <<<"$output"
  # Stop it as the kubelet does: SIGTERM, then SIGKILL after the grace period.
  run pod_man stop --time 30 by-digest
  [ "$status" -eq 0 ]
  for i in 1 2 3 4; do
    wait "${clients[$((i - 1))]}" || { cat "$BATS_TEST_TMPDIR/answer-$i.json"; return 1; }
    cat "$BATS_TEST_TMPDIR/answer-$i.json"
    jq -e --arg uid "in-flight-$i" '.response.uid == $uid and .response.allowed == false' \
      "$BATS_TEST_TMPDIR/answer-$i.json"
  done
  run pod_man inspect by-digest --format '{{.State.ExitCode}}'
  [ "$output" = "0" ]
}
