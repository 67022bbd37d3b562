#!/usr/bin/env bash
# Wall time and peak memory of `wsprobe test` against the reference server, correct and
# deliberately broken (`wsprobe reference-server --fault NAME`), same catalog, same run.
# A benchmark, not a test: a failing target must be as quick to test as a passing one.
#
#   scripts/bench-fail-fast.sh [CASE_GLOBS] [FAULT...]
#
# Defaults: the whole catalog; faults text-as-binary, silent, flood, garbage.
# Prints one line per target: name, wall seconds, peak RSS of wsprobe, summary line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cases=${1:-*}
shift || true
faults=("$@")
[ ${#faults[@]} -gt 0 ] || faults=(text-as-binary silent flood garbage)
(cd "$repo" && cargo build --release -q -p wsprobe)
wsprobe=${CARGO_TARGET_DIR:-$repo/target}/release/wsprobe
out=$(mktemp -d)
server_pid=
cleanup() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
one() {
    local name=$1; shift
    "$wsprobe" reference-server --listen 127.0.0.1:0 "$@" >"$out/server.out" 2>/dev/null &
    server_pid=$!
    for _ in $(seq 1 100); do grep -q '^LISTENING ' "$out/server.out" && break; sleep 0.1; done
    local port; port=$(sed -n 's/^LISTENING //p' "$out/server.out")
    /usr/bin/time -f '%e %M' -o "$out/time" "$wsprobe" test "ws://127.0.0.1:$port/" --cases "$cases" -q \
        >"$out/report.txt" 2>/dev/null || true
    kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=
    read -r wall rss < <(tail -n 1 "$out/time")
    printf '%-16s %8.2f s %8d KB  %s\n' "$name" "$wall" "$rss" "$(tail -1 "$out/report.txt")"
}
one correct
for f in "${faults[@]}"; do one "$f" --fault "$f"; done
