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

source "$ROOT/tests/lib/server.sh"
server_scratch

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"

# Development mode mounts /api/dev/token (fuzzed too, and where the token comes from). The rate
# limit is lifted so that turns are fuzzed, not 429s; its own tests are in tests/rest.rs.
start_server URL server "sqlite://$WORK/fuzz.db" JWT_SECRET_KEY="fuzz-$(random_hex 16)" \
  RATE_LIMIT_REQUESTS=1000000

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
  show_logs 50
fi
exit "$status"
