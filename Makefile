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
HOST_BIN := target/release/imagegate
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
setup: ## install the wasm targets and wasm-opt (and, for tests, bats, jq, chromium and node when apt-get is there)
	rustup target add $(WASM_TARGET) $(JS_TARGET)
	@if ! command -v $(WASM_OPT) >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq binaryen; \
	  else echo "install binaryen (wasm-opt) to build policy.wasm" >&2; exit 1; fi; \
	fi

.PHONY: setup-test
setup-test: setup
	@missing=""; \
	for tool in bats jq chromium docker-registry skopeo openssl curl; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	command -v node >/dev/null || missing="$$missing nodejs npm"; \
	command -v htpasswd >/dev/null || missing="$$missing apache2-utils"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	  else echo "install$$missing to run the tests" >&2; exit 1; fi; \
	fi

policy.wasm: $(POLICY_SOURCES) .cargo/config.toml ## build the Kubewarden policy module (wasm32-wasip1)
	@command -v $(WASM_OPT) >/dev/null || { echo "policy.wasm needs wasm-opt: apt-get install binaryen (or make setup)" >&2; exit 1; }
	$(CARGO) build --locked -p imagegate-policy --target $(WASM_TARGET) --profile $(WASM_PROFILE)
	$(WASM_OPT) -Os $(WASM_OPT_FEATURES) $(WASM_OUT) -o policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

annotated-policy.wasm: policy.wasm metadata.yml README.md $(HOST_BIN) ## embed metadata.yml and README.md as kwctl annotate does
	$(HOST_BIN) annotate --metadata metadata.yml --usage README.md --output annotated-policy.wasm policy.wasm

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

$(HOST_BIN): $(HOST_SOURCES)
	$(CARGO) build --locked --release -p imagegate-host
	@touch $(HOST_BIN)

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
unit-tests: policy.wasm $(HOST_BIN) ## unit, doc and case tests of the core and the host
	IMAGEGATE_CACHE_DIR=$(TEST_CACHE_DIR) $(CARGO) test --locked --release --workspace

.PHONY: e2e-tests
e2e-tests: annotated-policy.wasm $(HOST_BIN) ## bats end-to-end tests through the built module
	IMAGEGATE_CACHE_DIR=$(TEST_CACHE_DIR) bats e2e-tests

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
