"""Admin host: reset, stats, faults, registrations, test tokens. No authentication (loopback only)."""
from ..errors import PlainError
from ..faults import FAULTS
from ..http import route
from ..state import SIM, new_guid
from .. import tokens
from .entra import register_databricks_client

CONFIG_KEYS = {"lro_polls": int, "retry_after": int, "token_lifetime": int, "page_size": int, "graph_page_size": int, "lro_max_seconds": float}


def _body(req):
    b = req.json
    if b is None:
        return {}
    if not isinstance(b, dict):
        raise PlainError(400, "invalid_request", "body must be a JSON object")
    return b


@route("admin", "GET", "/health")
def health(req):
    return {"status": "ok", "port": SIM.config.port}


@route("admin", "POST", "/reset")
def reset(req):
    SIM.reset()
    FAULTS.clear()
    return {"status": "reset"}


@route("admin", "GET", "/stats")
def stats(req):
    return SIM.stats.snapshot()


@route("admin", "DELETE", "/stats")
def stats_reset(req):
    SIM.stats.reset()
    return 204, None


@route("admin", "POST", "/graph/freeze")
def graph_freeze(req):
    """Resource Graph serves the rows of this moment until DELETE /graph/freeze (models its lag)."""
    from ..arm import graph
    return graph.freeze()


@route("admin", "DELETE", "/graph/freeze")
def graph_unfreeze(req):
    from ..arm import graph
    graph.unfreeze()
    return 204, None


@route("admin", "GET", "/faults")
def faults_list(req):
    return {"faults": FAULTS.list()}


@route("admin", "POST", "/faults")
def faults_add(req):
    try:
        return 201, FAULTS.add(**_body(req))
    except (ValueError, TypeError) as e:
        raise PlainError(400, "invalid_fault", str(e)) from None


@route("admin", "DELETE", "/faults")
def faults_clear(req):
    FAULTS.clear()
    return 204, None


@route("admin", "DELETE", "/faults/{id}")
def faults_delete(req):
    FAULTS.clear(req.params["id"])
    return 204, None


@route("admin", "GET", "/config")
def config_get(req):
    c = SIM.config
    return {"domain": c.domain, "port": c.port, "tenant_id": c.tenant_id, "subscription_id": c.subscription_id,
            "account_id": c.account_id, **{k: getattr(c, k) for k in CONFIG_KEYS}}


@route("admin", "PATCH", "/config")
def config_set(req):
    for k, v in _body(req).items():
        if k not in CONFIG_KEYS:
            raise PlainError(400, "invalid_config", f"unknown config key {k!r}; settable: {sorted(CONFIG_KEYS)}")
        setattr(SIM.config, k, CONFIG_KEYS[k](v))
    return config_get(req)


@route("admin", "POST", "/apps")
def apps_add(req):
    """{client_id?, secret?, certificates?: [pem], federated?: [{issuer, subject, audiences}], display_name?}"""
    b = _body(req)
    cid = b.get("client_id") or new_guid()
    try:
        app = SIM.register_app(cid, secret=b.get("secret"), certificates=b.get("certificates"),
                               federated=b.get("federated"), display_name=b.get("display_name"))
    except (KeyError, ValueError) as e:
        raise PlainError(400, "invalid_app", f"bad app registration: {e}") from None
    return 201, {"client_id": app["client_id"], "object_id": app["object_id"],
                 "certificates": list(app["certs"]), "federated": app["federated"]}


@route("admin", "POST", "/identities")
def identities_add(req):
    b = _body(req)
    cid = b.get("client_id") or new_guid()
    ident = {"client_id": cid, "object_id": b.get("object_id") or new_guid(), "name": b.get("name") or cid}
    with SIM.lock:
        SIM.identities[cid] = ident
    return 201, ident


@route("admin", "POST", "/databricks-oauth")
def dbx_oauth_add(req):
    b = _body(req)
    if not b.get("client_id") or not b.get("secret"):
        raise PlainError(400, "invalid_request", "client_id and secret are required")
    c = register_databricks_client(b["client_id"], b["secret"], b.get("display_name"))
    return 201, {"client_id": c["client_id"]}


@route("admin", "GET", "/github-oidc/token")
def github_token(req):
    """Like GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: ?subject=repo:org/repo:environment:prod&audience=..."""
    sub = req.query.get("subject") or "repo:example-org/drhost:environment:prod"
    aud = req.query.get("audience") or "api://AzureADTokenExchange"
    life = int(req.query.get("lifetime") or 600)
    return {"value": tokens.mint_github_oidc(sub, aud, lifetime=life)}


@route("admin", "POST", "/tokens")
def mint_token(req):
    """Test helper: {audience, oid?, appid?, lifetime?} -> an Entra access token."""
    b = _body(req)
    if not b.get("audience"):
        raise PlainError(400, "invalid_request", "audience is required")
    tok, claims = tokens.mint_access_token(b["audience"], b.get("oid") or SIM.apps[SIM.config.client_id]["object_id"],
                                           b.get("appid") or SIM.config.client_id, lifetime=b.get("lifetime"))
    return {"access_token": tok, "claims": claims}


@route("admin", "GET", "/state")
def state_dump(req):
    return SIM.dump()


@route("admin", "GET", "/workspaces")
def workspaces(req):
    with SIM.lock:
        return {"workspaces": list(SIM.workspaces.values())}
