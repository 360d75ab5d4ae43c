"""Unity Catalog model of the simulator: metastores and every securable in them.

Pure Python, no HTTP: the REST routes (drsim.databricks.routes: unity_catalog, sharing, account)
and the SQL engine (drsim.databricks.sql) both act on this model, which is the single source of
truth for metadata. The public API is documented in ../UCMODEL.md; keep them in step. Callers
import it from drsim.databricks.ucmodel (the names below).

Layout: base.py (errors, privilege sets, limits, name/path helpers), objects.py (the securable
classes), one module of MetastoreOps operations per securable family -- catalogs.py, schemas.py,
tables.py, volumes.py, functions.py, storage.py (credentials, external locations), grants.py
(grants, owners, tags, bindings), sharing.py (shares, recipients, providers) -- and metastore.py,
which mixes them into Metastore and holds the account's UCStore (UC).

Conventions
- Names are case-insensitive and stored lower-case, like UC does.
- Enum-like fields are plain upper-case strings ("MANAGED", "DELTA", "ISOLATED"...).
- Times are epoch milliseconds (ints), like the REST API.
- Every failure raises UCError(status, error_code, message, reason) -- the REST layer turns it into
  the Databricks error JSON, the SQL layer into an error class.
- One re-entrant lock (UC.lock) guards the whole model; every public method takes it, and callers
  that need several steps to be atomic may hold it themselves (`with UC.lock: ...`).
"""

from .base import (DATA_SOURCE_FORMATS, PRIVILEGES, SECURABLE_ALIASES, SHARE_LIMITS, TABLE_TYPES,
                   VIEW_TYPES, UCError, already_exists, check_privileges, invalid, norm_url,
                   not_found, now_ms, quota, securable_type, split_name, split_parts, url_under,
                   urls_overlap)
from .metastore import SYSTEM_SCHEMAS, UC, Metastore, MetastoreOps, UCStore, resolve
from .objects import (FUNCTION_FIELDS, Catalog, Column, ExternalLocation, Function, Provider,
                      Recipient, Resolved, Schema, Securable, Share, StorageCredential, Table,
                      Volume, type_name_of)

__all__ = [
    "DATA_SOURCE_FORMATS", "PRIVILEGES", "SECURABLE_ALIASES", "SHARE_LIMITS", "TABLE_TYPES",
    "VIEW_TYPES", "UCError", "already_exists", "check_privileges", "invalid", "norm_url",
    "not_found", "now_ms", "quota", "securable_type", "split_name", "split_parts", "url_under",
    "urls_overlap", "SYSTEM_SCHEMAS", "UC", "Metastore", "MetastoreOps", "UCStore", "resolve",
    "FUNCTION_FIELDS", "Catalog", "Column", "ExternalLocation", "Function", "Provider",
    "Recipient", "Resolved", "Schema", "Securable", "Share", "StorageCredential", "Table",
    "Volume", "type_name_of",
]
