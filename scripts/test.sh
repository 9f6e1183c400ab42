#!/usr/bin/env bash
# The whole test suite: formatting, lints, the ring-only rule, unit and property tests, the
# integration binary (real gateway, RocksDB, providers, aws-sdk-s3, boto3, aws CLI) and a
# compile of the benches. One cargo profile (dev) for everything, shared with `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test-tools
# The build steps `make run` and docker/Dockerfile share (debug here: the profile of the tests).
scripts/build.sh >/dev/null
scripts/cargo.sh fmt --all -- --check
scripts/cargo.sh clippy --all-targets -- -D warnings
# rustls must stay on ring: aws-lc-rs may appear only through dev-dependencies.
if scripts/cargo.sh tree -e normal -i aws-lc-rs 2>/dev/null | grep -q aws-lc-rs; then
  echo "aws-lc-rs is a normal dependency; keep rustls on ring" >&2
  exit 1
fi
scripts/cargo.sh test --all-targets "$@"
# The benchmarks compile in the bench profile (without RocksDB, as `make bench` runs them).
scripts/cargo.sh bench --no-default-features --no-run
# The integration suite again, with real s3s-fs processes as the three providers (the fault
# tests always run over s3s-fs behind fault proxies, so once is enough for them; the 200-kill
# crash loop is about the gateway's own commit point, which the provider kind does not change).
SOUVERAIN_TEST_PROVIDERS=s3s-fs scripts/cargo.sh test --test it "$@" -- --skip faults:: --skip durability::crash_loop
