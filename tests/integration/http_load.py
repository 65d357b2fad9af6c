#!/usr/bin/env python3
"""Clients of test-http-badinput.sh and tests/bench/bench-http.sh (python3's standard
library only).

http_load.py raw HOST PORT HEX           sends the bytes HEX, prints the first line answered
http_load.py slow HOST PORT N SECONDS    opens N connections that each send half a request
                                         line and nothing more; holds them SECONDS; prints
                                         how many the server had closed by then
http_load.py flood HOST PORT PATH TOKEN SECONDS THREADS
                                         keep-alive GETs of PATH from THREADS threads for
                                         SECONDS; prints "<requests> <non-200 answers>
                                         <requests/s>"
"""
import http.client
import resource
import select
import socket
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
    elif a[1] == "slow":
        slow(a[2], int(a[3]), int(a[4]), float(a[5]))
    else:
        flood(a[2], int(a[3]), a[4], a[5], float(a[6]), int(a[7]))
