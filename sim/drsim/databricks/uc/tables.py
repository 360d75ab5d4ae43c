"""Unity Catalog model: tables and views, their column masks and Delta history."""

from __future__ import annotations

from typing import Any

from .base import (UCError, not_found, already_exists, invalid, now_ms, TABLE_TYPES,
                   DATA_SOURCE_FORMATS, VIEW_TYPES, split_name, split_parts, _lname, _locked)
from .objects import Column, Table


class TableOps:
    """Mixin of MetastoreOps; self is a Metastore."""

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

    def iter_tables(self):
        for c in list(self.catalogs.values()):
            for s in list(c.schemas.values()):
                yield from list(s.tables.values())

    def table_by_id(self, table_id: str):
        """The table with this id, or None: through an index rebuilt when it misses or names a
        table that is no longer attached (dropped, its schema or catalog dropped), so a lookup
        costs O(1) instead of a walk over every table of the metastore."""
        index = getattr(self, "_tables_by_id", None)
        t = index.get(table_id) if index is not None else None
        if t is None or not self._attached(t):
            index = {x.table_id: x for x in self.iter_tables()}
            self._tables_by_id = index
            t = index.get(table_id)
        return t

    def _attached(self, t) -> bool:
        s = t.schema
        return (s.tables.get(t.name) is t and s.catalog.schemas.get(s.name) is s
                and self.catalogs.get(s.catalog.name) is s.catalog)

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
        h = [{k: x for k, x in v.items() if not k.startswith("_")} for v in reversed(t.history)]
        return h[:limit] if limit else h
