#!/usr/bin/env bash
# all.sh start|stop DIR — starts (or stops) every test server: each scripts/services/<name>.sh.
# On start, every server must come up; one that does not fails the whole start, naming it and
# showing the tail of its log, so a broken server can never turn into silently skipped tests.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: all.sh start|stop DIR}
dir=${2:?usage: all.sh start|stop DIR}
mkdir -p "$dir"

services=()
for f in "$here"/*.sh; do
  name=$(basename "$f" .sh)
  case "$name" in lib | all) continue ;; esac
  services+=("$name")
done

case "$cmd" in
start)
  for name in "${services[@]}"; do
    t0=$(date +%s%N)
    if ! bash "$here/$name.sh" start "$dir" >"$dir/$name.start.log" 2>&1; then
      echo "services: $name failed to start (log: $dir/$name.start.log; server logs under $dir/$name/):" >&2
      tail -n 30 "$dir/$name.start.log" >&2
      find "$dir/$name" -name '*.log' -exec sh -c 'echo "--- $1"; tail -n 20 "$1"' _ {} \; >&2 2>/dev/null
      exit 1
    fi
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf 'services: %-16s ready in %d.%03ds\n' "$name" $((ms / 1000)) $((ms % 1000))
  done
  ;;
stop)
  for name in "${services[@]}"; do
    bash "$here/$name.sh" stop "$dir" >/dev/null 2>&1 || echo "services: $name did not stop cleanly" >&2
  done
  ;;
*)
  echo "usage: all.sh start|stop DIR" >&2
  exit 64
  ;;
esac
