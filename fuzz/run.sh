#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each one for a bounded time.
#
#   fuzz/run.sh                 build, then fuzz every target FUZZ_SECONDS (default 30) each
#   fuzz/run.sh fuzz_api ...    only the named targets
#   FUZZ_REGRESS=1 fuzz/run.sh  only replay the seed corpora (no new inputs), e.g. in CI
#
# Environment: FUZZ_SECONDS, FUZZ_BUILD (build directory, never inside the repository; default
# /tmp/statestore-fuzz-build-<checksum of the checkout's path>), FUZZ_JOBS (build parallelism,
# default 2), CC (default clang: 14 on Debian 12, 19 on Debian 13).
# New inputs go to a scratch corpus in the build directory; the seeds in fuzz/corpus/ are only
# read. A crash leaves its input in $FUZZ_BUILD/artifacts/ and makes the script exit 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# One build directory per checkout: a CMake cache made for another source tree cannot be reused.
build="${FUZZ_BUILD:-/tmp/statestore-fuzz-build-$(printf '%s' "$repo" | cksum | cut -d' ' -f1)}"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-2}"
cc="${CC:-clang}"
cxx="${CXX:-clang++}"
case "$build" in "$repo"/*) echo "run.sh: FUZZ_BUILD must be outside the repository" >&2; exit 2;; esac
if [ -f "$build/CMakeCache.txt" ] &&
  ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$repo" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  # Every target fuzz/CMakeLists.txt declares, so a new one cannot be left out of the runs.
  mapfile -t targets < <(sed -n 's/^ *ss_fuzz(\([a-z0-9_]*\).*/\1/p' "$here/CMakeLists.txt")
fi

# -Werror stays with the gcc builds (scripts/test.sh): clang's extra warnings in code outside
# fuzz/ must not stop the fuzzers from being built.
CC="$cc" CXX="$cxx" cmake -S "$repo" -B "$build" -DSS_FUZZ=ON -DSS_SANITIZE=ON \
  -DSS_BUILD_TESTS=OFF -DSS_BUILD_BENCH=OFF -DSS_BUILD_DAEMON=OFF -DSS_BUILD_CLI=OFF \
  -DSS_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log" >&2; exit 1; }

mkdir -p "$build/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
printf '%-22s %12s %10s %10s %8s  %s\n' target executions exec/s seconds corpus result
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  seeds="$here/corpus/$t"
  work="$build/corpus/$t"
  log="$build/$t.log"
  mkdir -p "$work" "$seeds"
  start=$(date +%s)
  if [ -n "${FUZZ_REGRESS:-}" ]; then
    args=(-runs=0 -print_final_stats=1 "$seeds")
  else
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          "$work" "$seeds")
  fi
  rc=0
  "$bin" -artifact_prefix="$build/artifacts/$t-" "${args[@]}" >"$log" 2>&1 || rc=$?
  end=$(date +%s)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  ncorpus=$(find "$work" -type f | wc -l)
  result=ok
  if [ "$rc" -ne 0 ]; then result="CRASH (see $log)"; failed=1; fi
  printf '%-22s %12s %10s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$((end - start))" \
    "$ncorpus" "$result"
done
exit "$failed"
