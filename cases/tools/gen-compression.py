#!/usr/bin/env python3
"""Writes cases/autobahn/12-compression-payloads.toml and 13-compression-parameters.toml
from the Autobahn case table (autobahn-cases.tsv).

    python3 cases/tools/gen-compression.py ../shared/reference/autobahn-cases.tsv cases/autobahn

Each case sends 1000 messages, the next only after the echo of the previous one came
back (`repeat-after-echo`), and expects 1000 exact echoes (`TEXT(echo)`: type, length
and bytes). Autobahn sends slices of five sample files; wsprobe sends slices of
generated corpora of the same kind and size (crates/conform/src/corpus.rs). The offers
follow Autobahn's PerMessageDeflateOffer: the client always offers
client_no_context_takeover and client_max_window_bits (it accepts both), and asks for
server_no_context_takeover / server_max_window_bits=N as the 13.x subcategory says.
"""
import csv
import re
import sys
from pathlib import Path

CORPUS = {"JSON": ("json", "TEXT"), "Lena": ("bmp", "BIN"), "Faust": ("faust", "BIN"),
          "HTML": ("html", "TEXT"), "PDF": ("pdf", "BIN")}

RULES = '["pmd.inflate-error", "pmd.rsv1-continuation", "pmd.rsv1-control", "pmd.window-exceeded", "pmd.context-takeover"]'


def offer_for(sub):
    m = re.search(r"client offers \(requestNoContextTakeover, requestMaxWindowBits\): \[(.*?)\] /", sub)
    pairs = re.findall(r"\((True|False), (\d+)\)", m.group(1)) if m else [("False", "0")]
    offers = []
    for nct, bits in pairs:
        o = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        if nct == "True":
            o += "; server_no_context_takeover"
        if bits != "0":
            o += f"; server_max_window_bits={bits}"
        offers.append(o)
    return ", ".join(offers)


def main(tsv, out):
    rows = [r for r in csv.DictReader(open(tsv, encoding="utf-8"), delimiter="\t")
            if r["id"].split(".")[0] in ("12", "13")]
    files = {"12": ["category = \"12\"", "title = \"WebSocket Compression (different payloads)\""],
             "13": ["category = \"13\"", "title = \"WebSocket Compression (different parameters)\""]}
    for r in rows:
        cat = r["id"].split(".")[0]
        sub = r["subcategory"]
        corpus, kind = next(v for k, v in CORPUS.items() if k in sub)
        sends = r["tester_sends"]
        close_after = re.search(r"close-after (\d+)s", sends).group(1)
        msg = re.search(r"MSG-(TEXT|BIN)\[([^\]]*)\]", sends)
        args = msg.group(2)
        frag = re.search(r"autofrag=(\d+)", args)
        size = re.search(r"^(\d+)B", args)
        n = int(size.group(1)) if size else (len(args) - 2) // 2
        step = f"MSG-{kind}[corpus={corpus}({n})" + (f",fragsize={frag.group(1)}" if frag else "") + "]"
        count = int(re.search(r"(\d+) messages total", sends).group(1))
        title = sub.split(" - ")[0]
        files[cat] += [
            "", "[[case]]", f"id = \"{r['id']}\"", f"title = \"{title}\"", f"rules = {RULES}",
            f"offer = \"{offer_for(sub)}\"", "pmd = \"required\"",
            f"send = [\"close-after {close_after}s\", \"{step}\", \"repeat-after-echo {count}\"]",
            f"ok = [\"{count}*{kind}(echo)\"]",
            "close = { by = \"tester\", codes = [1000], clean = true }",
            "performance = true",
        ]
    names = {"12": "12-compression-payloads.toml", "13": "13-compression-parameters.toml"}
    for cat, lines in files.items():
        head = [f"# Autobahn|Testsuite category {cat}: {lines[1].split('= ')[1].strip(chr(34))}.",
                "# Written by cases/tools/gen-compression.py from the Autobahn case table; see its",
                "# docstring for how payloads and offers follow Autobahn's. Edited by hand since.", ""]
        Path(out, names[cat]).write_text("\n".join(head + lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
