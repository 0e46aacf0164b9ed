#!/usr/bin/env bash
# Instructions the server executes per delta or per turn, counted by callgrind: a figure that
# does not move with the machine's neighbours, its steal time or its other core, so two builds
# (or ours and the bare baseline) can be compared on any day.
#
#   benches/callgrind.sh paced ours|baseline [SOCKETS]   instructions per delta
#   benches/callgrind.sh chat  ours|baseline [SOCKETS]   instructions per turn
#
# paced: SOCKETS answers (default 10) of 200 deltas 20 ms apart, each socket asking again as
#        soon as its answer ends, in the same thread, for 12 s. Few enough that the server keeps
#        up under valgrind, so every delta is written alone, as at a model's pace.
# chat:  SOCKETS sockets (default 10), one turn each every 500 ms, 64 deltas without delay, one
#        thread per socket kept for the run (every turn after the first reads its history).
# The server (a fresh SQLite database; or the baseline) runs under callgrind with
# instrumentation off; a 5 s warm-up (one-time tables, prepared statements) is not counted;
# instrumentation is switched on for the measured run only. The count covers every thread of
# the server, in user space (valgrind does not see the kernel). Prints one line; the callgrind
# file stays under $OUT for callgrind_annotate.
#
# Needs: valgrind (Debian's package) and a release build:
#   cargo build --release --bin agentwire --example baseline_ws
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO=${1:?paced or chat}
KIND=${2:?ours or baseline}
N=${3:-10}
PORT=${PORT:-8805}
OUT=${OUT:-/tmp/agentwire-callgrind}
BIN=${BIN:-./target/release/agentwire}
BASELINE=./target/release/examples/baseline_ws
export JWT_SECRET_KEY=${JWT_SECRET_KEY:-bench-secret-bench-secret-bench-secret}
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

case $SCENARIO in
  paced) SHAPE=(BENCH_AGENT_DELTAS=200 BENCH_AGENT_DELAY_MS=20)
         LOAD=(paced --connections "$N" --pace 20ms --duration 12s --ramp 2000) ;;
  chat)  SHAPE=(BENCH_AGENT_DELTAS=64 BENCH_AGENT_DELAY_MS=0)
         LOAD=(chat --connections "$N" --interval 500ms --duration 12s) ;;
  *) echo "scenario: paced or chat" >&2; exit 2 ;;
esac

file="$OUT/$SCENARIO-$KIND-$N.callgrind"
rm -f "$file"* "$OUT/bench.db"*
VG=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$file")
if [ "$KIND" = ours ]; then
  env BIND_ADDR=127.0.0.1:$PORT RUST_LOG=warn RATE_LIMIT_REQUESTS=0 MAX_CONNECTIONS_PER_IP=0 \
    DATABASE_URL="sqlite://$OUT/bench.db?mode=rwc" "${SHAPE[@]}" \
    taskset -c 0 "${VG[@]}" "$BIN" serve > "$OUT/server.log" 2>&1 &
else
  env "${SHAPE[@]}" taskset -c 0 "${VG[@]}" "$BASELINE" 127.0.0.1:$PORT > "$OUT/server.log" 2>&1 &
fi
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
  sleep 0.5
done
sleep 1

url=http://127.0.0.1:$PORT
taskset -c 1 "$BIN" load paced --url "$url" --connections 5 --pace 20ms --duration 5s \
  --ramp 2000 --json > /dev/null
callgrind_control -i on "$pid" > /dev/null 2>&1
taskset -c 1 "$BIN" load "${LOAD[@]}" --url "$url" --json > "$OUT/$SCENARIO-$KIND-$N.json"
callgrind_control -d "$pid" > /dev/null 2>&1
kill "$pid"; wait "$pid" 2>/dev/null || true

ir=$(callgrind_annotate "$file".1 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
python3 - "$SCENARIO" "$KIND" "$N" "$ir" "$OUT/$SCENARIO-$KIND-$N.json" <<'PY'
import json, sys
scenario, kind, n, ir, summary = sys.argv[1:6]
ir = int(ir)
d = json.load(open(summary))
turns, deltas = d["turns"]["completed"], d["deltas"]
per = ir / max(1, deltas if scenario == "paced" else turns)
unit = "delta" if scenario == "paced" else "turn"
print(f"{scenario} {kind} x{n}: {ir:,} instructions, {turns} turns, {deltas} deltas, "
      f"{per:,.0f} per {unit}")
PY
