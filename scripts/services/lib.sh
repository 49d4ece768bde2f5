# Shared helpers for scripts/services/<name>.sh. Sourced, not run.
#
# Contract of every scripts/services/<name>.sh:
#   <name>.sh start DIR   start the server(s) on 127.0.0.1, on free random ports, with all data
#                         under DIR/<name>; wait until ready (bounded); write DIR/<name>.env with
#                         `export SS_TEST_<NAME>_...=...` lines the tests read; exit non-zero with
#                         a message naming the cause if it could not start.
#   <name>.sh stop DIR    stop every process it started, by the PIDs it recorded.
# Servers' stdout/stderr always go to files under DIR (an inherited pipe would hang CI).

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_port HOST PORT SECONDS: waits until a TCP connect succeeds.
wait_port() {
  local host=$1 port=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for $host:$port" >&2
  return 1
}

# wait_cmd SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_cmd() {
  local secs=$1 i; shift
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for: $*" >&2
  return 1
}

# pid_alive PID: true while PID runs and is not a zombie.
pid_alive() {
  local pid=$1 state
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ]
}

# stop_pidfile FILE: TERM, wait up to 10 s, then KILL; removes FILE.
stop_pidfile() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(head -n1 "$f")
  if [ -n "$pid" ] && pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Test tools come from files committed in tests/servers/ (an npm lockfile, a Maven pom with pinned
# versions) and are installed per checkout under $SS_TOOLS (default build/test-tools), a folder
# no other install lands in. scripts/test.sh empties it at the start of every run, so each run
# takes the path of a machine that has never seen the project. A stamp (the lockfile or poms as
# installed) makes a second start within a run, or a developer's re-run of one service, reuse the
# install; a flock serialises services starting in parallel.
SS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SS_TOOLS=${SS_TOOLS:-$SS_REPO/build/test-tools}

# ensure_npm_tools WHO: `npm ci` of tests/servers/npm into $SS_TOOLS/npm; prints that folder
# (its node_modules/ holds the tools). The log stays in $SS_TOOLS/npm/npm.log.
ensure_npm_tools() {
  local who=$1 src=$SS_REPO/tests/servers/npm dir=$SS_TOOLS/npm
  command -v node >/dev/null || { echo "$who: node not installed (scripts/install-deps.sh)" >&2; return 1; }
  command -v npm >/dev/null || { echo "$who: npm not installed (scripts/install-deps.sh)" >&2; return 1; }
  mkdir -p "$dir"
  (
    flock 9
    cmp -s "$src/package-lock.json" "$dir/.installed" && exit 0
    rm -rf "$dir/node_modules" "$dir/.installed"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    if ! (cd "$dir" && timeout 900 npm ci --no-audit --no-fund --loglevel=error) >"$dir/npm.log" 2>&1; then
      echo "$who: npm ci of tests/servers/npm failed (see $dir/npm.log):" >&2
      tail -n 20 "$dir/npm.log" >&2
      exit 1
    fi
    cp "$src/package-lock.json" "$dir/.installed"
  ) 9>"$SS_TOOLS/npm.lock" || return 1
  echo "$dir"
}

# ensure_maven_servers WHO: resolves tests/servers/maven (one module per Java test server) into
# $SS_TOOLS/maven/repo, a Maven local repository of its own, and writes each module's runtime
# classpath to $SS_TOOLS/maven/cp/<module>.classpath; prints the cp folder.
ensure_maven_servers() {
  local who=$1 src=$SS_REPO/tests/servers/maven dir=$SS_TOOLS/maven stamp
  command -v java >/dev/null || { echo "$who: java not installed (scripts/install-deps.sh)" >&2; return 1; }
  command -v mvn >/dev/null || { echo "$who: mvn not installed (scripts/install-deps.sh)" >&2; return 1; }
  mkdir -p "$dir"
  stamp=$(cat "$src"/pom.xml "$src"/*/pom.xml | cksum)
  (
    flock 9
    [ "$(cat "$dir/.installed" 2>/dev/null)" = "$stamp" ] && exit 0
    rm -rf "$dir/cp" "$dir/.installed"
    if ! timeout 900 mvn -B -q -f "$src/pom.xml" -Dmaven.repo.local="$dir/repo" \
        -Dss.cpdir="$dir/cp" dependency:build-classpath >"$dir/mvn.log" 2>&1; then
      echo "$who: Maven could not resolve tests/servers/maven (see $dir/mvn.log):" >&2
      tail -n 20 "$dir/mvn.log" >&2
      exit 1
    fi
    echo "$stamp" >"$dir/.installed"
  ) 9>"$SS_TOOLS/maven.lock" || return 1
  echo "$dir/cp"
}

# maven_classpath WHO MODULE: prints the classpath of one Java test server (see above).
maven_classpath() {
  local cp
  cp=$(ensure_maven_servers "$1") || return 1
  [ -s "$cp/$2.classpath" ] || { echo "$1: no classpath for $2 in $cp" >&2; return 1; }
  cat "$cp/$2.classpath"
}
