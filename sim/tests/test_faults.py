"""Fault injection (admin API and Python API) and request statistics."""
import time

from drsim.faults import FAULTS
from drsim.state import SIM

from arm_helpers import RG_V, make_rg, rg


def rg_get(client, name="rg1"):
    return client.get("management", rg(name), params={"api-version": RG_V})


def test_429_with_retry_after_in_arm_shape(client):
    make_rg(client)
    r = client.post("admin", "/faults", json={"host_kind": "management", "method": "GET",
                                              "path": "/resourceGroups/rg1$", "retry_after": 3, "times": 2})
    assert r.status_code == 201
    rule_id = r.json()["id"]
    a, b, c = rg_get(client), rg_get(client), rg_get(client)
    assert a.status_code == 429 and a.headers["Retry-After"] == "3"
    assert a.json()["error"]["code"] == "TooManyRequests"
    assert b.status_code == 429 and c.status_code == 200
    listed = client.get("admin", "/faults").json()["faults"]
    assert listed[0]["id"] == rule_id and listed[0]["fired"] == 2 and listed[0]["matched"] == 3
    assert client.delete("admin", f"/faults/{rule_id}").status_code == 204
    assert client.get("admin", "/faults").json()["faults"] == []


def test_fail_the_nth_call(client):
    make_rg(client)
    FAULTS.add(host_kind="management", method="GET", path="/resourceGroups/", nth=3, status=503)
    codes = [rg_get(client).status_code for _ in range(5)]
    assert codes == [200, 200, 503, 200, 200]


def test_error_rate_and_databricks_shape(client):
    ws = SIM.register_workspace("wsf", "westeurope")
    FAULTS.add(host_kind="workspace", path="^/api/2.1/", rate=1.0, status=503)
    r = client.get(ws, "/api/2.1/unity-catalog/catalogs")
    assert r.status_code == 503
    assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE" and set(r.json()) == {"error_code", "message", "details"}
    FAULTS.clear()
    FAULTS.add(host_kind="management", rate=0.0, status=500)
    make_rg(client)
    assert all(rg_get(client).status_code == 200 for _ in range(5))


def test_latency(client):
    make_rg(client)
    client.post("admin", "/faults", json={"host_kind": "management", "path": "/resourceGroups/rg1$",
                                          "latency_ms": 300})
    t = time.monotonic()
    assert rg_get(client).status_code == 200
    assert time.monotonic() - t >= 0.3


def test_login_fault_shape(client):
    FAULTS.add(host_kind="login", path="/oauth2/", status=429, retry_after=1)
    r = client.session.post(SIM.config.url("login", f"/{SIM.config.tenant_id}/oauth2/v2.0/token"),
                            data={"grant_type": "client_credentials"}, verify=client.running.ca)
    assert r.status_code == 429 and r.json()["error"] == "temporarily_unavailable" and r.headers["Retry-After"] == "1"


def test_bad_fault_rule(client):
    r = client.post("admin", "/faults", json={"host_kind": "management", "bogus": 1})
    assert r.status_code == 400 and "bogus" in r.json()["message"]
    r = client.post("admin", "/faults", json={"path": "([", "status": 500})
    assert r.status_code == 400


def test_slow_lro(client):
    make_rg(client)
    client.post("admin", "/faults", json={"host_kind": "management", "method": "PUT",
                                          "path": "networkSecurityGroups", "lro_extra_polls": 4})
    nsg = rg("rg1") + "/providers/Microsoft.Network/networkSecurityGroups/n1"
    r = client.put("management", nsg, params={"api-version": "2024-05-01"}, json={"location": "westeurope"})
    url = r.headers["Azure-AsyncOperation"]
    hdr = {"Authorization": "Bearer " + client.token("https://management.azure.com/.default")}
    seen = [client.session.get(url, headers=hdr, verify=client.running.ca).json()["status"] for _ in range(8)]
    assert seen.count("InProgress") == SIM.config.lro_polls + 4
    assert seen[-1] == "Succeeded"


def test_stats_count_requests(client):
    make_rg(client)
    assert client.delete("admin", "/stats").status_code == 204
    for _ in range(3):
        rg_get(client)
    s = client.get("admin", "/stats").json()
    assert s["by_host"]["management"] == 3
    assert s["by_route"]["management GET Microsoft.Resources/resourceGroups"] == 3
    assert s["by_status"]["200"] == 3


def test_reset_clears_state_and_faults(client):
    make_rg(client)
    FAULTS.add(host_kind="admin", path="/nothing", status=500)
    assert client.post("admin", "/reset").status_code == 200
    assert FAULTS.list() == []
    assert rg_get(client).status_code == 404


def test_config_endpoint(client):
    r = client.patch("admin", "/config", json={"lro_polls": 0})
    assert r.status_code == 200 and r.json()["lro_polls"] == 0
    assert client.patch("admin", "/config", json={"nope": 1}).status_code == 400
    SIM.config.lro_polls = 2


def test_lro_can_fail(client):
    make_rg(client)
    client.post("admin", "/faults", json={"host_kind": "management", "method": "PUT", "path": "networkSecurityGroups/n2",
                                          "lro_fail": True, "code": "ConcurrentUpdateError", "times": 1})
    nsg = rg("rg1") + "/providers/Microsoft.Network/networkSecurityGroups/n2"
    r = client.put("management", nsg, params={"api-version": "2024-05-01"}, json={"location": "westeurope"})
    assert r.status_code == 201
    final = client.arm_wait(r, nsg, "2024-05-01")
    assert final.json()["status"] == "Failed" and final.json()["error"]["code"] == "ConcurrentUpdateError"
    got = client.get("management", nsg, params={"api-version": "2024-05-01"}).json()
    assert got["properties"]["provisioningState"] == "Failed"
    again = client.arm_put(nsg, "2024-05-01", {"location": "westeurope"})      # times=1: the retry succeeds
    assert again.json()["properties"]["provisioningState"] == "Succeeded"
