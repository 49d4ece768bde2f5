#!/usr/bin/env bash
# mariadb.sh start|stop|pause|resume DIR — a throwaway MariaDB on 127.0.0.1 for tests.
# Contract in lib.sh. pause/resume stop and restart the same server (same port and data) so the
# driver tests can check behaviour while the database is down and after it returns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:?usage: mariadb.sh start|stop|pause|resume DIR}
dir=$(mkdir -p "${2:?usage: mariadb.sh start|stop|pause|resume DIR}" && cd "$2" && pwd)
base=$dir/mariadb
envfile=$dir/mariadb.env
pidfile=$base/mariadbd.pid

mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[ -x "$mariadbd" ] || { echo "mariadb.sh: mariadbd not found (apt-get install mariadb-server)" >&2; exit 1; }

db_start() {
  local port=$1
  nohup "$mariadbd" --no-defaults --user="$(id -un)" --datadir="$base/data" --bind-address=127.0.0.1 \
    --port="$port" --socket="$base/mysqld.sock" --pid-file="$base/mariadb.pid" \
    --log-error="$base/error.log" --skip-name-resolve --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=0 --skip-log-bin --max-connections=300 \
    >"$base/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local i
  for ((i = 0; i < 300; i++)); do
    if mariadb-admin --no-defaults -h 127.0.0.1 -P "$port" -u root ping >/dev/null 2>&1; then return 0; fi
    pid_alive "$(cat "$pidfile")" || break
    sleep 0.1
  done
  echo "mariadb.sh: server did not become ready, see $base/error.log" >&2
  tail -n 20 "$base/error.log" >&2 || true
  return 1
}

case "$cmd" in
start)
  stop_pidfile "$pidfile"
  rm -rf "$base"
  mkdir -p "$base"
  mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$base/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$base/install.log" 2>&1 ||
    { echo "mariadb.sh: mariadb-install-db failed, see $base/install.log" >&2; tail -n 20 "$base/install.log" >&2; exit 1; }
  port=$(free_port)
  echo "$port" >"$base/port"
  db_start "$port"
  cat >"$envfile" <<ENV
export SS_TEST_MYSQL_DSN="root@tcp(127.0.0.1:$port)/?parseTime=true"
export SS_TEST_MYSQL_SCRIPT="$here/mariadb.sh"
export SS_TEST_MYSQL_DIR="$dir"
ENV
  ;;
pause)
  stop_pidfile "$pidfile"
  ;;
resume)
  db_start "$(cat "$base/port")"
  ;;
stop)
  stop_pidfile "$pidfile"
  rm -f "$envfile"
  ;;
*)
  echo "usage: mariadb.sh start|stop|pause|resume DIR" >&2
  exit 64
  ;;
esac
