#!/usr/bin/env bash
# Wall time of `wsprobe test` and of Autobahn|Testsuite's fuzzingclient, in the same run,
# on the same target and the same cases (Autobahn categories 1-7, 9, 10: 301 cases).
# A benchmark, not a test.
#
#   scripts/bench-test-vs-autobahn.sh [TARGET_URL] [OUTDIR]
#
# Without TARGET_URL two targets are measured in turn: the Python websockets echo server
# from peers/ (run scripts/setup-peers.sh first) and wsprobe's own reference server; each
# is started and stopped by the script. (On websockets the floor is ~2 s: cases 6.4.x
# wait 1 s twice by design, as in Autobahn, because websockets does not fail fast.) Autobahn runs through
# scripts/bench-autobahn.sh (which installs wstest when missing). Writes OUTDIR
# (default /tmp/wsprobe-bench): wsprobe/ (report), autobahn/ (wstest output), and prints
#   TARGET: wsprobe wall seconds: <s>
#   TARGET: autobahn wall seconds: <s>
#   TARGET: speedup: <x>
#
# BENCH_ALL=1: every server case of both tools instead, permessage-deflate (12, 13)
# included: wsprobe with its default catalog (no --cases: Autobahn's 517 server cases plus
# its own H/M/S/P cases; --progress for per-category times) and wstest with
# AUTOBAHN_CASES='["*"]' AUTOBAHN_EXCLUDE='[]'. When the script starts the target itself it
# also reads the target process's CPU time (utime+stime, /proc/PID/stat) before and after
# each tool, and samples it every 0.5 s (scripts/proc-cpu.py) for per-group figures
# (scripts/bench-all-groups.py: 1-10, 12-13, own). OUTDIR defaults to /tmp/wsprobe-bench-all;
# it prints, per tool, wall seconds, target CPU seconds and wall/target-CPU, then the
# verdict comparison on the common cases and the per-group table. Takes ~15-20 minutes
# against the Python websockets server (its zlib level-6 echo is the floor).
# (Smoke test of this mode only: BENCH_ALL_WSPROBE_CASES='1.1.*' BENCH_ALL_AUTOBAHN_CASES='["1.1.*"]'.)
# BENCH_TARGETS (default "python reference"): which of the two local targets to measure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
url=${1:-}
bench_all=${BENCH_ALL:-0}
targets=${BENCH_TARGETS:-python reference}
if [ "$bench_all" = 1 ]; then outdir=${2:-/tmp/wsprobe-bench-all}; else outdir=${2:-/tmp/wsprobe-bench}; fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# shellcheck source=bench-lib.sh
source "$here/bench-lib.sh"

# Starts a server command that prints "LISTENING <port>"; sets $url.
start_server() {
    local log=$1; shift
    "$@" >"$log.out" 2>"$log.err" &
    server_pid=$!
    for _ in $(seq 1 100); do
        grep -q '^LISTENING ' "$log.out" 2>/dev/null && break
        sleep 0.1
    done
    local port
    port=$(sed -n 's/^LISTENING //p' "$log.out")
    [ -n "$port" ] || { echo "bench: $* did not start" >&2; exit 1; }
    url=ws://127.0.0.1:$port/
}

# Runs both tools on $url; prints the figures for target name $1.
bench_one() {
    local name=$1 out=$outdir/$1
    mkdir -p "$out"
    local cases='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*'
    echo "bench[$name]: wsprobe test $url --cases '$cases'" >&2
    local start end
    start=$(date +%s.%N)
    set +e
    "$wsprobe" test "$url" --cases "$cases" --quiet --agent bench-target --report "$out/wsprobe" >"$out/wsprobe.txt" 2>&1
    set -e
    end=$(date +%s.%N)
    local wsprobe_wall autobahn_out autobahn_wall
    wsprobe_wall=$(python3 -c "print(f'{$end - $start:.2f}')")
    tail -1 "$out/wsprobe.txt" >&2
    autobahn_out=$(AUTOBAHN_CASES='["1.*","2.*","3.*","4.*","5.*","6.*","7.*","9.*","10.*"]' \
        AUTOBAHN_EXCLUDE='[]' AUTOBAHN_AGENT=bench-target "$here/bench-autobahn.sh" "$url" "$out/autobahn")
    autobahn_wall=$(printf '%s\n' "$autobahn_out" | sed -n 's/^autobahn wall seconds: //p')
    echo "bench[$name]: verdicts compared case by case (wsprobe vs Autobahn, same run):" >&2
    python3 "$here/autobahn-compare.py" "$out/wsprobe/index.json" "$out/autobahn/reports/index.json" >&2 || true
    echo "$name: wsprobe wall seconds: $wsprobe_wall"
    echo "$name: autobahn wall seconds: $autobahn_wall"
    python3 -c "print(f'$name: speedup: {$autobahn_wall / $wsprobe_wall:.1f}x')"
}

# CPU seconds (utime+stime) of the target process, or "nan" when the script did not start it.
target_cpu() {
    if [ -n "$server_pid" ]; then python3 "$here/proc-cpu.py" read "$server_pid"; else echo nan; fi
}

# Runs "$@" (a tool) while sampling the target's CPU into $out/cpu-$tool.tsv; records the
# window (epoch start end) in $out/$tool.window and sets ${tool}_wall, ${tool}_cpu.
measure() {
    local tool=$1; shift
    local sampler= c0 c1 start end
    rm -f "$out/cpu-$tool.tsv"
    if [ -n "$server_pid" ]; then
        python3 "$here/proc-cpu.py" sample "$server_pid" "$out/cpu-$tool.tsv" 0.5 &
        sampler=$!
    fi
    c0=$(target_cpu)
    start=$(date +%s.%N)
    set +e
    "$@"
    set -e
    end=$(date +%s.%N)
    c1=$(target_cpu)
    if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
    echo "$start $end" >"$out/$tool.window"
    printf -v "${tool}_wall" '%s' "$(python3 -c "print(f'{$end - $start:.2f}')")"
    printf -v "${tool}_cpu" '%s' "$(python3 -c "print(f'{$c1 - $c0:.2f}')")"
}

# BENCH_ALL=1: every server case of both tools, with the target's CPU time.
bench_one_all() {
    local name=$1
    out=$outdir/$1
    mkdir -p "$out"
    rm -rf "$out/wsprobe"
    echo "bench[$name]: load before: $(uptime)" >&2
    echo "bench[$name]: wsprobe test $url (all cases) --progress" >&2
    local sel=()
    [ -z "${BENCH_ALL_WSPROBE_CASES:-}" ] || sel=(--cases "$BENCH_ALL_WSPROBE_CASES")
    measure wsprobe /usr/bin/time -v -o "$out/wsprobe.time.txt" \
        "$wsprobe" test "$url" "${sel[@]}" --progress --agent bench-target --report "$out/wsprobe" >"$out/wsprobe.txt" 2>&1
    tail -1 "$out/wsprobe.txt" >&2
    echo "bench[$name]: load between: $(uptime)" >&2
    echo "bench[$name]: wstest fuzzingclient, cases [\"*\"], exclude []" >&2
    measure autobahn env AUTOBAHN_CASES="${BENCH_ALL_AUTOBAHN_CASES:-[\"*\"]}" AUTOBAHN_EXCLUDE='[]' AUTOBAHN_AGENT=bench-target \
        "$here/bench-autobahn.sh" "$url" "$out/autobahn" >"$out/autobahn.stdout"
    echo "bench[$name]: load after: $(uptime)" >&2
    [ -f "$out/autobahn/reports/index.json" ] || { echo "bench[$name]: wstest produced no report" >&2; return 1; }
    # wstest's own /usr/bin/time figure (the process only, without the script around it).
    local autobahn_inner
    autobahn_inner=$(python3 - "$out/autobahn/time.txt" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)", line)
    if m:
        s = 0.0
        for p in m.group(1).strip().split(":"):
            s = s * 60 + float(p)
        print(f"{s:.2f}")
PY
)
    tester_cpu() { python3 - "$1" <<'PY'
import re, sys
u = s = 0.0
for line in open(sys.argv[1]):
    m = re.search(r"(User|System) time \(seconds\): ([0-9.]+)", line)
    if m:
        if m.group(1) == "User": u = float(m.group(2))
        else: s = float(m.group(2))
print(f"{u + s:.2f}")
PY
    }
    echo "bench[$name]: verdicts compared case by case on the common cases (wsprobe vs Autobahn, same run):" >&2
    python3 "$here/autobahn-compare.py" "$out/wsprobe/index.json" "$out/autobahn/reports/index.json" >&2 || true
    python3 "$here/autobahn-compare.py" "$out/wsprobe/index.json" "$out/autobahn/reports/index.json" --json \
        >"$out/compare.json" || true
    python3 "$here/bench-all-groups.py" "$out" >&2 || echo "bench[$name]: per-group figures unavailable" >&2
    local n_w n_a
    n_w=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d.values()))' "$out/wsprobe/index.json")
    n_a=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d.values()))' "$out/autobahn/reports/index.json")
    ratio() { python3 -c "import math; a, b = float('$1'), float('$2'); print('nan' if math.isnan(b) or b <= 0 else f'{a / b:.2f}')"; }
    echo "$name: wsprobe cases: $n_w"
    echo "$name: wsprobe wall seconds: $wsprobe_wall"
    echo "$name: wsprobe target CPU seconds: $wsprobe_cpu"
    echo "$name: wsprobe wall/target-CPU: $(ratio "$wsprobe_wall" "$wsprobe_cpu")"
    echo "$name: wsprobe own CPU seconds: $(tester_cpu "$out/wsprobe.time.txt")"
    echo "$name: autobahn cases: $n_a"
    echo "$name: autobahn wall seconds: $autobahn_wall (wstest process alone: $autobahn_inner)"
    echo "$name: autobahn target CPU seconds: $autobahn_cpu"
    echo "$name: autobahn wall/target-CPU: $(ratio "$autobahn_wall" "$autobahn_cpu")"
    echo "$name: autobahn own CPU seconds: $(tester_cpu "$out/autobahn/time.txt")"
    python3 -c "print(f'$name: speedup (whole runs, $n_a vs $n_w cases): {$autobahn_wall / $wsprobe_wall:.2f}x')"
}

run_target() {
    if [ "$bench_all" = 1 ]; then bench_one_all "$1"; else bench_one "$1"; fi
}

if [ -n "$url" ]; then
    run_target target
    exit 0
fi

py=$repo/peers/.venv/bin/python
case " $targets " in *" python "*)
if [ -x "$py" ]; then
    start_server "$outdir/python-server" "$py" "$repo/peers/python/echo_server.py" --port 0
    run_target python-websockets
    cleanup
else
    echo "bench: $py missing (run scripts/setup-peers.sh); skipping the Python target" >&2
fi
;; esac
case " $targets " in *" reference "*)
start_server "$outdir/reference-server" "$wsprobe" reference-server --listen 127.0.0.1:0
run_target wsprobe-reference-server
;; esac
