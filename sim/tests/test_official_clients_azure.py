"""The official Azure SDK management clients against the simulator's ARM endpoint.

The clients run their own pipeline: bearer-token policy, retry policy, paging (nextLink), error
mapping (ResourceNotFoundError, ResourceExistsError, HttpResponseError with the ARM error code) and
the long-running-operation pollers of begin_create_or_update / begin_delete (Azure-AsyncOperation,
Location, Retry-After). A mismatch found here is fixed in the simulator, not worked around."""
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.databricks import AzureDatabricksManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as N
from azure.mgmt.resource.resources import ResourceManagementClient

from drsim.faults import FAULTS
from drsim.state import SIM

ARM_SCOPE = "https://management.azure.com/.default"
LOC = "westeurope"


class SimCredential:
    """An azure-core TokenCredential whose tokens come from the simulator's Entra endpoint
    (client-credentials flow of the simulator's default service principal)."""

    def __init__(self, client):
        self.client = client
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        self.calls += 1
        assert scopes == (ARM_SCOPE,), scopes
        return AccessToken(self.client.token(scopes[0]), int(time.time()) + 3600)


@pytest.fixture
def az(client, sim):
    cred = SimCredential(client)
    # polling_interval: the poller's wait when Retry-After gives none. The simulator's default
    # Retry-After is 0 (tests poll at once), which azure-core reads as "no hint".
    kw = {"base_url": SIM.config.url("management"), "connection_verify": sim.ca,
          "retry_backoff_factor": 0.01, "polling_interval": 0}
    sub = SIM.config.subscription_id

    class Clients:
        resource = ResourceManagementClient(cred, sub, **kw)
        network = NetworkManagementClient(cred, sub, **kw)
        databricks = AzureDatabricksManagementClient(cred, sub, **kw)
        credential = cred
    return Clients


def vnet_model():
    deleg = [N.Delegation(name="dbx", service_name="Microsoft.Databricks/workspaces")]
    return N.VirtualNetwork(location=LOC, address_space=N.AddressSpace(address_prefixes=["10.0.0.0/16"]),
                            subnets=[N.Subnet(name="host", address_prefix="10.0.1.0/24", delegations=deleg),
                                     N.Subnet(name="container", address_prefix="10.0.2.0/24",
                                              delegations=deleg),
                                     N.Subnet(name="pe", address_prefix="10.0.3.0/24")])


def test_vnet_workspace_private_endpoint_through_pollers(az):
    rg = az.resource.resource_groups.create_or_update("rg1", {"location": LOC})
    assert rg.name == "rg1" and rg.properties.provisioning_state == "Succeeded"
    nsg = az.network.network_security_groups.begin_create_or_update(
        "rg1", "nsg1", N.NetworkSecurityGroup(location=LOC)).result()
    vm = vnet_model()
    for s in vm.subnets[:2]:
        s.network_security_group = N.NetworkSecurityGroup(id=nsg.id)
    poller = az.network.virtual_networks.begin_create_or_update("rg1", "vnet1", vm)
    vnet = poller.result()
    assert poller.status() == "Succeeded" and poller.done()
    assert vnet.provisioning_state == "Succeeded"
    assert [s.name for s in vnet.subnets] == ["host", "container", "pe"]

    ws_poller = az.databricks.workspaces.begin_create_or_update("rg1", "ws1", {
        "location": LOC, "sku": {"name": "premium"},
        "properties": {
            "managedResourceGroupId": f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/rg1-ws1-managed",
            "parameters": {"customVirtualNetworkId": {"value": vnet.id},
                           "customPublicSubnetName": {"value": "host"},
                           "customPrivateSubnetName": {"value": "container"},
                           "enableNoPublicIp": {"value": True}},
            "publicNetworkAccess": "Disabled", "requiredNsgRules": "NoAzureDatabricksRules",
            "computeMode": "Hybrid"}})
    ws = ws_poller.result()
    assert ws.provisioning_state == "Succeeded" and ws.workspace_id.isdigit()
    assert ws.workspace_url.startswith(f"adb-{ws.workspace_id}.")
    assert ws.workspace_id in SIM.workspaces

    pe = az.network.private_endpoints.begin_create_or_update("rg1", "pe-ui", N.PrivateEndpoint(
        location=LOC, subnet=N.Subnet(id=vnet.id + "/subnets/pe"),
        private_link_service_connections=[N.PrivateLinkServiceConnection(
            name="ui", private_link_service_id=ws.id, group_ids=["databricks_ui_api"])])).result()
    assert pe.provisioning_state == "Succeeded"
    assert pe.custom_dns_configs[0].fqdn.startswith("adb-")
    got = az.databricks.workspaces.get("rg1", "ws1")
    assert got.private_endpoint_connections[0].properties.private_endpoint.id.lower() == pe.id.lower()

    az.network.private_endpoints.begin_delete("rg1", "pe-ui").result()
    with pytest.raises(ResourceNotFoundError):
        az.network.private_endpoints.get("rg1", "pe-ui")
    az.databricks.workspaces.begin_delete("rg1", "ws1").result()
    assert ws.workspace_id not in SIM.workspaces
    az.resource.resource_groups.begin_delete("rg1").result()
    assert not az.resource.resource_groups.check_existence("rg1")


def test_paging_and_errors(az):
    az.resource.resource_groups.create_or_update("rg1", {"location": LOC})
    saved, SIM.config.page_size = SIM.config.page_size, 2
    try:
        for i in range(5):
            az.network.network_security_groups.begin_create_or_update(
                "rg1", f"nsg{i}", N.NetworkSecurityGroup(location=LOC)).result()
        names = [n.name for n in az.network.network_security_groups.list("rg1")]
        assert sorted(names) == [f"nsg{i}" for i in range(5)]
        assert len([g for g in az.resource.resource_groups.list() if g.name == "rg1"]) == 1
    finally:
        SIM.config.page_size = saved
    with pytest.raises(ResourceNotFoundError) as ei:
        az.network.virtual_networks.get("rg1", "nope")
    assert ei.value.error.code == "ResourceNotFound"
    with pytest.raises(HttpResponseError) as ei:     # an invalid body: 400 with ARM's error code
        az.network.virtual_networks.begin_create_or_update("rg1", "bad", N.VirtualNetwork(
            location=LOC, address_space=N.AddressSpace(address_prefixes=["10.0.0.0/99"]))).result()
    assert ei.value.status_code == 400 and ei.value.error.code


def test_retries_and_failed_operations(az):
    az.resource.resource_groups.create_or_update("rg1", {"location": LOC})
    FAULTS.add(host_kind="management", method="PUT", path=r"/virtualNetworks/vnet1$", status=429,
               retry_after=0, times=1)
    FAULTS.add(host_kind="management", method="GET", path=r"/operationStatuses/", status=503, times=1)
    vnet = az.network.virtual_networks.begin_create_or_update("rg1", "vnet1", vnet_model()).result()
    assert vnet.provisioning_state == "Succeeded"
    assert all(r["fired"] == 1 for r in FAULTS.list())
    FAULTS.clear()
    FAULTS.add(host_kind="management", method="PUT", path=r"/networkSecurityGroups/nsgx$",
               lro_fail=True, code="InternalServerError", message="simulated failure")
    poller = az.network.network_security_groups.begin_create_or_update(
        "rg1", "nsgx", N.NetworkSecurityGroup(location=LOC))
    with pytest.raises(HttpResponseError) as ei:
        poller.result()
    assert "simulated failure" in str(ei.value)
    assert poller.status() == "Failed"


def test_poller_honours_retry_after(az):
    """With Retry-After: 1 on the operation, the poller waits about a second per poll."""
    az.resource.resource_groups.create_or_update("rg1", {"location": LOC})
    saved, SIM.config.retry_after = SIM.config.retry_after, 1
    try:
        t0 = time.monotonic()
        az.network.virtual_networks.begin_create_or_update("rg1", "vnet1", vnet_model()).result()
        took = time.monotonic() - t0
    finally:
        SIM.config.retry_after = saved
    assert SIM.config.lro_polls * 1.0 - 0.2 <= took < SIM.config.lro_polls + 3, took
