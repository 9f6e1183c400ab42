#!/usr/bin/env bash
# Runs the gateway on its embedded default: RocksDB metadata and three local providers
# labelled DE, FR and NL under .data/. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/cargo.sh build --bin souverain
target="${CARGO_TARGET_DIR:-/var/tmp/souverain-target}"
cat <<MSG
souverain is starting on http://127.0.0.1:9000 (region eu-sovereign-1). Try:
  export AWS_ACCESS_KEY_ID=souverain-dev AWS_SECRET_ACCESS_KEY=souverain-dev-secret-change-me AWS_DEFAULT_REGION=eu-sovereign-1
  aws --endpoint-url http://127.0.0.1:9000 s3 mb s3://demo
MSG
exec "$target/debug/souverain" serve --config config/quickstart.toml
