#!/usr/bin/env python3
"""A raw-socket WebSocket client and fuzzingserver driver with one deliberate fault, for testing
`wsprobe serve`: each fault breaks one family of the client rules (the C.* cases), `none`
is a conformant client that breaks none.

    broken_client.py BASE_URL --fault FAULT [--agent NAME]

Faults:
  none              conformant (RFC 6455 client side, as far as these cases look)
  unmasked          sends its frames unmasked (mask.client-unmasked, §5.3)
  zero-key          masks every frame with the all-zero key (mask.key-predictable, §5.3)
  constant-key      one masking key for every frame of every connection (mask.key-predictable)
  reused-nonce      the same Sec-WebSocket-Key on every connection (hs.request-key-reused, §4.1)
  short-nonce       a Sec-WebSocket-Key of 8 random bytes, not 16 (hs.request-key, §4.1)
  no-host           a request without Host (hs.request-host, §4.1)
  trusts-handshake  accepts any 101: no check of Accept, Upgrade, Connection, extensions or
                    subprotocol (hs.response-*, §4.1)
  trusts-frames     accepts masked frames from the server (mask.server-masked, §5.1)

Written on plain sockets, on purpose: a real library would not let us break these rules.
"""

import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 10.0
FAULTS = ["none", "unmasked", "zero-key", "constant-key", "reused-nonce", "short-nonce",
          "no-host", "trusts-handshake", "trusts-frames"]


class Failed(Exception):
    """The client fails the connection: with a close code, or (None) by closing TCP."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Client:
    def __init__(self, fault):
        self.fault = fault
        self.constant_key = os.urandom(4)
        self.constant_nonce = base64.b64encode(os.urandom(16)).decode()

    def nonce(self):
        if self.fault == "reused-nonce":
            return self.constant_nonce
        return base64.b64encode(os.urandom(8 if self.fault == "short-nonce" else 16)).decode()

    def mask_key(self):
        if self.fault == "zero-key":
            return b"\0\0\0\0"
        if self.fault == "constant-key":
            return self.constant_key
        return os.urandom(4)

    def frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        masked = self.fault != "unmasked"
        bit = 0x80 if masked else 0
        n = len(payload)
        if n < 126:
            head += bytes([bit | n])
        elif n < 65536:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if not masked:
            return head + payload
        key = self.mask_key()
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def connect(self, base, target):
        u = urllib.parse.urlsplit(base)
        sock = socket.create_connection((u.hostname, u.port or 80), timeout=TIMEOUT)
        key = self.nonce()
        lines = [f"GET {target} HTTP/1.1"]
        if self.fault != "no-host":
            lines.append(f"Host: {u.netloc}")
        lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                  "Sec-WebSocket-Version: 13"]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk or len(head) > 16384:
                raise Failed(None)
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        status, *fields = head.decode("latin-1").split("\r\n")
        headers = {}
        for f in fields:
            name, _, value = f.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        ok = status.split(" ")[1:2] == ["101"]
        if self.fault != "trusts-handshake":
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            ok = (ok and headers.get("sec-websocket-accept") == [accept]
                  and any(v.lower() == "websocket" for v in headers.get("upgrade", []))
                  and any("upgrade" in v.lower() for v in headers.get("connection", []))
                  and "sec-websocket-extensions" not in headers
                  and "sec-websocket-protocol" not in headers)
        if not ok:
            sock.close()
            raise Failed(None)
        return sock, rest


class Reader:
    def __init__(self, sock, rest):
        self.sock, self.buf = sock, rest

    def take(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def session(client, sock, rest, echo):
    """Reads frames until the close; echoes messages when `echo`. Returns the messages."""
    r = Reader(sock, rest)
    messages, parts, kind = [], [], None
    while True:
        b0, b1 = r.take(2)
        fin, rsv, opcode, masked, n = b0 & 0x80, b0 & 0x70, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", r.take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", r.take(8))[0]
        key = r.take(4) if masked else None
        if rsv or opcode not in (0, 1, 2, 8, 9, 10) or (masked and client.fault != "trusts-frames"):
            raise Failed(1002)
        if opcode >= 8 and (not fin or n > 125):
            raise Failed(1002)
        if n > 64 << 20:
            raise Failed(1009)
        payload = r.take(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        if opcode == 9:
            sock.sendall(client.frame(10, payload))
        elif opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            if len(payload) == 1 or (code is not None and not valid_code(code)):
                raise Failed(1002)
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise Failed(1007)
            sock.sendall(client.frame(8, struct.pack("!H", code) if code else b""))
            return messages
        elif opcode in (1, 2, 0):
            if (opcode == 0) == (kind is None):
                raise Failed(1002)
            kind = kind if opcode == 0 else opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if kind == 1:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise Failed(1007)
                messages.append(data)
                if echo:
                    sock.sendall(client.frame(kind, data))
                parts, kind = [], None


def valid_code(code):
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def run(client, base, target, echo=True):
    """One connection; returns the messages received (the connection's faults end it)."""
    try:
        sock, rest = client.connect(base, target)
    except (Failed, OSError):
        return []
    try:
        return session(client, sock, rest, echo)
    except Failed as f:
        if f.code:
            try:
                sock.sendall(client.frame(8, struct.pack("!H", f.code)))
            except OSError:
                pass
        return []
    except (EOFError, OSError):
        return []
    finally:
        sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base")
    p.add_argument("--fault", choices=FAULTS, default="none")
    p.add_argument("--agent")
    a = p.parse_args()
    base, agent = a.base.rstrip("/"), urllib.parse.quote(a.agent or f"broken-{a.fault}")
    client = Client(a.fault)
    count = run(client, base, "/getCaseCount", echo=False)
    if not count:
        print("broken_client: no case count", file=sys.stderr)
        sys.exit(1)
    for n in range(1, int(count[0]) + 1):
        run(client, base, f"/runCase?case={n}&agent={agent}")
    run(client, base, f"/updateReports?agent={agent}", echo=False)


if __name__ == "__main__":
    main()
