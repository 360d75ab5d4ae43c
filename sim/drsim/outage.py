"""Region outages: while one is on, every endpoint that belongs to a region fails as it does when
an Azure region is down, until the outage is lifted (admin POST/DELETE /outages).

What belongs to a region: its workspaces (every request to adb-<id> hosts), the account APIs of
its metastores, workspaces and network connectivity configurations (paths naming one), and ARM
requests under a resource group in that region or naming the region's location (operation
status). Entra ID and the account APIs of other regions keep answering, as they do in reality
(both are global services).

Modes: "503" answers 503 ServiceUnavailable in the host's error shape (with Retry-After), "drop"
closes the connection without an answer (what a client sees when a front door is gone), "hang"
holds the request for `hang_s` seconds and then drops it (a black-holed address: clients need
their own timeouts).
# FIDELITY: a real outage also makes names stop resolving and TLS handshakes time out; here the
# listener stays up and the failure happens after the request line is read. Azurite (blob state)
# has no outage switch: a region's state container stays reachable.
"""
import re
import threading
import time

from .errors import error_for_host
from .state import SIM

MODES = ("503", "drop", "hang")

_RG = re.compile(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)", re.I)
_GLOBAL = re.compile(r"/providers/Microsoft\.Network/(dnsZones|privateDnsZones)/", re.I)
_LOC = re.compile(r"/locations/([^/]+)/", re.I)
_ACCOUNT_OBJ = re.compile(r"/(metastores|workspaces|network-connectivity-configs)/([^/]+)")


class ConnectionDropped(Exception):
    """Raised to make the server close the connection without an answer."""


class Outages:
    def __init__(self):
        self.lock = threading.Lock()
        self.regions = {}

    def set(self, region, mode="503", hang_s=30.0):
        region = _norm(region)
        if not region:
            raise ValueError("region: required (an Azure region name, e.g. westeurope)")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        try:
            hang_s = float(hang_s)
        except (TypeError, ValueError):
            raise ValueError("hang_s: expected a number of seconds") from None
        rec = {"region": region, "mode": mode, "hang_s": hang_s,
               "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "failed_requests": 0}
        with self.lock:
            self.regions[region] = rec
        return dict(rec)

    def clear(self, region=None):
        with self.lock:
            if region is None:
                n = len(self.regions)
                self.regions.clear()
                return n
            return 1 if self.regions.pop(_norm(region), None) else 0

    def list(self):
        with self.lock:
            return [dict(r) for r in sorted(self.regions.values(), key=lambda r: r["region"])]

    def before(self, req, ws_id):
        """Fail the request when it belongs to a region that is down."""
        with self.lock:
            if not self.regions:
                return
        region = region_of(req, ws_id)
        with self.lock:
            rec = self.regions.get(region) if region else None
            if rec is None:
                return
            rec["failed_requests"] += 1
            mode, hang_s = rec["mode"], rec["hang_s"]
        if mode == "hang":
            time.sleep(hang_s)
            raise ConnectionDropped()
        if mode == "drop":
            raise ConnectionDropped()
        code = "ServiceUnavailable" if req.host_kind == "management" else "TEMPORARILY_UNAVAILABLE"
        raise error_for_host(req.host_kind, 503, code,
                             f"The service in region '{region}' is unavailable.", {"Retry-After": "10"})


def _norm(region):
    return str(region or "").lower().replace(" ", "")


def region_of(req, ws_id):
    """The Azure region a request belongs to, or None for a global service."""
    kind = req.host_kind
    if kind == "workspace":
        ws = SIM.workspaces.get(ws_id)
        return _norm(ws.get("region")) if ws else None
    if kind == "management":
        if _GLOBAL.search(req.path):
            return None   # Azure DNS zones are global: they answer whichever region is down
        m = _RG.match(req.path)
        if m:
            rg = SIM.arm.get(f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/{m.group(1)}")
            if rg:
                return _norm(rg.get("location"))
        m = _LOC.search(req.path)
        return _norm(m.group(1)) if m else None
    if kind == "accounts":
        return _account_region(req.path)
    return None


def _account_region(path):
    for what, ident in _ACCOUNT_OBJ.findall(path):
        if what == "workspaces":
            ws = SIM.workspaces.get(ident)
            if ws:
                return _norm(ws.get("region"))
        elif what == "metastores":
            from .databricks.ucmodel import UC
            try:
                return _norm(UC.get_metastore(ident).region)
            except Exception:  # an unknown metastore: the API answers 404 itself
                continue
        else:
            from .databricks import account_routes
            nccs = account_routes.ACCOUNT.nccs
            if ident in nccs:
                return _norm(nccs[ident].get("region"))
    return None


OUTAGES = Outages()
SIM.on_reset(OUTAGES.clear)
