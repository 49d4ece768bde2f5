#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds a program against it twice:
# through pkg-config and through CMake's find_package(statestore). Both must run.
# usage: install_test.sh BUILD_DIR SOURCE_DIR SANITIZE(ON|OFF)
set -euo pipefail
build=$1 src=$2 sanitize=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
cflags=""
[ "$sanitize" = "ON" ] && cflags="-fsanitize=address,undefined"

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || {
  cat "$work/install.log"
  exit 1
}
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046,SC2086
gcc -std=c17 $cflags "$src/install_consumer.c" -o "$work/via-pkgconfig" \
  $(pkg-config --cflags --libs statestore) -Wl,-rpath,"$work/prefix/lib"
out=$("$work/via-pkgconfig")
[ "$out" = "v etag" ] || { echo "FAIL pkg-config consumer printed: $out"; exit 1; }
echo "ok   pkg-config: compiled, linked and ran against the installed library"

mkdir -p "$work/cm"
cp "$src/install_consumer.c" "$work/cm/consumer.c"
cat >"$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(statestore 0.1 REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE statestore::statestore)
CM
cmake -S "$work/cm" -B "$work/cm/b" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_FLAGS="$cflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$cflags" >"$work/cm.log" 2>&1 &&
  cmake --build "$work/cm/b" >>"$work/cm.log" 2>&1 || { cat "$work/cm.log"; exit 1; }
out=$("$work/cm/b/consumer")
[ "$out" = "v etag" ] || { echo "FAIL find_package consumer printed: $out"; exit 1; }
echo "ok   find_package(statestore): configured, built and ran against the installed library"
