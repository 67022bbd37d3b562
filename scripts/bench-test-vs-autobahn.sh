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
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
url=${1:-}
outdir=${2:-/tmp/wsprobe-bench}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

server_pid=
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; server_pid=; }
trap cleanup EXIT

echo "bench: building wsprobe (release)" >&2
(cd "$repo" && cargo build --release -q -p wsprobe)
wsprobe=${CARGO_TARGET_DIR:-$repo/target}/release/wsprobe

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

if [ -n "$url" ]; then
    bench_one target
    exit 0
fi

py=$repo/peers/.venv/bin/python
if [ -x "$py" ]; then
    start_server "$outdir/python-server" "$py" "$repo/peers/python/echo_server.py" --port 0
    bench_one python-websockets
    cleanup
else
    echo "bench: $py missing (run scripts/setup-peers.sh); skipping the Python target" >&2
fi
start_server "$outdir/reference-server" "$wsprobe" reference-server --listen 127.0.0.1:0
bench_one wsprobe-reference-server
