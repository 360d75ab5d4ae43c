"""Process-wide simulator state: `SIM`.

SIM.lock (RLock) guards everything; SIM.arm (resource store), SIM.workspaces (workspace id ->
record), SIM.apps (Entra app registrations), SIM.identities (managed identities),
SIM.dbx_oauth (Databricks OAuth M2M clients), SIM.components (parts other modules register).
"""
import base64
import json
import os
import secrets
import threading
import time

# Placeholder ids (never real ones).
TENANT_ID = "00000000-0000-0000-0000-000000000001"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000002"
CLIENT_ID = "00000000-0000-0000-0000-000000000003"
CLIENT_OBJECT_ID = "00000000-0000-0000-0000-000000000004"
ACCOUNT_ID = "00000000-0000-0000-0000-000000000005"
MI_CLIENT_ID = "00000000-0000-0000-0000-000000000006"
MI_OBJECT_ID = "00000000-0000-0000-0000-000000000007"
DATABRICKS_RESOURCE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"  # AzureDatabricks first-party app id
DATABRICKS_SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000db"  # its service principal here


class Config:
    def __init__(self):
        self.domain = "sim.localhost"
        self.port = 0
        self.tenant_id = TENANT_ID
        self.subscription_id = SUBSCRIPTION_ID
        self.account_id = ACCOUNT_ID
        self.client_id = CLIENT_ID
        self.client_secret = "sim-" + secrets.token_urlsafe(24)
        self.lro_polls = 2            # polls in a non-terminal state before an LRO completes
        self.retry_after = 0          # Retry-After on LRO responses (seconds)
        self.token_lifetime = 3600
        self.page_size = 100          # ARM list page size (nextLink beyond it)
        self.graph_page_size = 1000   # Resource Graph rows per page (the service's maximum $top)
        self.lro_max_seconds = 2.0    # an LRO nobody polls completes after this long
        self.state_dir = None

    def url(self, kind, path=""):
        port = f":{self.port}" if self.port else ""
        return f"https://{kind}.{self.domain}{port}{path}"

    def workspace_host(self, ws_id):
        port = f":{self.port}" if self.port else ""
        return f"adb-{ws_id}.{self.domain}{port}"


class Stats:
    """Request counters per host kind and per route (admin GET /stats)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0
            self.by_host = {}
            self.by_route = {}
            self.by_status = {}

    def record(self, host_kind, route_name, status, elapsed):
        with self.lock:
            self.total += 1
            hk = host_kind or "unknown"
            self.by_host[hk] = self.by_host.get(hk, 0) + 1
            key = f"{hk} {route_name or '(no route)'}"
            self.by_route[key] = self.by_route.get(key, 0) + 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1

    def snapshot(self):
        with self.lock:
            return {"total": self.total, "by_host": dict(self.by_host),
                    "by_route": dict(self.by_route), "by_status": dict(self.by_status)}


class Sim:
    def __init__(self):
        self.lock = threading.RLock()
        self.config = Config()
        self.stats = Stats()
        self._workspace_hooks = []
        self._reset_hooks = []
        self._factories = {}
        self.components = {}
        self._next_ws = 0
        self.reset()

    # ---- lifecycle -------------------------------------------------------------------------
    def reset(self):
        """Forget every resource (registered hooks and components factories stay)."""
        from .arm.store import ArmStore
        with self.lock:
            self.arm = ArmStore(self)
            self.workspaces = {}
            self._next_ws = 0
            self.apps = {}
            self.identities = {}
            self.dbx_oauth = {}
            self.register_app(self.config.client_id, secret=self.config.client_secret,
                              object_id=CLIENT_OBJECT_ID, display_name="drhost-test-sp")
            self.identities[MI_CLIENT_ID] = {"client_id": MI_CLIENT_ID, "object_id": MI_OBJECT_ID,
                                             "name": "drhost-test-mi"}
            for name, factory in self._factories.items():
                self.components[name] = factory()
            for hook in list(self._reset_hooks):
                hook()
        self.stats.reset()

    def on_reset(self, callback):
        """callback() runs after every reset (and is not removed by it)."""
        self._reset_hooks.append(callback)
        return callback

    def register_component(self, name, factory):
        """Keep `factory()` at SIM.components[name], re-created on reset. If the object has
        dump() -> JSON-able and load(data), it is persisted with --state-dir."""
        with self.lock:
            self._factories[name] = factory
            self.components[name] = factory()
            return self.components[name]

    # ---- workspaces ------------------------------------------------------------------------
    def on_workspace_created(self, callback):
        """callback(record) runs (under SIM.lock) whenever a workspace is registered."""
        self._workspace_hooks.append(callback)
        return callback

    def new_workspace_id(self):
        with self.lock:
            self._next_ws += 1
            # Databricks workspace ids are 15-16 digit numbers.
            return str(1000000000000000 + int(time.time()) % 100000 * 1000 + self._next_ws)

    def register_workspace(self, name, region, arm_id=None, ws_id=None, **extra):
        """Create and register a workspace record; -> record. ARM calls this when a
        Microsoft.Databricks/workspaces PUT completes; tests may call it directly."""
        with self.lock:
            ws_id = ws_id or self.new_workspace_id()
            host = self.config.workspace_host(ws_id)
            rec = {"id": ws_id, "name": name, "region": region, "arm_id": arm_id,
                   "host": host, "url": "https://" + host, "metastore_id": None, "ncc_id": None,
                   "network_policy_id": None, "pricing_tier": "PREMIUM", "created": int(time.time() * 1000)}
            rec.update(extra)
            self.workspaces[ws_id] = rec
            for hook in list(self._workspace_hooks):
                hook(rec)
            return rec

    def workspace_by_arm_id(self, arm_id):
        with self.lock:
            for ws in self.workspaces.values():
                if ws.get("arm_id") and ws["arm_id"].lower() == arm_id.lower():
                    return ws
        return None

    # ---- Entra registrations -----------------------------------------------------------------
    def register_app(self, client_id, secret=None, certificates=None, federated=None,
                     object_id=None, display_name=None):
        """Register an Entra app (+ service principal). certificates: PEM strings;
        federated: [{"issuer", "subject", "audiences": [...]}]."""
        with self.lock:
            app = self.apps.get(client_id) or {"client_id": client_id, "secrets": [], "certs": {},
                                                "federated": []}
            app["object_id"] = object_id or app.get("object_id") or _guid_from(client_id, "obj")
            app["display_name"] = display_name or app.get("display_name") or client_id
            if secret:
                app["secrets"].append(secret)
            if certificates:
                from .tokens import cert_thumbprint
                for pem in certificates:
                    app["certs"][cert_thumbprint(pem)] = pem
            for fc in federated or []:
                app["federated"].append({"issuer": fc["issuer"], "subject": fc["subject"],
                                         "audiences": list(fc.get("audiences") or
                                                           ["api://AzureADTokenExchange"])})
            self.apps[client_id] = app
            return app

    # ---- persistence -------------------------------------------------------------------------
    def changed(self):
        """Note a change; with --state-dir a background thread writes state.json at most every
        0.5 s (and app.Running.stop() writes the last one)."""
        if not self.config.state_dir:
            return
        self._dirty = True
        if getattr(self, "_saver", None) is None or not self._saver.is_alive():
            self._saver = threading.Thread(target=self._save_loop, name="drsim-save", daemon=True)
            self._saver.start()

    def _save_loop(self):
        while self.config.state_dir:
            time.sleep(0.5)
            if getattr(self, "_dirty", False):
                self._dirty = False
                self.save()

    def dump(self):
        with self.lock:
            out = {"arm": self.arm.dump(), "workspaces": self.workspaces,
                   "apps": self.apps, "identities": self.identities, "dbx_oauth": self.dbx_oauth,
                   "components": {}}
            for name, comp in self.components.items():
                if hasattr(comp, "dump"):
                    out["components"][name] = comp.dump()
            return out

    def save(self):
        d = self.config.state_dir
        if not d:
            return
        with self.lock:
            data = json.dumps(self.dump(), indent=1, sort_keys=True, default=str)
            tmp = os.path.join(d, "state.json.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, os.path.join(d, "state.json"))

    def load(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        with self.lock:
            self.arm.load(data.get("arm") or {})
            self.workspaces = data.get("workspaces") or {}
            for cid, app in (data.get("apps") or {}).items():
                cur = self.apps.get(cid)
                if cur is not None:       # keep this run's secrets (the default SP's is new each start)
                    app["secrets"] = list(dict.fromkeys(cur["secrets"] + app.get("secrets", [])))
                self.apps[cid] = app
            self.identities.update(data.get("identities") or {})
            self.dbx_oauth.update(data.get("dbx_oauth") or {})
            for name, blob in (data.get("components") or {}).items():
                comp = self.components.get(name)
                if comp is not None and hasattr(comp, "load"):
                    comp.load(blob)


def _guid_from(seed, salt):
    import hashlib
    h = hashlib.sha256(f"{salt}:{seed}".encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def new_guid():
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


SIM = Sim()
