"""Delta Sharing across the two metastores: recipient by global metastore id, provider appears on
the other side, a catalog from the share reads the provider's current table metadata, removing
the table from the share (or the recipient's grant) makes it unreadable."""
import pytest

from drsim.databricks.testkit import estate

P = "/api/2.1/unity-catalog"


@pytest.fixture
def e(client):
    e = estate()
    ms = e.prod.ms
    ms.create_catalog("sales", "admin", storage_root=e.prod.root + "sales")
    ms.create_schema("sales", "core", "admin")
    ms.create_table("sales.core.orders", "admin",
                    columns=[{"name": "id", "type_text": "bigint"}], comment="orders v1")
    ms.create_table("sales.core.items", "admin", columns=[{"name": "sku", "type_text": "string"}])
    return e


def share_to_dr(client, e, share="dr_share", objects=("sales.core.orders",)):
    pw, dw = e.prod.ws, e.dr.ws
    assert client.post(pw, P + "/shares", json={"name": share}).status_code == 200
    upd = [{"action": "ADD", "data_object": {"name": o, "data_object_type": "TABLE",
                                             "history_data_sharing_status": "ENABLED"}}
           for o in objects]
    r = client.patch(pw, P + f"/shares/{share}", json={"updates": upd})
    assert r.status_code == 200, r.text
    gid = client.get(dw, P + "/metastore_summary").json()["global_metastore_id"]
    assert gid == f"azure:northeurope:{e.dr.ms.metastore_id}"
    r = client.post(pw, P + "/recipients", json={"name": "dr", "authentication_type": "DATABRICKS",
                                                 "data_recipient_global_metastore_id": gid})
    assert r.status_code == 200, r.text
    r = client.patch(pw, P + f"/shares/{share}/permissions",
                     json={"changes": [{"principal": "dr", "add": ["SELECT"]}]})
    assert r.status_code == 200, r.text
    provs = client.get(dw, P + "/providers").json()["providers"]
    assert len(provs) == 1
    return provs[0]


def test_share_contract(client, e):
    pw = e.prod.ws
    client.post(pw, P + "/shares", json={"name": "s"})
    r = client.patch(pw, P + "/shares/s", json={"updates": [
        {"action": "ADD", "data_object": {"name": "sales.core.orders", "shared_ass": "x.y"}}]})
    assert r.status_code == 400 and "updates[0].data_object.shared_ass" in r.json()["message"]
    r = client.patch(pw, P + "/shares/s", json={"updates": [
        {"action": "ADD", "data_object": {"name": "sales.core.orders", "shared_as": "core.o"}}]})
    assert r.status_code == 200
    obj = r.json()["objects"][0]
    assert obj["shared_as"] == "core.o" and obj["data_object_type"] == "TABLE"
    assert obj["status"] == "ACTIVE"
    r = client.get(pw, P + "/shares/s", params={"include_shared_data": "true"})
    assert [o["name"] for o in r.json()["objects"]] == ["sales.core.orders"]
    r = client.patch(pw, P + "/shares/s", json={"updates": [
        {"action": "ADD", "data_object": {"name": "sales.core.nope"}}]})
    assert r.status_code == 404


def test_recipient_validation(client, e):
    pw = e.prod.ws
    r = client.post(pw, P + "/recipients", json={"name": "x", "authentication_type": "DATABRICKS"})
    assert r.status_code == 400 and "data_recipient_global_metastore_id" in r.json()["message"]
    r = client.post(pw, P + "/recipients", json={
        "name": "x", "authentication_type": "DATABRICKS",
        "data_recipient_global_metastore_id": "azure:northeurope:00000000-0000-0000-0000-00000000dead"})
    assert r.status_code == 400
    r = client.patch(pw, P + "/shares/nope/permissions", json={"changes": []})
    assert r.status_code == 404


def test_sharing_across_metastores(client, e):
    prov = share_to_dr(client, e)
    dw = e.dr.ws
    assert prov["data_provider_global_metastore_id"] == e.prod.ms.global_metastore_id
    r = client.get(dw, P + f"/providers/{prov['name']}/shares")
    assert [s["name"] for s in r.json()["shares"]] == ["dr_share"]
    r = client.post(dw, P + "/catalogs", json={"name": "sales_shared", "provider_name": prov["name"],
                                               "share_name": "dr_share"})
    assert r.status_code == 200, r.text
    assert r.json()["catalog_type"] == "DELTASHARING_CATALOG"
    r = client.get(dw, P + "/schemas", params={"catalog_name": "sales_shared"})
    assert [s["name"] for s in r.json()["schemas"]] == ["core"]
    r = client.get(dw, P + "/tables", params={"catalog_name": "sales_shared", "schema_name": "core"})
    assert [t["name"] for t in r.json()["tables"]] == ["orders"]
    t = client.get(dw, P + "/tables/sales_shared.core.orders").json()
    assert t["comment"] == "orders v1" and t["full_name"] == "sales_shared.core.orders"
    # the provider changes the table: the consumer sees the current metadata
    e.prod.ms.update_table("sales.core.orders", comment="orders v2")
    t = client.get(dw, P + "/tables/sales_shared.core.orders").json()
    assert t["comment"] == "orders v2"
    # shared catalogs are read-only
    r = client.post(dw, P + "/schemas", json={"name": "x", "catalog_name": "sales_shared"})
    assert r.status_code == 403
    # the table leaves the share: unreadable
    r = client.patch(e.prod.ws, P + "/shares/dr_share", json={"updates": [
        {"action": "REMOVE", "data_object": {"name": "sales.core.orders"}}]})
    assert r.status_code == 200
    r = client.get(dw, P + "/tables/sales_shared.core.orders")
    assert r.status_code == 404
    assert client.get(dw, P + "/tables/sales_shared.core.orders/exists").json() == {"table_exists": False}


def test_revoked_recipient_loses_access(client, e):
    prov = share_to_dr(client, e)
    dw = e.dr.ws
    client.post(dw, P + "/catalogs", json={"name": "c", "provider_name": prov["name"],
                                           "share_name": "dr_share"})
    assert client.get(dw, P + "/tables/c.core.orders").status_code == 200
    r = client.get(e.prod.ws, P + "/recipients/dr/share-permissions").json()
    assert r["permissions_out"][0]["share_name"] == "dr_share"
    client.patch(e.prod.ws, P + "/shares/dr_share/permissions",
                 json={"changes": [{"principal": "dr", "remove": ["SELECT"]}]})
    r = client.get(dw, P + "/tables/c.core.orders")
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"


def test_catalog_from_ungranted_share_refused(client, e):
    pw, dw = e.prod.ws, e.dr.ws
    client.post(pw, P + "/shares", json={"name": "s"})
    gid = e.dr.ms.global_metastore_id
    client.post(pw, P + "/recipients", json={"name": "dr", "authentication_type": "DATABRICKS",
                                             "data_recipient_global_metastore_id": gid})
    prov = client.get(dw, P + "/providers").json()["providers"][0]["name"]
    r = client.post(dw, P + "/catalogs", json={"name": "c", "provider_name": prov, "share_name": "s"})
    assert r.status_code == 403


def test_schema_share_and_paging(client, e):
    pw = e.prod.ws
    for i in range(7):
        client.post(pw, P + "/shares", json={"name": f"s{i}"})
    r = client.get(pw, P + "/shares", params={"max_results": 3}).json()
    assert len(r["shares"]) == 3 and r["next_page_token"]
    seen = [s["name"] for s in r["shares"]]
    while r.get("next_page_token"):
        r = client.get(pw, P + "/shares", params={"max_results": 3,
                                                   "page_token": r["next_page_token"]}).json()
        seen += [s["name"] for s in r["shares"]]
    assert seen == [f"s{i}" for i in range(7)]
    r = client.patch(pw, P + "/shares/s0", json={"updates": [
        {"action": "ADD", "data_object": {"name": "sales.core", "data_object_type": "SCHEMA"}}]})
    assert r.status_code == 200, r.text
    gid = e.dr.ms.global_metastore_id
    client.post(pw, P + "/recipients", json={"name": "dr", "authentication_type": "DATABRICKS",
                                             "data_recipient_global_metastore_id": gid})
    client.patch(pw, P + "/shares/s0/permissions", json={"changes": [{"principal": "dr", "add": ["SELECT"]}]})
    dw = e.dr.ws
    prov = client.get(dw, P + "/providers").json()["providers"][0]["name"]
    client.post(dw, P + "/catalogs", json={"name": "c", "provider_name": prov, "share_name": "s0"})
    r = client.get(dw, P + "/tables", params={"catalog_name": "c", "schema_name": "core"})
    assert sorted(t["name"] for t in r.json()["tables"]) == ["items", "orders"]


def test_resolve_exposes_shared_object(client, e):
    prov = share_to_dr(client, e)
    e.dr.ms.create_catalog("c", "admin", provider_name=prov["name"], share_name="dr_share")
    r = e.dr.ms.resolve("c.core.orders")
    assert r.via_share and r.table is e.prod.ms.get_table("sales.core.orders")
    assert r.shared_object["history_data_sharing_status"] == "ENABLED"
    assert e.dr.ms.resolve("c.core.orders").metastore is e.prod.ms
    # the provider's history is what the consumer reads
    e.prod.ms.history_append("sales.core.orders", "WRITE", {"mode": "Append"}, "etl")
    assert [v["operation"] for v in e.dr.ms.history("c.core.orders")] == ["WRITE"]
    local = e.prod.ms.resolve("sales.core.orders")
    assert not local.via_share and local.shared_object is None


def test_recipient_shape_checked(client, e):
    pw = e.prod.ws
    r = client.post(pw, P + "/recipients", json={"name": "r", "authentication_type": "DATABRICK",
                                                 "data_recipient_global_metastore_id": e.dr.ms.global_metastore_id})
    assert r.status_code == 400 and "authentication_type" in r.json()["message"]
    r = client.post(pw, P + "/recipients", json={"name": "r", "authentication_type": "DATABRICKS",
                                                 "data_recipient_global_metastore_id": e.dr.ms.global_metastore_id,
                                                 "properties_kvpairs": {"props": {"a": "b"}}})
    assert r.status_code == 400 and "properties_kvpairs.props" in r.json()["message"]
    r = client.post(pw, P + "/recipients", json={"name": "r", "authentication_type": "DATABRICKS",
                                                 "data_recipient_global_metastore_id": e.dr.ms.global_metastore_id,
                                                 "properties_kvpairs": {"properties": {"team": "dr"}}})
    assert r.status_code == 200 and r.json()["properties_kvpairs"] == {"properties": {"team": "dr"}}


def test_listing_skips_tables_dropped_by_provider(client, e):
    prov = share_to_dr(client, e, objects=("sales.core.orders", "sales.core.items"))
    dw = e.dr.ws
    client.post(dw, P + "/catalogs", json={"name": "c", "provider_name": prov["name"], "share_name": "dr_share"})
    e.prod.ms.delete_table("sales.core.items")
    r = client.get(dw, P + "/tables", params={"catalog_name": "c", "schema_name": "core"})
    assert r.status_code == 200 and [t["name"] for t in r.json()["tables"]] == ["orders"]
    assert client.get(dw, P + "/tables/c.core.items").status_code == 404


def test_share_limits(client, e, monkeypatch):
    from drsim.databricks import ucmodel
    monkeypatch.setitem(ucmodel.SHARE_LIMITS, "tables_per_share", 2)
    monkeypatch.setitem(ucmodel.SHARE_LIMITS, "schemas_per_share", 1)
    ms, pw = e.prod.ms, e.prod.ws
    ms.create_schema("sales", "other", "admin")
    ms.create_table("sales.other.x", "admin", columns=[{"name": "a", "type_text": "int"}])
    ms.create_table("sales.core.third", "admin", columns=[{"name": "a", "type_text": "int"}])
    client.post(pw, P + "/shares", json={"name": "s"})
    add = lambda n: {"action": "ADD", "data_object": {"name": n}}  # noqa: E731
    assert client.patch(pw, P + "/shares/s", json={"updates": [add("sales.core.orders"), add("sales.core.items")]}).status_code == 200
    r = client.patch(pw, P + "/shares/s", json={"updates": [add("sales.core.third")]})
    assert r.status_code == 400 and r.json()["error_code"] == "QUOTA_EXCEEDED" and "tables" in r.json()["message"]
    r = client.patch(pw, P + "/shares/s", json={"updates": [
        {"action": "REMOVE", "data_object": {"name": "sales.core.items"}}, add("sales.other.x")]})
    assert r.status_code == 400 and "schemas" in r.json()["message"]
    r = client.patch(pw, P + "/shares/s", json={"updates": [
        {"action": "REMOVE", "data_object": {"name": "sales.core.items"}}, add("sales.core.third")]})
    assert r.status_code == 200
    # a shared schema counts its tables
    client.post(pw, P + "/shares", json={"name": "s2"})
    r = client.patch(pw, P + "/shares/s2", json={"updates": [
        {"action": "ADD", "data_object": {"name": "sales.core", "data_object_type": "SCHEMA"}}]})
    assert r.status_code == 400   # 3 tables in sales.core
    monkeypatch.setitem(ucmodel.SHARE_LIMITS, "shares_per_metastore", 2)
    assert client.post(pw, P + "/shares", json={"name": "s3"}).status_code == 400
