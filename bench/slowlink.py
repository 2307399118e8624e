#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCP relay on loopback that lets the server's bytes through at most at a
given rate, shared by all connections (one link): bench/build.sh puts it in
front of its registry to measure pulls over a network slower than loopback.

Usage: slowlink.py LISTEN_PORT UPSTREAM_PORT MBIT_PER_S   (both on 127.0.0.1)
TLS passes through untouched; the client side is not limited."""
import socket
import sys
import threading
import time

LISTEN, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
RATE = float(sys.argv[3]) * 1e6 / 8  # bytes per second
lock = threading.Lock()
state = {"t": time.monotonic(), "queued": 0.0}


def throttle(n):
    """Wait until N more bytes fit the link (a leaky bucket shared by all)."""
    with lock:
        now = time.monotonic()
        state["queued"] = max(0.0, state["queued"] - (now - state["t"]) * RATE) + n
        state["t"] = now
        wait = state["queued"] / RATE
    if wait > 0.002:
        time.sleep(wait)


def relay(src, dst, limited):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if limited:
                throttle(len(data))
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    try:
        up = socket.create_connection(("127.0.0.1", UPSTREAM))
    except OSError:
        client.close()
        return
    threading.Thread(target=relay, args=(client, up, False), daemon=True).start()
    relay(up, client, True)
    up.close()
    client.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", LISTEN))
srv.listen(64)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
