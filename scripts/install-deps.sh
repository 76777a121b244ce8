#!/usr/bin/env bash
# Installs the Debian packages cairn builds and tests with. Idempotent: it asks dpkg what is
# already there and runs apt-get (update, then install) only when something is missing. Nothing is
# fetched from anywhere but the configured Debian mirrors.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ pkg-config
  # lld links the many test binaries in a fraction of GNU ld's time
  lld
  # core library dependencies
  libsqlite3-dev libcurl4-openssl-dev libssl-dev rapidjson-dev
  # the server's gzip of large responses
  zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # server and tools: Boost.Beast/Asio carries the server's connections; cpp-httplib serves the
  # tests' scripted servers and the benchmarks' reference floor
  libboost-dev libcpp-httplib-dev libcli11-dev
  # GET /metrics: Prometheus's C++ client, its core library alone
  prometheus-cpp-dev
  # the server's PostgreSQL backend, and the throwaway PostgreSQL its tests start
  libpq-dev postgresql
  # interop tests: botocore is the reference serializer and signer; boto3, the AWS CLI and
  # (through npm) the AWS SDK for JavaScript v3 drive cairn-server unmodified
  python3 python3-botocore python3-boto3 awscli openssl
  # benchmarks: plots (bench/run.py) and the callgrind profile of the server
  python3-matplotlib valgrind
  # the floor of `cairn put` as a process: the sqlite3 shell
  sqlite3
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and its sanitizer runtimes; clang-tidy
  # (scripts/tidy.sh) checks the sources a change touches
  clang libclang-rt-14-dev clang-tidy
  # the Unity (C#) binding's tests: Mono's compiler and runtime, and NUnit
  mono-devel nunit-console
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js may come from Debian or from another packaging of it; only the commands matter.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

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
