"""Unity Catalog model: the securable objects and their REST info() shapes."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .base import UCError, invalid, now_ms, VIEW_TYPES

if TYPE_CHECKING:
    from .metastore import Metastore


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
        commit time (epoch ms) of the latest commit that changed the table's METADATA (schema,
        properties, comment); {} for views, non-Delta tables and tables without history.

        As Delta's catalog-update hook (UpdateCatalog: schema, properties or clustering changed)
        and open-source Unity Catalog (managed-tables spec; PR #1617: a data-only commit leaves
        them unchanged) move them: an INSERT, UPDATE, DELETE or MERGE leaves them where they were,
        so they are no signal that a table's data moved. The SQL engine marks each history entry
        with `_metadata` when its Delta commit wrote a changed metaData action; an entry without
        the mark (written by an older simulator) counts as a metadata change."""
        if self.is_view or (self.data_source_format or "").upper() != "DELTA" or not self.history:
            return {}
        last = next((h for h in reversed(self.history) if h.get("_metadata", True)), self.history[0])
        # FIDELITY: Databricks UC returns `delta.lastCommitTimestamp` (ms, string) and
        # `delta.lastUpdateVersion` (string) in TableInfo.properties of Delta tables; the public
        # REST reference does not document them (observed behaviour). The simulator's writes all
        # go through UC, so they never lag (the real hook is asynchronous and best-effort).
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
