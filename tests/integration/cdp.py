#!/usr/bin/env python3
"""A small client of chromium's DevTools protocol (python3's standard library only), for
the browser test of the live page: a websocket client (RFC 6455: handshake, masked text
frames out, unmasked frames in) and the calls the test needs.

cdp.py PORT_FILE COMMAND...
    PORT_FILE: the DevToolsActivePort file chromium writes in its --user-data-dir.
    eval EXPR            prints the JSON value of EXPR evaluated in the page
    wait EXPR SECONDS    polls EXPR until it is true; exit 1 when it stays false
    shot FILE            writes a PNG screenshot of the page
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


class WS:
    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.s.recv(1)
            if not c:
                raise RuntimeError("websocket handshake: connection closed")
            head += c
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))
        self.id = 0

    def _recv_exact(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise RuntimeError("websocket closed")
            b += c
        return b

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x81])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            data = self._recv_exact(n)
            op = b0 & 0x0F
            if op == 9:  # ping
                continue
            msg += data
            if b0 & 0x80:
                return msg.decode()

    def call(self, method, **params):
        self.id += 1
        self.send(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            m = json.loads(self.recv())
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]


def page(port_file):
    port = open(port_file).read().split()[0]
    for _ in range(100):
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        pages = [p for p in pages if p.get("type") == "page"]
        if pages:
            return WS(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.1)
    raise RuntimeError("no page in chromium")


def evaluate(ws, expr):
    r = ws.call("Runtime.evaluate", expression=expr, returnByValue=True)
    if "exceptionDetails" in r:
        raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('text')}")
    return r["result"].get("value")


def main():
    ws = page(sys.argv[1])
    cmd = sys.argv[2]
    if cmd == "eval":
        print(json.dumps(evaluate(ws, sys.argv[3])))
    elif cmd == "wait":
        end = time.time() + float(sys.argv[4])
        while time.time() < end:
            if evaluate(ws, sys.argv[3]):
                return 0
            time.sleep(0.05)
        return 1
    elif cmd == "shot":
        r = ws.call("Page.captureScreenshot", format="png")
        open(sys.argv[3], "wb").write(base64.b64decode(r["data"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
