"""Entra ID token endpoint (secret, certificate, federated), IMDS, token checks on ARM/Databricks hosts,
Databricks OAuth M2M."""
import base64
import datetime
import hashlib
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from drsim.http import route
from drsim.state import DATABRICKS_RESOURCE, MI_CLIENT_ID, SIM

ARM_SCOPE = "https://management.azure.com/.default"


@route("accounts", "GET", "/__test/whoami")
def _whoami_accounts(req):
    return {"principal": req.principal}


@route("workspace", "GET", "/__test/whoami")
def _whoami_ws(req):
    return {"principal": req.principal, "workspace": req.workspace["id"]}


def token_url():
    return SIM.config.url("login", f"/{SIM.config.tenant_id}/oauth2/v2.0/token")


def post_token(client, **form):
    return client.session.post(token_url(), data=form, verify=client.running.ca, timeout=30)


def unverified(tok):
    return jwt.decode(tok, options={"verify_signature": False})


def test_client_secret_token_claims(client):
    r = post_token(client, grant_type="client_credentials", client_id=SIM.config.client_id,
                   client_secret=SIM.config.client_secret, scope=ARM_SCOPE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and 3500 < body["expires_in"] <= 3600
    c = unverified(body["access_token"])
    assert c["aud"] == "https://management.azure.com"
    assert c["tid"] == SIM.config.tenant_id and c["appid"] == SIM.config.client_id
    assert abs(c["exp"] - c["iat"] - 3600) <= 1
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"


def test_bad_secret_is_7000215(client):
    r = post_token(client, grant_type="client_credentials", client_id=SIM.config.client_id,
                   client_secret="wrong", scope=ARM_SCOPE)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.json()["error_description"].startswith("AADSTS7000215:")


@pytest.mark.parametrize("form,status,error,code", [
    ({"client_id": "00000000-0000-0000-0000-0000000000aa", "client_secret": "x", "scope": ARM_SCOPE},
     400, "unauthorized_client", "AADSTS700016"),
    ({"client_secret": "x", "scope": "https://management.azure.com"}, 400, "invalid_scope", "AADSTS1002012"),
    ({"client_secret": "x", "scope": "https://nowhere.example/.default"}, 400, "invalid_resource", "AADSTS500011"),
    ({"scope": ARM_SCOPE}, 401, "invalid_client", "AADSTS7000218"),
])
def test_token_errors(client, form, status, error, code):
    f = {"grant_type": "client_credentials", "client_id": SIM.config.client_id}
    f.update(form)
    r = post_token(client, **f)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error and r.json()["error_description"].startswith(code)


def test_unknown_tenant(client):
    r = client.session.post(SIM.config.url("login", "/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token"),
                            data={"grant_type": "client_credentials", "client_id": SIM.config.client_id,
                                  "client_secret": SIM.config.client_secret, "scope": ARM_SCOPE},
                            verify=client.running.ca)
    assert r.status_code == 400 and "AADSTS90002" in r.json()["error_description"]


def _cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drhost-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    x5t = base64.urlsafe_b64encode(hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()).rstrip(b"=").decode()
    return key, pem, x5t


def _assertion(key, x5t, client_id, aud, exp_in=300):
    now = int(time.time())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "nbf": now,
                       "exp": now + exp_in, "jti": str(now)}, key, algorithm="RS256", headers={"x5t": x5t})


ASSERT_T = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_client_certificate_flow(client):
    key, pem, x5t = _cert()
    cid = "00000000-0000-0000-0000-0000000000c1"
    r = client.post("admin", "/apps", json={"client_id": cid, "certificates": [pem]})
    assert r.status_code == 201 and r.json()["certificates"] == [x5t]
    good = post_token(client, grant_type="client_credentials", client_id=cid, scope=DATABRICKS_RESOURCE + "/.default",
                      client_assertion_type=ASSERT_T, client_assertion=_assertion(key, x5t, cid, token_url()))
    assert good.status_code == 200, good.text
    assert unverified(good.json()["access_token"])["aud"] == DATABRICKS_RESOURCE
    expired = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                         client_assertion_type=ASSERT_T,
                         client_assertion=_assertion(key, x5t, cid, token_url(), exp_in=-60))
    assert expired.status_code == 401 and "AADSTS700024" in expired.json()["error_description"]
    wrong_aud = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                           client_assertion_type=ASSERT_T,
                           client_assertion=_assertion(key, x5t, cid, "https://elsewhere.example/token"))
    assert wrong_aud.status_code == 401 and "AADSTS700212" in wrong_aud.json()["error_description"]
    other_key, _, other_x5t = _cert()
    unknown = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                         client_assertion_type=ASSERT_T,
                         client_assertion=_assertion(other_key, other_x5t, cid, token_url()))
    assert unknown.status_code == 401 and "AADSTS700027" in unknown.json()["error_description"]
    # right thumbprint, wrong key: the signature check fails
    forged = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                        client_assertion_type=ASSERT_T,
                        client_assertion=_assertion(other_key, x5t, cid, token_url()))
    assert forged.status_code == 401 and "AADSTS700027" in forged.json()["error_description"]


def test_federated_credential_flow(client):
    cid = "00000000-0000-0000-0000-0000000000f1"
    iss = SIM.config.url("login", "/github-oidc")
    sub = "repo:example-org/drhost:environment:prod"
    r = client.post("admin", "/apps", json={"client_id": cid, "federated": [
        {"issuer": iss, "subject": sub, "audiences": ["api://AzureADTokenExchange"]}]})
    assert r.status_code == 201
    cfg = client.get("login", "/github-oidc/.well-known/openid-configuration").json()
    assert cfg["issuer"] == iss
    oidc = client.get("admin", "/github-oidc/token", params={"subject": sub,
                                                             "audience": "api://AzureADTokenExchange"}).json()["value"]
    keys = client.session.get(cfg["jwks_uri"], verify=client.running.ca).json()["keys"]
    assert jwt.get_unverified_header(oidc)["kid"] == keys[0]["kid"]
    good = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                      client_assertion_type=ASSERT_T, client_assertion=oidc)
    assert good.status_code == 200, good.text
    dev = client.get("admin", "/github-oidc/token", params={"subject": "repo:example-org/drhost:environment:dev"}).json()["value"]
    bad = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                     client_assertion_type=ASSERT_T, client_assertion=dev)
    assert bad.status_code == 400 and "AADSTS700213" in bad.json()["error_description"]
    wrong_aud = client.get("admin", "/github-oidc/token", params={"subject": sub, "audience": "api://other"}).json()["value"]
    bad2 = post_token(client, grant_type="client_credentials", client_id=cid, scope=ARM_SCOPE,
                      client_assertion_type=ASSERT_T, client_assertion=wrong_aud)
    assert bad2.status_code == 400 and "AADSTS700212" in bad2.json()["error_description"]


def test_imds(client):
    ok = client.get("imds", "/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                    params={"api-version": "2018-02-01", "resource": "https://management.azure.com/"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["client_id"] == MI_CLIENT_ID and ok.json()["token_type"] == "Bearer"
    assert unverified(ok.json()["access_token"])["aud"] == "https://management.azure.com/"
    arm = client.get("management", f"/subscriptions/{SIM.config.subscription_id}", token=ok.json()["access_token"])
    assert arm.status_code == 200
    no_header = client.get("imds", "/metadata/identity/oauth2/token",
                           params={"api-version": "2018-02-01", "resource": "https://management.azure.com/"})
    assert no_header.status_code == 400
    other = client.get("imds", "/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                       params={"api-version": "2018-02-01", "resource": "https://management.azure.com/",
                               "client_id": "00000000-0000-0000-0000-0000000000ee"})
    assert other.status_code == 400


def test_arm_requires_right_token(client):
    path = f"/subscriptions/{SIM.config.subscription_id}"
    r = client.get("management", path, token=False)
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in r.headers
    dbx = client.token(DATABRICKS_RESOURCE + "/.default")
    r = client.get("management", path, token=dbx)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    expired = client.post("admin", "/tokens", json={"audience": "https://management.azure.com", "lifetime": -10}).json()
    r = client.get("management", path, token=expired["access_token"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "ExpiredAuthenticationToken"
    r = client.get("management", path, token="not.a.jwt")
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert client.get("management", path).status_code == 200


def test_databricks_hosts_require_databricks_audience(client):
    r = client.get("accounts", "/__test/whoami")
    assert r.status_code == 200 and r.json()["principal"]["aud"] == DATABRICKS_RESOURCE
    arm = client.token(ARM_SCOPE)
    r = client.get("accounts", "/__test/whoami", token=arm)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    r = client.get("accounts", "/__test/whoami", token=False)
    assert r.status_code == 401 and set(r.json()) == {"error_code", "message", "details"}


def test_databricks_m2m(client):
    ws = SIM.register_workspace("ws-m2m", "westeurope")
    other = SIM.register_workspace("ws-other", "westeurope")
    assert client.post("admin", "/databricks-oauth", json={"client_id": "sp-app-1", "secret": "s3cret"}).status_code == 201
    acct = SIM.config.account_id
    r = client.post("accounts", f"/oidc/accounts/{acct}/v1/token", auth=False,
                    data={"grant_type": "client_credentials", "scope": "all-apis"}, headers={
                        "Authorization": "Basic " + base64.b64encode(b"sp-app-1:s3cret").decode()})
    assert r.status_code == 200, r.text
    at = r.json()["access_token"]
    me = client.get("accounts", "/__test/whoami", token=at)
    assert me.status_code == 200 and me.json()["principal"]["client_id"] == "sp-app-1"
    bad = client.post("accounts", f"/oidc/accounts/{acct}/v1/token", auth=False,
                      data={"grant_type": "client_credentials", "client_id": "sp-app-1", "client_secret": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    w = client.post(ws, "/oidc/v1/token", auth=False,
                    data={"grant_type": "client_credentials", "client_id": "sp-app-1", "client_secret": "s3cret",
                          "scope": "all-apis"})
    assert w.status_code == 200, w.text
    wt = w.json()["access_token"]
    assert client.get(ws, "/__test/whoami", token=wt).json()["workspace"] == ws["id"]
    assert client.get(other, "/__test/whoami", token=wt).status_code == 401
    assert client.get("accounts", "/__test/whoami", token=wt).status_code == 401


def test_openid_configuration_and_jwks_verify_tokens(client):
    t = SIM.config.tenant_id
    cfg = client.get("login", f"/{t}/v2.0/.well-known/openid-configuration").json()
    assert cfg["token_endpoint"] == token_url()
    jwks = client.session.get(cfg["jwks_uri"], verify=client.running.ca).json()
    tok = client.token(ARM_SCOPE)
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(tok, key, algorithms=["RS256"], audience="https://management.azure.com")
    assert claims["tid"] == t
    # a token signed by another key is refused by ARM
    from cryptography.hazmat.primitives.asymmetric import rsa as _rsa
    other = _rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(dict(claims), other, algorithm="RS256", headers={"kid": jwks["keys"][0]["kid"]})
    r = client.get("management", f"/subscriptions/{SIM.config.subscription_id}", token=forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_registered_identity_and_workspace_listing(client):
    r = client.post("admin", "/identities", json={"client_id": "00000000-0000-0000-0000-0000000000a7"})
    assert r.status_code == 201
    got = client.get("imds", "/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                     params={"api-version": "2018-02-01", "resource": DATABRICKS_RESOURCE,
                             "client_id": "00000000-0000-0000-0000-0000000000a7"})
    assert got.status_code == 200 and unverified(got.json()["access_token"])["oid"] == r.json()["object_id"]
    ws = SIM.register_workspace("listed", "eastus2")
    assert [w["id"] for w in client.get("admin", "/workspaces").json()["workspaces"]] == [ws["id"]]


def test_databricks_oauth_metadata(client):
    ws = SIM.register_workspace("meta", "eastus2")
    acct = client.get("accounts", f"/oidc/accounts/{SIM.config.account_id}/.well-known/oauth-authorization-server",
                      auth=False).json()
    assert acct["token_endpoint"].endswith(f"/oidc/accounts/{SIM.config.account_id}/v1/token")
    w = client.get(ws, "/oidc/.well-known/oauth-authorization-server", auth=False).json()
    assert w["token_endpoint"] == f"https://{ws['host']}/oidc/v1/token"
