"""Azure Resource Graph on the simulator: the official azure-mgmt-resourcegraph client pages a
Resources query ($skipToken), rows have the service's columns and the GET view (children a parent
carries inline included), the KQL subset is evaluated and anything outside it is refused with the
service's error shape, and a frozen index lags ARM."""
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph import models as G

from drsim.arm import graph
from drsim.state import SIM

from arm_helpers import RA_V, make_network, make_rg, make_storage, make_vault_key, ok, rg, sub

GRAPH = "/providers/Microsoft.ResourceGraph/resources"
V = "2021-03-01"


class _Cred:
    def __init__(self, client):
        self.client = client

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.client.token(scopes[0]), int(time.time()) + 3600)


def _estate(client):
    vnet, nsg = make_network(client, "rg1")
    sa = make_storage(client, "rg1")
    make_rg(client, "rg2")
    other = make_storage(client, "rg2", name="stsim2")
    return vnet, nsg, sa, other


def _post(client, body, version=V):
    return client.post("management", GRAPH, params={"api-version": version}, json=body)


def test_official_client_pages_a_resources_query(client, sim):
    vnet, nsg, sa, other = _estate(client)
    rgc = ResourceGraphClient(_Cred(client), base_url=SIM.config.url("management"), connection_verify=sim.ca,
                              retry_backoff_factor=0.01)
    q = "Resources | where resourceGroup in~ ('RG1') | order by id asc"
    rows, token, pages = [], None, 0
    while True:
        opts = G.QueryRequestOptions(top=1, skip_token=token, result_format="objectArray")
        resp = rgc.resources(G.QueryRequest(subscriptions=[SIM.config.subscription_id], query=q, options=opts))
        pages += 1
        assert resp.total_records == 3 and resp.count == 1 and resp.result_truncated == "false"
        rows += resp.data
        token = resp.skip_token
        if not token:
            break
    assert pages == 3
    assert [r["id"].lower() for r in rows] == sorted(x.lower() for x in (vnet, nsg, sa))
    by_type = {r["type"]: r for r in rows}
    # lower-case type, the extra columns, and the GET view with inline children
    assert set(by_type) == {"microsoft.network/virtualnetworks", "microsoft.network/networksecuritygroups",
                            "microsoft.storage/storageaccounts"}
    v = by_type["microsoft.network/virtualnetworks"]
    assert v["resourceGroup"] == "rg1" and v["subscriptionId"] == SIM.config.subscription_id
    assert v["tenantId"] == SIM.config.tenant_id
    assert sorted(s["name"] for s in v["properties"]["subnets"]) == ["AzureFirewallSubnet", "container", "host", "pe"]
    assert "privateEndpointConnections" in by_type["microsoft.storage/storageaccounts"]["properties"]
    assert other.lower() not in [r["id"].lower() for r in rows]


def test_tables_and_where_project(client):
    _estate(client)
    kv, _ = make_vault_key(client, "rg1")
    role = f"{sub()}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6"
    ra = f"{kv}/providers/Microsoft.Authorization/roleAssignments/0d9c2c7e-2f0f-4b43-9f41-4a6f1c7d8e01"
    ok(client.put("management", ra, params={"api-version": RA_V}, json={"properties": {
        "roleDefinitionId": role, "principalId": "00000000-0000-0000-0000-0000000000db",
        "principalType": "ServicePrincipal"}}))
    b = ok(_post(client, {"query": "ResourceContainers | where type == 'microsoft.resources/subscriptions/resourcegroups'"
                          " and (name =~ 'rg1' or name == 'rg2') | project id, name | order by name desc"}))
    assert b["data"] == [{"id": rg("rg2"), "name": "rg2"}, {"id": rg("rg1"), "name": "rg1"}]
    assert "$skipToken" not in b
    b = ok(_post(client, {"query": "authorizationresources | where type =~ 'Microsoft.Authorization/roleAssignments'"
                          " and resourceGroup in ('rg1') | project id, properties.principalId"}))
    assert b["data"] == [{"id": ra, "properties.principalId": "00000000-0000-0000-0000-0000000000db"}]
    # children that are their own resources and not in a parent's GET are not in Resources
    b = ok(_post(client, {"query": "Resources | where type !~ 'microsoft.network/virtualnetworks' and "
                          "resourceGroup !in~ ('rg2') | project type", "options": {"resultFormat": "table"}}))
    assert b["data"]["columns"] == [{"name": "type", "type": "string"}]
    assert sorted(r[0] for r in b["data"]["rows"]) == ["microsoft.keyvault/vaults",
                                                       "microsoft.network/networksecuritygroups",
                                                       "microsoft.storage/storageaccounts"]
    b = ok(_post(client, {"query": "Resources | take 1"}))
    assert b["count"] == 1 and b["totalRecords"] == 1


@pytest.mark.parametrize("query,code,token", [
    ("Resources | extend x = 1", "UnsupportedOperator", "extend"),
    ("Resources | where name contains 'a'", "UnsupportedOperator", "contains"),
    ("Resources | where name == 'a", "ParserFailure", "'a"),
    ("Resources | where name ==", "ParserFailure", ""),
    ("Resources | where (name == 'a'", "ParserFailure", ""),
    ("Resources where name == 'a'", "ParserFailure", "where"),
    ("SecurityResources", "UnknownTable", "SecurityResources"),
    ("Resources | summarize count() by type", "UnsupportedOperator", "summarize"),
])
def test_queries_outside_the_subset_are_refused(client, query, code, token):
    r = _post(client, {"query": query})
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["code"] == "BadRequest" and "correlationId" in e["message"]
    assert [d["code"] for d in e["details"]] == ["InvalidQuery", code]
    assert e["details"][1]["token"] == token and e["details"][1]["line"] == 1
    assert isinstance(e["details"][1]["characterPositionInLine"], int)


def test_request_contract(client):
    assert _post(client, {"query": "Resources"}, version="2099-01-01").status_code == 400
    r = _post(client, {"query": "Resources", "bogus": 1})
    assert r.status_code == 400 and "bogus" in r.text
    r = _post(client, {"options": {"$top": 5}})
    assert r.status_code == 400, r.text
    r = _post(client, {"query": "Resources", "options": {"$top": 1001}})
    assert r.status_code == 400
    # a $skipToken belongs to its query
    _estate(client)
    b = ok(_post(client, {"query": "Resources", "options": {"$top": 1}}))
    r = _post(client, {"query": "Resources | take 5", "options": {"$skipToken": b["$skipToken"]}})
    assert r.status_code == 400 and r.json()["error"]["details"][0]["code"] == "InvalidSkipToken"
    r = _post(client, {"query": "Resources", "options": {"$skipToken": "!!"}})
    assert r.status_code == 400


def test_page_size_knob_and_freeze_models_lag(client):
    vnet, nsg, sa, other = _estate(client)
    SIM.config.graph_page_size = 2
    try:
        b = ok(_post(client, {"query": "Resources"}))
        assert b["count"] == 2 and b["totalRecords"] == 4 and b["$skipToken"]
    finally:
        SIM.config.graph_page_size = 1000
    ok(client.post("admin", "/graph/freeze"))
    make_storage(client, "rg1", name="stsim3")
    ids = [r["id"] for r in ok(_post(client, {"query": "Resources | where name == 'stsim3'"}))["data"]]
    assert ids == []
    assert client.delete("admin", "/graph/freeze").status_code == 204
    ids = [r["name"] for r in ok(_post(client, {"query": "Resources | where name == 'stsim3'"}))["data"]]
    assert ids == ["stsim3"]
    graph.unfreeze()
