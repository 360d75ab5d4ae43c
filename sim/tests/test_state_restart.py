"""--state-dir: the Unity Catalog model survives a restart (written by SIM.save(), read back by
SIM.load() when the simulator starts on the same state dir), not only ARM and Entra state."""
import os

from drsim import testing
from drsim.databricks.testkit import estate
from drsim.state import SIM

P = "/api/2.1/unity-catalog"


def test_unity_catalog_resumes_after_restart(client, tmp_path):
    e = estate()
    ws = e.prod.ws
    r = client.post(ws, P + "/catalogs", json={"name": "sales", "storage_root": e.prod.root + "sales"})
    assert r.status_code == 200, r.text
    assert client.post(ws, P + "/schemas", json={"name": "orders", "catalog_name": "sales"}).status_code == 200
    r = client.patch(ws, P + "/permissions/catalog/sales",
                     json={"changes": [{"principal": "analysts", "add": ["USE_CATALOG"]}]})
    assert r.status_code == 200, r.text
    e.prod.ms.create_table("sales.orders.t", "admin", columns=[
        {"name": "id", "type_text": "int", "type_name": "INT"}])
    SIM.config.state_dir = str(tmp_path)
    try:
        SIM.save()
    finally:
        SIM.config.state_dir = None
    snap = os.path.join(str(tmp_path), "state.json")
    testing.reset()                                   # the process is gone: nothing in memory
    assert client.get(ws, P + "/catalogs/sales").status_code == 404
    SIM.load(snap)                                    # what app.start(state_dir=...) does
    r = client.get(ws, P + "/catalogs/sales")
    assert r.status_code == 200, r.text
    assert r.json()["metastore_id"] == e.prod.ms.metastore_id
    assert client.get(ws, P + "/schemas/sales.orders").status_code == 200
    t = client.get(ws, P + "/tables/sales.orders.t").json()
    assert [c["name"] for c in t["columns"]] == ["id"]
    g = client.get(ws, P + "/permissions/catalog/sales").json()
    assert g["privilege_assignments"] == [{"principal": "analysts", "privileges": ["USE_CATALOG"]}]
    # the restored model is live: writes work and land in the same metastore
    assert client.post(ws, P + "/schemas", json={"name": "more", "catalog_name": "sales"}).status_code == 200
    assert client.get(e.dr.ws, P + "/metastore_summary").json()["metastore_id"] == e.dr.ms.metastore_id
