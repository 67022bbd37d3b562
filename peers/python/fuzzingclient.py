#!/usr/bin/env python3
"""An Autobahn-style client driver built on Python `websockets`: for a fuzzingserver (Autobahn's
`wstest -m fuzzingserver`, or `wsprobe serve`) it fetches the case count, runs every case
echoing each message back, and asks for the reports.

    fuzzingclient.py BASE_URL [--agent NAME] [--cases N]

Exit status: 0 when the driver ran to its end; 1 when the server could not be reached.
"""

import argparse
import asyncio
import sys

import websockets
from websockets.asyncio.client import connect


async def run(base, agent, limit):
    async with connect(f"{base}/getCaseCount") as ws:
        count = int(await ws.recv())
    if limit:
        count = min(count, limit)
    for n in range(1, count + 1):
        url = f"{base}/runCase?case={n}&agent={agent}"
        try:
            async with connect(url, max_size=None, open_timeout=10) as ws:
                async for message in ws:
                    await ws.send(message)
        except (websockets.exceptions.WebSocketException, OSError, asyncio.TimeoutError):
            pass
    async with connect(f"{base}/updateReports?agent={agent}") as ws:
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base")
    p.add_argument("--agent", default=f"python-websockets-{websockets.__version__}")
    p.add_argument("--cases", type=int, default=0, help="run only the first N cases")
    a = p.parse_args()
    try:
        asyncio.run(run(a.base.rstrip("/"), a.agent, a.cases))
    except OSError as e:
        print(f"fuzzingclient: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
