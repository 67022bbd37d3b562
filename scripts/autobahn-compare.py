#!/usr/bin/env python3
"""Compare an Autobahn fuzzingclient index.json with a reference results file, case by case.

    autobahn-compare.py INDEX_JSON REFERENCE_JSON [--agent NAME] [--json]

INDEX_JSON is wstest's reports/index.json ({agent: {case: {behavior, behaviorClose,
remoteCloseCode, ...}}}); REFERENCE_JSON is {"cases": {case: {behavior, behaviorClose,
remoteCloseCode}}} like ../shared/reference/autobahn-results-websockets.json (an
index.json is accepted too). Only cases present in both are compared; a case matches when
behavior, behaviorClose and remoteCloseCode are all equal. Exit status 0 when all
compared cases match, 1 otherwise.
"""
import argparse
import json
import sys

FIELDS = ("behavior", "behaviorClose", "remoteCloseCode")


def load(path, agent=None):
    d = json.load(open(path))
    if "cases" in d and isinstance(d["cases"], dict):
        return d["cases"]
    if agent is None:
        if len(d) != 1:
            sys.exit(f"{path}: several agents {sorted(d)}; pick one with --agent")
        agent = next(iter(d))
    return d[agent]


def key(case):
    # Numeric components numerically; wsprobe's own ids (H.1, P.2.3) after Autobahn's.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in case.split("."))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("index")
    p.add_argument("reference")
    p.add_argument("--agent")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    got, ref = load(a.index, a.agent), load(a.reference)
    common = sorted(set(got) & set(ref), key=key)
    diffs = []
    for c in common:
        g = tuple(got[c].get(f) for f in FIELDS)
        r = tuple(ref[c].get(f) for f in FIELDS)
        if g != r:
            diffs.append({"case": c, "got": dict(zip(FIELDS, g)), "reference": dict(zip(FIELDS, r))})
    behavior_only = sum(1 for c in common if got[c].get("behavior") == ref[c].get("behavior"))
    summary = {
        "compared": len(common),
        "match": len(common) - len(diffs),
        "behavior_match": behavior_only,
        "only_in_run": len(set(got) - set(ref)),
        "only_in_reference": len(set(ref) - set(got)),
        "differences": diffs,
    }
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"autobahn verdicts: {summary['match']}/{len(common)} cases match the reference "
              f"(behavior alone: {behavior_only}/{len(common)}; "
              f"{summary['only_in_reference']} reference cases not run, "
              f"{summary['only_in_run']} run cases not in reference)")
        for d in diffs:
            g, r = d["got"], d["reference"]
            print(f"  {d['case']}: got {g['behavior']}/{g['behaviorClose']}/{g['remoteCloseCode']}"
                  f"  reference {r['behavior']}/{r['behaviorClose']}/{r['remoteCloseCode']}")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
