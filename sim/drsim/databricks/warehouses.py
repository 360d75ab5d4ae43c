"""SQL warehouses (workspace hosts, /api/2.0/sql/warehouses).

`warehouse_state(ws_id, warehouse_id)` -> "RUNNING" | "STOPPED" | ... | None is the hook the
Statement Execution API uses. FIDELITY: a warehouse is RUNNING as soon as it is created or
started (the real one goes through STARTING for minutes).
"""

import threading
import time
import uuid

from databricks.sdk.service import sql as Q

from ..errors import DatabricksError
from ..state import SIM
from .common import api, bad, body, check_shape, out, params_of, who
from .ucmodel import UC

W = "/api/2.0/sql/warehouses"
CLUSTER_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large",
                 "3X-Large", "4X-Large")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_ws = {}      # ws id (str) -> {warehouse id -> dict}


STORE = Store()


def _reset():
    global STORE
    STORE = Store()


UC.on_reset(_reset)


def warehouse_state(ws_id, warehouse_id):
    """State of a warehouse of a workspace, None if it does not exist there."""
    with STORE.lock:
        w = STORE.by_ws.get(str(ws_id), {}).get(str(warehouse_id))
        return None if w is None else w["state"]


def _validate(b, partial=False):
    check_shape({k: v for k, v in b.items() if k != "id"}, Q.CreateWarehouseRequest
                if hasattr(Q, "CreateWarehouseRequest") else Q.EndpointInfo)
    if not partial:
        for k in ("name", "cluster_size"):
            if not b.get(k):
                raise bad(f"Missing required field: {k}")
    if "cluster_size" in b and b["cluster_size"] not in CLUSTER_SIZES:
        raise bad(f"Invalid cluster_size '{b['cluster_size']}': expected one of "
                  f"{', '.join(CLUSTER_SIZES)}.")
    mn, mx = b.get("min_num_clusters", 1), b.get("max_num_clusters", 1)
    if not (isinstance(mn, int) and isinstance(mx, int) and 1 <= mn <= mx <= 40):
        raise bad("min_num_clusters and max_num_clusters must satisfy "
                  "1 <= min_num_clusters <= max_num_clusters <= 40.")
    stop = b.get("auto_stop_mins")
    if stop is not None and stop != 0 and stop < (5 if b.get("enable_serverless_compute") else 10):
        raise bad("auto_stop_mins must be 0 or at least 10 (5 for serverless).")
    if b.get("enable_serverless_compute") and b.get("warehouse_type") == "CLASSIC":
        raise bad("Serverless compute requires warehouse_type PRO.")


def _view(ws, w):
    host = ws["host"].split(":")[0]
    d = {k: v for k, v in w.items() if not k.startswith("_")}
    d.update({"odbc_params": {"hostname": host, "path": f"/sql/1.0/warehouses/{w['id']}",
                              "protocol": "https", "port": 443},
              "jdbc_url": f"jdbc:databricks://{host}:443/default;transportMode=http;ssl=1;"
                          f"AuthMech=3;httpPath=/sql/1.0/warehouses/{w['id']};",
              "num_clusters": 1 if w["state"] == "RUNNING" else 0,
              "num_active_sessions": 0,
              "health": {"status": "HEALTHY"} if w["state"] == "RUNNING" else None})
    return d


def _get(req):
    with STORE.lock:
        w = STORE.by_ws.get(req.workspace["id"], {}).get(req.params["id"])
    if w is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Warehouse {req.params['id']} does not exist.")
    return w


@api("workspace", "POST", W)
def create(req):
    b = body(req, params_of(Q.WarehousesAPI.create))
    _validate(b)
    wid = uuid.uuid4().hex[:16]
    w = {"id": wid, "name": b["name"], "cluster_size": b["cluster_size"],
         "min_num_clusters": b.get("min_num_clusters", 1),
         "max_num_clusters": b.get("max_num_clusters", 1),
         "auto_stop_mins": b.get("auto_stop_mins", 120),
         "enable_serverless_compute": b.get("enable_serverless_compute", False),
         "enable_photon": b.get("enable_photon", True),
         "warehouse_type": b.get("warehouse_type") or "PRO",
         "spot_instance_policy": b.get("spot_instance_policy") or "COST_OPTIMIZED",
         "channel": b.get("channel") or {"name": "CHANNEL_NAME_CURRENT"},
         "tags": b.get("tags"), "creator_name": who(req), "state": "RUNNING",
         "_created": int(time.time() * 1000)}
    with STORE.lock:
        ws = STORE.by_ws.setdefault(req.workspace["id"], {})
        if any(x["name"] == w["name"] for x in ws.values()):
            raise DatabricksError(400, "RESOURCE_ALREADY_EXISTS",
                                  f"SQL warehouse with name `{w['name']}` already exists.")
        ws[wid] = w
    return {"id": wid}


@api("workspace", "GET", W)
def list_(req):
    with STORE.lock:
        ws = STORE.by_ws.get(req.workspace["id"], {})
        return {"warehouses": [out(Q.EndpointInfo, _view(req.workspace, w))
                               for w in sorted(ws.values(), key=lambda w: w["_created"])]}


@api("workspace", "GET", W + "/{id}")
def get(req):
    return out(Q.GetWarehouseResponse, _view(req.workspace, _get(req)))


@api("workspace", "POST", W + "/{id}/edit")
def edit(req):
    b = body(req, params_of(Q.WarehousesAPI.edit))
    _validate(b, partial=True)
    with STORE.lock:
        w = _get(req)
        for k, v in b.items():
            if k != "id":
                w[k] = v
    return {}


@api("workspace", "POST", W + "/{id}/start")
def start(req):
    with STORE.lock:
        _get(req)["state"] = "RUNNING"
    return {}


@api("workspace", "POST", W + "/{id}/stop")
def stop(req):
    with STORE.lock:
        _get(req)["state"] = "STOPPED"
    return {}


@api("workspace", "DELETE", W + "/{id}")
def delete(req):
    with STORE.lock:
        _get(req)
        del STORE.by_ws[req.workspace["id"]][req.params["id"]]
    return {}


# Seed helper for tests/demos: a running warehouse without HTTP.
def seed(ws_id, name="sim-warehouse"):
    wid = uuid.uuid4().hex[:16]
    with STORE.lock:
        STORE.by_ws.setdefault(str(ws_id), {})[wid] = {
            "id": wid, "name": name, "cluster_size": "2X-Small", "min_num_clusters": 1,
            "max_num_clusters": 1, "auto_stop_mins": 10, "enable_serverless_compute": True,
            "warehouse_type": "PRO", "creator_name": "admin", "state": "RUNNING",
            "_created": int(time.time() * 1000)}
    return wid


_ = SIM  # the workspace records come from SIM via req.workspace
