#!/usr/bin/env bash
# The dashboard list (bench/dashboard.graphql) against Guichet, PostGraphile 5 and a
# hand-written floor, in one run on one database:
#
#   bash bench/compare.sh postgres://user@127.0.0.1:5432/guichet_bench [duration] [connections]
#
# duration defaults to 20s, connections to 8; GUICHET_BENCH_WARMUP (default 5s) is the
# unmeasured wrk run before each measurement. Prints a table; writes nothing to the repo.
#
#   guichet       `guichet serve --no-worker`, as bench/run.sh starts it
#   postgraphile  PostGraphile 5, amber preset (bench/postgraphile/), on node 22 from npm
#   floor         bench/floor.py: Starlette + asyncpg + orjson, 2 SQL statements a request
#
# Each server runs alone, as one process pinned to CPU 0 (taskset -c 0); wrk runs pinned
# to CPU 1 (one thread). PostgreSQL is not pinned: on a 2-core machine it competes with
# both, which is part of what is measured (its CPU is reported apart).
#
# First every server is started in turn to answer the query once, and the answers are
# compared (bench/compare.py check): nothing is measured unless the floor answers exactly
# what Guichet answers, and PostGraphile the same data. Then each is started again in
# turn, warmed up, measured, and its answer checked again after the load.
#
# Needs: the venv (guichet installed), wrk, taskset (util-linux), npm (first run only,
# to install bench/postgraphile from its lock file), psql (to find PostgreSQL's pid for
# its CPU; optional).
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: bench/compare.sh DATABASE_URL [duration] [connections]}
DURATION=${2:-20s}
CONNECTIONS=${3:-8}
WARMUP=${GUICHET_BENCH_WARMUP:-5s}
SPLIT_RUNS=${GUICHET_BENCH_SPLIT_RUNS:-200}
SERVER_CPU=0
WRK_CPU=1

export GUICHET_DATABASE_URL=$URL
export GUICHET_SECRET_KEY=${GUICHET_SECRET_KEY:-bench-secret-key-0123456789-abcdefghijklmnop}
export GUICHET_BROADCAST_URL=memory://
# One token hammers the server: the per-viewer cost budget would throttle it within a second.
export GUICHET_COST_BUDGET=0

for tool in wrk taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "compare: $tool is missing" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "compare: needs 2 CPUs (server on CPU $SERVER_CPU, wrk on CPU $WRK_CPU)" >&2
  exit 1
fi
PGL_DIR=bench/postgraphile
if [ ! -x "$PGL_DIR/node_modules/.bin/node" ]; then
  # Exact versions from package-lock.json: postgraphile and npm's `node` package (node 22,
  # which PostGraphile 5 needs; the machine's own node may be older).
  echo "installing $PGL_DIR (npm ci)"
  (cd "$PGL_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

WORK=$(mktemp -d)
SERVER=""
stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

python bench/seed.py "$URL" 2>&1 | grep -v "not empty" || true
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT="http://127.0.0.1:$PORT/graphql"
# The request bodies: Guichet's document for Guichet and the floor, PostGraphile's names
# for PostGraphile (bench/postgraphile/dashboard.graphql).
python3 -c 'import json, sys; print(json.dumps({"query": open(sys.argv[1]).read()}))' \
  bench/dashboard.graphql >"$WORK/guichet-body.json"
python3 -c 'import json, sys; print(json.dumps({"query": open(sys.argv[1]).read()}))' \
  "$PGL_DIR/dashboard.graphql" >"$WORK/postgraphile-body.json"
cp "$WORK/guichet-body.json" "$WORK/floor-body.json"

# Start one server ($1) on $PORT, pinned to $SERVER_CPU; `exec` everywhere so that
# $SERVER is the server process itself (its CPU is read from /proc/$SERVER).
start_server() {
  case "$1" in
  guichet)
    (cd "$WORK" && exec taskset -c "$SERVER_CPU" guichet serve --port "$PORT" --no-worker \
      >"$WORK/guichet.log" 2>&1) &
    ;;
  postgraphile)
    # NODE_ENV=production: PostGraphile as it is deployed (no development-only checks).
    (cd "$PGL_DIR" && DATABASE_URL=$URL NODE_ENV=production exec taskset -c "$SERVER_CPU" \
      node_modules/.bin/node node_modules/postgraphile/dist/cli-run.js \
      -C graphile.config.mjs -p "$PORT" -n 127.0.0.1 >"$WORK/postgraphile.log" 2>&1) &
    ;;
  floor)
    DATABASE_URL=$URL taskset -c "$SERVER_CPU" python bench/floor.py --port "$PORT" \
      >"$WORK/floor.log" 2>&1 &
    ;;
  esac
  SERVER=$!
  # Ready when it answers a GraphQL request (PostGraphile has no health route).
  for _ in $(seq 150); do
    if curl -fs -o /dev/null "$ENDPOINT" -H 'content-type: application/json' \
      -H "authorization: Bearer ${TOKEN:-none}" --data @"$WORK/$1-body.json"; then
      return 0
    fi
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.2
  done
  echo "compare: $1 did not start; its log:" >&2
  cat "$WORK/$1.log" >&2
  exit 1
}

ask() {  # one request with the benchmark's body and token; the answer to stdout
  curl -fsS "$ENDPOINT" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
    --data @"$WORK/$1-body.json"
}

SERVERS=(guichet postgraphile floor)

# ---- 1. The answers, each server alone, compared before anything is measured.
TOKEN=""
for name in "${SERVERS[@]}"; do
  start_server "$name"
  if [ "$name" = guichet ]; then
    TOKEN=$(curl -fs "$ENDPOINT" -H 'content-type: application/json' \
      -d '{"query":"mutation { login(input: {email: \"agent0@bench.test\", password: \"bench-password\"}) { token } }"}' \
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["token"])')
  fi
  ask "$name" >"$WORK/$name.json"
  stop_server
done
python3 bench/compare.py check "$WORK"

# ---- 2. Under load, one server at a time.
PG_PID=$(python3 bench/compare.py postmaster "$URL" || true)
[ -n "$PG_PID" ] || echo "PostgreSQL does not run on this machine (or psql is missing): its CPU is not measured"
WRK=(taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" --latency -s bench/dashboard.lua)
echo "wrk: 1 thread, $CONNECTIONS connections, $DURATION after $WARMUP of warm-up; servers on CPU $SERVER_CPU, wrk on CPU $WRK_CPU"
for name in "${SERVERS[@]}"; do
  start_server "$name"
  export GUICHET_BENCH_BODY="$WORK/$name-body.json" GUICHET_BENCH_TOKEN=$TOKEN
  "${WRK[@]}" -d"$WARMUP" "$ENDPOINT" >/dev/null
  python3 bench/compare.py measure --name "$name" --server-pid "$SERVER" ${PG_PID:+--pg-pid "$PG_PID"} \
    --out "$WORK/results.jsonl" -- "${WRK[@]}" -d"$DURATION" "$ENDPOINT"
  # Still the same answer after the load (no throttling, no expired session, no errors).
  ask "$name" >"$WORK/after.json"
  python3 -c 'import json, sys; a, b = (json.load(open(p)) for p in sys.argv[1:]); sys.exit(a != b and "compare: the answer changed under load")' \
    "$WORK/$name.json" "$WORK/after.json"
  stop_server
done

# ---- 3. Guichet in process: where its time goes (no HTTP), on the server's CPU.
taskset -c "$SERVER_CPU" python bench/split.py --runs "$SPLIT_RUNS" --token "$TOKEN" >"$WORK/split.txt"

echo
python3 bench/compare.py table "$WORK/results.jsonl"
echo
echo "Guichet in process (bench/split.py, CPU $SERVER_CPU):"
cat "$WORK/split.txt"
