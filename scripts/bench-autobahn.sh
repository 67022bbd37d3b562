#!/usr/bin/env bash
# Runs Autobahn|Testsuite's fuzzingclient (wstest) against a WebSocket server and prints
# its wall time. The reference tool for later wsprobe-vs-Autobahn benchmarks.
#
#   scripts/bench-autobahn.sh TARGET_URL OUTDIR
#
# Environment (all optional):
#   AUTOBAHN_PREFIX   where wstest lives/is installed (default /tmp/autobahn); installed
#                     with ../shared/tools/autobahn-setup.sh when missing
#   AUTOBAHN_CASES    JSON list of case patterns   (default ["*"])
#   AUTOBAHN_EXCLUDE  JSON list of excluded patterns (default ["12.*","13.*"])
#                     wstest turns "." into "\." and "*" into ".*" and anchors at the start
#                     (re.match): "12.*" is exactly the 12.x cases, "1.*" is 1.x only.
#   AUTOBAHN_AGENT    agent name in the report (default "target")
#   AUTOBAHN_REFERENCE  a results JSON like ../shared/reference/autobahn-results-websockets.json:
#                     when set, the verdicts are compared with it case by case.
#
# Writes OUTDIR/spec.json, OUTDIR/reports/ (wstest's index.json + per-case files),
# OUTDIR/wstest.log, OUTDIR/time.txt (/usr/bin/time -v); the last stdout line is
#   autobahn wall seconds: <s>
set -euo pipefail

usage() { echo "usage: $0 TARGET_URL OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
url=$1
outdir=$2
case $url in ws://*) ;; *) echo "bench-autobahn: TARGET_URL must be ws://..., got '$url'" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prefix=${AUTOBAHN_PREFIX:-/tmp/autobahn}
wstest=$prefix/venv/bin/wstest
setup=$repo/../shared/tools/autobahn-setup.sh

if [ ! -x "$wstest" ]; then
    [ -f "$setup" ] || { echo "bench-autobahn: wstest missing and $setup not found" >&2; exit 1; }
    echo "bench-autobahn: installing wstest into $prefix" >&2
    bash "$setup" "$prefix" >&2
fi
[ -x /usr/bin/time ] || { echo "bench-autobahn: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -rf "$outdir/reports"
python3 - "$outdir/spec.json" "$url" "$outdir/reports" \
    "${AUTOBAHN_AGENT:-target}" "${AUTOBAHN_CASES:-[\"*\"]}" "${AUTOBAHN_EXCLUDE:-[\"12.*\",\"13.*\"]}" <<'PY'
import json, sys
path, url, reports, agent, cases, exclude = sys.argv[1:]
spec = {"outdir": reports, "servers": [{"agent": agent, "url": url}],
        "cases": json.loads(cases), "exclude-cases": json.loads(exclude),
        "exclude-agent-cases": {}}
open(path, "w").write(json.dumps(spec, indent=2) + "\n")
PY

echo "bench-autobahn: wstest fuzzingclient -> $url (spec $outdir/spec.json)" >&2
# wstest writes its HOME-relative state under the prefix, like the setup script does.
set +e
( cd "$outdir" && HOME=$prefix/home /usr/bin/time -v -o "$outdir/time.txt" \
    "$wstest" -m fuzzingclient -s "$outdir/spec.json" >"$outdir/wstest.log" 2>&1 )
rc=$?
set -e
if [ $rc -ne 0 ] || [ ! -f "$outdir/reports/index.json" ]; then
    echo "bench-autobahn: wstest failed (exit $rc); last lines of $outdir/wstest.log:" >&2
    tail -20 "$outdir/wstest.log" >&2
    exit 1
fi

wall=$(python3 - "$outdir/time.txt" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)", line)
    if m:
        parts = [float(p) for p in m.group(1).strip().split(":")]
        s = 0.0
        for p in parts:
            s = s * 60 + p
        print(f"{s:.2f}")
PY
)
cases=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d.values()))' "$outdir/reports/index.json")
echo "bench-autobahn: $cases cases, report $outdir/reports/index.json" >&2
if [ -n "${AUTOBAHN_REFERENCE:-}" ]; then
    python3 "$here/autobahn-compare.py" "$outdir/reports/index.json" "$AUTOBAHN_REFERENCE" >&2 || true
fi
echo "autobahn wall seconds: $wall"
