"""Workload identity federation: service principal federation policies and the token exchange,
driven through the databricks-sdk's own github-oidc credentials (as the bundle workflow's CLI)."""
import json
import os
import subprocess
import sys

import pytest
from databricks.sdk.service import oauth2 as O

from drsim.databricks.testkit import estate
from drsim.state import SIM

SUB = "repo:example-org/drhost:environment:dr"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_T = "urn:ietf:params:oauth:token-type:jwt"


def A(path):
    return f"/api/2.0/accounts/{SIM.config.account_id}{path}"


@pytest.fixture
def e(client):
    return estate()


@pytest.fixture
def sp(client):
    r = client.post("accounts", A("/scim/v2/ServicePrincipals"), json={"displayName": "bundle-deploy-dr"})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _policy(client, sp, **oidc):
    body = {"oidc_policy": dict({"issuer": SIM.config.url("login", "/github-oidc"), "subject": SUB}, **oidc)}
    return client.post("accounts", A(f"/servicePrincipals/{sp['id']}/federationPolicies"), json=body,
                       params={"policy_id": "github-dr"})


def _exchange(client, ws, sp, subject=SUB, audience=None):
    tok = client.get("admin", "/github-oidc/token", params={
        "subject": subject, "audience": audience or SIM.config.account_id}).json()["value"]
    return client.post(ws, "/oidc/v1/token", auth=False, data={
        "grant_type": EXCHANGE, "subject_token": tok, "subject_token_type": JWT_T,
        "client_id": sp["applicationId"], "scope": "all-apis"})


def test_policy_crud_and_contract(client, sp):
    r = _policy(client, sp)
    assert r.status_code == 200, r.text
    p = O.FederationPolicy.from_dict(r.json())
    assert p.oidc_policy.audiences == [SIM.config.account_id] and p.oidc_policy.subject_claim == "sub"
    assert _policy(client, sp).status_code == 409
    r = client.post("accounts", A(f"/servicePrincipals/{sp['id']}/federationPolicies"),
                    json={"oidc_policy": {"issuer": "x", "subjct": SUB}})
    assert r.status_code == 400 and "oidc_policy.subjct" in r.json()["message"]
    lst = client.get("accounts", A(f"/servicePrincipals/{sp['id']}/federationPolicies")).json()["policies"]
    assert [x["policy_id"] for x in lst] == ["github-dr"]
    assert client.get("accounts", A("/servicePrincipals/1/federationPolicies")).status_code == 404
    assert client.delete("accounts", A(f"/servicePrincipals/{sp['id']}/federationPolicies/github-dr")).status_code == 200
    assert client.get("accounts", A(f"/servicePrincipals/{sp['id']}/federationPolicies/github-dr")).status_code == 404


def test_exchange_checks_subject_and_audience(client, e, sp):
    ws = e.dr.ws
    assert _exchange(client, ws, sp).status_code == 400            # no policy yet
    _policy(client, sp)
    ok = _exchange(client, ws, sp)
    assert ok.status_code == 200, ok.text
    tok = ok.json()["access_token"]
    assert client.get(ws, "/api/2.2/jobs/list", token=tok).status_code == 200
    bad_sub = _exchange(client, ws, sp, subject="repo:example-org/drhost:environment:prod")
    assert bad_sub.status_code == 400 and bad_sub.json()["error"] == "invalid_grant"
    bad_aud = _exchange(client, ws, sp, audience="https://github.com/example-org")
    assert bad_aud.status_code == 400


SDK_CLIENT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from drsim import testing
testing.patch_dns()
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(host=sys.argv[2], auth_type="github-oidc", client_id=sys.argv[3])
print(json.dumps([j.settings.name for j in w.jobs.list()]))
"""


def test_databricks_sdk_github_oidc(client, e, sp):
    """The SDK's github-oidc flow, as `DATABRICKS_AUTH_TYPE=github-oidc` in the workflow, in its own
    process (as the CLI runs in a workflow step)."""
    _policy(client, sp)
    client.post(e.dr.ws, "/api/2.2/jobs/create", json={"name": "daily", "tasks": [
        {"task_key": "t", "notebook_task": {"notebook_path": "/x"}}]})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "AZURE_", "ARM_"))}
    env.update({"ACTIONS_ID_TOKEN_REQUEST_URL": SIM.config.url("admin", "/github-oidc/token") + "?subject=",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token", "REQUESTS_CA_BUNDLE": client.running.ca,
                "DATABRICKS_TOKEN_AUDIENCE": SIM.config.account_id, "HOME": os.environ.get("HOME", "/tmp")})
    sim_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = [sys.executable, "-c", SDK_CLIENT, sim_dir, e.dr.ws["url"], sp["applicationId"]]
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] += SUB
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == ["daily"]
    # the prod environment's token is refused for this principal
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] = env["ACTIONS_ID_TOKEN_REQUEST_URL"].replace(":dr", ":prod")
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "No federation policy" in r.stderr, r.stderr[-2000:]
