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

source "$ROOT/tests/lib/server.sh"
server_scratch
# For tests that start a server of their own (lib/instance.js).
export AGENTWIRE_BIN="$ROOT/target/debug/agentwire"
export E2E_JWT_SECRET="e2e-secret-$(random_hex 16)"

# Deltas 100 ms apart, so a stream is slow enough to watch and to stop.
start_server AGENTWIRE_URL server "sqlite://$WORK/e2e.db" JWT_SECRET_KEY="$E2E_JWT_SECRET" \
  OFFLINE_DELTA_DELAY_MS=100 RATE_LIMIT_REQUESTS=100

export E2E_SCREENSHOT="${E2E_SCREENSHOT:-$ROOT/docs/screenshot.png}"
status=0
if [ "$#" -gt 0 ]; then
  TESTS=("$@")
else
  TESTS=("$E2E_DIR"/*.test.js)
fi
node --test --test-concurrency=1 "${TESTS[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  show_logs 50
fi
exit "$status"
