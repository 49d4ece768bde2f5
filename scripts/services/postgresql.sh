#!/usr/bin/env bash
# postgresql.sh start|stop|pause|resume DIR — a throwaway PostgreSQL on 127.0.0.1 for tests.
# Contract in lib.sh. pause/resume stop and restart the same server (same port and data) so the
# driver tests can check behaviour while the database is down and after it returns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:?usage: postgresql.sh start|stop|pause|resume DIR}
dir=$(mkdir -p "${2:?usage: postgresql.sh start|stop|pause|resume DIR}" && cd "$2" && pwd)
base=$dir/postgresql
data=$base/data
envfile=$dir/postgresql.env

bindir=""
for v in 17 16 15 14 13; do
  if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then bindir=/usr/lib/postgresql/$v/bin; break; fi
done
[ -n "$bindir" ] || { echo "postgresql.sh: no /usr/lib/postgresql/*/bin/pg_ctl (apt-get install postgresql)" >&2; exit 1; }

# The server refuses to run as root, so every server command runs as the 'postgres' user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}

pg_start() {
  local port=$1
  as_pg "'$bindir/pg_ctl' -D '$data' -l '$base/pg.log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p $port -k '$base' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null
}

pg_stop() {
  [ -f "$data/postmaster.pid" ] || return 0
  as_pg "'$bindir/pg_ctl' -D '$data' -m fast -w -t 60 stop" >/dev/null 2>&1 || true
  # pg_ctl failed or timed out: fall back to the recorded PID.
  if [ -f "$data/postmaster.pid" ]; then
    local pid
    pid=$(head -n1 "$data/postmaster.pid")
    if [ -n "$pid" ] && pid_alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$data/postmaster.pid"
  fi
}

case "$cmd" in
start)
  pg_stop
  rm -rf "$base"
  mkdir -p "$base"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$base"
    # DIR is often a mktemp -d (mode 700): the postgres user must be able to traverse it.
    chmod a+x "$dir"
  fi
  as_pg "'$bindir/initdb' -D '$data' -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N" >"$base/initdb.log" 2>&1 ||
    { echo "postgresql.sh: initdb failed, see $base/initdb.log" >&2; tail -n 20 "$base/initdb.log" >&2; exit 1; }
  port=$(free_port)
  echo "$port" >"$base/port"
  pg_start "$port" || { echo "postgresql.sh: server did not start, see $base/pg.log" >&2; tail -n 20 "$base/pg.log" >&2; exit 1; }
  wait_cmd 30 "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"
  cat >"$envfile" <<ENV
export SS_TEST_POSTGRES_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
export SS_TEST_POSTGRES_SCRIPT="$here/postgresql.sh"
export SS_TEST_POSTGRES_DIR="$dir"
ENV
  ;;
pause)
  pg_stop
  ;;
resume)
  port=$(cat "$base/port")
  pg_start "$port" || { echo "postgresql.sh: server did not restart, see $base/pg.log" >&2; exit 1; }
  wait_cmd 30 "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"
  ;;
stop)
  pg_stop
  rm -f "$envfile"
  ;;
*)
  echo "usage: postgresql.sh start|stop|pause|resume DIR" >&2
  exit 64
  ;;
esac
