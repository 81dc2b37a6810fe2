#!/usr/bin/env bash
# A throwaway PostgreSQL for the ODBC tests, reached through psqlodbc.
#
#   eval "$(bash scripts/postgres.sh start DIR)"   # installs what is missing, starts it,
#                                                  # prints the variables tests read
#   bash scripts/postgres.sh stop DIR
#
# The server listens on 127.0.0.1 on a free port, runs as an unprivileged user (PostgreSQL
# refuses to run as root), keeps its data in DIR, and is stopped by `stop`.
set -euo pipefail
action="${1:?start or stop}"
dir="${2:?a directory for the server data}"

pg_bin() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$found" ] && echo "$found"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$action" in
start)
  if [ -z "$(pg_bin)" ] || [ ! -e /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so ] && [ ! -e /usr/lib/aarch64-linux-gnu/odbc/psqlodbcw.so ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "postgres.sh: postgresql and odbc-postgresql are missing; install them (apt-get install postgresql odbc-postgresql)" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends postgresql odbc-postgresql >&2
  fi
  bin="$(pg_bin)"
  driver="$(ls /usr/lib/*/odbc/psqlodbcw.so | head -n 1)"
  run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    id aqueducts-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin aqueducts-pg
    run_as=(runuser -u aqueducts-pg --)
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown aqueducts-pg "$dir"
  port="$(free_port)"
  password="pw-$RANDOM$RANDOM"
  echo "$password" > "$dir/.pwfile"
  [ "$(id -u)" -eq 0 ] && chown aqueducts-pg "$dir/.pwfile"
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U aqueducts --pwfile="$dir/.pwfile" -A scram-sha-256 >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
  PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U aqueducts -d postgres -q \
    -c "CREATE DATABASE aqueducts_test" >/dev/null
  echo "export AQUEDUCTS_TEST_PG_PORT=$port"
  echo "export AQUEDUCTS_TEST_PG_PASSWORD=$password"
  echo "export AQUEDUCTS_TEST_PG_DRIVER=$driver"
  echo "export AQUEDUCTS_TEST_PG_BIN=$bin"
  ;;
stop)
  bin="$(pg_bin)"
  if [ -d "$dir/data" ]; then
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u aqueducts-pg -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    else
      "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: postgres.sh start|stop DIR" >&2
  exit 2
  ;;
esac
