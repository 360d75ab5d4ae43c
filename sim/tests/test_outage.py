"""Region outages (drsim/outage.py): one region's workspaces, account objects and ARM resource
groups fail; the other region, Entra ID and the admin host keep answering; lifting restores."""
import pytest
import requests

from drsim.databricks.testkit import estate

RG = "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/"
ACCT = "/api/2.0/accounts/00000000-0000-0000-0000-000000000005"


@pytest.fixture
def e(client):
    return estate()


def _rg(client, name, region):
    r = client.put("management", RG + name, params={"api-version": "2021-04-01"}, json={"location": region})
    assert r.status_code in (200, 201), r.text


def test_503_outage_of_one_region(client, e):
    _rg(client, "rg-prod", "westeurope")
    _rg(client, "rg-dr", "northeurope")
    r = client.post("admin", "/outages", json={"region": "westeurope"})
    assert r.status_code == 201 and r.json()["mode"] == "503"
    r = client.get(e.prod.ws, "/api/2.1/unity-catalog/catalogs")
    assert r.status_code == 503 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert r.headers["Retry-After"] == "10"
    r = client.get("management", RG + "rg-prod", params={"api-version": "2021-04-01"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "ServiceUnavailable"
    r = client.get("accounts", f"{ACCT}/metastores/{e.prod.ms.metastore_id}")
    assert r.status_code == 503
    # the other region and global services answer
    assert client.get(e.dr.ws, "/api/2.1/unity-catalog/catalogs").status_code == 200
    assert client.get("management", RG + "rg-dr", params={"api-version": "2021-04-01"}).status_code == 200
    assert client.get("accounts", f"{ACCT}/metastores/{e.dr.ms.metastore_id}").status_code == 200
    listed = client.get("admin", "/outages").json()["outages"]
    assert [o["region"] for o in listed] == ["westeurope"] and listed[0]["failed_requests"] == 3
    assert client.delete("admin", "/outages", params={"region": "westeurope"}).json() == {"cleared": 1}
    assert client.get(e.prod.ws, "/api/2.1/unity-catalog/catalogs").status_code == 200


def test_drop_mode_closes_the_connection(client, e):
    client.post("admin", "/outages", json={"region": "westeurope", "mode": "drop"})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get(e.prod.ws, "/api/2.1/unity-catalog/catalogs")
    assert client.get(e.dr.ws, "/api/2.1/unity-catalog/catalogs").status_code == 200
    client.delete("admin", "/outages")
    assert client.get(e.prod.ws, "/api/2.1/unity-catalog/catalogs").status_code == 200


def test_hang_mode_holds_then_drops(client, e):
    client.post("admin", "/outages", json={"region": "westeurope", "mode": "hang", "hang_s": 5})
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.get(e.prod.ws, "/api/2.1/unity-catalog/catalogs", timeout=0.5)
    client.delete("admin", "/outages")


@pytest.mark.parametrize("body,word", [({}, "region"), ({"region": "westeurope", "mode": "down"}, "mode"),
                                       ({"region": "westeurope", "hang": 1}, "hang"),
                                       ({"region": "westeurope", "mode": "hang", "hang_s": "x"}, "hang_s")])
def test_bad_outage_requests(client, body, word):
    r = client.post("admin", "/outages", json=body)
    assert r.status_code == 400 and word in r.json()["message"]


def test_reset_lifts_outages(client, e):
    client.post("admin", "/outages", json={"region": "westeurope"})
    client.post("admin", "/reset")
    assert client.get("admin", "/outages").json() == {"outages": []}


def test_public_dns_zone_and_cname(client):
    """The entry point: a public DNS zone and a CNAME record set, as azure-mgmt-dns models them."""
    _rg(client, "rg-dns", "westeurope")
    zone = RG + "rg-dns/providers/Microsoft.Network/dnsZones/example.com"
    r = client.put("management", zone, params={"api-version": "2018-05-01"}, json={"location": "westeurope"})
    assert r.status_code == 400 and "global" in r.json()["error"]["message"]
    r = client.put("management", zone, params={"api-version": "2018-05-01"}, json={"location": "global"})
    assert r.status_code in (200, 201), r.text
    rec = zone + "/CNAME/databricks"
    r = client.put("management", rec, params={"api-version": "2018-05-01"},
                   json={"properties": {"TTL": 60, "CNAMERecord": {"cname": "adb-1.example.net"}}})
    assert r.status_code in (200, 201), r.text
    got = client.get("management", rec, params={"api-version": "2018-05-01"}).json()
    assert got["properties"]["CNAMERecord"]["cname"] == "adb-1.example.net"
    assert got["properties"]["fqdn"] == "databricks.example.com."
    r = client.put("management", rec, params={"api-version": "2018-05-01"},
                   json={"properties": {"TTL": 60, "CNAMERecord": {"cnam": "x"}}})
    assert r.status_code == 400 and "cnam" in r.json()["error"]["message"]
