"""Builders for ARM tests: ids and the bodies of a small estate."""
from drsim.state import SIM

NET_V = "2024-05-01"
RG_V = "2024-03-01"
ST_V = "2024-01-01"
KV_V = "2023-07-01"
DBX_V = "2024-05-01"
RA_V = "2022-04-01"


def sub():
    return f"/subscriptions/{SIM.config.subscription_id}"


def rg(name="rg1"):
    return f"{sub()}/resourceGroups/{name}"


def rid(rg_name, provider_path):
    return f"{rg(rg_name)}/providers/{provider_path}"


def ok(r, *codes):
    codes = codes or (200, 201)
    assert r.status_code in codes, f"{r.request.method} {r.url} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


def make_rg(client, name="rg1", location="westeurope"):
    return ok(client.put("management", rg(name), params={"api-version": RG_V}, json={"location": location}))


def make_network(client, rg_name="rg1", location="westeurope"):
    """vnet 10.0.0.0/16 with an NSG, two delegated Databricks subnets, a PE subnet, AzureFirewallSubnet."""
    make_rg(client, rg_name, location)
    nsg = rid(rg_name, "Microsoft.Network/networkSecurityGroups/nsg1")
    ok(client.arm_put(nsg, NET_V, {"location": location}))
    deleg = [{"name": "dbx", "properties": {"serviceName": "Microsoft.Databricks/workspaces"}}]
    vnet = rid(rg_name, "Microsoft.Network/virtualNetworks/vnet1")
    body = {"location": location, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [
            {"name": "host", "properties": {"addressPrefix": "10.0.1.0/24", "delegations": deleg,
                                             "networkSecurityGroup": {"id": nsg}}},
            {"name": "container", "properties": {"addressPrefix": "10.0.2.0/24", "delegations": deleg,
                                                  "networkSecurityGroup": {"id": nsg}}},
            {"name": "pe", "properties": {"addressPrefix": "10.0.3.0/24"}},
            {"name": "AzureFirewallSubnet", "properties": {"addressPrefix": "10.0.4.0/26"}},
        ]}}
    ok(client.arm_put(vnet, NET_V, body))
    return vnet, nsg


def make_vault_key(client, rg_name="rg1", location="westeurope", name="kv-sim-1", rbac=True):
    kv = rid(rg_name, f"Microsoft.KeyVault/vaults/{name}")
    ok(client.arm_put(kv, KV_V, {"location": location, "properties": {
        "tenantId": SIM.config.tenant_id, "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": True, "enableRbacAuthorization": rbac}}))
    key = ok(client.put("management", kv + "/keys/cmk", params={"api-version": KV_V},
                        json={"properties": {"kty": "RSA", "keySize": 2048}}))
    return kv, key


def make_storage(client, rg_name="rg1", name="stsim1", location="westeurope", sku="Standard_GRS"):
    sa = rid(rg_name, f"Microsoft.Storage/storageAccounts/{name}")
    ok(client.arm_put(sa, ST_V, {"location": location, "kind": "StorageV2", "sku": {"name": sku},
                                 "properties": {"isHnsEnabled": True, "publicNetworkAccess": "Disabled"}}))
    return sa


def workspace_body(vnet=None, location="westeurope", rg_name="rg1", name="ws1", **props):
    p = {"managedResourceGroupId": f"{rg(rg_name + '-' + name + '-managed')}"}
    if vnet:
        p["parameters"] = {"customVirtualNetworkId": {"value": vnet},
                           "customPublicSubnetName": {"value": "host"},
                           "customPrivateSubnetName": {"value": "container"},
                           "enableNoPublicIp": {"value": True}}
    p.update(props)
    return {"location": location, "sku": {"name": "premium"}, "properties": p}
