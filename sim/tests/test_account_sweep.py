"""Remaining account routes: assignment update/PUT, private endpoint rule PATCH, policy GET/PUT,
SCIM users + PUT/DELETE, permission assignment DELETE."""
from drsim import testing
from drsim.state import SIM


def A(path=""):
    return f"/api/2.0/accounts/{SIM.config.account_id}{path}"


def test_assignment_put_changes_default_catalog(client):
    ws = testing.make_workspace("w", "westeurope")
    m = client.post("accounts", A("/metastores"), json={"metastore_info": {"name": "m", "region": "westeurope"}}).json()["metastore_info"]
    path = A(f"/workspaces/{ws['id']}/metastores/{m['metastore_id']}")
    assert client.put("accounts", path, json={"metastore_assignment": {"default_catalog_name": "main"}}).status_code == 200
    r = client.get("accounts", A(f"/workspaces/{ws['id']}/metastore")).json()
    assert r["metastore_assignment"]["default_catalog_name"] == "main"
    r = client.put("accounts", path, json={"metastore_assignment": {"metastore_id": "00000000-0000-0000-0000-000000000999"}})
    assert r.status_code == 400   # body/path mismatch
    assert client.delete("accounts", path).status_code == 200
    assert client.delete("accounts", path).status_code == 404
    assert client.get("accounts", A(f"/workspaces/{ws['id']}/metastore")).status_code == 404


def test_policy_get_put(client):
    r = client.get("accounts", A("/network-policies/default-policy")).json()
    assert r["egress"]["network_access"]["restriction_mode"] == "FULL_ACCESS"
    client.post("accounts", A("/network-policies"), json={"network_policy_id": "p1", "egress": {
        "network_access": {"restriction_mode": "FULL_ACCESS"}}})
    r = client.put("accounts", A("/network-policies/p1"), json={"egress": {"network_access": {
        "restriction_mode": "RESTRICTED_ACCESS", "allowed_internet_destinations": []}}})
    assert r.status_code == 200 and r.json()["egress"]["network_access"]["restriction_mode"] == "RESTRICTED_ACCESS"
    assert client.get("accounts", A("/network-policies/nope")).status_code == 404
    assert client.delete("accounts", A("/network-policies/p1")).status_code == 200
    assert client.delete("accounts", A("/network-policies/default-policy")).status_code == 400


def test_pe_rule_patch_and_non_storage(client):
    n = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc1", "region": "westeurope"}).json()
    rules = A(f"/network-connectivity-configs/{n['network_connectivity_config_id']}/private-endpoint-rules")
    kv = "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
    r = client.post("accounts", rules, json={"resource_id": kv, "group_id": "vault"})
    assert r.status_code == 200, r.text
    rid = r.json()["rule_id"]
    r = client.patch("accounts", f"{rules}/{rid}", json={"domain_names": ["kv1.vault.example"]})
    assert r.status_code == 200 and r.json()["domain_names"] == ["kv1.vault.example"]
    assert client.post("accounts", rules, json={"resource_id": "not-an-id", "group_id": "blob"}).status_code == 400
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "x", "region": "westeurope"})
    assert r.status_code == 400   # name too short
    assert client.get("accounts", A("/network-connectivity-configs/nope")).status_code == 404


def test_scim_users_put_delete_and_assignment_delete(client):
    ws = testing.make_workspace("w", "westeurope")
    u = client.post("accounts", A("/scim/v2/Users"), json={"userName": "ops@example.com", "displayName": "Ops"}).json()
    assert u["active"] is True
    assert client.post("accounts", A("/scim/v2/Users"), json={"displayName": "x"}).status_code == 400
    r = client.put("accounts", A(f"/scim/v2/Users/{u['id']}"), json={"userName": "ops@example.com", "displayName": "Ops2"})
    assert r.json()["displayName"] == "Ops2"
    g = client.post("accounts", A("/scim/v2/Groups"), json={"displayName": "g"}).json()
    assert client.post("accounts", A("/scim/v2/Groups"), json={"displayName": "g"}).status_code == 409
    path = A(f"/workspaces/{ws['id']}/permissionassignments/principals/{g['id']}")
    assert client.put("accounts", path, json={"permissions": ["USER"]}).status_code == 200
    assert client.delete("accounts", path).status_code == 200
    assert client.delete("accounts", path).status_code == 404
    assert client.put("accounts", A(f"/workspaces/{ws['id']}/permissionassignments/principals/12345"),
                      json={"permissions": ["USER"]}).status_code == 404
    assert client.delete("accounts", A(f"/scim/v2/Users/{u['id']}")).status_code == 200
    assert client.get("accounts", A(f"/scim/v2/Users/{u['id']}")).status_code == 404
    sps = client.get("accounts", A("/scim/v2/ServicePrincipals")).json()
    assert sps["totalResults"] == 0 and sps["Resources"] == []


def test_unknown_region_refused(client):
    r = client.post("accounts", A("/metastores"), json={"metastore_info": {"name": "m", "region": "westeurop"}})
    assert r.status_code == 400 and "westeurop" in r.json()["message"]
    r = client.post("accounts", A("/network-connectivity-configs"), json={"name": "ncc1", "region": "mars"})
    assert r.status_code == 400


def test_workspace_sees_account_principals(client):
    ws = testing.make_workspace("w", "westeurope")
    sp = client.post("accounts", A("/scim/v2/ServicePrincipals"), json={"displayName": "drhost"}).json()
    r = client.get(ws, "/api/2.0/preview/scim/v2/ServicePrincipals",
                   params={"filter": f'applicationId eq "{sp["applicationId"]}"'}).json()
    assert [x["id"] for x in r["Resources"]] == [sp["id"]]
    assert client.get(ws, f"/api/2.0/preview/scim/v2/ServicePrincipals/{sp['id']}").json()["displayName"] == "drhost"
    assert client.get(ws, "/api/2.0/preview/scim/v2/Groups/1").status_code == 404
