# Helpers for registry.bats: real registries on loopback (Debian's
# docker-registry, the CNCF distribution registry), small OCI images written
# here byte by byte and pushed with skopeo, and a listener that never answers.
#
# Every process started here is remembered by pid in $REGISTRY_WORK/pids and
# stopped by stop_started (teardown_file); nothing is stopped by name.

# Fails, with the command that installs it, when a tool is missing.
require_tools() {
  local missing=() tool
  for tool in docker-registry skopeo htpasswd python3 curl jq; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "registry.bats needs: ${missing[*]}" >&2
    echo "install them with: apt-get install -y docker-registry skopeo apache2-utils python3 curl jq" >&2
    return 1
  fi
}

# The start of a registry file's setup_file: the tools, $REGISTRY_WORK (the
# file's scratch directory) and a HOME of its own there, so that no test
# reads the user's own registry credentials.
registry_sandbox() {
  require_tools || return 1
  export REGISTRY_WORK="$BATS_FILE_TMPDIR"
  export HOME="$REGISTRY_WORK/home"
  mkdir -p "$HOME"
  unset DOCKER_CONFIG
}

# A TCP port on 127.0.0.1 (or on ::1 with `free_port ::1`) that nothing
# listens on right now.
free_port() {
  python3 -c 'import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])
s.close()' "${1:-127.0.0.1}"
}

# sha256 of a file, hex.
sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

# Stores stdin as a blob of the OCI layout $1; prints "sha256:<hex> <size>".
put_blob() {
  local layout="$1" tmp hex size
  tmp=$(mktemp "$layout/blob.XXXXXX")
  cat >"$tmp"
  hex=$(sha256_of "$tmp")
  size=$(stat -c %s "$tmp")
  mkdir -p "$layout/blobs/sha256"
  mv "$tmp" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# An image manifest in layout $1 for platform $2/$3 with a one-file layer
# holding the text $4; prints "sha256:<hex> <size>" of the manifest. $5, when
# given, is a JSON object of manifest annotations, and $6 one of image config
# labels.
put_image() {
  local layout="$1" os="$2" arch="$3" text="$4" annotations="${5:-null}" labels="${6:-null}"
  local work layer diff_id config manifest
  work=$(mktemp -d "$layout/work.XXXXXX")
  printf '%s\n' "$text" >"$work/hello.txt"
  # A deterministic tar and gzip: the same bytes on every run.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$work/layer.tar" hello.txt
  diff_id="sha256:$(sha256_of "$work/layer.tar")"
  layer=$(gzip -9n <"$work/layer.tar" | put_blob "$layout")
  config=$(jq -cn --arg os "$os" --arg arch "$arch" --arg diff "$diff_id" --argjson labels "$labels" \
    '{architecture: $arch, os: $os, config: ({Cmd: ["/hello.txt"]} + if $labels then {Labels: $labels} else {} end),
      rootfs: {type: "layers", diff_ids: [$diff]}}' |
    tr -d '\n' | put_blob "$layout")
  manifest=$(jq -cn --arg cd "${config% *}" --argjson cs "${config#* }" --arg ld "${layer% *}" --argjson ls "${layer#* }" \
    --argjson annotations "$annotations" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]}
     + if $annotations then {annotations: $annotations} else {} end' |
    tr -d '\n' | put_blob "$layout")
  rm -rf "$work"
  echo "$manifest"
}

# An image index in layout $1 over "digest size os arch" lines on stdin;
# prints "sha256:<hex> <size>" of the index. $2, when given, is a JSON object
# of index annotations.
put_index() {
  local layout="$1" annotations="${2:-null}"
  jq -Rn --argjson annotations "$annotations" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [inputs | split(" ") |
        {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: .[0],
         size: (.[1] | tonumber), platform: {os: .[2], architecture: .[3]}}]}
     + if $annotations then {annotations: $annotations} else {} end' |
    tr -d '\n' | put_blob "$layout"
}

# Writes the layout's index.json: tag $2 → the manifest or index "$3" ("digest size")
# of media type $4.
tag_layout() {
  local layout="$1" tag="$2" target="$3" media_type="$4"
  echo '{"imageLayoutVersion": "1.0.0"}' >"$layout/oci-layout"
  jq -n --arg d "${target% *}" --argjson s "${target#* }" --arg t "$tag" --arg m "$media_type" \
    '{schemaVersion: 2, manifests: [{mediaType: $m, digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$layout/index.json"
}

# Starts docker-registry listening on $2 (127.0.0.1:PORT or [::1]:PORT) with
# its config, log and storage in directory $1 (several registries may share
# one storage directory) and, when $3 is given, htpasswd basic auth from file
# $3. Waits until it answers.
start_registry() {
  local dir="$1" addr="$2" htpasswd="${3:-}" config log
  mkdir -p "$dir/storage"
  config="$dir/config-${addr//[^0-9]/_}.yml"
  log="$dir/registry-${addr//[^0-9]/_}.log"
  {
    echo "version: 0.1"
    echo "log: {level: warn, accesslog: {disabled: true}}"
    echo "storage: {filesystem: {rootdirectory: $dir/storage}}"
    echo "http: {addr: \"$addr\"}"
    if [ -n "$htpasswd" ]; then
      echo "auth: {htpasswd: {realm: imagegate-test, path: $htpasswd}}"
    fi
  } >"$config"
  docker-registry serve "$config" >"$log" 2>&1 3>&- &
  echo "$!" >>"$REGISTRY_WORK/pids"
  wait_for_port "$addr" "$log"
}

# Waits (up to 20 s) until something accepts connections on $1
# (127.0.0.1:PORT or [::1]:PORT).
wait_for_port() {
  local addr="$1" log="${2:-}" i
  for i in $(seq 1 200); do
    if python3 -c 'import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
socket.create_connection((host.strip("[]"), int(port)), 0.2).close()' "$addr" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "nothing listens on $addr after 20 s" >&2
  [ -z "$log" ] || cat "$log" >&2
  return 1
}

# A listener on 127.0.0.1:$1 that accepts connections and never answers:
# a registry that hangs. It stops by itself after 120 s.
start_hanging_listener() {
  local port="$1"
  python3 - "$port" >"$REGISTRY_WORK/hang.log" 2>&1 3>&- <<'EOF' &
import socket, sys, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(16)
server.settimeout(1)
held = []
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        conn, _ = server.accept()
        held.append(conn)  # read nothing, answer nothing
    except socket.timeout:
        pass
EOF
  echo "$!" >>"$REGISTRY_WORK/pids"
  wait_for_port "127.0.0.1:$port" "$REGISTRY_WORK/hang.log"
}

# Stops every process this file started, by pid.
stop_started() {
  local pid
  [ -f "$REGISTRY_WORK/pids" ] || return 0
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$REGISTRY_WORK/pids"
  while read -r pid; do
    wait "$pid" 2>/dev/null || true
  done <"$REGISTRY_WORK/pids"
  rm -f "$REGISTRY_WORK/pids"
}

# A one-container Pod running image $1, written to $BATS_TEST_TMPDIR.
pod_with_image() {
  local out="$BATS_TEST_TMPDIR/pod.json"
  jq -n --arg image "$1" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app", namespace: "default"},
    spec: {containers: [{name: "app", image: $image}]}}' >"$out"
  echo "$out"
}
