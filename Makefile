# bindcar, mesh-native. The two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
WASM := dist/bindcar_auth_filter.wasm
# Callbacks the filter leaves at the SDK's defaults: not exported, so Envoy never enters the VM
# for them (scripts/wasm-exports.py says why; the filter cleans up in Drop, on proxy_on_delete).
UNUSED_CALLBACKS := proxy_on_request_body proxy_on_request_trailers proxy_on_response_headers \
  proxy_on_response_body proxy_on_response_trailers proxy_on_log proxy_on_done
WASM_OUT := $(shell rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 && echo target || echo target/wasm)/wasm32-wasip1/wasm-release
WASM_BUILT := $(WASM_OUT)/bindcar_auth_filter.wasm
# The do-nothing filter `make bench` measures the real one against (bench/noop-filter).
NOOP_WASM := dist/bindcar_noop_filter.wasm
MODE ?= basic

.PHONY: setup wasm build test test-wasm lint run bench clean-run oci oci-pin fuzz fuzz-smoke

setup:
	@scripts/setup.sh

wasm: setup
	scripts/cargo-wasm.sh wasm32-wasip1 build --profile wasm-release -p bindcar-auth-filter
	@mkdir -p dist && python3 scripts/wasm-exports.py $(WASM_BUILT) $(WASM) $(UNUSED_CALLBACKS)
	@echo "built $(WASM) ($$(stat -c %s $(WASM)) bytes)"

build: setup
	cargo build --release -p bindcar@0.1
	@echo "built target/release/bindcar"

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p bindcar@0.1 --features failpoints --all-targets -- -D warnings
	scripts/cargo-wasm.sh wasm32-wasip1 clippy --profile wasm-release -p bindcar-auth-filter -p bindcar-policy -- -D warnings

# The policy tests again, compiled to wasm32 and run under Node.
test-wasm: setup
	scripts/cargo-wasm.sh wasm32-unknown-unknown test --tests -p bindcar-policy

test: wasm lint test-wasm
	cargo build --workspace --bins
	cargo build -p bindcar@0.1 --features failpoints --bin bindcar-failpoints
	cargo test --workspace --no-fail-fast
	$(MAKE) fuzz-smoke

run: wasm
	cargo build -p bindcar@0.1 -p bindcar-devstack --bins
	target/debug/devstack --mode $(MODE)

bench: wasm
	WITH_BENCH=1 scripts/setup.sh
	scripts/cargo-wasm.sh wasm32-wasip1 build --profile wasm-release -p bindcar-noop-filter
	@cp $(WASM_OUT)/bindcar_noop_filter.wasm $(NOOP_WASM)
	cargo build --release -p bindcar@0.1 -p bindcar-bench
	.venv/bin/python bench/run.py

# Every parser that sees outside bytes under libFuzzer (tests/fuzz/README.md): FUZZ_SECONDS
# each; fails on any crash. `fuzz-smoke` is the short run `make test` does.
FUZZ_SECONDS ?= 60

fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

fuzz-smoke: setup
	FUZZ_SECONDS=3 tests/fuzz/run.sh

# The filter as an OCI image Istio can pull (the "compat" Wasm image: one tar+gzip layer
# holding plugin.wasm), built without Docker into the image layout dist/oci; prints the
# manifest digest. `oci-pin` writes that digest into the WasmPlugin and its README
# (envoy/istio/README.md: "Publish the module").
OCI_TAG ?= 0.1.0
OCI_PINNED := envoy/istio/wasmplugin.yaml envoy/istio/README.md

oci: wasm
	python3 scripts/oci-image.py build --tag $(OCI_TAG) --out dist/oci $(WASM)

oci-pin: oci
	python3 scripts/oci-image.py pin --tag $(OCI_TAG) $(WASM) $(OCI_PINNED)
