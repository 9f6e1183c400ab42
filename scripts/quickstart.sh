#!/usr/bin/env bash
# Runs the gateway on its embedded default: RocksDB metadata and three local providers
# labelled DE, FR and NL under .data/. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(scripts/build.sh | tail -n 1)"
cat <<MSG
souverain is starting on http://127.0.0.1:9000 (region eu-sovereign-1). Try:
  export AWS_ACCESS_KEY_ID=souverain-dev AWS_SECRET_ACCESS_KEY=souverain-dev-secret-change-me AWS_DEFAULT_REGION=eu-sovereign-1
  aws --endpoint-url http://127.0.0.1:9000 s3 mb s3://demo
MSG
exec "$binary" serve --config config/quickstart.toml
