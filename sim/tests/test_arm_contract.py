"""Request bodies are checked against the Azure SDK models: unknown, read-only, required, enum, types;
api-version handling."""
import pytest

from arm_helpers import DBX_V, NET_V, RA_V, make_network, make_rg, ok, rg, rid, sub, workspace_body


def put(client, resource_id, version, body):
    return client.put("management", resource_id, params={"api-version": version}, json=body)


def test_workspace_misspelt_property_is_named_then_fixed(client):
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body()
    body["properties"]["publicNetworkAcess"] = "Enabled"
    r = put(client, ws, DBX_V, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "InvalidRequestContent"
    assert err["target"] == "properties.publicNetworkAcess"
    assert "publicNetworkAcess" in err["message"] and "WorkspaceProperties" in err["message"]
    body["properties"]["publicNetworkAccess"] = body["properties"].pop("publicNetworkAcess")
    r = put(client, ws, DBX_V, body)
    assert r.status_code == 201, r.text


def test_nested_unknown_property_path(client):
    make_rg(client)
    fp = rid("rg1", "Microsoft.Network/firewallPolicies/fp1")
    ok(client.arm_put(fp, NET_V, {"location": "westeurope"}))
    rule = {"ruleType": "NetworkRule", "name": "dbx", "ipProtocol": ["TCP"], "sourceAddresses": ["10.0.0.0/16"],
            "destinationAddresses": ["AzureDatabricks"], "destinationPorts": ["443"]}
    body = {"properties": {"priority": 200, "ruleCollections": [{
        "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net", "priority": 100,
        "action": {"type": "Allow"}, "rules": [rule]}]}}
    r = put(client, fp + "/ruleCollectionGroups/g1", NET_V, body)
    assert r.status_code == 400
    assert r.json()["error"]["target"] == "properties.ruleCollections[0].rules[0].ipProtocol"
    rule["ipProtocols"] = rule.pop("ipProtocol")
    assert put(client, fp + "/ruleCollectionGroups/g1", NET_V, body).status_code == 201
    # the discriminator picks the subtype: an application rule property on a network rule is unknown
    rule["targetFqdns"] = ["packages.example.org"]
    r = put(client, fp + "/ruleCollectionGroups/g1", NET_V, body)
    assert r.status_code == 400 and r.json()["error"]["target"].endswith("rules[0].targetFqdns")


def test_readonly_properties_are_ignored(client):
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body()
    body["properties"].update(workspaceUrl="evil.example", provisioningState="Succeeded", workspaceId="1")
    r = client.arm_put(ws, DBX_V, body)
    got = ok(r)
    assert got["properties"]["workspaceUrl"] != "evil.example"
    assert got["properties"]["workspaceId"] != "1"


def test_required_properties(client):
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body()
    del body["location"]
    r = put(client, ws, DBX_V, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "LocationRequired"
    r = put(client, ws, DBX_V, {"location": "westeurope", "sku": {"name": "premium"}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties"
    # computeMode is required by the 2026-01-01 model only
    r = put(client, ws, "2026-01-01", workspace_body())
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties.computeMode"
    ra = f"{rg('rg1')}/providers/Microsoft.Authorization/roleAssignments/11111111-2222-3333-4444-555555555555"
    r = put(client, ra, RA_V, {"properties": {"roleDefinitionId": "/x/acdd72a7-3385-48ef-bd42-f606fba81ae7"}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties.principalId"


def test_enum_values(client):
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body(publicNetworkAccess="Sometimes")
    r = put(client, ws, DBX_V, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["target"] == "properties.publicNetworkAccess" and "Enabled" in err["message"]
    body["properties"]["publicNetworkAccess"] = "enabled"       # case-insensitive, stored canonical
    got = ok(client.arm_put(ws, DBX_V, body))
    assert got["properties"]["publicNetworkAccess"] == "Enabled"


def test_value_types(client):
    make_rg(client)
    ws = rid("rg1", "Microsoft.Databricks/workspaces/ws1")
    body = workspace_body()
    body["properties"]["parameters"] = {"enableNoPublicIp": {"value": "yes"}}
    r = put(client, ws, DBX_V, body)
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties.parameters.enableNoPublicIp.value"
    r = put(client, ws, DBX_V, {"location": "westeurope", "sku": {"name": "premium"}, "properties": "x"})
    assert r.status_code == 400 and r.json()["error"]["target"] == "properties"
    r = put(client, rid("rg1", "Microsoft.Network/virtualNetworks/v"), NET_V,
            {"location": "westeurope", "tags": {"a": 1}})
    assert r.status_code == 400 and r.json()["error"]["target"] == "tags.a"


def test_invalid_json_body(client):
    make_rg(client)
    r = client.put("management", rid("rg1", "Microsoft.Network/virtualNetworks/v"), params={"api-version": NET_V},
                   data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"


def test_api_versions(client):
    make_rg(client)
    v = rid("rg1", "Microsoft.Network/virtualNetworks/v")
    r = client.get("management", v)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    r = client.get("management", v, params={"api-version": "2099-01-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "2024-05-01" in r.json()["error"]["message"]
    r = client.get("management", rg("rg1"), params={"api-version": "1999-01-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidApiVersionParameter"
    r = client.get("management", rid("rg1", "Microsoft.Network/frobnicators/x"), params={"api-version": NET_V})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceType"


def test_location_must_be_a_region(client):
    make_rg(client)
    r = put(client, rid("rg1", "Microsoft.Network/networkSecurityGroups/n"), NET_V, {"location": "atlantis"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "LocationNotAvailableForResourceType"
    r = put(client, rid("rg1", "Microsoft.Network/networkSecurityGroups/n"), NET_V, {"location": "West Europe"})
    assert r.status_code == 201 and r.json()["location"] == "westeurope"


@pytest.mark.parametrize("path,model_hint", [
    ("Microsoft.Storage/storageAccounts/st1", "StorageAccountCreateParameters"),
    ("Microsoft.KeyVault/vaults/kv1", "VaultCreateOrUpdateParameters"),
    ("Microsoft.Network/privateEndpoints/pe1", "PrivateEndpoint"),
])
def test_unknown_top_level_member_names_model(client, path, model_hint):
    make_network(client)
    body = {"location": "westeurope", "bogusProperty": 1}
    r = put(client, rid("rg1", path), {"Microsoft.Storage": "2024-01-01", "Microsoft.KeyVault": "2023-07-01",
                                       "Microsoft.Network": NET_V}[path.split("/")[0]], body)
    assert r.status_code == 400
    assert r.json()["error"]["target"] == "bogusProperty" and model_hint in r.json()["error"]["message"]


def test_subscription_and_providers(client):
    r = client.get("management", sub(), params={"api-version": "2022-12-01"})
    assert r.status_code == 200 and r.json()["tenantId"]
    r = client.get("management", "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/x",
                   params={"api-version": "2024-03-01"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "SubscriptionNotFound"
    r = client.get("management", sub() + "/providers/Microsoft.Databricks", params={"api-version": "2021-04-01"})
    assert r.status_code == 200 and r.json()["registrationState"] == "Registered"
