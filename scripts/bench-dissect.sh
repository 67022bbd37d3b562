#!/usr/bin/env bash
# Benchmarks `wsprobe dissect` against tshark on synthetic captures, side by side.
#
#   scripts/bench-dissect.sh [SIZE_MB]        (default 100)
#
# Builds wsprobe and the capture generator (crates/dissect/examples/bench_capture.rs)
# in release mode. For each capture kind of BENCH_KINDS, one kind after the other, it
# writes two captures into $BENCH_DIR: SIZE_MB and 3 x SIZE_MB megabytes
# (bench-KIND-MB.pcap), measures the commands below on each, one after the other, then
# deletes them (unless BENCH_KEEP=1). The kinds (see bench_capture.rs):
#   mixed   48 concurrent WebSocket sessions, messages of every size up to 256 KiB,
#           permessage-deflate, fragments, many TCP segments per message, ping/pong
#   small   200 concurrent WebSocket sessions (~12 sessions and ~7,000 messages per MB),
#           messages of 2 to 120 bytes, masked client frames, one frame per TCP
#           segment, server echoes, no compression
#   plain   TCP connections that are neither WebSocket nor HTTP: 800 KB of random
#           bytes each, in 100-byte segments both ways, with ACKs
# Commands (NAME: command; stdout goes to /dev/null):
#   wsprobe-table   wsprobe dissect FILE                     (default streaming table)
#   wsprobe-jsonl   wsprobe dissect --format jsonl FILE      (one record per message)
#   wsprobe-frames  wsprobe dissect --format jsonl --frames FILE   (plus one per frame;
#                   mixed and small only)
#   tshark-list     tshark -n -r FILE -Y websocket           (tshark's packet list;
#                   on plain: tshark -n -r FILE, there is no websocket to filter)
#   tshark-fields   tshark -n -r FILE -Y websocket -T fields -e websocket.opcode
#                   (mixed and small only)
# Each runs under /usr/bin/time -v (best wall time of BENCH_RUNS runs for wsprobe, one
# run for tshark): wall time, throughput (MB/s of capture file, thousands of packets/s,
# WebSocket frames/s, the counts being the generator's) and peak RSS. Prints a table,
# then for each kind and size the ratios (wsprobe throughput / tshark throughput,
# tshark peak RSS / wsprobe peak RSS) of
#   wsprobe-table vs tshark-list, wsprobe-jsonl vs tshark-fields (vs tshark-list on
#   plain), wsprobe-frames vs tshark-fields,
# and for each kind how every command's peak RSS grows from SIZE_MB to 3 x SIZE_MB
# (wsprobe's should stay flat). Logs and results.txt stay in $BENCH_DIR.
#
# Environment (all optional):
#   BENCH_DIR           where captures and logs go (default /tmp/wsprobe-bench-dissect)
#   BENCH_KINDS         capture kinds, in order (default "mixed small plain")
#   BENCH_TSHARK_LARGE  0: run tshark on the SIZE_MB captures only (it is slow)
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
read -r -a kinds <<<"${BENCH_KINDS:-mixed small plain}"
case $runs in '' | *[!0-9]* | 0) echo "bench-dissect: BENCH_RUNS must be >= 1" >&2; exit 2 ;; esac
[ "${#kinds[@]}" -ge 1 ] || { echo "bench-dissect: BENCH_KINDS is empty" >&2; exit 2; }
for kind in "${kinds[@]}"; do
    case $kind in mixed | small | plain) ;; *) echo "bench-dissect: unknown kind '$kind' in BENCH_KINDS (mixed, small, plain)" >&2; exit 2 ;; esac
done
mkdir -p "$dir"

[ -x /usr/bin/time ] || { echo "bench-dissect: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
command -v tshark >/dev/null 2>&1 || { echo "bench-dissect: tshark missing (scripts/setup-peers.sh)" >&2; exit 1; }

echo "bench-dissect: building wsprobe and bench_capture (release)" >&2
cargo build --release -q -p wsprobe --bin wsprobe
cargo build --release -q -p wsprobe-dissect --example bench_capture
wsprobe=$target/release/wsprobe
gen=$target/release/examples/bench_capture
"$wsprobe" dissect --help >/dev/null 2>&1 || { echo "bench-dissect: '$wsprobe dissect' does not work" >&2; exit 1; }

# measure KIND NAME MB RUNS CMD...: runs CMD (stdout to /dev/null) RUNS times under
# /usr/bin/time -v and appends "KIND NAME MB best_wall_s max_rss_kb" to $results. The
# wall time is taken with $EPOCHREALTIME around each run (finer than time's 10 ms).
results=$dir/results.txt
: >"$results"
measure() {
    local kind=$1 name=$2 mb=$3 runs=$4
    shift 4
    local tag=$kind-$name-$mb
    local log=$dir/time-$tag.txt err=$dir/stderr-$tag.txt best="" maxrss=0 i t0 t1 wall rss
    echo "bench-dissect: $name on $kind $mb MB ($runs run(s)): $*" >&2
    # Read the file once first so every tool starts from the same warm page cache.
    cat "$dir/bench-$kind-$mb.pcap" >/dev/null
    for ((i = 0; i < runs; i++)); do
        t0=$EPOCHREALTIME
        if ! /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$err"; then
            echo "bench-dissect: $name failed on $kind $mb MB (see $err)" >&2
            tail -n 5 "$err" >&2
            exit 1
        fi
        t1=$EPOCHREALTIME
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
        if [ -z "$best" ] || awk -v w="$wall" -v b="$best" 'BEGIN { exit !(w < b) }'; then best=$wall; fi
        [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    echo "$kind $name $mb $best $maxrss" >>"$results"
}

# Generator counts per "KIND-MB": capture bytes, packets, WebSocket frames, messages.
declare -A bytes packets frames messages
for kind in "${kinds[@]}"; do
    for mb in "$size" "$large"; do
        f=$dir/bench-$kind-$mb.pcap
        echo "bench-dissect: generating $f ($kind, $mb MB)" >&2
        line=$("$gen" "$f" "$mb" --kind "$kind" | tail -n 1)
        echo "  $line" >&2
        bytes[$kind-$mb]=$(stat -c %s "$f")
        packets[$kind-$mb]=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' <<<"$line")
        frames[$kind-$mb]=$(sed -n 's/.* frames=\([0-9]*\).*/\1/p' <<<"$line")
        messages[$kind-$mb]=$(sed -n 's/.* messages=\([0-9]*\).*/\1/p' <<<"$line")
    done
    # Freshly written captures are dirty pages: flush them now, or the kernel writes
    # them back while the first commands run (seen: small 100 MB measured 40% slow).
    sync
    for mb in "$size" "$large"; do
        f=$dir/bench-$kind-$mb.pcap
        measure "$kind" wsprobe-table "$mb" "$runs" "$wsprobe" dissect "$f"
        measure "$kind" wsprobe-jsonl "$mb" "$runs" "$wsprobe" dissect --format jsonl "$f"
        if [ "$kind" != plain ]; then
            measure "$kind" wsprobe-frames "$mb" "$runs" "$wsprobe" dissect --format jsonl --frames "$f"
        fi
        if [ "$mb" = "$size" ] || [ "${BENCH_TSHARK_LARGE:-1}" = 1 ]; then
            if [ "$kind" = plain ]; then
                measure "$kind" tshark-list "$mb" 1 tshark -n -r "$f"
            else
                measure "$kind" tshark-list "$mb" 1 tshark -n -r "$f" -Y websocket
                measure "$kind" tshark-fields "$mb" 1 tshark -n -r "$f" -Y websocket -T fields -e websocket.opcode
            fi
        fi
    done
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -f "$dir/bench-$kind-$size.pcap" "$dir/bench-$kind-$large.pcap"
    fi
done

echo
echo "$(tshark --version 2>/dev/null | head -n 1); wsprobe $("$wsprobe" --version 2>/dev/null | head -n 1); $(nproc) CPUs"
for kind in "${kinds[@]}"; do
    for mb in "$size" "$large"; do
        echo "capture $kind $mb MB: ${bytes[$kind-$mb]} bytes, ${packets[$kind-$mb]} packets," \
            "${frames[$kind-$mb]} WebSocket frames, ${messages[$kind-$mb]} messages"
    done
done
echo
printf '%-6s %-15s %9s %9s %9s %9s %11s %12s\n' kind tool capture wall_s MB/s kpkt/s frames/s peak_RSS_MB
while read -r kind name mb wall rss; do
    awk -v k="$kind" -v n="$name" -v mb="$mb" -v w="$wall" -v r="$rss" -v b="${bytes[$kind-$mb]}" \
        -v p="${packets[$kind-$mb]}" -v fr="${frames[$kind-$mb]}" \
        'BEGIN { w = (w > 0 ? w : 0.01);
                 fs = (fr > 0 ? sprintf("%11.0f", fr / w) : sprintf("%11s", "-"));
                 printf "%-6s %-15s %6d MB %9.2f %9.1f %9.1f %s %12.1f\n",
                     k, n, mb, w, b / 1e6 / w, p / 1e3 / w, fs, r / 1024 }'
done <"$results"

echo
# ratio KIND A B MB: throughput and memory ratios of tool A against tool B on capture
# KIND MB.
ratio() {
    local a b
    a=$(awk -v k="$1" -v n="$2" -v mb="$4" '$1 == k && $2 == n && $3 == mb' "$results")
    b=$(awk -v k="$1" -v n="$3" -v mb="$4" '$1 == k && $2 == n && $3 == mb' "$results")
    [ -n "$a" ] && [ -n "$b" ] || return 0
    awk -v a="$a" -v b="$b" -v k="$1" -v na="$2" -v nb="$3" -v mb="$4" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%-5s %4d MB  %-14s vs %-13s: %6.1fx the throughput, %6.1fx less peak memory (%.1f MB vs %.1f MB)\n",
            k, mb, na, nb, (y[4] > 0 ? y[4] : 0.01) / (x[4] > 0 ? x[4] : 0.01), y[5] / x[5], x[5] / 1024, y[5] / 1024 }'
}
for kind in "${kinds[@]}"; do
    for mb in "$size" "$large"; do
        ratio "$kind" wsprobe-table tshark-list "$mb"
        if [ "$kind" = plain ]; then
            ratio "$kind" wsprobe-jsonl tshark-list "$mb"
        else
            ratio "$kind" wsprobe-jsonl tshark-fields "$mb"
            ratio "$kind" wsprobe-frames tshark-fields "$mb"
        fi
    done
done
echo
for kind in "${kinds[@]}"; do
    for name in wsprobe-table wsprobe-jsonl wsprobe-frames tshark-list tshark-fields; do
        awk -v k="$kind" -v n="$name" -v s="$size" -v l="$large" '
            $1 == k && $2 == n && $3 == s { rs = $5 } $1 == k && $2 == n && $3 == l { rl = $5 }
            END { if (rs && rl) printf "%-5s %-14s peak RSS: %7.1f MB at %d MB -> %7.1f MB at %d MB (x%.2f for x3 capture)\n",
                  k, n, rs / 1024, s, rl / 1024, l, rl / rs }' "$results"
    done
done
