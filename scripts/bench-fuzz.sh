#!/usr/bin/env bash
# Executions per second of `wsprobe fuzz` (release build), against the built-in reference
# server and against the Python `websockets` echo server from peers/ (run
# scripts/setup-peers.sh first), at several -j values, with where the time goes: the CPU
# seconds of wsprobe and of the target per 1,000 executions. A benchmark, not a test.
#
#   scripts/bench-fuzz.sh [OUTDIR]
#
# BENCH_ITERATIONS (default 2000) executions per run; BENCH_JOBS (default "1 4 16").
# Prints one line per run:
#   TARGET -j N: E executions in S s = R exec/s; cpu per 1000 exec: wsprobe W s, target T s
# and keeps each run's summary.json under OUTDIR (default /tmp/wsprobe-bench-fuzz).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
outdir=${1:-/tmp/wsprobe-bench-fuzz}
iterations=${BENCH_ITERATIONS:-2000}
jobs=${BENCH_JOBS:-1 4 16}
. "$here/bench-lib.sh"
python=$repo/peers/.venv/bin/python
cpu() { python3 "$here/proc-cpu.py" read "$1"; }
mkdir -p "$outdir"

# run NAME URL-or-empty J: one fuzz run; the target's CPU is read from PID $target_pid.
run() {
    local name=$1 url=$2 j=$3 out="$outdir/$1-j$3" t0 t1 w
    rm -rf "$out"
    t0=$( [ -n "$target_pid" ] && cpu "$target_pid" || echo 0)
    # wsprobe's own CPU (user + system) from /usr/bin/time's format.
    w=$( { /usr/bin/time -f '%U %S' "$wsprobe" fuzz $url --iterations "$iterations" --seed 1 \
            -j "$j" --out "$out" --quiet >/dev/null 2>"$out.err" || true; } 2>&1; tail -1 "$out.err")
    t1=$( [ -n "$target_pid" ] && cpu "$target_pid" || echo 0)
    python3 - "$out/summary.json" "$name" "$j" "$w" "$t0" "$t1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
name, j, w, t0, t1 = sys.argv[2], sys.argv[3], sys.argv[4].split(), float(sys.argv[5]), float(sys.argv[6])
n = s["executions"]
mine = float(w[0]) + float(w[1])
target = "in-process" if t1 == 0 else f"{(t1 - t0) * 1000 / n:.2f} s"
print(f"{name} -j {j}: {n} executions in {s['seconds']:.1f} s = {s['executions_per_second']:.0f} exec/s; "
      f"cpu per 1000 exec: wsprobe {mine * 1000 / n:.2f} s, target {target}; findings {len(s['findings'])}")
PY
}

target_pid=
for j in $jobs; do run reference "" "$j"; done

"$python" "$repo/peers/python/echo_server.py" > "$outdir/python.port" &
server_pid=$!
for _ in $(seq 100); do grep -q LISTENING "$outdir/python.port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/LISTENING/ {print $2}' "$outdir/python.port")
target_pid=$server_pid
for j in $jobs; do run python "ws://127.0.0.1:$port/" "$j"; done
