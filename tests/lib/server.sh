# Shared by the suites that drive a real server from the shell (tests/ai_sdk, tests/schemathesis,
# web-demo/e2e): a scratch directory, servers started on free ports and waited for, and cleanup
# that always stops them. Source it after `set -euo pipefail`, with ROOT set to the repository.
#
#   server_scratch                   makes $WORK and arms the cleanup (run `on_cleanup CMD` to
#                                    add a step, e.g. dropping a database)
#   start_server VAR NAME DB [K=V…]  starts `agentwire serve` (debug build) on a free port with
#                                    database DB and the extra variables, waits for /api/health,
#                                    and exports VAR as its URL; its log is $WORK/NAME.log
#   show_logs LINES                  the last LINES of every server's log, for a failed run

SERVER_PIDS=()
CLEANUP_STEPS=()

cleanup_servers() {
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  for step in "${CLEANUP_STEPS[@]}"; do
    eval "$step" || true
  done
  rm -rf "$WORK"
}

server_scratch() {
  WORK=$(mktemp -d)
  trap cleanup_servers EXIT
}

on_cleanup() {
  CLEANUP_STEPS+=("$1")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_hex() {
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# Not run in a subshell, so that the cleanup knows the server's pid.
start_server() {
  local var=$1 name=$2 database=$3 port url pid
  shift 3
  port=$(free_port)
  url="http://127.0.0.1:$port"
  env BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$database" ENVIRONMENT=development \
    LOG_FORMAT=json RUST_LOG=warn "$@" \
    "$ROOT/target/debug/agentwire" serve >"$WORK/$name.log" 2>&1 &
  pid=$!
  SERVER_PIDS+=("$pid")
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

show_logs() {
  local log
  for log in "$WORK"/*.log; do
    echo "--- $(basename "$log") (last $1 lines) ---" >&2
    tail -n "$1" "$log" >&2
  done
}
