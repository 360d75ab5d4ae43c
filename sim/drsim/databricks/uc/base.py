"""Unity Catalog model: errors, privilege sets, limits, name and storage-path helpers
shared by every securable's operations."""

from __future__ import annotations

import time
from typing import Iterable


class UCError(Exception):
    """A model error: HTTP status, Databricks error_code, message, and a finer reason
    (e.g. error_code NOT_FOUND, reason TABLE_DOES_NOT_EXIST) that REST puts in details."""

    def __init__(self, status: int, error_code: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.reason = reason or error_code

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"UCError({self.status}, {self.error_code}, {self.message!r})"


def not_found(kind: str, name: str) -> UCError:
    label = kind.replace("_", " ").lower().capitalize()
    return UCError(404, "NOT_FOUND", f"{label} '{name}' does not exist.",
                   f"{kind.upper()}_DOES_NOT_EXIST")


def _named(objects: dict, kind: str, name):
    """The object registered under `name` (case-insensitive) in `objects`, or NOT_FOUND."""
    obj = objects.get(str(name).lower())
    if obj is None:
        raise not_found(kind, name)
    return obj


def already_exists(kind: str, name: str) -> UCError:
    label = kind.replace("_", " ").lower().capitalize()
    return UCError(409, "RESOURCE_ALREADY_EXISTS", f"{label} '{name}' already exists.",
                   f"{kind.upper()}_ALREADY_EXISTS")


def invalid(message: str, reason: str = "INVALID_PARAMETER_VALUE") -> UCError:
    return UCError(400, "INVALID_PARAMETER_VALUE", message, reason)


def now_ms() -> int:
    return int(time.time() * 1000)


# Privileges (REST spelling). FIDELITY: the sets follow the UC privilege docs for the securable
# types the estate uses; a privilege outside its type's set is refused with 400 like the real one.
PRIVILEGES: dict[str, frozenset[str]] = {
    "METASTORE": frozenset({
        "CREATE_CATALOG", "CREATE_CONNECTION", "CREATE_EXTERNAL_LOCATION", "CREATE_PROVIDER",
        "CREATE_RECIPIENT", "CREATE_SHARE", "CREATE_STORAGE_CREDENTIAL",
        "CREATE_SERVICE_CREDENTIAL", "CREATE_CLEAN_ROOM", "SET_SHARE_PERMISSION",
        "USE_MARKETPLACE_ASSETS", "USE_PROVIDER", "USE_RECIPIENT", "USE_SHARE", "MANAGE_ALLOWLIST",
    }),
    "CATALOG": frozenset({
        "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW",
        "CREATE_MODEL", "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "MANAGE",
        "MODIFY", "READ_VOLUME", "REFRESH", "SELECT", "USE_CATALOG", "USE_SCHEMA", "WRITE_VOLUME",
        "EXTERNAL_USE_SCHEMA", "CREATE_FOREIGN_SECURABLE",
    }),
    "SCHEMA": frozenset({
        "ALL_PRIVILEGES", "APPLY_TAG", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW",
        "CREATE_MODEL", "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "MANAGE", "MODIFY",
        "READ_VOLUME", "REFRESH", "SELECT", "USE_SCHEMA", "WRITE_VOLUME", "EXTERNAL_USE_SCHEMA",
    }),
    "TABLE": frozenset({"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "MODIFY", "SELECT"}),
    "VIEW": frozenset({"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "SELECT"}),
    "MATERIALIZED_VIEW": frozenset({"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "REFRESH", "SELECT"}),
    "VOLUME": frozenset({"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "READ_VOLUME", "WRITE_VOLUME"}),
    "FUNCTION": frozenset({"ALL_PRIVILEGES", "EXECUTE", "MANAGE"}),
    "EXTERNAL_LOCATION": frozenset({
        "ALL_PRIVILEGES", "BROWSE", "CREATE_EXTERNAL_TABLE", "CREATE_EXTERNAL_VOLUME",
        "CREATE_FOREIGN_SECURABLE", "CREATE_MANAGED_STORAGE", "EXTERNAL_USE_LOCATION", "MANAGE",
        "READ_FILES", "WRITE_FILES",
    }),
    "STORAGE_CREDENTIAL": frozenset({
        "ALL_PRIVILEGES", "CREATE_EXTERNAL_LOCATION", "CREATE_EXTERNAL_TABLE", "MANAGE",
        "READ_FILES", "WRITE_FILES",
    }),
    "SHARE": frozenset({"SELECT"}),
}


# Securable types accepted by the permissions API, with the aliases the REST path uses.
SECURABLE_ALIASES = {
    "metastore": "METASTORE", "catalog": "CATALOG", "schema": "SCHEMA", "table": "TABLE",
    "view": "TABLE", "materialized_view": "TABLE", "volume": "VOLUME", "function": "FUNCTION",
    "external_location": "EXTERNAL_LOCATION", "storage_credential": "STORAGE_CREDENTIAL",
    "share": "SHARE", "credential": "STORAGE_CREDENTIAL",
}


# Delta Sharing limits (Databricks resource limits). FIDELITY: tables reached through a shared
# SCHEMA count toward tables_per_share, and distinct schemas of shared tables plus shared SCHEMA
# objects toward schemas_per_share (the conservative reading). Tests may lower them.
SHARE_LIMITS = {"tables_per_share": 1000, "schemas_per_share": 500,
                "shares_per_metastore": 1000, "recipients_per_metastore": 5000}


def quota(message: str) -> UCError:
    return UCError(400, "QUOTA_EXCEEDED", message, "RESOURCE_LIMIT_EXCEEDED")


TABLE_TYPES = {"MANAGED", "EXTERNAL", "VIEW", "MATERIALIZED_VIEW", "STREAMING_TABLE",
               "FOREIGN", "METRIC_VIEW", "EXTERNAL_SHALLOW_CLONE", "MANAGED_SHALLOW_CLONE"}


DATA_SOURCE_FORMATS = {"DELTA", "PARQUET", "CSV", "JSON", "AVRO", "ORC", "TEXT",
                       "UNITY_CATALOG", "DELTASHARING"}


VIEW_TYPES = {"VIEW", "MATERIALIZED_VIEW", "METRIC_VIEW"}


def securable_type(name: str) -> str:
    """Normalise a securable type from a REST path or SQL ('table', 'EXTERNAL_LOCATION'...)."""
    t = SECURABLE_ALIASES.get(str(name).lower())
    if t is None:
        raise invalid(f"Invalid securable type '{name}'.")
    return t


def check_privileges(stype: str, privileges: Iterable[str]) -> list[str]:
    allowed = PRIVILEGES.get(stype, frozenset())
    out = []
    for p in privileges:
        p = str(p).upper()
        if p not in allowed:
            raise invalid(f"Privilege {p} is not applicable to this entity [{stype}]. "
                          f"Valid privileges: {', '.join(sorted(allowed))}.",
                          "INVALID_PRIVILEGE")
        out.append(p)
    return out


def norm_url(url: str) -> str:
    """Canonical form for prefix checks: scheme and authority lower-case, no trailing slash."""
    if not isinstance(url, str) or "://" not in url:
        raise invalid(f"Invalid storage location '{url}': expected an absolute URL "
                      "like abfss://container@account.dfs.core.windows.net/path.")
    scheme, rest = url.split("://", 1)
    auth, _, path = rest.partition("/")
    path = path.strip("/")
    return f"{scheme.lower()}://{auth.lower()}" + (f"/{path}" if path else "")


def url_under(child: str, parent: str) -> bool:
    c, p = norm_url(child), norm_url(parent)
    return c == p or c.startswith(p + "/")


def urls_overlap(a: str, b: str) -> bool:
    return url_under(a, b) or url_under(b, a)


def split_name(full_name: str, parts: int, kind: str = "TABLE") -> list[str]:
    """'Cat.Sch.Tbl' -> ['cat','sch','tbl']; backticks are stripped; wrong arity -> 400."""
    out = split_parts(full_name, kind)
    if len(out) != parts or any(not p for p in out):
        raise invalid(f"Invalid {kind.lower()} name '{full_name}': expected {parts} dot-separated "
                      "parts.")
    return out


def split_parts(full_name: str, kind: str = "object") -> list[str]:
    """Any number of dot-separated parts, backticks stripped, lower-cased."""
    if not isinstance(full_name, str) or not full_name:
        raise invalid(f"Invalid {kind.lower()} name {full_name!r}.")
    out, cur, quoted = [], "", False
    i = 0
    while i < len(full_name):
        ch = full_name[i]
        if ch == "`":
            if quoted and i + 1 < len(full_name) and full_name[i + 1] == "`":
                cur += "`"
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return [p.lower() for p in out]


def _lname(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise invalid(f"{what} name is required.")
    if any(c in name for c in "./ ") and what != "Share":
        raise invalid(f"Invalid {what.lower()} name '{name}': '.', ' ' and '/' are not allowed.")
    return name.lower()


def _locked(fn):
    def wrapper(self, *a, **kw):
        with self._lock():
            return fn(self, *a, **kw)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
