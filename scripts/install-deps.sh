#!/usr/bin/env bash
# Installs the Debian packages cairn builds and tests with. Idempotent: it asks dpkg what is
# already there and runs apt-get (update, then install) only when something is missing. Nothing is
# fetched from anywhere but the configured Debian mirrors.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake g++ pkg-config
  # core library dependencies
  libsqlite3-dev libcurl4-openssl-dev libssl-dev rapidjson-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # server and tools
  libcpp-httplib-dev libcli11-dev
  # interop tests: botocore's serializer and SigV4 signer are the reference implementation
  python3 python3-botocore openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
