#!/usr/bin/env bash
# The end-to-end benchmark (benches/e2e/, docs/performance.md): the release gateway against
# one s3s-fs directly and against rclone serve s3 (crypt over a union of three s3 remotes), and
# with its metadata in PostgreSQL (one and two gateways) next to RocksDB.
# Installs what it needs (s3s-fs, rclone), builds the release gateway once, then runs; prints
# the table and writes JSON to $BENCH_E2E_JSON (default /tmp/souverain-bench-e2e.json).
#   BENCH_E2E_SCALE=small      a shortened run, for a quick look
#   BENCH_E2E_PROVIDER=rclone  rclone serve s3 over directories as the providers instead of s3s-fs
#   BENCH_E2E_SYSTEMS="direct,gateway N=3 W=2"   only these systems
#   BENCH_E2E_WORKLOADS="64MiB x16,1GiB x1"      only these workloads
#   BENCH_E2E_PERF=GET         a perf profile of the gateway (or rclone) in every GET phase,
#       under $BENCH_E2E_PERF_DIR (default /tmp/souverain-bench-perf); slows what it records
#   BENCH_E2E_BASELINE=<commit>  before/after in one run: builds that commit too (in a git
#       worktree, same target directory) and runs both builds alternately, BENCH_E2E_ROUNDS
#       times each (default 2; order before, after, then after, before, ...), then prints both
#       builds' figures side by side. JSON of every round under $BENCH_E2E_OUT (default
#       /tmp/souverain-bench-e2e), the comparison also in $BENCH_E2E_OUT/compare.md. Systems a
#       build cannot run (a feature it predates) are skipped for that build and show "–".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test-tools >&2
target="${CARGO_TARGET_DIR:-/var/tmp/souverain-target}"
mkdir -p "$target/bench-e2e"
# The benchmark driver needs no RocksDB (it runs release binaries); `cargo bench` builds the
# package's binary again without RocksDB in place, hence copies of the gateway builds. The
# driver is compiled once and then run as it is: a run takes many minutes, and sources edited
# meanwhile must neither be compiled into a later round nor stop it half way.
built_driver="$(scripts/cargo.sh bench --no-default-features --bench e2e --no-run 2>&1)" || {
  echo "$built_driver" >&2
  exit 1
}
driver="$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' <<<"$built_driver" | tail -1)"
if [ ! -x "$driver" ]; then
  echo "$built_driver" >&2
  echo "the benchmark driver's executable was not found in cargo's output" >&2
  exit 1
fi
bench() { "$driver" --bench; }

if [ -z "${BENCH_E2E_BASELINE:-}" ]; then
  built="$(scripts/build.sh --release | tail -1)"
  export SOUVERAIN_BIN="$target/bench-e2e/souverain"
  cp "$built" "$SOUVERAIN_BIN"
  bench
  exit
fi

base="$(git rev-parse --short "$BENCH_E2E_BASELINE^{commit}")"
changed="$(git status --porcelain -- src Cargo.toml Cargo.lock)"
head="$(git rev-parse --short HEAD)${changed:++changes}"
out="${BENCH_E2E_OUT:-/tmp/souverain-bench-e2e}"
rounds="${BENCH_E2E_ROUNDS:-2}"
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "BENCH_E2E_ROUNDS must be a positive whole number" >&2
  exit 2
fi
case "$out" in *[,\;=]*) echo "BENCH_E2E_OUT must not hold , ; or =" >&2; exit 2 ;; esac
mkdir -p "$out"
worktree="$target/bench-e2e/worktree-$base"
if [ ! -x "$target/bench-e2e/souverain-$base" ]; then
  git worktree prune
  rm -rf "$worktree"
  git worktree add --detach "$worktree" "$base" >&2
  trap 'git worktree remove --force "$worktree" 2>/dev/null || true' EXIT
  built="$(cd "$worktree" && scripts/build.sh --release | tail -1)"
  cp "$built" "$target/bench-e2e/souverain-$base"
  git worktree remove --force "$worktree"
fi
built="$(scripts/build.sh --release | tail -1)"
cp "$built" "$target/bench-e2e/souverain-head"
before=() after=()
for ((r = 1; r <= rounds; r++)); do
  order=(before after)
  if ((r % 2 == 0)); then order=(after before); fi
  for which in "${order[@]}"; do
    # Only the older build may predate a system (it is then skipped for it).
    if [ "$which" = before ]; then bin="souverain-$base" skip=1; else bin="souverain-head" skip=; fi
    json="$out/$which-$r.json"
    echo "== round $r: $which ($bin)" >&2
    SOUVERAIN_BIN="$target/bench-e2e/$bin" BENCH_E2E_JSON="$json" BENCH_E2E_MAY_SKIP="$skip" bench >"$out/$which-$r.md"
    if [ "$which" = before ]; then before+=("$json"); else after+=("$json"); fi
  done
done
spec="before $base=$(IFS=,; echo "${before[*]}");after $head=$(IFS=,; echo "${after[*]}")"
BENCH_E2E_COMPARE="$spec" bench | tee "$out/compare.md"
