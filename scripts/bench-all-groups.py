#!/usr/bin/env python3
"""Per category group figures of a BENCH_ALL=1 run of scripts/bench-test-vs-autobahn.sh.

    bench-all-groups.py OUT_DIR

OUT_DIR is one target's directory (e.g. /tmp/wsprobe-bench-all/python-websockets) holding
  wsprobe/index.json, wsprobe.txt (its --progress lines), wsprobe.window ("start end" epoch),
  cpu-wsprobe.tsv, autobahn/reports/ (wstest's index.json + case files), autobahn.window,
  cpu-autobahn.tsv  (the .tsv files: "<epoch>\t<target cpu seconds>" samples, proc-cpu.py).

Groups: 1-10 (Autobahn 1-7, 9, 10), 12-13 (permessage-deflate), own (wsprobe's H, M, S, P).

Windows (approximate, both tools run the groups one after the other):
  wstest   runs one case at a time in id order: a group's window runs from its first case's
           start ("started" in the case file) to the next group's first start (the last group
           to the end of the run).
  wsprobe  runs cases in parallel (-j), roughly in catalog order (1-10, 12, 13, H, M, P, S;
           cases with long waits first), so groups overlap: a group's window runs from the
           start of the run to the moment its last category is done (--progress line
           "category X ... done ... at T s"; the group done last: to the end of the run).
           It includes whatever of the other groups ran meanwhile: close to, not exactly,
           that group's own figures.
Target CPU in a window is interpolated from the samples. "case-time" is the sum of the
per-case `duration` of the group (wsprobe's cases overlap, so it exceeds the wall time).
"""
import bisect
import calendar
import collections
import datetime
import json
import os
import re
import sys

GROUPS = ("1-10", "12-13", "own")


def group_of(case_or_cat):
    head = case_or_cat.split(".")[0]
    if head in ("12", "13"):
        return "12-13"
    if head.isdigit():
        return "1-10"
    return "own"


def load_index(path):
    d = json.load(open(path))
    if len(d) != 1:
        sys.exit(f"{path}: expected one agent, got {sorted(d)}")
    return next(iter(d.values()))


def load_samples(path):
    ts, cs = [], []
    for line in open(path):
        parts = line.split()
        if len(parts) == 2:
            ts.append(float(parts[0]))
            cs.append(float(parts[1]))
    return ts, cs


def cpu_at(samples, t):
    ts, cs = samples
    if not ts:
        return float("nan")
    if t <= ts[0]:
        return cs[0]
    if t >= ts[-1]:
        return cs[-1]
    i = bisect.bisect_right(ts, t)
    t0, t1, c0, c1 = ts[i - 1], ts[i], cs[i - 1], cs[i]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1


def window(path):
    a, b = open(path).read().split()
    return float(a), float(b)


def parse_utc(s):
    # wstest: "2025-12-02T11:40:00.123Z" (UTC, milliseconds)
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6


def autobahn_windows(out):
    rep = os.path.join(out, "autobahn", "reports")
    idx = load_index(os.path.join(rep, "index.json"))
    start, end = window(os.path.join(out, "autobahn.window"))
    first = {}
    for case, e in idx.items():
        with open(os.path.join(rep, e["reportfile"])) as f:
            t = parse_utc(json.load(f)["started"])
        g = group_of(case)
        first[g] = min(first.get(g, t), t)
    order = sorted(first, key=first.get)
    wins = {}
    for i, g in enumerate(order):
        a = start if i == 0 else first[g]
        b = first[order[i + 1]] if i + 1 < len(order) else end
        wins[g] = (a, b)
    return idx, wins


def wsprobe_windows(out):
    idx = load_index(os.path.join(out, "wsprobe", "index.json"))
    start, end = window(os.path.join(out, "wsprobe.window"))
    done = {}
    pat = re.compile(r"^wsprobe: category (\S+) .* done: .* at ([0-9.]+) s$")
    for line in open(os.path.join(out, "wsprobe.txt")):
        m = pat.match(line.strip())
        if m:
            g = group_of(m.group(1))
            done[g] = max(done.get(g, 0.0), float(m.group(2)))
    order = sorted(done, key=done.get)
    wins = {}
    for i, g in enumerate(order):
        wins[g] = (start, end if i + 1 == len(order) else start + done[g])
    return idx, wins, done


def summarize(idx, wins, samples):
    rows = {}
    for g in GROUPS:
        cases = [c for c in idx if group_of(c) == g]
        if not cases:
            continue
        beh = collections.Counter(idx[c]["behavior"] for c in cases)
        case_time = sum(idx[c].get("duration", 0) for c in cases) / 1000.0
        a, b = wins.get(g, (float("nan"), float("nan")))
        cpu = cpu_at(samples, b) - cpu_at(samples, a)
        rows[g] = dict(n=len(cases), wall=b - a, cpu=cpu, case_time=case_time, behavior=dict(beh))
    return rows


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    a_idx, a_wins = autobahn_windows(out)
    w_idx, w_wins, w_done = wsprobe_windows(out)
    a = summarize(a_idx, a_wins, load_samples(os.path.join(out, "cpu-autobahn.tsv")))
    w = summarize(w_idx, w_wins, load_samples(os.path.join(out, "cpu-wsprobe.tsv")))
    print("per group (windows approximate, see scripts/bench-all-groups.py):")
    hdr = f"  {'group':6} {'tool':8} {'cases':>5} {'wall s':>8} {'target CPU s':>12} {'wall/CPU':>8} {'case-time s':>11}  verdicts"
    print(hdr)
    for g in GROUPS:
        for tool, rows in (("autobahn", a), ("wsprobe", w)):
            r = rows.get(g)
            if not r:
                continue
            ratio = r["wall"] / r["cpu"] if r["cpu"] > 0 else float("nan")
            beh = ", ".join(f"{k} {v}" for k, v in sorted(r["behavior"].items()))
            print(f"  {g:6} {tool:8} {r['n']:5d} {r['wall']:8.2f} {r['cpu']:12.2f} {ratio:8.2f} {r['case_time']:11.2f}  {beh}")
        if g in a and g in w and w[g]["wall"] > 0:
            print(f"  {g:6} speed-up (wall): {a[g]['wall'] / w[g]['wall']:.2f}x")
    if w_done:
        print("wsprobe group done at (s after its start): "
              + ", ".join(f"{g} {t:.2f}" for g, t in sorted(w_done.items(), key=lambda x: x[1])))
    # The Autobahn-comparable subset of wsprobe's run (1-10 + 12-13).
    sub = [c for c in w_idx if group_of(c) != "own"]
    sub_beh = collections.Counter(w_idx[c]["behavior"] for c in sub)
    print(f"wsprobe Autobahn-comparable subset: {len(sub)} cases: "
          + ", ".join(f"{k} {v}" for k, v in sorted(sub_beh.items()))
          + f"; done at {max((w_done.get(g, 0) for g in ('1-10', '12-13')), default=0):.2f} s")
    allb = collections.Counter(e["behavior"] for e in w_idx.values())
    print(f"wsprobe whole run: {len(w_idx)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(allb.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
