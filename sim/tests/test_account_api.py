"""Databricks account API: metastores (one per region), assignments (region must match),
workspaces from ARM records, NCC + private endpoint rules (PENDING -> approved through ARM ->
ESTABLISHED), NCC binding, network policies, SCIM, permission assignments."""

from drsim import testing
from drsim.state import SIM

SUB = "00000000-0000-0000-0000-000000000002"
SA = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stprod"


def A(path=""):
    return f"/api/2.0/accounts/{SIM.config.account_id}{path}"


def mk_metastore(client, name, region, **kw):
    r = client.post("accounts", A("/metastores"), json={"metastore_info": dict(name=name, region=region, **kw)})
    assert r.status_code == 200, r.text
    return r.json()["metastore_info"]


def test_metastore_lifecycle_and_contract(client):
    r = client.post("accounts", A("/metastores"), json={"metastore_info": {"name": "m", "regoin": "westeurope"}})
    assert r.status_code == 400 and "metastore_info.regoin" in r.json()["message"]
    m = mk_metastore(client, "prod", "westeurope")
    assert m["region"] == "westeurope" and m["cloud"] == "azure"
    assert m["global_metastore_id"] == f"azure:westeurope:{m['metastore_id']}"
    r = client.post("accounts", A("/metastores"), json={"metastore_info": {"name": "p2", "region": "westeurope"}})
    assert r.status_code == 400 and "region" in r.json()["message"]
    mk_metastore(client, "dr", "northeurope")
    r = client.get("accounts", A("/metastores")).json()
    assert sorted(x["name"] for x in r["metastores"]) == ["dr", "prod"]
    r = client.get("accounts", A(f"/metastores/{m['metastore_id']}")).json()
    assert r["metastore_info"]["name"] == "prod"
    r = client.put("accounts", A(f"/metastores/{m['metastore_id']}"),
                   json={"metastore_info": {"delta_sharing_scope": "INTERNAL_AND_EXTERNAL",
                                            "delta_sharing_organization_name": "contoso-prod"}})
    assert r.status_code == 200 and r.json()["metastore_info"]["delta_sharing_organization_name"] == "contoso-prod"
    assert client.delete("accounts", A(f"/metastores/{m['metastore_id']}")).status_code == 200
    assert client.get("accounts", A(f"/metastores/{m['metastore_id']}")).status_code == 404


def test_wrong_account_id(client):
    r = client.get("accounts", "/api/2.0/accounts/00000000-0000-0000-0000-0000000000ff/metastores")
    assert r.status_code == 404


def test_assignment_region_must_match(client):
    ws = testing.make_workspace("prod-ws", "westeurope")
    m = mk_metastore(client, "dr", "northeurope")
    path = A(f"/workspaces/{ws['id']}/metastores/{m['metastore_id']}")
    r = client.post("accounts", path, json={"metastore_assignment": {}})
    assert r.status_code == 400 and "region" in r.json()["message"]
    m2 = mk_metastore(client, "prod", "westeurope")
    path = A(f"/workspaces/{ws['id']}/metastores/{m2['metastore_id']}")
    r = client.post("accounts", path, json={"metastore_assignment": {"default_catalog_nam": "x"}})
    assert r.status_code == 400 and "default_catalog_nam" in r.json()["message"]
    r = client.post("accounts", path, json={"metastore_assignment": {"default_catalog_name": "main"}})
    assert r.status_code == 200, r.text
    assert client.post("accounts", path, json={"metastore_assignment": {}}).status_code == 409
    r = client.get("accounts", A(f"/workspaces/{ws['id']}/metastore")).json()
    assert r["metastore_assignment"]["metastore_id"] == m2["metastore_id"]
    r = client.get("accounts", A(f"/metastores/{m2['metastore_id']}/workspaces")).json()
    assert r["workspace_ids"] == [int(ws["id"])]
    assert SIM.workspaces[ws["id"]]["metastore_id"] == m2["metastore_id"]
    # the workspace now sees its metastore
    r = client.get(ws, "/api/2.1/unity-catalog/current-metastore-assignment").json()
    assert r["metastore_id"] == m2["metastore_id"] and r["default_catalog_name"] == "main"
    # deleting an assigned metastore needs force
    assert client.delete("accounts", A(f"/metastores/{m2['metastore_id']}")).status_code == 400
    assert client.delete("accounts", path).status_code == 200
    assert client.get(ws, "/api/2.1/unity-catalog/metastore_summary").status_code == 404


def test_workspaces_list_get(client):
    ws = testing.make_workspace("prod-ws", "westeurope",
                                arm_id=f"/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.Databricks/workspaces/prod-ws")
    r = client.get("accounts", A("/workspaces")).json()
    assert [w["workspace_id"] for w in r] == [int(ws["id"])]
    w = client.get("accounts", A(f"/workspaces/{ws['id']}")).json()
    assert w["location"] == "westeurope" and w["workspace_status"] == "RUNNING"
    assert w["azure_workspace_info"] == {"subscription_id": SUB, "resource_group": "rg-prod"}
    assert client.get("accounts", A("/workspaces/42")).status_code == 404


def seed_storage_account(client):
    r = client.arm_put(f"/subscriptions/{SUB}/resourceGroups/rg-data", "2021-04-01", {"location": "westeurope"})
    assert r.status_code in (200, 201), r.text
    r = client.arm_put(SA, "2023-05-01", {"location": "westeurope", "kind": "StorageV2",
                                          "sku": {"name": "Standard_ZRS"},
                                          "properties": {"isHnsEnabled": True}})
    assert r.status_code in (200, 201), r.text


def approve_through_arm(client, conn_id):
    body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved",
                                                                  "description": "approved by drhost"}}}
    r = client.arm_put(conn_id, "2023-05-01", body)
    assert r.status_code in (200, 201), r.text


def test_ncc_private_endpoint_rule_flow(client):
    seed_storage_account(client)
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc-we", "regon": "westeurope"})
    assert r.status_code == 400 and "regon" in r.json()["message"]
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc-we", "region": "westeurope"})
    assert r.status_code == 200, r.text
    ncc = r.json()
    nid = ncc["network_connectivity_config_id"]
    assert ncc["egress_config"]["default_rules"]["azure_service_endpoint_rule"]["target_region"] == "westeurope"
    rules = A(f"/network-connectivity-configs/{nid}/private-endpoint-rules")
    r = client.post("accounts", rules, json={"resource_id": SA, "group_id": "blobb"})
    assert r.status_code == 400 and "group_id" in r.json()["message"]
    r = client.post("accounts", rules, json={"resource_id": SA, "group_id": "dfs"})
    assert r.status_code == 200, r.text
    rule = r.json()
    assert rule["connection_state"] == "PENDING"
    assert client.post("accounts", rules, json={"resource_id": SA, "group_id": "dfs"}).status_code == 409
    conns = SIM.arm.private_endpoint_connections(SA)
    assert len(conns) == 1
    conn = conns[0]
    assert conn["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    got = client.get("accounts", f"{rules}/{rule['rule_id']}").json()
    assert got["connection_state"] == "PENDING"
    approve_through_arm(client, conn["id"])
    got = client.get("accounts", f"{rules}/{rule['rule_id']}").json()
    assert got["connection_state"] == "ESTABLISHED"
    lst = client.get("accounts", rules).json()["items"]
    assert [x["connection_state"] for x in lst] == ["ESTABLISHED"]
    n = client.get("accounts", A(f"/network-connectivity-configs/{nid}")).json()
    assert n["egress_config"]["target_rules"]["azure_private_endpoint_rules"][0]["connection_state"] == "ESTABLISHED"
    # unknown storage account
    r = client.post("accounts", rules, json={"resource_id": SA + "x", "group_id": "blob"})
    assert r.status_code == 400
    # delete deactivates
    d = client.delete("accounts", f"{rules}/{rule['rule_id']}").json()
    assert d["deactivated"] is True


def test_ncc_binding_and_limits(client):
    ws = testing.make_workspace("prod-ws", "westeurope")
    ids = []
    for i in range(10):
        r = client.post("accounts", A("/network-connectivity-configs"), json={"name": f"ncc-{i}", "region": "westeurope"})
        assert r.status_code == 200
        ids.append(r.json()["network_connectivity_config_id"])
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc-x", "region": "westeurope"})
    assert r.status_code == 400
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc-x", "region": "northeurope"})
    other = r.json()["network_connectivity_config_id"]
    r = client.patch("accounts", A(f"/workspaces/{ws['id']}"), json={"network_connectivity_config_id": other})
    assert r.status_code == 400   # region mismatch
    r = client.patch("accounts", A(f"/workspaces/{ws['id']}"), json={"network_connectivity_config": ids[0]})
    assert r.status_code == 400 and "network_connectivity_config" in r.json()["message"]
    r = client.patch("accounts", A(f"/workspaces/{ws['id']}"), json={"network_connectivity_config_id": ids[0]})
    assert r.status_code == 200 and r.json()["network_connectivity_config_id"] == ids[0]
    assert SIM.workspaces[ws["id"]]["ncc_id"] == ids[0]
    assert client.delete("accounts", A(f"/network-connectivity-configs/{ids[0]}")).status_code == 400
    assert client.delete("accounts", A(f"/network-connectivity-configs/{ids[1]}")).status_code == 200
    listed = []
    r = client.get("accounts", A("/network-connectivity-configs")).json()
    listed += r["items"]
    assert len(listed) == 10


def test_network_policy_and_workspace_option(client):
    ws = testing.make_workspace("prod-ws", "westeurope")
    pol = {"network_policy_id": "restricted", "egress": {"network_access": {
        "restriction_mode": "RESTRICTED_ACCESS",
        "allowed_internet_destinations": [{"destination": "pypi.example", "internet_destination_type": "DNS_NAME"}],
        "allowed_storage_destinations": [{"azure_storage_account": "stprod", "azure_storage_service": "dfs",
                                          "storage_destination_type": "AZURE_STORAGE"}]}}}
    bad = {"egress": {"network_access": {"restriction_mode": "RESTRICTED"}}}
    r = client.post("accounts", A("/network-policies"), json=bad)
    assert r.status_code == 400 and "restriction_mode" in r.json()["message"]
    r = client.post("accounts", A("/network-policies"), json=pol)
    assert r.status_code == 200, r.text
    assert r.json()["egress"]["network_access"]["restriction_mode"] == "RESTRICTED_ACCESS"
    r = client.put("accounts", A(f"/workspaces/{ws['id']}/network"), json={"network_policy_id": "restricted"})
    assert r.status_code == 200, r.text
    r = client.get("accounts", A(f"/workspaces/{ws['id']}/network")).json()
    assert r == {"workspace_id": int(ws["id"]), "network_policy_id": "restricted"}
    assert client.delete("accounts", A("/network-policies/restricted")).status_code == 400
    ids = [p["network_policy_id"] for p in client.get("accounts", A("/network-policies")).json()["items"]]
    assert ids == ["default-policy", "restricted"]


def test_scim_and_permission_assignments(client):
    ws = testing.make_workspace("prod-ws", "westeurope")
    r = client.post("accounts", A("/scim/v2/ServicePrincipals"),
                    json={"applicationId": "00000000-0000-0000-0000-0000000000a1", "displayName": "drhost-sp",
                          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]})
    assert r.status_code == 201, r.text
    sp = r.json()
    r = client.post("accounts", A("/scim/v2/ServicePrincipals"), json={"applicationid": "x"})
    assert r.status_code == 400 and "applicationid" in r.json()["message"]
    r = client.post("accounts", A("/scim/v2/Groups"), json={"displayName": "dr-admins"})
    g = r.json()
    r = client.patch("accounts", A(f"/scim/v2/Groups/{g['id']}"), json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": sp["id"]}]}]})
    assert r.json()["members"] == [{"value": sp["id"]}]
    r = client.get("accounts", A("/scim/v2/Groups"), params={"filter": 'displayName eq "dr-admins"'}).json()
    assert r["totalResults"] == 1 and r["Resources"][0]["id"] == g["id"]
    r = client.put("accounts", A(f"/workspaces/{ws['id']}/permissionassignments/principals/{sp['id']}"),
                   json={"permissions": ["ADMIN"]})
    assert r.status_code == 200, r.text
    r = client.get("accounts", A(f"/workspaces/{ws['id']}/permissionassignments")).json()
    pa = r["permission_assignments"][0]
    assert pa["permissions"] == ["ADMIN"]
    assert pa["principal"]["service_principal_name"] == "00000000-0000-0000-0000-0000000000a1"
    r = client.put("accounts", A(f"/workspaces/{ws['id']}/permissionassignments/principals/{sp['id']}"),
                   json={"permissions": ["OWNER"]})
    assert r.status_code == 400


def test_admin_preseed(client):
    ws = testing.make_workspace("dr-ws", "northeurope")
    r = client.post("admin", "/dbx/metastores", json={"name": "dr", "region": "northeurope",
                                                       "workspace_ids": [ws["id"]]})
    assert r.status_code == 200, r.text
    mid = r.json()["metastore_id"]
    assert client.get(ws, "/api/2.1/unity-catalog/metastore_summary").json()["metastore_id"] == mid
    r = client.post("admin", "/dbx/metastores", json={"name": "dr2", "region": "northeurope"})
    assert r.status_code == 400
    assert client.get("admin", "/dbx/metastores").json()["assignments"] == {ws["id"]: mid}


def test_admin_state_snapshot(client):
    import json
    from drsim.databricks.testkit import estate
    e = estate()
    e.prod.ms.create_catalog("c", "admin", storage_root=e.prod.root + "c")
    e.prod.ms.update_grants("catalog", "c", [{"principal": "g", "add": ["USE_CATALOG"]}])
    snap = client.get("admin", "/dbx/state").json()
    json.dumps(snap)
    cat = snap["metastores"][e.prod.ms.metastore_id]["catalogs"]["c"]
    assert cat["grants"] == {"g": ["USE_CATALOG"]}
    assert sorted(cat["schemas"]) == ["default", "information_schema"]


def test_metastore_external_access_switch_off_by_default_set_on_create_or_update(client):
    m = mk_metastore(client, "prod", "westeurope")
    assert m["external_access_enabled"] is False
    r = client.put("accounts", A(f"/metastores/{m['metastore_id']}"),
                   json={"metastore_info": {"external_access_enabled": True}})
    assert r.status_code == 200 and r.json()["metastore_info"]["external_access_enabled"] is True
    got = client.get("accounts", A(f"/metastores/{m['metastore_id']}")).json()["metastore_info"]
    assert got["external_access_enabled"] is True
    r = client.put("accounts", A(f"/metastores/{m['metastore_id']}"),
                   json={"metastore_info": {"external_access_enabled": "yes"}})
    assert r.status_code == 400, r.text
    assert mk_metastore(client, "dr", "northeurope", external_access_enabled=True)["external_access_enabled"] is True
