#!/usr/bin/env bash
# End-to-end tests of the web demo in headless Chromium: installs what is missing (Debian's
# chromium, the npm packages), builds and starts the server on a free port with a temp SQLite
# database, runs the tests (every *.test.js, or the files named as arguments), and always stops
# the server.
set -euo pipefail
cd "$(dirname "$0")"
E2E_DIR=$(pwd)
ROOT=$(cd ../.. && pwd)

if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  apt-get install -y chromium
fi
if [ ! -d node_modules/playwright-core ]; then
  # The browser comes from Debian; never let a package fetch one.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

(cd "$ROOT" && cargo build --locked --bin agentwire)

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
export AGENTWIRE_URL="http://127.0.0.1:$PORT"
# For tests that start a server of their own (lib/instance.js).
export AGENTWIRE_BIN="$ROOT/target/debug/agentwire"
export E2E_JWT_SECRET="e2e-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# Deltas 100 ms apart, so a stream is slow enough to watch and to stop.
BIND_ADDR="127.0.0.1:$PORT" \
DATABASE_URL="sqlite://$WORK/e2e.db" \
ENVIRONMENT=development \
JWT_SECRET_KEY="$E2E_JWT_SECRET" \
OFFLINE_DELTA_DELAY_MS=100 \
RATE_LIMIT_REQUESTS=100 \
LOG_FORMAT=json \
RUST_LOG=warn \
  "$ROOT/target/debug/agentwire" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if curl -fs "$AGENTWIRE_URL/api/health" >/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fs "$AGENTWIRE_URL/api/health" >/dev/null

export E2E_SCREENSHOT="${E2E_SCREENSHOT:-$ROOT/docs/screenshot.png}"
status=0
if [ "$#" -gt 0 ]; then
  TESTS=("$@")
else
  TESTS=("$E2E_DIR"/*.test.js)
fi
node --test --test-concurrency=1 "${TESTS[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---" >&2
  tail -n 50 "$WORK/server.log" >&2
fi
exit "$status"
