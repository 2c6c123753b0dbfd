#!/usr/bin/env bash
# Serves Guichet on a throw-away SQLite database and audits its /graphql with
# graphql-http's auditServer(). Exits with the audit's status: 0 only when the
# audit reports no error and no warning. Run it from anywhere:
#   bash tools/http-audit/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
startup_timeout_seconds=30

# Use the `guichet` on PATH, else the repository's virtualenv.
guichet="$(command -v guichet || true)"
if [[ -z "$guichet" && -x "$repo/.venv/bin/guichet" ]]; then
  guichet="$repo/.venv/bin/guichet"
fi
if [[ -z "$guichet" ]]; then
  echo "run.sh: no guichet command; install the project (pip install -e .) first" >&2
  exit 2
fi

if [[ ! -d "$here/node_modules" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Serve from the temporary directory so that the secret-key file and the storage
# directory Guichet creates next to its database end up there too. Settings from
# the caller's environment (a Redis URL, a short key) must not change the result.
(
  cd "$workdir"
  for name in $(compgen -e | grep '^GUICHET_' || true); do unset "$name"; done
  GUICHET_DATABASE_URL="sqlite://$workdir/audit.sqlite3" \
    exec "$guichet" serve --host 127.0.0.1 --port "$port"
) >"$workdir/server.log" 2>&1 &
server_pid=$!

show_server_log() {
  echo "---- guichet serve log ----" >&2
  cat "$workdir/server.log" >&2 || true
}

deadline=$((SECONDS + startup_timeout_seconds))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true)" == 200 ]]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: guichet serve exited before answering /healthz" >&2
    show_server_log
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "run.sh: /healthz did not answer 200 within ${startup_timeout_seconds}s" >&2
    show_server_log
    exit 1
  fi
  sleep 0.2
done

status=0
node "$here/audit.mjs" "$base/graphql" || status=$?
if ((status != 0)); then
  show_server_log
fi
exit "$status"
