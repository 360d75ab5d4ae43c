"""sim-up / sim-down as processes: environment, Azurite over TLS, persistence with --state-dir."""
import json
import os
import subprocess
import time

import pytest
import requests

from drsim import testing

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_UP = os.path.join(HERE, "bin", "sim-up")
SIM_DOWN = os.path.join(HERE, "bin", "sim-down")
WANT = ("DRHOST_CA_BUNDLE", "AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
        "AZURE_SUBSCRIPTION_ID", "DRHOST_ARM_ENDPOINT", "DATABRICKS_ACCOUNT_HOST", "DATABRICKS_ACCOUNT_ID",
        "DRHOST_IMDS_ENDPOINT", "DRHOST_BLOB_ENDPOINT", "DRHOST_BLOB_ACCOUNT", "DRHOST_BLOB_KEY",
        "DRHOST_SIM_ADMIN", "DRHOST_SIM_PIDS")


def parse_env(text):
    import shlex
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            out[k] = shlex.split(v)[0] if v else ""
    return out


def up(tmp_path, *extra):
    env_file = tmp_path / "env"
    p = subprocess.run([SIM_UP, "--env-file", str(env_file), *extra], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return parse_env(p.stdout), env_file


def down(env_file):
    subprocess.run([SIM_DOWN, "--env-file", str(env_file)], capture_output=True, text=True, timeout=60, check=True)


def token(env, scope):
    r = requests.post(f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                      data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                            "client_secret": env["AZURE_CLIENT_SECRET"], "scope": scope},
                      verify=env["DRHOST_CA_BUNDLE"], timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


@pytest.mark.skipif(not os.path.exists(os.path.join(HERE, "node_modules", ".bin", "azurite-blob")),
                    reason="Azurite not installed (sim/setup.sh)")
def test_sim_up_env_azurite_and_down(tmp_path):
    testing.patch_dns()
    env, env_file = up(tmp_path)
    try:
        assert set(WANT) <= set(env)
        assert env["AZURE_TENANT_ID"] == "00000000-0000-0000-0000-000000000001"
        assert env_file.read_text().count("export ") == len(env)
        tok = token(env, "https://management.azure.com/.default")
        rgurl = f"{env['DRHOST_ARM_ENDPOINT']}/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/rg-h"
        r = requests.put(rgurl, params={"api-version": "2024-03-01"}, json={"location": "westeurope"},
                         headers={"Authorization": "Bearer " + tok}, verify=env["DRHOST_CA_BUNDLE"], timeout=30)
        assert r.status_code == 201
        # Azurite answers over TLS with the simulator's CA; unauthenticated listing is refused
        r = requests.get(env["DRHOST_BLOB_ENDPOINT"], params={"comp": "list"}, verify=env["DRHOST_CA_BUNDLE"], timeout=30)
        assert r.status_code in (401, 403)
        pids = [int(p) for p in env["DRHOST_SIM_PIDS"].split()]
        assert len(pids) == 2
    finally:
        down(env_file)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not env_file.exists()
    assert not os.path.exists(env["DRHOST_SIM_DIR"])


def test_state_dir_persists(tmp_path):
    """--state-dir: state.json written on change, loaded on start (in-process: same code path)."""
    from drsim.state import SIM
    SIM.reset()
    SIM.config.state_dir = str(tmp_path)
    try:
        SIM.arm.put("/subscriptions/s/resourceGroups/rg-keep", {"id": "/subscriptions/s/resourceGroups/rg-keep",
                                                                "name": "rg-keep"})
        SIM.register_workspace("wk", "westeurope", ws_id="1000000000000042")
        SIM.changed()
        deadline = time.monotonic() + 5
        while not (tmp_path / "state.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        snap = json.loads((tmp_path / "state.json").read_text())
        assert "/subscriptions/s/resourcegroups/rg-keep" in snap["arm"]["resources"]
        secret = SIM.config.client_secret
        SIM.reset()
        assert SIM.arm.get("/subscriptions/s/resourceGroups/rg-keep") is None
        SIM.load(str(tmp_path / "state.json"))
        assert SIM.arm.get("/subscriptions/s/resourceGroups/RG-KEEP")["name"] == "rg-keep"
        assert SIM.workspaces["1000000000000042"]["name"] == "wk"
        assert secret in SIM.apps[SIM.config.client_id]["secrets"]
    finally:
        SIM.config.state_dir = None
        SIM.reset()
