"""Entra ID (login host), IMDS, and Databricks OAuth M2M token endpoints."""
import base64
import time
import urllib.parse

import jwt

from ..errors import DatabricksError, EntraError, PlainError
from ..http import route
from ..state import DATABRICKS_RESOURCE, SIM
from .. import tokens

# Resources the simulated tenant knows (scope = resource + "/.default").
KNOWN_RESOURCES = {
    "https://management.azure.com": "https://management.azure.com",
    "https://management.azure.com/": "https://management.azure.com/",
    "https://management.core.windows.net": "https://management.core.windows.net",
    "https://management.core.windows.net/": "https://management.core.windows.net/",
    DATABRICKS_RESOURCE: DATABRICKS_RESOURCE,
    "https://storage.azure.com": "https://storage.azure.com",
    "https://vault.azure.net": "https://vault.azure.net",
}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(req):
    ctype = (req.headers.get("content-type") or "").lower()
    if "application/x-www-form-urlencoded" not in ctype:
        raise EntraError(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'grant_type'. "
                         "(Content-Type must be application/x-www-form-urlencoded)")
    try:
        q = urllib.parse.parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise EntraError(400, "invalid_request", 900144, "request body is not UTF-8") from None
    return {k: v[-1] for k, v in q.items()}


def _resource_from_scope(scope):
    if not scope:
        raise EntraError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
    parts = scope.split()
    if len(parts) != 1 or not parts[0].endswith("/.default"):
        raise EntraError(400, "invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                         "scope value with /.default suffixed to the resource identifier (application ID URI).")
    resource = parts[0][: -len("/.default")]
    if resource not in KNOWN_RESOURCES and resource.rstrip("/") not in KNOWN_RESOURCES:
        raise EntraError(400, "invalid_resource", 500011,
                         f"The resource principal named {resource} was not found in the tenant named "
                         f"{SIM.config.tenant_id}. This can happen if the application has not been installed "
                         "by the administrator of the tenant or consented to by any user in the tenant.")
    return resource


def _token_response(resource, oid, appid, tenant):
    tok, claims = tokens.mint_access_token(resource, oid, appid, tenant_id=tenant)
    life = claims["exp"] - claims["iat"]
    return {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok}


def _check_client_assertion(app, assertion, token_url):
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise EntraError(400, "invalid_request", 50027, f"JWT token is invalid or malformed: {e}") from None
    iss = unverified.get("iss")
    if iss == tokens.github_issuer() or (iss and iss != app["client_id"]):
        return _check_federated(app, assertion, unverified)
    x5t = header.get("x5t")
    pem = app["certs"].get(x5t) if x5t else None
    if pem is None:
        raise EntraError(401, "invalid_client", 700027,
                         f"The certificate with identifier used to sign the client assertion is not registered "
                         f"on application. [Reason - The key was not found., Thumbprint of key used by client: "
                         f"'{x5t}', Please visit the Azure Portal ... to confirm the key was registered.]")
    from cryptography import x509
    pub = x509.load_pem_x509_certificate(pem.encode()).public_key()
    try:
        claims = jwt.decode(assertion, pub, algorithms=["RS256", "PS256"], audience=token_url,
                            options={"require": ["exp", "aud", "iss", "sub"]})
    except jwt.ExpiredSignatureError:
        raise EntraError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.") from None
    except jwt.ImmatureSignatureError:
        raise EntraError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.") from None
    except jwt.InvalidAudienceError:
        raise EntraError(401, "invalid_client", 700212,
                         f"Client assertion audience claim does not match the token endpoint {token_url}.") from None
    except jwt.InvalidSignatureError:
        raise EntraError(401, "invalid_client", 700027, "Client assertion failed signature validation.") from None
    except jwt.PyJWTError as e:
        raise EntraError(401, "invalid_client", 700027, f"Client assertion is invalid: {e}") from None
    if claims.get("sub") != app["client_id"] or claims.get("iss") != app["client_id"]:
        raise EntraError(401, "invalid_client", 700023,
                         "Client assertion: 'iss' and 'sub' must both be the application (client) id.")
    if claims.get("exp", 0) - claims.get("nbf", claims.get("iat", 0)) > 24 * 3600:
        # FIDELITY: Entra refuses assertions valid for more than a day or so; we take 24 h.
        raise EntraError(401, "invalid_client", 700024, "Client assertion lifetime is too long.")


def _check_federated(app, assertion, unverified):
    iss, sub, aud = unverified.get("iss"), unverified.get("sub"), unverified.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    matches = [fc for fc in app["federated"] if fc["issuer"] == iss]
    if not matches:
        raise EntraError(400, "invalid_request", 700211,
                         f"No matching federated identity record found for presented assertion issuer '{iss}'.")
    matches = [fc for fc in matches if fc["subject"] == sub]
    if not matches:
        raise EntraError(400, "invalid_request", 700213,
                         f"No matching federated identity record found for presented assertion subject '{sub}'.")
    matches = [fc for fc in matches if set(auds) & set(fc["audiences"])]
    if not matches:
        raise EntraError(400, "invalid_request", 700212,
                         f"No matching federated identity record found for presented assertion audience '{aud}'.")
    if iss != tokens.github_issuer():
        raise EntraError(400, "invalid_request", 700211, f"The issuer '{iss}' is not reachable from the simulator.")
    try:
        tokens.decode(assertion, "github", audiences=matches[0]["audiences"], issuer=iss)
    except jwt.ExpiredSignatureError:
        raise EntraError(400, "invalid_client", 700024, "Client assertion is not within its valid time range.") from None
    except jwt.PyJWTError as e:
        raise EntraError(401, "invalid_client", 700027, f"Client assertion failed signature validation. ({e})") from None


@route("login", "POST", "/{tenant}/oauth2/v2.0/token")
def token(req):
    tenant = req.params["tenant"]
    if tenant not in (SIM.config.tenant_id, "organizations") and tenant != "common":
        raise EntraError(400, "invalid_request", 90002,
                         f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                         "and are signing into the correct cloud.")
    f = _form(req)
    if f.get("grant_type") != "client_credentials":
        raise EntraError(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{f.get('grant_type')}'.")
    client_id = f.get("client_id")
    if not client_id:
        raise EntraError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
    resource = _resource_from_scope(f.get("scope"))
    with SIM.lock:
        app = SIM.apps.get(client_id)
    if app is None:
        raise EntraError(400, "unauthorized_client", 700016,
                         f"Application with identifier '{client_id}' was not found in the directory "
                         f"'{SIM.config.tenant_id}'.")
    if f.get("client_secret") is not None:
        if f["client_secret"] not in app["secrets"]:
            raise EntraError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.")
    elif f.get("client_assertion") is not None:
        if f.get("client_assertion_type") != ASSERTION_TYPE:
            raise EntraError(400, "invalid_request", 50027,
                             f"client_assertion_type must be {ASSERTION_TYPE}.")
        token_url = SIM.config.url("login", f"/{tenant}/oauth2/v2.0/token")
        _check_client_assertion(app, f["client_assertion"], token_url)
    else:
        raise EntraError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
    return _token_response(resource, app["object_id"], client_id, SIM.config.tenant_id)


@route("login", "GET", "/{tenant}/v2.0/.well-known/openid-configuration")
def openid_config(req):
    t = req.params["tenant"]
    return {"issuer": tokens.entra_issuer(t),
            "token_endpoint": SIM.config.url("login", f"/{t}/oauth2/v2.0/token"),
            "jwks_uri": SIM.config.url("login", f"/{t}/discovery/v2.0/keys"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"]}


@route("login", "GET", "/{tenant}/discovery/v2.0/keys")
def entra_keys(req):
    return tokens.jwks("entra")


@route("login", "GET", "/github-oidc/.well-known/openid-configuration")
def github_config(req):
    iss = tokens.github_issuer()
    return {"issuer": iss, "jwks_uri": iss + "/.well-known/jwks", "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"], "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "repository", "environment"]}


@route("login", "GET", "/github-oidc/.well-known/jwks")
def github_keys(req):
    return tokens.jwks("github")


# ---- IMDS (managed identity) ------------------------------------------------------------------
@route("imds", "GET", "/metadata/identity/oauth2/token")
def imds_token(req):
    if (req.headers.get("metadata") or "").lower() != "true":
        raise PlainError(400, "invalid_request", "Required metadata header not specified")
    if not req.query.get("api-version"):
        raise PlainError(400, "invalid_request", "Required query variable 'api-version' is missing")
    resource = req.query.get("resource")
    if not resource:
        raise PlainError(400, "invalid_request", "Required query variable 'resource' is missing")
    if resource not in KNOWN_RESOURCES and resource.rstrip("/") not in KNOWN_RESOURCES:
        raise PlainError(400, "invalid_resource", f"AADSTS500011: The resource principal named {resource} was not found")
    cid = req.query.get("client_id")
    oid = req.query.get("object_id") or req.query.get("principal_id")
    with SIM.lock:
        ids = list(SIM.identities.values())
    ident = None
    for i in ids:
        if (cid and i["client_id"] == cid) or (oid and i["object_id"] == oid) or (not cid and not oid):
            ident = i
            break
    if ident is None:
        raise PlainError(400, "invalid_request", "Identity not found")
    tok, claims = tokens.mint_access_token(resource, ident["object_id"], ident["client_id"], idtyp="app",
                                           extra={"xms_mirid": ident.get("name")})
    return {"access_token": tok, "client_id": ident["client_id"], "expires_in": str(claims["exp"] - claims["iat"]),
            "expires_on": str(claims["exp"]), "ext_expires_in": str(claims["exp"] - claims["iat"]),
            "not_before": str(claims["nbf"]), "resource": resource, "token_type": "Bearer"}


# ---- Databricks OAuth M2M ---------------------------------------------------------------------
def _dbx_client(req):
    f = _form(req) if req.body else {}
    cid, secret = f.get("client_id"), f.get("client_secret")
    authz = req.headers.get("authorization") or ""
    if authz.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(authz[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            pass
    if f.get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange":
        from ..databricks import federation   # workload identity federation (federation policies)
        return federation.exchange(f)
    if f.get("grant_type") != "client_credentials":
        raise _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    with SIM.lock:
        client = SIM.dbx_oauth.get(cid or "")
    if client is None or secret not in client["secrets"]:
        raise _oauth_error(401, "invalid_client", "Client authentication failed")
    return cid, f.get("scope") or "all-apis"


def _oauth_error(status, error, desc):
    e = PlainError(status, error, desc)
    e.body = lambda: {"error": error, "error_description": desc}
    return e


@route("accounts", "POST", "/oidc/accounts/{account_id}/v1/token", auth=False)
def dbx_account_token(req):
    if req.params["account_id"] != SIM.config.account_id:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"account {req.params['account_id']} not found")
    cid, scope = _dbx_client(req)
    tok, claims = tokens.mint_databricks_m2m(cid, scope, "accounts")
    return {"access_token": tok, "token_type": "Bearer", "expires_in": claims["exp"] - claims["iat"], "scope": scope}


@route("workspace", "POST", "/oidc/v1/token", auth=False)
def dbx_workspace_token(req):
    cid, scope = _dbx_client(req)
    tok, claims = tokens.mint_databricks_m2m(cid, scope, "workspace", workspace_id=req.workspace["id"])
    return {"access_token": tok, "token_type": "Bearer", "expires_in": claims["exp"] - claims["iat"], "scope": scope}


def _oauth_server_meta(base):
    return {"issuer": base, "authorization_endpoint": base + "/v1/authorize", "token_endpoint": base + "/v1/token",
            "jwks_uri": base + "/v1/keys", "grant_types_supported": ["client_credentials", "authorization_code",
                                                                      "refresh_token",
                                                                      "urn:ietf:params:oauth:grant-type:token-exchange"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["all-apis", "offline_access"]}


@route("accounts", "GET", "/oidc/accounts/{account_id}/.well-known/oauth-authorization-server", auth=False)
def dbx_account_meta(req):
    return _oauth_server_meta(SIM.config.url("accounts", f"/oidc/accounts/{req.params['account_id']}"))


@route("workspace", "GET", "/oidc/.well-known/oauth-authorization-server", auth=False)
def dbx_workspace_meta(req):
    return _oauth_server_meta("https://" + req.workspace["host"] + "/oidc")


# Host metadata of the account host (the workspace one is in databricks/federation.py): newer
# databricks-sdk releases read it before any OAuth flow to find the OIDC root.
@route("accounts", "GET", "/.well-known/databricks-config", auth=False)
def dbx_account_config(req):
    return {"oidc_endpoint": SIM.config.url("accounts", "/oidc/accounts/{account_id}"),
            "cloud": "azure", "account_id": SIM.config.account_id}


def register_databricks_client(client_id, secret, display_name=None):
    """Give a Databricks service principal an OAuth secret (the secrets API may call this)."""
    with SIM.lock:
        c = SIM.dbx_oauth.setdefault(client_id, {"client_id": client_id, "secrets": [],
                                                 "display_name": display_name or client_id,
                                                 "created": int(time.time())})
        c["secrets"].append(secret)
        return c
