#!/usr/bin/env bash
# A build with only the memory and sqlite drivers configures and builds where libcurl, jansson
# and libcrypto are missing: src/support's libraries belong to the drivers that use them.
#
# pkg-config is shown every module of this machine but those three (and any module that
# requires one of them), so the drivers that need them are left AUTO and must switch themselves
# off; every other driver but memory and sqlite is turned OFF. Then the library, statestored and
# the CLI are built, and the shared library must not link any of the three.
# usage: minimal_build.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-minimal.XXXXXX")
trap 'rm -rf "$work"' EXIT

hidden=" libcurl jansson libcrypto "
mkdir -p "$work/pc"
IFS=: read -r -a dirs <<<"$(pkg-config --variable pc_path pkg-config)"
pcs=()
for d in "${dirs[@]}"; do
  for f in "$d"/*.pc; do [ -e "$f" ] && pcs+=("$f"); done
done
# Hide every module that requires a hidden one, until nothing changes.
changed=1
while [ "$changed" = 1 ]; do
  changed=0
  for f in "${pcs[@]}"; do
    m=$(basename "$f" .pc)
    case "$hidden" in *" $m "*) continue ;; esac
    for h in $hidden; do
      if grep -Eq "^Requires(\.private)?:.*(^|[ ,:])$h([ ,<>=]|$)" "$f"; then
        hidden="$hidden$m "
        changed=1
        break
      fi
    done
  done
done
for f in "${pcs[@]}"; do
  m=$(basename "$f" .pc)
  case "$hidden" in *" $m "*) continue ;; esac
  [ -e "$work/pc/$m.pc" ] || ln -s "$f" "$work/pc/$m.pc"
done
for m in libcurl jansson libcrypto; do
  if PKG_CONFIG_LIBDIR="$work/pc" pkg-config --exists "$m"; then
    echo "FAIL could not hide $m from pkg-config"
    exit 1
  fi
done

# One ss_driver(...) call per driver in stores.cmake, possibly over several lines.
opts=()
while IFS='|' read -r name call; do
  case "$name" in memory | sqlite) continue ;; esac
  upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
  if echo "$call" | grep -Eq 'PKG[^)]*(libcurl|jansson|libcrypto)'; then
    opts+=("-DSS_WITH_$upper=AUTO") # must turn itself off
  else
    opts+=("-DSS_WITH_$upper=OFF")
  fi
done < <(awk '/^ss_driver\(/ { call = $0; in_call = 1 }
              in_call && !/^ss_driver\(/ { call = call " " $0 }
              in_call && /\)[[:space:]]*$/ { split(call, w, /[( ]+/); print w[2] "|" call; in_call = 0 }' \
  "$src/src/stores/stores.cmake")

if ! PKG_CONFIG_LIBDIR="$work/pc" cmake -S "$src" -B "$work/b" -DSS_BUILD_TESTS=OFF \
  -DSS_BUILD_BENCH=OFF -DSS_WERROR=ON "${opts[@]}" >"$work/cfg.log" 2>&1; then
  cat "$work/cfg.log"
  echo "FAIL configure without libcurl, jansson and libcrypto"
  exit 1
fi
drivers=$(sed -n 's/^-- statestore drivers: //p' "$work/cfg.log")
[ "$drivers" = "memory;sqlite" ] || { echo "FAIL drivers built: $drivers"; exit 1; }
echo "ok   configured without libcurl, jansson and libcrypto; drivers: $drivers"

targets=(statestore statestore_static)
for t in statestored statestore_cli; do
  grep -q "^$t:" "$work/b/Makefile" 2>/dev/null && targets+=("$t")
done
if ! cmake --build "$work/b" -j2 --target "${targets[@]}" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"
  echo "FAIL build of ${targets[*]}"
  exit 1
fi
lib=$(find "$work/b" -maxdepth 1 -name 'libstatestore.so.*.*' | head -1)
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case "$needed" in *libcurl* | *libjansson* | *libcrypto*)
  echo "FAIL libstatestore links $needed"
  exit 1 ;;
esac
echo "ok   built ${targets[*]}; libstatestore needs only: $needed"
