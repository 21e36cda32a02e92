#!/usr/bin/env bash
# The GraphQL-over-HTTP audit suite (graphql-http's serverAudits, pinned in
# scripts/audit-node/) against a real `bookrec serve`: a fresh SQLite database, no model, a
# free loopback port. Prints every audit and the totals; fails on any warning or error.
# The server is always stopped, whatever happens.
#
# The npm packages go to a cache directory (BOOKREC_AUDIT_NODE_DIR, by default
# ~/.cache/bookrec/audit-node), installed again only when the lock file changes; nothing is
# written into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin="$repo/.venv/bin"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "graphql-http audit: $tool is not installed" >&2; exit 2; }
done

node_dir=${BOOKREC_AUDIT_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bookrec/audit-node}
lock="$repo/scripts/audit-node/package-lock.json"
mkdir -p "$node_dir"
if ! cmp -s "$lock" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules/graphql-http" ]; then
  cp "$repo/scripts/audit-node/package.json" "$lock" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    # Its process group (see setsid below), else the process alone.
    target="-$server_pid"
    kill -0 -- "$target" 2>/dev/null || target=$server_pid
    kill -TERM -- "$target" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 -- "$target" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BOOKREC_DATABASE_URL="sqlite:///$work/audit.db"
export BOOKREC_MODEL_DIR="$work/models"
export BOOKREC_SECRET_KEY="graphql-http-audit-secret-key-0123456789abcdef"
export BOOKREC_ENV=test
export BOOKREC_LOG_LEVEL=WARNING  # the log tail printed on failure shows what went wrong
mkdir -p "$BOOKREC_MODEL_DIR"

"$bin/bookrec" init-db >"$work/init-db.log" 2>&1 || { cat "$work/init-db.log" >&2; exit 2; }
# In a session of its own, so that stopping its group stops uvicorn's workers too.
launcher=$(command -v setsid || true)
$launcher "$bin/bookrec" serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server_pid=$!

set +e
node "$repo/scripts/graphql_http_audit.mjs" "$node_dir" "http://127.0.0.1:$port/graphql"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "--- server log (last lines) ---"
  tail -n 30 "$work/server.log"
fi
exit "$rc"
