"""Shared helpers for the Databricks routes: request-body contract checks against the
databricks-sdk, SDK-shaped responses, paging, model errors -> Databricks error JSON."""

import base64
import dataclasses
import functools
import inspect
import json

from ..errors import DatabricksError
from ..http import route
from ..state import SIM
from .ucmodel import UC, UCError

ERROR_DOMAIN = "unity-catalog.databricks.com"


def to_dbx_error(e: UCError) -> DatabricksError:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": e.reason,
                "domain": ERROR_DOMAIN, "metadata": {}}]
    return DatabricksError(e.status, e.error_code, e.message, details=details)


def api(host_kind, method, pattern, **kw):
    """@route plus: UCError -> Databricks error JSON."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapped(req):
            try:
                return fn(req)
            except UCError as e:
                raise to_dbx_error(e) from None
        route(host_kind, method, pattern, **kw)(wrapped)
        return fn
    return deco


def bad(message, code="INVALID_PARAMETER_VALUE", status=400):
    return DatabricksError(status, code, message)


# ---- request contract ---------------------------------------------------------------------------

def params_of(*methods, drop=()):
    """Field names a request body may carry = the keyword parameters of the SDK API methods
    (the SDK builds the body from them)."""
    out = set()
    for m in methods:
        out.update(p for p in inspect.signature(m).parameters if p != "self")
    return frozenset(out - set(drop))


def fields_of(cls, drop=()):
    return frozenset(f.name for f in dataclasses.fields(cls)) - set(drop)


def body(req, allowed, required=(), where=""):
    """The JSON object body, checked: unknown field -> 400 naming it; required missing -> 400.
    FIDELITY: the real REST API usually ignores unknown fields; refusing them catches typos in
    drhost's requests (the point of the simulator)."""
    b = req.json
    if b is None:
        b = {}
    if not isinstance(b, dict):
        raise bad("Request body must be a JSON object.", "MALFORMED_REQUEST")
    check_fields(b, allowed, where)
    for r in required:
        if b.get(r) in (None, ""):
            raise bad(f"Missing required field: {where}{r}")
    return b


def check_fields(obj, allowed, where=""):
    if not isinstance(obj, dict):
        raise bad(f"Invalid value for {where.rstrip('.') or 'body'}: expected an object.")
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise bad(f"Invalid field '{where}{unknown[0]}' in request: unknown field"
                  + (f"s {', '.join(where + u for u in unknown)}" if len(unknown) > 1 else "")
                  + f". Expected one of: {', '.join(sorted(allowed))}.")


def check_list_of(items, cls, where):
    """Each element of items must be an object with only fields of SDK dataclass cls."""
    if items is None:
        return
    if not isinstance(items, list):
        raise bad(f"Invalid value for {where}: expected an array.")
    allowed = fields_of(cls)
    for i, it in enumerate(items):
        check_fields(it, allowed, f"{where}[{i}].")


def qbool(req, name, default=False):
    v = req.query.get(name)
    if v is None:
        return default
    v = v.lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise bad(f"Invalid value for query parameter {name}: expected true or false.")


def required_query(req, name):
    v = req.query.get(name)
    if not v:
        raise bad(f"Missing required query parameter: {name}")
    return v


# ---- responses -----------------------------------------------------------------------------------

def out(cls, d):
    """Shape d through the SDK dataclass (from_dict -> as_dict). A key the dataclass does not
    know is a simulator bug (500), so responses never carry invented field names."""
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(d) - names
    if extra:
        raise AssertionError(f"{cls.__name__} has no field(s) {sorted(extra)}")
    res = cls.from_dict({k: v for k, v in d.items() if v is not None}).as_dict()
    lost = [k for k, v in d.items() if v not in (None, [], {}) and k not in res]
    if lost:   # e.g. an enum value the SDK does not know
        raise AssertionError(f"{cls.__name__}: value(s) of {lost} rejected by the SDK: "
                             f"{[d[k] for k in lost]}")
    return res


DEFAULT_PAGE = 50     # FIDELITY: small default page so that clients must follow next_page_token
MAX_PAGE = 1000


def _token(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        o = json.loads(base64.urlsafe_b64decode(tok + pad))["o"]
        if not isinstance(o, int) or o < 0:
            raise ValueError
        return o
    except Exception:
        raise bad(f"Invalid page_token '{tok}'.") from None


def page(req, items, default=DEFAULT_PAGE, maximum=MAX_PAGE, size_param="max_results",
         token_param="page_token"):
    """-> (page_items, next_page_token or None). max_results 0/absent -> default page size
    (FIDELITY: the real UC returns everything when max_results is absent on some lists);
    negative or non-integer -> 400; above maximum -> maximum."""
    raw = req.query.get(size_param)
    size = default
    if raw not in (None, ""):
        try:
            size = int(raw)
        except ValueError:
            raise bad(f"Invalid {size_param} '{raw}': expected an integer.") from None
        if size < 0:
            raise bad(f"{size_param} must be >= 0.")
        size = default if size == 0 else min(size, maximum)
    start = _offset(req.query[token_param]) if req.query.get(token_param) else 0
    chunk = items[start:start + size]
    nxt = _token(start + size) if start + size < len(items) else None
    return chunk, nxt


def listing(key, items, nxt):
    d = {key: items}
    if nxt:
        d["next_page_token"] = nxt
    return d


# ---- caller context ------------------------------------------------------------------------------

def who(req):
    """Principal name of the caller: the application id of an SP token (Entra appid or
    Databricks OAuth client id), else the user's upn/sub."""
    p = req.principal or {}
    return p.get("appid") or p.get("client_id") or p.get("upn") or p.get("sub") or "unknown"


def ws_id(req):
    return int(req.workspace["id"])


def metastore(req):
    """The metastore assigned to the calling workspace."""
    return UC.for_workspace(ws_id(req))


def check_account(req):
    if req.params.get("account_id") != SIM.config.account_id:
        raise DatabricksError(404, "NOT_FOUND",
                              f"Account {req.params.get('account_id')} does not exist.")


# The UC model (and everything registered with UC.on_reset) is cleared with the simulator.
SIM.on_reset(UC.reset)


def check_shape(obj, cls, where=""):
    """Recursively check a JSON value against an SDK dataclass: unknown fields (naming their
    path), nested dataclasses and lists of them, and enum values. -> obj."""
    import enum
    import typing
    if not isinstance(obj, dict):
        raise bad(f"Invalid value for {where.rstrip('.') or 'body'}: expected an object.")
    hints = typing.get_type_hints(cls)
    check_fields(obj, set(hints) & fields_of(cls), where)
    for k, v in obj.items():
        if v is None:
            continue
        _check_value(v, hints[k], f"{where}{k}", enum, typing)
    return obj


def _check_value(v, tp, path, enum, typing):
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else tp
        origin = typing.get_origin(tp)
    if origin in (list, typing.List):
        if not isinstance(v, list):
            raise bad(f"Invalid value for {path}: expected an array.")
        (item,) = typing.get_args(tp) or (None,)
        for i, x in enumerate(v):
            if item is not None and x is not None:
                _check_value(x, item, f"{path}[{i}]", enum, typing)
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        check_shape(v, tp, path + ".")
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if v not in allowed:
            raise bad(f"Invalid value '{v}' for {path}: expected one of {', '.join(allowed)}.")


def qint(req, name, default):
    """Integer query parameter; not an integer -> 400 naming it."""
    v = req.query.get(name)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except ValueError:
        raise bad(f"Invalid {name} '{v}': expected an integer.") from None
