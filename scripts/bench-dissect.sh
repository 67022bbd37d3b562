#!/usr/bin/env bash
# Benchmarks `wsprobe dissect` against tshark on synthetic WebSocket captures.
#
#   scripts/bench-dissect.sh [SIZE_MB]        (default 100)
#
# Builds wsprobe and the capture generator (crates/dissect/examples/bench_capture.rs)
# in release mode, writes two captures into $BENCH_DIR (default /tmp/wsprobe-bench-dissect):
# SIZE_MB and 3 x SIZE_MB megabytes, then measures on each, one after the other:
#   wsprobe dissect --format jsonl FILE >/dev/null            (one record per message)
#   wsprobe dissect --format jsonl --frames FILE >/dev/null   (plus one per frame)
#   tshark -r FILE -Y websocket -T fields -e websocket.opcode >/dev/null
# with /usr/bin/time -v (best of BENCH_RUNS runs for wsprobe, one for tshark): wall
# time, throughput (MB/s of capture file, WebSocket frames/s, the frame count being the
# generator's) and peak RSS. Prints a table and the ratios
# (wsprobe throughput / tshark throughput, tshark peak RSS / wsprobe peak RSS) and how
# wsprobe's peak RSS changes from the small capture to the large one.
#
# Environment (all optional):
#   BENCH_DIR           where captures and logs go (default /tmp/wsprobe-bench-dissect)
#   BENCH_TSHARK_LARGE  0: run tshark on the small capture only (it is slow)
#   BENCH_KEEP          1: keep the captures afterwards
#   BENCH_RUNS          runs of each wsprobe command, the best wall time counts (default 3;
#                       tshark runs once)
#   CARGO_TARGET_DIR    as usual (default <repo>/target)
set -euo pipefail

size=${1:-100}
case $size in '' | *[!0-9]*) echo "usage: $0 [SIZE_MB]" >&2; exit 2 ;; esac
[ "$size" -ge 1 ] || { echo "bench-dissect: SIZE_MB must be >= 1" >&2; exit 2; }
large=$((size * 3))

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
dir=${BENCH_DIR:-/tmp/wsprobe-bench-dissect}
runs=${BENCH_RUNS:-3}
target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$dir"

[ -x /usr/bin/time ] || { echo "bench-dissect: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
command -v tshark >/dev/null 2>&1 || { echo "bench-dissect: tshark missing (scripts/setup-peers.sh)" >&2; exit 1; }

echo "bench-dissect: building wsprobe and bench_capture (release)" >&2
cargo build --release -q -p wsprobe --bin wsprobe
cargo build --release -q -p wsprobe-dissect --example bench_capture
wsprobe=$target/release/wsprobe
gen=$target/release/examples/bench_capture
"$wsprobe" dissect --help >/dev/null 2>&1 || { echo "bench-dissect: '$wsprobe dissect' does not work" >&2; exit 1; }

declare -A bytes frames
for mb in "$size" "$large"; do
    f=$dir/bench-$mb.pcap
    echo "bench-dissect: generating $f ($mb MB)" >&2
    line=$("$gen" "$f" "$mb" | tail -n 1)
    echo "  $line" >&2
    bytes[$mb]=$(stat -c %s "$f")
    frames[$mb]=$(sed -n 's/.* frames=\([0-9]*\).*/\1/p' <<<"$line")
done

# measure NAME MB RUNS CMD...: runs CMD (stdout to /dev/null) RUNS times under
# /usr/bin/time -v and appends "NAME MB best_wall_s max_rss_kb" to $results. The wall
# time is taken with $EPOCHREALTIME around each run (finer than time's 10 ms).
results=$dir/results.txt
: >"$results"
measure() {
    local name=$1 mb=$2 runs=$3
    shift 3
    local log=$dir/time-$name-$mb.txt best="" maxrss=0 i t0 t1 wall rss
    echo "bench-dissect: $name on $mb MB ($runs run(s)): $*" >&2
    # Read the file once first so every tool starts from the same warm page cache.
    cat "$dir/bench-$mb.pcap" >/dev/null
    for ((i = 0; i < runs; i++)); do
        t0=$EPOCHREALTIME
        if ! /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$dir/stderr-$name-$mb.txt"; then
            echo "bench-dissect: $name failed on $mb MB (see $dir/stderr-$name-$mb.txt)" >&2
            tail -n 5 "$dir/stderr-$name-$mb.txt" >&2
            exit 1
        fi
        t1=$EPOCHREALTIME
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
        if [ -z "$best" ] || awk -v w="$wall" -v b="$best" 'BEGIN { exit !(w < b) }'; then best=$wall; fi
        [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    echo "$name $mb $best $maxrss" >>"$results"
}

for mb in "$size" "$large"; do
    f=$dir/bench-$mb.pcap
    measure wsprobe-jsonl "$mb" "$runs" "$wsprobe" dissect --format jsonl "$f"
    measure wsprobe-frames "$mb" "$runs" "$wsprobe" dissect --format jsonl --frames "$f"
    if [ "$mb" = "$size" ] || [ "${BENCH_TSHARK_LARGE:-1}" = 1 ]; then
        measure tshark "$mb" 1 tshark -n -r "$f" -Y websocket -T fields -e websocket.opcode
    fi
done

echo
echo "$(tshark --version 2>/dev/null | head -n 1); wsprobe $("$wsprobe" --version 2>/dev/null | head -n 1); $(nproc) CPUs"
printf '%-16s %9s %9s %10s %13s %12s\n' tool capture wall_s MB/s frames/s peak_RSS_MB
while read -r name mb wall rss; do
    awk -v n="$name" -v mb="$mb" -v w="$wall" -v r="$rss" -v b="${bytes[$mb]}" -v fr="${frames[$mb]}" \
        'BEGIN { w = (w > 0 ? w : 0.01);
                 printf "%-16s %6d MB %9.2f %10.1f %13.0f %12.1f\n", n, mb, w, b / 1e6 / w, fr / w, r / 1024 }'
done <"$results"

echo
# ratio A B MB: throughput and memory ratios of tool A against tool B on capture MB.
ratio() {
    local a b
    a=$(awk -v n="$1" -v mb="$3" '$1 == n && $2 == mb' "$results")
    b=$(awk -v n="$2" -v mb="$3" '$1 == n && $2 == mb' "$results")
    [ -n "$a" ] && [ -n "$b" ] || return 0
    awk -v a="$a" -v b="$b" -v na="$1" -v nb="$2" -v mb="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%s vs %s on %d MB: %.1fx the throughput, %.1fx less peak memory (%.1f MB vs %.1f MB)\n",
            na, nb, mb, (y[3] > 0 ? y[3] : 0.01) / (x[3] > 0 ? x[3] : 0.01), y[4] / x[4], x[4] / 1024, y[4] / 1024 }'
}
for mb in "$size" "$large"; do
    ratio wsprobe-jsonl tshark "$mb"
    ratio wsprobe-frames tshark "$mb"
done
for name in wsprobe-jsonl wsprobe-frames tshark; do
    awk -v n="$name" -v s="$size" -v l="$large" '
        $1 == n && $2 == s { rs = $4 } $1 == n && $2 == l { rl = $4 }
        END { if (rs && rl) printf "%s peak RSS: %.1f MB at %d MB -> %.1f MB at %d MB (x%.2f for x3 capture)\n",
              n, rs / 1024, s, rl / 1024, l, rl / rs }' "$results"
done

if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -f "$dir/bench-$size.pcap" "$dir/bench-$large.pcap"
fi
