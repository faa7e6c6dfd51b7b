# imagegate: `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_PROFILE := release-wasm
WASM_OUT := target/$(WASM_TARGET)/$(WASM_PROFILE)/imagegate_policy.wasm
HOST_BIN := target/release/imagegate
POLICY_SOURCES := $(shell find policy/src -name '*.rs') policy/Cargo.toml Cargo.toml Cargo.lock
HOST_SOURCES := $(shell find host/src -name '*.rs') host/Cargo.toml Cargo.toml Cargo.lock

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

policy.wasm: $(POLICY_SOURCES) ## build the Kubewarden policy module (wasm32-wasip1)
	$(CARGO) build --locked -p imagegate-policy --target $(WASM_TARGET) --profile $(WASM_PROFILE)
	cp $(WASM_OUT) policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

.PHONY: host
host: $(HOST_BIN) ## build the imagegate host command

$(HOST_BIN): $(HOST_SOURCES)
	$(CARGO) build --locked --release -p imagegate-host
