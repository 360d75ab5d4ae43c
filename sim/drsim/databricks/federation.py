"""Workload identity federation: service principal federation policies (accounts host,
/api/2.0/accounts/{account_id}/servicePrincipals/{sp_id}/federationPolicies) and the OAuth token
exchange that uses them (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange` at the
workspace's or account's /oidc/.../v1/token; `exchange(form)` is called from routes/entra.py).

The exchange takes `client_id` (the service principal's application id) and `subject_token`
(a JWT from the simulator's GitHub-like issuer, `GET admin /github-oidc/token`) and succeeds when
a policy of that principal names the token's issuer, its subject (claim `subject_claim`, default
`sub`) and one of its audiences (default: the account id).
FIDELITY: only the simulator's GitHub-like issuer can be verified (others: invalid_grant);
`jwks_json`/`jwks_uri` are stored, not used.
"""

import re
import threading
import time
import uuid

import jwt
from databricks.sdk.service import oauth2 as O

from .. import tokens
from ..errors import DatabricksError, PlainError
from ..state import SIM
from .common import api, bad, body, check_account, check_shape, out
from .ucmodel import UC

P = "/api/2.0/accounts/{account_id}/servicePrincipals/{sp_id}/federationPolicies"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
POLICY_ID = re.compile(r"^[a-z0-9/-]{1,128}$")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_sp = {}      # sp id (str) -> {policy id -> FederationPolicy dict}


STORE = Store()


def _reset():
    global STORE
    STORE = Store()


UC.on_reset(_reset)


def _sp(req):
    from .routes.account import ACCOUNT
    check_account(req)
    sp_id = req.params["sp_id"]
    with ACCOUNT.lock:
        if sp_id not in ACCOUNT.sps:
            raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"Service principal {sp_id} does not exist.")
    return sp_id


@api("accounts", "POST", P)
def create(req):
    sp_id = _sp(req)
    b = body(req, {f for f in ("description", "oidc_policy", "name")})
    check_shape(b, O.FederationPolicy)
    oidc = b.get("oidc_policy") or {}
    if not oidc.get("issuer"):
        raise bad("Missing required field: oidc_policy.issuer")
    if not oidc.get("subject"):
        raise bad("Missing required field: oidc_policy.subject (a service principal policy names "
                  "the workload identity)")
    pid = req.query.get("policy_id") or uuid.uuid4().hex[:12]
    if not POLICY_ID.match(pid):
        raise bad(f"Invalid policy_id '{pid}': lowercase letters, digits, '-' and '/'.")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    p = {"policy_id": pid, "uid": uuid.uuid4().hex, "service_principal_id": int(sp_id),
         "name": f"accounts/{SIM.config.account_id}/servicePrincipals/{sp_id}/federationPolicies/{pid}",
         "description": b.get("description"), "create_time": now, "update_time": now,
         "oidc_policy": dict(oidc, audiences=oidc.get("audiences") or [SIM.config.account_id],
                             subject_claim=oidc.get("subject_claim") or "sub")}
    with STORE.lock:
        pols = STORE.by_sp.setdefault(sp_id, {})
        if pid in pols:
            raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS", f"Federation policy {pid} already exists.")
        pols[pid] = p
    return out(O.FederationPolicy, p)


@api("accounts", "GET", P)
def list_(req):
    sp_id = _sp(req)
    with STORE.lock:
        ps = sorted(STORE.by_sp.get(sp_id, {}).values(), key=lambda p: p["create_time"] + p["policy_id"])
        return {"policies": [out(O.FederationPolicy, p) for p in ps]}


def _policy(req):
    sp_id = _sp(req)
    p = STORE.by_sp.get(sp_id, {}).get(req.params["policy_id"])
    if p is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Federation policy {req.params['policy_id']} does not exist.")
    return sp_id, p


@api("accounts", "GET", P + "/{policy_id}")
def get(req):
    with STORE.lock:
        return out(O.FederationPolicy, _policy(req)[1])


@api("accounts", "DELETE", P + "/{policy_id}")
def delete(req):
    with STORE.lock:
        sp_id, p = _policy(req)
        del STORE.by_sp[sp_id][p["policy_id"]]
    return {}


def _grant_error(desc):
    e = PlainError(400, "invalid_grant", desc)
    e.body = lambda: {"error": "invalid_grant", "error_description": desc}
    return e


def exchange(form):
    """-> (client_id, scope) for a valid token-exchange request, else an OAuth error."""
    from .routes.account import ACCOUNT
    if form.get("subject_token_type") != JWT_TYPE:
        raise _grant_error(f"subject_token_type must be {JWT_TYPE}")
    cid, assertion = form.get("client_id") or "", form.get("subject_token") or ""
    with ACCOUNT.lock:
        sp_id = next((i for i, sp in ACCOUNT.sps.items() if sp.get("applicationId") == cid), None)
    if sp_id is None:
        raise _grant_error(f"No service principal with application id '{cid}'.")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _grant_error("subject_token is not a JWT.") from None
    with STORE.lock:
        policies = list(STORE.by_sp.get(sp_id, {}).values())
    aud = unverified.get("aud")
    auds = set(aud if isinstance(aud, list) else [aud])
    for p in policies:
        o = p["oidc_policy"]
        if o["issuer"] != unverified.get("iss") or unverified.get(o["subject_claim"]) != o["subject"]:
            continue
        if not auds & set(o["audiences"]):
            continue
        if o["issuer"] != tokens.github_issuer():
            raise _grant_error(f"The issuer '{o['issuer']}' is not reachable from the simulator.")
        try:
            tokens.decode(assertion, "github", audiences=o["audiences"], issuer=o["issuer"])
        except jwt.PyJWTError as e:
            raise _grant_error(f"subject_token failed validation: {e}") from None
        return cid, form.get("scope") or "all-apis"
    raise _grant_error(f"No federation policy of service principal {cid} matches the token "
                       f"(iss {unverified.get('iss')}, sub {unverified.get('sub')}, aud {aud}).")




@api("workspace", "GET", "/.well-known/databricks-config", auth=False)
def host_metadata(req):
    """What the SDKs read to find the OIDC endpoints and the default federation audience.
    FIDELITY: fields as the databricks-sdk's HostMetadata parses them; the real document may
    carry more."""
    return {"oidc_endpoint": f"https://{req.workspace['host']}/oidc", "account_id": SIM.config.account_id,
            "workspace_id": str(req.workspace["id"]), "cloud": "AZURE",
            "token_federation_default_oidc_audiences": [SIM.config.account_id]}
