#!/usr/bin/env python3
"""Loopback HTTP(S) test server for the http module specs (stdlib only).

Usage: testserver.py [--tls | --async]
Prints one JSON line on stdout: {"port": N, "pid": P, "ca": "<path to CA PEM or null>",
"closed_port": M}, then serves until killed or until its parent process goes away. With --tls a
throwaway CA and a server certificate for 127.0.0.1 / localhost are generated with the openssl CLI
into a temporary directory (removed on exit).

--async serves plain HTTP from one asyncio loop (no thread per connection, so many concurrent
keep-alive connections are not slowed by the GIL); it knows /echo, /slow, /count and /reset (used by
tools/bench/10-http.sh).

Routes (HTTP/1.1 keep-alive):
  /echo                 method, path, query, headers and body back as JSON
  /status/N             answers status N
  /retry-after/N?id=X&k=K&status=S&form=date
                        the first K calls for id X answer S (default 503) with Retry-After: N seconds
                        (or as an HTTP date with form=date), then 200 {"calls": n}
  /flaky?id=X&k=K&status=S&code=C
                        the first K calls for id X answer S without Retry-After (with code=C an
                        error body {"error": {"code": C}, "error_code": C}), then 200
  /drop?id=X&k=K        the first K calls for id X close the connection without an answer
  /slow?ms=M            waits M ms, then 200
  /count                {"connections", "requests", "max_concurrent"} seen since the last /reset
  /reset                resets the counters above
  /close                answers 200 with Connection: close and closes
  /blob/...             a stand-in Blob service for auth tests: records Authorization and
                        x-ms-version; Create Container -> 201, GET -> 404 BlobNotFound, else 201
  /last-auth            {"authorization", "version"} of the last /blob request
"""
import asyncio
import email.utils
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATE = {"connections": 0, "requests": 0, "inflight": 0, "max_concurrent": 0, "calls": {}, "gen": 0}


def make_tls(tmp):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=drhost test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(tmp, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,DNS:*.sim.localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tmp, "server.pem"), os.path.join(tmp, "server.key"))
    return ctx


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ssl_ctx = None

    def process_request(self, request, client_address):
        with LOCK:
            STATE["connections"] += 1
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # refused handshakes and dropped connections are part of the tests


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drhost-testserver"

    def setup(self):
        # headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK add 40 ms
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.ssl_ctx is not None:
            self.request.settimeout(10)
            self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def calls(self, key):
        with LOCK:
            n = STATE["calls"].get(key, 0) + 1
            STATE["calls"][key] = n
            return n

    def handle_any(self):
        with LOCK:
            gen = STATE["gen"]
            STATE["requests"] += 1
            STATE["inflight"] += 1
            STATE["max_concurrent"] = max(STATE["max_concurrent"], STATE["inflight"])
        try:
            self.route()
        finally:
            with LOCK:
                if STATE["gen"] == gen:  # requests from before a /reset no longer count
                    STATE["inflight"] -= 1

    def route(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = u.path.strip("/").split("/")
        name = parts[0]
        if name == "echo":
            self.send_json(200, {
                "method": self.command, "path": u.path, "query": q,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace")})
        elif name == "status" and len(parts) == 2:
            self.send_json(int(parts[1]), {"status": int(parts[1])},
                           {"X-Multi": "a"} if parts[1] == "299" else None)
        elif name == "multi":
            self.send_response(200)
            self.send_header("X-Multi", "one")
            self.send_header("X-Multi", "two")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif name == "retry-after" and len(parts) == 2:
            c = self.calls("ra:" + q.get("id", ""))
            if c <= int(q.get("k", "1")):
                secs = int(parts[1])
                if q.get("form") == "date":
                    value = email.utils.formatdate(time.time() + secs, usegmt=True)
                else:
                    value = str(secs)
                self.send_json(int(q.get("status", "503")), {"calls": c}, {"Retry-After": value})
            else:
                self.send_json(200, {"calls": c})
        elif name == "flaky":
            c = self.calls("fl:" + q.get("id", ""))
            if c <= int(q.get("k", "1")):
                body = {"calls": c}
                if q.get("code"):  # an error body naming a code, in ARM's and Databricks' shapes
                    body.update(error={"code": q["code"], "message": "busy"}, error_code=q["code"])
                self.send_json(int(q.get("status", "503")), body)
            else:
                self.send_json(200, {"calls": c})
        elif name == "drop":
            c = self.calls("dr:" + q.get("id", ""))
            if c <= int(q.get("k", "1")):
                self.close_connection = True
                try:
                    self.request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.send_json(200, {"calls": c})
        elif name == "slow":
            time.sleep(int(q.get("ms", "100")) / 1000.0)
            self.send_json(200, {"slept_ms": int(q.get("ms", "100"))})
        elif name == "count":
            with LOCK:
                snap = {k: STATE[k] for k in ("connections", "requests", "max_concurrent")}
            self.send_json(200, snap)
        elif name == "reset":
            with LOCK:
                STATE.update(connections=0, requests=0, max_concurrent=0, inflight=0, calls={},
                             gen=STATE["gen"] + 1)
            self.send_json(200, {"reset": True}, {"Connection": "close"})
            self.close_connection = True
        elif name == "blob":
            with LOCK:
                STATE["last_auth"] = {"authorization": self.headers.get("Authorization"),
                                      "version": self.headers.get("x-ms-version")}
            if self.command == "GET":
                self.send_json(404, {}, {"x-ms-error-code": "BlobNotFound"})
            else:
                self.send_json(201, {}, {"ETag": '"0x1"'})
        elif name == "last-auth":
            with LOCK:
                self.send_json(200, STATE.get("last_auth") or {})
        elif name == "close":
            self.send_json(200, {"closing": True}, {"Connection": "close"})
            self.close_connection = True
        else:
            self.send_json(404, {"error": "no route " + u.path})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


async def async_conn(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with LOCK:
        STATE["connections"] += 1
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            parts = line.decode("latin-1").split(" ")
            if len(parts) != 3:
                break
            method, target = parts[0], parts[1]
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length") or 0)
            body = await reader.readexactly(n) if n else b""
            u = urlsplit(target)
            q = {k: v[-1] for k, v in parse_qs(u.query).items()}
            with LOCK:
                gen = STATE["gen"]
                STATE["requests"] += 1
                STATE["inflight"] += 1
                STATE["max_concurrent"] = max(STATE["max_concurrent"], STATE["inflight"])
            status, obj = 200, None
            try:
                if u.path == "/echo":
                    obj = {"method": method, "path": u.path, "query": q, "headers": headers,
                           "body": body.decode("utf-8", "replace")}
                elif u.path == "/slow":
                    await asyncio.sleep(int(q.get("ms", "100")) / 1000.0)
                    obj = {"slept_ms": int(q.get("ms", "100"))}
                elif u.path == "/count":
                    with LOCK:
                        obj = {k: STATE[k] for k in ("connections", "requests", "max_concurrent")}
                elif u.path == "/reset":
                    with LOCK:
                        STATE.update(connections=0, requests=0, max_concurrent=0, inflight=0,
                                     calls={}, gen=STATE["gen"] + 1)
                    obj = {"reset": True}
                else:
                    status, obj = 404, {"error": "no route " + u.path}
            finally:
                with LOCK:
                    if STATE["gen"] == gen:
                        STATE["inflight"] -= 1
            data = json.dumps(obj).encode()
            writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % (status, len(data)) + data)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def serve_async(announce):
    async def run():
        srv = await asyncio.start_server(async_conn, "127.0.0.1", 0, backlog=256)
        announce(srv.sockets[0].getsockname()[1], None)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    sys.setswitchinterval(0.0002)  # many handler threads: hand the GIL over quickly
    tls = "--tls" in sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="drhost-testserver-")

    def cleanup(*_):
        shutil.rmtree(tmp, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    parent = os.getppid()

    def watch_parent():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                cleanup()

    threading.Thread(target=watch_parent, daemon=True).start()

    def announce(port, ca):
        print(json.dumps({"port": port, "pid": os.getpid(), "ca": ca,
                          "closed_port": closed_port()}), flush=True)

    if "--async" in sys.argv[1:]:
        try:
            serve_async(announce)
        finally:
            cleanup()
        return
    srv = Server(("127.0.0.1", 0), Handler)
    if tls:
        srv.ssl_ctx = make_tls(tmp)
    announce(srv.server_address[1], os.path.join(tmp, "ca.pem") if tls else None)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        cleanup()


if __name__ == "__main__":
    main()
