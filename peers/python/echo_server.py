#!/usr/bin/env python3
"""Echo server built on Python `websockets` (pinned in requirements.txt).

    echo_server.py [--port PORT] [--host HOST] [--no-compression | --deflate] [--verbose]
                   [--tls-cert PEM --tls-key PEM [--keylog FILE] [--tls12 [--ciphers LIST]]]

Contract (shared with peers/node/echo_server.js, see peers/README.md):
  * binds a loopback address only (default 127.0.0.1; --port 0 picks a free port);
  * prints exactly one line `LISTENING <port>` to stdout, flushed, once it accepts
    connections, and nothing else on stdout;
  * echoes every message back as it came (text as text, binary as binary);
  * no size limits: serve(echo, max_size=None, max_queue=None), every other setting at
    the library default, so permessage-deflate is accepted unless --no-compression;
  * exits 0 on SIGTERM or SIGINT; diagnostics go to stderr only;
  * --tls-cert/--tls-key: wss:// with Python's ssl (OpenSSL) defaults; --keylog FILE
    appends the session secrets in NSS key log format (what SSLKEYLOGFILE gives);
    --tls12 caps the version at TLS 1.2, --ciphers sets its suites (OpenSSL names).

This is the configuration the Autobahn reference results in
../shared/reference/autobahn-results-websockets.json were taken against.
"""

import argparse
import asyncio
import ipaddress
import logging
import signal
import socket
import ssl
import sys

import websockets
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def echo(websocket) -> None:
    try:
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosed:
        # The peer broke the protocol or vanished; websockets has already closed the
        # connection with the right code. Nothing to add.
        pass


async def main(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    kwargs = dict(max_size=None, max_queue=None)
    if args.no_compression:
        kwargs["compression"] = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.keylog:
            context.keylog_filename = args.keylog
        if args.tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        if args.ciphers:
            context.set_ciphers(args.ciphers)
        kwargs["ssl"] = context
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    async with serve(echo, args.host, args.port, family=family, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"LISTENING {port}\n")
        sys.stdout.flush()
        if args.verbose:
            print(
                f"echo_server.py: websockets {websockets.__version__} on "
                f"{args.host}:{port}, compression="
                f"{'off' if args.no_compression else 'deflate'}",
                file=sys.stderr,
                flush=True,
            )
        await stop.wait()
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description="websockets echo server (loopback only)")
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = any free port (default)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-compression", action="store_true", help="refuse permessage-deflate")
    g.add_argument("--deflate", action="store_true", help="accept permessage-deflate (the default)")
    p.add_argument("--verbose", action="store_true", help="log to stderr")
    p.add_argument("--tls-cert", help="serve wss:// with this certificate chain (PEM)")
    p.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    p.add_argument("--keylog", help="append TLS secrets to FILE (NSS key log format)")
    p.add_argument("--tls12", action="store_true", help="TLS 1.2 at most")
    p.add_argument("--ciphers", help="TLS 1.2 cipher suites, OpenSSL names")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if (args.keylog or args.tls12 or args.ciphers) and not args.tls_cert:
        p.error("--keylog, --tls12 and --ciphers need --tls-cert")
    if not is_loopback(args.host):
        p.error(f"--host {args.host!r} is not a loopback address; this server binds loopback only")
    if not 0 <= args.port <= 65535:
        p.error("--port must be in 0..65535")
    return args


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        stream=sys.stderr,
        format="echo_server.py: %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(asyncio.run(main(args)))
