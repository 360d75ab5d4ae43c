"""Unity Catalog model: schemas of a catalog."""

from __future__ import annotations

from typing import Any

from .base import UCError, not_found, already_exists, invalid, split_name, _lname, _locked
from .objects import Schema


class SchemaOps:
    """Mixin of MetastoreOps; self is a Metastore."""

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
