"""Unity Catalog model: functions of a schema."""

from __future__ import annotations

from typing import Any

from .base import already_exists, invalid, split_name, _locked
from .objects import FUNCTION_FIELDS, Function


class FunctionOps:
    """Mixin of MetastoreOps; self is a Metastore."""

    @_locked
    def get_function(self, full_name: str) -> Function:
        return self._child(full_name, "functions", "FUNCTION")

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
