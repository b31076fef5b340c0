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
# `make run SECONDARY=1`: a second named follows the backend's catalog zone as a secondary.
SECONDARY ?=

.PHONY: setup wasm build test test-wasm lint run run-bins bench clean-run oci oci-pin image-bin fuzz fuzz-smoke

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

test: wasm lint test-wasm image-bin
	python3 bench/claims.py --check
	cargo build --workspace --bins
	cargo build -p bindcar@0.1 --features failpoints --bin bindcar-failpoints
	cargo test --workspace --no-fail-fast
	$(MAKE) fuzz-smoke

# MODE=basic (default), tokenreview or authz (`target/debug/devstack --help`); SECONDARY=1 adds
# a second named that follows the backend's catalog zone. The stack is the one command of the
# recipe, so make's own signals reach it (devstack.rs, MakeParent).
run: wasm run-bins
	target/debug/devstack --mode $(MODE) $(if $(SECONDARY),--secondary)

run-bins:
	cargo build -p bindcar@0.1 -p bindcar-devstack --bins

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

# The images, built without Docker into OCI image layouts; each prints its manifest digest.
# - The filter (dist/oci): the "compat" Wasm image Istio pulls, one tar+gzip layer holding
#   plugin.wasm (scripts/oci-image.py; envoy/istio/README.md: "Publish the module").
# - The backend (dist/oci-backend): the bindcar binary, statically linked, and the few files a
#   non-root process needs (scripts/oci-backend.py says which and why). Built with the
#   `image` profile for the explicit target, so the flags touch neither build scripts nor
#   target/release; the checkout's and the registry's paths are remapped so that the binary,
#   hence the digest, is the same wherever the clone and CARGO_HOME are.
# `oci-pin` writes both digests where they are pinned; the tests fail on a stale pin.
OCI_TAG ?= 0.1.0
OCI_PINNED := envoy/istio/wasmplugin.yaml envoy/istio/README.md
IMAGE_TARGET := x86_64-unknown-linux-gnu
IMAGE_BIN := target/$(IMAGE_TARGET)/image/bindcar
BACKEND_PINNED := envoy/kubernetes/deployment.yaml
CARGO_HOME ?= $(HOME)/.cargo

image-bin:
	RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$(CURDIR)=/src --remap-path-prefix=$(CARGO_HOME)=/cargo" \
	  cargo build --profile image --target $(IMAGE_TARGET) -p bindcar@0.1
	@echo "built $(IMAGE_BIN) ($$(stat -c %s $(IMAGE_BIN)) bytes, static)"

oci: wasm image-bin
	python3 scripts/oci-image.py build --tag $(OCI_TAG) --out dist/oci $(WASM)
	python3 scripts/oci-backend.py build --tag $(OCI_TAG) --out dist/oci-backend $(IMAGE_BIN)

oci-pin: oci
	python3 scripts/oci-image.py pin --tag $(OCI_TAG) $(WASM) $(OCI_PINNED)
	python3 scripts/oci-backend.py pin --tag $(OCI_TAG) $(IMAGE_BIN) $(BACKEND_PINNED)
