#!/usr/bin/env bash
# s3cmd (PyPI `s3cmd`) against the gateway. Run with S3_ENDPOINT (http://127.0.0.1:PORT),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and WORK_DIR in the environment.
# Prints one line per check; stops at the first failure; the last line is the verdict.
# Every check is `command || fail`: under `set -e` a failure on the left of `&&` would not stop.
set -euo pipefail
case "$S3_ENDPOINT" in http://127.0.0.1:*) ;; *) echo "S3_ENDPOINT must be http://127.0.0.1:PORT" >&2; exit 2 ;; esac
command -v s3cmd >/dev/null || { echo "s3cmd missing: python3 -m pip install s3cmd" >&2; exit 2; }
version="s3cmd $(s3cmd --version | awk '{ print $NF }')" # "s3cmd 2.4.0"

dir="$WORK_DIR/s3cmd-smoke"
rm -rf "$dir" && mkdir -p "$dir"
# shellcheck source=tools.sh
source "$(dirname "$0")/tools.sh"
s3cmd_config

bucket=s3cmd-smoke
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# The object URLs `s3cmd ls` prints for $1.
listed() { s3 ls "$@" | awk '{ print $NF }'; }

as_root s3l mb "s3://$bucket" || fail "mb"
grep -qx "s3://$bucket" <<<"$(listed)" || fail "ls: bucket not listed"
ok "mb + ls"

s3l --debug put -r "$tree/" "s3://$bucket/tree/" || fail "put -r"
grep -q "format_uri(): /$bucket/tree/large.bin?uploads\$" "$dir/last.log" || fail "large file not sent as multipart"
grep -q "format_uri(): /$bucket/tree/large.bin?partNumber=5&uploadId=" "$dir/last.log" || fail "large file not sent in 5 MiB parts"
ok "put -r (large file as a 5-part multipart upload)"
[ "$(s3 ls -r "s3://$bucket/tree/" | wc -l)" = "$(count "$tree")" ] || fail "ls -r: wrong object count"
ok "ls -r"
# For the multipart object s3cmd takes the MD5 from its own x-amz-meta-s3cmd-attrs.
n=0
while read -r _ _ size md5 url; do # the last field takes the rest of the line, spaces included
  f="$tree/${url#"s3://$bucket/tree/"}"
  [ "$size" = "$(stat -c %s "$f")" ] && [ "$md5" = "$(md5sum <"$f" | cut -d' ' -f1)" ] || fail "ls --list-md5: $url differs"
  n=$((n + 1))
done < <(s3 ls -r --list-md5 "s3://$bucket/tree/")
[ "$n" = "$(count "$tree")" ] || fail "ls --list-md5: $n objects listed"
ok "ls --list-md5 (every size and MD5 matches)"
out="$dir/back"
mkdir -p "$out"
s3l get -r "s3://$bucket/tree/" "$out/" || fail "get -r"
same_tree "$tree" "$out" || fail "get -r: content differs"
ok "get -r, sha256 identical"

# A ranged read: `get --continue` asks for the rest of a partial file with `Range: bytes=N-`.
head -c 7000000 "$tree/large.bin" >"$dir/partial.bin"
s3l --debug get --continue "s3://$bucket/tree/large.bin" "$dir/partial.bin" || fail "get --continue"
grep -q "'content-range': 'bytes 7000000-$(($(stat -c %s "$tree/large.bin") - 1))/" "$dir/last.log" \
  || fail "get --continue: no 206 for bytes=7000000-"
cmp "$tree/large.bin" "$dir/partial.bin" || fail "get --continue: content differs"
ok "get --continue (ranged get)"

# Change the tree: one file removed, one added, one rewritten; then sync both ways.
rm "$tree/sub/small-1.txt"
echo "added later" >"$tree/sub/added.txt"
echo "deep file, rewritten" >"$tree/sub/deeper/note.txt"
s3l sync --delete-removed "$tree/" "s3://$bucket/tree/" || fail "sync up"
[ "$(s3 ls -r "s3://$bucket/tree/" | wc -l)" = "$(count "$tree")" ] || fail "sync up: wrong object count"
ok "sync up"
s3l sync --delete-removed "s3://$bucket/tree/" "$out/" || fail "sync down"
same_tree "$tree" "$out" || fail "sync down: content differs"
ok "sync down, sha256 identical"

s3l del -r --force "s3://$bucket/" || fail "del -r"
[ -z "$(s3 ls -r "s3://$bucket")" ] || fail "objects left after del -r"
ok "del -r"
if as_user; then
  ! s3 rb "s3://$bucket" >/dev/null 2>&1 || fail "a non-owner removed the bucket"
  grep -qx "s3://$bucket" <<<"$(listed)" || fail "bucket gone after a refused rb"
  ok "rb refused to a non-owner"
fi
as_root s3l rb "s3://$bucket" || fail "rb"
! grep -qx "s3://$bucket" <<<"$(listed)" || fail "bucket still listed after rb"
ok "rb"
echo "$version: ok ($(count "$tree") files, $(bytes "$tree") bytes verified)"
