#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a set time each, growing the kept corpora.
#   scripts/fuzz.sh [seconds-per-target] [target...]      default: 600 s, all targets
# Targets and oracles: src/fuzzing.rs; entry points: fuzz/fuzz_targets/. cargo fuzz needs
# nightly-only rustc flags: the stable toolchain runs them with RUSTC_BOOTSTRAP=1. A crash
# leaves its input in fuzz/artifacts/<target>/ and makes this script fail; the corpora are
# minimised (cargo fuzz cmin) before they are kept. Replaying them is part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(aws_chunked range_header sealed_stream config_file audit_log provider_listing copy_source)
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/souverain-fuzz-target}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  CARGO_TARGET_DIR="${TOOLS_TARGET_DIR:-/var/tmp/souverain-tools-target}" cargo install cargo-fuzz --locked
fi
# Safe Rust: coverage and the oracles find the bugs; AddressSanitizer only doubles the build.
sanitizer="${FUZZ_SANITIZER:-none}"
failed=()
for t in "${targets[@]}"; do
  echo "== $t: ${secs}s"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="fuzz/artifacts/$t/last-run.log"
  status=0
  cargo fuzz run --fuzz-dir fuzz -s "$sanitizer" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ +DONE|SUMMARY|panicked|^error" "$log" || true
  if [ "$status" -ne 0 ] || ls "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/oom-* "fuzz/artifacts/$t"/timeout-* >/dev/null 2>&1; then
    echo "$t FAILED (exit $status; log $log)"
    failed+=("$t")
  fi
  cargo fuzz cmin --fuzz-dir fuzz -s "$sanitizer" "$t" "fuzz/corpus/$t" >/dev/null 2>&1 || true
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "no crashes"
