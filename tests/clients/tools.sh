# How the client scripts talk to the gateway with rclone and s3cmd (sourced after `dir` is set,
# with S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION in the
# environment). Every command is bounded: no retry loops hiding a failure, a hard time limit.

# rclone's remote `gw:`, only in the environment (the empty config file keeps ~ out of it), with
# multipart from 5 MiB on (the default cutoff is 200 MiB); `rc` runs rclone, `rcl` runs it with
# its log in $dir/last.log, shown only when it fails.
rclone_remote() {
  export RCLONE_CONFIG="$dir/rclone.conf"
  : >"$RCLONE_CONFIG"
  export RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other RCLONE_CONFIG_GW_ENV_AUTH=false
  export RCLONE_CONFIG_GW_ENDPOINT="$S3_ENDPOINT" RCLONE_CONFIG_GW_REGION="$AWS_DEFAULT_REGION"
  export RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  export RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true
  export RCLONE_CONFIG_GW_UPLOAD_CUTOFF=5Mi RCLONE_CONFIG_GW_CHUNK_SIZE=5Mi
  if as_user; then export RCLONE_CONFIG_GW_NO_CHECK_BUCKET=true; fi
}
# With ROOT_ACCESS_KEY_ID set, the AWS_* key is a user's with read and write grants on the
# bucket but not its owner: `as_root` runs one command (a function of this file included) with
# the root key, which makes and removes the bucket; the user does the rest. Restricted keys
# cannot make buckets, so rclone is told not to try (`no_check_bucket`, as for any such key).
as_root() {
  if [ -n "${ROOT_ACCESS_KEY_ID:-}" ]; then
    AWS_ACCESS_KEY_ID="$ROOT_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$ROOT_SECRET_ACCESS_KEY" \
      RCLONE_CONFIG_GW_ACCESS_KEY_ID="$ROOT_ACCESS_KEY_ID" RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$ROOT_SECRET_ACCESS_KEY" \
      RCLONE_CONFIG_GW_NO_CHECK_BUCKET=false "$@"
  else
    "$@"
  fi
}
# True when the scripts run as a non-owner user.
as_user() { [ -n "${ROOT_ACCESS_KEY_ID:-}" ]; }

rc() { timeout 300 rclone --retries 1 --low-level-retries 1 --contimeout 10s --timeout 60s "$@"; }
rcl() { rc "$@" 2>"$dir/last.log" || { cat "$dir/last.log" >&2; return 1; }; }

# s3cmd with a config file of its own (-c, so ~/.s3cfg is never read; the flags say it all
# again), path-style (host_bucket without %(bucket)s), multipart from 5 MiB on (the default is
# 15 MiB); `s3` runs s3cmd, `s3l` runs it with its output in $dir/last.log, shown only when it
# fails.
s3cmd_config() {
  hostport="${S3_ENDPOINT#http://}"
  cfg="$dir/s3cfg"
  cat >"$cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hostport
host_bucket = $hostport
use_https = False
bucket_location = $AWS_DEFAULT_REGION
signature_v2 = False
CFG
}
s3() {
  timeout 300 s3cmd -c "$cfg" --host="$hostport" --host-bucket="$hostport" --no-ssl \
    --access_key="$AWS_ACCESS_KEY_ID" --secret_key="$AWS_SECRET_ACCESS_KEY" --region="$AWS_DEFAULT_REGION" \
    --multipart-chunk-size-mb=5 --max-retries=1 --no-progress "$@"
}
s3l() { s3 "$@" >"$dir/last.log" 2>&1 || { cat "$dir/last.log" >&2; return 1; }; }
