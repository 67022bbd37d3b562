#!/usr/bin/env bash
# Wall time of `wsprobe serve` and of Autobahn|Testsuite's fuzzingserver, in the same run,
# with the same client and the same driver on the same cases (Autobahn categories 1-7, 9,
# 10: 301 cases; wsprobe's C.* left out). A benchmark, not a test.
#
#   scripts/bench-serve-vs-autobahn.sh [OUTDIR]
#
# Clients (BENCH_CLIENTS, default "python node"): the Python websockets client and the
# Node ws client from peers/ (run scripts/setup-peers.sh first), each through its
# Autobahn-style driver (peers/python/fuzzingclient.py, peers/node/fuzzingclient.js).
# Autobahn's wstest is installed by ../shared/tools/autobahn-setup.sh when missing
# (WSTEST overrides its path). Prints, per client:
#   CLIENT: wsprobe wall seconds: <s>
#   CLIENT: autobahn wall seconds: <s>
#   CLIENT: speedup: <x>
# and writes OUTDIR (default /tmp/wsprobe-bench-serve): the reports of both servers.
# BENCH_COMPRESSION=1: categories 12 and 13 instead (216 permessage-deflate cases, 1,000
# messages each of 16 B to 128 KiB; the drivers offer permessage-deflate);
# BENCH_PMD_MAX_SIZE=N keeps the first N message sizes of each subcategory (the whole of
# 12 and 13 is CPU-bound in the client: Node ws alone needs well over 10 minutes).
# BENCH_TIME_SCALE=F (default 1): wsprobe serve --time-scale F (the cases' own waits, e.g.
# 8 s in 6.4.x and 2 s in 5.19/5.20, times F; Autobahn's are fixed).
# BENCH_PARALLEL=N (default 1): for wsprobe only, N copies of the driver run at once as
# agents AGENT-1..N against one server (cases of different agents run concurrently).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
outdir=${1:-/tmp/wsprobe-bench-serve}
clients=${BENCH_CLIENTS:-python node}
parallel=${BENCH_PARALLEL:-1}
scale=${BENCH_TIME_SCALE:-1}
if [ "${BENCH_COMPRESSION:-0}" = 1 ]; then
    # Sizes above BENCH_PMD_MAX_SIZE (default 18: all) of every subcategory left out.
    max=${BENCH_PMD_MAX_SIZE:-18}
    big=$(for n in $(seq $((max + 1)) 18); do printf '12.*.%s 13.*.%s ' "$n" "$n"; done)
    ws_cases=(--cases '12.*,13.*')
    [ -z "$big" ] || ws_cases+=(--exclude "$(echo $big | tr ' ' ',')")
    ab_cases="\"cases\": [\"12.*\", \"13.*\"], \"exclude-cases\": [$(for c in $big; do printf '"%s",' "$c"; done | sed 's/,$//')]"
else
    ws_cases=(--exclude 'C.*,12.*,13.*')
    ab_cases='"cases": ["*"], "exclude-cases": ["12.*", "13.*"]'
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# shellcheck source=bench-lib.sh
source "$here/bench-lib.sh"

wstest=${WSTEST:-/tmp/autobahn/venv/bin/wstest}
if [ ! -x "$wstest" ]; then
    setup=$repo/../shared/tools/autobahn-setup.sh
    [ -x "$setup" ] || [ -f "$setup" ] || { echo "bench: no wstest and no $setup" >&2; exit 2; }
    bash "$setup" /tmp/autobahn >&2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 200); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: nothing listens on port $1" >&2
    exit 1
}
driver() {
    case $1 in
        python) echo "$repo/peers/.venv/bin/python $repo/peers/python/fuzzingclient.py" ;;
        node) echo "node $repo/peers/node/fuzzingclient.js" ;;
        *) echo "bench: unknown client $1" >&2; exit 2 ;;
    esac
}
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

for client in $clients; do
    drv=$(driver "$client")

    # ---- wsprobe serve
    port=$(free_port)
    "$wsprobe" serve --once --listen "127.0.0.1:$port" "${ws_cases[@]}" --time-scale "$scale" --agents "$parallel" \
        --report "$outdir/wsprobe-$client" >"$outdir/wsprobe-$client.out" 2>&1 &
    server_pid=$!
    wait_port "$port"
    t0=$(now)
    if [ "$parallel" -gt 1 ]; then
        pids=()
        for i in $(seq 1 "$parallel"); do
            $drv "ws://127.0.0.1:$port" --agent "$client-$i" >/dev/null &
            pids+=($!)
        done
        wait "${pids[@]}"
    else
        $drv "ws://127.0.0.1:$port" --agent "$client" >/dev/null
    fi
    t1=$(now)
    wait "$server_pid" || true
    server_pid=
    ws=$(secs "$t0" "$t1")

    # ---- Autobahn fuzzingserver
    port=$(free_port)
    mkdir -p "$outdir/autobahn-$client"
    cat >"$outdir/autobahn-$client/spec.json" <<EOF
{"url": "ws://127.0.0.1:$port", "outdir": "$outdir/autobahn-$client/reports",
 $ab_cases, "exclude-agent-cases": {}}
EOF
    (cd "$outdir/autobahn-$client" && exec "$wstest" -m fuzzingserver -s spec.json) \
        >"$outdir/autobahn-$client/wstest.out" 2>&1 &
    server_pid=$!
    wait_port "$port"
    t0=$(now)
    $drv "ws://127.0.0.1:$port" --agent "$client" >/dev/null
    t1=$(now)
    cleanup
    ab=$(secs "$t0" "$t1")

    echo "$client: wsprobe wall seconds: $ws ($parallel driver(s), --time-scale $scale)"
    echo "$client: autobahn wall seconds: $ab"
    echo "$client: speedup: $(python3 -c "print(f'{$ab / $ws:.1f}')")"
done
