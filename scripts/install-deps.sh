#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need, plus the npm
# test-only tools. Idempotent: on a machine that already has them it finishes in seconds.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
  # toolchain
  build-essential cmake pkg-config clang-14 libclang-rt-14-dev clang-format netcat-openbsd
  # core, embedded stores, daemon, CLI
  libsqlite3-dev sqlite3 libjsmn-dev libjansson-dev libyaml-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev
  # network store client libraries
  libhiredis-dev libmemcached-dev libzookeeper-mt-dev libpq-dev libmariadb-dev
  # real servers the tests run against
  redis-server redis-tools memcached etcd-server etcd-client zookeeperd postgresql mariadb-server
  # benchmarks
  wrk hey
  # etcd TLS test: makes a throwaway CA and certificates
  openssl
  # reliability tests: valgrind memcheck (ctest label valgrind), the curl CLI, python3 drivers
  valgrind curl python3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: Debian packages ready"
