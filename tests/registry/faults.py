#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fault-injecting HTTP front of a plain-HTTP registry, for the tests.

It forwards every request to the upstream registry, except that a fault
SPEC, chosen by the request path or by a control file, changes the answer:

  by path:   /v2/fault/SPEC/REPO/...   is  /v2/REPO/...  with SPEC applied
             (so `docker://127.0.0.1:PORT/fault/429x2.t1/layers:latest`)
  by file:   the first line of the control file is the SPEC of every other
             request; an empty or absent file means none.  Changing the file
             resets the counters.

  SPEC = KIND[xN][-TARGET][.NONCE]

  KIND     429          429 Too Many Requests, Retry-After: 1
           500 502 503  that status, a registry-style JSON error body
           404          404, MANIFEST_UNKNOWN/BLOB_UNKNOWN
           truncate     the upstream headers (full Content-Length), half the
                        body, then the connection is closed
           corrupt      the upstream answer with one bit of the body flipped
                        (same length: only the digest tells)
           bigmanifest  a 5 MiB manifest (valid JSON, correct
                        Docker-Content-Digest) with its Content-Length
           bigchunked   the same, chunked, without a Content-Length
           slow         the upstream answer, its body trickled over ~N seconds
           stall        the upstream headers, half the body, then nothing more:
                        the connection stays open, silent, until the client
                        closes it (or 600 s pass)
  N        how many matching requests get the fault; then they pass
           (default: 1 for the statuses, unlimited for the others)
  TARGET   any | manifest | blob | bigblob | ping  (default: any for the
           statuses, blob for truncate/corrupt/slow/stall, manifest for big*);
           bigblob: a blob of 1 MiB or more (a layer, not the config)
  NONCE    anything: a fresh set of counters for the same fault

Counters are per SPEC (the whole string, nonce included) and shared by all
the requests that match its TARGET; HEAD and GET both count for statuses;
truncate, corrupt, slow and stall apply to GET only.

Every request is logged, one tab-separated line: time, method, original
path, upstream path, status, body bytes sent, and the fault applied ("-"
when none), e.g. "truncate:1088110/2176220".

Usage: faults.py --upstream http://127.0.0.1:PORT --listen 127.0.0.1:0
                 --port-file F --control FILE --log FILE
"""
import argparse
import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade", "host", "content-length"}
STATUS_KINDS = {"429", "500", "502", "503", "404"}
OTHER_KINDS = {"truncate", "corrupt", "bigmanifest", "bigchunked", "slow", "stall"}
SPEC_RE = re.compile(r"^(?P<kind>[0-9]{3}|[a-z]+)(?:x(?P<n>[0-9]+))?(?:-(?P<target>any|manifest|blob|bigblob|ping))?(?:\.(?P<nonce>[A-Za-z0-9_-]+))?$")
BIG = 5 * 1024 * 1024
BIGBLOB = 1024 * 1024


def parse_spec(spec):
    m = SPEC_RE.match(spec)
    if not m or (m["kind"] not in STATUS_KINDS and m["kind"] not in OTHER_KINDS):
        return None
    kind = m["kind"]
    if kind in STATUS_KINDS:
        n = int(m["n"]) if m["n"] else 1
        target = m["target"] or "any"
    else:
        n = int(m["n"]) if m["n"] else -1
        target = m["target"] or ("manifest" if kind.startswith("big") else "blob")
    return {"spec": spec, "kind": kind, "n": n, "target": target}


def classify(path):
    p = urllib.parse.urlsplit(path).path
    if p in ("/v2", "/v2/"):
        return "ping"
    if re.match(r"^/v2/.+/manifests/[^/]+$", p):
        return "manifest"
    if re.match(r"^/v2/.+/blobs/[^/]+$", p):
        return "blob"
    return "other"


def big_manifest():
    pad = "x" * BIG
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": "sha256:" + "0" * 64, "size": 2},
           "layers": [], "annotations": {"org.example.padding": pad}}
    return json.dumps(doc).encode()


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.counts = {}
        self.control_key = None
        self.logf = open(a.log, "a", buffering=1)
        self.big = big_manifest()
        self.big_digest = "sha256:" + hashlib.sha256(self.big).hexdigest()
        u = urllib.parse.urlsplit(a.upstream)
        self.up_host, self.up_port = u.hostname, u.port or 80

    def log(self, *fields):
        with self.lock:
            self.logf.write("\t".join([time.strftime("%Y-%m-%dT%H:%M:%S")] + [str(f) for f in fields]) + "\n")

    def control_spec(self):
        try:
            st = os.stat(self.a.control)
            with open(self.a.control) as f:
                line = f.readline().strip()
        except OSError:
            return None
        key = (line, st.st_mtime_ns, st.st_ino)
        with self.lock:
            if key != self.control_key:
                self.control_key = key
                self.counts = {k: v for k, v in self.counts.items() if not k.startswith("control:")}
        return ("control:%d:" % st.st_mtime_ns + line, line) if line else None

    def take(self, key, f):
        """True when this request gets the fault (and counts it)."""
        with self.lock:
            used = self.counts.get(key, 0)
            if f["n"] >= 0 and used >= f["n"]:
                return False
            self.counts[key] = used + 1
            return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sif-test-faults/1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype="application/json", extra=None, method=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if (method or self.command) != "HEAD":
            self.wfile.write(body)
            return len(body)
        return 0

    def upstream(self, path):
        st = self.server.state
        c = http.client.HTTPConnection(st.up_host, st.up_port, timeout=60)
        body = b""
        n = int(self.headers.get("Content-Length") or 0)
        if n > 0:
            body = self.rfile.read(n)
        # header by header: a client may send several Accept lines
        c.putrequest(self.command, path, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                c.putheader(k, v)
        if n > 0 or self.command in ("POST", "PUT", "PATCH"):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body or None)
        r = c.getresponse()
        data = r.read() if self.command != "HEAD" else b""
        headers = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP]
        length = r.getheader("Content-Length")
        c.close()
        return r.status, r.reason, headers, data, length

    def handle_any(self):
        st = self.server.state
        orig = self.path
        path = orig
        fault = None
        key = None
        m = re.match(r"^/v2/fault/([^/]+)/(.*)$", orig)
        if m:
            fault = parse_spec(m.group(1))
            path = "/v2/" + m.group(2)
            if fault is None:
                st.log(self.command, orig, "-", 400, 0, "bad-spec")
                return self.send_body(400, b'{"errors":[{"code":"UNSUPPORTED","message":"faults.py: bad fault spec"}]}')
            key = "path:" + fault["spec"]
        else:
            c = st.control_spec()
            if c:
                key, spec = c
                fault = parse_spec(spec)
        kind_of = classify(path)
        target = fault["target"] if fault else None
        applies = (fault is not None and (target == "any" or target == kind_of or
                                          (target == "bigblob" and kind_of == "blob")))
        body_fault = applies and fault["kind"] in ("truncate", "corrupt", "slow", "stall")
        if body_fault and self.command != "GET":
            applies = body_fault = False
        # a body fault is counted once the upstream answer is known (its size)
        if applies and not body_fault and not st.take(key, fault):
            applies = False
        desc = fault["kind"] if applies else "-"

        if applies and fault["kind"] in STATUS_KINDS:
            code = int(fault["kind"])
            extra = {}
            if code == 429:
                extra["Retry-After"] = "1"
                err = {"code": "TOOMANYREQUESTS", "message": "faults.py: too many requests"}
            elif code == 404:
                err = {"code": "MANIFEST_UNKNOWN" if kind_of == "manifest" else "BLOB_UNKNOWN",
                       "message": "faults.py: not found"}
            else:
                err = {"code": "UNKNOWN", "message": "faults.py: injected %d" % code}
            sent = self.send_body(code, json.dumps({"errors": [err]}).encode(), extra=extra)
            st.log(self.command, orig, path, code, sent, desc)
            return
        if applies and fault["kind"] in ("bigmanifest", "bigchunked"):
            ctype = "application/vnd.oci.image.manifest.v1+json"
            if fault["kind"] == "bigmanifest":
                sent = self.send_body(200, st.big, ctype, {"Docker-Content-Digest": st.big_digest})
            else:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Docker-Content-Digest", st.big_digest)
                self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                if self.command != "HEAD":
                    try:
                        for i in range(0, len(st.big), 65536):
                            chunk = st.big[i:i + 65536]
                            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                            sent += len(chunk)
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        desc += ":client-closed"
            st.log(self.command, orig, path, 200, sent, desc + ":%d" % len(st.big))
            return

        try:
            status, reason, headers, data, length = self.upstream(path)
        except OSError as e:
            st.log(self.command, orig, path, 502, 0, "upstream-error:%s" % e)
            return self.send_body(502, b'{"errors":[{"code":"UNKNOWN","message":"faults.py: upstream unreachable"}]}')
        if applies and body_fault:
            if status != 200 or (target == "bigblob" and len(data) < BIGBLOB) or not st.take(key, fault):
                applies = False  # not for this answer: passed as it is, not counted
        if not applies:
            desc = "-"
            self.send_response(status, reason)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else (length or "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            st.log(self.command, orig, path, status, len(data), desc)
            return

        self.send_response(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        k = fault["kind"]
        if k == "truncate":
            half = max(1, len(data) // 2) if len(data) > 1 else 0
            try:
                self.wfile.write(data[:half])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            st.log(self.command, orig, path, status, half, "truncate:%d/%d" % (half, len(data)))
        elif k == "corrupt":
            b = bytearray(data)
            if b:
                b[len(b) // 2] ^= 0x01
            self.wfile.write(bytes(b))
            st.log(self.command, orig, path, status, len(b), "corrupt:bit0@%d" % (len(b) // 2))
        elif k == "stall":
            half = len(data) // 2
            t0 = time.monotonic()
            how = "timeout"
            try:
                self.wfile.write(data[:half])
                self.wfile.flush()
                # silent until the client gives up and closes (EOF), or 600 s
                self.connection.settimeout(1.0)
                while time.monotonic() - t0 < 600:
                    try:
                        if self.connection.recv(4096) == b"":
                            how = "client-closed"
                            break
                    except socket.timeout:
                        continue
            except OSError:
                how = "client-closed"
            self.close_connection = True
            st.log(self.command, orig, path, status, half,
                   "stall:%d/%d:%s-after-%.1fs" % (half, len(data), how, time.monotonic() - t0))
        elif k == "slow":
            secs = 3.0
            step = max(1, len(data) // 30)
            sent = 0
            try:
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    self.wfile.flush()
                    sent += len(data[i:i + step])
                    time.sleep(secs / 30)
            except OSError:
                desc += ":client-closed"
            st.log(self.command, orig, path, status, sent, desc)

    do_GET = handle_any
    do_HEAD = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_PATCH = handle_any
    do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--control", required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.state = State(a)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
