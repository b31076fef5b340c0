#!/usr/bin/env bash
# Runs a cargo command for a wasm target: rustup's toolchain when it has the target,
# otherwise Debian's rustc/cargo with std built from source (-Z build-std), in a separate
# target dir so the two compilers never share artefacts.
# Usage: scripts/cargo-wasm.sh <target> <cargo subcommand> [args...]
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1; shift
sub=$1; shift
# WebAssembly SIMD for the whole module (wasm has no per-function target features): the bearer
# check reads 16 bytes per step (filter/policy/src/bearer.rs). Every engine we run in has it.
simd="-C target-feature=+simd128"
if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  RUSTFLAGS="${RUSTFLAGS:-} $simd" exec cargo "$sub" --target "$target" "$@"
fi
build_std=std,panic_abort
[ "$sub" = test ] && build_std=std,panic_abort,test
# Debian first on PATH, so `cargo clippy` finds Debian's cargo-clippy/clippy-driver too.
export PATH=/usr/bin:$PATH
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_WASM32_WASIP1_LINKER=wasm-ld-19
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export RUSTFLAGS="$simd"
if [ "$target" = wasm32-wasip1 ]; then
  export RUSTFLAGS="$simd -C link-arg=-L/usr/lib/wasm32-wasi -C target-feature=-crt-static"
fi
exec /usr/bin/cargo "$sub" --target "$target" -Z build-std="$build_std" --target-dir target/wasm "$@"
