"""Admin helpers for tests and demos (admin host): pre-seed metastores and assignments without
going through the account API."""

from ..errors import DatabricksError
from ..http import route
from ..state import SIM
from .common import to_dbx_error
from .ucmodel import UC, UCError


@route("admin", "POST", "/dbx/metastores")
def seed_metastore(req):
    """{name, region, storage_root?, metastore_id?, owner?, workspace_ids?: [...]} -> MetastoreInfo."""
    b = req.json or {}
    try:
        m = UC.create_metastore(b.get("name"), b.get("region"), b.get("owner") or "admin",
                                b.get("storage_root"), b.get("metastore_id"))
        for ws in b.get("workspace_ids") or []:
            rec = SIM.workspaces.get(str(ws))
            if rec is None:
                raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"Workspace {ws} does not exist.")
            UC.assign(int(ws), m.metastore_id, None, rec.get("region"))
            rec["metastore_id"] = m.metastore_id
    except UCError as e:
        raise to_dbx_error(e) from None
    return m.info()


@route("admin", "GET", "/dbx/metastores")
def list_seeded(req):
    return {"metastores": [m.info() for m in UC.list_metastores()],
            "assignments": {str(ws): a[0] for ws, a in UC.assignments.items()}}
