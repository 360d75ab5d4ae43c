from drsim.state import SIM


def test_health_and_token(client):
    r = client.get("admin", "/health")
    assert r.status_code == 200 and r.json()["port"] == SIM.config.port
    tok = client.token("https://management.azure.com/.default")
    assert tok.count(".") == 2


def test_unknown_host_is_404(client):
    r = client.session.get(f"https://nowhere.{SIM.config.domain}:{SIM.config.port}/", verify=client.running.ca)
    assert r.status_code == 404
