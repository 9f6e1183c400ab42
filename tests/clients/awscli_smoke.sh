#!/usr/bin/env bash
# The aws CLI against the gateway. Run by tests/it/clients.rs with S3_ENDPOINT, credentials
# and WORK_DIR in the environment. Prints one line per check; stops at the first failure.
set -euo pipefail
E=(--endpoint-url "$S3_ENDPOINT")
# AWS_CLI is the binary to test and AWS_CLI_MAJOR its major version (1: PyPI's, in its own
# virtual environment; 2: Debian's /usr/bin/aws): whichever `aws` is first on the PATH must
# not decide which CLI these checks cover.
aws() { "${AWS_CLI:?the aws CLI binary to test}" "$@"; }
# With ROOT_ACCESS_KEY_ID set, the AWS_* key is a user's with read and write grants on the
# bucket but not its owner: the root key makes and removes the bucket, the user does the rest.
as_root() {
  if [ -n "${ROOT_ACCESS_KEY_ID:-}" ]; then
    AWS_ACCESS_KEY_ID="$ROOT_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$ROOT_SECRET_ACCESS_KEY" aws "$@"
  else
    aws "$@"
  fi
}
ok() { echo "ok   $1"; }
# Every check is `cmd || fail`: under `set -e` a failing command left of `&&` would not stop
# the script, so `cmd && ok` could never fail the test.
fail() { echo "FAIL $1" >&2; exit 1; }
version=$(aws --version 2>&1)
case "$version" in
  "aws-cli/${AWS_CLI_MAJOR:?the major version to test}."*) ok "version $version" ;;
  *) fail "expected the aws CLI v$AWS_CLI_MAJOR, got: $version" ;;
esac
tree="$WORK_DIR/tree"
mkdir -p "$tree/sub/deeper"
head -c 20000000 /dev/urandom > "$tree/large.bin"
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom > "$tree/sub/small-$i.txt"; done
echo "deep file" > "$tree/sub/deeper/note.txt"

as_root "${E[@]}" s3 mb s3://cli >/dev/null || fail "mb"; ok "mb"
aws "${E[@]}" s3 cp --only-show-errors "$tree/large.bin" s3://cli/large.bin || fail "cp (multipart)"; ok "cp (multipart)"
aws "${E[@]}" s3 sync --only-show-errors "$tree" s3://cli/tree || fail "sync up"; ok "sync up"
out="$WORK_DIR/back"
aws "${E[@]}" s3 sync --only-show-errors s3://cli/tree "$out" || fail "sync down"; ok "sync down"
diff -r "$tree" "$out" || fail "tree content identical"; ok "tree content identical"
aws "${E[@]}" s3 cp --only-show-errors s3://cli/large.bin "$WORK_DIR/large.back"
cmp "$tree/large.bin" "$WORK_DIR/large.back" || fail "large object identical"; ok "large object identical"
[ "$(aws "${E[@]}" s3 ls s3://cli/tree/ --recursive | wc -l)" = 7 ] || fail "ls recursive"; ok "ls recursive"
aws "${E[@]}" s3api get-object --bucket cli --key large.bin --range bytes=1000-1999 "$WORK_DIR/range.bin" >/dev/null
cmp <(head -c 2000 "$tree/large.bin" | tail -c 1000) "$WORK_DIR/range.bin" || fail "ranged get-object"; ok "ranged get-object"
etag=$(aws "${E[@]}" s3api head-object --bucket cli --key tree/sub/deeper/note.txt --query ETag --output text)
[ "$etag" = "\"$(md5sum "$tree/sub/deeper/note.txt" | cut -d' ' -f1)\"" ] || fail "etag is md5"; ok "etag is md5"
url=$(aws "${E[@]}" s3 presign s3://cli/tree/sub/deeper/note.txt --expires-in 300)
[ "$(python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode(), end="")' "$url")" = "deep file" ] || fail "presign"; ok "presign"
# SSE-C with a customer key, multipart included. CLI v1 from PyPI sends the key with
# CompleteMultipartUpload (s3transfer ≥ 0.7), which the gateway needs (docs/compatibility.md);
# Debian's CLI v2.9 bundles an older s3transfer that does not, so it is checked with v1 only.
if [ "$AWS_CLI_MAJOR" = 1 ]; then
  head -c 32 /dev/urandom > "$WORK_DIR/customer.key"
  ssec=(--sse-c AES256 --sse-c-key "fileb://$WORK_DIR/customer.key")
  aws "${E[@]}" s3 cp --only-show-errors "${ssec[@]}" "$tree/large.bin" s3://cli/ssec.bin || fail "cp --sse-c (multipart)"
  aws "${E[@]}" s3 cp --only-show-errors "${ssec[@]}" s3://cli/ssec.bin "$WORK_DIR/ssec.back" || fail "cp --sse-c down"
  cmp "$tree/large.bin" "$WORK_DIR/ssec.back" || fail "SSE-C object identical"
  ! aws "${E[@]}" s3 cp --only-show-errors s3://cli/ssec.bin "$WORK_DIR/nokey.back" 2>/dev/null \
    || fail "an SSE-C object was read without its key"
  ok "cp --sse-c up and down (multipart); refused without the key"
fi
aws "${E[@]}" s3 rm --only-show-errors --recursive s3://cli || fail "rm --recursive"; ok "rm --recursive"
if [ -n "${ROOT_ACCESS_KEY_ID:-}" ]; then
  ! aws "${E[@]}" s3 rb s3://cli >/dev/null 2>&1 || fail "a non-owner removed the bucket"; ok "rb refused to a non-owner"
fi
# Versioning: the owner enables it; the user writes, reads and deletes versions.
as_root "${E[@]}" s3api put-bucket-versioning --bucket cli --versioning-configuration Status=Enabled \
  || fail "put-bucket-versioning"; ok "put-bucket-versioning"
[ "$(aws "${E[@]}" s3api get-bucket-versioning --bucket cli --query Status --output text)" = Enabled ] \
  || fail "get-bucket-versioning"; ok "get-bucket-versioning"
v1=$(aws "${E[@]}" s3api put-object --bucket cli --key ver --body "$tree/sub/small-1.txt" --query VersionId --output text)
v2=$(aws "${E[@]}" s3api put-object --bucket cli --key ver --body "$tree/sub/small-2.txt" --query VersionId --output text)
[ "${#v1}" = 32 ] && [ "$v1" != "$v2" ] || fail "a version id per put ($v1, $v2)"; ok "a version id per put"
aws "${E[@]}" s3api get-object --bucket cli --key ver --version-id "$v1" "$WORK_DIR/v1.back" >/dev/null
cmp "$tree/sub/small-1.txt" "$WORK_DIR/v1.back" || fail "get-object --version-id"; ok "get-object --version-id"
aws "${E[@]}" s3 rm --only-show-errors s3://cli/ver || fail "rm makes a marker"
count_of() { aws "${E[@]}" s3api list-object-versions --bucket cli --query "length($1 || \`[]\`)" --output text; }
[ "$(count_of Versions)" = 2 ] && [ "$(count_of DeleteMarkers)" = 1 ] || fail "list-object-versions"
ok "list-object-versions: two versions behind a marker"
marker=$(aws "${E[@]}" s3api list-object-versions --bucket cli --query 'DeleteMarkers[0].VersionId' --output text)
for id in "$marker" "$v2" "$v1"; do
  aws "${E[@]}" s3api delete-object --bucket cli --key ver --version-id "$id" >/dev/null || fail "delete-object --version-id"
done
[ "$(count_of Versions)" = 0 ] && [ "$(count_of DeleteMarkers)" = 0 ] || fail "every version deleted"
ok "delete-object --version-id, each version"
as_root "${E[@]}" s3 rb s3://cli >/dev/null || fail "rb"; ok "rb"

# Object Lock and lifecycle: the owner makes a locked bucket; the user writes a locked version.
as_root "${E[@]}" s3api create-bucket --bucket cli --object-lock-enabled-for-bucket >/dev/null \
  || fail "create-bucket --object-lock-enabled-for-bucket"; ok "create-bucket with Object Lock"
until=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
locked=$(aws "${E[@]}" s3api put-object --bucket cli --key locked --body "$tree/sub/small-1.txt" \
  --object-lock-mode COMPLIANCE --object-lock-retain-until-date "$until" --query VersionId --output text) \
  || fail "put-object --object-lock-mode"
[ "$(aws "${E[@]}" s3api get-object-retention --bucket cli --key locked --query Retention.Mode --output text)" = COMPLIANCE ] \
  || fail "get-object-retention"; ok "put-object with a retention, get-object-retention"
! aws "${E[@]}" s3api delete-object --bucket cli --key locked --version-id "$locked" >/dev/null 2>&1 \
  || fail "a locked version was deleted"
! as_root "${E[@]}" s3api delete-object --bucket cli --key locked --version-id "$locked" \
  --bypass-governance-retention >/dev/null 2>&1 || fail "a compliance version was deleted with bypass"
aws "${E[@]}" s3api get-object --bucket cli --key locked --version-id "$locked" "$WORK_DIR/locked.back" >/dev/null
cmp "$tree/sub/small-1.txt" "$WORK_DIR/locked.back" || fail "the locked version is intact"
ok "delete-object of a locked version refused, with bypass too"
rules='{"Rules":[{"ID":"tmp","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":1}}]}'
as_root "${E[@]}" s3api put-bucket-lifecycle-configuration --bucket cli --lifecycle-configuration "$rules" \
  || fail "put-bucket-lifecycle-configuration"
[ "$(as_root "${E[@]}" s3api get-bucket-lifecycle-configuration --bucket cli --query 'Rules[0].Expiration.Days' --output text)" = 1 ] \
  || fail "get-bucket-lifecycle-configuration"; ok "lifecycle configuration round trip"
echo "aws CLI: all checks passed"
