"""Helpers for pytest: an in-process simulator, *.localhost name resolution, an HTTPS client.

sim/tests/conftest.py exposes them as fixtures: `sim` (session: the running simulator),
`client` (a SimClient; SIM and faults are reset before every test), `arm` / `acct` / `ws_client`.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time

import requests

from .faults import FAULTS
from .state import DATABRICKS_RESOURCE, SIM

_orig_getaddrinfo = socket.getaddrinfo
_patched = False
_lock = threading.Lock()


def patch_dns():
    """Resolve every *.localhost name to 127.0.0.1 in this process (as libcurl does)."""
    global _patched
    with _lock:
        if _patched:
            return

        def getaddrinfo(host, *args, **kwargs):
            if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
                host = "127.0.0.1"
            return _orig_getaddrinfo(host, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo
        _patched = True


class Azurite:
    """Azurite's blob service for an in-process simulator (pytest): plain HTTP on a free loopback
    port, in memory, through sim/bin/azurite-blob.js; configures drsim.blob to use it."""

    def __init__(self, run_dir: str):
        from .blob import BLOBS
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.accounts_file = os.path.join(run_dir, "azurite-accounts")
        self.secret = secrets.token_hex(32)
        log = os.path.join(run_dir, "azurite.log")
        env = dict(os.environ, DRSIM_AZURITE_ACCOUNTS_FILE=self.accounts_file)
        env.pop("AZURITE_ACCOUNTS", None)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [shutil.which("node") or "node", os.path.join(here, "bin", "azurite-blob.js"),
                 "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                 "--extentMemoryLimit", "1024", "--skipApiVersionCheck", "--disableTelemetry",
                 "--loose"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True, cwd=here)
        end = time.monotonic() + 30
        port = None
        while time.monotonic() < end and port is None:
            with open(log, encoding="utf-8", errors="replace") as f:
                m = re.search(r"successfully listens on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise RuntimeError(f"Azurite exited ({self.proc.returncode}); see {log}")
            else:
                time.sleep(0.05)
        if port is None:
            self.stop()
            raise RuntimeError(f"Azurite did not start; see {log}")
        self.endpoint = f"http://127.0.0.1:{port}"
        BLOBS.configure(self.endpoint, self.accounts_file, self.secret)
        self.config_file = os.path.join(run_dir, "azurite.json")      # as sim-up writes it
        with open(self.config_file, "w", encoding="utf-8") as f:
            json.dump({"endpoint": self.endpoint, "accounts_file": self.accounts_file,
                       "secret": self.secret, "ca": None}, f)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def reset():
    SIM.reset()
    FAULTS.clear()


class SimClient:
    """requests-based client for one running simulator. `host` arguments are host kinds
    ("login", "management", "accounts", "imds", "admin"), a workspace record/id, or a URL."""

    def __init__(self, running):
        patch_dns()
        self.running = running
        self.session = requests.Session()
        self.session.verify = running.ca
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self._tokens = {}

    def base(self, host):
        if isinstance(host, dict):
            return host["url"]
        if isinstance(host, str) and host.startswith("https://"):
            return host.rstrip("/")
        if isinstance(host, str) and host.isdigit():
            return "https://" + SIM.config.workspace_host(host)
        return SIM.config.url(host)

    def request(self, method, host, path, json=None, data=None, headers=None, token=None, params=None,
                auth=True, timeout=30):
        """token: None = a fresh Entra token for the host kind (ARM or Databricks audience),
        False/"" = no Authorization header, a string = that bearer token."""
        h = dict(headers or {})
        if token is None and auth:
            kind = host if isinstance(host, str) and host in ("management", "accounts") else (
                "workspace" if isinstance(host, dict) or (isinstance(host, str) and host.isdigit()) else None)
            if kind == "management":
                token = self.token("https://management.azure.com/.default")
            elif kind in ("accounts", "workspace"):
                token = self.token(DATABRICKS_RESOURCE + "/.default")
        if token:
            h["Authorization"] = "Bearer " + token
        return self.session.request(method, self.base(host) + path, json=json, data=data, headers=h,
                                    params=params, timeout=timeout, verify=self.running.ca)

    def get(self, host, path, **kw):
        return self.request("GET", host, path, **kw)

    def post(self, host, path, **kw):
        return self.request("POST", host, path, **kw)

    def put(self, host, path, **kw):
        return self.request("PUT", host, path, **kw)

    def patch(self, host, path, **kw):
        return self.request("PATCH", host, path, **kw)

    def delete(self, host, path, **kw):
        return self.request("DELETE", host, path, **kw)

    def token(self, scope, client_id=None, secret=None):
        """A token from the simulated Entra endpoint (client secret flow), cached per scope."""
        key = (scope, client_id)
        tok = self._tokens.get(key)
        if tok and SIM.apps.get(client_id or SIM.config.client_id):
            return tok
        r = self.session.post(SIM.config.url("login", f"/{SIM.config.tenant_id}/oauth2/v2.0/token"),
                              data={"grant_type": "client_credentials", "client_id": client_id or SIM.config.client_id,
                                    "client_secret": secret or SIM.config.client_secret, "scope": scope},
                              timeout=30, verify=self.running.ca)
        r.raise_for_status()
        tok = r.json()["access_token"]
        self._tokens[key] = tok
        return tok

    # ARM convenience: PUT and poll the long-running operation to its end.
    def arm_put(self, resource_id, api_version, body, wait=True):
        r = self.put("management", resource_id, params={"api-version": api_version}, json=body)
        if not wait or r.status_code >= 300:
            return r
        return self.arm_wait(r, resource_id, api_version)

    def arm_wait(self, r, resource_id, api_version, max_polls=50):
        url = r.headers.get("Azure-AsyncOperation") or r.headers.get("Location")
        if not url:
            return r
        for _ in range(max_polls):
            p = self.session.get(url, headers={"Authorization": "Bearer " + self.token(
                "https://management.azure.com/.default")}, timeout=30, verify=self.running.ca)
            if p.status_code == 202:
                continue
            if "Azure-AsyncOperation" in r.headers:
                status = p.json().get("status")
                if status in ("InProgress", "Accepted", "Running", "Updating", "Deleting", "Creating"):
                    continue
                if status != "Succeeded":
                    return p
            break
        if r.request.method == "DELETE":
            return p
        return self.get("management", resource_id, params={"api-version": api_version})


def make_workspace(name="ws", region="eastus2", **extra):
    """Register a workspace directly (without ARM) -> record; for Databricks-only tests."""
    return SIM.register_workspace(name, region, **extra)
