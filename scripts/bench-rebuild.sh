#!/usr/bin/env bash
# Measures `souverain meta rebuild`: writes N objects (default 10,000, 1 KiB each, 16 at a
# time with boto3) through a gateway on the embedded default (three local directory
# providers, RocksDB) in a temp directory, stops it, deletes its metadata store, rebuilds it,
# and reports the rebuild's wall time and peak memory (GNU time), then checks that a restarted
# gateway lists every object. Everything on 127.0.0.1; the temp directory is removed.
#   scripts/bench-rebuild.sh [N] [--debug] [--checkpoint]
#   --debug: the test profile's binary, no release build; --checkpoint: checkpoints every
#   second, and the rebuild waits until one replaced the bucket's segments (what a long-running
#   gateway's rebuild reads), against the segments as written otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-10000}"
profile="--release"
checkpoint=""
for arg in "${@:2}"; do
  case "$arg" in
    --debug) profile="" ;;
    --checkpoint) checkpoint=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
binary="$(scripts/build.sh $profile | tail -n 1)"
work="$(mktemp -d)"
trap 'kill "${gw:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e "s|^data_dir = .*|data_dir = \"$work\"|" -e 's|^level = .*|level = "warn"|' \
  -e 's|127.0.0.1:9000|127.0.0.1:19000|' -e 's|127.0.0.1:9001|127.0.0.1:19001|' \
  config/quickstart.toml >"$work/config.toml"
if [ -n "$checkpoint" ]; then
  sed -i 's|^\[workers\]|[workers]\ncheckpoint_interval_secs = 1\ncheckpoint_settle_secs = 1\ncheckpoint_min_segments = 1|' "$work/config.toml"
fi
start_gateway() {
  "$binary" serve --config "$work/config.toml" >"$work/gateway.log" 2>&1 &
  gw=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/gateway.log" && return
    sleep 0.1
  done
  echo "the gateway did not start" >&2
  exit 1
}
client() {
  python3 - "$@" <<'PY'
import sys, concurrent.futures, boto3
from botocore.config import Config
mode, count = sys.argv[1], int(sys.argv[2])
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:19000", region_name="eu-sovereign-1",
                  aws_access_key_id="souverain-dev", aws_secret_access_key="souverain-dev-secret-change-me",
                  config=Config(max_pool_connections=16, retries={"max_attempts": 1}))
if mode == "write":
    s3.create_bucket(Bucket="bench")
    body = b"x" * 1024
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="bench", Key=f"k{i:06d}", Body=body), range(count)))
else:
    n = sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench"))
    assert n == count, f"listed {n} of {count}"
    print(f"listed {n} objects after the rebuild")
PY
}
start_gateway
write_start=$(date +%s.%N)
client write "$count"
write_end=$(date +%s.%N)
if [ -n "$checkpoint" ]; then
  # Until a checkpoint replaced most of the bucket's segments (one per few objects) by a few
  # of about 1 MiB, at most two minutes. Segments written after the last checkpoint stay
  # until they hold as many bytes as it does.
  written=$(find "$work/providers" -path '*sv2/l/*' -type f | wc -l)
  for _ in $(seq 240); do
    [ "$(find "$work/providers" -path '*sv2/l/*' -type f | wc -l)" -lt $((written / 2)) ] && break
    sleep 0.5
  done
fi
kill "$gw"; wait "$gw" 2>/dev/null || true
segments=$(find "$work/providers" -path '*sv2/l/*' -type f | wc -l)
rm -rf "$work/meta"
/usr/bin/time -f "%e %M" -o "$work/time" "$binary" meta rebuild --config "$work/config.toml" >"$work/report.json"
read -r seconds peak_kib <"$work/time"
start_gateway
client list "$count"
kill "$gw"; wait "$gw" 2>/dev/null || true
echo "objects $count; writes took $(echo "$write_end - $write_start" | bc) s; segment files $segments"
echo "rebuild: ${seconds} s wall, peak RSS $((peak_kib / 1024)) MiB"
grep -E '"(segments|objects|repairs|entries)"' "$work/report.json" | tr -d ' \n'; echo
