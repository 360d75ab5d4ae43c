"""TLS (the generated CA verifies every simulated host), host routing, HTTP details."""
import json
import socket
import ssl

import pytest

from drsim.state import SIM


def raw(sim, host, request, verify=True):
    ctx = ssl.create_default_context(cafile=sim.ca) if verify else ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            t.sendall(request.encode())
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
    return data


@pytest.mark.parametrize("host", ["login.sim.localhost", "management.sim.localhost", "adb-1234567890123.sim.localhost",
                                  "localhost", "127.0.0.1"])
def test_ca_verifies_server_certificate(sim, host):
    ctx = ssl.create_default_context(cafile=sim.ca)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3")


def test_without_the_ca_verification_fails(sim):
    with pytest.raises(ssl.SSLCertVerificationError):
        raw(sim, "login.sim.localhost", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", verify=False)


def test_other_names_are_not_covered(sim):
    with pytest.raises(ssl.SSLCertVerificationError):
        raw(sim, "example.com", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_keep_alive_two_requests_one_connection(sim):
    req = (f"GET /health HTTP/1.1\r\nHost: admin.sim.localhost:{sim.port}\r\n\r\n"
           f"GET /health HTTP/1.1\r\nHost: admin.sim.localhost:{sim.port}\r\nConnection: close\r\n\r\n")
    data = raw(sim, "admin.sim.localhost", req)
    assert data.count(b"HTTP/1.1 200") == 2


def test_host_routing(client):
    ws = SIM.register_workspace("w", "westeurope")
    r = client.session.get(f"https://adb-999.{SIM.config.domain}:{SIM.config.port}/api/2.0/x",
                           verify=client.running.ca)
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert client.get(ws, "/api/2.0/definitely-not-an-api").status_code == 404
    r = client.session.get(f"https://127.0.0.1:{SIM.config.port}/", verify=client.running.ca)
    assert r.status_code == 404 and "sim.localhost" in r.json()["message"]


def test_admin_state_dump(client):
    client.put("management", f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/rgx",
               params={"api-version": "2024-03-01"}, json={"location": "westeurope"})
    dump = client.get("admin", "/state").json()
    assert any(k.endswith("/resourcegroups/rgx") for k in dump["arm"]["resources"])
    json.dumps(dump)


def test_arm_request_ids(client):
    r = client.get("management", f"/subscriptions/{SIM.config.subscription_id}",
                   headers={"x-ms-correlation-request-id": "corr-1"})
    assert r.headers["x-ms-correlation-request-id"] == "corr-1" and len(r.headers["x-ms-request-id"]) == 36


def test_parallel_writes(client):
    from concurrent.futures import ThreadPoolExecutor
    base = f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/rgp"
    assert client.put("management", base, params={"api-version": "2024-03-01"},
                      json={"location": "westeurope"}).status_code == 201
    client.token("https://management.azure.com/.default")

    def one(i):
        return client.put("management", f"{base}/providers/Microsoft.Network/networkSecurityGroups/n{i}",
                          params={"api-version": "2024-05-01"}, json={"location": "westeurope"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(one, range(48)))
    assert codes == [201] * 48
    listed = client.get("management", f"{base}/providers/Microsoft.Network/networkSecurityGroups",
                        params={"api-version": "2024-05-01"}).json()["value"]
    assert len(listed) == 48
