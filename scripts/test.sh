#!/usr/bin/env bash
# The README's test command: on a fresh Debian 12 or 13 machine it installs every dependency (Debian
# packages; the npm and Maven test tools from tests/servers/, into an emptied build/test-tools, so
# every run takes the path of a machine that never saw the project), checks formatting, starts
# every real server the tests use on 127.0.0.1, builds twice (normal, and AddressSanitizer +
# UBSan) with -Werror, and runs every test in both builds. It ends with one summary line over both
# runs: "total: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

t0=$(date +%s)
bash scripts/install-deps.sh
# Test tools: installed afresh on every run (no cache outside this folder is written or read
# except the npm cache's downloaded tarballs, checked against the lockfile's hashes).
export SS_TOOLS="$root/build/test-tools"
rm -rf "$SS_TOOLS"
# shellcheck source=/dev/null
. scripts/services/lib.sh
ensure_npm_tools test.sh >/dev/null
echo "test-tools: npm tools installed from tests/servers/npm/package-lock.json"
ensure_maven_servers test.sh >/dev/null
echo "test-tools: Java test servers resolved from tests/servers/maven ($(du -sh "$SS_TOOLS/maven/repo" | cut -f1))"
echo "test-tools: ready after $(($(date +%s) - t0)) s"
bash scripts/check-format.sh

svc=$(mktemp -d /tmp/statestore-services.XXXXXX)
cleanup() {
  local rc=$?
  bash "$root/scripts/services/all.sh" stop "$svc" || true
  # A failed run keeps the servers' logs that its messages point at.
  if [ "$rc" -eq 0 ]; then rm -rf "$svc"; else echo "test.sh: server logs kept in $svc" >&2; fi
}
trap cleanup EXIT
bash scripts/services/all.sh start "$svc"
for f in "$svc"/*.env; do
  [ -f "$f" ] || continue
  # shellcheck disable=SC1090
  source "$f"
done

build() { # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DSS_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  grep -E 'statestore drivers|driver .*: off' "$dir.configure.log" || true
  cmake --build "$dir" -j"$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  cmake --build "$dir" -j"$jobs" >/dev/null # fails the script if the build above failed
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
build build-asan -DCMAKE_BUILD_TYPE=Debug -DSS_SANITIZE=ON -DSS_BUILD_BENCH=OFF

# Fuzzing: every libFuzzer target (clang, ASan + UBSan) for a bounded time, seeds from
# fuzz/corpus/ included; a crash fails the run. FUZZ_SECONDS=0 skips it (printed).
if [ "${FUZZ_SECONDS:-30}" != "0" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash fuzz/run.sh
else
  echo "fuzz: skipped because FUZZ_SECONDS=0"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
status=0
run_ctest() { # dir label
  local out
  echo "=== ctest: $2"
  set +e
  (cd "$1" && ctest --output-on-failure --timeout 600) | tee "$1.ctest.log"
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || status=1
  out=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$1.ctest.log" | tail -n1)
  if [[ $out =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    local f=${BASH_REMATCH[1]} t=${BASH_REMATCH[2]}
    local s
    s=$(grep -cE '\*\*\*Skipped' "$1.ctest.log" || true)
    failed=$((failed + f))
    passed=$((passed + t - f - s))
  else
    status=1
  fi
}
run_ctest build "normal build"
run_ctest build-asan "AddressSanitizer + UBSan build"

skipped=$(cat build.ctest.log build-asan.ctest.log | grep -cE '\*\*\*Skipped' || true)
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests (each printed why above):"
  cat build.ctest.log build-asan.ctest.log | grep -E '\*\*\*Skipped' || true
fi
echo "total: $passed passed, $failed failed, $skipped skipped"
exit "$status"
