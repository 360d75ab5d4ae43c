"""Workspace objects (/api/2.0/workspace/...), volume files (/api/2.0/fs/files/Volumes/...,
/api/2.0/fs/directories/...), secrets (/api/2.0/secrets/...) and SCIM Me on workspace hosts.
Everything is in memory, per workspace (files: per volume id, so they follow the volume)."""

import base64
import binascii
import email.utils
import hashlib
import re
import threading
import time

from databricks.sdk.service import workspace as WS

from ..errors import DatabricksError
from .common import api, bad, body, check_shape, metastore, params_of, qint, who, ws_id
from .ucmodel import UC, UCError


def _now():
    return int(time.time() * 1000)


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.objects = {}    # ws id -> {path -> object dict (content: bytes)}
        self.files = {}      # volume id -> {relative path -> {"data", "mtime"}}
        self.dirs = {}       # volume id -> set(relative dir paths)
        self.scopes = {}     # ws id -> {scope -> {"backend_type", "keyvault_metadata",
        #                                          "secrets": {key: (bytes, ts)}, "acls": {}}}
        self.next_object_id = 1000


STORE = Store()


def _reset():
    global STORE
    STORE = Store()


UC.on_reset(_reset)


def not_found(msg):
    return DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", msg)


# ---- workspace objects -----------------------------------------------------------------------------

WSP = "/api/2.0/workspace"


def _norm(path):
    if not isinstance(path, str) or not path.startswith("/"):
        raise bad(f"Invalid path '{path}': expected an absolute workspace path.")
    if path.startswith("/Workspace/") or path == "/Workspace":
        path = path[len("/Workspace"):] or "/"
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise bad(f"Invalid path '{path}'.")
    return "/" + "/".join(parts)


def _objs(req):
    d = STORE.objects.get(req.workspace["id"])
    if d is None:
        d = STORE.objects[req.workspace["id"]] = {}
        for p in ("/", "/Users", "/Shared", "/Repos"):
            d[p] = _new_obj(p, "DIRECTORY")
    return d


def _new_obj(path, otype, content=None, language=None):
    STORE.next_object_id += 1
    t = _now()
    o = {"path": path, "object_type": otype, "object_id": STORE.next_object_id,
         "created_at": t, "modified_at": t, "resource_id": str(STORE.next_object_id)}
    if content is not None:
        o["_content"] = content
        o["size"] = len(content)
    if language:
        o["language"] = language
    return o


def _info(o):
    return WS.ObjectInfo.from_dict({k: v for k, v in o.items() if not k.startswith("_")}).as_dict()


def _parent(path):
    return path.rsplit("/", 1)[0] or "/"


@api("workspace", "POST", WSP + "/mkdirs")
def mkdirs(req):
    b = body(req, params_of(WS.WorkspaceAPI.mkdirs), ("path",))
    path = _norm(b["path"])
    with STORE.lock:
        objs = _objs(req)
        cur = ""
        for part in path.strip("/").split("/"):
            cur += "/" + part
            o = objs.get(cur)
            if o is None:
                objs[cur] = _new_obj(cur, "DIRECTORY")
            elif o["object_type"] != "DIRECTORY":
                raise DatabricksError(400, "RESOURCE_ALREADY_EXISTS",
                                      f"Path ({cur}) already exists and is not a directory.")
    return {}


@api("workspace", "POST", WSP + "/import")
def import_(req):
    b = body(req, params_of(WS.WorkspaceAPI.import_), ("path",))
    if b.get("format") is not None and b["format"] not in [m.value for m in WS.ImportFormat]:
        raise bad(f"Invalid format '{b['format']}': expected one of "
                  f"{', '.join(m.value for m in WS.ImportFormat)}.")
    if b.get("language") is not None and b["language"] not in [m.value for m in WS.Language]:
        raise bad(f"Invalid language '{b['language']}': expected one of "
                  f"{', '.join(m.value for m in WS.Language)}.")
    path = _norm(b["path"])
    fmt = b.get("format") or "SOURCE"
    lang = b.get("language")
    try:
        content = base64.b64decode(b.get("content") or "", validate=True)
    except (binascii.Error, ValueError):
        raise bad("content: invalid base64.") from None
    if len(content) > 10 * 1024 * 1024:
        raise bad("content exceeds the 10 MB import limit.", "MAX_NOTEBOOK_SIZE_EXCEEDED")
    if fmt == "SOURCE" and not lang:
        raise bad("language is required when format is SOURCE.")
    otype = "NOTEBOOK" if fmt in ("SOURCE", "JUPYTER", "DBC", "HTML", "R_MARKDOWN") else "FILE"
    if fmt == "AUTO":
        ext = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R"}
        head = content[:64]
        if any(path.lower().endswith(e) for e in ext) and head.startswith(
                (b"# Databricks notebook source", b"-- Databricks notebook source")):
            otype = "NOTEBOOK"
            lang = next(v for e, v in ext.items() if path.lower().endswith(e))
            path = path.rsplit(".", 1)[0]
    with STORE.lock:
        objs = _objs(req)
        par = objs.get(_parent(path))
        if par is None or par["object_type"] != "DIRECTORY":
            raise not_found(f"The parent folder ({_parent(path)}) does not exist.")
        old = objs.get(path)
        if old is not None:
            if not b.get("overwrite"):
                raise DatabricksError(400, "RESOURCE_ALREADY_EXISTS",
                                      f"{path} already exists. Use overwrite to replace it.")
            if old["object_type"] == "DIRECTORY":
                raise DatabricksError(400, "RESOURCE_ALREADY_EXISTS",
                                      f"{path} is a directory.")
        o = _new_obj(path, otype, content, lang if otype == "NOTEBOOK" else None)
        if old is not None:
            o["object_id"], o["created_at"] = old["object_id"], old["created_at"]
        objs[path] = o
    return {}


@api("workspace", "GET", WSP + "/get-status")
def get_status(req):
    path = _norm(req.query.get("path") or "")
    with STORE.lock:
        o = _objs(req).get(path)
        if o is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        return _info(o)


@api("workspace", "GET", WSP + "/export")
def export(req):
    path = _norm(req.query.get("path") or "")
    with STORE.lock:
        o = _objs(req).get(path)
        if o is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        if o["object_type"] == "DIRECTORY":
            raise bad(f"{path} is a directory; export a directory with format DBC "
                      "(not supported by the simulator).")
        data = o.get("_content", b"")
    if req.query.get("direct_download") == "true":
        return 200, data
    return {"content": base64.b64encode(data).decode(), "file_type": (
        {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}.get(o.get("language"), ""))}


@api("workspace", "GET", WSP + "/list")
def list_(req):
    path = _norm(req.query.get("path") or "")
    with STORE.lock:
        objs = _objs(req)
        o = objs.get(path)
        if o is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        if o["object_type"] != "DIRECTORY":
            return {"objects": [_info(o)]}
        kids = [x for p, x in sorted(objs.items()) if p != path and _parent(p) == path]
        return {"objects": [_info(x) for x in kids]}


@api("workspace", "POST", WSP + "/delete")
def delete(req):
    b = body(req, params_of(WS.WorkspaceAPI.delete), ("path",))
    path = _norm(b["path"])
    with STORE.lock:
        objs = _objs(req)
        if path not in objs:
            raise not_found(f"Path ({path}) doesn't exist.")
        kids = [p for p in objs if p.startswith(path.rstrip("/") + "/")]
        if kids and not b.get("recursive"):
            raise DatabricksError(400, "DIRECTORY_NOT_EMPTY",
                                  f"Folder ({path}) is not empty.")
        if path == "/":
            raise bad("The root folder cannot be deleted.")
        for p in kids + [path]:
            del objs[p]
    return {}


# ---- volume files ----------------------------------------------------------------------------------

VOL = re.compile(r"^/Volumes/([^/]+)/([^/]+)/([^/]+)(/.*)?$")


def _volume(req, path, write=False):
    """-> (volume id, relative path without leading /)."""
    m = VOL.match(path)
    if not m:
        raise bad(f"Invalid path '{path}': expected /Volumes/<catalog>/<schema>/<volume>/...")
    ms = metastore(req)
    try:
        ms.check_catalog_access(m.group(1), ws_id(req), write=write)
        v = ms.get_volume(f"`{m.group(1)}`.`{m.group(2)}`.`{m.group(3)}`")
    except UCError as e:
        raise not_found(f"{e.message} (path {path})") from None
    rel = (m.group(4) or "").strip("/")
    if any(p in (".", "..") for p in rel.split("/")):
        raise bad(f"Invalid path '{path}'.")
    return v.volume_id, rel


def _http_date(ms):
    return email.utils.formatdate(ms / 1000, usegmt=True)


@api("workspace", "PUT", "/api/2.0/fs/files{path:path}")
def upload(req):
    vid, rel = _volume(req, req.params["path"], write=True)
    if not rel:
        raise bad("A file path inside the volume is required.")
    overwrite = (req.query.get("overwrite") or "false").lower() == "true"
    with STORE.lock:
        files = STORE.files.setdefault(vid, {})
        dirs = STORE.dirs.setdefault(vid, set())
        if rel in dirs:
            raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS", f"{req.params['path']} is a "
                                  "directory.")
        if rel in files and not overwrite:
            raise DatabricksError(409, "ALREADY_EXISTS",
                                  f"The file being created already exists: {req.params['path']}.")
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
        files[rel] = {"data": req.body or b"", "mtime": _now()}
    return 204, None


def _file(req):
    vid, rel = _volume(req, req.params["path"])
    f = STORE.files.get(vid, {}).get(rel)
    if f is None:
        raise not_found(f"The file {req.params['path']} does not exist.")
    return f


@api("workspace", "GET", "/api/2.0/fs/files{path:path}")
def download(req):
    with STORE.lock:
        f = _file(req)
        return 200, f["data"], {"Last-Modified": _http_date(f["mtime"]),
                                "Content-Type": "application/octet-stream"}


@api("workspace", "HEAD", "/api/2.0/fs/files{path:path}")
def file_metadata(req):
    with STORE.lock:
        f = _file(req)
        return 200, f["data"], {"Last-Modified": _http_date(f["mtime"]),
                                "Content-Type": "application/octet-stream"}


@api("workspace", "DELETE", "/api/2.0/fs/files{path:path}")
def delete_file(req):
    vid, rel = _volume(req, req.params["path"], write=True)
    with STORE.lock:
        if STORE.files.get(vid, {}).pop(rel, None) is None:
            raise not_found(f"The file {req.params['path']} does not exist.")
    return 204, None


@api("workspace", "PUT", "/api/2.0/fs/directories{path:path}")
def create_directory(req):
    vid, rel = _volume(req, req.params["path"], write=True)
    with STORE.lock:
        if rel in STORE.files.get(vid, {}):
            raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                                  f"{req.params['path']} is a file.")
        dirs = STORE.dirs.setdefault(vid, set())
        parts = [p for p in rel.split("/") if p]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return 204, None


@api("workspace", "GET", "/api/2.0/fs/directories{path:path}")
def list_directory(req):
    vid, rel = _volume(req, req.params["path"])
    base = req.params["path"].rstrip("/")
    with STORE.lock:
        dirs = STORE.dirs.get(vid, set())
        files = STORE.files.get(vid, {})
        if rel and rel not in dirs:
            raise not_found(f"The directory {req.params['path']} does not exist.")
        pre = rel + "/" if rel else ""
        entries = []
        for d in sorted(dirs):
            if d.startswith(pre) and "/" not in d[len(pre):] and d != rel:
                name = d[len(pre):]
                entries.append({"path": f"{base}/{name}/", "is_directory": True, "name": name})
        for p, f in sorted(files.items()):
            if p.startswith(pre) and "/" not in p[len(pre):]:
                name = p[len(pre):]
                entries.append({"path": f"{base}/{name}", "is_directory": False, "name": name,
                                "file_size": len(f["data"]), "last_modified": f["mtime"]})
    size = qint(req, "page_size", 1000)
    start = qint(req, "page_token", 0)
    d = {"contents": entries[start:start + size]}
    if start + size < len(entries):
        d["next_page_token"] = str(start + size)
    return d


@api("workspace", "DELETE", "/api/2.0/fs/directories{path:path}")
def delete_directory(req):
    vid, rel = _volume(req, req.params["path"], write=True)
    with STORE.lock:
        dirs = STORE.dirs.get(vid, set())
        if rel not in dirs:
            raise not_found(f"The directory {req.params['path']} does not exist.")
        pre = rel + "/"
        if any(p.startswith(pre) for p in STORE.files.get(vid, {})) or \
                any(d.startswith(pre) for d in dirs):
            raise DatabricksError(400, "DIRECTORY_NOT_EMPTY",
                                  f"The directory {req.params['path']} is not empty.")
        dirs.discard(rel)
    return 204, None


# ---- secrets ---------------------------------------------------------------------------------------

SEC = "/api/2.0/secrets"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _scopes(req):
    return STORE.scopes.setdefault(req.workspace["id"], {})


def _scope(req, name):
    s = _scopes(req).get(name)
    if s is None:
        raise not_found(f"Scope {name} does not exist!")
    return s


def _vault_of(kv):
    """The simulated vault a KV-backed scope names, or a 400 as the service answers."""
    from ..arm import types as AT
    vault = AT.find_vault(kv.get("resource_id"))
    if vault is None:
        raise bad(f"Azure KeyVault {kv.get('resource_id')} does not exist or is not accessible.")
    uri = vault["properties"].get("vaultUri") or ""
    if (kv.get("dns_name") or "").rstrip("/").lower() != uri.rstrip("/").lower():
        raise bad(f"backend_azure_keyvault.dns_name '{kv.get('dns_name')}' is not the DNS name of "
                  f"{kv.get('resource_id')} ({uri}).")
    return vault


@api("workspace", "POST", SEC + "/scopes/create")
def create_scope(req):
    b = body(req, params_of(WS.SecretsAPI.create_scope), ("scope",))
    name = b["scope"]
    if not NAME.match(name):
        raise bad(f"Invalid scope name '{name}': up to 128 letters, digits, '-', '_' and '.'.")
    bt = b.get("scope_backend_type") or "DATABRICKS"
    if bt not in ("DATABRICKS", "AZURE_KEYVAULT"):
        raise bad(f"Invalid scope_backend_type '{bt}'.")
    kv = b.get("backend_azure_keyvault")
    if kv is not None:
        check_shape(kv, WS.AzureKeyVaultSecretScopeMetadata, "backend_azure_keyvault.")
    if bt == "AZURE_KEYVAULT":
        if not (kv and kv.get("resource_id") and kv.get("dns_name")):
            raise bad("backend_azure_keyvault.resource_id and dns_name are required for an "
                      "AZURE_KEYVAULT scope.")
        # The service looks the vault up in Azure with the caller's own Entra ID token: a
        # Databricks token (PAT, OAuth M2M, federated) cannot create a Key Vault-backed scope.
        if (req.principal or {}).get("dbx_m2m") or not (req.principal or {}).get("tid"):
            raise bad("Scope with Azure KeyVault must have userAADToken defined!")
        # FIDELITY: the real service also needs the caller to hold Contributor or Owner on the vault
        # (an ARM check with the caller's token) and, for an access-policy vault, adds a get/list
        # policy for AzureDatabricks itself; here any Entra caller may create it and nothing is added.
        _vault_of(kv)
    elif kv is not None:
        raise bad("backend_azure_keyvault is only allowed for an AZURE_KEYVAULT scope.")
    imp = b.get("initial_manage_principal")
    if imp not in (None, "users"):
        raise bad("initial_manage_principal: only 'users' is supported.")
    with STORE.lock:
        if name in _scopes(req):
            raise DatabricksError(400, "RESOURCE_ALREADY_EXISTS", f"Scope {name} already exists!")
        _scopes(req)[name] = {"backend_type": bt, "keyvault_metadata": kv, "secrets": {},
                              "acls": {who(req): "MANAGE"}}
        if imp == "users":
            _scopes(req)[name]["acls"]["users"] = "MANAGE"
    return {}


def _kv_secrets(s):
    """A KV-backed scope reads its vault at request time with the AzureDatabricks application's
    identity: {key: (bytes, ms)}, or 403 when that application may not get and list secrets."""
    from ..arm import types as AT
    from ..state import DATABRICKS_SP_OBJECT_ID
    vault = AT.find_vault(s["keyvault_metadata"]["resource_id"])
    if vault is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Azure KeyVault {s['keyvault_metadata']['resource_id']} does not exist.")
    if not AT.has_secret_access(vault, DATABRICKS_SP_OBJECT_ID):
        raise DatabricksError(403, "PERMISSION_DENIED",
                              f"The AzureDatabricks application (object id {DATABRICKS_SP_OBJECT_ID}) does not "
                              f"have secrets get/list permission on key vault {vault['name']}: grant it 'Key Vault "
                              "Secrets User' (RBAC vault) or a get/list access policy.")
    # FIDELITY: the vault's network rules (public access, trusted-services bypass) are not checked.
    return {k: ((v or "").encode(), int(ts or 0) * 1000) for k, (v, ts) in AT.vault_secrets(vault["id"]).items()}


def _secrets_of(s):
    return _kv_secrets(s) if s["backend_type"] == "AZURE_KEYVAULT" else s["secrets"]


@api("workspace", "GET", SEC + "/scopes/list")
def list_scopes(req):
    with STORE.lock:
        res = []
        for n, s in sorted(_scopes(req).items()):
            d = {"name": n, "backend_type": s["backend_type"]}
            if s["keyvault_metadata"]:
                d["keyvault_metadata"] = s["keyvault_metadata"]
            res.append(WS.SecretScope.from_dict(d).as_dict())
        return {"scopes": res}


@api("workspace", "POST", SEC + "/scopes/delete")
def delete_scope(req):
    b = body(req, params_of(WS.SecretsAPI.delete_scope), ("scope",))
    with STORE.lock:
        _scope(req, b["scope"])
        del _scopes(req)[b["scope"]]
    return {}


@api("workspace", "POST", SEC + "/put")
def put_secret(req):
    b = body(req, params_of(WS.SecretsAPI.put_secret), ("scope", "key"))
    if not NAME.match(b["key"]):
        raise bad(f"Invalid key '{b['key']}': up to 128 letters, digits, '-', '_' and '.'.")
    if (b.get("string_value") is None) == (b.get("bytes_value") is None):
        raise bad("Exactly one of string_value and bytes_value must be given.")
    if b.get("string_value") is not None:
        data = str(b["string_value"]).encode()
    else:
        try:
            data = base64.b64decode(b["bytes_value"], validate=True)
        except (binascii.Error, ValueError):
            raise bad("bytes_value: invalid base64.") from None
    if len(data) > 128 * 1024:
        raise bad("A secret value is limited to 128 KB.")
    with STORE.lock:
        s = _scope(req, b["scope"])
        if s["backend_type"] == "AZURE_KEYVAULT":
            raise bad(f"Scope {b['scope']} is backed by Azure Key Vault, a read-only interface to the "
                      "vault: set the secret in Azure Key Vault instead.")
        if b["key"] not in s["secrets"] and len(s["secrets"]) >= 1000:
            raise bad("A scope holds at most 1000 secrets.", "MAX_SECRETS_EXCEEDED")
        s["secrets"][b["key"]] = (data, _now())
    return {}


@api("workspace", "GET", SEC + "/list")
def list_secrets(req):
    scope = req.query.get("scope") or ""
    with STORE.lock:
        s = _scope(req, scope)
        return {"secrets": [{"key": k, "last_updated_timestamp": v[1]}
                            for k, v in sorted(_secrets_of(s).items())]}


@api("workspace", "GET", SEC + "/get")
def get_secret(req):
    scope, key = req.query.get("scope") or "", req.query.get("key") or ""
    with STORE.lock:
        s = _scope(req, scope)
        sec = _secrets_of(s)
        if key not in sec:
            raise not_found(f"Secret {key} does not exist in scope {scope}.")
        return {"key": key, "value": base64.b64encode(sec[key][0]).decode()}


@api("workspace", "POST", SEC + "/delete")
def delete_secret(req):
    b = body(req, {"scope", "key"}, ("scope", "key"))
    with STORE.lock:
        s = _scope(req, b["scope"])
        if s["backend_type"] == "AZURE_KEYVAULT":
            raise bad(f"Scope {b['scope']} is backed by Azure Key Vault, a read-only interface to the "
                      "vault: delete the secret in Azure Key Vault instead.")
        if s["secrets"].pop(b["key"], None) is None:
            raise not_found(f"Secret {b['key']} does not exist in scope {b['scope']}.")
    return {}


@api("workspace", "POST", SEC + "/acls/put")
def put_acl(req):
    b = body(req, params_of(WS.SecretsAPI.put_acl), ("scope", "principal", "permission"))
    if b["permission"] not in ("READ", "WRITE", "MANAGE"):
        raise bad(f"Invalid permission '{b['permission']}': expected READ, WRITE or MANAGE.")
    with STORE.lock:
        _scope(req, b["scope"])["acls"][b["principal"]] = b["permission"]
    return {}


@api("workspace", "GET", SEC + "/acls/list")
def list_acls(req):
    with STORE.lock:
        s = _scope(req, req.query.get("scope") or "")
        return {"items": [{"principal": p, "permission": v} for p, v in sorted(s["acls"].items())]}


@api("workspace", "GET", SEC + "/acls/get")
def get_acl(req):
    with STORE.lock:
        s = _scope(req, req.query.get("scope") or "")
        p = req.query.get("principal") or ""
        if p not in s["acls"]:
            raise not_found(f"No ACL for principal {p}.")
        return {"principal": p, "permission": s["acls"][p]}


@api("workspace", "POST", SEC + "/acls/delete")
def delete_acl(req):
    b = body(req, {"scope", "principal"}, ("scope", "principal"))
    with STORE.lock:
        s = _scope(req, b["scope"])
        if s["acls"].pop(b["principal"], None) is None:
            raise not_found(f"No ACL for principal {b['principal']}.")
    return {}


# ---- SCIM Me (workspace) ---------------------------------------------------------------------------

@api("workspace", "GET", "/api/2.0/preview/scim/v2/Me")
def me(req):
    p = req.principal or {}
    name = who(req)
    is_sp = bool(p.get("appid") or p.get("client_id"))
    d = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
         "id": str(int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**15),
         "userName": name,
         "displayName": name, "active": True}
    if is_sp:
        d["externalId"] = p.get("oid")
    return d
