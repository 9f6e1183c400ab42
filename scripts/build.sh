#!/usr/bin/env bash
# Builds the souverain binary: the build steps shared by `make run` (debug, the profile the
# tests use, so RocksDB is compiled once) and docker/Dockerfile (--release). Installs the
# build dependencies first (skipped when present). Prints the binary's path last.
#   scripts/build.sh            debug build
#   scripts/build.sh --release  release build
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
profile=debug
args=(build --bin souverain)
if [ "${1:-}" = "--release" ]; then
  profile=release
  args+=(--release)
fi
scripts/cargo.sh "${args[@]}" >&2
echo "${CARGO_TARGET_DIR:-/var/tmp/souverain-target}/$profile/souverain"
