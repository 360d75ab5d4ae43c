"""Unity Catalog REST on the simulator: catalogs, schemas, tables, volumes, functions,
permissions, bindings, tags, paging, contract checks."""
import pytest

from drsim.databricks.testkit import estate
from drsim.databricks.ucmodel import UC

P = "/api/2.1/unity-catalog"


@pytest.fixture
def e(client):
    return estate()


def mk_catalog(client, ws, name, root="abfss://uc@stprod.dfs.core.windows.net/"):
    r = client.post(ws, P + "/catalogs", json={"name": name, "storage_root": root + name})
    assert r.status_code == 200, r.text
    return r.json()


def test_catalog_crud_and_contract(client, e):
    ws = e.prod.ws
    r = client.post(ws, P + "/catalogs", json={"name": "sales", "storage_rot": "x"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "storage_rot" in r.json()["message"]
    c = mk_catalog(client, ws, "Sales")
    assert c["name"] == "sales" and c["catalog_type"] == "MANAGED_CATALOG"
    assert c["isolation_mode"] == "OPEN" and c["metastore_id"] == e.prod.ms.metastore_id
    r = client.post(ws, P + "/catalogs", json={"name": "sales", "storage_root": e.prod.root + "x"})
    assert r.status_code == 409 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    r = client.get(ws, P + "/catalogs/sales")
    assert r.status_code == 200 and r.json()["storage_root"].endswith("/Sales")
    r = client.patch(ws, P + "/catalogs/sales", json={"comment": "c1", "owner": "grp"})
    assert r.json()["comment"] == "c1" and r.json()["owner"] == "grp"
    r = client.get(ws, P + "/catalogs/nope")
    assert r.status_code == 404 and r.json()["error_code"] == "NOT_FOUND"
    assert r.json()["details"][0]["reason"] == "CATALOG_DOES_NOT_EXIST"
    r = client.delete(ws, P + "/catalogs/sales")
    assert r.status_code == 200
    assert client.get(ws, P + "/catalogs/sales").status_code == 404


def test_catalog_needs_root_under_location(client, e):
    ws = e.prod.ws
    r = client.post(ws, P + "/catalogs", json={"name": "c"})
    assert r.status_code == 400 and "storage" in r.json()["message"].lower()
    r = client.post(ws, P + "/catalogs",
                    json={"name": "c", "storage_root": "abfss://other@elsewhere.dfs.core.windows.net/c"})
    assert r.status_code == 400 and "external location" in r.json()["message"]


def test_no_metastore_assigned(client):
    from drsim import testing
    ws = testing.make_workspace("lonely", "eastus2")
    r = client.get(ws, P + "/catalogs")
    assert r.status_code == 404
    assert r.json()["error_code"] == "METASTORE_DOES_NOT_EXIST"
