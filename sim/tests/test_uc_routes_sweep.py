"""The remaining UC / sharing routes, one behaviour each (update, delete, get of every object)."""
import pytest

from drsim import testing
from drsim.databricks.testkit import estate
from drsim.databricks.ucmodel import UC

P = "/api/2.1/unity-catalog"


@pytest.fixture
def e(client):
    e = estate()
    e.prod.ms.create_catalog("c", "admin", storage_root=e.prod.root + "c")
    e.prod.ms.create_schema("c", "s", "admin")
    return e


def test_schema_update_rename(client, e):
    ws = e.prod.ws
    r = client.patch(ws, P + "/schemas/c.s", json={"comment": "x", "properties": {"a": "1"}, "new_name": "s2"})
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "c.s2" and r.json()["properties"] == {"a": "1"}
    assert client.get(ws, P + "/schemas/c.s").status_code == 404
    assert client.patch(ws, P + "/schemas/c.s2", json={"comentt": "x"}).status_code == 400


def test_volume_get_update_delete(client, e):
    ws = e.prod.ws
    e.prod.ms.create_volume("c", "s", "v", "admin")
    v = client.get(ws, P + "/volumes/c.s.v").json()
    assert v["volume_type"] == "MANAGED" and v["storage_location"].endswith("/volumes/" + v["volume_id"])
    r = client.patch(ws, P + "/volumes/c.s.v", json={"comment": "files", "owner": "ops"})
    assert r.json()["comment"] == "files" and r.json()["owner"] == "ops"
    assert client.delete(ws, P + "/volumes/c.s.v").status_code == 200
    assert client.get(ws, P + "/volumes/c.s.v").status_code == 404


def test_credential_and_location_update_delete(client, e):
    ws = e.prod.ws
    r = client.patch(ws, P + "/storage-credentials/prod-cred", json={"comment": "mi", "read_only": True})
    assert r.status_code == 200 and r.json()["read_only"] is True
    r = client.patch(ws, P + "/external-locations/prod-root", json={"comment": "root", "owner": "platform"})
    assert r.json()["owner"] == "platform" and r.json()["credential_name"] == "prod-cred"
    assert client.delete(ws, P + "/storage-credentials/prod-cred").status_code == 400  # location depends
    assert client.delete(ws, P + "/external-locations/prod-root").status_code == 200
    assert client.delete(ws, P + "/storage-credentials/prod-cred").status_code == 200
    assert client.get(ws, P + "/storage-credentials").json().get("storage_credentials", []) == []


def test_workspace_level_metastore_routes(client, e):
    ws = e.prod.ws
    ms = client.get(ws, P + "/metastores/" + e.prod.ms.metastore_id).json()
    assert ms["region"] == "westeurope"
    assert len(client.get(ws, P + "/metastores").json()["metastores"]) == 2
    ws2 = testing.make_workspace("prod-2", "westeurope")
    r = client.put(ws, P + f"/workspaces/{ws2['id']}/metastore",
                   json={"metastore_id": e.prod.ms.metastore_id, "default_catalog_name": "c"})
    assert r.status_code == 200, r.text
    assert UC.assignment(int(ws2["id"]))[0] == e.prod.ms.metastore_id
    r = client.put(ws, P + f"/workspaces/{ws2['id']}/metastore", json={"metastore_id": e.dr.ms.metastore_id})
    assert r.status_code == 400   # wrong region


def test_recipient_provider_share_crud(client, e):
    pw, dw = e.prod.ws, e.dr.ws
    client.post(pw, P + "/shares", json={"name": "sh", "comment": "c"})
    r = client.post(pw, P + "/recipients", json={"name": "dr", "authentication_type": "DATABRICKS",
                                                 "data_recipient_global_metastore_id": e.dr.ms.global_metastore_id,
                                                 "comment": "dr region"})
    rec = r.json()
    assert rec["region"] == "northeurope" and rec["cloud"] == "azure" and rec["activated"] is True
    assert [x["name"] for x in client.get(pw, P + "/recipients").json()["recipients"]] == ["dr"]
    lst = client.get(pw, P + "/recipients", params={"data_recipient_global_metastore_id": "azure:x:y"}).json()
    assert lst.get("recipients", []) == []
    r = client.patch(pw, P + "/recipients/dr", json={"comment": "changed", "new_name": "dr2"})
    assert r.status_code == 200 and r.json()["name"] == "dr2"
    assert client.get(pw, P + "/recipients/dr").status_code == 404
    # UpdateRecipient (databricks-sdk) has no metastore id or authentication type: they force a new recipient
    for field, v in (("data_recipient_global_metastore_id", "azure:x:y"), ("authentication_type", "TOKEN")):
        r = client.patch(pw, P + "/recipients/dr2", json={field: v})
        assert r.status_code == 400 and field in r.text
    prov = client.get(dw, P + "/providers").json()["providers"][0]
    assert prov["authentication_type"] == "DATABRICKS" and prov["region"] == "westeurope"
    r = client.patch(dw, P + f"/providers/{prov['name']}", json={"new_name": "prod_provider"})
    assert r.status_code == 200 and r.json()["name"] == "prod_provider"
    assert client.get(dw, P + "/providers/prod_provider").status_code == 200
    assert client.post(dw, P + "/providers", json={"name": "x", "authentication_type": "TOKEN"}).status_code == 400
    r = client.patch(pw, P + "/shares/sh", json={"owner": "team", "new_name": "sh2"})
    assert r.json()["name"] == "sh2" and r.json()["owner"] == "team"
    assert client.delete(pw, P + "/shares/sh2").status_code == 200
    assert client.delete(pw, P + "/recipients/dr2").status_code == 200
    assert client.delete(dw, P + "/providers/prod_provider").status_code == 200
    assert client.get(dw, P + "/providers").json().get("providers", []) == []


def test_share_update_object_and_duplicates(client, e):
    pw, ms = e.prod.ws, e.prod.ms
    ms.create_table("c.s.t", "admin", columns=[{"name": "a", "type_text": "int"}])
    ms.create_table("c.s.u", "admin", columns=[{"name": "a", "type_text": "int"}])
    client.post(pw, P + "/shares", json={"name": "sh"})
    add = {"action": "ADD", "data_object": {"name": "c.s.t", "data_object_type": "TABLE"}}
    assert client.patch(pw, P + "/shares/sh", json={"updates": [add]}).status_code == 200
    assert client.patch(pw, P + "/shares/sh", json={"updates": [add]}).status_code == 409
    r = client.patch(pw, P + "/shares/sh", json={"updates": [
        {"action": "ADD", "data_object": {"name": "c.s.u", "shared_as": "s.t"}}]})
    assert r.status_code == 400   # shared_as clash
    r = client.patch(pw, P + "/shares/sh", json={"updates": [
        {"action": "UPDATE", "data_object": {"name": "c.s.t", "history_data_sharing_status": "ENABLED",
                                             "comment": "now with history"}}]})
    o = r.json()["objects"][0]
    assert o["history_data_sharing_status"] == "ENABLED" and o["comment"] == "now with history"
    r = client.patch(pw, P + "/shares/sh", json={"updates": [{"action": "DROP", "data_object": {"name": "c.s.t"}}]})
    assert r.status_code == 400
    # a failing batch changes nothing
    r = client.patch(pw, P + "/shares/sh", json={"updates": [
        {"action": "REMOVE", "data_object": {"name": "c.s.t"}},
        {"action": "ADD", "data_object": {"name": "c.s.missing"}}]})
    assert r.status_code == 404
    assert [x["name"] for x in client.get(pw, P + "/shares/sh", params={"include_shared_data": "true"}).json()["objects"]] == ["c.s.t"]
    assert "objects" not in client.get(pw, P + "/shares/sh").json()
