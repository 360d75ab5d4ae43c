"""Unity Catalog model of the simulator: metastores and every securable in them.

Pure Python, no HTTP: the REST routes (drsim.databricks.uc_routes, sharing_routes, account_routes)
and H8's SQL engine (drsim.databricks.sql) both act on this model, which is the single source of
truth for metadata. The public API is documented in UCMODEL.md beside this file; keep them in step.

Conventions
- Names are case-insensitive and stored lower-case, like UC does.
- Enum-like fields are plain upper-case strings ("MANAGED", "DELTA", "ISOLATED"...).
- Times are epoch milliseconds (ints), like the REST API.
- Every failure raises UCError(status, error_code, message, reason) -- the REST layer turns it into
  the Databricks error JSON, the SQL layer into an error class.
- One re-entrant lock (UC.lock) guards the whole model; every public method takes it, and callers
  that need several steps to be atomic may hold it themselves (`with UC.lock: ...`).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Iterable

# ---------------------------------------------------------------------------------------------
# errors


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


# ---------------------------------------------------------------------------------------------
# privileges (REST spelling). FIDELITY: the sets follow the UC privilege docs for the securable
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


# ---------------------------------------------------------------------------------------------
# storage paths


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


# ---------------------------------------------------------------------------------------------
# securables


class Securable:
    """Common fields: owner, comment, properties, timestamps, direct grants, tags."""

    kind = "SECURABLE"

    def __init__(self, name: str, owner: str, comment: str | None = None,
                 properties: dict[str, str] | None = None):
        self.name = name
        self.owner = owner
        self.comment = comment
        self.properties: dict[str, str] = dict(properties or {})
        self.created_at = now_ms()
        self.created_by = owner
        self.updated_at = self.created_at
        self.updated_by = owner
        self.grants: dict[str, set[str]] = {}     # principal -> privileges (direct)
        self.tags: dict[str, str] = {}

    def touch(self, by: str | None = None) -> None:
        self.updated_at = now_ms()
        if by:
            self.updated_by = by

    @property
    def full_name(self) -> str:
        return self.name

    def parent(self) -> "Securable | None":
        return None


class Catalog(Securable):
    kind = "CATALOG"

    def __init__(self, metastore: Metastore, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"), kw.get("properties"))
        self.metastore = metastore
        self.catalog_id = str(uuid.uuid4())
        self.catalog_type: str = kw.get("catalog_type") or "MANAGED_CATALOG"
        self.isolation_mode = "OPEN"
        self.storage_root: str | None = kw.get("storage_root")
        self.provider_name: str | None = kw.get("provider_name")
        self.share_name: str | None = kw.get("share_name")
        self.connection_name: str | None = kw.get("connection_name")
        self.options: dict[str, str] = dict(kw.get("options") or {})
        self.bindings: dict[int, str] = {}   # workspace id -> BINDING_TYPE_READ_WRITE/READ_ONLY
        self.schemas: dict[str, Schema] = {}

    def storage_location(self) -> str | None:
        if self.storage_root:
            return f"{self.storage_root.rstrip('/')}/__unitystorage/catalogs/{self.catalog_id}"
        return None

    def info(self) -> dict:
        return {
            "name": self.name, "full_name": self.name, "metastore_id": self.metastore.metastore_id,
            "catalog_type": self.catalog_type, "isolation_mode": self.isolation_mode,
            "owner": self.owner, "comment": self.comment, "properties": dict(self.properties) or None,
            "storage_root": self.storage_root, "storage_location": self.storage_location(),
            "provider_name": self.provider_name, "share_name": self.share_name,
            "connection_name": self.connection_name, "options": dict(self.options) or None,
            "securable_type": "CATALOG", "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Schema(Securable):
    kind = "SCHEMA"

    def __init__(self, catalog: Catalog, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"), kw.get("properties"))
        self.catalog = catalog
        self.schema_id = str(uuid.uuid4())
        self.storage_root: str | None = kw.get("storage_root")
        self.tables: dict[str, Table] = {}
        self.volumes: dict[str, Volume] = {}
        self.functions: dict[str, Function] = {}

    @property
    def full_name(self) -> str:
        return f"{self.catalog.name}.{self.name}"

    def parent(self) -> Securable:
        return self.catalog

    def managed_root(self) -> str | None:
        if self.storage_root:
            return f"{self.storage_root.rstrip('/')}/__unitystorage/schemas/{self.schema_id}"
        return self.catalog.storage_location() or (
            self.catalog.metastore.storage_root and
            f"{self.catalog.metastore.storage_root.rstrip('/')}/{self.catalog.metastore.metastore_id}")

    def info(self) -> dict:
        return {
            "name": self.name, "catalog_name": self.catalog.name, "full_name": self.full_name,
            "catalog_type": self.catalog.catalog_type, "schema_id": self.schema_id,
            "metastore_id": self.catalog.metastore.metastore_id, "owner": self.owner,
            "comment": self.comment, "properties": dict(self.properties) or None,
            "storage_root": self.storage_root,
            "storage_location": (f"{self.storage_root.rstrip('/')}/__unitystorage/schemas/"
                                 f"{self.schema_id}" if self.storage_root else None),
            "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Column:
    """A table column. `mask` is {"function_name", "using_column_names"} or None; tags per column."""

    def __init__(self, name: str, type_text: str, type_name: str | None = None,
                 comment: str | None = None, nullable: bool = True, position: int = 0,
                 partition_index: int | None = None, type_precision: int | None = None,
                 type_scale: int | None = None, type_json: str | None = None):
        self.name = name
        self.type_text = type_text
        self.type_name = (type_name or type_name_of(type_text)).upper()
        self.comment = comment
        self.nullable = nullable
        self.position = position
        self.partition_index = partition_index
        self.type_precision = type_precision
        self.type_scale = type_scale
        self.type_json = type_json
        self.mask: dict | None = None
        self.tags: dict[str, str] = {}

    @classmethod
    def from_dict(cls, d: dict, position: int) -> "Column":
        if not isinstance(d, dict) or not d.get("name"):
            raise invalid(f"columns[{position}]: a column needs a name.")
        if not d.get("type_text") and not d.get("type_name"):
            raise invalid(f"columns[{position}] ({d.get('name')}): type_text or type_name "
                          "is required.")
        c = cls(d["name"], d.get("type_text") or str(d.get("type_name")).lower(),
                d.get("type_name"), d.get("comment"), d.get("nullable", True),
                d.get("position", position), d.get("partition_index"),
                d.get("type_precision"), d.get("type_scale"), d.get("type_json"))
        if d.get("mask"):
            c.mask = dict(d["mask"])
        return c

    def info(self) -> dict:
        return {k: v for k, v in {
            "name": self.name, "type_text": self.type_text, "type_name": self.type_name,
            "comment": self.comment, "nullable": self.nullable, "position": self.position,
            "partition_index": self.partition_index, "type_precision": self.type_precision,
            "type_scale": self.type_scale, "type_json": self.type_json, "mask": self.mask,
        }.items() if v is not None}


_TYPE_NAMES = {
    "bigint": "LONG", "long": "LONG", "int": "INT", "integer": "INT", "smallint": "SHORT",
    "short": "SHORT", "tinyint": "BYTE", "byte": "BYTE", "float": "FLOAT", "real": "FLOAT",
    "double": "DOUBLE", "boolean": "BOOLEAN", "bool": "BOOLEAN", "string": "STRING",
    "varchar": "STRING", "char": "CHAR", "date": "DATE", "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP_NTZ", "binary": "BINARY", "decimal": "DECIMAL", "array": "ARRAY",
    "map": "MAP", "struct": "STRUCT", "variant": "VARIANT", "interval": "INTERVAL",
}


def type_name_of(type_text: str) -> str:
    """ColumnTypeName for a SQL type text ('decimal(10,2)' -> 'DECIMAL', 'bigint' -> 'LONG')."""
    base = str(type_text).strip().lower()
    for sep in ("(", "<", " "):
        base = base.split(sep, 1)[0]
    return _TYPE_NAMES.get(base, base.upper())


class Table(Securable):
    """Tables and views. `data_ref` is free for the SQL engine (where the data lives);
    `history` is the Delta log summary, oldest first (see history_append)."""

    kind = "TABLE"

    def __init__(self, schema: Schema, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"), kw.get("properties"))
        self.schema = schema
        self.table_id = str(uuid.uuid4())
        self.table_type: str = kw.get("table_type") or "MANAGED"
        self.data_source_format: str | None = kw.get("data_source_format")
        self.columns: list[Column] = list(kw.get("columns") or [])
        self.storage_location: str | None = kw.get("storage_location")
        self.view_definition: str | None = kw.get("view_definition")
        self.view_dependencies: list[str] = list(kw.get("view_dependencies") or [])
        self.function_dependencies: list[str] = list(kw.get("function_dependencies") or [])
        self.row_filter: dict | None = None
        self.history: list[dict] = []
        self.data_ref: Any = None       # owned by the SQL engine (H8)
        self.sql_path: str | None = kw.get("sql_path")

    @property
    def full_name(self) -> str:
        return f"{self.schema.catalog.name}.{self.schema.name}.{self.name}"

    def parent(self) -> Securable:
        return self.schema

    @property
    def is_view(self) -> bool:
        return self.table_type in VIEW_TYPES

    @property
    def current_version(self) -> int:
        return self.history[-1]["version"] if self.history else -1

    def version_stamps(self) -> dict[str, str]:
        """The Delta commit stamps UC keeps in a Delta table's properties: the version and the
        commit time (epoch ms) of the latest history entry; {} for views, non-Delta tables and
        tables without history. Derived from `history`, so every history_append (create, write,
        clone, ALTER...) moves them."""
        if self.is_view or (self.data_source_format or "").upper() != "DELTA" or not self.history:
            return {}
        last = self.history[-1]
        # FIDELITY: Databricks UC returns `delta.lastCommitTimestamp` (ms, string) and
        # `delta.lastUpdateVersion` (string) in TableInfo.properties of Delta tables; the public
        # REST reference does not document them (observed behaviour). UC updates them at commit
        # time for managed tables; for EXTERNAL tables written by an engine that does not report
        # to UC they may lag the Delta log. The simulator's writes all go through UC, so here they
        # never lag for either type, and they advance on EVERY commit -- looser than open-source UC,
        # whose managed-tables spec advances lastUpdateVersion on metadata changes only (unitycatalog
        # PR #1617); that is why replication's default version_source is "history".
        return {"delta.lastCommitTimestamp": str(int(last["timestamp"])),
                "delta.lastUpdateVersion": str(int(last["version"]))}

    def info_properties(self) -> dict[str, str]:
        """properties as tables.get / tables.list return them: user properties + version stamps."""
        out = dict(self.properties)
        out.update(self.version_stamps())
        return out

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name.lower() == name.lower():
                return c
        raise UCError(404, "NOT_FOUND", f"Column '{name}' does not exist in {self.full_name}.",
                      "COLUMN_DOES_NOT_EXIST")

    def info(self, catalog_name: str | None = None, schema_name: str | None = None) -> dict:
        cat = catalog_name or self.schema.catalog.name
        sch = schema_name or self.schema.name
        deps = None
        if self.is_view:
            deps = {"dependencies": [{"table": {"table_full_name": n}}
                                     for n in self.view_dependencies] +
                    [{"function": {"function_full_name": n}} for n in self.function_dependencies]}
        return {
            "name": self.name, "catalog_name": cat, "schema_name": sch,
            "full_name": f"{cat}.{sch}.{self.name}", "table_id": self.table_id,
            "table_type": self.table_type, "data_source_format": self.data_source_format,
            "columns": [c.info() for c in self.columns],
            "storage_location": self.storage_location,
            "view_definition": self.view_definition, "view_dependencies": deps,
            "row_filter": self.row_filter, "owner": self.owner, "comment": self.comment,
            "properties": self.info_properties() or None, "sql_path": self.sql_path,
            "metastore_id": self.schema.catalog.metastore.metastore_id, "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Volume(Securable):
    kind = "VOLUME"

    def __init__(self, schema: Schema, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"))
        self.schema = schema
        self.volume_id = str(uuid.uuid4())
        self.volume_type: str = kw.get("volume_type") or "MANAGED"
        self.storage_location: str | None = kw.get("storage_location")

    @property
    def full_name(self) -> str:
        return f"{self.schema.catalog.name}.{self.schema.name}.{self.name}"

    def parent(self) -> Securable:
        return self.schema

    def info(self) -> dict:
        return {
            "name": self.name, "catalog_name": self.schema.catalog.name,
            "schema_name": self.schema.name, "full_name": self.full_name,
            "volume_id": self.volume_id, "volume_type": self.volume_type,
            "storage_location": self.storage_location, "owner": self.owner,
            "comment": self.comment, "metastore_id": self.schema.catalog.metastore.metastore_id,
            "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


# FunctionInfo fields stored verbatim (besides the names/owner/comment/timestamps).
FUNCTION_FIELDS = ("input_params", "data_type", "full_data_type", "return_params",
                   "routine_body", "routine_definition", "routine_dependencies",
                   "parameter_style", "is_deterministic", "sql_data_access", "is_null_call",
                   "security_type", "specific_name", "external_language", "external_name",
                   "sql_path", "properties")


class Function(Securable):
    kind = "FUNCTION"

    def __init__(self, schema: Schema, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"))
        self.schema = schema
        self.function_id = str(uuid.uuid4())
        self.spec: dict[str, Any] = {k: kw[k] for k in FUNCTION_FIELDS if kw.get(k) is not None}
        self.spec.setdefault("routine_body", "SQL")
        self.spec.setdefault("parameter_style", "S")
        self.spec.setdefault("is_deterministic", True)
        self.spec.setdefault("sql_data_access", "CONTAINS_SQL")
        self.spec.setdefault("is_null_call", False)
        self.spec.setdefault("security_type", "DEFINER")
        self.spec.setdefault("specific_name", name)

    @property
    def full_name(self) -> str:
        return f"{self.schema.catalog.name}.{self.schema.name}.{self.name}"

    def parent(self) -> Securable:
        return self.schema

    def info(self) -> dict:
        d = dict(self.spec)
        d.update({
            "name": self.name, "catalog_name": self.schema.catalog.name,
            "schema_name": self.schema.name, "full_name": self.full_name,
            "function_id": self.function_id, "owner": self.owner, "comment": self.comment,
            "metastore_id": self.schema.catalog.metastore.metastore_id, "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        })
        return d


class StorageCredential(Securable):
    kind = "STORAGE_CREDENTIAL"

    def __init__(self, metastore: Metastore, name: str, owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"))
        self.metastore = metastore
        self.id = str(uuid.uuid4())
        self.azure_managed_identity: dict | None = kw.get("azure_managed_identity")
        self.azure_service_principal: dict | None = kw.get("azure_service_principal")
        self.read_only = bool(kw.get("read_only", False))
        self.isolation_mode = "ISOLATION_MODE_OPEN"
        self.bindings: dict[int, str] = {}

    def info(self) -> dict:
        ami = None
        if self.azure_managed_identity:
            ami = dict(self.azure_managed_identity)
            ami.setdefault("credential_id", self.id)
        sp = None
        if self.azure_service_principal:   # the secret is never returned
            sp = {k: v for k, v in self.azure_service_principal.items() if k != "client_secret"}
        return {
            "name": self.name, "full_name": self.name, "id": self.id,
            "azure_managed_identity": ami, "azure_service_principal": sp,
            "read_only": self.read_only, "isolation_mode": self.isolation_mode,
            "owner": self.owner, "comment": self.comment,
            "metastore_id": self.metastore.metastore_id, "used_for_managed_storage": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class ExternalLocation(Securable):
    kind = "EXTERNAL_LOCATION"

    def __init__(self, metastore: Metastore, name: str, url: str, credential: StorageCredential,
                 owner: str, **kw: Any):
        super().__init__(name, owner, kw.get("comment"))
        self.metastore = metastore
        self.url = url
        self.credential = credential
        self.read_only = bool(kw.get("read_only", False))
        self.isolation_mode = "ISOLATION_MODE_OPEN"
        self.bindings: dict[int, str] = {}

    def info(self) -> dict:
        return {
            "name": self.name, "url": self.url, "credential_name": self.credential.name,
            "credential_id": self.credential.id, "read_only": self.read_only,
            "isolation_mode": self.isolation_mode, "owner": self.owner, "comment": self.comment,
            "metastore_id": self.metastore.metastore_id, "browse_only": False,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Share(Securable):
    """A Delta Share. objects: ordered dict shared-object name (lower) -> SharedDataObject dict."""

    kind = "SHARE"

    def __init__(self, metastore: Metastore, name: str, owner: str, comment: str | None = None,
                 storage_root: str | None = None):
        super().__init__(name, owner, comment)
        self.metastore = metastore
        self.storage_root = storage_root
        self.objects: dict[str, dict] = {}

    def info(self, include_objects: bool = True) -> dict:
        d = {"name": self.name, "owner": self.owner, "comment": self.comment,
             "storage_root": self.storage_root,
             "created_at": self.created_at, "created_by": self.created_by,
             "updated_at": self.updated_at, "updated_by": self.updated_by}
        if include_objects:
            d["objects"] = [dict(o) for o in self.objects.values()]
        return d


class Recipient(Securable):
    kind = "RECIPIENT"

    def __init__(self, metastore: Metastore, name: str, owner: str, authentication_type: str,
                 data_recipient_global_metastore_id: str | None = None,
                 comment: str | None = None):
        super().__init__(name, owner, comment)
        self.metastore = metastore
        self.id = str(uuid.uuid4())
        self.authentication_type = authentication_type
        self.data_recipient_global_metastore_id = data_recipient_global_metastore_id
        self.activated = authentication_type == "DATABRICKS"
        self.properties_kvpairs: dict | None = None

    def info(self) -> dict:
        region = cloud = None
        if self.data_recipient_global_metastore_id:
            cloud, region, _ = self.data_recipient_global_metastore_id.split(":", 2)
        return {
            "name": self.name, "id": self.id, "authentication_type": self.authentication_type,
            "data_recipient_global_metastore_id": self.data_recipient_global_metastore_id,
            "activated": self.activated, "cloud": cloud, "region": region, "owner": self.owner,
            "comment": self.comment, "metastore_id": self.metastore.metastore_id,
            "properties_kvpairs": self.properties_kvpairs,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Provider(Securable):
    kind = "PROVIDER"

    def __init__(self, metastore: Metastore, name: str, owner: str, authentication_type: str,
                 data_provider_global_metastore_id: str | None = None,
                 comment: str | None = None):
        super().__init__(name, owner, comment)
        self.metastore = metastore
        self.authentication_type = authentication_type
        self.data_provider_global_metastore_id = data_provider_global_metastore_id

    def info(self) -> dict:
        region = cloud = None
        if self.data_provider_global_metastore_id:
            cloud, region, _ = self.data_provider_global_metastore_id.split(":", 2)
        return {
            "name": self.name, "authentication_type": self.authentication_type,
            "data_provider_global_metastore_id": self.data_provider_global_metastore_id,
            "cloud": cloud, "region": region, "owner": self.owner, "comment": self.comment,
            "metastore_id": self.metastore.metastore_id,
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class Resolved:
    """Result of resolve(): the table that holds the data and how it was reached."""

    def __init__(self, table: Table, metastore: Metastore, name: str,
                 share: Share | None = None, catalog: Catalog | None = None,
                 shared_object: dict | None = None):
        self.shared_object = shared_object  # the share's SharedDataObject dict (via a share)
        self.table = table            # the provider's Table when via a share
        self.metastore = metastore    # metastore owning `table`
        self.name = name              # the name as asked for (consumer's name)
        self.share = share            # Share when reached through a DELTASHARING_CATALOG
        self.catalog = catalog        # the consumer's catalog

    @property
    def via_share(self) -> bool:
        return self.share is not None


# ---------------------------------------------------------------------------------------------
# name helpers


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


# ---------------------------------------------------------------------------------------------
# the store

SYSTEM_SCHEMAS = ("information_schema", "access", "billing", "compute", "storage")


def _locked(fn):
    def wrapper(self, *a, **kw):
        with self._lock():
            return fn(self, *a, **kw)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class MetastoreOps:
    """Operations on one metastore; obtained with UC.metastore(id) or UC.for_workspace(ws)."""

    # Metastore subclasses this mixin (see below); self is a Metastore.

    def _lock(self):
        return self.store.lock if self.store else _NULL_LOCK

    # -- generic lookups ---------------------------------------------------------------------
    @_locked
    def get_catalog(self, name: str) -> "Catalog":
        c = self.catalogs.get(str(name).lower())
        if c is None:
            raise not_found("CATALOG", name)
        return c

    @_locked
    def get_schema(self, full_name: str) -> Schema:
        cat, sch = split_name(full_name, 2, "SCHEMA")
        c = self.get_catalog(cat)
        s = c.schemas.get(sch)
        if s is None:
            if c.catalog_type == "DELTASHARING_CATALOG":
                return self._shared_schema(c, sch)
            raise not_found("SCHEMA", f"{cat}.{sch}")
        return s

    def _child(self, full_name: str, attr: str, kind: str):
        cat, sch, name = split_name(full_name, 3, kind)
        s = self.get_schema(f"`{cat}`.`{sch}`")
        obj = getattr(s, attr).get(name)
        if obj is None:
            raise not_found(kind, f"{cat}.{sch}.{name}")
        return obj

    @_locked
    def get_table(self, full_name: str) -> Table:
        """A table or view of THIS metastore (does not follow shares: use resolve())."""
        return self._child(full_name, "tables", "TABLE")

    @_locked
    def get_volume(self, full_name: str) -> Volume:
        return self._child(full_name, "volumes", "VOLUME")

    @_locked
    def get_function(self, full_name: str) -> Function:
        return self._child(full_name, "functions", "FUNCTION")

    @_locked
    def get_storage_credential(self, name: str) -> StorageCredential:
        return _named(self.storage_credentials, "STORAGE_CREDENTIAL", name)

    @_locked
    def get_external_location(self, name: str) -> ExternalLocation:
        return _named(self.external_locations, "EXTERNAL_LOCATION", name)

    @_locked
    def get_share(self, name: str) -> Share:
        return _named(self.shares, "SHARE", name)

    @_locked
    def get_recipient(self, name: str) -> Recipient:
        return _named(self.recipients, "RECIPIENT", name)

    @_locked
    def get_provider(self, name: str) -> Provider:
        return _named(self.providers, "PROVIDER", name)

    @_locked
    def get_securable(self, stype: str, full_name: str) -> Securable:
        """Any securable by type (REST spelling, any case) and full name."""
        t = securable_type(stype)
        if t == "METASTORE":
            if str(full_name).lower() not in (self.metastore_id, self.name.lower()):
                raise not_found("METASTORE", full_name)
            return self
        getter = {
            "CATALOG": self.get_catalog, "SCHEMA": self.get_schema, "TABLE": self.get_table,
            "VOLUME": self.get_volume, "FUNCTION": self.get_function,
            "EXTERNAL_LOCATION": self.get_external_location,
            "STORAGE_CREDENTIAL": self.get_storage_credential, "SHARE": self.get_share,
        }[t]
        return getter(full_name)

    # -- catalogs -------------------------------------------------------------------------------
    @_locked
    def create_catalog(self, name: str, owner: str, *, comment: str | None = None,
                       properties: dict | None = None, storage_root: str | None = None,
                       provider_name: str | None = None, share_name: str | None = None,
                       connection_name: str | None = None, options: dict | None = None,
                       if_not_exists: bool = False) -> Catalog:
        """MANAGED_CATALOG, or DELTASHARING_CATALOG when provider_name+share_name are given.
        A managed catalog needs a storage root: its own (under an external location) or the
        metastore's."""
        key = _lname(name, "Catalog")
        if key in self.catalogs:
            if if_not_exists:
                return self.catalogs[key]
            raise already_exists("CATALOG", name)
        ctype = "MANAGED_CATALOG"
        if provider_name or share_name:
            if not (provider_name and share_name):
                raise invalid("provider_name and share_name must be given together.")
            if storage_root:
                raise invalid("storage_root cannot be set on a catalog created from a share.")
            prov = self.get_provider(provider_name)
            pms = self.store.metastore_by_global_id(prov.data_provider_global_metastore_id)
            share = pms.get_share(share_name)
            self._check_share_access(pms, share)
            ctype = "DELTASHARING_CATALOG"
        elif connection_name:
            ctype = "FOREIGN_CATALOG"
        else:
            if storage_root:
                self._check_under_location(storage_root, "catalog storage_root")
            elif not self.storage_root:
                raise invalid("Metastore storage root URL does not exist. Please provide a "
                              "storage location for the catalog (for example 'CREATE CATALOG "
                              "myCatalog MANAGED LOCATION '<location-path>'').",
                              "STORAGE_ROOT_REQUIRED")
        c = Catalog(self, key, owner, comment=comment, properties=properties,
                    storage_root=storage_root, provider_name=provider_name and
                    provider_name.lower(), share_name=share_name and share_name.lower(),
                    connection_name=connection_name, options=options, catalog_type=ctype)
        self.catalogs[key] = c
        if ctype == "MANAGED_CATALOG":
            s = Schema(c, "information_schema", "System user")
            s.comment = "Information schema (auto-generated)"
            c.schemas["information_schema"] = s
            c.schemas["default"] = Schema(c, "default", owner,
                                          comment="Default schema (auto-created)")
        return c

    @_locked
    def update_catalog(self, name: str, by: str | None = None, **fields: Any) -> Catalog:
        """fields: comment, properties (replaces), owner, isolation_mode (OPEN|ISOLATED),
        new_name, options."""
        c = self.get_catalog(name)
        if c.catalog_type == "SYSTEM_CATALOG" and fields:
            raise UCError(403, "PERMISSION_DENIED", "The system catalog cannot be modified.")
        if "isolation_mode" in fields and fields["isolation_mode"] is not None:
            mode = str(fields.pop("isolation_mode")).upper()
            if mode not in ("OPEN", "ISOLATED"):
                raise invalid(f"isolation_mode: expected OPEN or ISOLATED, got '{mode}'.")
            if mode == "ISOLATED" and c.isolation_mode != "ISOLATED" and self.store:
                # like UC: the workspace making the change is bound automatically
                ws = fields.pop("_workspace_id", None)
                if ws is not None:
                    c.bindings.setdefault(int(ws), "BINDING_TYPE_READ_WRITE")
            c.isolation_mode = mode
        fields.pop("_workspace_id", None)
        new_name = fields.pop("new_name", None)
        self._apply(c, fields)
        if new_name and new_name.lower() != c.name:
            nk = _lname(new_name, "Catalog")
            if nk in self.catalogs:
                raise already_exists("CATALOG", new_name)
            del self.catalogs[c.name]
            c.name = nk
            self.catalogs[nk] = c
        c.touch(by)
        return c

    @_locked
    def delete_catalog(self, name: str, force: bool = False) -> None:
        c = self.get_catalog(name)
        if c.catalog_type == "SYSTEM_CATALOG":
            raise UCError(403, "PERMISSION_DENIED", "The system catalog cannot be deleted.")
        user = [s for s in c.schemas.values() if s.name not in ("information_schema", "default")
                or s.tables or s.volumes or s.functions]
        if user and not force:
            raise invalid(f"Catalog '{c.name}' is not empty. The catalog has "
                          f"{len(user)} schemas ({', '.join(s.name for s in user)}).",
                          "CATALOG_NOT_EMPTY")
        del self.catalogs[c.name]

    @_locked
    def list_catalogs(self, workspace_id: int | None = None) -> list[Catalog]:
        """Catalogs visible from workspace_id (ISOLATED ones only when bound), sorted by name."""
        return sorted((c for c in self.catalogs.values() if self.catalog_visible(c, workspace_id)),
                      key=lambda c: c.name)

    def catalog_visible(self, c: Catalog, workspace_id: int | None) -> bool:
        if workspace_id is None or c.isolation_mode != "ISOLATED":
            return True
        return int(workspace_id) in c.bindings

    @_locked
    def check_catalog_access(self, name: str, workspace_id: int | None,
                             write: bool = False) -> Catalog:
        """get_catalog + the workspace-binding check (ISOLATED catalog not bound -> 403)."""
        c = self.get_catalog(name)
        if workspace_id is not None and c.isolation_mode == "ISOLATED":
            b = c.bindings.get(int(workspace_id))
            if b is None:
                raise UCError(403, "PERMISSION_DENIED",
                              f"Catalog '{c.name}' is not accessible in current workspace.",
                              "CATALOG_NOT_ACCESSIBLE_IN_WORKSPACE")
            if write and b == "BINDING_TYPE_READ_ONLY":
                raise UCError(403, "PERMISSION_DENIED",
                              f"Catalog '{c.name}' is read-only in the current workspace.",
                              "CATALOG_READ_ONLY_IN_WORKSPACE")
        return c

    # -- schemas ----------------------------------------------------------------------------
    @_locked
    def create_schema(self, catalog_name: str, name: str, owner: str, *,
                      comment: str | None = None, properties: dict | None = None,
                      storage_root: str | None = None, if_not_exists: bool = False) -> Schema:
        c = self.get_catalog(catalog_name)
        self._writable_catalog(c)
        key = _lname(name, "Schema")
        if key in c.schemas:
            if if_not_exists:
                return c.schemas[key]
            raise already_exists("SCHEMA", f"{c.name}.{key}")
        if storage_root:
            self._check_under_location(storage_root, "schema storage_root")
        s = Schema(c, key, owner, comment=comment, properties=properties,
                   storage_root=storage_root)
        c.schemas[key] = s
        return s

    @_locked
    def update_schema(self, full_name: str, by: str | None = None, **fields: Any) -> Schema:
        """fields: comment, properties (replaces), owner, new_name."""
        s = self.get_schema(full_name)
        self._writable_catalog(s.catalog)
        new_name = fields.pop("new_name", None)
        self._apply(s, fields)
        if new_name and new_name.lower() != s.name:
            nk = _lname(new_name, "Schema")
            if nk in s.catalog.schemas:
                raise already_exists("SCHEMA", f"{s.catalog.name}.{nk}")
            del s.catalog.schemas[s.name]
            s.name = nk
            s.catalog.schemas[nk] = s
        s.touch(by)
        return s

    @_locked
    def delete_schema(self, full_name: str, force: bool = False) -> None:
        s = self.get_schema(full_name)
        self._writable_catalog(s.catalog)
        if s.name == "information_schema":
            raise UCError(403, "PERMISSION_DENIED", "information_schema cannot be deleted.")
        if (s.tables or s.volumes or s.functions) and not force:
            raise invalid(f"Schema '{s.full_name}' is not empty. The schema has "
                          f"{len(s.tables)} tables(s), {len(s.functions)} functions(s), "
                          f"{len(s.volumes)} volumes(s).", "SCHEMA_NOT_EMPTY")
        del s.catalog.schemas[s.name]

    @_locked
    def list_schemas(self, catalog_name: str) -> list[Schema]:
        c = self.get_catalog(catalog_name)
        if c.catalog_type == "DELTASHARING_CATALOG":
            return [self._shared_schema(c, n) for n in self._shared_schema_names(c)]
        return sorted(c.schemas.values(), key=lambda s: s.name)

    # -- tables -----------------------------------------------------------------------------
    @_locked
    def create_table(self, full_name: str, owner: str, *, table_type: str = "MANAGED",
                     data_source_format: str | None = "DELTA",
                     columns: list[Column | dict] | None = None,
                     storage_location: str | None = None, comment: str | None = None,
                     properties: dict | None = None, view_definition: str | None = None,
                     view_dependencies: list[str] | None = None,
                     function_dependencies: list[str] | None = None,
                     sql_path: str | None = None,
                     replace: bool = False, if_not_exists: bool = False) -> Table:
        """Create a table/view. MANAGED tables get a storage_location under the schema/catalog/
        metastore root; EXTERNAL ones need storage_location under an external location and not
        overlapping another table. Views need view_definition. replace=True on an existing
        object keeps table_id, owner, grants, tags and history and replaces the rest (CREATE OR
        REPLACE); data_ref is kept too (the SQL engine decides what to do with it)."""
        cat, sch, name = split_name(full_name, 3, "TABLE")
        s = self.get_schema(f"`{cat}`.`{sch}`")
        self._writable_catalog(s.catalog)
        if s.name == "information_schema":
            raise UCError(403, "PERMISSION_DENIED", "information_schema is read-only.")
        _lname(name, "Table")
        table_type = str(table_type or "MANAGED").upper()
        if table_type not in TABLE_TYPES:
            raise invalid(f"table_type: invalid value '{table_type}'. Expected one of "
                          f"{', '.join(sorted(TABLE_TYPES))}.")
        if data_source_format is not None:
            data_source_format = str(data_source_format).upper()
            if data_source_format not in DATA_SOURCE_FORMATS:
                raise invalid(f"data_source_format: invalid value '{data_source_format}'.")
        existing = s.tables.get(name)
        if existing is not None and not replace:
            if if_not_exists:
                return existing
            raise already_exists("TABLE", f"{cat}.{sch}.{name}")
        if name in s.volumes:
            raise already_exists("VOLUME", f"{cat}.{sch}.{name}")
        cols = [c if isinstance(c, Column) else Column.from_dict(c, i)
                for i, c in enumerate(columns or [])]
        for i, c in enumerate(cols):
            c.position = i
        seen = set()
        for c in cols:
            if c.name.lower() in seen:
                raise invalid(f"Duplicate column name '{c.name}' in {cat}.{sch}.{name}.",
                              "COLUMN_ALREADY_EXISTS")
            seen.add(c.name.lower())
        if table_type in VIEW_TYPES:
            if not view_definition:
                raise invalid("view_definition is required for a view.")
            data_source_format = None
            storage_location = None
        elif table_type == "EXTERNAL":
            if not storage_location:
                raise invalid("storage_location is required for an EXTERNAL table.")
            self._check_under_location(storage_location, "table storage_location")
            self._check_no_overlap(storage_location, exclude=existing)
        elif table_type == "MANAGED":
            if storage_location and not (existing and storage_location ==
                                         existing.storage_location):
                raise invalid("storage_location cannot be specified for a MANAGED table.")
        t = existing if existing is not None else Table(s, name, owner)
        t.table_type = table_type
        t.data_source_format = data_source_format
        t.columns = cols
        t.comment = comment
        t.properties = dict(properties or {})
        t.view_definition = view_definition
        t.view_dependencies = [n.lower() for n in (view_dependencies or [])]
        t.function_dependencies = [n.lower() for n in (function_dependencies or [])]
        t.sql_path = sql_path
        t.row_filter = None if existing is None else t.row_filter
        if table_type == "MANAGED" or table_type in ("MATERIALIZED_VIEW", "STREAMING_TABLE"):
            if existing is None or not existing.storage_location:
                root = s.managed_root()
                t.storage_location = root and f"{root.rstrip('/')}/tables/{t.table_id}"
        elif table_type in VIEW_TYPES:
            t.storage_location = None
        else:
            t.storage_location = storage_location
        if existing is not None:
            t.touch(owner)
        s.tables[name] = t
        return t

    @_locked
    def update_table(self, full_name: str, by: str | None = None, **fields: Any) -> Table:
        """fields: owner, comment, properties (replaces), columns (list of Column/dict,
        replaces), view_definition, view_dependencies, function_dependencies, row_filter
        ({function_name, input_column_names} or None), table_type, data_source_format,
        new_name. Storage location is fixed once created."""
        t = self.get_table(full_name)
        self._writable_catalog(t.schema.catalog)
        new_name = fields.pop("new_name", None)
        if "columns" in fields:
            cols = fields.pop("columns") or []
            old_tags = {c.name.lower(): c.tags for c in t.columns}
            t.columns = [c if isinstance(c, Column) else Column.from_dict(c, i)
                         for i, c in enumerate(cols)]
            for i, c in enumerate(t.columns):
                c.position = i
                if not c.tags and c.name.lower() in old_tags:
                    c.tags = old_tags[c.name.lower()]
        if "row_filter" in fields:
            rf = fields.pop("row_filter")
            if rf is not None:
                if not rf.get("function_name"):
                    raise invalid("row_filter.function_name is required.")
                rf = {"function_name": rf["function_name"].lower(),
                      "input_column_names": list(rf.get("input_column_names") or [])}
            t.row_filter = rf
        for k in ("view_dependencies", "function_dependencies"):
            if k in fields:
                setattr(t, k, [n.lower() for n in (fields.pop(k) or [])])
        self._apply(t, fields, extra=("view_definition", "table_type", "data_source_format",
                                      "sql_path"))
        if new_name:
            parts = split_parts(new_name, "table")
            if len(parts) > 1 and parts[:-1] != [t.schema.catalog.name, t.schema.name][-len(
                    parts[:-1]):]:
                raise invalid(f"Cannot rename {t.full_name} to {new_name}: a table cannot move "
                              "to another schema or catalog.", "CANNOT_RENAME_ACROSS_SCHEMA")
            nk = _lname(parts[-1], "Table")
            if nk != t.name:
                if nk in t.schema.tables:
                    raise already_exists("TABLE", f"{t.schema.full_name}.{nk}")
                del t.schema.tables[t.name]
                t.name = nk
                t.schema.tables[nk] = t
        t.touch(by)
        return t

    @_locked
    def set_column_mask(self, full_name: str, column: str, function_name: str | None,
                        using_column_names: list[str] | None = None) -> Column:
        """ALTER COLUMN c SET MASK f [USING COLUMNS (...)]; function_name None drops the mask."""
        t = self.get_table(full_name)
        c = t.column(column)
        c.mask = None if function_name is None else {
            "function_name": function_name.lower(),
            "using_column_names": list(using_column_names or [])}
        t.touch()
        return c

    @_locked
    def delete_table(self, full_name: str) -> Table:
        t = self.get_table(full_name)
        self._writable_catalog(t.schema.catalog)
        del t.schema.tables[t.name]
        return t

    @_locked
    def list_tables(self, catalog_name: str, schema_name: str) -> list[Table]:
        """Tables of a schema sorted by name; in a DELTASHARING_CATALOG the provider's tables
        (use resolve()/table_info() for consumer-side names)."""
        c = self.get_catalog(catalog_name)
        if c.catalog_type == "DELTASHARING_CATALOG":
            out = []
            for n in self._shared_table_names(c, schema_name.lower()):
                try:
                    out.append(self.resolve(f"`{c.name}`.`{schema_name.lower()}`.`{n}`").table)
                except UCError as e:
                    if e.status != 404:   # dropped by the provider but still in the share: skip
                        raise
            return out
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        return sorted(s.tables.values(), key=lambda t: t.name)

    @_locked
    def table_info(self, full_name: str) -> dict:
        """TableInfo dict for a (possibly shared) table, named as the caller named it."""
        r = self.resolve(full_name)
        cat, sch, _ = split_name(full_name, 3)
        d = r.table.info(catalog_name=cat, schema_name=sch)
        if r.via_share:
            d["metastore_id"] = self.metastore_id
            d["data_source_format"] = "DELTASHARING"
            d["storage_location"] = None
        return d

    # -- volumes ----------------------------------------------------------------------------
    @_locked
    def create_volume(self, catalog_name: str, schema_name: str, name: str, owner: str, *,
                      volume_type: str = "MANAGED", storage_location: str | None = None,
                      comment: str | None = None, if_not_exists: bool = False) -> Volume:
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        self._writable_catalog(s.catalog)
        key = _lname(name, "Volume")
        if key in s.volumes:
            if if_not_exists:
                return s.volumes[key]
            raise already_exists("VOLUME", f"{s.full_name}.{key}")
        if key in s.tables:
            raise already_exists("TABLE", f"{s.full_name}.{key}")
        volume_type = str(volume_type or "MANAGED").upper()
        if volume_type not in ("MANAGED", "EXTERNAL"):
            raise invalid(f"volume_type: expected MANAGED or EXTERNAL, got '{volume_type}'.")
        v = Volume(s, key, owner, volume_type=volume_type, comment=comment)
        if volume_type == "EXTERNAL":
            if not storage_location:
                raise invalid("storage_location is required for an EXTERNAL volume.")
            self._check_under_location(storage_location, "volume storage_location")
            self._check_no_overlap(storage_location)
            v.storage_location = storage_location
        else:
            if storage_location:
                raise invalid("storage_location cannot be specified for a MANAGED volume.")
            root = s.managed_root()
            v.storage_location = root and f"{root.rstrip('/')}/volumes/{v.volume_id}"
        s.volumes[key] = v
        return v

    @_locked
    def update_volume(self, full_name: str, by: str | None = None, **fields: Any) -> Volume:
        """fields: owner, comment, new_name."""
        v = self.get_volume(full_name)
        new_name = fields.pop("new_name", None)
        self._apply(v, fields)
        if new_name and new_name.lower() != v.name:
            nk = _lname(new_name, "Volume")
            if nk in v.schema.volumes:
                raise already_exists("VOLUME", f"{v.schema.full_name}.{nk}")
            del v.schema.volumes[v.name]
            v.name = nk
            v.schema.volumes[nk] = v
        v.touch(by)
        return v

    @_locked
    def delete_volume(self, full_name: str) -> None:
        v = self.get_volume(full_name)
        del v.schema.volumes[v.name]

    @_locked
    def list_volumes(self, catalog_name: str, schema_name: str) -> list[Volume]:
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        return sorted(s.volumes.values(), key=lambda v: v.name)

    # -- functions --------------------------------------------------------------------------
    @_locked
    def create_function(self, full_name: str, owner: str, *, replace: bool = False,
                        comment: str | None = None, **spec: Any) -> Function:
        """spec: the FunctionInfo fields in FUNCTION_FIELDS (input_params {"parameters": [...]},
        data_type, full_data_type, routine_body SQL|EXTERNAL, routine_definition, ...)."""
        cat, sch, name = split_name(full_name, 3, "FUNCTION")
        s = self.get_schema(f"`{cat}`.`{sch}`")
        self._writable_catalog(s.catalog)
        unknown = set(spec) - set(FUNCTION_FIELDS)
        if unknown:
            raise invalid(f"Unknown function field(s): {', '.join(sorted(unknown))}.")
        existing = s.functions.get(name)
        if existing is not None and not replace:
            raise already_exists("FUNCTION", f"{cat}.{sch}.{name}")
        f = Function(s, name, owner, comment=comment, **spec)
        if existing is not None:
            f.function_id, f.owner, f.grants, f.tags = (existing.function_id, existing.owner,
                                                       existing.grants, existing.tags)
            f.created_at, f.created_by = existing.created_at, existing.created_by
        s.functions[name] = f
        return f

    @_locked
    def update_function(self, full_name: str, by: str | None = None, **fields: Any) -> Function:
        """fields: owner (the only field the REST API updates)."""
        f = self.get_function(full_name)
        self._apply(f, fields)
        f.touch(by)
        return f

    @_locked
    def delete_function(self, full_name: str) -> None:
        f = self.get_function(full_name)
        del f.schema.functions[f.name]

    @_locked
    def list_functions(self, catalog_name: str, schema_name: str) -> list[Function]:
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        return sorted(s.functions.values(), key=lambda f: f.name)

    # -- storage credentials / external locations ------------------------------------------
    @_locked
    def create_storage_credential(self, name: str, owner: str, *,
                                  azure_managed_identity: dict | None = None,
                                  azure_service_principal: dict | None = None,
                                  comment: str | None = None,
                                  read_only: bool = False) -> StorageCredential:
        key = _lname(name, "Storage credential")
        if key in self.storage_credentials:
            raise already_exists("STORAGE_CREDENTIAL", name)
        if not azure_managed_identity and not azure_service_principal:
            raise invalid("A storage credential needs azure_managed_identity or "
                          "azure_service_principal.")
        if azure_managed_identity and not azure_managed_identity.get("access_connector_id"):
            raise invalid("azure_managed_identity.access_connector_id is required.")
        c = StorageCredential(self, key, owner, azure_managed_identity=azure_managed_identity,
                              azure_service_principal=azure_service_principal, comment=comment,
                              read_only=read_only)
        self.storage_credentials[key] = c
        return c

    @_locked
    def update_storage_credential(self, name: str, by: str | None = None,
                                  **fields: Any) -> StorageCredential:
        """fields: owner, comment, read_only, azure_managed_identity, isolation_mode,
        new_name."""
        c = self.get_storage_credential(name)
        new_name = fields.pop("new_name", None)
        self._apply(c, fields, extra=("read_only", "azure_managed_identity",
                                      "azure_service_principal", "isolation_mode"))
        if new_name and new_name.lower() != c.name:
            nk = _lname(new_name, "Storage credential")
            if nk in self.storage_credentials:
                raise already_exists("STORAGE_CREDENTIAL", new_name)
            del self.storage_credentials[c.name]
            c.name = nk
            self.storage_credentials[nk] = c
        c.touch(by)
        return c

    @_locked
    def delete_storage_credential(self, name: str, force: bool = False) -> None:
        c = self.get_storage_credential(name)
        users = [loc.name for loc in self.external_locations.values() if loc.credential is c]
        if users and not force:
            raise invalid(f"Storage credential '{c.name}' has {len(users)} dependent external "
                          f"location(s): {', '.join(users)}.", "DEPENDENT_OBJECTS_EXIST")
        del self.storage_credentials[c.name]

    @_locked
    def create_external_location(self, name: str, url: str, credential_name: str, owner: str, *,
                                 comment: str | None = None, read_only: bool = False,
                                 skip_validation: bool = False) -> ExternalLocation:
        """url must not overlap (contain or be contained in) another external location, nor the
        metastore root. FIDELITY: no real storage access check (skip_validation is accepted)."""
        key = _lname(name, "External location")
        if key in self.external_locations:
            raise already_exists("EXTERNAL_LOCATION", name)
        cred = self.get_storage_credential(credential_name)
        nurl = norm_url(url)
        if not nurl.startswith(("abfss://", "abfs://", "wasbs://", "s3://", "gs://", "r2://")):
            raise invalid(f"Invalid url '{url}': the scheme must be abfss.")
        for other in self.external_locations.values():
            if urls_overlap(url, other.url):
                raise invalid(f"Input path url '{url}' overlaps with an existing external "
                              f"location '{other.name}' ({other.url}).", "LOCATION_OVERLAP")
        if self.storage_root and urls_overlap(url, self.storage_root):
            raise invalid(f"Input path url '{url}' overlaps with the metastore storage root.",
                          "LOCATION_OVERLAP")
        loc = ExternalLocation(self, key, url, cred, owner, comment=comment, read_only=read_only)
        self.external_locations[key] = loc
        return loc

    @_locked
    def update_external_location(self, name: str, by: str | None = None,
                                 **fields: Any) -> ExternalLocation:
        """fields: owner, comment, read_only, url, credential_name, isolation_mode, new_name."""
        loc = self.get_external_location(name)
        if "credential_name" in fields:
            loc.credential = self.get_storage_credential(fields.pop("credential_name"))
        if "url" in fields and fields["url"] != loc.url:
            url = fields.pop("url")
            for other in self.external_locations.values():
                if other is not loc and urls_overlap(url, other.url):
                    raise invalid(f"Input path url '{url}' overlaps with an existing external "
                                  f"location '{other.name}' ({other.url}).", "LOCATION_OVERLAP")
            loc.url = url
        fields.pop("url", None)
        new_name = fields.pop("new_name", None)
        self._apply(loc, fields, extra=("read_only", "isolation_mode"))
        if new_name and new_name.lower() != loc.name:
            nk = _lname(new_name, "External location")
            if nk in self.external_locations:
                raise already_exists("EXTERNAL_LOCATION", new_name)
            del self.external_locations[loc.name]
            loc.name = nk
            self.external_locations[nk] = loc
        loc.touch(by)
        return loc

    @_locked
    def delete_external_location(self, name: str, force: bool = False) -> None:
        loc = self.get_external_location(name)
        if not force:
            for t in self.iter_tables():
                if t.storage_location and t.table_type == "EXTERNAL" and \
                        url_under(t.storage_location, loc.url):
                    raise invalid(f"External location '{loc.name}' has dependent table "
                                  f"'{t.full_name}'.", "DEPENDENT_OBJECTS_EXIST")
        del self.external_locations[loc.name]

    @_locked
    def location_for(self, url: str) -> ExternalLocation | None:
        """The external location containing url (None if none)."""
        for loc in self.external_locations.values():
            if url_under(url, loc.url):
                return loc
        return None

    def iter_tables(self):
        for c in list(self.catalogs.values()):
            for s in list(c.schemas.values()):
                yield from list(s.tables.values())

    # -- grants -----------------------------------------------------------------------------
    @_locked
    def get_grants(self, stype: str, full_name: str, principal: str | None = None) -> list[dict]:
        """Direct grants: [{"principal", "privileges": [sorted]}], sorted by principal."""
        obj = self.get_securable(stype, full_name)
        return _grant_list(obj.grants, principal)

    @_locked
    def update_grants(self, stype: str, full_name: str, changes: list[dict]) -> list[dict]:
        """changes: [{"principal", "add": [...], "remove": [...]}] (REST privilege names).
        Validated as a whole before anything changes. Returns the new direct grants."""
        t = securable_type(stype)
        obj = self.get_securable(t, full_name)
        if not isinstance(changes, list):
            raise invalid("changes: expected a list.")
        plan = []
        kind = _priv_kind(t, obj)
        for i, ch in enumerate(changes):
            if not isinstance(ch, dict) or not ch.get("principal"):
                raise invalid(f"changes[{i}].principal is required.")
            add = check_privileges(kind, ch.get("add") or [])
            rem = check_privileges(kind, ch.get("remove") or [])
            plan.append((ch["principal"], add, rem))
        for principal, add, rem in plan:
            cur = obj.grants.setdefault(principal, set())
            cur.update(add)
            cur.difference_update(rem)
            if not cur:
                del obj.grants[principal]
        return _grant_list(obj.grants, None)

    @_locked
    def effective_grants(self, stype: str, full_name: str,
                         principal: str | None = None) -> list[dict]:
        """Direct + inherited: [{"principal", "privileges": [{"privilege",
        "inherited_from_type", "inherited_from_name"}]}]. Inherited privileges come from the
        parents (schema, catalog, metastore) and are kept only when applicable to this type
        (FIDELITY: USE_CATALOG on a catalog is not listed on its tables)."""
        t = securable_type(stype)
        obj = self.get_securable(t, full_name)
        allowed = PRIVILEGES.get(_priv_kind(t, obj), frozenset())
        out: dict[str, list[dict]] = {}
        chain: list[Securable] = [obj]
        p = obj.parent()
        while p is not None:
            chain.append(p)
            p = p.parent()
        if t in ("CATALOG", "SCHEMA", "TABLE", "VOLUME", "FUNCTION"):
            chain.append(self)
        for i, node in enumerate(chain):
            for who, privs in node.grants.items():
                if principal and who != principal:
                    continue
                for priv in sorted(privs):
                    if i > 0 and priv not in allowed:
                        continue
                    e = {"privilege": priv}
                    if i > 0:
                        e["inherited_from_type"] = node.kind
                        e["inherited_from_name"] = node.full_name
                    out.setdefault(who, []).append(e)
        return [{"principal": k, "privileges": v} for k, v in sorted(out.items())]

    @_locked
    def has_privilege(self, principal: str, stype: str, full_name: str, privilege: str) -> bool:
        """True if principal is the owner or holds privilege (or ALL_PRIVILEGES) directly or
        inherited. FIDELITY: no group expansion, metastore admins not modelled."""
        obj = self.get_securable(stype, full_name)
        if obj.owner == principal:
            return True
        for e in self.effective_grants(stype, full_name, principal):
            for p in e["privileges"]:
                if p["privilege"] in (privilege, "ALL_PRIVILEGES"):
                    return True
        return False

    # -- owners, tags, bindings -----------------------------------------------------------------
    @_locked
    def set_owner(self, stype: str, full_name: str, owner: str, by: str | None = None) -> None:
        if not owner:
            raise invalid("owner must not be empty.")
        obj = self.get_securable(stype, full_name)
        obj.owner = owner
        obj.touch(by)

    @_locked
    def get_tags(self, stype: str, full_name: str, column: str | None = None) -> dict[str, str]:
        obj = self.get_securable(stype, full_name)
        if column is not None:
            return dict(self._column(obj, column).tags)
        return dict(obj.tags)

    @_locked
    def set_tags(self, stype: str, full_name: str, tags: dict[str, str],
                 column: str | None = None) -> dict[str, str]:
        """Add/overwrite tags (values may be ''). FIDELITY: max 50 tags per object, key <= 255
        chars and value <= 1000 like UC."""
        obj = self.get_securable(stype, full_name)
        target = self._column(obj, column) if column is not None else obj
        for k, v in tags.items():
            if not isinstance(k, str) or not k or len(k) > 255:
                raise invalid(f"Invalid tag key {k!r}.", "INVALID_TAG")
            if v is not None and (not isinstance(v, str) or len(v) > 1000):
                raise invalid(f"Invalid tag value for '{k}'.", "INVALID_TAG")
        merged = dict(target.tags)
        merged.update({k: ("" if v is None else v) for k, v in tags.items()})
        if len(merged) > 50:
            raise invalid("An object can have at most 50 tags.", "TAG_LIMIT_EXCEEDED")
        target.tags = merged
        return dict(merged)

    @_locked
    def unset_tags(self, stype: str, full_name: str, keys: Iterable[str],
                   column: str | None = None) -> dict[str, str]:
        obj = self.get_securable(stype, full_name)
        target = self._column(obj, column) if column is not None else obj
        for k in keys:
            target.tags.pop(k, None)
        return dict(target.tags)

    def _column(self, obj: Securable, column: str) -> Column:
        if not isinstance(obj, Table):
            raise invalid("Column tags exist only on tables.")
        return obj.column(column)

    @_locked
    def get_bindings(self, stype: str, name: str) -> list[dict]:
        obj = self._bindable(stype, name)
        return [{"workspace_id": ws, "binding_type": bt}
                for ws, bt in sorted(obj.bindings.items())]

    @_locked
    def update_bindings(self, stype: str, name: str, add: list[dict] | None = None,
                        remove: list[dict] | None = None) -> list[dict]:
        """add/remove: [{"workspace_id", "binding_type"}] (binding_type defaults
        BINDING_TYPE_READ_WRITE). FIDELITY: workspaces must be assigned to this metastore."""
        obj = self._bindable(stype, name)
        for i, b in enumerate(add or []):
            if not isinstance(b, dict) or "workspace_id" not in b:
                raise invalid(f"add[{i}].workspace_id is required.")
            bt = b.get("binding_type") or "BINDING_TYPE_READ_WRITE"
            if bt not in ("BINDING_TYPE_READ_WRITE", "BINDING_TYPE_READ_ONLY"):
                raise invalid(f"add[{i}].binding_type: invalid value '{bt}'.")
            ws = int(b["workspace_id"])
            if self.store and self.store.assignments.get(ws, (None,))[0] != self.metastore_id:
                raise invalid(f"Workspace {ws} is not assigned to metastore "
                              f"{self.metastore_id}.", "WORKSPACE_NOT_IN_METASTORE")
        for b in add or []:
            obj.bindings[int(b["workspace_id"])] = b.get("binding_type") or \
                "BINDING_TYPE_READ_WRITE"
        for b in remove or []:
            obj.bindings.pop(int(b["workspace_id"]), None)
        return self.get_bindings(stype, name)

    def _bindable(self, stype: str, name: str):
        t = {"catalog": "CATALOG", "catalogs": "CATALOG", "external_location": "EXTERNAL_LOCATION",
             "external_locations": "EXTERNAL_LOCATION", "storage_credential": "STORAGE_CREDENTIAL",
             "storage_credentials": "STORAGE_CREDENTIAL", "credential": "STORAGE_CREDENTIAL",
             }.get(str(stype).lower())
        if t is None:
            raise invalid(f"Invalid securable type '{stype}' for workspace bindings.")
        return self.get_securable(t, name)

    # -- Delta history ------------------------------------------------------------------------
    @_locked
    def history_append(self, full_name: str, operation: str,
                       operation_parameters: dict | None = None, user: str | None = None,
                       **extra: Any) -> dict:
        """Append a Delta version (0, 1, 2...) to a table's history and return it:
        {version, timestamp (ms), operation, operationParameters, userName, **extra}
        (extra e.g. operationMetrics, readVersion, isBlindAppend)."""
        t = self.get_table(full_name)
        v = {"version": t.current_version + 1, "timestamp": now_ms(), "operation": operation,
             "operationParameters": dict(operation_parameters or {}), "userName": user}
        v.update(extra)
        t.history.append(v)
        return dict(v)

    @_locked
    def history(self, full_name: str, limit: int | None = None) -> list[dict]:
        """Versions newest first (DESCRIBE HISTORY order); follows shares."""
        t = self.resolve(full_name).table
        h = [dict(v) for v in reversed(t.history)]
        return h[:limit] if limit else h

    # -- sharing ------------------------------------------------------------------------------
    @_locked
    def create_share(self, name: str, owner: str, comment: str | None = None,
                     storage_root: str | None = None) -> Share:
        key = _lname(name, "Share")
        if key in self.shares:
            raise already_exists("SHARE", name)
        if len(self.shares) >= SHARE_LIMITS["shares_per_metastore"]:
            raise quota(f"The metastore already has {len(self.shares)} shares; the limit is "
                        f"{SHARE_LIMITS['shares_per_metastore']}.")
        s = Share(self, key, owner, comment, storage_root)
        self.shares[key] = s
        return s

    @_locked
    def update_share(self, name: str, updates: list[dict] | None = None, by: str | None = None,
                     **fields: Any) -> Share:
        """updates: [{"action": ADD|REMOVE|UPDATE, "data_object": {name, data_object_type
        TABLE|SCHEMA, shared_as, comment, history_data_sharing_status ENABLED|DISABLED,
        cdf_enabled, start_version, partitions}}]. Validated as a whole first.
        fields: owner, comment, new_name."""
        share = self.get_share(name)
        staged = dict(share.objects)
        for i, u in enumerate(updates or []):
            if not isinstance(u, dict):
                raise invalid(f"updates[{i}]: expected an object.")
            action = str(u.get("action") or "").upper()
            obj = u.get("data_object") or {}
            if action not in ("ADD", "REMOVE", "UPDATE"):
                raise invalid(f"updates[{i}].action: expected ADD, REMOVE or UPDATE.")
            oname = str(obj.get("name") or "").lower()
            if not oname:
                raise invalid(f"updates[{i}].data_object.name is required.")
            dtype = str(obj.get("data_object_type") or "TABLE").upper()
            if dtype not in ("TABLE", "SCHEMA", "VIEW", "MATERIALIZED_VIEW", "STREAMING_TABLE"):
                raise invalid(f"updates[{i}].data_object.data_object_type: unsupported "
                              f"'{dtype}'.")
            if action == "REMOVE":
                if oname not in staged:
                    raise UCError(404, "NOT_FOUND", f"Data object '{oname}' is not in share "
                                  f"'{share.name}'.", "SHARED_OBJECT_DOES_NOT_EXIST")
                del staged[oname]
                continue
            if dtype == "SCHEMA":
                src = self.get_schema(oname)
                default_as = src.name
            else:
                src = self.get_table(oname)
                default_as = f"{src.schema.name}.{src.name}"
                if dtype == "TABLE" and src.is_view:
                    dtype = "VIEW"
            if src.schema.catalog.catalog_type != "MANAGED_CATALOG" if isinstance(src, Table) \
                    else src.catalog.catalog_type != "MANAGED_CATALOG":
                raise invalid(f"updates[{i}]: only objects of managed catalogs can be shared.")
            hist = str(obj.get("history_data_sharing_status") or "DISABLED").upper()
            if hist not in ("ENABLED", "DISABLED"):
                raise invalid(f"updates[{i}].data_object.history_data_sharing_status: expected "
                              "ENABLED or DISABLED.")
            shared_as = (obj.get("shared_as") or default_as).lower()
            if action == "ADD":
                if oname in staged:
                    raise already_exists("SHARED_OBJECT", oname)
                for other in staged.values():
                    if (other.get("shared_as") or "").lower() == shared_as:
                        raise invalid(f"updates[{i}]: shared_as '{shared_as}' is already used "
                                      f"in share '{share.name}'.")
                staged[oname] = {
                    "name": oname, "data_object_type": dtype, "shared_as": shared_as,
                    "comment": obj.get("comment"), "history_data_sharing_status": hist,
                    "cdf_enabled": obj.get("cdf_enabled"), "start_version":
                    obj.get("start_version"), "status": "ACTIVE", "added_at": now_ms(),
                    "added_by": by, "partitions": obj.get("partitions"),
                }
                staged[oname] = {k: v for k, v in staged[oname].items() if v is not None}
            else:
                if oname not in staged:
                    raise UCError(404, "NOT_FOUND", f"Data object '{oname}' is not in share "
                                  f"'{share.name}'.", "SHARED_OBJECT_DOES_NOT_EXIST")
                cur = dict(staged[oname])
                for k in ("comment", "cdf_enabled", "start_version", "partitions"):
                    if k in obj:
                        cur[k] = obj[k]
                if "history_data_sharing_status" in obj:
                    cur["history_data_sharing_status"] = hist
                staged[oname] = cur
        self._check_share_limits(share.name, staged)
        share.objects = staged
        new_name = fields.pop("new_name", None)
        self._apply(share, fields, extra=("storage_root",))
        if new_name and new_name.lower() != share.name:
            nk = _lname(new_name, "Share")
            if nk in self.shares:
                raise already_exists("SHARE", new_name)
            del self.shares[share.name]
            share.name = nk
            self.shares[nk] = share
        share.touch(by)
        return share

    def _check_share_limits(self, name: str, objects: dict) -> None:
        tables, schemas = 0, set()
        for o in objects.values():
            if o["data_object_type"] == "SCHEMA":
                schemas.add(o["name"])
                try:
                    tables += len(self.get_schema(o["name"]).tables)
                except UCError:
                    pass
            else:
                tables += 1
                schemas.add(o["name"].rsplit(".", 1)[0])
        if tables > SHARE_LIMITS["tables_per_share"]:
            raise quota(f"Share '{name}' would hold {tables} tables; the limit is "
                        f"{SHARE_LIMITS['tables_per_share']} per share.")
        if len(schemas) > SHARE_LIMITS["schemas_per_share"]:
            raise quota(f"Share '{name}' would span {len(schemas)} schemas; the limit is "
                        f"{SHARE_LIMITS['schemas_per_share']} per share.")

    @_locked
    def delete_share(self, name: str) -> None:
        s = self.get_share(name)
        del self.shares[s.name]

    @_locked
    def create_recipient(self, name: str, owner: str, authentication_type: str = "DATABRICKS",
                         data_recipient_global_metastore_id: str | None = None,
                         comment: str | None = None) -> Recipient:
        """DATABRICKS recipients name another metastore by global id
        ("azure:<region>:<metastore id>"); the provider is then auto-created in that metastore
        (named after this metastore's delta_sharing_organization_name or metastore name).
        FIDELITY: TOKEN recipients are accepted but no bearer tokens / activation URLs work."""
        key = _lname(name, "Recipient")
        if key in self.recipients:
            raise already_exists("RECIPIENT", name)
        if len(self.recipients) >= SHARE_LIMITS["recipients_per_metastore"]:
            raise quota(f"The metastore already has {len(self.recipients)} recipients; the limit "
                        f"is {SHARE_LIMITS['recipients_per_metastore']}.")
        at = str(authentication_type or "").upper()
        if at not in ("DATABRICKS", "TOKEN", "OIDC_FEDERATION"):
            raise invalid(f"authentication_type: invalid value '{authentication_type}'.")
        target = None
        if at == "DATABRICKS":
            if not data_recipient_global_metastore_id:
                raise invalid("data_recipient_global_metastore_id is required for "
                              "DATABRICKS recipients.")
            parts = str(data_recipient_global_metastore_id).split(":")
            if len(parts) != 3 or not all(parts):
                raise invalid(f"Invalid data_recipient_global_metastore_id "
                              f"'{data_recipient_global_metastore_id}': expected "
                              "<cloud>:<region>:<metastore-id>.")
            if self.store:
                target = self.store.find_metastore_by_global_id(
                    data_recipient_global_metastore_id)
                if target is None:
                    raise invalid(f"Metastore '{data_recipient_global_metastore_id}' does not "
                                  "exist.", "METASTORE_DOES_NOT_EXIST")
                if target is self:
                    raise invalid("A recipient cannot be the provider's own metastore.")
        elif data_recipient_global_metastore_id:
            raise invalid("data_recipient_global_metastore_id is only valid for DATABRICKS "
                          "recipients.")
        r = Recipient(self, key, owner, at, data_recipient_global_metastore_id, comment)
        self.recipients[key] = r
        if target is not None:
            target._ensure_provider(self, owner)
        return r

    def _ensure_provider(self, provider_ms: Metastore, owner: str) -> Provider:
        gid = provider_ms.global_metastore_id
        for p in self.providers.values():
            if p.data_provider_global_metastore_id == gid:
                return p
        pname = (provider_ms.delta_sharing_organization_name or provider_ms.name).lower()
        base, n = pname, 1
        while pname in self.providers:
            n += 1
            pname = f"{base}_{n}"
        p = Provider(self, pname, owner, "DATABRICKS", gid)
        self.providers[pname] = p
        return p

    @_locked
    def update_recipient(self, name: str, by: str | None = None, **fields: Any) -> Recipient:
        """fields: owner, comment, new_name, properties_kvpairs."""
        r = self.get_recipient(name)
        new_name = fields.pop("new_name", None)
        self._apply(r, fields, extra=("properties_kvpairs",))
        if new_name and new_name.lower() != r.name:
            nk = _lname(new_name, "Recipient")
            if nk in self.recipients:
                raise already_exists("RECIPIENT", new_name)
            for s in self.shares.values():
                if r.name in s.grants:
                    s.grants[nk] = s.grants.pop(r.name)
            del self.recipients[r.name]
            r.name = nk
            self.recipients[nk] = r
        r.touch(by)
        return r

    @_locked
    def delete_recipient(self, name: str) -> None:
        r = self.get_recipient(name)
        del self.recipients[r.name]
        for s in self.shares.values():
            s.grants.pop(r.name, None)

    @_locked
    def share_permissions(self, share_name: str) -> list[dict]:
        return _grant_list(self.get_share(share_name).grants, None)

    @_locked
    def update_share_permissions(self, share_name: str, changes: list[dict]) -> list[dict]:
        """changes: [{"principal": <recipient name>, "add": ["SELECT"], "remove": [...]}];
        principals must be recipients of this metastore."""
        share = self.get_share(share_name)
        for i, ch in enumerate(changes or []):
            if not isinstance(ch, dict) or not ch.get("principal"):
                raise invalid(f"changes[{i}].principal is required.")
            if str(ch["principal"]).lower() not in self.recipients:
                raise not_found("RECIPIENT", ch["principal"])
            check_privileges("SHARE", ch.get("add") or [])
            check_privileges("SHARE", ch.get("remove") or [])
        norm = [dict(ch, principal=str(ch["principal"]).lower()) for ch in changes or []]
        return self.update_grants("SHARE", share.name, norm)

    @_locked
    def recipient_shares(self, recipient_name: str) -> list[Share]:
        r = self.get_recipient(recipient_name)
        return [s for s in sorted(self.shares.values(), key=lambda s: s.name)
                if "SELECT" in s.grants.get(r.name, ())]

    @_locked
    def provider_shares(self, provider_name: str) -> list[Share]:
        """Shares of the provider's metastore that a recipient for THIS metastore may read."""
        p = self.get_provider(provider_name)
        pms = self.store.metastore_by_global_id(p.data_provider_global_metastore_id)
        out = []
        for r in pms.recipients.values():
            if r.data_recipient_global_metastore_id == self.global_metastore_id:
                out.extend(pms.recipient_shares(r.name))
        seen, res = set(), []
        for s in out:
            if s.name not in seen:
                seen.add(s.name)
                res.append(s)
        return res

    @_locked
    def delete_provider(self, name: str) -> None:
        p = self.get_provider(name)
        del self.providers[p.name]

    def _check_share_access(self, pms: Metastore, share: Share) -> Recipient:
        for r in pms.recipients.values():
            if r.data_recipient_global_metastore_id == self.global_metastore_id and \
                    r.activated and "SELECT" in share.grants.get(r.name, ()):
                return r
        raise UCError(403, "PERMISSION_DENIED",
                      f"Share '{share.name}' is not shared with this metastore "
                      f"({self.global_metastore_id}), or the recipient is no longer active.",
                      "SHARE_NOT_ACCESSIBLE")

    def _share_of(self, c: Catalog) -> tuple[Metastore, Share]:
        prov = self.get_provider(c.provider_name)
        pms = self.store.metastore_by_global_id(prov.data_provider_global_metastore_id)
        share = pms.get_share(c.share_name)
        self._check_share_access(pms, share)
        return pms, share

    def _shared_schema_names(self, c: Catalog) -> list[str]:
        pms, share = self._share_of(c)
        names = set()
        for o in share.objects.values():
            names.add(o["shared_as"].split(".")[0])
        return sorted(names)

    def _shared_table_names(self, c: Catalog, schema: str) -> list[str]:
        pms, share = self._share_of(c)
        names = set()
        for o in share.objects.values():
            if o["data_object_type"] == "SCHEMA":
                if o["shared_as"] == schema:
                    try:
                        names.update(pms.get_schema(o["name"]).tables)
                    except UCError:
                        pass
            else:
                sch, _, tbl = o["shared_as"].partition(".")
                if sch == schema:
                    names.add(tbl)
        return sorted(names)

    def _shared_schema(self, c: Catalog, name: str) -> Schema:
        if name not in self._shared_schema_names(c):
            raise not_found("SCHEMA", f"{c.name}.{name}")
        s = Schema(c, name, c.owner)   # a transient view of the shared schema
        s.created_at = c.created_at
        return s

    @_locked
    def resolve(self, full_name: str) -> Resolved:
        """Find the table holding the data for 'cat.sch.tbl' as seen by this metastore. In a
        DELTASHARING_CATALOG, follow provider -> provider metastore -> share -> object; fails
        with 403 SHARE_NOT_ACCESSIBLE when the recipient is gone / lost SELECT, and 404 when the
        share no longer holds the table (or the provider dropped it)."""
        cat, sch, tbl = split_name(full_name, 3, "TABLE")
        c = self.get_catalog(cat)
        if c.catalog_type != "DELTASHARING_CATALOG":
            return Resolved(self.get_table(full_name), self, f"{cat}.{sch}.{tbl}", catalog=c)
        pms, share = self._share_of(c)
        for o in share.objects.values():
            if o["data_object_type"] == "SCHEMA":
                if o["shared_as"] == sch:
                    src = pms.get_schema(o["name"])
                    t = src.tables.get(tbl)
                    if t is not None:
                        return Resolved(t, pms, f"{cat}.{sch}.{tbl}", share, c, dict(o))
            elif o["shared_as"] == f"{sch}.{tbl}":
                try:
                    t = pms.get_table(o["name"])
                except UCError:
                    raise UCError(404, "NOT_FOUND", f"Table '{cat}.{sch}.{tbl}' does not exist: "
                                  f"the provider's table '{o['name']}' was dropped.",
                                  "TABLE_DOES_NOT_EXIST")
                return Resolved(t, pms, f"{cat}.{sch}.{tbl}", share, c, dict(o))
        raise UCError(404, "NOT_FOUND", f"Table '{cat}.{sch}.{tbl}' does not exist (not in share "
                      f"'{share.name}').", "TABLE_DOES_NOT_EXIST")

    # -- helpers ------------------------------------------------------------------------------
    def _writable_catalog(self, c: Catalog) -> None:
        if c.catalog_type == "DELTASHARING_CATALOG":
            raise UCError(403, "PERMISSION_DENIED",
                          f"Catalog '{c.name}' is a Delta Sharing catalog and is read-only.",
                          "READ_ONLY_CATALOG")
        if c.catalog_type == "SYSTEM_CATALOG":
            raise UCError(403, "PERMISSION_DENIED", "The system catalog is read-only.",
                          "READ_ONLY_CATALOG")

    def _check_under_location(self, url: str, what: str) -> ExternalLocation:
        norm_url(url)
        if self.storage_root and url_under(url, self.storage_root):
            raise invalid(f"{what} '{url}' is inside the metastore storage root.",
                          "LOCATION_OVERLAP")
        loc = self.location_for(url)
        if loc is None:
            # FIDELITY: real UC answers PERMISSION_DENIED "... no external location" in some
            # versions; we use 400 with a reason.
            raise invalid(f"{what} '{url}' is not contained in any external location of "
                          f"metastore {self.metastore_id}.", "NO_EXTERNAL_LOCATION")
        return loc

    def _check_no_overlap(self, url: str, exclude: Any = None) -> None:
        for c in self.catalogs.values():
            for s in c.schemas.values():
                for obj in list(s.tables.values()) + list(s.volumes.values()):
                    if obj is exclude or not obj.storage_location:
                        continue
                    if obj.kind == "TABLE" and obj.table_type != "EXTERNAL":
                        continue
                    if urls_overlap(url, obj.storage_location):
                        raise invalid(f"Location '{url}' overlaps with the location of "
                                      f"{obj.kind.lower()} '{obj.full_name}'.",
                                      "LOCATION_OVERLAP")

    def _apply(self, obj: Securable, fields: dict, extra: tuple = ()) -> None:
        for k, v in fields.items():
            if k == "owner":
                if v is not None:
                    if not v:
                        raise invalid("owner must not be empty.")
                    obj.owner = v
            elif k == "comment":
                obj.comment = v
            elif k == "properties":
                if v is not None and not isinstance(v, dict):
                    raise invalid("properties: expected an object of strings.")
                obj.properties = {str(a): str(b) for a, b in (v or {}).items()}
            elif k == "options" and hasattr(obj, "options"):
                obj.options = dict(v or {})
            elif k in extra:
                setattr(obj, k, v)
            else:
                raise invalid(f"Field '{k}' cannot be updated on {obj.kind.lower()} "
                              f"'{obj.full_name}'.")


def _priv_kind(stype: str, obj: Securable) -> str:
    """Privilege set key: views and materialized views accept fewer privileges than tables."""
    if isinstance(obj, Table):
        return {"VIEW": "VIEW", "METRIC_VIEW": "VIEW", "MATERIALIZED_VIEW": "MATERIALIZED_VIEW",
                "STREAMING_TABLE": "MATERIALIZED_VIEW"}.get(obj.table_type, "TABLE")
    return stype


def _grant_list(grants: dict[str, set[str]], principal: str | None) -> list[dict]:
    return [{"principal": p, "privileges": sorted(v)} for p, v in sorted(grants.items())
            if v and (principal is None or p == principal)]


class _NullLock:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


_NULL_LOCK = _NullLock()


class Metastore(MetastoreOps, Securable):
    kind = "METASTORE"

    def __init__(self, name: str, region: str, owner: str, storage_root: str | None = None,
                 metastore_id: str | None = None):
        super().__init__(name, owner)
        self.metastore_id = metastore_id or str(uuid.uuid4())
        self.region = region
        self.cloud = "azure"
        self.storage_root = storage_root
        self.delta_sharing_scope = "INTERNAL_AND_EXTERNAL"
        self.delta_sharing_organization_name: str | None = None
        self.catalogs: dict[str, Catalog] = {}
        self.storage_credentials: dict[str, StorageCredential] = {}
        self.external_locations: dict[str, ExternalLocation] = {}
        self.shares: dict[str, Share] = {}
        self.recipients: dict[str, Recipient] = {}
        self.providers: dict[str, Provider] = {}
        self.store: "UCStore | None" = None

    @property
    def global_metastore_id(self) -> str:
        return f"{self.cloud}:{self.region}:{self.metastore_id}"

    @property
    def full_name(self) -> str:
        return self.metastore_id

    def info(self) -> dict:
        return {
            "metastore_id": self.metastore_id, "name": self.name, "region": self.region,
            "cloud": self.cloud, "owner": self.owner, "storage_root": self.storage_root,
            "global_metastore_id": self.global_metastore_id,
            "delta_sharing_scope": self.delta_sharing_scope,
            "delta_sharing_organization_name": self.delta_sharing_organization_name,
            "privilege_model_version": "1.0",
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }



class UCStore:
    """All metastores of the account + workspace assignments. The process-wide one is UC."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.metastores: dict[str, Metastore] = {}
        self.assignments: dict[int, tuple[str, str | None]] = {}   # ws -> (ms id, default cat)
        self._reset_hooks: list = []

    def reset(self) -> None:
        with self.lock:
            self.metastores.clear()
            self.assignments.clear()
            for h in list(self._reset_hooks):
                h()

    def on_reset(self, fn) -> None:
        """Register a callback run by reset() (other stores: warehouses, jobs, files...)."""
        self._reset_hooks.append(fn)

    # -- metastores ---------------------------------------------------------------------------
    def create_metastore(self, name: str, region: str, owner: str,
                         storage_root: str | None = None,
                         metastore_id: str | None = None) -> Metastore:
        """One metastore per region (400 like the real account API otherwise)."""
        with self.lock:
            if not name:
                raise invalid("metastore_info.name is required.")
            if not region:
                raise invalid("metastore_info.region is required.")
            region = region.lower()
            for m in self.metastores.values():
                if m.region == region:
                    raise invalid(f"This account already has a metastore in region {region} "
                                  f"({m.metastore_id}). Only one metastore per region is "
                                  "allowed.", "METASTORE_ALREADY_EXISTS_IN_REGION")
            if storage_root:
                norm_url(storage_root)
            m = Metastore(name, region, owner, storage_root, metastore_id)
            m.store = self
            self.metastores[m.metastore_id] = m
            syscat = Catalog(m, "system", "System user", catalog_type="SYSTEM_CATALOG",
                             comment="System catalog (auto-created)")
            for sname in SYSTEM_SCHEMAS:
                syscat.schemas[sname] = Schema(syscat, sname, "System user")
            m.catalogs["system"] = syscat
            return m

    def get_metastore(self, metastore_id: str) -> Metastore:
        with self.lock:
            m = self.metastores.get(str(metastore_id).lower())
            if m is None:
                raise UCError(404, "NOT_FOUND", f"Metastore '{metastore_id}' does not exist.",
                              "METASTORE_DOES_NOT_EXIST")
            return m

    def list_metastores(self) -> list[Metastore]:
        with self.lock:
            return sorted(self.metastores.values(), key=lambda m: m.created_at)

    def update_metastore(self, metastore_id: str, by: str | None = None,
                         **fields: Any) -> Metastore:
        """fields: name/new_name, owner, storage_root (only when unset), delta_sharing_scope,
        delta_sharing_organization_name, delta_sharing_recipient_token_lifetime_in_seconds."""
        with self.lock:
            m = self.get_metastore(metastore_id)
            for k, v in fields.items():
                if v is None:
                    continue
                if k in ("name", "new_name"):
                    m.name = v
                elif k == "owner":
                    m.owner = v
                elif k == "storage_root":
                    if m.storage_root and m.storage_root != v:
                        raise invalid("The metastore storage root cannot be changed once set.")
                    norm_url(v)
                    m.storage_root = v
                elif k in ("delta_sharing_scope", "delta_sharing_organization_name"):
                    setattr(m, k, v)
                elif k == "delta_sharing_recipient_token_lifetime_in_seconds":
                    pass
                else:
                    raise invalid(f"Field '{k}' cannot be updated on a metastore.")
            m.touch(by)
            return m

    def delete_metastore(self, metastore_id: str, force: bool = False) -> None:
        with self.lock:
            m = self.get_metastore(metastore_id)
            users = [c for c in m.catalogs.values() if c.catalog_type != "SYSTEM_CATALOG"]
            if users and not force:
                raise invalid(f"Metastore {m.metastore_id} is not empty: it has "
                              f"{len(users)} catalog(s). Use force=true.", "METASTORE_NOT_EMPTY")
            assigned = [ws for ws, (mid, _) in self.assignments.items() if mid == m.metastore_id]
            if assigned and not force:
                raise invalid(f"Metastore {m.metastore_id} is assigned to workspace(s) "
                              f"{', '.join(map(str, assigned))}.", "METASTORE_IN_USE")
            for ws in assigned:
                del self.assignments[ws]
            del self.metastores[m.metastore_id]

    def find_metastore_by_global_id(self, gid: str) -> Metastore | None:
        with self.lock:
            for m in self.metastores.values():
                if m.global_metastore_id == str(gid).lower() or \
                        m.global_metastore_id == str(gid):
                    return m
            return None

    def metastore_by_global_id(self, gid: str | None) -> Metastore:
        m = self.find_metastore_by_global_id(gid or "")
        if m is None:
            raise UCError(404, "NOT_FOUND", f"Provider metastore '{gid}' does not exist.",
                          "METASTORE_DOES_NOT_EXIST")
        return m

    # -- assignments --------------------------------------------------------------------------
    def assign(self, workspace_id: int, metastore_id: str,
               default_catalog_name: str | None = None, region: str | None = None) -> None:
        """Assign a workspace (its region given by the caller, from SIM.workspaces) to a
        metastore; the regions must match. Re-assigning to another metastore is allowed (like
        the real API, the old assignment is replaced)."""
        with self.lock:
            m = self.get_metastore(metastore_id)
            if region is not None and region.lower().replace(" ", "") != m.region:
                raise invalid(f"Workspace {workspace_id} is in region {region} but metastore "
                              f"{m.metastore_id} is in region {m.region}. A workspace can only "
                              "be assigned to a metastore in the same region.",
                              "REGION_MISMATCH")
            self.assignments[int(workspace_id)] = (m.metastore_id, default_catalog_name)

    def unassign(self, workspace_id: int, metastore_id: str | None = None) -> None:
        with self.lock:
            cur = self.assignments.get(int(workspace_id))
            if cur is None or (metastore_id and cur[0] != metastore_id):
                raise UCError(404, "NOT_FOUND", f"Workspace {workspace_id} is not assigned to "
                              f"metastore {metastore_id}.", "METASTORE_ASSIGNMENT_DOES_NOT_EXIST")
            del self.assignments[int(workspace_id)]

    def assignment(self, workspace_id: int) -> tuple[str, str | None] | None:
        with self.lock:
            return self.assignments.get(int(workspace_id))

    def for_workspace(self, workspace_id: int) -> Metastore:
        """The metastore assigned to a workspace; none -> 404 METASTORE_DOES_NOT_EXIST."""
        with self.lock:
            a = self.assignments.get(int(workspace_id))
            if a is None:
                raise UCError(404, "METASTORE_DOES_NOT_EXIST",
                              "No metastore assigned for the current workspace.",
                              "METASTORE_DOES_NOT_EXIST")
            return self.get_metastore(a[0])


UC = UCStore()


def resolve(metastore: Metastore, full_name: str) -> Resolved:
    """Module-level alias of Metastore.resolve (see there)."""
    return metastore.resolve(full_name)
