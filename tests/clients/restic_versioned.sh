#!/usr/bin/env bash
# restic (Debian's package) against a versioned bucket that tests/it/clients.rs made: init, two
# backups, the latest snapshot restored byte-identical, forget --prune (whose deletes become
# delete markers in the bucket), check --read-data, and the restore again. Environment:
# S3_ENDPOINT, credentials, WORK_DIR, RESTIC_BUCKET. One line per check; stops at the first
# failure.
set -euo pipefail
dir="$WORK_DIR/restic"
mkdir -p "$dir"
# shellcheck source=tests/clients/lib.sh
source "$(dirname "$0")/lib.sh"
export RESTIC_PASSWORD="souverain-restic-test"
export RESTIC_REPOSITORY="s3:$S3_ENDPOINT/${RESTIC_BUCKET:?the bucket to back up to}"
export RESTIC_CACHE_DIR="$dir/cache"

restic version | grep -q '^restic ' || fail "restic present"; ok "$(restic version | cut -d' ' -f1-2)"
restic init --quiet >/dev/null || fail "init"; ok "init"
restic backup --quiet --host ci "$tree" || fail "first backup"; ok "first backup"
echo "changed after the first backup" >"$tree/sub/deeper/note.txt"
head -c 3000000 /dev/urandom >"$tree/second.bin"
rm "$tree/sub/small-1.txt"
restic backup --quiet --host ci "$tree" || fail "second backup"; ok "second backup"
snapshots=$(restic snapshots --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$snapshots" = 2 ] || fail "two snapshots (got $snapshots)"; ok "two snapshots"
restic restore latest --quiet --target "$dir/restored" || fail "restore"
same_tree "$tree" "$dir/restored$tree" || fail "restored tree identical"; ok "restored tree identical"
restic forget --quiet --keep-last 1 --prune >/dev/null || fail "forget --prune"; ok "forget --prune"
restic check --quiet --read-data || fail "check --read-data"; ok "check --read-data"
restic restore latest --quiet --target "$dir/again" || fail "restore after prune"
same_tree "$tree" "$dir/again$tree" || fail "tree identical after prune"; ok "tree identical after prune"
echo "restic: all checks passed"
