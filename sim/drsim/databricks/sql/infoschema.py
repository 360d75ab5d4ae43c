"""information_schema views built from the UC model.

`<catalog>.information_schema.<view>` lists that catalog's objects; `system.information_schema.<view>`
lists every catalog of the metastore visible to the workspace. Each referenced view is
materialised into a TEMP table of the statement's DuckDB cursor (gone when the statement ends).
Privilege names are SQL spellings ("USE CATALOG"); `inherited_from` is NONE for a direct grant,
else the securable type it comes from (CATALOG, SCHEMA, METASTORE).
"""
from __future__ import annotations

import datetime as dt

from ..ucmodel import UCError
from .engine import sql_error_from_uc
from .errors import SqlError
from .store import qi

S, B, L, T, I = "VARCHAR", "BOOLEAN", "BIGINT", "TIMESTAMPTZ", "INTEGER"

COLUMNS = {
    "catalogs": [("catalog_name", S), ("catalog_owner", S), ("comment", S), ("created", T),
                 ("created_by", S), ("last_altered", T), ("last_altered_by", S)],
    "schemata": [("catalog_name", S), ("schema_name", S), ("schema_owner", S), ("comment", S),
                 ("created", T), ("created_by", S), ("last_altered", T), ("last_altered_by", S)],
    "tables": [("table_catalog", S), ("table_schema", S), ("table_name", S), ("table_type", S),
               ("is_insertable_into", S), ("commit_action", S), ("table_owner", S), ("comment", S),
               ("created", T), ("created_by", S), ("last_altered", T), ("last_altered_by", S),
               ("data_source_format", S), ("storage_sub_directory", S), ("storage_path", S)],
    "columns": [("table_catalog", S), ("table_schema", S), ("table_name", S), ("column_name", S),
                ("ordinal_position", I), ("column_default", S), ("is_nullable", S),
                ("full_data_type", S), ("data_type", S), ("numeric_precision", I),
                ("numeric_scale", I), ("partition_index", I), ("comment", S)],
    "views": [("table_catalog", S), ("table_schema", S), ("table_name", S), ("view_definition", S),
              ("check_option", S), ("is_updatable", S), ("is_insertable_into", S), ("sql_path", S)],
    "routines": [("specific_catalog", S), ("specific_schema", S), ("specific_name", S),
                 ("routine_catalog", S), ("routine_schema", S), ("routine_name", S),
                 ("routine_owner", S), ("routine_type", S), ("data_type", S), ("full_data_type", S),
                 ("routine_body", S), ("routine_definition", S), ("external_language", S),
                 ("is_deterministic", S), ("sql_data_access", S), ("is_null_call", S),
                 ("security_type", S), ("comment", S), ("created", T), ("created_by", S),
                 ("last_altered", T), ("last_altered_by", S)],
    "parameters": [("specific_catalog", S), ("specific_schema", S), ("specific_name", S),
                   ("ordinal_position", I), ("parameter_mode", S), ("parameter_name", S),
                   ("data_type", S), ("full_data_type", S), ("parameter_default", S), ("comment", S)],
    "volumes": [("volume_catalog", S), ("volume_schema", S), ("volume_name", S), ("volume_type", S),
                ("volume_owner", S), ("comment", S), ("storage_location", S), ("created", T),
                ("created_by", S), ("last_altered", T), ("last_altered_by", S)],
    "catalog_privileges": [("grantor", S), ("grantee", S), ("catalog_name", S), ("privilege_type", S),
                           ("is_grantable", S), ("inherited_from", S)],
    "schema_privileges": [("grantor", S), ("grantee", S), ("catalog_name", S), ("schema_name", S),
                          ("privilege_type", S), ("is_grantable", S), ("inherited_from", S)],
    "table_privileges": [("grantor", S), ("grantee", S), ("table_catalog", S), ("table_schema", S),
                         ("table_name", S), ("privilege_type", S), ("is_grantable", S),
                         ("inherited_from", S)],
    "volume_privileges": [("grantor", S), ("grantee", S), ("volume_catalog", S), ("volume_schema", S),
                          ("volume_name", S), ("privilege_type", S), ("is_grantable", S),
                          ("inherited_from", S)],
    "routine_privileges": [("grantor", S), ("grantee", S), ("specific_catalog", S),
                           ("specific_schema", S), ("specific_name", S), ("routine_catalog", S),
                           ("routine_schema", S), ("routine_name", S), ("privilege_type", S),
                           ("is_grantable", S), ("inherited_from", S)],
    "catalog_tags": [("catalog_name", S), ("tag_name", S), ("tag_value", S)],
    "schema_tags": [("catalog_name", S), ("schema_name", S), ("tag_name", S), ("tag_value", S)],
    "table_tags": [("catalog_name", S), ("schema_name", S), ("table_name", S), ("tag_name", S),
                   ("tag_value", S)],
    "column_tags": [("catalog_name", S), ("schema_name", S), ("table_name", S), ("column_name", S),
                    ("tag_name", S), ("tag_value", S)],
    "volume_tags": [("catalog_name", S), ("schema_name", S), ("volume_name", S), ("tag_name", S),
                    ("tag_value", S)],
    "row_filters": [("table_catalog", S), ("table_schema", S), ("table_name", S),
                    ("filter_name", S), ("target_columns", S)],
    "column_masks": [("table_catalog", S), ("table_schema", S), ("table_name", S), ("column_name", S),
                     ("mask_name", S), ("using_columns", S)],
    "table_constraints": [("constraint_catalog", S), ("constraint_schema", S), ("constraint_name", S),
                          ("table_catalog", S), ("table_schema", S), ("table_name", S),
                          ("constraint_type", S), ("is_deferrable", S), ("initially_deferred", S),
                          ("enforced", S)],
}


def _ts(ms):
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


def _priv(p):
    return p.replace("_", " ")


def _grant_rows(ms, stype, full_name, owner, keyfn):
    rows = []
    for e in ms.effective_grants(stype, full_name):
        for p in e["privileges"]:
            inh = p.get("inherited_from_type") or "NONE"
            rows.append([owner, e["principal"], *keyfn(), _priv(p["privilege"]), "NO", inh])
    return rows


def build(E, ctx, catalog: str, view: str) -> list[list]:
    ms = ctx.ms
    view = view.lower()
    if view not in COLUMNS:
        raise SqlError("TABLE_OR_VIEW_NOT_FOUND",
                       f"The table or view `{catalog}`.`information_schema`.`{view}` cannot be found.")
    system = catalog.lower() == "system"
    if system:
        cats = [c for c in ms.list_catalogs(ctx.workspace_id) if c.name != "system"]
    else:
        cats = [ms.check_catalog_access(catalog, ctx.workspace_id)]
    rows: list[list] = []
    for c in cats:
        if view == "catalogs":
            rows.append([c.name, c.owner, c.comment, _ts(c.created_at), c.created_by,
                         _ts(c.updated_at), c.updated_by])
            continue
        if view == "catalog_privileges":
            rows += _grant_rows(ms, "CATALOG", c.name, c.owner, lambda: [c.name])
            continue
        if view == "catalog_tags":
            rows += [[c.name, k, v] for k, v in sorted(ms.get_tags("CATALOG", c.name).items())]
            continue
        try:
            schemas = ms.list_schemas(c.name)
        except UCError:
            continue
        for s in schemas:
            sfull = f"`{c.name}`.`{s.name}`"
            if view == "schemata":
                rows.append([c.name, s.name, s.owner, s.comment, _ts(s.created_at), s.created_by,
                             _ts(s.updated_at), s.updated_by])
                continue
            if s.name == "information_schema":
                continue
            if view == "schema_privileges":
                rows += _grant_rows(ms, "SCHEMA", sfull, s.owner, lambda: [c.name, s.name])
                continue
            if view == "schema_tags":
                rows += [[c.name, s.name, k, v] for k, v in sorted(ms.get_tags("SCHEMA", sfull).items())]
                continue
            if view in ("volumes", "volume_privileges", "volume_tags"):
                for v in ms.list_volumes(c.name, s.name):
                    vfull = f"{sfull}.`{v.name}`"
                    if view == "volumes":
                        rows.append([c.name, s.name, v.name, v.volume_type, v.owner, v.comment,
                                     v.storage_location, _ts(v.created_at), v.created_by,
                                     _ts(v.updated_at), v.updated_by])
                    elif view == "volume_privileges":
                        rows += _grant_rows(ms, "VOLUME", vfull, v.owner, lambda: [c.name, s.name, v.name])
                    else:
                        rows += [[c.name, s.name, v.name, k, val]
                                 for k, val in sorted(ms.get_tags("VOLUME", vfull).items())]
                continue
            if view in ("routines", "parameters", "routine_privileges"):
                for f in ms.list_functions(c.name, s.name):
                    ffull = f"{sfull}.`{f.name}`"
                    sp = f.spec
                    if view == "routines":
                        rows.append([c.name, s.name, f.name, c.name, s.name, f.name, f.owner, "FUNCTION",
                                     sp.get("data_type"), sp.get("full_data_type"), sp.get("routine_body"),
                                     sp.get("routine_definition"), sp.get("external_language"),
                                     "YES" if sp.get("is_deterministic") else "NO",
                                     sp.get("sql_data_access"), "YES" if sp.get("is_null_call") else "NO",
                                     sp.get("security_type"), f.comment, _ts(f.created_at), f.created_by,
                                     _ts(f.updated_at), f.updated_by])
                    elif view == "parameters":
                        for p in (sp.get("input_params") or {}).get("parameters") or []:
                            rows.append([c.name, s.name, f.name, p.get("position", 0) + 1, "IN", p["name"],
                                         p.get("type_name"), p.get("type_text"), p.get("parameter_default"),
                                         p.get("comment")])
                    else:
                        rows += [r[:5] + [c.name, s.name, f.name] + r[5:] for r in
                                 _grant_rows(ms, "FUNCTION", ffull, f.owner, lambda: [c.name, s.name, f.name])]
                continue
            for t in ms.list_tables(c.name, s.name):
                tfull = f"{sfull}.`{t.name}`"
                if view == "tables":
                    rows.append([c.name, s.name, t.name, t.table_type,
                                 "NO" if t.is_view else "YES", "PRESERVE", t.owner, t.comment,
                                 _ts(t.created_at), t.created_by, _ts(t.updated_at), t.updated_by,
                                 None if t.is_view else (t.data_source_format or "DELTA"), None,
                                 t.storage_location])
                elif view == "columns":
                    for col in t.columns:
                        rows.append([c.name, s.name, t.name, col.name, col.position, None,
                                     "YES" if col.nullable else "NO", col.type_text, col.type_name,
                                     col.type_precision, col.type_scale, col.partition_index, col.comment])
                elif view == "views":
                    if t.is_view:
                        rows.append([c.name, s.name, t.name, t.view_definition, "NONE", "NO", "NO",
                                     t.sql_path])
                elif view == "table_privileges":
                    try:
                        rows += _grant_rows(ms, "TABLE", tfull, t.owner, lambda: [c.name, s.name, t.name])
                    except UCError:
                        pass
                elif view == "table_tags":
                    try:
                        rows += [[c.name, s.name, t.name, k, v]
                                 for k, v in sorted(ms.get_tags("TABLE", tfull).items())]
                    except UCError:
                        pass
                elif view == "column_tags":
                    for col in t.columns:
                        rows += [[c.name, s.name, t.name, col.name, k, v] for k, v in sorted(col.tags.items())]
                elif view == "row_filters":
                    if t.row_filter:
                        rows.append([c.name, s.name, t.name, t.row_filter.get("function_name"),
                                     ",".join(t.row_filter.get("input_column_names") or [])])
                elif view == "column_masks":
                    for col in t.columns:
                        if col.mask:
                            rows.append([c.name, s.name, t.name, col.name, col.mask.get("function_name"),
                                         ",".join(col.mask.get("using_column_names") or [])])
    return rows


def materialize(E, ctx, catalog: str, view: str) -> str:
    """Create the TEMP table for catalog.information_schema.view on ctx.cur; returns its name."""
    try:
        rows = build(E, ctx, catalog, view)
    except UCError as e:
        raise sql_error_from_uc(e) from None
    E._tmp += 1
    name = f"_is_{view.lower()}_{E._tmp}"
    cols = COLUMNS[view.lower()]
    ctx.cur.execute(f"CREATE TEMP TABLE {qi(name)} (" +
                    ", ".join(f"{qi(c)} {t}" for c, t in cols) + ")")
    if rows:
        # one INSERT of column-wise lists (much faster than executemany)
        sel = ", ".join(f"UNNEST(CAST(? AS {t}[]))" for _, t in cols)
        ctx.cur.execute(f"INSERT INTO {qi(name)} SELECT {sel}", [list(c) for c in zip(*rows)])
    return name
