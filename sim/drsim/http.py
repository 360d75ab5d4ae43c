"""HTTP layer: host routing, the @route decorator, request objects, the threaded TLS server.

A handler is `def handler(req)` and returns `body` (-> 200 JSON), `(status, body)` or
`(status, body, headers)`. `body` may be a dict/list (JSON), str/bytes (sent as is) or None (empty).
Raise drsim.errors.DatabricksError / ArmError / EntraError for service-shaped errors.
"""
import json
import re
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .errors import ArmError, DatabricksError, PlainError, SimError, error_for_host
from .outage import OUTAGES, ConnectionDropped

HOST_KINDS = ("login", "management", "accounts", "imds", "admin", "workspace")
# Host kinds whose routes need a validated bearer token unless the route says auth=False.
AUTH_KINDS = ("management", "accounts", "workspace")


class Route:
    __slots__ = ("host_kind", "method", "pattern", "regex", "handler", "auth", "score", "name")

    def __init__(self, host_kind, method, pattern, handler, auth, case_insensitive):
        self.host_kind = host_kind
        self.method = method.upper()
        self.pattern = pattern
        self.handler = handler
        self.auth = auth
        self.name = f"{self.method} {pattern}"
        rx = ""
        literal = 0
        has_path = False
        pos = 0
        for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}", pattern):
            lit = pattern[pos:m.start()]
            literal += len(lit)
            rx += re.escape(lit)
            if m.group(2) == "path":
                has_path = True
                rx += f"(?P<{m.group(1)}>.+)"
            else:
                rx += f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        lit = pattern[pos:]
        literal += len(lit)
        rx += re.escape(lit)
        self.regex = re.compile("^" + rx + "/?$", re.IGNORECASE if case_insensitive else 0)
        # More specific routes first: no {x:path} beats {x:path}; more literal text beats less.
        self.score = (0 if has_path else 1, literal)


class Registry:
    def __init__(self):
        self.routes = {k: [] for k in HOST_KINDS}
        self.lock = threading.Lock()

    def add(self, route):
        if route.host_kind not in self.routes:
            raise ValueError(f"route: unknown host kind {route.host_kind!r}, expected one of {HOST_KINDS}")
        with self.lock:
            lst = self.routes[route.host_kind]
            for r in lst:
                if r.method == route.method and r.pattern == route.pattern:
                    raise ValueError(f"route: duplicate {route.host_kind} {route.name}")
            lst.append(route)
            lst.sort(key=lambda r: r.score, reverse=True)

    def match(self, host_kind, method, path):
        """-> (route, params) or (None, allowed_methods)."""
        allowed = []
        for r in self.routes.get(host_kind, ()):
            m = r.regex.match(path)
            if not m:
                continue
            if r.method != method and r.method != "*":
                allowed.append(r.method)
                continue
            params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
            return r, params
        return None, allowed


REGISTRY = Registry()


def route(host_kind, method, pattern, auth=None, case_insensitive=False):
    """Decorator registering a handler. host_kind in HOST_KINDS; method an HTTP verb or "*".

    auth: None = default (bearer token required on management/accounts/workspace hosts),
    False = no token needed, True = always required.
    """
    def deco(fn):
        need = (host_kind in AUTH_KINDS) if auth is None else bool(auth)
        REGISTRY.add(Route(host_kind, method, pattern, fn, need, case_insensitive))
        return fn
    return deco


class Headers:
    """Case-insensitive header mapping."""

    def __init__(self, items):
        self._d = {}
        for k, v in items:
            self._d[k.lower()] = v

    def get(self, name, default=None):
        return self._d.get(name.lower(), default)

    def __getitem__(self, name):
        return self._d[name.lower()]

    def __contains__(self, name):
        return name.lower() in self._d

    def items(self):
        return self._d.items()


class Request:
    """What a handler receives."""

    def __init__(self, method, path, query_all, headers, body, host_kind, host, port):
        self.method = method
        self.path = path
        self.query_all = query_all                      # dict str -> [str]
        self.query = {k: v[-1] for k, v in query_all.items()}  # dict str -> str (last wins)
        self.headers = headers
        self.body = body
        self.host_kind = host_kind
        self.host = host                                # Host header without port
        self.port = port
        self.params = {}
        self.workspace = None
        self.principal = None
        self.token = None
        self.route = None
        self._json = _UNSET

    @property
    def json(self):
        if self._json is _UNSET:
            self._json = parse_json_body(self)
        return self._json


_UNSET = object()


def parse_json_body(req):
    if not req.body:
        return None
    ctype = (req.headers.get("content-type") or "").lower()
    if "application/x-www-form-urlencoded" in ctype:
        return None
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad_json(req.host_kind, str(e)) from None


def bad_json(host_kind, detail):
    if host_kind == "management":
        return ArmError(400, "InvalidRequestContent",
                        f"The request content was invalid and could not be deserialized: '{detail}'.")
    if host_kind in ("accounts", "workspace"):
        return DatabricksError(400, "MALFORMED_REQUEST", f"Invalid JSON given in the body of the request: {detail}")
    return PlainError(400, "invalid_request", f"invalid JSON body: {detail}")


def classify_host(host, domain):
    """-> (host_kind, workspace_id or None) for a Host header value without port."""
    h = host.lower().rstrip(".")
    suffix = "." + domain
    if not h.endswith(suffix):
        return None, None
    label = h[: -len(suffix)]
    if label in ("login", "management", "accounts", "imds", "admin"):
        return label, None
    m = re.fullmatch(r"adb-(\d+)", label)
    if m:
        return "workspace", m.group(1)
    return None, None


def _json_bytes(body):
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drsim/0.1"
    sys_version = ""

    def log_message(self, fmt, *args):  # noqa: A003 - quiet by default
        if self.server.access_log:
            self.server.access_log.write("%s %s\n" % (self.address_string(), fmt % args))
            self.server.access_log.flush()

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def _dispatch(self):
        from . import faults
        from .state import SIM
        t0 = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            body = self._read_chunked()
        split = urllib.parse.urlsplit(self.path)
        hostport = self.headers.get("Host") or ""
        host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
        host_kind, ws_id = classify_host(host, SIM.config.domain)
        req = Request(self.command, urllib.parse.unquote(split.path),
                      urllib.parse.parse_qs(split.query, keep_blank_values=True),
                      Headers(self.headers.items()), body, host_kind, host, port)
        status, payload, headers = 500, None, {}
        try:
            status, payload, headers = self._serve(req, ws_id, faults, SIM)
        except ConnectionDropped:
            self.close_connection = True   # a region outage in "drop"/"hang" mode: no answer at all
            SIM.stats.record(host_kind, "(outage: connection dropped)", 0, time.monotonic() - t0)
            return
        except SimError as e:
            status, payload, headers = e.status, e.body(), e.headers()
        except Exception as e:  # a bug in the simulator: say so, as a 500 of the host's shape
            traceback.print_exc(file=sys.stderr)
            err = error_for_host(host_kind, 500, "InternalError" if host_kind == "management"
                                 else "INTERNAL_ERROR", f"simulator bug: {type(e).__name__}: {e}")
            status, payload, headers = err.status, err.body(), {}
        if host_kind == "management":
            rid = str(uuid.uuid4())
            headers.setdefault("x-ms-request-id", rid)
            headers.setdefault("x-ms-correlation-request-id",
                               req.headers.get("x-ms-correlation-request-id") or rid)
        self._send(status, payload, headers)
        name = getattr(req, "stats_name", None) or (req.route.name if req.route else None)
        SIM.stats.record(host_kind, name, status, time.monotonic() - t0)
        if req.method not in ("GET", "HEAD") and status < 500:
            SIM.changed()

    def _serve(self, req, ws_id, faults, SIM):
        if req.host_kind is None:
            raise PlainError(404, "unknown_host",
                             f"no simulated service at host {req.host!r}; use *.{SIM.config.domain}")
        if req.host_kind == "workspace":
            ws = SIM.workspaces.get(ws_id)
            if ws is None:
                # FIDELITY: an unknown workspace host does not resolve in reality; here a 404.
                raise DatabricksError(404, "ENDPOINT_NOT_FOUND", f"no workspace with id {ws_id}")
            req.workspace = ws
        r, params = REGISTRY.match(req.host_kind, req.method, req.path)
        if r is None:
            if params:
                raise error_for_host(req.host_kind, 405, "MethodNotAllowed" if req.host_kind == "management"
                                     else "METHOD_NOT_ALLOWED",
                                     f"method {req.method} not allowed on {req.path}; allowed: {sorted(set(params))}")
            if req.host_kind == "management":
                raise ArmError(404, "NotFound", f"The requested path {req.path} was not found.")
            raise error_for_host(req.host_kind, 404, "ENDPOINT_NOT_FOUND" if req.host_kind in
                                 ("accounts", "workspace") else "not_found",
                                 f"No API found for '{req.method} {req.path}'")
        req.route = r
        req.params = params
        OUTAGES.before(req, ws_id)  # a region outage: raises
        faults.FAULTS.before(req)  # may sleep or raise
        if r.auth:
            from .tokens import authenticate
            authenticate(req)
        out = r.handler(req)
        if isinstance(out, tuple):
            if len(out) == 2:
                return out[0], out[1], {}
            if len(out) == 3:
                return out[0], out[1], dict(out[2] or {})
            raise TypeError(f"handler {r.name} returned a tuple of {len(out)}")
        return 200, out, {}

    def _read_chunked(self):
        out = b""
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, status, payload, headers):
        if payload is None:
            data = b""
            ctype = None
        elif isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = _json_bytes(payload), "application/json; charset=utf-8"
        self.send_response(int(status))
        lower = {k.lower() for k in headers}
        if ctype and "content-type" not in lower:
            self.send_header("Content-Type", ctype)
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        # Headers and body in one write (no Nagle/delayed-ACK stall between them).
        self._headers_buffer.append(b"\r\n")
        out = b"".join(self._headers_buffer)
        self._headers_buffer = []
        if self.command != "HEAD" and data:
            out += data
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ssl_context, access_log=None):
        self.ssl_context = ssl_context
        self.access_log = access_log
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            # Handshake in the worker thread (on first read), not in the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def make_server(host, port, certfile, keyfile, access_log=None):
    ctx = None
    if certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(certfile, keyfile)
        ctx.set_alpn_protocols(["http/1.1"])
    return SimServer((host, port), ctx, access_log)
