#!/usr/bin/env python3
"""Clients of test-http-badinput.sh and tests/bench/bench-http.sh (python3's standard
library only).

http_load.py raw HOST PORT HEX           sends the bytes HEX, prints the first line answered
http_load.py slow HOST PORT N SECONDS    opens N connections that each send half a request
                                         line and nothing more; holds them SECONDS; prints
                                         how many the server had closed by then
http_load.py head HOST PORT CA CASE   sends the bad request head CASE (plain HTTP when CA is
                                         "-", else TLS verified with the CA file; a name of
                                         HEADS, prefixed "second-" for the second request of
                                         a keep-alive connection, after a good one answered,
                                         "pipelined-" for both sent at once, "afterbody-" or
                                         "afterchunked-" sent at once after a request with a
                                         body of FIRST), reads until
                                         the server closes; prints "<status> <body>" for
                                         each answer, "eof" or "open" last
http_load.py flood HOST PORT PATH TOKEN SECONDS THREADS
                                         keep-alive GETs of PATH from THREADS threads for
                                         SECONDS; prints "<requests> <non-200 answers>
                                         <requests/s>"
"""
import http.client
import re
import resource
import select
import socket
import ssl
import sys
import threading
import time


def raw(host, port, data):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(data)
    out = b""
    try:
        while b"\r\n" not in out:
            c = s.recv(4096)
            if not c:
                break
            out += c
    except socket.timeout:
        pass
    print(out.split(b"\r\n")[0].decode(errors="replace"))


GOOD = b"GET /openapi.json HTTP/1.1\r\nHost: om\r\n\r\n"
# requests with a body, to which the server answers 401 (no credentials) and keeps the
# connection
FIRST = {
    "afterbody": b"POST /api/daemon/reload HTTP/1.1\r\nHost: om\r\nContent-Length: 5\r\n\r\nhello",
    "afterchunked": b"POST /api/daemon/reload HTTP/1.1\r\nHost: om\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n",
}
HEADS = {
    "good": b"GET /openapi.json HTTP/1.1\r\nHost: om\r\nConnection: close\r\n\r\n",
    "badchunk": b"POST /api/daemon/reload HTTP/1.1\r\nHost: om\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "garbage": b"GARBAGE \x01\x02\r\n\r\n",
    "badline": b"GET /openapi.json\r\nHost: om\r\n\r\n",
    "nocolon": b"GET /openapi.json HTTP/1.1\r\nHost: om\r\nNo colon here\r\n\r\n",
    "big17k": b"GET /openapi.json HTTP/1.1\r\nX-Big: " + b"a" * 17 * 1024 + b"\r\n\r\n",
    "big500k": b"GET /openapi.json HTTP/1.1\r\n" + b"".join(b"X-B%d: " % i + b"a" * 8000 + b"\r\n" for i in range(64)) + b"\r\n",
    "many150": b"GET /openapi.json HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n",
}


def answers(buf):
    """the complete answers in buf (each with a Content-Length), and what is left"""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode(errors="replace").split("\r\n")
        m = re.search(r"(?im)^content-length: *(\d+)", "\n".join(head))
        n = int(m.group(1)) if m else 0
        if len(buf) < end + 4 + n:
            return out, buf
        status = head[0].split(" ")[1] if len(head[0].split(" ")) > 1 else "?"
        out.append(status + " " + buf[end + 4:end + 4 + n].decode(errors="replace").replace("\n", " "))
        buf = buf[end + 4 + n:]


def head(host, port, ca, case):
    mode, _, name = case.rpartition("-")
    bad = HEADS[name]
    s = socket.create_connection((host, port), timeout=10)
    if ca != "-":
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    buf = b""
    printed = 0
    if mode == "second":
        s.sendall(GOOD)
        got = []
        while not got:
            c = s.recv(65536)
            if not c:
                break
            buf += c
            got, buf = answers(buf)
        for a in got:
            print(a[:300])
            printed += 1
    first = GOOD if mode == "pipelined" else FIRST.get(mode, b"")
    try:
        s.sendall(first + bad)
    except OSError as e:
        print(f"(send: {e})", file=sys.stderr)
    state = "open"
    try:
        while True:
            c = s.recv(65536)
            if not c:
                state = "eof"
                break
            buf += c
    except socket.timeout:
        pass
    except OSError as e:
        print(f"(recv: {e})", file=sys.stderr)
        state = "eof"
    got, buf = answers(buf)
    for a in got:
        print(a[:300])
    if buf:
        print("incomplete " + buf[:200].decode(errors="replace").replace("\r\n", " | "))
    print(state)


def slow(host, port, n, secs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /api/clu")
        socks.append(s)
    print(f"opened {len(socks)}", flush=True)
    end = time.time() + secs
    closed = set()
    p = select.poll()
    byfd = {s.fileno(): s for s in socks}
    for fd in byfd:
        p.register(fd, select.POLLIN)
    while time.time() < end and len(closed) < len(socks):
        for fd, _ in p.poll(200):
            try:
                data = byfd[fd].recv(4096)
            except OSError:
                data = b""
            if not data:
                closed.add(fd)
                p.unregister(fd)
    print(f"closed by the server {len(closed)}", flush=True)


def flood(host, port, path, token, secs, threads):
    count = [0, 0]
    lock = threading.Lock()
    end = time.time() + secs

    def run():
        c = http.client.HTTPConnection(host, port, timeout=10)
        n = bad = 0
        while time.time() < end:
            try:
                c.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = c.getresponse()
                r.read()
                n += 1
                bad += r.status != 200
            except (OSError, http.client.HTTPException):
                bad += 1
                c = http.client.HTTPConnection(host, port, timeout=10)
        with lock:
            count[0] += n
            count[1] += bad

    t0 = time.time()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"{count[0]} {count[1]} {count[0] / (time.time() - t0):.0f}")


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "raw":
        raw(a[2], int(a[3]), bytes.fromhex(a[4]))
    elif a[1] == "head":
        head(a[2], int(a[3]), a[4], a[5])
    elif a[1] == "slow":
        slow(a[2], int(a[3]), int(a[4]), float(a[5]))
    else:
        flood(a[2], int(a[3]), a[4], a[5], float(a[6]), int(a[7]))
