#!/usr/bin/env bash
# Schema-driven fuzzing: builds the server, starts it on a free port with a temp SQLite database,
# and runs Schemathesis against its own document (GET /api/openapi.json). Every answer must be no
# 5xx, have a documented status and content type, and match its documented schema (error shapes,
# and each event of an SSE answer, included). Schemathesis is pinned and installed from PyPI into
# a throwaway venv. Extra arguments go to `schemathesis run` (e.g. `--max-examples 500`).
#
# Streams: SSE answers of a turn end with the turn (the offline agent answers at once), so they
# are fuzzed and each event checked. `GET /api/mcp` streams for as long as its session lives, so
# no link leads to it; without a session it answers 400/404 at once. `GET /api/ws` is fuzzed as
# plain HTTP (400): no upgrade headers are documented, so none is attempted; the WebSocket has
# its own suites (tests/ws*.rs, tests/auth.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SCHEMATHESIS_VERSION=4.32.5

cargo build --locked --quiet --bin agentwire

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

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"

# Development mode mounts /api/dev/token (fuzzed too, and where the token comes from). The rate
# limit is lifted so that turns are fuzzed, not 429s; its own tests are in tests/rest.rs.
BIND_ADDR="127.0.0.1:$PORT" \
DATABASE_URL="sqlite://$WORK/fuzz.db" \
ENVIRONMENT=development \
JWT_SECRET_KEY="fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
RATE_LIMIT_REQUESTS=1000000 \
LOG_FORMAT=json \
RUST_LOG=warn \
  "$ROOT/target/debug/agentwire" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if curl -fs "$URL/api/health" >/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

export FUZZ_USER=fuzz
FUZZ_TOKEN=$(curl -fs -X POST "$URL/api/dev/token" -H 'content-type: application/json' \
  -d "{\"user_id\": \"$FUZZ_USER\", \"ttl_secs\": 3600}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
export FUZZ_TOKEN

# About a minute on two cores: 25 cases per operation and phase, each request bounded.
status=0
timeout 300 "$WORK/venv/bin/schemathesis" \
  --config-file "$ROOT/tests/schemathesis/schemathesis.toml" \
  run "$URL/api/openapi.json" \
  --no-color \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples 25 \
  --request-timeout 10 \
  --generation-database none \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---" >&2
  tail -n 50 "$WORK/server.log" >&2
fi
exit "$status"
