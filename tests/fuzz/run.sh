#!/usr/bin/env bash
# Runs every fuzz target (or those in FUZZ_TARGETS) for FUZZ_SECONDS each; fails if any target
# finds a crash, a leak or a timeout. Prints the executions per target. See README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
fuzz_dir=tests/fuzz
target_dir=${FUZZ_TARGET_DIR:-$PWD/target/fuzz}
triple=$(rustc -vV | sed -n 's/^host: //p')

if ! command -v cargo-fuzz >/dev/null; then
  echo "cargo-fuzz is missing: run scripts/setup.sh" >&2
  exit 1
fi
if [ -n "${FUZZ_TARGETS:-}" ]; then
  targets=$FUZZ_TARGETS
elif ! targets=$(cargo fuzz list --fuzz-dir "$fuzz_dir"); then
  echo "cannot list the fuzz targets (cargo fuzz list failed)" >&2
  exit 1
fi
# Zero targets would be a run that proves nothing and passes: refuse it.
if [ -z "${targets//[[:space:]]/}" ]; then
  echo "no fuzz targets to run (FUZZ_TARGETS is empty, or $fuzz_dir lists none)" >&2
  exit 1
fi

# cargo-fuzz passes -Z flags (sanitizer, coverage); RUSTC_BOOTSTRAP lets the stable compiler
# accept them. Built once for all targets, then each binary is run directly.
echo "==> building fuzz targets (sanitizer: $sanitizer)"
RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" \
  -s "$sanitizer" || exit 1

failed=()
summary=()
for t in $targets; do
  work="$target_dir/corpus/$t"        # what libFuzzer adds (gitignored)
  seeds="$fuzz_dir/corpus/$t"         # committed seeds, only read
  artifacts="$fuzz_dir/artifacts/$t"  # crashing inputs (gitignored)
  mkdir -p "$work" "$artifacts"
  log="$target_dir/$t.log"
  "$target_dir/$triple/release/$t" "$work" "$seeds" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-14s FAILED (exit %s) after %s executions; see %s and %s' \
      "$t" "$rc" "${execs:-?}" "$log" "$artifacts")")
    grep -E "panicked|ERROR: |SUMMARY|Test unit written" "$log" | head -n 8 >&2
  else
    summary+=("$(printf '%-14s %12s executions in %ss' "$t" "${execs:-?}" "$seconds")")
  fi
done
echo "==> fuzz results"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproduce: $target_dir/$triple/release/<target> <artifact>)" >&2
  exit 1
fi
