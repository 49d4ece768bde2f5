#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need, on Debian 12
# (bookworm) or Debian 13 (trixie). Idempotent: on a machine that already has them it finishes in
# seconds. The npm and Maven test tools are not installed here: they come from the lockfile and pom
# in tests/servers/, per checkout (scripts/services/lib.sh, ensure_npm_tools/ensure_maven_servers).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

release=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo unknown)
case "$release" in
12 | 13) ;;
*) echo "install-deps: Debian 12 or 13 expected, /etc/debian_version says '$release'; trying the Debian 13 names" >&2 ;;
esac

# Both releases carry every package under the same name. Unversioned clang/libclang-rt-dev: 14 on Debian 12,
# 19 on Debian 13 (the fuzzers use whichever `clang` is).
PKGS=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-dev netcat-openbsd
  # core, embedded stores, daemon, CLI
  libsqlite3-dev sqlite3 libjsmn-dev libjansson-dev libyaml-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev
  # network store client libraries
  libhiredis-dev libmemcached-dev libzookeeper-mt-dev libpq-dev libmariadb-dev
  # real servers the tests run against (ZooKeeper, Cassandra, Hazelcast and the other Java
  # servers come from Maven Central: tests/servers/maven)
  redis-server redis-tools memcached etcd-server etcd-client postgresql mariadb-server
  # benchmarks
  wrk hey
  # etcd TLS test: makes a throwaway CA and certificates
  openssl
  # reliability tests: valgrind memcheck (ctest label valgrind), the curl CLI, python3 drivers
  valgrind curl python3
  # statestored's gRPC API (issue 13): HTTP/2 engine, protobuf-c, the Python gRPC test client,
  # h2load for the gRPC benchmark
  libnghttp2-dev protobuf-c-compiler libprotobuf-c-dev python3-grpcio python3-grpc-tools nghttp2-client
  # cassandra benchmark: the reference client it is compared with (bench/cassandra_ref.py)
  python3-cassandra
)
# MongoDB driver: libmongoc/libbson (its test server, mongo-java-server, comes from Maven).
PKGS+=(libmongoc-dev)
# SQL Server driver (issue 16): FreeTDS's client library (db-lib/ct-lib); Debian 12 and 13
PKGS+=(freetds-dev)
# Node.js/npm and Java/Maven: the machines come with them (Node 20 with npm 11, OpenJDK 17 and
# Maven); a machine without them gets Debian's.
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)
command -v java >/dev/null || PKGS+=(default-jdk-headless)
command -v mvn >/dev/null || PKGS+=(maven)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: Debian $release: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: Debian $release packages ready"
