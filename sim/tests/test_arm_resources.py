"""ARM semantics: resource groups, LROs, parents and references, the estate's resource types."""
from drsim.state import SIM

from arm_helpers import (KV_V, NET_V, RA_V, RG_V, ST_V, make_network, make_rg, make_storage,
                         make_vault_key, ok, rg, rid, sub)


def test_resource_group_crud(client):
    r = client.put("management", rg("rg-a"), params={"api-version": RG_V},
                   json={"location": "westeurope", "tags": {"env": "prod"}})
    assert r.status_code == 201 and r.json()["properties"]["provisioningState"] == "Succeeded"
    r = client.put("management", rg("rg-a"), params={"api-version": RG_V}, json={"location": "westeurope"})
    assert r.status_code == 200
    r = client.put("management", rg("rg-a"), params={"api-version": RG_V}, json={"location": "eastus2"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "InvalidResourceGroupLocation"
    names = [g["name"] for g in client.get("management", sub() + "/resourcegroups",
                                           params={"api-version": RG_V}).json()["value"]]
    assert names == ["rg-a"]
    # ids are case-insensitive
    assert client.get("management", rg("RG-A"), params={"api-version": RG_V}).status_code == 200
    r = client.delete("management", rg("rg-a"), params={"api-version": RG_V})
    assert r.status_code == 202 and "Location" in r.headers
    final = client.arm_wait(r, rg("rg-a"), RG_V)
    assert final.status_code in (200, 204)
    assert client.get("management", rg("rg-a"), params={"api-version": RG_V}).status_code == 404


def test_lro_put_and_delete(client):
    make_rg(client)
    SIM.config.lro_polls = 2
    nsg = rid("rg1", "Microsoft.Network/networkSecurityGroups/nsg1")
    r = client.put("management", nsg, params={"api-version": NET_V}, json={"location": "westeurope"})
    assert r.status_code == 201
    assert r.json()["properties"]["provisioningState"] in ("Creating", "Updating")
    op_url = r.headers["Azure-AsyncOperation"]
    assert r.headers["Retry-After"] == "0" and "operationStatuses" in op_url
    states = []
    for _ in range(5):
        st = client.session.get(op_url, verify=client.running.ca, headers={
            "Authorization": "Bearer " + client.token("https://management.azure.com/.default")}).json()["status"]
        states.append(st)
        if st == "Succeeded":
            break
    assert states[0] == "InProgress" and states[-1] == "Succeeded"
    got = client.get("management", nsg, params={"api-version": NET_V}).json()
    assert got["properties"]["provisioningState"] == "Succeeded" and got["etag"].startswith('W/"')
    r = client.delete("management", nsg, params={"api-version": NET_V})
    assert r.status_code == 202 and r.headers["Location"] and r.headers["Azure-AsyncOperation"]
    loc = client.session.get(r.headers["Location"], verify=client.running.ca, headers={
        "Authorization": "Bearer " + client.token("https://management.azure.com/.default")})
    assert loc.status_code == 202
    client.arm_wait(r, nsg, NET_V)
    assert client.get("management", nsg, params={"api-version": NET_V}).status_code == 404
    # deleting what is not there: 204
    assert client.delete("management", nsg, params={"api-version": NET_V}).status_code == 204


def test_parent_and_group_must_exist(client):
    r = client.put("management", rid("nope", "Microsoft.Network/networkSecurityGroups/n"),
                   params={"api-version": NET_V}, json={"location": "westeurope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceGroupNotFound"
    make_rg(client)
    r = client.put("management", rid("rg1", "Microsoft.Network/virtualNetworks/missing/subnets/s"),
                   params={"api-version": NET_V}, json={"properties": {"addressPrefix": "10.0.0.0/24"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ParentResourceNotFound"
    r = client.get("management", rid("rg1", "Microsoft.Network/virtualNetworks/missing"), params={"api-version": NET_V})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    r = client.put("management", rid("rg1", "Microsoft.KeyVault/vaults/kvx/keys/k"), params={"api-version": KV_V},
                   json={"properties": {"kty": "RSA"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ParentResourceNotFound"


def test_vnet_subnets(client):
    vnet, nsg = make_network(client)
    got = client.get("management", vnet, params={"api-version": NET_V}).json()
    subnets = {s["name"]: s for s in got["properties"]["subnets"]}
    assert set(subnets) == {"host", "container", "pe", "AzureFirewallSubnet"}
    assert subnets["host"]["id"] == vnet + "/subnets/host"
    assert subnets["host"]["properties"]["delegations"][0]["properties"]["actions"]
    listed = client.get("management", vnet + "/subnets", params={"api-version": NET_V}).json()["value"]
    assert len(listed) == 4
    r = client.arm_put(vnet + "/subnets/bad", NET_V, {"properties": {"addressPrefix": "10.0.1.128/25"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NetcfgSubnetRangesOverlap"
    r = client.arm_put(vnet + "/subnets/bad", NET_V, {"properties": {"addressPrefix": "10.9.0.0/24"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NetcfgSubnetRangeOutsideVnet"
    r = client.arm_put(vnet + "/subnets/x", NET_V, {"properties": {"addressPrefix": "10.0.9.0/24",
                                                                    "routeTable": {"id": nsg + "-rt"}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceReference"
    nsg_view = client.get("management", nsg, params={"api-version": NET_V}).json()
    assert {s["id"] for s in nsg_view["properties"]["subnets"]} == {vnet + "/subnets/host", vnet + "/subnets/container"}


def test_vnet_put_replaces_subnets_but_not_in_use_ones(client):
    vnet, _ = make_network(client)
    make_storage(client)
    pe = rid("rg1", "Microsoft.Network/privateEndpoints/pe-blob")
    ok(client.arm_put(pe, NET_V, {"location": "westeurope", "properties": {
        "subnet": {"id": vnet + "/subnets/pe"}, "privateLinkServiceConnections": [{
            "name": "c", "properties": {"privateLinkServiceId": rid("rg1", "Microsoft.Storage/storageAccounts/stsim1"),
                                        "groupIds": ["blob"]}}]}}))
    body = {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                                      "subnets": [{"name": "host", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}
    r = client.arm_put(vnet, NET_V, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InUseSubnetCannotBeDeleted"


def test_peering_both_ways(client):
    make_rg(client)
    a = rid("rg1", "Microsoft.Network/virtualNetworks/hub")
    b = rid("rg1", "Microsoft.Network/virtualNetworks/spoke")
    ok(client.arm_put(a, NET_V, {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}))
    ok(client.arm_put(b, NET_V, {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}))
    p1 = ok(client.arm_put(a + "/virtualNetworkPeerings/hub-to-spoke", NET_V,
                           {"properties": {"remoteVirtualNetwork": {"id": b}, "allowForwardedTraffic": True}}))
    assert p1["properties"]["peeringState"] == "Initiated"
    ok(client.arm_put(b + "/virtualNetworkPeerings/spoke-to-hub", NET_V,
                      {"properties": {"remoteVirtualNetwork": {"id": a}, "useRemoteGateways": False}}))
    p1 = ok(client.get("management", a + "/virtualNetworkPeerings/hub-to-spoke", params={"api-version": NET_V}))
    assert p1["properties"]["peeringState"] == "Connected"
    c = rid("rg1", "Microsoft.Network/virtualNetworks/overlap")
    ok(client.arm_put(c, NET_V, {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.5.0/24"]}}}))
    r = client.arm_put(a + "/virtualNetworkPeerings/bad", NET_V, {"properties": {"remoteVirtualNetwork": {"id": c}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "VnetAddressSpacesOverlap"


def test_firewall_route_table(client):
    vnet, _ = make_network(client)
    pip = rid("rg1", "Microsoft.Network/publicIPAddresses/fw-pip")
    got = ok(client.arm_put(pip, NET_V, {"location": "westeurope", "sku": {"name": "Standard"},
                                         "properties": {"publicIPAllocationMethod": "Static"}}))
    assert got["properties"]["ipAddress"]
    pol = rid("rg1", "Microsoft.Network/firewallPolicies/fp")
    ok(client.arm_put(pol, NET_V, {"location": "westeurope", "properties": {"sku": {"tier": "Standard"}}}))
    fw = rid("rg1", "Microsoft.Network/azureFirewalls/fw")
    fwb = {"location": "westeurope", "properties": {
        "sku": {"name": "AZFW_VNet", "tier": "Standard"}, "firewallPolicy": {"id": pol},
        "ipConfigurations": [{"name": "ipc", "properties": {"subnet": {"id": vnet + "/subnets/pe"},
                                                            "publicIPAddress": {"id": pip}}}]}}
    r = client.arm_put(fw, NET_V, fwb)
    assert r.status_code == 400 and "AzureFirewallSubnet" in r.json()["error"]["message"]
    fwb["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = vnet + "/subnets/AzureFirewallSubnet"
    got = ok(client.arm_put(fw, NET_V, fwb))
    ip = got["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    assert ip == "10.0.4.4"
    again = ok(client.arm_put(fw, NET_V, fwb))
    assert again["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == ip
    rt = rid("rg1", "Microsoft.Network/routeTables/rt")
    ok(client.arm_put(rt, NET_V, {"location": "westeurope", "properties": {"routes": [
        {"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                           "nextHopIpAddress": ip}}]}}))
    routes = client.get("management", rt + "/routes", params={"api-version": NET_V}).json()["value"]
    assert routes[0]["properties"]["nextHopIpAddress"] == ip
    r = client.arm_put(rt + "/routes/bad", NET_V, {"properties": {"addressPrefix": "1.0.0.0/8", "nextHopType": "Nope"}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties.nextHopType"
    fpv = client.get("management", pol, params={"api-version": NET_V}).json()
    assert fpv["properties"]["firewalls"] == [{"id": fw}]


def test_private_endpoint_to_storage_and_dns(client):
    vnet, _ = make_network(client)
    sa = make_storage(client)
    zone = rid("rg1", "Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net")
    r = client.arm_put(zone, "2020-06-01", {"location": "westeurope"})
    assert r.status_code == 400
    ok(client.arm_put(zone, "2020-06-01", {"location": "global"}))
    ok(client.arm_put(zone + "/virtualNetworkLinks/l1", "2020-06-01", {"location": "global", "properties": {
        "virtualNetwork": {"id": vnet}, "registrationEnabled": False}}))
    pe = rid("rg1", "Microsoft.Network/privateEndpoints/pe-blob")
    body = {"location": "westeurope", "properties": {"subnet": {"id": vnet + "/subnets/pe"},
                                                      "privateLinkServiceConnections": [{
                                                          "name": "c", "properties": {"privateLinkServiceId": sa,
                                                                                      "groupIds": ["queue2"]}}]}}
    r = client.arm_put(pe, NET_V, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "PrivateEndpointBadRequest"
    body["properties"]["privateLinkServiceConnections"][0]["properties"]["groupIds"] = ["blob"]
    got = ok(client.arm_put(pe, NET_V, body))
    conn = got["properties"]["privateLinkServiceConnections"][0]["properties"]
    assert conn["privateLinkServiceConnectionState"]["status"] == "Approved"
    assert got["properties"]["networkInterfaces"][0]["id"]
    dns = got["properties"]["customDnsConfigs"][0]
    assert dns["fqdn"] == "stsim1.blob.core.windows.net" and dns["ipAddresses"] == ["10.0.3.4"]
    acct = client.get("management", sa, params={"api-version": ST_V}).json()
    pecs = acct["properties"]["privateEndpointConnections"]
    assert len(pecs) == 1 and pecs[0]["properties"]["privateEndpoint"]["id"] == pe
    assert pecs[0]["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"
    zg = ok(client.arm_put(pe + "/privateDnsZoneGroups/default", NET_V, {"properties": {"privateDnsZoneConfigs": [
        {"name": "blob", "properties": {"privateDnsZoneId": zone}}]}}))
    assert zg["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"][0]["ipAddresses"] == ["10.0.3.4"]
    rec = ok(client.get("management", zone + "/A/stsim1", params={"api-version": "2020-06-01"}))
    assert rec["properties"]["aRecords"] == [{"ipv4Address": "10.0.3.4"}]
    client.arm_wait(client.delete("management", pe, params={"api-version": NET_V}), pe, NET_V)
    acct = client.get("management", sa, params={"api-version": ST_V}).json()
    assert acct["properties"]["privateEndpointConnections"] == []


def test_ncc_style_connection_pending_then_approved(client):
    make_rg(client)
    sa = make_storage(client)
    conn_id = SIM.arm.add_private_endpoint_connection(sa, "dfs", "databricks-ncc-pe-1")
    assert SIM.arm.private_endpoint_connection_status(conn_id) == "Pending"
    acct = client.get("management", sa, params={"api-version": ST_V}).json()
    pecs = acct["properties"]["privateEndpointConnections"]
    assert [p["id"] for p in pecs] == [conn_id]
    assert pecs[0]["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    listed = client.get("management", sa + "/privateEndpointConnections", params={"api-version": ST_V}).json()["value"]
    assert listed[0]["properties"]["privateEndpoint"]["id"].endswith("/databricks-ncc-pe-1")
    r = client.put("management", conn_id, params={"api-version": ST_V}, json={"properties": {
        "privateLinkServiceConnectionState": {"status": "Approved", "description": "ok by drhost"}}})
    assert r.status_code == 200, r.text
    assert SIM.arm.private_endpoint_connection_status(conn_id) == "Approved"
    missing = client.put("management", sa + "/privateEndpointConnections/nope", params={"api-version": ST_V},
                         json={"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}})
    assert missing.status_code == 404
    c2 = SIM.arm.add_private_endpoint_connection(sa, "blob", "databricks-ncc-pe-2")
    ok(client.put("management", c2, params={"api-version": ST_V}, json={"properties": {
        "privateLinkServiceConnectionState": {"status": "Rejected"}}}))
    r = client.put("management", c2, params={"api-version": ST_V}, json={"properties": {
        "privateLinkServiceConnectionState": {"status": "Approved"}}})
    assert r.status_code == 400
    assert SIM.arm.private_endpoint_connection_status(c2) == "Rejected"


def test_storage_account_and_containers(client):
    make_rg(client)
    r = client.arm_put(rid("rg1", "Microsoft.Storage/storageAccounts/Bad_Name"), ST_V,
                       {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "AccountNameInvalid"
    r = client.arm_put(rid("rg1", "Microsoft.Storage/storageAccounts/stx"), ST_V,
                       {"location": "westeurope", "kind": "StorageV2"})
    assert r.status_code == 400 and r.json()["error"]["target"] == "sku"
    sa = make_storage(client, sku="Standard_GRS")
    got = client.get("management", sa, params={"api-version": ST_V}).json()
    assert got["properties"]["primaryEndpoints"]["dfs"] == "https://stsim1.dfs.core.windows.net/"
    assert got["properties"]["secondaryLocation"] == "northeurope" and got["sku"]["name"] == "Standard_GRS"
    make_rg(client, "rg2")
    r = client.arm_put(rid("rg2", "Microsoft.Storage/storageAccounts/stsim1"), ST_V,
                       {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "StorageAccountAlreadyTaken"
    ok(client.put("management", sa + "/blobServices/default", params={"api-version": ST_V},
                  json={"properties": {"isVersioningEnabled": True, "deleteRetentionPolicy": {"enabled": True, "days": 7}}}))
    c = ok(client.put("management", sa + "/blobServices/default/containers/uc-root", params={"api-version": ST_V},
                      json={"properties": {"publicAccess": "None"}}))
    assert c["properties"]["publicAccess"] == "None"
    r = client.put("management", sa + "/blobServices/default/containers/Bad", params={"api-version": ST_V}, json={})
    assert r.status_code == 400
    keys = client.post("management", sa + "/listKeys", params={"api-version": ST_V}).json()["keys"]
    assert len(keys) == 2 and keys[0]["value"]
    upd = client.patch("management", sa, params={"api-version": ST_V}, json={"properties": {"minimumTlsVersion": "TLS1_2"}})
    assert upd.status_code == 200 and upd.json()["properties"]["minimumTlsVersion"] == "TLS1_2"


def test_key_vault_and_keys(client):
    make_rg(client)
    kv, key = make_vault_key(client)
    p = key["properties"]
    assert p["keyUri"] == "https://kv-sim-1.vault.azure.net/keys/cmk"
    assert p["keyUriWithVersion"].startswith(p["keyUri"] + "/") and len(p["keyUriWithVersion"].rsplit("/", 1)[1]) == 32
    again = ok(client.put("management", kv + "/keys/cmk", params={"api-version": KV_V},
                          json={"properties": {"kty": "RSA", "keySize": 4096}}))
    assert again["properties"]["keyUriWithVersion"] == p["keyUriWithVersion"]        # create-if-not-exists
    vault = client.get("management", kv, params={"api-version": KV_V}).json()
    assert vault["properties"]["vaultUri"] == "https://kv-sim-1.vault.azure.net/"
    assert vault["properties"]["enablePurgeProtection"] is True and vault["properties"]["enableSoftDelete"] is True
    r = client.arm_put(kv, KV_V, {"location": "westeurope", "properties": {
        "tenantId": SIM.config.tenant_id, "sku": {"family": "A", "name": "standard"}, "enablePurgeProtection": False}})
    assert r.status_code == 400 and "irreversible" in r.json()["error"]["message"]
    r = client.arm_put(rid("rg1", "Microsoft.KeyVault/vaults/kv2"), KV_V, {"location": "westeurope", "properties": {
        "tenantId": SIM.config.tenant_id}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties.sku"


def test_role_assignments(client):
    make_rg(client)
    kv, _ = make_vault_key(client)
    role = f"{sub()}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6"
    name = "0d9c2c7e-2f0f-4b43-9f41-4a6f1c7d8e01"
    ra = f"{kv}/providers/Microsoft.Authorization/roleAssignments/{name}"
    body = {"properties": {"roleDefinitionId": role, "principalId": "00000000-0000-0000-0000-0000000000db",
                           "principalType": "ServicePrincipal"}}
    r = client.put("management", ra, params={"api-version": RA_V}, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["scope"] == kv
    r = client.put("management", f"{kv}/providers/Microsoft.Authorization/roleAssignments/not-a-guid",
                   params={"api-version": RA_V}, json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRoleAssignmentId"
    dup = f"{kv}/providers/Microsoft.Authorization/roleAssignments/1d9c2c7e-2f0f-4b43-9f41-4a6f1c7d8e02"
    r = client.put("management", dup, params={"api-version": RA_V}, json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "RoleAssignmentExists"
    bad_role = {"properties": dict(body["properties"], roleDefinitionId=role[:-4] + "ffff")}
    r = client.put("management", dup, params={"api-version": RA_V}, json=bad_role)
    assert r.status_code == 400 and r.json()["error"]["code"] == "RoleDefinitionDoesNotExist"
    r = client.put("management", f"{rid('rg1', 'Microsoft.KeyVault/vaults/missing')}/providers/Microsoft.Authorization/"
                   f"roleAssignments/{name}", params={"api-version": RA_V}, json=body)
    assert r.status_code == 404
    listed = client.get("management", f"{kv}/providers/Microsoft.Authorization/roleAssignments",
                        params={"api-version": RA_V}).json()["value"]
    assert [x["name"] for x in listed] == [name]
    defs = client.get("management", f"{sub()}/providers/Microsoft.Authorization/roleDefinitions",
                      params={"api-version": RA_V, "$filter": "roleName eq 'Key Vault Crypto Service Encryption User'"})
    assert [d["name"] for d in defs.json()["value"]] == ["e147488a-f6f5-4113-8e2d-b22465e65bf6"]


def test_user_assigned_identity_and_access_connector(client):
    make_rg(client)
    mi = rid("rg1", "Microsoft.ManagedIdentity/userAssignedIdentities/mi1")
    got = ok(client.put("management", mi, params={"api-version": "2023-01-31"}, json={"location": "westeurope"}))
    assert got["properties"]["principalId"] and got["properties"]["clientId"]
    ac = rid("rg1", "Microsoft.Databricks/accessConnectors/ac1")
    r = client.arm_put(ac, "2024-05-01", {"location": "westeurope"})
    assert r.status_code == 400
    got = ok(client.arm_put(ac, "2024-05-01", {"location": "westeurope", "identity": {"type": "SystemAssigned"}}))
    assert got["identity"]["principalId"] and got["identity"]["tenantId"] == SIM.config.tenant_id


def test_rule_collection_groups_one_write_at_a_time(client):
    make_rg(client)
    fp = rid("rg1", "Microsoft.Network/firewallPolicies/fp1")
    ok(client.arm_put(fp, NET_V, {"location": "westeurope"}))
    body = {"properties": {"priority": 100, "ruleCollections": []}}
    first = client.put("management", fp + "/ruleCollectionGroups/g1", params={"api-version": NET_V}, json=body)
    assert first.status_code == 201
    second = client.put("management", fp + "/ruleCollectionGroups/g2", params={"api-version": NET_V},
                        json={"properties": {"priority": 200}})
    assert second.status_code == 409 and second.json()["error"]["code"] == "AnotherOperationInProgress"
    policy = client.put("management", fp, params={"api-version": NET_V}, json={"location": "westeurope"})
    assert policy.status_code == 409
    client.arm_wait(first, fp + "/ruleCollectionGroups/g1", NET_V)
    ok(client.arm_put(fp + "/ruleCollectionGroups/g2", NET_V, {"properties": {"priority": 200}}))


def test_lists_are_paged_with_next_link(client):
    make_rg(client)
    SIM.config.page_size = 2
    try:
        for i in range(5):
            ok(client.put("management", rid("rg1", f"Microsoft.Network/ipGroups/ipg{i}"), params={"api-version": NET_V},
                          json={"location": "westeurope", "properties": {"ipAddresses": [f"10.{i}.0.0/16"]}}))
        url = client.base("management") + rg("rg1") + "/providers/Microsoft.Network/ipGroups?api-version=" + NET_V
        names, pages = [], 0
        hdr = {"Authorization": "Bearer " + client.token("https://management.azure.com/.default")}
        while url:
            body = client.session.get(url, headers=hdr, verify=client.running.ca).json()
            names += [x["name"] for x in body["value"]]
            url = body.get("nextLink")
            pages += 1
        assert names == [f"ipg{i}" for i in range(5)] and pages == 3
    finally:
        SIM.config.page_size = 100


def test_network_patch_updates_tags_only(client):
    make_rg(client)
    nsg = rid("rg1", "Microsoft.Network/networkSecurityGroups/n1")
    ok(client.arm_put(nsg, NET_V, {"location": "westeurope"}))
    r = client.patch("management", nsg, params={"api-version": NET_V}, json={"tags": {"team": "dr"}})
    assert r.status_code == 200 and r.json()["tags"] == {"team": "dr"}
    r = client.patch("management", nsg, params={"api-version": NET_V}, json={"properties": {}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties"


def test_role_assignment_delete_returns_it(client):
    make_rg(client)
    name = "2d9c2c7e-2f0f-4b43-9f41-4a6f1c7d8e03"
    ra = f"{rg('rg1')}/providers/Microsoft.Authorization/roleAssignments/{name}"
    ok(client.put("management", ra, params={"api-version": RA_V}, json={"properties": {
        "roleDefinitionId": f"{sub()}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "principalId": "00000000-0000-0000-0000-000000000004"}}))
    r = client.delete("management", ra, params={"api-version": RA_V})
    assert r.status_code == 200 and r.json()["name"] == name
    assert client.delete("management", ra, params={"api-version": RA_V}).status_code == 204
    assert client.get("management", ra, params={"api-version": RA_V}).status_code == 404
