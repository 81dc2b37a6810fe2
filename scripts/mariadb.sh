#!/usr/bin/env bash
# A throwaway MariaDB for the ODBC tests, reached through MariaDB Connector/ODBC.
#
#   eval "$(bash scripts/mariadb.sh start DIR)"   # installs what is missing, starts it,
#                                                 # prints the variables tests read
#   bash scripts/mariadb.sh stop DIR
#
# The server listens on 127.0.0.1 on a free port, runs as an unprivileged user, keeps
# its data in DIR, and is stopped by `stop`.
set -euo pipefail
action="${1:?start or stop}"
dir="${2:?a directory for the server data}"
user=aqueducts-db

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

driver() {
  ls /usr/lib/*/odbc/libmaodbc.so 2>/dev/null | head -n 1 || true
}

case "$action" in
start)
  if ! command -v mariadbd >/dev/null || [ -z "$(driver)" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "mariadb.sh: mariadb-server and odbc-mariadb are missing; install them (apt-get install mariadb-server odbc-mariadb)" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends mariadb-server odbc-mariadb >&2
  fi
  run_as=()
  user_flag=()
  if [ "$(id -u)" -eq 0 ]; then
    id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
    run_as=(runuser -u "$user" --)
    user_flag=(--user="$user")
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$user" "$dir"
  port="$(free_port)"
  password="pw-$RANDOM$RANDOM"
  "${run_as[@]}" mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db "${user_flag[@]}" >"$dir/install.log" 2>&1
  "${run_as[@]}" mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" --log-error="$dir/server.log" \
    --innodb-flush-log-at-trx-commit=0 >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    [ -S "$dir/mysqld.sock" ] && break
    sleep 0.1
  done
  if [ ! -S "$dir/mysqld.sock" ]; then
    echo "mariadb did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
  fi
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e "
    CREATE DATABASE aqueducts_test;
    CREATE USER 'aqueducts'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL ON aqueducts_test.* TO 'aqueducts'@'127.0.0.1';"
  echo "export AQUEDUCTS_TEST_MARIADB_PORT=$port"
  echo "export AQUEDUCTS_TEST_MARIADB_PASSWORD=$password"
  echo "export AQUEDUCTS_TEST_MARIADB_DRIVER=$(driver)"
  echo "export AQUEDUCTS_TEST_MARIADB_SOCKET=$dir/mysqld.sock"
  ;;
stop)
  if [ -f "$dir/mariadbd.pid" ]; then
    kill "$(cat "$dir/mariadbd.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -f "$dir/mariadbd.pid" ] || break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: mariadb.sh start|stop DIR" >&2
  exit 2
  ;;
esac
