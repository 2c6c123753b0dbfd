#!/usr/bin/env bash
# Start a throwaway PostgreSQL and Redis on loopback for the test suite, or stop them.
#
#   eval "$(bash tools/services.sh start DIR)"   # prints the GUICHET_TEST_* exports
#   bash tools/services.sh stop DIR
#
# DIR holds the data, sockets and logs (any empty folder; removed by `stop`). PostgreSQL
# runs without fsync (tests only). As root, postgres runs as the `postgres` user.
set -euo pipefail

command=${1:?usage: services.sh start|stop DIR}
dir=${2:?usage: services.sh start|stop DIR}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$command" in
start)
  command -v postgres >/dev/null || { echo "postgres binaries are missing" >&2; exit 1; }
  command -v redis-server >/dev/null || { echo "redis-server is missing" >&2; exit 1; }
  mkdir -p "$dir/pg" "$dir/pg-socket"
  if [ "$(id -u)" = "0" ]; then chown postgres "$dir" "$dir/pg" "$dir/pg-socket"; fi
  pg_port=$(free_port)
  as_postgres initdb -D "$dir/pg" -A trust -U postgres >/dev/null
  as_postgres pg_ctl -D "$dir/pg" -l "$dir/pg/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg-socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE guichet_test" >/dev/null
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "export GUICHET_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/guichet_test"
  echo "export GUICHET_TEST_BROADCAST_URL=redis://127.0.0.1:$redis_port/0"
  ;;
stop)
  if [ -f "$dir/pg/postmaster.pid" ]; then as_postgres pg_ctl -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true; fi
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: services.sh start|stop DIR" >&2
  exit 2
  ;;
esac
