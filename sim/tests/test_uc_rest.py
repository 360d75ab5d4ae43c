"""Unity Catalog REST on the simulator: catalogs, schemas, tables, volumes, functions,
permissions, bindings, tags, paging, contract checks."""
import pytest

from drsim.databricks.testkit import estate

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


def test_schemas_tables_paging(client, e):
    ws, ms = e.prod.ws, e.prod.ms
    mk_catalog(client, ws, "big")
    r = client.post(ws, P + "/schemas", json={"name": "s", "catalog_name": "big", "comment": "c"})
    assert r.status_code == 200 and r.json()["full_name"] == "big.s"
    for i in range(120):
        ms.create_table(f"big.s.t{i:03d}", "admin", columns=[{"name": "id", "type_text": "int"}])
    seen, tok, pages = [], None, 0
    while True:
        params = {"catalog_name": "big", "schema_name": "s"}
        if tok:
            params["page_token"] = tok
        r = client.get(ws, P + "/tables", params=params).json()
        pages += 1
        seen += [t["name"] for t in r["tables"]]
        tok = r.get("next_page_token")
        if not tok:
            break
    assert pages == 3 and seen == [f"t{i:03d}" for i in range(120)]
    r = client.get(ws, P + "/tables", params={"catalog_name": "big", "schema_name": "s", "max_results": 7,
                                              "omit_columns": "true"}).json()
    assert len(r["tables"]) == 7 and "columns" not in r["tables"][0]
    r = client.get(ws, P + "/tables", params={"catalog_name": "big", "schema_name": "s", "page_token": "garbage!"})
    assert r.status_code == 400
    r = client.get(ws, P + "/table-summaries", params={"catalog_name": "big", "table_name_pattern": "t11%"}).json()
    assert [t["full_name"] for t in r["tables"]] == [f"big.s.t11{i}" for i in range(10)]
    t = client.get(ws, P + "/tables/big.s.t001").json()
    assert t["columns"][0] == {"name": "id", "type_text": "int", "type_name": "INT", "nullable": True, "position": 0}
    assert t["storage_location"].endswith("/tables/" + t["table_id"])
    assert client.patch(ws, P + "/tables/big.s.t001", json={"owner": "team"}).status_code == 200
    assert client.get(ws, P + "/tables/big.s.t001").json()["owner"] == "team"
    assert client.patch(ws, P + "/tables/big.s.t001", json={"comment": "x"}).status_code == 400
    r = client.delete(ws, P + "/schemas/big.s")
    assert r.status_code == 400   # not empty
    assert client.delete(ws, P + "/schemas/big.s", params={"force": "true"}).status_code == 200
    assert client.get(ws, P + "/schemas/big.s").status_code == 404
    r = client.get(ws, P + "/schemas", params={"catalog_name": "big"}).json()
    assert [s["name"] for s in r["schemas"]] == ["default", "information_schema"]


def test_external_table_and_locations(client, e):
    ws = e.prod.ws
    r = client.post(ws, P + "/external-locations", json={"name": "nested", "url": e.prod.root + "sub",
                                                         "credential_name": "prod-cred"})
    assert r.status_code == 400 and "overlaps" in r.json()["message"]
    r = client.post(ws, P + "/storage-credentials", json={
        "name": "cred2", "azure_managed_identity": {"access_connector_id": "/x/y", "managed_identity": "z"}})
    assert r.status_code == 400 and "azure_managed_identity.managed_identity" in r.json()["message"]
    acid = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Databricks/accessConnectors/ac2"
    r = client.post(ws, P + "/storage-credentials", json={"name": "cred2", "azure_managed_identity": {
        "access_connector_id": acid}})
    assert r.status_code == 400 and "access connector" in r.json()["message"]
    from drsim.state import SIM
    SIM.arm.put(acid, {"id": acid, "name": "ac2", "type": "Microsoft.Databricks/accessConnectors",
                       "location": "westeurope", "identity": {"type": "SystemAssigned"}})
    r = client.post(ws, P + "/storage-credentials", json={"name": "cred2", "azure_managed_identity": {
        "access_connector_id": acid}})
    assert r.status_code == 200, r.text
    other = "abfss://ext@stother.dfs.core.windows.net/"
    r = client.post(ws, P + "/external-locations", json={"name": "ext", "url": other, "credential_name": "cred2"})
    assert r.status_code == 200, r.text
    mk_catalog(client, ws, "raw")
    body = {"name": "events", "catalog_name": "raw", "schema_name": "default", "table_type": "EXTERNAL",
            "data_source_format": "PARQUET", "storage_location": other + "events",
            "columns": [{"name": "ts", "type_text": "timestamp", "type_name": "TIMESTAMP", "position": 0}]}
    r = client.post(ws, P + "/tables", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["table_type"] == "EXTERNAL" and r.json()["data_source_format"] == "PARQUET"
    r = client.post(ws, P + "/tables", json=dict(body, name="events2", storage_location=other + "events/part"))
    assert r.status_code == 400 and "overlaps" in r.json()["message"]
    r = client.post(ws, P + "/tables", json=dict(body, name="x", storage_location="abfss://n@nowhere.dfs.core.windows.net/x"))
    assert r.status_code == 400 and "external location" in r.json()["message"]
    r = client.post(ws, P + "/tables", json=dict(body, name="y", columns=[{"name": "a", "typ_text": "int"}]))
    assert r.status_code == 400 and "columns[0].typ_text" in r.json()["message"]
    r = client.delete(ws, P + "/external-locations/ext")
    assert r.status_code == 400   # a table depends on it
    locs = client.get(ws, P + "/external-locations").json()["external_locations"]
    assert sorted(x["name"] for x in locs) == ["ext", "prod-root"]
    cred = client.get(ws, P + "/storage-credentials/cred2").json()
    assert cred["azure_managed_identity"]["access_connector_id"].endswith("/ac2")


def test_grants_direct_and_effective(client, e):
    ws, ms = e.prod.ws, e.prod.ms
    mk_catalog(client, ws, "sales")
    ms.create_schema("sales", "core", "admin")
    ms.create_table("sales.core.orders", "admin", columns=[{"name": "id", "type_text": "bigint"}])
    r = client.patch(ws, P + "/permissions/catalog/sales", json={"changes": [
        {"principal": "analysts", "add": ["USE_CATALOG", "SELECT"]}]})
    assert r.status_code == 200, r.text
    assert r.json()["privilege_assignments"] == [{"principal": "analysts", "privileges": ["SELECT", "USE_CATALOG"]}]
    r = client.patch(ws, P + "/permissions/table/sales.core.orders", json={"changes": [
        {"principal": "etl", "add": ["MODIFY", "SELECT"]}]})
    assert r.status_code == 200
    r = client.patch(ws, P + "/permissions/table/sales.core.orders", json={"changes": [
        {"principal": "etl", "add": ["USE_CATALOG"]}]})
    assert r.status_code == 400 and "USE_CATALOG" in r.json()["message"]
    r = client.patch(ws, P + "/permissions/table/sales.core.orders", json={"changes": [
        {"principal": "etl", "ad": ["SELECT"]}]})
    assert r.status_code == 400 and "changes[0].ad" in r.json()["message"]
    direct = client.get(ws, P + "/permissions/table/sales.core.orders").json()["privilege_assignments"]
    assert direct == [{"principal": "etl", "privileges": ["MODIFY", "SELECT"]}]
    eff = client.get(ws, P + "/effective-permissions/table/sales.core.orders").json()["privilege_assignments"]
    by = {x["principal"]: x["privileges"] for x in eff}
    assert by["analysts"] == [{"privilege": "SELECT", "inherited_from_type": "CATALOG", "inherited_from_name": "sales"}]
    assert {p["privilege"] for p in by["etl"]} == {"MODIFY", "SELECT"}
    assert all("inherited_from_name" not in p for p in by["etl"])
    r = client.get(ws, P + "/effective-permissions/table/sales.core.orders", params={"principal": "analysts"}).json()
    assert [x["principal"] for x in r["privilege_assignments"]] == ["analysts"]
    client.patch(ws, P + "/permissions/table/sales.core.orders", json={"changes": [
        {"principal": "etl", "remove": ["MODIFY", "SELECT"]}]})
    assert client.get(ws, P + "/permissions/table/sales.core.orders").json().get("privilege_assignments", []) == []
    assert client.get(ws, P + "/permissions/table/sales.core.nope").status_code == 404
    assert client.get(ws, P + "/permissions/gizmo/sales").status_code == 400


def test_isolated_catalog_and_bindings(client, e):
    from drsim import testing
    from drsim.databricks.ucmodel import UC
    ws = e.prod.ws
    ws2 = testing.make_workspace("prod-ws2", "westeurope")
    UC.assign(int(ws2["id"]), e.prod.ms.metastore_id, None, "westeurope")
    mk_catalog(client, ws, "secret")
    r = client.patch(ws, P + "/catalogs/secret", json={"isolation_mode": "ISOLATED"})
    assert r.status_code == 200 and r.json()["isolation_mode"] == "ISOLATED"
    b = client.get(ws, P + "/bindings/catalog/secret").json()["bindings"]
    assert b == [{"workspace_id": int(ws["id"]), "binding_type": "BINDING_TYPE_READ_WRITE"}]
    assert "secret" not in [c["name"] for c in client.get(ws2, P + "/catalogs").json()["catalogs"]]
    r = client.get(ws2, P + "/catalogs/secret")
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    assert client.get(ws2, P + "/schemas", params={"catalog_name": "secret"}).status_code == 403
    r = client.patch(ws, P + "/bindings/catalog/secret", json={"add": [
        {"workspace_id": int(ws2["id"]), "binding_type": "BINDING_TYPE_READ_ONLY"}]})
    assert r.status_code == 200, r.text
    assert client.get(ws2, P + "/catalogs/secret").status_code == 200
    r = client.post(ws2, P + "/schemas", json={"name": "x", "catalog_name": "secret"})
    assert r.status_code == 403   # read-only binding
    r = client.patch(ws, P + "/bindings/catalog/secret", json={"add": [{"workspace_id": int(e.dr.ws["id"])}]})
    assert r.status_code == 400   # not in this metastore
    r = client.patch(ws, P + "/workspace-bindings/catalogs/secret", json={"unassign_workspaces": [int(ws2["id"])]})
    assert r.json()["workspaces"] == [int(ws["id"])]
    assert client.get(ws2, P + "/catalogs/secret").status_code == 403


def test_tags_volumes_functions(client, e):
    ws, ms = e.prod.ws, e.prod.ms
    mk_catalog(client, ws, "c")
    ms.create_schema("c", "s", "admin")
    ms.create_table("c.s.t", "admin", columns=[{"name": "email", "type_text": "string"}])
    r = client.post(ws, P + "/entity-tag-assignments", json={"tag_assignment": {
        "entity_type": "tables", "entity_name": "c.s.t", "tag_key": "pii", "tag_value": "yes"}})
    assert r.status_code == 200, r.text
    r = client.post(ws, P + "/entity-tag-assignments", json={"tag_assignment": {
        "entity_type": "columns", "entity_name": "c.s.t.email", "tag_key": "class", "tag_value": "email"}})
    assert r.status_code == 200, r.text
    r = client.post(ws, P + "/entity-tag-assignments", json={"tag_assignment": {
        "entity_type": "tables", "entity_name": "c.s.t", "tag_kye": "x"}})
    assert r.status_code == 400 and "tag_assignment.tag_kye" in r.json()["message"]
    tags = client.get(ws, P + "/entity-tag-assignments/tables/c.s.t/tags").json()["tag_assignments"]
    assert [(t["tag_key"], t["tag_value"]) for t in tags] == [("pii", "yes")]
    assert ms.get_tags("table", "c.s.t", column="email") == {"class": "email"}
    assert client.delete(ws, P + "/entity-tag-assignments/tables/c.s.t/tags/pii").status_code == 200
    assert client.get(ws, P + "/entity-tag-assignments/tables/c.s.t/tags/pii").status_code == 404
    # volumes
    r = client.post(ws, P + "/volumes", json={"catalog_name": "c", "schema_name": "s", "name": "v",
                                              "volume_type": "MANAGED"})
    assert r.status_code == 200 and r.json()["full_name"] == "c.s.v"
    r = client.post(ws, P + "/volumes", json={"catalog_name": "c", "schema_name": "s", "name": "v2",
                                              "volume_type": "EXTERNAL", "storage_location": "abfss://x@y.dfs.core.windows.net/v"})
    assert r.status_code == 400
    assert [v["name"] for v in client.get(ws, P + "/volumes", params={"catalog_name": "c", "schema_name": "s"}).json()["volumes"]] == ["v"]
    # functions
    fi = {"name": "mask_email", "catalog_name": "c", "schema_name": "s",
          "input_params": {"parameters": [{"name": "e", "type_text": "string", "type_name": "STRING", "position": 0}]},
          "data_type": "STRING", "full_data_type": "string", "routine_body": "SQL",
          "routine_definition": "concat('***', substr(e, 4))", "parameter_style": "S",
          "is_deterministic": True, "sql_data_access": "CONTAINS_SQL", "is_null_call": False,
          "security_type": "DEFINER", "specific_name": "mask_email"}
    r = client.post(ws, P + "/functions", json={"function_info": dict(fi, routine_defintion="x")})
    assert r.status_code == 400 and "function_info.routine_defintion" in r.json()["message"]
    r = client.post(ws, P + "/functions", json={"function_info": fi})
    assert r.status_code == 200, r.text
    f = client.get(ws, P + "/functions/c.s.mask_email").json()
    assert f["routine_definition"] == fi["routine_definition"] and f["full_name"] == "c.s.mask_email"
    assert client.delete(ws, P + "/functions/c.s.mask_email").status_code == 200
