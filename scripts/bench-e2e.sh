#!/usr/bin/env bash
# The end-to-end benchmark (benches/e2e.rs, docs/performance.md): the release gateway against
# one s3s-fs directly and against rclone serve s3 (crypt over a union of three s3 remotes), and
# with its metadata in PostgreSQL (one and two gateways) next to RocksDB.
# Installs what it needs (s3s-fs, rclone), builds the release gateway once, then runs; prints
# the table and writes JSON to $BENCH_E2E_JSON (default /tmp/souverain-bench-e2e.json).
#   BENCH_E2E_SCALE=small      a shortened run, for a quick look
#   BENCH_E2E_PROVIDER=rclone  rclone serve s3 over directories as the providers instead of s3s-fs
#   BENCH_E2E_SYSTEMS="direct,gateway N=3 W=2"   only these systems
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test-tools >&2
# A copy: the `cargo bench` below builds the package's binary again without RocksDB, in place.
built="$(scripts/build.sh --release | tail -1)"
export SOUVERAIN_BIN="${CARGO_TARGET_DIR:-/var/tmp/souverain-target}/bench-e2e/souverain"
mkdir -p "$(dirname "$SOUVERAIN_BIN")"
cp "$built" "$SOUVERAIN_BIN"
# The benchmark driver itself needs no RocksDB (it runs the release binary above).
scripts/cargo.sh bench --no-default-features --bench e2e
