"""Microsoft.Databricks/workspaces: VNet injection, CMK, identities, registration, busy -> 409."""
from drsim.faults import FAULTS
from drsim.state import DATABRICKS_SP_OBJECT_ID, SIM

from arm_helpers import (DBX_V, KV_V, NET_V, RA_V, make_network, make_vault_key, ok, rg, rid, sub,
                         workspace_body)

CRYPTO_SE_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def grant(client, scope, principal, role=CRYPTO_SE_USER, name=None):
    import uuid
    name = name or str(uuid.uuid4())
    return ok(client.put("management", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
                         params={"api-version": RA_V}, json={"properties": {
                             "roleDefinitionId": f"{sub()}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                             "principalId": principal, "principalType": "ServicePrincipal"}}))


def cmk(kv_uri, key):
    name = key["name"]
    version = key["properties"]["keyUriWithVersion"].rsplit("/", 1)[1]
    return {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {
        "keyVaultUri": kv_uri, "keyName": name, "keyVersion": version}}


def test_workspace_vnet_injection_and_registration(client):
    vnet, _ = make_network(client)
    seen = []
    SIM.on_workspace_created(lambda rec: seen.append(rec["id"]))
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body(vnet, publicNetworkAccess="Disabled", requiredNsgRules="NoAzureDatabricksRules")
    got = ok(client.arm_put(ws, DBX_V, body))
    p = got["properties"]
    assert p["provisioningState"] == "Succeeded"
    assert p["workspaceId"].isdigit() and p["workspaceUrl"] == f"adb-{p['workspaceId']}.sim.localhost:{SIM.config.port}"
    assert p["workspaceId"] in seen
    rec = SIM.workspaces[p["workspaceId"]]
    assert rec["arm_id"].lower() == ws.lower() and rec["region"] == "westeurope"
    mrg = client.get("management", p["managedResourceGroupId"], params={"api-version": "2024-03-01"})
    assert mrg.status_code == 200 and mrg.json()["managedBy"] == ws
    # the workspace host answers (workspace hosts need the AzureDatabricks audience)
    r = client.get(rec, "/__no_such_api")
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # a second PUT keeps the identity
    again = ok(client.arm_put(ws, DBX_V, body))
    assert again["properties"]["workspaceId"] == p["workspaceId"]
    # the managed resource group is protected
    r = client.delete("management", p["managedResourceGroupId"], params={"api-version": "2024-03-01"})
    assert r.status_code == 403
    # deleting the resource group removes the workspace, its managed group and the registration
    client.arm_wait(client.delete("management", rg("rg1"), params={"api-version": "2024-03-01"}), rg("rg1"), "2024-03-01")
    assert p["workspaceId"] not in SIM.workspaces
    assert client.get("management", p["managedResourceGroupId"], params={"api-version": "2024-03-01"}).status_code == 404


def test_workspace_root_storage_account_in_managed_group(client):
    vnet, _ = make_network(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body(vnet, publicNetworkAccess="Disabled", requiredNsgRules="NoAzureDatabricksRules")
    p = ok(client.arm_put(ws, DBX_V, body))["properties"]
    name = p["parameters"]["storageAccountName"]["value"]
    sa = client.get("management", f"{p['managedResourceGroupId']}/providers/Microsoft.Storage/storageAccounts/{name}",
                    params={"api-version": "2023-05-01"})
    assert sa.status_code == 200
    assert sa.json()["managedBy"] == ws
    assert sa.json()["properties"]["primaryEndpoints"]["dfs"] == f"https://{name}.dfs.core.windows.net/"


def test_workspace_network_rules(client):
    vnet, nsg = make_network(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    r = client.arm_put(ws, DBX_V, workspace_body(vnet, publicNetworkAccess="Disabled", requiredNsgRules="AllRules"))
    assert r.status_code == 400 and "NoAzureDatabricksRules" in r.json()["error"]["message"]
    body = workspace_body(vnet)
    body["properties"]["parameters"]["customPublicSubnetName"]["value"] = "pe"
    r = client.arm_put(ws, DBX_V, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "SubnetMissingRequiredDelegation"
    body["properties"]["parameters"]["customPublicSubnetName"]["value"] = "nope"
    r = client.arm_put(ws, DBX_V, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceReference"
    r = client.arm_put(ws, DBX_V, workspace_body(vnet + "x"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceReference"
    ok(client.arm_put(ws, DBX_V, workspace_body(vnet)))
    r = client.arm_put(rid("rg1", "Microsoft.Databricks/workspaces/ws2"), DBX_V, workspace_body(vnet, name="ws2"))
    assert r.status_code == 400 and "already used" in r.json()["error"]["message"]
    # subnets in use by the workspace cannot be dropped from the VNet
    r = client.arm_put(vnet, NET_V, {"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": []}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InUseSubnetCannotBeDeleted"


def test_workspace_cmk_all_surfaces(client):
    vnet, _ = make_network(client)
    kv, key = make_vault_key(client)
    uri = "https://kv-sim-1.vault.azure.net/"
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body(vnet, encryption={"entities": {"managedServices": cmk(uri, key), "managedDisk": dict(
        cmk(uri, key), rotationToLatestKeyVersionEnabled=True)}})
    body["properties"]["parameters"]["prepareEncryption"] = {"value": True}
    r = client.arm_put(ws, DBX_V, body)
    assert r.status_code == 400 and DATABRICKS_SP_OBJECT_ID in r.json()["error"]["message"]
    grant(client, kv, DATABRICKS_SP_OBJECT_ID)
    got = ok(client.arm_put(ws, DBX_V, body))
    p = got["properties"]
    assert p["managedDiskIdentity"]["principalId"] and p["managedDiskIdentity"]["type"] == "SystemAssigned"
    assert p["storageAccountIdentity"]["principalId"] and p["storageAccountIdentity"]["tenantId"] == SIM.config.tenant_id
    des = client.get("management", p["diskEncryptionSetId"], params={"api-version": "2023-04-02"})
    assert des.status_code == 200 and des.json()["identity"]["principalId"] == p["managedDiskIdentity"]["principalId"]
    # DBFS CMK: needs the storage identity's access first
    dbfs = {"value": {"keySource": "Microsoft.Keyvault", "KeyName": "cmk", "keyversion":
                      key["properties"]["keyUriWithVersion"].rsplit("/", 1)[1], "keyvaulturi": uri}}
    body["properties"]["parameters"]["encryption"] = dbfs
    r = client.arm_put(ws, DBX_V, body)
    assert r.status_code == 400 and "storage identity" in r.json()["error"]["message"]
    grant(client, kv, p["storageAccountIdentity"]["principalId"])
    ok(client.arm_put(ws, DBX_V, body))
    # a key that does not exist
    bad = workspace_body(name="ws9", encryption={"entities": {"managedServices": {
        "keySource": "Microsoft.Keyvault", "keyVaultProperties": {"keyVaultUri": uri, "keyName": "nokey",
                                                                  "keyVersion": "0" * 32}}}})
    r = client.arm_put(rid("rg1", "Microsoft.Databricks/workspaces/ws9"), DBX_V, bad)
    assert r.status_code == 400 and "nokey" in r.json()["error"]["message"]


def test_cmk_needs_purge_protection(client):
    make_network(client)
    kv = rid("rg1", "Microsoft.KeyVault/vaults/kv-nopurge")
    ok(client.arm_put(kv, KV_V, {"location": "westeurope", "properties": {
        "tenantId": SIM.config.tenant_id, "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": True}}))
    key = ok(client.put("management", kv + "/keys/k", params={"api-version": KV_V}, json={"properties": {"kty": "RSA"}}))
    grant(client, kv, DATABRICKS_SP_OBJECT_ID)
    body = workspace_body(encryption={"entities": {"managedServices": cmk("https://kv-nopurge.vault.azure.net/", key)}})
    r = client.arm_put(rid("rg1", "Microsoft.Databricks/workspaces/ws1"), DBX_V, body)
    assert r.status_code == 400 and "purge protection" in r.json()["error"]["message"]


def test_busy_workspace_conflict(client):
    vnet, _ = make_network(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    FAULTS.add(host_kind="management", method="PUT", path=r"/workspaces/ws1$", lro_extra_polls=3)
    first = client.put("management", ws, params={"api-version": DBX_V}, json=workspace_body(vnet))
    assert first.status_code == 201
    second = client.put("management", ws, params={"api-version": DBX_V}, json=workspace_body(vnet))
    assert second.status_code == 409 and second.json()["error"]["code"] == "ConcurrentUpdateError"
    patch = client.patch("management", ws, params={"api-version": DBX_V}, json={"tags": {"a": "b"}})
    assert patch.status_code == 409
    # a private endpoint to the busy workspace is refused too
    pe = rid("rg1", "Microsoft.Network/privateEndpoints/pe-ui")
    r = client.arm_put(pe, NET_V, {"location": "westeurope", "properties": {
        "subnet": {"id": vnet + "/subnets/pe"}, "privateLinkServiceConnections": [
            {"name": "c", "properties": {"privateLinkServiceId": ws, "groupIds": ["databricks_ui_api"]}}]}})
    assert r.status_code == 409
    done = client.arm_wait(first, ws, DBX_V)
    assert done.json()["properties"]["provisioningState"] == "Succeeded"
    got = ok(client.arm_put(pe, NET_V, {"location": "westeurope", "properties": {
        "subnet": {"id": vnet + "/subnets/pe"}, "privateLinkServiceConnections": [
            {"name": "c", "properties": {"privateLinkServiceId": ws, "groupIds": ["databricks_ui_api"]}}]}}))
    assert got["properties"]["customDnsConfigs"][0]["fqdn"].startswith("adb-")
    wsv = client.get("management", ws, params={"api-version": DBX_V}).json()
    assert wsv["properties"]["privateEndpointConnections"][0]["properties"]["privateEndpoint"]["id"] == pe
    r = client.patch("management", ws, params={"api-version": DBX_V}, json={"properties": {}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties"
    patched = client.patch("management", ws, params={"api-version": DBX_V}, json={"tags": {"a": "b"}})
    assert patched.status_code in (200, 202) and patched.json()["tags"] == {"a": "b"}


def test_serverless_workspace_without_managed_group(client):
    from arm_helpers import make_rg
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/WEBAUTH_DO_NOT_DELETE_WESTEUROPE")
    got = ok(client.arm_put(ws, "2026-01-01", {"location": "westeurope", "sku": {"name": "premium"},
                                               "properties": {"computeMode": "Serverless"}}))
    assert got["properties"]["workspaceId"] and "managedResourceGroupId" not in got["properties"]
    r = client.arm_put(rid("rg1", "Microsoft.Databricks/workspaces/classic"), "2026-01-01",
                       {"location": "westeurope", "sku": {"name": "premium"}, "properties": {"computeMode": "Hybrid"}})
    assert r.status_code == 400 and "managedResourceGroupId" in r.json()["error"]["message"]


def test_serverless_private_workspace_needs_no_nsg_rules(client):
    from arm_helpers import make_rg
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/WEBAUTH_DO_NOT_DELETE_WESTEUROPE")
    got = ok(client.arm_put(ws, "2026-01-01", {"location": "westeurope", "sku": {"name": "premium"}, "properties": {
        "computeMode": "Serverless", "publicNetworkAccess": "Disabled"}}))
    assert got["properties"]["publicNetworkAccess"] == "Disabled"


def test_unpolled_operation_completes_by_time(client):
    vnet, _ = make_network(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    SIM.config.lro_max_seconds = 0.3
    try:
        first = client.put("management", ws, params={"api-version": DBX_V}, json=workspace_body(vnet))
        assert first.status_code == 201
        assert client.put("management", ws, params={"api-version": DBX_V}, json=workspace_body(vnet)).status_code == 409
        import time
        time.sleep(0.4)          # the client that started it went away; the service finished anyway
        again = client.put("management", ws, params={"api-version": DBX_V}, json=workspace_body(vnet))
        assert again.status_code == 200
        assert first.json()["name"] == "ws1" and SIM.workspace_by_arm_id(ws) is not None
    finally:
        SIM.config.lro_max_seconds = 2.0


def test_generic_resource_listing_finds_the_disk_encryption_set(client):
    vnet, _ = make_network(client)
    kv, key = make_vault_key(client)
    grant(client, kv, DATABRICKS_SP_OBJECT_ID)
    uri = "https://kv-sim-1.vault.azure.net/"
    got = ok(client.arm_put(rid("rg1", "Microsoft.Databricks/workspaces/ws1"), DBX_V,
                            workspace_body(vnet, encryption={"entities": {"managedDisk": cmk(uri, key)}})))
    mrg = got["properties"]["managedResourceGroupId"]
    flt = "resourceType eq 'Microsoft.Compute/diskEncryptionSets'"
    r = client.get("management", mrg + "/resources", params={"api-version": "2021-04-01", "$filter": flt}).json()
    assert [x["id"] for x in r["value"]] == [got["properties"]["diskEncryptionSetId"]]
    r = client.get("management", sub() + "/resources", params={"api-version": "2021-04-01", "$filter": flt}).json()
    assert len(r["value"]) == 1
    everything = client.get("management", sub() + "/resources", params={"api-version": "2021-04-01"}).json()["value"]
    assert any(x["type"] == "Microsoft.Databricks/workspaces" for x in everything)
