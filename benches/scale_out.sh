#!/usr/bin/env bash
# Several instances behind HAProxy, relaying through PostgreSQL NOTIFY and through NATS, in one run.
#
# For each broker and for 1, 2 and 3 instances on one fresh PostgreSQL database, it starts the
# instances (bench agent: 64 words 10 ms apart) and HAProxy in front of them, then measures:
#   turns  - chat through HAProxy: 1,200 sockets of 300 users (4 sockets per user, spread over
#            the instances by round robin, so most of a turn's events must reach other
#            instances), one turn per socket every 2 s for 20 s; events relayed per second, read
#            from every instance's /metrics (agentwire_relay_events_total) around the run
#   added  - (2 and 3 instances) 200 sockets on instance 1, each with a twin for the same user
#            on instance 2 (--watch-url): first delta there against first delta at the sender
#   held   - idle sockets opened through HAProxy and held (SOCKETS, default 8,000: HAProxy
#            holds two descriptors per socket, and a process here may hold 20,000; its maxconn
#            is 9,500 for that reason)
# Output: one JSON summary per measurement under $OUT, and a table on stdout.
#
# Needs: a release build (cargo build --release --bin agentwire), haproxy on PATH (Debian's
# package), PostgreSQL at $PG (trust auth) and NATS at $NATS_URL. Instances are pinned to core
# 0, HAProxy and the load tester to core 1 (PostgreSQL and NATS run where the kernel puts them).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=./target/release/agentwire
PG=${PG:-postgres://postgres@127.0.0.1:5432}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
OUT=${OUT:-/tmp/agentwire-scale-out}
SOCKETS=${SOCKETS:-8000}
BROKERS=${BROKERS:-postgres nats}
COUNTS=${COUNTS:-1 2 3}
export JWT_SECRET_KEY=${JWT_SECRET_KEY:-bench-secret-bench-secret-bench-secret}
mkdir -p "$OUT"
command -v haproxy >/dev/null || { echo "haproxy not found (apt-get install haproxy)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN not built (cargo build --release --bin agentwire)" >&2; exit 1; }

PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
trap cleanup EXIT

wait_healthy() {
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$1/api/health" >/dev/null && return 0
    sleep 0.1
  done
  echo "instance on :$1 did not start" >&2
  exit 1
}

# Sum of agentwire_relay_events_total{outcome="$1"} over the instances on ports $2…
relayed() {
  local outcome=$1 total=0 v
  shift
  for port in "$@"; do
    v=$(curl -sf "http://127.0.0.1:$port/metrics" |
      awk -v o="outcome=\"$outcome\"" '$1 ~ /^agentwire_relay_events_total/ && index($1, o) {print $2}')
    total=$(python3 -c "print(${total} + ${v:-0})")
  done
  echo "$total"
}

start() { # broker, instance count
  local broker=$1 n=$2 ports=() i
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS bench_scale WITH (FORCE)" -c "CREATE DATABASE bench_scale"
  for i in $(seq 1 "$n"); do
    local port=$((8810 + i))
    env BIND_ADDR=127.0.0.1:$port RUST_LOG=warn RATE_LIMIT_REQUESTS=0 MAX_CONNECTIONS_PER_IP=0 \
      DATABASE_URL="$PG/bench_scale" MULTI_INSTANCE=on EVENT_BROKER="$broker" NATS_URL="$NATS_URL" \
      NATS_SUBJECT_PREFIX="bench-scale-$$" BENCH_AGENT_DELTAS=64 BENCH_AGENT_DELAY_MS=10 \
      taskset -c 0 "$BIN" serve >"$OUT/instance-$broker-$n-$i.log" 2>&1 &
    PIDS+=($!)
    wait_healthy "$port"
    ports+=("$port")
  done
  {
    printf 'global\n  maxconn 9500\n'
    printf 'defaults\n  mode http\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n  timeout tunnel 1h\n  maxconn 9500\n'
    printf 'frontend api\n  bind 127.0.0.1:8810\n  default_backend instances\n'
    printf 'backend instances\n  balance roundrobin\n'
    for p in "${ports[@]}"; do printf '  server i%s 127.0.0.1:%s maxconn 9500\n' "$p" "$p"; done
  } >"$OUT/haproxy.cfg"
  taskset -c 1 haproxy -f "$OUT/haproxy.cfg" -db >"$OUT/haproxy-$broker-$n.log" 2>&1 &
  PIDS+=($!)
  wait_healthy 8810
  PORTS=("${ports[@]}")
}

load() { # output name, load arguments…
  local name=$1
  shift
  taskset -c 1 "$BIN" load "$@" --json >"$OUT/$name.json"
}

field() { # file, python expression over the summary `s`
  python3 -c "import json,sys; s=json.load(open('$1')); print($2)"
}

printf '| broker | instances | turns/s | deltas received/s | first delta p50 / p99 (ms) | events relayed/s | errors | first delta on the other instance p50 / p99 (ms) | sockets held |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for broker in $BROKERS; do
  for n in $COUNTS; do
    start "$broker" "$n"
    before=$(relayed sent "${PORTS[@]}")
    load "turns-$broker-$n" chat --url http://127.0.0.1:8810 --connections 1200 --users 300 \
      --interval 2s --duration 20s
    after=$(relayed sent "${PORTS[@]}")
    f="$OUT/turns-$broker-$n.json"
    relayed_per_sec=$(python3 -c "print(round(($after - $before) / $(field "$f" "s['elapsed_secs']")))")
    added="—"
    if [ "$n" -ge 2 ]; then
      load "added-$broker-$n" chat --url http://127.0.0.1:8811 --watch-url http://127.0.0.1:8812 \
        --connections 200 --interval 1s --duration 15s
      a="$OUT/added-$broker-$n.json"
      added=$(field "$a" "'%.2f / %.2f (sender %.2f / %.2f)' % (s['latency']['watch_first_delta']['p50_ms'], s['latency']['watch_first_delta']['p99_ms'], s['latency']['first_delta']['p50_ms'], s['latency']['first_delta']['p99_ms'])")
    fi
    load "held-$broker-$n" idle --url http://127.0.0.1:8810 --connections "$SOCKETS" --ramp 2000 \
      --duration 5s
    held=$(field "$OUT/held-$broker-$n.json" "s['connects']['ok']")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$broker" "$n" \
      "$(field "$f" "round(s['rates']['turns_per_sec'])")" \
      "$(field "$f" "round(s['rates']['deltas_per_sec'])")" \
      "$(field "$f" "'%.2f / %.2f' % (s['latency']['first_delta']['p50_ms'], s['latency']['first_delta']['p99_ms'])")" \
      "$relayed_per_sec" \
      "$(field "$f" "sum(s['errors'].values())")" \
      "$added" "$held"
    cleanup
  done
done
