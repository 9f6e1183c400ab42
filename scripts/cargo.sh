#!/usr/bin/env bash
# Runs cargo with the project's build environment, so every entry point (make, CI, the
# quickstart) shares one target directory and one set of compiler variables: changing CC or
# CXX between runs would rebuild RocksDB's C++ (about 20 minutes on 2 cores).
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/souverain-target}"
if command -v ccache >/dev/null 2>&1; then
  export CC="ccache cc" CXX="ccache c++"
else
  export CC="cc" CXX="c++"
fi
exec cargo "$@"
