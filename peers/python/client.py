#!/usr/bin/env python3
"""Scripted WebSocket client built on Python `websockets` (pinned in requirements.txt).

    client.py URL [STEP ...] [--script FILE|-] [--no-compression | --deflate]
              [--close-code N] [--close-reason TEXT] [--no-wait] [--timeout SECONDS]
              [--inline-max BYTES]

Sends a scripted list of messages, pings and a close, and prints one JSON line per
message it sent and received; see peers/README.md for the step and output formats
(shared with peers/node/client.js, which must produce the same lines).

Exit status: 0 when the script ran and the connection closed; 1 on a connection error,
a timeout or an unexpected close; 2 on a usage error.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import signal
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

PEER = f"python-websockets/{websockets.__version__}"
TEXT_PATTERN = "abcdefghijklmnopqrstuvwxyz0123456789"


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- script parsing


def parse_compact(arg: str) -> dict:
    """`text:hello`, `text@1000`, `binary:00ff`, `binary@65536`, `ping`, `ping:abc`,
    `close`, `close:1001`, `close:1000:bye`, or a JSON object `{"type": ...}`."""
    if arg.startswith("{"):
        return json.loads(arg)
    kind, sep, rest = arg.partition(":")
    if not sep and "@" in arg:
        kind, _, size = arg.partition("@")
        return {"type": kind, "size": int(size)}
    if kind == "text":
        return {"type": "text", "data": rest}
    if kind == "binary":
        return {"type": "binary", "hex": rest}
    if kind == "ping":
        return {"type": "ping", "data": rest}
    if kind == "close":
        step = {"type": "close"}
        if rest:
            code, _, reason = rest.partition(":")
            step["code"] = int(code)
            step["reason"] = reason
        return step
    if kind == "sleep":
        return {"type": "sleep", "ms": int(rest or 0)}
    raise UsageError(f"cannot parse step {arg!r}")


def payload_of(step: dict) -> bytes:
    """The exact bytes a text/binary/ping step puts on the wire (before compression)."""
    kind = step["type"]
    if "size" in step:
        n = int(step["size"])
        if kind == "binary":
            return bytes(i % 256 for i in range(n))
        reps = n // len(TEXT_PATTERN) + 1
        return (TEXT_PATTERN * reps)[:n].encode()
    if "hex" in step:
        return bytes.fromhex(step["hex"])
    if "base64" in step:
        return base64.b64decode(step["base64"])
    return str(step.get("data", "")).encode("utf-8")


def split_utf8(data: bytes, parts: int, is_text: bool) -> list:
    """Split into `parts` chunks of ceil(len/parts) bytes; for text move each cut back
    to a character boundary so each chunk is valid UTF-8 on its own."""
    size = max(1, -(-len(data) // parts))
    cuts, pos = [], 0
    for _ in range(parts - 1):
        end = min(len(data), pos + size)
        if is_text:
            while end < len(data) and end > pos and (data[end] & 0xC0) == 0x80:
                end -= 1
        cuts.append(data[pos:end])
        pos = end
    cuts.append(data[pos:])
    return cuts


def normalise(steps: list) -> list:
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or "type" not in step:
            raise UsageError(f"step {i} is not an object with a 'type': {step!r}")
        kind = step["type"]
        if kind not in ("text", "binary", "ping", "close", "sleep"):
            raise UsageError(f"step {i}: unknown type {kind!r}")
        if kind == "close" and i != len(steps) - 1:
            raise UsageError("a close step must be the last step")
        if kind == "text":
            payload_of(step).decode("utf-8")  # must be valid UTF-8
        if kind == "ping" and len(payload_of(step)) > 125:
            raise UsageError(f"step {i}: a ping payload is at most 125 bytes")
        out.append(step)
    return out


# ---------------------------------------------------------------- output


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def describe(kind: str, data: bytes, inline_max: int) -> dict:
    d = {"type": kind, "len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) <= inline_max:
        if kind == "text":
            d["data"] = data.decode("utf-8", errors="replace")
        else:
            d["hex"] = data.hex()
    return d


# ---------------------------------------------------------------- run


async def run(args, steps) -> int:
    timeout = args.timeout
    close_code, close_reason = args.close_code, args.close_reason
    if steps and steps[-1]["type"] == "close":
        last = steps.pop()
        close_code = int(last.get("code", close_code))
        close_reason = str(last.get("reason", close_reason))

    ws = await asyncio.wait_for(
        connect(
            args.url,
            compression=None if args.no_compression else "deflate",
            max_size=None,
            max_queue=None,
            ping_interval=None,  # no unsolicited keepalive pings: only scripted frames
            open_timeout=timeout,
            close_timeout=timeout,
        ),
        timeout,
    )
    emit(
        {
            "event": "open",
            "peer": PEER,
            "url": args.url,
            "extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
            "subprotocol": ws.subprotocol,
        }
    )

    sent_msgs, recv_msgs = [], []
    got_one = asyncio.Condition()

    async def reader():
        try:
            while True:
                msg = await ws.recv()
                if isinstance(msg, str):
                    d = describe("text", msg.encode("utf-8"), args.inline_max)
                else:
                    d = describe("binary", bytes(msg), args.inline_max)
                d = {"event": "recv", "index": len(recv_msgs), **d}
                recv_msgs.append((d["type"], d["sha256"]))
                emit(d)
                async with got_one:
                    got_one.notify_all()
        except ConnectionClosed:
            async with got_one:
                got_one.notify_all()

    reader_task = asyncio.create_task(reader())
    ok = True
    try:
        for i, step in enumerate(steps):
            kind = step["type"]
            if kind == "sleep":
                await asyncio.sleep(int(step.get("ms", 0)) / 1000)
                continue
            data = payload_of(step)
            if kind == "ping":
                t0 = time.monotonic()
                waiter = await ws.ping(data)
                emit({"event": "sent", "step": i, **describe("ping", data, 125)})
                await asyncio.wait_for(waiter, timeout)
                rtt = (time.monotonic() - t0) * 1000
                emit({"event": "recv", **describe("pong", data, 125), "rtt_ms": round(rtt, 3)})
                continue
            frames = max(1, int(step.get("fragments", 1)))
            if frames == 1:
                await ws.send(data.decode("utf-8") if kind == "text" else data)
            else:
                chunks = split_utf8(data, frames, kind == "text")
                if kind == "text":
                    await ws.send([c.decode("utf-8") for c in chunks])
                else:
                    await ws.send(chunks)
            d = describe(kind, data, args.inline_max)
            emit({"event": "sent", "step": i, **d, "frames": frames})
            sent_msgs.append((kind, d["sha256"]))
            if not args.no_wait:
                async with got_one:
                    await asyncio.wait_for(
                        got_one.wait_for(
                            lambda: len(recv_msgs) >= len(sent_msgs) or reader_task.done()
                        ),
                        timeout,
                    )
                if len(recv_msgs) < len(sent_msgs):
                    raise ConnectionError("connection closed while waiting for a reply")
    except (asyncio.TimeoutError, TimeoutError):
        emit({"event": "error", "message": f"timed out after {timeout}s"})
        ok = False
    except (ConnectionClosed, ConnectionError) as exc:
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        ok = False

    if ws.protocol.close_rcvd is None and ws.protocol.close_sent is None:
        emit({"event": "sent", "type": "close", "code": close_code, "reason": close_reason})
        await ws.close(close_code, close_reason)
    else:
        await ws.wait_closed()
    try:
        await asyncio.wait_for(reader_task, timeout)
    except (asyncio.TimeoutError, TimeoutError):
        reader_task.cancel()
    rcvd = ws.protocol.close_rcvd
    if rcvd is not None:
        emit({"event": "recv", "type": "close", "code": rcvd.code, "reason": rcvd.reason})
    else:
        emit({"event": "recv", "type": "close", "code": None, "reason": None})
        ok = False
    echo_match = sent_msgs == recv_msgs
    emit(
        {
            "event": "done",
            "ok": ok,
            "sent": len(sent_msgs),
            "received": len(recv_msgs),
            "echo_match": echo_match,
            "close_code": rcvd.code if rcvd is not None else None,
        }
    )
    return 0 if ok else 1


def main(argv) -> int:
    p = argparse.ArgumentParser(description="scripted WebSocket client (python websockets)")
    p.add_argument("url", help="ws:// URL")
    p.add_argument("steps", nargs="*", help="compact steps, e.g. text:hi binary@1000 ping close:1000:bye")
    p.add_argument("--script", help="JSON file with a list of steps ('-' for stdin)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    g.add_argument("--deflate", "--compression", action="store_true", help="offer permessage-deflate (default)")
    p.add_argument("--close-code", type=int, default=1000, help="close code (default 1000)")
    p.add_argument("--close-reason", default="", help="close reason (default empty)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for an echo after each message")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds for connect/each reply/close (default 10)")
    p.add_argument("--inline-max", type=int, default=4096, help="include payloads up to this many bytes (default 4096)")
    args = p.parse_args(argv)
    try:
        steps = []
        if args.script:
            src = sys.stdin.read() if args.script == "-" else open(args.script, encoding="utf-8").read()
            loaded = json.loads(src)
            steps += loaded["steps"] if isinstance(loaded, dict) else loaded
        steps += [parse_compact(a) for a in args.steps]
        steps = normalise(steps)
    except (UsageError, ValueError, OSError, KeyError) as exc:
        print(f"client.py: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(args, steps))
    except (OSError, asyncio.TimeoutError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1


if __name__ == "__main__":
    # A reader that goes away (`| head`) ends us quietly, like any filter.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main(sys.argv[1:]))
