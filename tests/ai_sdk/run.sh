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

WORK=$(mktemp -d)
PIDS=()
PG_DB=
cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$PG_DB" ]; then
    psql "$TEST_DATABASE_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET="ai-sdk-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start VAR NAME DATABASE_URL: starts an instance, waits for it, and sets VAR to its URL. Not
# run in a subshell, so that cleanup knows its pid.
start() {
  local var=$1 name=$2 database=$3 port
  port=$(free_port)
  # Deltas 40 ms apart, so an answer is long enough to cut and resume.
  BIND_ADDR="127.0.0.1:$port" \
  DATABASE_URL="$database" \
  ENVIRONMENT=development \
  JWT_SECRET_KEY="$SECRET" \
  OFFLINE_DELTA_DELAY_MS=40 \
  RATE_LIMIT_REQUESTS=1000 \
  LOG_FORMAT=json \
  RUST_LOG=warn \
    "$ROOT/target/debug/agentwire" serve >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if curl -fs "$url/api/health" >/dev/null; then
      printf -v "$var" '%s' "$url"
      export "${var?}"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "the $name server did not start:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

start AGENTWIRE_URL sqlite "sqlite://$WORK/ai-sdk.db"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  PG_DB="agentwire_ai_sdk_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql "$TEST_DATABASE_URL" -q -c "CREATE DATABASE $PG_DB" >/dev/null
  PG_URL="${TEST_DATABASE_URL%/*}/$PG_DB"
  start AGENTWIRE_URL_PG_A pg-a "$PG_URL"
  start AGENTWIRE_URL_PG_B pg-b "$PG_URL"
fi

status=0
if [ "$#" -gt 0 ]; then
  TESTS=("$@")
else
  TESTS=("$SUITE_DIR"/*.test.mjs)
fi
node --test --test-concurrency=1 "${TESTS[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  for log in "$WORK"/*.log; do
    echo "--- $(basename "$log") (last 30 lines) ---" >&2
    tail -n 30 "$log" >&2
  done
fi
exit "$status"
