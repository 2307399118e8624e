#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small token issuer (Docker registry v2 "token" auth) for the tests.

docker-registry, configured with `auth: token`, answers an unauthenticated
request with 401 and `WWW-Authenticate: Bearer realm="https://HOST:PORT/token",
service="...",scope="repository:REPO:pull"`.  The client then asks this
issuer, with Basic credentials or anonymously, and presents the JWT it gets.

  GET  /token?service=S&scope=repository:R:pull,push[&scope=...][&account=U]
  POST /token   (OAuth2 form: grant_type=password&username=&password=&scope=&service=)

Anonymous requests get a token granting nothing (as Docker Hub does for a
private repository: the registry then answers 401/insufficient_scope); wrong
credentials get 401; a known user gets the actions the users file allows,
intersected with those asked for.

Tokens are RS256 JWTs whose header names the signing key by its libtrust key
id ("kid"), which docker-registry 2.8 computes from the certificates of its
`rootcertbundle`; the signature is made by `openssl dgst -sha256 -sign`, so
nothing beyond the Python standard library and openssl is needed.

Each request is logged, one line: time, method, path with query, user (or
"-" / "bad:USER"), the granted access, and the HTTP status.  Passwords and
tokens are never logged.

Usage: token_issuer.py --listen 127.0.0.1:0 --port-file F --tls-cert C
       --tls-key K --sign-key KEY.pem --issuer I --service S --users FILE
       --log FILE
The users file has lines USER:PASSWORD:ACTIONS (ACTIONS like "pull,push").
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def libtrust_kid(spki_der):
    """libtrust's KeyID: SHA-256 of the DER SubjectPublicKeyInfo, first 240
    bits, base32 without padding, in 12 groups of 4 joined by ':'."""
    s = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


class Issuer:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        der = subprocess.run(["openssl", "pkey", "-in", a.sign_key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.kid = libtrust_kid(der)
        self.users = {}
        with open(a.users) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                u, p, acts = line.split(":", 2)
                self.users[u] = (p, set(x for x in acts.split(",") if x))
        self.logf = open(a.log, "a", buffering=1)

    def log(self, *fields):
        with self.lock:
            self.logf.write("\t".join([time.strftime("%Y-%m-%dT%H:%M:%S")] + [str(f) for f in fields]) + "\n")

    def sign(self, payload):
        r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.a.sign_key],
                           input=payload, check=True, capture_output=True)
        return r.stdout

    def token(self, user, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {
            "iss": self.a.issuer,
            "sub": user or "",
            "aud": self.a.service,
            "exp": now + self.a.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        return signing_input + "." + b64url(self.sign(signing_input.encode()))


def parse_scopes(values):
    """["repository:a/b:pull,push", ...] -> [(type, name, [actions])]"""
    out = []
    for v in values:
        for s in v.split(" "):
            if not s:
                continue
            parts = s.split(":")
            if len(parts) < 3:
                continue
            typ, name, acts = parts[0], ":".join(parts[1:-1]), parts[-1]
            out.append((typ, name, [x for x in acts.split(",") if x]))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sif-test-token-issuer/1"

    def log_message(self, fmt, *args):  # the request log is our own
        pass

    def reply(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def basic_user(self):
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None, None
        try:
            u, _, p = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return "", ""
        return u, p

    def issue(self, user, password, scopes, service):
        iss = self.server.issuer
        path = self.path
        if service and service != iss.a.service:
            iss.log(self.command, path, user or "-", "-", 400)
            return self.reply(400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]})
        granted_user = None
        if user is not None:
            known = iss.users.get(user)
            if known is None or known[0] != password:
                iss.log(self.command, path, "bad:" + user, "-", 401)
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]},
                                  {"WWW-Authenticate": 'Basic realm="sif-test-token-issuer"'})
            granted_user = user
        access = []
        for typ, name, acts in scopes:
            allowed = iss.users[granted_user][1] if granted_user else set()
            if typ != "repository":
                allowed = set()
            access.append({"type": typ, "name": name, "actions": [x for x in acts if x in allowed]})
        tok = iss.token(granted_user, access)
        desc = " ".join("%s:%s:%s" % (x["type"], x["name"], ",".join(x["actions"])) for x in access) or "-"
        iss.log(self.command, path, granted_user or "-", desc, 200)
        return self.reply(200, {"token": tok, "access_token": tok, "expires_in": iss.a.ttl,
                                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/token":
            self.server.issuer.log(self.command, self.path, "-", "-", 404)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
        q = urllib.parse.parse_qs(u.query)
        user, password = self.basic_user()
        return self.issue(user, password, parse_scopes(q.get("scope", [])), (q.get("service") or [""])[0])

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace") if n > 0 else ""
        if u.path != "/token":
            self.server.issuer.log(self.command, self.path, "-", "-", 404)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
        q = urllib.parse.parse_qs(body)
        user, password = self.basic_user()
        if (q.get("grant_type") or [""])[0] == "password":
            user, password = (q.get("username") or [""])[0], (q.get("password") or [""])[0]
        elif user is None:
            self.server.issuer.log(self.command, self.path, "-", "-", 400)
            return self.reply(400, {"error": "unsupported_grant_type"})
        return self.issue(user, password, parse_scopes(q.get("scope", [])), (q.get("service") or [""])[0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--sign-key", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--ttl", type=int, default=300)
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.issuer = Issuer(a)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
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
