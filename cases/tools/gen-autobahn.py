#!/usr/bin/env python3
"""Writes cases/autobahn/*.toml from the Autobahn case table (autobahn-cases.tsv).

The TOML files it writes are committed and are the source of truth; this script only
documents how they were first produced and can redo it:

    python3 cases/tools/gen-autobahn.py ../shared/reference/autobahn-cases.tsv cases/autobahn

The step language of the TSV is kept as far as it is executable. Where the TSV gives
only a size (`TEXT[125B]`) the payload Autobahn actually sends is written out
(`len=125(repeat '*')`: Autobahn fills text with '*' and binary/control payloads with
0xfe); `wait` steps whose end Autobahn records as an event get `mark=A`/`mark=B`.
"""
import csv
import re
import sys
from pathlib import Path

CATEGORY_FILES = {
    "1": ("1-framing.toml", "Framing"),
    "2": ("2-pings-pongs.toml", "Pings/Pongs"),
    "3": ("3-reserved-bits.toml", "Reserved Bits"),
    "4": ("4-opcodes.toml", "Opcodes"),
    "5": ("5-fragmentation.toml", "Fragmentation"),
    "6": ("6-utf8.toml", "UTF-8 Handling"),
    "7": ("7-close.toml", "Close Handling"),
    "9": ("9-limits-performance.toml", "Limits/Performance"),
    "10": ("10-misc.toml", "Miscellaneous"),
}

# Payloads the TSV gives by size only (Autobahn's case sources hold the bytes).
SIZED_TEXT = {
    ("6.2.1", 29): "'Hello-µ@ßöäüàá-UTF-8!!'",
    ("6.2.2", 29): "'Hello-µ@ßöäüàá-UTF-8!!'",
    ("6.2.3", 29): "'Hello-µ@ßöäüàá-UTF-8!!'",
    ("6.12.8", 63): "0x" + bytes(range(0x80, 0xBF)).hex(),
    ("6.13.1", 62): "0x" + b"".join(bytes([i, 0x20]) for i in range(0xC0, 0xDF)).hex(),
    ("6.13.2", 30): "0x" + b"".join(bytes([i, 0x20]) for i in range(0xE0, 0xEF)).hex(),
    ("6.15.1", 30): "0xc0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf",
}


def rules_for(cid):
    c = cid.split(".")
    major = c[0]
    if major == "1":
        return ["frame.length-non-minimal"]
    if major == "2":
        n = int(c[1])
        if n == 5:
            return ["control.payload-too-long"]
        if n in (7, 8):
            return ["close.not-answered"]
        return ["ping.unanswered", "pong.payload-mismatch"]
    if major == "3":
        return ["frame.rsv-unnegotiated"]
    if major == "4":
        return ["frame.opcode-reserved"]
    if major == "5":
        n = int(c[1])
        if n in (1, 2):
            return ["control.fragmented"]
        if n in (3, 4, 5):
            return ["fragment.interleaved-data"]
        if n in (6, 7, 8, 19, 20):
            return ["fragment.interleaved-data", "ping.unanswered", "pong.payload-mismatch"]
        if n == 15:
            return ["fragment.orphan-continuation", "fragment.interleaved-data"]
        if n == 18:
            return ["fragment.interleaved-data"]
        return ["fragment.orphan-continuation"]
    if major == "6":
        return ["utf8.text-invalid"]
    if major == "7":
        sub = c[1]
        if sub == "1":
            return ["close.not-answered"] if c[2] == "1" else ["close.data-after-close", "close.not-answered"]
        if sub == "3":
            return {"2": ["close.payload-one-byte"], "6": ["control.payload-too-long"]}.get(c[2], ["close.not-answered"])
        if sub == "5":
            return ["close.reason-invalid-utf8"]
        if sub == "7":
            return ["close.not-answered"]
        return ["close.code-invalid"]
    if major == "9":
        # Large echoes: their length encoding (and, for 9.3/9.4, their fragmentation)
        # is what the target's own output is judged on.
        if c[1] in ("3", "4"):
            return ["fragment.orphan-continuation", "fragment.interleaved-data"]
        return ["frame.length-non-minimal"]
    if major == "10":
        return ["fragment.interleaved-data"]
    raise ValueError(cid)


def sized(cid, op, n):
    if op in ("TEXT", "MSG-TEXT"):
        return SIZED_TEXT.get((cid, n), f"len={n}(repeat '*')")
    return f"len={n}(repeat 0xfe)"


def convert_step(cid, step):
    step = step.strip()
    m = re.fullmatch(r"CLOSE\[(.*)\](\(raw\))?", step)
    if m:
        args = m.group(1)
        if args == "no code":
            return "CLOSE"
        if args.startswith("no code,reason="):
            return "CLOSE[raw=" + args[len("no code,reason="):] + "]"
        args = re.sub(r"reason=(\d+)B", lambda x: f"len={x.group(1)}(repeat '*')", args)
        args = args.replace("reason=", "")
        args = re.sub(r",(\d+)B$", lambda x: f",len={x.group(1)}(repeat '*')", args)
        return f"CLOSE[{args}]"
    m = re.fullmatch(r"([A-Z0-9-]+)\[(.*)\]", step)
    if m:
        op, args = m.group(1), m.group(2)
        args = re.sub(r"(^|,)(\d+)B(?=,|$)", lambda x: x.group(1) + sized(cid, op, int(x.group(2))), args)
        return f"{op}[{args}]"
    if step.startswith("then next message only after echo"):
        n = re.search(r"(\d+) messages total", step).group(1)
        return f"repeat-after-echo {n}"
    return step


def convert_event(cid, ev, sends):
    ev = ev.strip()
    if ev == "nothing received":
        return []
    if ev.startswith("all 1000 echoes") or ev.startswith("single echo of full length"):
        msg = next(s for s in sends if s.startswith(("TEXT[", "BIN[", "MSG-TEXT[", "MSG-BIN[")))
        kind = "TEXT" if "TEXT" in msg.split("[")[0] else "BIN"
        n = int(re.search(r"len=(\d+)|\[(\d+)B", msg).group(1) or re.search(r"\[(\d+)B", msg).group(1)) \
            if re.search(r"len=(\d+)", msg) else int(re.search(r"\[(\d+)B", msg).group(1))
        count = 1000 if ev.startswith("all 1000") else 1
        return [f"{count}*{kind}(length={n})" if count > 1 else f"{kind}(length={n})"]
    out = []
    for part in ev.split(" + "):
        part = part.strip()
        m = re.fullmatch(r"(TEXT|BIN)-echo\((.*)\)", part) or re.fullmatch(r"(PONG|PING)\((.*)\)", part)
        if m:
            kind, arg = m.group(1), m.group(2)
            if arg == "empty":
                arg = "''" if kind == "TEXT" else "0x"
            elif re.fullmatch(r"\d+B", arg):
                n = int(arg[:-1])
                if cid in ("5.19", "5.20"):
                    arg = "'fragment1fragment2fragment3fragment4fragment5'"
                else:
                    arg = sized(cid, "TEXT" if kind == "TEXT" else "BIN", n)
            out.append(f"{kind}({arg})")
        elif part.startswith("still-open-after-wait-"):
            out.append(part)
        else:
            raise ValueError(f"{cid}: event {part!r}")
    return out


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items):
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


def close_spec(cid, text, rules_col):
    by = "tester" if text.startswith("tester closes") else "peer"
    codes = re.search(r"peer close code in \{([0-9,]+)\}", text).group(1)
    codes = sorted(set(int(c) for c in codes.split(",")), key=lambda c: codes.split(",").index(str(c)))
    clean = "clean close REQUIRED" in text
    flags = []
    if "if tester had to close => behavior FAILED" in text:
        flags.append("tester_close_fails = true")
    if "behaviorClose WRONG CODE => behavior FAILED" in rules_col:
        flags.append("wrong_code_fails = true")
    if "always INFORMATIONAL" in rules_col:
        flags.append("informational = true")
    if "behavior starts FAILED" in rules_col:
        flags.append("performance = true")
    line = f"close = {{ by = \"{by}\", codes = [{', '.join(map(str, codes))}], clean = {'true' if clean else 'false'} }}"
    return line, flags


def main():
    tsv, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    rows = list(csv.DictReader(open(tsv, encoding="utf-8"), delimiter="\t"))
    by_cat = {}
    for r in rows:
        major = r["id"].split(".")[0]
        if major in CATEGORY_FILES:
            by_cat.setdefault(major, []).append(r)
    for major, (fname, title) in CATEGORY_FILES.items():
        lines = [
            f"# Autobahn|Testsuite category {major}: {title}.",
            "# Ids, steps and expected outcomes follow Autobahn's own cases; see cases/README.md",
            "# for the step language. Generated once by cases/tools/gen-autobahn.py; edited by hand since.",
            "",
            f"category = {toml_str(major)}",
            f"title = {toml_str(title)}",
            "",
        ]
        for r in by_cat[major]:
            cid = r["id"]
            sends = [convert_step(cid, s) for s in r["tester_sends"].split(" ; ")]
            marks = iter("ABCDEFGH")
            if r["expect_OK"].startswith("still-open-after-wait"):
                sends = [f"{s} mark={next(marks)}" if s.startswith("wait ") else s for s in sends]
            ok = convert_event(cid, r["expect_OK"], sends)
            ns = convert_event(cid, r["expect_NON_STRICT"], sends) if r["expect_NON_STRICT"] else None
            close, flags = close_spec(cid, r["expected_close"], r["verdict_rules"])
            sub = r["subcategory"] or r["category"]
            lines.append("[[case]]")
            lines.append(f"id = {toml_str(cid)}")
            lines.append(f"title = {toml_str(sub)}")
            lines.append(f"rules = {toml_list(rules_for(cid))}")
            lines.append(f"send = {toml_list(sends)}")
            lines.append(f"ok = {toml_list(ok)}")
            if ns is not None:
                lines.append(f"non_strict = {toml_list(ns)}")
            lines.append(close)
            lines.extend(flags)
            lines.append("")
        (outdir / fname).write_text("\n".join(lines), encoding="utf-8")
        print(f"{fname}: {len(by_cat[major])} cases")


if __name__ == "__main__":
    main()
