#!/usr/bin/env bash
# The README's first command: installs the build dependencies, builds statestored, and runs it on
# the embedded default store (a SQLite file, ./statestore.db) at 127.0.0.1:3500. Extra arguments go
# to statestored (e.g. --dapr-http-port 3600, --resources-path ./components).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target statestored >/dev/null
exec ./build/src/daemon/statestored "$@"
