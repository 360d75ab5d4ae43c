"""Signing keys, token minting and validation (Entra-like JWTs, RS256)."""
import base64
import hashlib
import threading
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import ArmError, DatabricksError, PlainError
from .state import DATABRICKS_RESOURCE, SIM, b64url, new_guid

ARM_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/",
                 "https://management.core.windows.net", "https://management.core.windows.net/")
DATABRICKS_AUDIENCES = (DATABRICKS_RESOURCE,)


class Keys:
    """RSA keys, generated once per process: the Entra token signer and the simulated
    GitHub-like OIDC issuer."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys = {}

    def get(self, name):
        with self._lock:
            k = self._keys.get(name)
            if k is None:
                priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pub = priv.public_key()
                nums = pub.public_numbers()
                kid = hashlib.sha256(pub.public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()[:16]
                jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                       "n": b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                       "e": b64url(nums.e.to_bytes(3, "big"))}
                k = {"private": priv, "public": pub, "kid": kid, "jwk": jwk}
                self._keys[name] = k
            return k


KEYS = Keys()


def entra_issuer(tenant_id=None):
    return SIM.config.url("login", f"/{tenant_id or SIM.config.tenant_id}/v2.0")


def github_issuer():
    return SIM.config.url("login", "/github-oidc")


def databricks_issuer():
    return SIM.config.url("accounts", f"/oidc/accounts/{SIM.config.account_id}")


def sign(claims, key_name="entra"):
    k = KEYS.get(key_name)
    return jwt.encode(claims, k["private"], algorithm="RS256", headers={"kid": k["kid"], "typ": "JWT"})


def mint_access_token(audience, oid, appid, tenant_id=None, lifetime=None, extra=None, idtyp="app"):
    """An Entra access token (v1-style claims, as ARM and Databricks receive them)."""
    now = int(time.time())
    tid = tenant_id or SIM.config.tenant_id
    claims = {"aud": audience, "iss": f"https://sts.{SIM.config.domain}/{tid}/", "iat": now,
              "nbf": now, "exp": now + int(lifetime if lifetime is not None else SIM.config.token_lifetime),
              "tid": tid, "oid": oid, "sub": oid, "appid": appid, "azp": appid, "idtyp": idtyp,
              "ver": "1.0", "uti": b64url(new_guid().encode())[:22]}
    if extra:
        claims.update(extra)
    return sign(claims), claims


def mint_github_oidc(subject, audience="api://AzureADTokenExchange", lifetime=600, extra=None):
    now = int(time.time())
    claims = {"iss": github_issuer(), "sub": subject, "aud": audience, "iat": now, "nbf": now,
              "exp": now + int(lifetime), "jti": new_guid()}
    if extra:
        claims.update(extra)
    return sign(claims, "github")


def mint_databricks_m2m(client_id, scope, host_kind, workspace_id=None, lifetime=3600):
    now = int(time.time())
    claims = {"iss": databricks_issuer(), "sub": client_id, "client_id": client_id,
              "aud": f"databricks:{SIM.config.account_id}", "scope": scope, "iat": now, "nbf": now,
              "exp": now + int(lifetime), "dbx_m2m": True, "token_host": host_kind}
    if workspace_id:
        claims["workspace_id"] = workspace_id
    return sign(claims, "databricks"), claims


def decode(token, key_name, audiences=None, issuer=None, leeway=0):
    """Verify signature, exp/nbf, and optionally aud and iss. Raises jwt exceptions."""
    k = KEYS.get(key_name)
    opts = {"require": ["exp"], "verify_aud": audiences is not None}
    return jwt.decode(token, k["public"], algorithms=["RS256"], audience=list(audiences) if audiences else None,
                      issuer=issuer, options=opts, leeway=leeway)


def cert_thumbprint(pem):
    """x5t: base64url(SHA-1 of the DER certificate)."""
    if isinstance(pem, str):
        pem = pem.encode()
    cert = x509.load_pem_x509_certificate(pem)
    return b64url(hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest())  # noqa: S324 - x5t is SHA-1


def _arm_auth_error(code, message):
    e = ArmError(401, code, message)
    e.headers = lambda: {"WWW-Authenticate": f'Bearer authorization_uri="{SIM.config.url("login", "/" + SIM.config.tenant_id)}", '
                                             f'error="invalid_token", error_description="{message}"'}
    return e


def authenticate(req):
    """Validate `Authorization: Bearer` for req.host_kind; set req.principal (claims)."""
    kind = req.host_kind
    authz = req.headers.get("authorization") or ""
    if not authz.lower().startswith("bearer ") or not authz[7:].strip():
        if kind == "management":
            raise _arm_auth_error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        raise DatabricksError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
    token = authz[7:].strip()
    req.token = token
    if kind == "management":
        try:
            claims = decode(token, "entra")
        except jwt.ExpiredSignatureError:
            raise _arm_auth_error("ExpiredAuthenticationToken",
                                  "The access token expiry UTC time is earlier than current UTC time.") from None
        except jwt.PyJWTError as e:
            raise _arm_auth_error("InvalidAuthenticationToken", f"The access token is invalid. ({e})") from None
        if claims.get("aud") not in ARM_AUDIENCES:
            raise _arm_auth_error("InvalidAuthenticationTokenAudience",
                                  f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
                                  "It should exactly match with one of the allowed audiences "
                                  "'https://management.core.windows.net/','https://management.core.windows.net',"
                                  "'https://management.azure.com/','https://management.azure.com'.")
        if claims.get("tid") != SIM.config.tenant_id:
            raise _arm_auth_error("InvalidAuthenticationTokenTenant",
                                  f"The access token is from the wrong issuer tenant '{claims.get('tid')}'.")
        req.principal = claims
        return claims
    if kind in ("accounts", "workspace"):
        header = _peek_header(token)
        kid = header.get("kid") if header else None
        key_name = "databricks" if kid == KEYS.get("databricks")["kid"] else "entra"
        try:
            claims = decode(token, key_name)
        except jwt.ExpiredSignatureError:
            raise DatabricksError(401, "UNAUTHENTICATED", "Token is expired.") from None
        except jwt.PyJWTError as e:
            raise DatabricksError(401, "UNAUTHENTICATED", f"Invalid access token. ({e})") from None
        if key_name == "entra":
            # FIDELITY: Databricks accepts Entra tokens issued for the AzureDatabricks app only.
            if claims.get("aud") not in DATABRICKS_AUDIENCES:
                raise DatabricksError(401, "UNAUTHENTICATED",
                                      f"Invalid access token: audience '{claims.get('aud')}' is not "
                                      f"AzureDatabricks ({DATABRICKS_RESOURCE}).")
        else:
            ws = claims.get("workspace_id")
            if kind == "accounts" and claims.get("token_host") != "accounts":
                raise DatabricksError(401, "UNAUTHENTICATED", "Invalid access token: a workspace token on the account API.")
            if kind == "workspace" and ws and req.workspace and ws != req.workspace["id"]:
                raise DatabricksError(401, "UNAUTHENTICATED",
                                      f"Invalid access token: issued for workspace {ws}, not {req.workspace['id']}.")
        req.principal = claims
        return claims
    raise PlainError(500, "no_auth", f"no authentication scheme for host kind {kind}")


def _peek_header(token):
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None


def jwks(key_name):
    return {"keys": [KEYS.get(key_name)["jwk"]]}


def b64(data):
    return base64.b64encode(data).decode()
