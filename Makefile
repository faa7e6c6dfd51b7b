# imagegate: `make help` lists the targets.
#
# The two commands a new user needs:
#   make demo   builds policy.wasm and the imagegate host, then evaluates the
#               sample workloads in demo/ and prints the verdicts
#   make test   runs every test: formatting, lints, unit and case tests of the
#               core, the host's tests, and the bats end-to-end suite
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_PROFILE := release-wasm
WASM_OUT := target/$(WASM_TARGET)/$(WASM_PROFILE)/imagegate_policy.wasm
# The imagegate host is built once, statically linked against musl, for the
# container image (Containerfile) and for every test: `make unit-tests`
# builds the workspace's tests for the same target, so nothing is compiled
# twice. Off Linux (no musl target to run), the native build.
HOST_TARGET ?= $(if $(filter Linux,$(shell uname -s)),$(shell uname -m)-unknown-linux-musl)
HOST_TARGET_FLAG := $(if $(HOST_TARGET),--target $(HOST_TARGET))
HOST_BIN := target/$(if $(HOST_TARGET),$(HOST_TARGET)/)release/imagegate
# binaryen's optimizer runs over the module rustc writes: 60 KB smaller and a
# few per cent faster (BENCHMARKS.md). The features are rustc's defaults for
# wasm32-wasip1 (the stripped module has no target_features section to read).
WASM_OPT ?= wasm-opt
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
POLICY_SOURCES := $(shell find policy/src -name '*.rs') policy/Cargo.toml Cargo.toml Cargo.lock
HOST_SOURCES := $(shell find host/src -name '*.rs') host/Cargo.toml Cargo.toml Cargo.lock
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

# The JavaScript build (js/, playground/): the same core, feature `js`, for
# wasm32-unknown-unknown, then the wasm-bindgen CLI at exactly the version of
# the wasm-bindgen crate in Cargo.lock, installed from crates.io into
# $(TOOLS_DIR) the first time (a few minutes; CI keeps it in a cache folder).
JS_TARGET := wasm32-unknown-unknown
JS_PROFILE := release-js
JS_WASM := target/$(JS_TARGET)/$(JS_PROFILE)/imagegate_policy.wasm
JS_PKG := js/pkg/imagegate_policy_bg.wasm
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
TOOLS_DIR ?= target/tools
WASM_BINDGEN := $(TOOLS_DIR)/wasm-bindgen-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
PLAYGROUND_DIR := target/playground
PLAYGROUND_SOURCES := $(wildcard playground/src/*) playground/build.mjs playground/package-lock.json

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## install the wasm and musl targets, wasm-opt and musl-gcc (and, for tests, bats, jq, chromium, podman and node when apt-get is there)
	rustup target add $(WASM_TARGET) $(JS_TARGET) $(HOST_TARGET)
	@missing=""; \
	command -v $(WASM_OPT) >/dev/null || missing="$$missing binaryen"; \
	if [ -n "$(HOST_TARGET)" ]; then command -v musl-gcc >/dev/null || missing="$$missing musl-tools"; fi; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	  else echo "install$$missing (wasm-opt for policy.wasm; musl-gcc, for ring, for the static host)" >&2; exit 1; fi; \
	fi

.PHONY: setup-test
setup-test: setup
	@missing=""; \
	for tool in bats jq chromium docker-registry skopeo file openssl curl; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	command -v node >/dev/null || missing="$$missing nodejs npm"; \
	command -v htpasswd >/dev/null || missing="$$missing apache2-utils"; \
	for tool in podman runc; do command -v $$tool >/dev/null || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	[ -f $(CA_BUNDLE) ] || missing="$$missing ca-certificates"; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	  else echo "install$$missing to run the tests" >&2; exit 1; fi; \
	fi
	@$(MAKE) --no-print-directory $(VENV_STAMP)

# The manifest validator (e2e-tests/manifests.bats): kubernetes-validate
# and its dependencies, pinned in e2e-tests/requirements.txt, in a venv
# inside target/.
VENV := target/venv
VENV_STAMP := $(VENV)/.installed
$(VENV_STAMP): e2e-tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r e2e-tests/requirements.txt
	@touch $@

policy.wasm: $(POLICY_SOURCES) .cargo/config.toml ## build the Kubewarden policy module (wasm32-wasip1)
	@command -v $(WASM_OPT) >/dev/null || { echo "policy.wasm needs wasm-opt: apt-get install binaryen (or make setup)" >&2; exit 1; }
	$(CARGO) build --locked -p imagegate-policy --target $(WASM_TARGET) --profile $(WASM_PROFILE)
	$(WASM_OPT) -Os $(WASM_OPT_FEATURES) $(WASM_OUT) -o policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

annotated-policy.wasm: policy.wasm metadata.yml USAGE.md $(HOST_BIN) ## embed metadata.yml and USAGE.md (the short user reference) as kwctl annotate does
	$(HOST_BIN) annotate --metadata metadata.yml --usage USAGE.md --output-path annotated-policy.wasm policy.wasm

# `make release`: the module as it is published, annotated with metadata.yml
# and this README; with REGISTRY=host[:port]/repository also pushed there as
# a Kubewarden policy artifact tagged v$(VERSION) (PUSH_FLAGS for
# --insecure-registry HOST:PORT, --docker-config FILE).
REGISTRY ?=
PUSH_FLAGS ?=

.PHONY: release
release: check-versions annotated-policy.wasm $(HOST_BIN) ## build and annotate the module; with REGISTRY=host[:port]/repo push it as :v$(VERSION)
	@echo "annotated-policy.wasm: $$(stat -c %s annotated-policy.wasm) bytes, sha256:$$(sha256sum annotated-policy.wasm | cut -d' ' -f1)"
	@if [ -n "$(REGISTRY)" ]; then \
	  $(HOST_BIN) push annotated-policy.wasm "registry://$(REGISTRY):v$(VERSION)" $(PUSH_FLAGS); \
	else \
	  echo "not pushed: give REGISTRY=host[:port]/repository, e.g. make release REGISTRY=ghcr.io/imagegate/policies/imagegate"; \
	fi

.PHONY: host
host: $(HOST_BIN) ## build the imagegate host command

.PHONY: man
man: $(HOST_BIN) ## write the manual pages (imagegate.1, imagegate-COMMAND.1) into target/man
	$(HOST_BIN) man --dir target/man

# Built by `cargo test --no-run`, the very invocation `make unit-tests`
# repeats: the workspace's test build (the policy crate's default features,
# the dev-dependencies criterion and proptest) turns on features of crates
# the host shares (wasmtime's dependencies among them), so a plain `cargo
# build -p imagegate-host` compiled wasmtime and Cranelift a second time with
# other features, and the image held a binary the tests never ran. This way
# the workspace is compiled once, and CARGO_BIN_EXE_imagegate is $(HOST_BIN).
$(HOST_BIN): $(HOST_SOURCES) $(POLICY_SOURCES)
	$(CARGO) test --locked --release --workspace --no-run $(HOST_TARGET_FLAG)
	@[ -x $(HOST_BIN) ] || { echo "cargo test --no-run built no $(HOST_BIN)" >&2; exit 1; }
	@touch $(HOST_BIN)

# The container image (Containerfile): the static host (without its symbol
# table: 30 MB become 24 MB), policy.wasm and the public CA roots of this
# machine (Debian's ca-certificates), staged in IMAGE_CONTEXT, the whole
# build context. No compiler runs and no base image is pulled. IMAGE names
# the result; CONTAINER_ENGINE is podman, else docker.
IMAGE ?= imagegate:$(VERSION)
CONTAINER_ENGINE ?= $(shell command -v podman >/dev/null && echo podman || echo docker)
IMAGE_CONTEXT := target/image/context
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
STRIP ?= strip

.PHONY: image-context
image-context: $(HOST_BIN) policy.wasm ## stage what the container image holds in target/image/context
	@[ -n "$(HOST_TARGET)" ] || { echo "the image needs the static (musl) host: HOST_TARGET is empty off Linux" >&2; exit 1; }
	@[ -f $(CA_BUNDLE) ] || { echo "no CA bundle at $(CA_BUNDLE): apt-get install ca-certificates (or CA_BUNDLE=FILE)" >&2; exit 1; }
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/ca
	$(STRIP) --strip-all -o $(IMAGE_CONTEXT)/imagegate $(HOST_BIN)
	cp policy.wasm $(IMAGE_CONTEXT)/policy.wasm
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt

.PHONY: image
image: image-context ## build the container image IMAGE (default imagegate:VERSION) with podman or docker
	$(CONTAINER_ENGINE) build -f Containerfile --build-arg VERSION=$(VERSION) -t $(IMAGE) $(IMAGE_CONTEXT)
	@echo "$(IMAGE): $$(du -sb $(IMAGE_CONTEXT) | cut -f1) bytes of files"

.PHONY: demo
demo: setup policy.wasm $(HOST_BIN) ## build everything and evaluate the sample workloads in demo/
	@bash demo/run.sh $(HOST_BIN) policy.wasm

.PHONY: fmt
fmt: ## check formatting
	$(CARGO) fmt --all -- --check

.PHONY: lint
lint: fuzz-build ## clippy on every crate and target (the fuzz targets too), warnings are errors
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p imagegate-policy --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy --locked -p imagegate-policy --no-default-features --features js --target $(JS_TARGET) -- -D warnings

# The tests' compiled modules (many small fake ones) go to a cache inside
# target/, not to the user's ~/.cache/imagegate.
TEST_CACHE_DIR := $(CURDIR)/target/test-cache

.PHONY: unit-tests
# --release so the tests reuse the host's release build of wasmtime instead of
# compiling it a second time in the dev profile.
# The same cargo invocation as $(HOST_BIN)'s, so the tests reuse that build
# (and CARGO_BIN_EXE_imagegate is that binary).
unit-tests: policy.wasm $(HOST_BIN) ## unit, doc and case tests of the core and the host
	IMAGEGATE_CACHE_DIR=$(TEST_CACHE_DIR) $(CARGO) test --locked --release --workspace $(HOST_TARGET_FLAG)

.PHONY: e2e-tests
e2e-tests: annotated-policy.wasm $(HOST_BIN) image-context $(VENV_STAMP) ## bats end-to-end tests through the built module (and the container image)
	IMAGEGATE=$(CURDIR)/$(HOST_BIN) VENV=$(CURDIR)/$(VENV) IMAGE_CONTEXT=$(CURDIR)/$(IMAGE_CONTEXT) IMAGEGATE_CACHE_DIR=$(TEST_CACHE_DIR) bats e2e-tests

.PHONY: cases-bats
cases-bats: ## regenerate e2e-tests/cases.bats (one test per testdata/cases case) after adding a case
	bash e2e-tests/gen-cases-bats.sh

# wasm-bindgen-cli's own Cargo.lock can name a dependency version the
# registry does not serve (webpki-roots 1.0.11 at 0.2.130); then it is
# installed with the newest compatible dependencies rather than not at all.
$(WASM_BINDGEN):
	@[ -n "$(WASM_BINDGEN_VERSION)" ] || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }
	$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked --root $(TOOLS_DIR)/wasm-bindgen-$(WASM_BINDGEN_VERSION) \
	  || $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS_DIR)/wasm-bindgen-$(WASM_BINDGEN_VERSION)
	@touch $(WASM_BINDGEN)

.PHONY: js
js: $(JS_PKG) ## build the JavaScript package in js/ (wasm-bindgen module for Node.js and browsers)

$(JS_PKG): $(POLICY_SOURCES) $(WASM_BINDGEN)
	$(CARGO) build --locked -p imagegate-policy --no-default-features --features js --target $(JS_TARGET) --profile $(JS_PROFILE)
	$(WASM_BINDGEN) --target web --remove-name-section --remove-producers-section --out-dir js/pkg --out-name imagegate_policy $(JS_WASM)
	@echo "$(JS_PKG): $$(stat -c %s $(JS_PKG)) bytes, $$(gzip -9c $(JS_PKG) | wc -c) gzipped"

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund

playground/node_modules/.package-lock.json: playground/package.json playground/package-lock.json
	cd playground && npm ci --no-audit --no-fund

.PHONY: js-test
js-test: $(JS_PKG) js/node_modules/.package-lock.json ## Node tests of the JS build: every case, the API, the README example, the types
	cd js && node --test test/*.test.js
	cd js && npx --no-install tsc --project tsconfig.json

.PHONY: playground
playground: $(PLAYGROUND_DIR)/index.html ## build the browser playground into target/playground (serve it with any static server)

$(PLAYGROUND_DIR)/index.html: $(JS_PKG) $(PLAYGROUND_SOURCES) playground/node_modules/.package-lock.json
	node playground/build.mjs $(PLAYGROUND_DIR)

.PHONY: playground-test
playground-test: playground playground/node_modules/.package-lock.json ## drive the playground in headless chromium (Playwright)
	@command -v chromium >/dev/null || { echo "playground-test needs Debian's chromium: apt-get install -y chromium" >&2; exit 1; }
	cd playground && node --test test/*.test.js

.PHONY: check-versions
check-versions: ## Cargo.toml, metadata.yml, artifacthub-pkg.yml and the package.json files name one version
	@grep -q "io.kubewarden.policy.version: $(VERSION)$$" metadata.yml || { echo "metadata.yml version differs from Cargo.toml $(VERSION)" >&2; exit 1; }
	@grep -q "^version: $(VERSION)$$" artifacthub-pkg.yml || { echo "artifacthub-pkg.yml version differs from Cargo.toml $(VERSION)" >&2; exit 1; }
	@for p in js/package.json playground/package.json; do \
	  grep -q '^  "version": "$(VERSION)",$$' $$p || { echo "$$p version differs from Cargo.toml $(VERSION)" >&2; exit 1; }; \
	done
	@echo "version $(VERSION) everywhere"

.PHONY: test
test: setup-test fmt lint check-versions unit-tests e2e-tests js-test playground-test ## run every test
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"
	@echo "$(JS_PKG): $$(stat -c %s $(JS_PKG)) bytes"

# The benchmarks behind BENCHMARKS.md: criterion on the native core, then
# the module through the host, reused and fresh instances, with the
# project's settings and with settings trusted-repos-policy also accepts.
# PEER_WASM=path/to/trusted_repos_policy.wasm adds the peer to the same run
# (build it beside the project from its public source; it is not committed).
BENCH_REQUEST := testdata/requests/deployment_create.json
PEER_WASM ?=

.PHONY: bench
bench: policy.wasm $(HOST_BIN) ## criterion benchmarks of the core, imagegate bench of the module (PEER_WASM= to compare), and wrk on imagegate serve
	$(CARGO) bench --locked -p imagegate-policy --bench core
	$(CARGO) test --locked -q -p imagegate-policy --test allocations -- --nocapture allocations_per_validate
	@size=$$(stat -c %s policy.wasm); echo "policy.wasm: $$size bytes (target: at most 524288)"; \
	  [ "$$size" -le 524288 ] || { echo "policy.wasm is over its 512 KiB budget" >&2; exit 1; }
	$(HOST_BIN) bench --policy policy.wasm --request $(BENCH_REQUEST) --settings testdata/settings/bench.yaml --fresh-instance
	$(HOST_BIN) bench --policy policy.wasm --request $(BENCH_REQUEST) --settings testdata/settings/bench-peer.yaml --fresh-instance
	@if [ -n "$(PEER_WASM)" ]; then \
	  echo "peer $(PEER_WASM): $$(stat -c %s $(PEER_WASM)) bytes"; \
	  $(HOST_BIN) bench --policy $(PEER_WASM) --request $(BENCH_REQUEST) --settings testdata/settings/bench-peer.yaml --fresh-instance --iterations 200 --warmup 10; \
	  $(HOST_BIN) bench --policy policy.wasm --compare $(PEER_WASM) --request $(BENCH_REQUEST) --settings testdata/settings/bench-peer.yaml --iterations 4000; \
	fi
	$(HOST_BIN) bench --policy policy.wasm --native --request $(BENCH_REQUEST) --settings testdata/settings/bench-peer.yaml --iterations 4000
	@# imagegate run as a whole process, warm compiled-module cache (hyperfine: apt-get install -y hyperfine)
	@if command -v hyperfine >/dev/null; then \
	  hyperfine -N --warmup 5 --runs 100 '$(HOST_BIN) run --policy policy.wasm --request $(BENCH_REQUEST) --settings testdata/settings/bench.yaml --output text'; \
	else echo "hyperfine not installed: skipping the imagegate run timing"; fi
	IMAGEGATE=$(HOST_BIN) BENCH_REQUEST=$(BENCH_REQUEST) scripts/bench-serve.sh
	@# One signature verification in imagegate serve, cold and cached, against a loopback docker-registry
	IMAGEGATE_CACHE_DIR=$(TEST_CACHE_DIR) $(CARGO) test --locked --release -q -p imagegate-host --test signatures -- --ignored --nocapture bench_verification_cold_and_cached

# Fuzzing (fuzz/, cargo-fuzz on libFuzzer): each target runs FUZZ_SECONDS
# from the seed corpus in fuzz/corpus/<target>, keeping what it learns in
# target/fuzz-corpus/<target> (the repository's seeds stay as they are); a
# crash or an input slower than 10 s stops it, with the input saved under
# fuzz/artifacts/<target>. It needs the nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly; cargo install cargo-fuzz`), so it is
# not part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := reference settings validate_bytes validate_structured
FUZZ_CORPUS_DIR := target/fuzz-corpus

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZ_SECONDS (default 60) each (nightly + cargo-fuzz)
	@command -v cargo-fuzz >/dev/null || { echo "make fuzz needs cargo-fuzz: cargo install cargo-fuzz (and rustup toolchain install nightly)" >&2; exit 1; }
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_CORPUS_DIR)/$$target; \
	  case $$target in reference) dict=fuzz/dict/reference.dict;; *) dict=fuzz/dict/json.dict;; esac; \
	  echo "== fuzz $$target for $(FUZZ_SECONDS)s"; \
	  $(CARGO) +nightly fuzz run $$target $(FUZZ_CORPUS_DIR)/$$target fuzz/corpus/$$target -- \
	    -dict=$$dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 || exit 1; \
	done

.PHONY: fuzz-build
# Without libFuzzer itself (feature link_libfuzzer): no nightly, no C++ build,
# about 20 s from scratch, so `make lint` (and CI) runs it.
fuzz-build: ## check that the fuzz targets are formatted, compile and pass clippy (stable, no cargo-fuzz)
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --locked --manifest-path fuzz/Cargo.toml --bins --no-default-features -- -D warnings

.PHONY: clean
clean: ## remove build outputs
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
	rm -rf js/pkg
