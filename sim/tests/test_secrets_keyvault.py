"""Azure Key Vault-backed secret scopes: the ARM vault secret (value never returned), the scope
created only with an Entra ID token and a vault that exists, read-only through the Secrets API,
its secrets read through the vault with the AzureDatabricks application's access."""
import base64

import pytest

from arm_helpers import KV_V, RA_V, make_rg, ok, rid
from drsim.databricks.testkit import estate
from drsim.state import DATABRICKS_SP_OBJECT_ID, SIM
from drsim.tokens import mint_databricks_m2m

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SEC = "/api/2.0/secrets"


@pytest.fixture
def e(client):
    return estate()


def vault(client, name="kv-scope-1", rbac=True):
    make_rg(client, "rg-kv")
    kv = rid("rg-kv", f"Microsoft.KeyVault/vaults/{name}")
    v = ok(client.arm_put(kv, KV_V, {"location": "westeurope", "properties": {
        "tenantId": SIM.config.tenant_id, "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": True, "enableRbacAuthorization": rbac}}))
    return kv, v["properties"]["vaultUri"]


def put_secret(client, kv, name, value, **props):
    return client.put("management", f"{kv}/secrets/{name}", params={"api-version": KV_V},
                      json={"properties": dict(props, value=value)})


def grant_databricks(client, kv):
    ra = f"{kv}/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e-0000-4000-8000-000000000001"
    ok(client.put("management", ra, params={"api-version": RA_V}, json={"properties": {
        "roleDefinitionId": f"/subscriptions/{SIM.config.subscription_id}/providers/Microsoft.Authorization/"
                            f"roleDefinitions/{SECRETS_USER}",
        "principalId": DATABRICKS_SP_OBJECT_ID, "principalType": "ServicePrincipal"}}))


def kv_scope(client, ws, kv, uri, name="drhost", token=None):
    return client.post(ws, SEC + "/scopes/create", token=token, json={
        "scope": name, "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": kv, "dns_name": uri}})


def test_arm_secret_value_is_never_returned_and_each_put_is_a_version(client):
    kv, uri = vault(client)
    r = ok(put_secret(client, kv, "azure-client-secret", "placeholder", contentType="text/plain"))
    assert "value" not in r["properties"]
    assert r["properties"]["secretUri"] == uri + "secrets/azure-client-secret"
    v1 = r["properties"]["secretUriWithVersion"]
    g = ok(client.get("management", f"{kv}/secrets/azure-client-secret", params={"api-version": KV_V}))
    assert "value" not in g["properties"] and g["properties"]["attributes"]["enabled"] is True
    r2 = ok(put_secret(client, kv, "azure-client-secret", "the real one"))
    assert r2["properties"]["secretUriWithVersion"] != v1
    # the contract: a misspelt field is refused with its name
    bad = client.put("management", f"{kv}/secrets/x", params={"api-version": KV_V},
                     json={"properties": {"valu": "v"}})
    assert bad.status_code == 400 and "valu" in bad.text
    # PATCH without a value keeps the value (a tag change is not a new version)
    p = ok(client.patch("management", f"{kv}/secrets/azure-client-secret", params={"api-version": KV_V},
                        json={"tags": {"owner": "ops"}}))
    assert p["tags"] == {"owner": "ops"} and p["properties"]["secretUriWithVersion"] == \
        r2["properties"]["secretUriWithVersion"]


def test_kv_scope_needs_an_entra_token_and_an_existing_vault(client, e):
    ws = e.dr.ws
    kv, uri = vault(client)
    dbx, _ = mint_databricks_m2m("deployer-sp", "all-apis", "workspace", workspace_id=ws["id"])
    r = kv_scope(client, ws, kv, uri, token=dbx)
    assert r.status_code == 400 and "userAADToken" in r.json()["message"]
    r = kv_scope(client, ws, kv + "-nope", uri)
    assert r.status_code == 400 and "does not exist" in r.json()["message"]
    r = kv_scope(client, ws, kv, "https://other.vault.azure.net/")
    assert r.status_code == 400 and "dns_name" in r.json()["message"]
    r = client.post(ws, SEC + "/scopes/create", json={
        "scope": "x", "backend_azure_keyvault": {"resource_id": kv, "dns_name": uri}})
    assert r.status_code == 400 and "only allowed" in r.json()["message"]
    r = client.post(ws, SEC + "/scopes/create", json={
        "scope": "x", "scope_backend_type": "AZURE_KEYVAULT",
        "backend_azure_keyvault": {"resource_id": kv, "dns_nam": uri}})
    assert r.status_code == 400 and "dns_nam" in r.json()["message"]
    assert kv_scope(client, ws, kv, uri).status_code == 200


def test_kv_scope_lists_backend_reads_the_vault_and_is_read_only(client, e):
    ws = e.dr.ws
    kv, uri = vault(client)
    ok(put_secret(client, kv, "azure-client-id", "app-1"))
    assert kv_scope(client, ws, kv, uri).status_code == 200
    assert client.post(ws, SEC + "/scopes/create", json={"scope": "plain"}).status_code == 200
    scopes = {s["name"]: s for s in client.get(ws, SEC + "/scopes/list").json()["scopes"]}
    assert scopes["drhost"]["backend_type"] == "AZURE_KEYVAULT"
    assert scopes["drhost"]["keyvault_metadata"] == {"resource_id": kv, "dns_name": uri}
    assert scopes["plain"]["backend_type"] == "DATABRICKS" and "keyvault_metadata" not in scopes["plain"]
    # the AzureDatabricks application has no access to the RBAC vault yet
    r = client.get(ws, SEC + "/list", params={"scope": "drhost"})
    assert r.status_code == 403 and "Key Vault Secrets User" in r.json()["message"]
    grant_databricks(client, kv)
    keys = client.get(ws, SEC + "/list", params={"scope": "drhost"}).json()["secrets"]
    assert [k["key"] for k in keys] == ["azure-client-id"] and "value" not in keys[0]
    # the operator sets the value out of band in the vault; the scope reads the latest version
    ok(put_secret(client, kv, "azure-client-id", "app-2"))
    v = client.get(ws, SEC + "/get", params={"scope": "drhost", "key": "azure-client-id"}).json()
    assert base64.b64decode(v["value"]) == b"app-2"
    # read-only interface to the vault: put and delete are refused, the vault keeps its secret
    r = client.post(ws, SEC + "/put", json={"scope": "drhost", "key": "azure-client-id", "string_value": "x"})
    assert r.status_code == 400 and "Key Vault" in r.json()["message"]
    r = client.post(ws, SEC + "/delete", json={"scope": "drhost", "key": "azure-client-id"})
    assert r.status_code == 400 and "Key Vault" in r.json()["message"]
    # deleting the scope leaves the vault's secrets alone
    assert client.post(ws, SEC + "/scopes/delete", json={"scope": "drhost"}).status_code == 200
    assert "drhost" not in [s["name"] for s in client.get(ws, SEC + "/scopes/list").json()["scopes"]]
    assert ok(client.get("management", f"{kv}/secrets/azure-client-id", params={"api-version": KV_V}))


def test_access_policy_vault_needs_secret_get_and_list(client, e):
    ws = e.dr.ws
    kv, uri = vault(client, name="kv-scope-ap", rbac=False)
    assert kv_scope(client, ws, kv, uri, name="ap").status_code == 200
    assert client.get(ws, SEC + "/list", params={"scope": "ap"}).status_code == 403
    ok(client.arm_put(kv, KV_V, {"location": "westeurope", "properties": {
        "tenantId": SIM.config.tenant_id, "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": True, "accessPolicies": [{
            "tenantId": SIM.config.tenant_id, "objectId": DATABRICKS_SP_OBJECT_ID,
            "permissions": {"secrets": ["get", "list"]}}]}}))
    assert client.get(ws, SEC + "/list", params={"scope": "ap"}).json() == {"secrets": []}
