#!/usr/bin/env bash
# The Vercel AI SDK's own transports against a real server: installs `ai` and `ws` from the
# lock file (npm ci, when node_modules does not match it), builds the server, starts it on a
# temp SQLite database (and, with TEST_DATABASE_URL set, two instances on a fresh PostgreSQL
# database), runs every *.test.mjs (or the files named as arguments), and always stops the
# servers. (`ai` 7 declares Node 22; what the suite uses of it runs on Node 20 as well.)
set -euo pipefail
cd "$(dirname "$0")"
SUITE_DIR=$(pwd)
ROOT=$(cd ../.. && pwd)

if ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.installed-lock
fi

(cd "$ROOT" && cargo build --locked --bin agentwire)

source "$ROOT/tests/lib/server.sh"
server_scratch
SECRET="ai-sdk-secret-$(random_hex 16)"

# Deltas 40 ms apart, so an answer is long enough to cut and resume.
serve() {
  start_server "$1" "$2" "$3" JWT_SECRET_KEY="$SECRET" OFFLINE_DELTA_DELAY_MS=40 \
    RATE_LIMIT_REQUESTS=1000
}

serve AGENTWIRE_URL sqlite "sqlite://$WORK/ai-sdk.db"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  PG_DB="agentwire_ai_sdk_$(random_hex 6)"
  psql "$TEST_DATABASE_URL" -q -c "CREATE DATABASE $PG_DB" >/dev/null
  on_cleanup 'psql "$TEST_DATABASE_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1'
  PG_URL="${TEST_DATABASE_URL%/*}/$PG_DB"
  serve AGENTWIRE_URL_PG_A pg-a "$PG_URL"
  serve AGENTWIRE_URL_PG_B pg-b "$PG_URL"
fi

status=0
if [ "$#" -gt 0 ]; then
  TESTS=("$@")
else
  TESTS=("$SUITE_DIR"/*.test.mjs)
fi
node --test --test-concurrency=1 "${TESTS[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  show_logs 30
fi
exit "$status"
