#!/usr/bin/env bash
# The dashboard benchmark: the nested ticket list (50 open tickets, requester, assignee,
# 5 latest comments with authors) over HTTP against one server process, then the
# in-process split between fetching data and shaping the result.
#
#   bash bench/run.sh postgres://user@127.0.0.1:5432/guichet_bench [duration] [connections]
#
# Seeds the database first when it is empty (bench/seed.py: 20,000 tickets, 5,000
# customers, 200 agents, 100,000 comments). Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: bench/run.sh DATABASE_URL [duration] [connections]}
DURATION=${2:-30s}
CONNECTIONS=${3:-16}
export GUICHET_DATABASE_URL=$URL
export GUICHET_SECRET_KEY=${GUICHET_SECRET_KEY:-bench-secret-key-0123456789-abcdefghijklmnop}
export GUICHET_BROADCAST_URL=memory://
# One token hammers the server: the per-viewer cost budget would throttle it within a second.
export GUICHET_COST_BUDGET=0
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

python bench/seed.py "$URL" 2>&1 | grep -v "not empty" || true
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$WORK" && exec guichet serve --port "$PORT" --no-worker >"$WORK/server.log" 2>&1) &
SERVER=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

TOKEN=$(curl -fs "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
  -d '{"query":"mutation { login(input: {email: \"agent0@bench.test\", password: \"bench-password\"}) { token } }"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["token"])')
python3 -c 'import json, sys; print(json.dumps({"query": open("bench/dashboard.graphql").read()}))' >"$WORK/body.json"
# One request first: it must answer without errors.
curl -fs "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
  --data @"$WORK/body.json" | python3 -c 'import json, sys; r = json.load(sys.stdin); assert "errors" not in r, r["errors"]; print("tickets in the list:", len(r["data"]["tickets"]["edges"]))'

echo "wrk: $CONNECTIONS connections, $DURATION, one server process"
GUICHET_BENCH_BODY="$WORK/body.json" GUICHET_BENCH_TOKEN=$TOKEN \
  wrk -t"$(( CONNECTIONS < 2 ? 1 : 2 ))" -c"$CONNECTIONS" -d"$DURATION" -s bench/dashboard.lua "http://127.0.0.1:$PORT/graphql" | tail -n 4
kill "$SERVER"; SERVER=""
python bench/split.py --runs 200
