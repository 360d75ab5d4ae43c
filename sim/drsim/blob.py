"""The simulator's blob storage: storage accounts on Azurite, reached with Shared Key.

Every storage account the estate names (UC managed storage, external storage, the state account)
is an Azurite account of the same name; a container of the same name holds the blobs. An
``abfss://container@account.dfs.core.windows.net/path`` URL maps to Azurite account ``account``,
container ``container``, blob names under ``path/``.

Azurite is started by sim-up (drsim.harness) or by the pytest fixtures, through
sim/bin/azurite-blob.js, which lets accounts be added while it runs: the simulator appends
``name:key`` to the accounts file before it first uses an account. Keys are derived from one
secret per run (HMAC-SHA256 of the account name), so a separate reader (tools/deltacheck.py) that
knows the run's azurite.json can compute them too.

How the simulator finds Azurite: ``configure(...)`` (pytest), or lazily from ``azurite.json`` in
the simulator's TLS/run directory, which sim-up writes once Azurite is listening:
``{"endpoint": "https://127.0.0.1:PORT", "accounts_file": "...", "secret": "...", "ca": "..."}``.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests

API_VERSION = "2021-08-06"
# FIDELITY: a URL that names no Azure storage account (s3://, gs://, a bare path) lands in this
# Azurite account, in a container named after the URL scheme.
OTHER_ACCOUNT = "drsimother"
# FIDELITY: Azure container names have 3..63 characters; a shorter one in a URL (tests use
# abfss://uc@...) is padded with "0" to make the Azurite container name.
_CONTAINER_MIN = 3


class BlobError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"blob storage: HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Loc:
    """A place in blob storage: account, container and a path prefix (no leading/trailing /)."""
    account: str
    container: str
    path: str

    def child(self, rel: str) -> str:
        return f"{self.path}/{rel}" if self.path else rel

    @property
    def url(self) -> str:
        return f"abfss://{self.container}@{self.account}.dfs.core.windows.net/{self.path}"


_URL = re.compile(r"^(abfss?|wasbs?)://([^@/]+)@([^./]+)\.(?:dfs|blob)\.core\.windows\.net/?(.*)$", re.I)


def container_name(name: str) -> str:
    n = re.sub(r"[^a-z0-9-]", "-", name.lower())
    return n + "0" * max(0, _CONTAINER_MIN - len(n))


def parse_url(url: str) -> Loc:
    """abfss://container@account.dfs.core.windows.net/path -> Loc(account, container, path)."""
    m = _URL.match(url.strip())
    if m:
        return Loc(m.group(3).lower(), container_name(m.group(2)), m.group(4).strip("/"))
    scheme, _, rest = url.partition("://")
    return Loc(OTHER_ACCOUNT, container_name(scheme or "file"), rest.strip("/"))


class Blobs:
    def __init__(self):
        self.lock = threading.Lock()
        self.config_dir: str | None = None
        self.endpoint: str | None = None
        self.accounts_file: str | None = None
        self.secret: bytes | None = None
        self.ca: str | None = None
        self._known: set[str] = set()
        self._containers: set[tuple[str, str]] = set()
        self._local = threading.local()

    # ---- configuration -------------------------------------------------------------------------
    def configure(self, endpoint: str, accounts_file: str, secret: str, ca: str | None = None):
        with self.lock:
            self.endpoint = endpoint.rstrip("/")
            self.accounts_file = accounts_file
            self.secret = secret.encode()
            self.ca = ca
            self._known = set()
            self._containers = set()
            if ca:
                # delta-rs (object_store, rustls) trusts the roots named by SSL_CERT_FILE; the
                # simulator's only TLS peers are itself and Azurite, both under its own CA
                os.environ["SSL_CERT_FILE"] = ca

    def _ready(self):
        if self.endpoint:
            return
        path = self.config_dir and os.path.join(self.config_dir, "azurite.json")
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                c = json.load(f)
            self.configure(c["endpoint"], c["accounts_file"], c["secret"], c.get("ca"))
            return
        raise BlobError(503, "no blob storage: the simulator runs without Azurite (start it with "
                             "sim/bin/sim-up, which starts Azurite too)")

    @property
    def available(self) -> bool:
        try:
            self._ready()
            return True
        except BlobError:
            return False

    def key(self, account: str) -> str:
        self._ready()
        return base64.b64encode(hmac.new(self.secret, account.encode(), hashlib.sha256).digest()).decode()

    def ensure_account(self, account: str):
        self._ready()
        if account in self._known:
            return
        with self.lock:
            if account in self._known:
                return
            have = set()
            if os.path.exists(self.accounts_file):
                with open(self.accounts_file, encoding="utf-8") as f:
                    have = {ln.split(":", 1)[0] for ln in f if ln.strip()}
            if account not in have:
                with open(self.accounts_file, "a", encoding="utf-8") as f:
                    f.write(f"{account}:{self.key(account)}\n")
            self._known.add(account)

    def ensure_container(self, account: str, container: str):
        if (account, container) in self._containers:
            return
        self.ensure_account(account)
        r = self._req("PUT", account, container, "", query={"restype": "container"})
        if r.status_code not in (201, 409):
            raise BlobError(r.status_code, r.text[:300])
        self._containers.add((account, container))

    def wipe(self):
        """Delete the data containers this process created (the simulator's reset)."""
        if not self.endpoint:
            return
        for account, container in sorted(self._containers):
            try:
                self._req("DELETE", account, container, "", query={"restype": "container"})
            except requests.RequestException:
                pass
        self._containers = set()

    # ---- delta-rs ------------------------------------------------------------------------------
    def delta_uri(self, loc: Loc) -> str:
        return f"abfss://{loc.container}@{loc.account}.dfs.core.windows.net/{loc.path}"

    def storage_options(self, account: str) -> dict:
        self.ensure_account(account)
        opts = {"account_name": account, "account_key": self.key(account),
                "azure_endpoint": f"{self.endpoint}/{account}"}
        if self.endpoint.startswith("http://"):
            opts["allow_http"] = "true"
        return opts

    # ---- REST ----------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        s = getattr(self._local, "s", None)
        if s is None:
            s = self._local.s = requests.Session()
            s.trust_env = False
            s.verify = self.ca or True
        return s

    def _req(self, method: str, account: str, container: str, name: str, query=None, data=b"",
             headers=None) -> requests.Response:
        self._ready()
        path = f"/{account}/{container}" + (("/" + urllib.parse.quote(name, safe="/")) if name else "")
        h = {"x-ms-date": dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"),
             "x-ms-version": API_VERSION}
        h.update(headers or {})
        q = dict(query or {})
        length = str(len(data)) if data else ""
        canon_h = "".join(f"{k}:{v}\n" for k, v in sorted((k.lower(), str(v)) for k, v in h.items()
                                                           if k.lower().startswith("x-ms-")))
        canon_r = f"/{account}{path}" + "".join(f"\n{k.lower()}:{v}" for k, v in sorted(q.items()))
        hv = {k.lower(): v for k, v in h.items()}
        sts = "\n".join([method, "", "", length, "", hv.get("content-type", ""), "", "",
                         hv.get("if-match", ""), hv.get("if-none-match", ""), "", hv.get("range", ""),
                         ]) + "\n" + canon_h + canon_r
        sig = base64.b64encode(hmac.new(base64.b64decode(self.key(account)), sts.encode(),
                                        hashlib.sha256).digest()).decode()
        h["Authorization"] = f"SharedKey {account}:{sig}"
        return self._session().request(method, self.endpoint + path, params=q or None,
                                       data=data if data else None, headers=h, timeout=60)

    def put(self, loc: Loc, name: str, data: bytes, if_none_match: bool = False):
        self.ensure_container(loc.account, loc.container)
        h = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"}
        if if_none_match:
            h["If-None-Match"] = "*"
        r = self._req("PUT", loc.account, loc.container, loc.child(name), data=data, headers=h)
        if r.status_code == 409 and if_none_match:
            raise BlobError(409, f"{loc.child(name)} already exists")
        if r.status_code != 201:
            raise BlobError(r.status_code, r.text[:300])

    def get(self, loc: Loc, name: str) -> bytes | None:
        self.ensure_account(loc.account)
        r = self._req("GET", loc.account, loc.container, loc.child(name))
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise BlobError(r.status_code, r.text[:300])
        return r.content

    def delete(self, loc: Loc, name: str):
        self.ensure_account(loc.account)
        r = self._req("DELETE", loc.account, loc.container, loc.child(name))
        if r.status_code not in (202, 404):
            raise BlobError(r.status_code, r.text[:300])

    def list(self, loc: Loc, sub: str = "") -> dict[str, int]:
        """Blobs under loc (and sub): {name relative to loc.path: size}."""
        self.ensure_account(loc.account)
        prefix = loc.child(sub) if sub else (loc.path + "/" if loc.path else "")
        out: dict[str, int] = {}
        marker = None
        while True:
            q = {"restype": "container", "comp": "list", "prefix": prefix}
            if marker:
                q["marker"] = marker
            r = self._req("GET", loc.account, loc.container, "", query=q)
            if r.status_code == 404:
                return out
            if r.status_code != 200:
                raise BlobError(r.status_code, r.text[:300])
            root = ET.fromstring(r.content)
            for b in root.iter("Blob"):
                n = b.findtext("Name")
                size = int(b.findtext("Properties/Content-Length") or 0)
                rel = n[len(loc.path) + 1:] if loc.path else n
                out[rel] = size
            marker = root.findtext("NextMarker")
            if not marker:
                return out

    def copy(self, src: Loc, src_name: str, dst: Loc, dst_name: str) -> int:
        data = self.get(src, src_name)
        if data is None:
            raise BlobError(404, f"{src.url}/{src_name} does not exist")
        self.put(dst, dst_name, data)
        return len(data)


BLOBS = Blobs()
