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
POLICY_SOURCES := $(shell find policy/src -name '*.rs') policy/Cargo.toml Cargo.toml Cargo.lock
HOST_SOURCES := $(shell find host/src -name '*.rs') host/Cargo.toml Cargo.toml Cargo.lock
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## install the wasm target (and, for tests, bats and jq when apt-get is there)
	rustup target add $(WASM_TARGET)

.PHONY: setup-test
setup-test: setup
	@if ! command -v bats >/dev/null || ! command -v jq >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bats jq; \
	  else echo "install bats and jq to run the end-to-end tests" >&2; exit 1; fi; \
	fi

policy.wasm: $(POLICY_SOURCES) ## build the Kubewarden policy module (wasm32-wasip1)
	$(CARGO) build --locked -p imagegate-policy --target $(WASM_TARGET) --profile $(WASM_PROFILE)
	cp $(WASM_OUT) policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

annotated-policy.wasm: policy.wasm metadata.yml README.md $(HOST_BIN) ## embed metadata.yml and README.md as kwctl annotate does
	$(HOST_BIN) annotate --metadata metadata.yml --usage README.md --output annotated-policy.wasm policy.wasm

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
lint: ## clippy on every crate and target, warnings are errors
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p imagegate-policy --target $(WASM_TARGET) -- -D warnings

.PHONY: unit-tests
# --release so the tests reuse the host's release build of wasmtime instead of
# compiling it a second time in the dev profile.
unit-tests: policy.wasm $(HOST_BIN) ## unit, doc and case tests of the core and the host
	$(CARGO) test --locked --release --workspace

.PHONY: e2e-tests
e2e-tests: annotated-policy.wasm $(HOST_BIN) ## bats end-to-end tests through the built module
	bats e2e-tests

.PHONY: check-versions
check-versions: ## Cargo.toml, metadata.yml and artifacthub-pkg.yml name one version
	@grep -q "io.kubewarden.policy.version: $(VERSION)$$" metadata.yml || { echo "metadata.yml version differs from Cargo.toml $(VERSION)" >&2; exit 1; }
	@grep -q "^version: $(VERSION)$$" artifacthub-pkg.yml || { echo "artifacthub-pkg.yml version differs from Cargo.toml $(VERSION)" >&2; exit 1; }
	@echo "version $(VERSION) everywhere"

.PHONY: test
test: setup-test fmt lint check-versions unit-tests e2e-tests ## run every test
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

.PHONY: bench
bench: policy.wasm $(HOST_BIN) ## per-evaluation latency of validate and validate_settings
	$(HOST_BIN) bench --policy policy.wasm --request testdata/requests/deployment_create.json --settings testdata/settings/bench.yaml

.PHONY: clean
clean: ## remove build outputs
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
