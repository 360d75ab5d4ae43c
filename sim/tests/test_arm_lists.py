"""ARM list operations of child resources Resource Graph does not index (the deploy plan reads
them in bulk where one list covers several declared children): each list is served in the shape
of its SDK list-item model (checked with the same contract as request bodies: no member the model
lacks, types and enums right), items match the child's GET except where the real list leaves
properties out, a list under a missing parent is 404, and the official SDK clients page them."""
import pytest
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.storage import StorageManagementClient

from arm_helpers import KV_V, NET_V, ST_V, make_network, make_rg, make_storage, make_vault_key, ok, rid
from drsim.arm import contract
from drsim.arm.ids import parse
from drsim.arm.types import TYPES
from drsim.state import SIM
from test_official_clients_azure import SimCredential


def listed(client, path, api):
    body = ok(client.get("management", path, params={"api-version": api}))
    assert "nextLink" not in body
    return body["value"]


def conforms(path, items):
    """Each item passes the contract of the list-item model of the collection's type."""
    spec = TYPES[parse(path + "/x").type_key]
    for item in items:
        contract.check(spec.list_model(), item, mode="update")


@pytest.fixture
def estate(client):
    vnet, _ = make_network(client)
    sa = make_storage(client)
    ok(client.put("management", sa + "/blobServices/default", params={"api-version": ST_V},
                  json={"properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}}}))
    for c in ("unity", "data"):
        ok(client.put("management", f"{sa}/blobServices/default/containers/{c}", params={"api-version": ST_V},
                      json={"properties": {"publicAccess": "None"}}))
    kv, _ = make_vault_key(client)
    ok(client.put("management", kv + "/keys/cmk2", params={"api-version": KV_V},
                  json={"properties": {"kty": "RSA", "keySize": 3072}}))
    fp = rid("rg1", "Microsoft.Network/firewallPolicies/fp1")
    ok(client.arm_put(fp, NET_V, {"location": "westeurope"}))
    for i, g in enumerate(("g1", "g2")):
        ok(client.arm_put(f"{fp}/ruleCollectionGroups/{g}", NET_V, {"properties": {"priority": 100 + i}}))
    zone = rid("rg1", "Microsoft.Network/privateDnsZones/privatelink.dfs.core.windows.net")
    ok(client.arm_put(zone, "2020-06-01", {"location": "global"}))
    pe = rid("rg1", "Microsoft.Network/privateEndpoints/pe-dfs")
    ok(client.arm_put(pe, NET_V, {"location": "westeurope", "properties": {
        "subnet": {"id": vnet + "/subnets/pe"},
        "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": sa, "groupIds": ["dfs"]}}]}}))
    ok(client.arm_put(pe + "/privateDnsZoneGroups/default", NET_V, {"properties": {"privateDnsZoneConfigs": [
        {"name": "dfs", "properties": {"privateDnsZoneId": zone}}]}}))
    return {"sa": sa, "kv": kv, "fp": fp, "pe": pe}


@pytest.mark.parametrize("coll,api,names", [
    ("{sa}/blobServices", ST_V, ["default"]),
    ("{fp}/ruleCollectionGroups", NET_V, ["g1", "g2"]),
    ("{pe}/privateDnsZoneGroups", NET_V, ["default"]),
])
def test_lists_in_the_shape_of_the_get(client, estate, coll, api, names):
    path = coll.format(**estate)
    items = listed(client, path, api)
    assert [i["name"] for i in items] == names
    conforms(path, items)
    for i in items:
        assert i == ok(client.get("management", i["id"], params={"api-version": api}))


def test_container_list_leaves_out_immutability_and_legal_hold(client, estate):
    path = estate["sa"] + "/blobServices/default/containers"
    ids = [i["id"] for i in listed(client, path, ST_V)]
    stored = SIM.arm.get(ids[0])
    stored["properties"]["immutabilityPolicy"] = {"properties": {"immutabilityPeriodSinceCreationInDays": 1}}
    stored["properties"]["legalHold"] = {"hasLegalHold": False, "tags": []}
    items = listed(client, path, ST_V)
    assert [i["name"] for i in items] == ["data", "unity"]
    conforms(path, items)
    first = ok(client.get("management", ids[0], params={"api-version": ST_V}))
    assert "immutabilityPolicy" in first["properties"] and "immutabilityPolicy" not in items[0]["properties"]
    assert items[0]["properties"]["publicAccess"] == first["properties"]["publicAccess"] == "None"


def test_key_list_carries_attributes_not_the_key_type(client, estate):
    path = estate["kv"] + "/keys"
    items = listed(client, path, KV_V)
    assert [i["name"] for i in items] == ["cmk", "cmk2"]
    conforms(path, items)
    got = ok(client.get("management", items[1]["id"], params={"api-version": KV_V}))
    assert got["properties"]["keySize"] == 3072 and "keySize" not in items[1]["properties"]
    assert items[1]["properties"]["attributes"]["enabled"] is True
    assert items[1]["properties"]["keyUri"] == got["properties"]["keyUri"]


def test_list_under_a_missing_parent_is_404_and_api_version_is_checked(client, estate):
    r = client.get("management", rid("rg1", "Microsoft.Storage/storageAccounts/nope/blobServices/default/containers"),
                   params={"api-version": ST_V})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ParentResourceNotFound"
    r = client.get("management", estate["kv"] + "/keys", params={"api-version": "2001-01-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"
    r = client.get("management", estate["fp"] + "/ruleCollectionGroups")
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"


def test_official_clients_list_and_page(client, estate, sim):
    cred = SimCredential(client)
    kw = {"base_url": SIM.config.url("management"), "connection_verify": sim.ca, "retry_backoff_factor": 0.01}
    sub = SIM.config.subscription_id
    SIM.config.page_size = 1                     # every list pages through nextLink
    try:
        st = StorageManagementClient(cred, sub, **kw)
        assert sorted(c.name for c in st.blob_containers.list("rg1", "stsim1")) == ["data", "unity"]
        svc = list(st.blob_services.list("rg1", "stsim1"))
        assert len(svc) == 1 and svc[0].delete_retention_policy.days == 7
        kv = KeyVaultManagementClient(cred, sub, **kw)
        keys = list(kv.keys.list("rg1", "kv-sim-1"))
        assert [k.name for k in keys] == ["cmk", "cmk2"] and keys[0].attributes.enabled is True
        net = NetworkManagementClient(cred, sub, **kw)
        groups = list(net.firewall_policy_rule_collection_groups.list("rg1", "fp1"))
        assert [(g.name, g.priority) for g in groups] == [("g1", 100), ("g2", 101)]
        zg = list(net.private_dns_zone_groups.list("pe-dfs", "rg1"))
        assert [z.name for z in zg] == ["default"]
    finally:
        SIM.config.page_size = 100
