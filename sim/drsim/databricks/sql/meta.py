"""Runs the statements parsed by ddl.py against the UC model (and the DuckDB store for clones)."""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re

from sqlglot import exp

from ..ucmodel import UCError, type_name_of
from .engine import (Ctx, Result, dotted, fq, parse_sql, sql_error_from_uc, uc_errors)
from .errors import SqlError, quote_name
from .store import qi
from .types import dbx_to_duck, norm_dbx

REST_TYPE = {"VIEW": "TABLE"}


def run(E, ctx: Ctx, st: dict) -> Result:
    fn = _HANDLERS.get(st["kind"])
    if fn is None:
        raise SqlError("PARSE_SYNTAX_ERROR", f"Unsupported statement kind {st['kind']}.")
    return fn(E, ctx, st)


# ---- helpers ------------------------------------------------------------------------------------

def names_for(E, ctx: Ctx, typ: str, parts: list[str]) -> list[str]:
    """Full name parts of a securable of type typ as written (resolving defaults)."""
    if typ in ("CATALOG", "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL", "SHARE", "CONNECTION"):
        if len(parts) != 1:
            raise SqlError("INVALID_PARAMETER_VALUE",
                           f"{typ.lower()} name {'.'.join(parts)} must have one part.")
        return list(parts)
    if typ == "SCHEMA":
        return E.full2(ctx, parts)
    if typ == "METASTORE":
        return [ctx.ms.metastore_id]
    return E.full3(ctx, parts, typ)


def sec_name(typ: str, parts: list[str]) -> str:
    if typ in ("CATALOG", "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL", "SHARE", "CONNECTION", "METASTORE"):
        return parts[0]
    return fq(parts)


def _check_write(ctx: Ctx, catalog: str):
    with uc_errors():
        ctx.ms.check_catalog_access(catalog, ctx.workspace_id, write=True)


def _like(pattern: str | None, name: str) -> bool:
    if not pattern:
        return True
    # Databricks LIKE in SHOW: '*' any chars, '|' alternatives, case-insensitive
    for alt in pattern.split("|"):
        if fnmatch.fnmatchcase(name.lower(), alt.strip().lower().replace("%", "*")):
            return True
    return False


def _privs_rest(privs: list[str]) -> list[str]:
    out = []
    for p in privs:
        p = re.sub(r"\s+", " ", p.strip().upper())
        out.append("ALL_PRIVILEGES" if p in ("ALL PRIVILEGES", "ALL") else p.replace(" ", "_"))
    return out


def priv_sql(p: str) -> str:
    return p.replace("_", " ")


def _ts(ms_epoch):
    if ms_epoch is None:
        return None
    return dt.datetime.fromtimestamp(ms_epoch / 1000, tz=dt.timezone.utc)


def _delta_commit(E, ctx: Ctx, t, full, operation: str, params: dict):
    """A metadata-only Delta commit (new version, same data) for Delta tables."""
    if t.is_view or t.data_source_format != "DELTA":
        return
    n = t.current_version + 1
    if E.store.get(E.data_key(t)) is not None:
        E.store.commit_meta(ctx.cur, E.data_key(t), n=n)
    E._history(ctx, full, operation, params, None, t.current_version)


# ---- CREATE -------------------------------------------------------------------------------------

def create_catalog(E, ctx, st):
    name = st["name"]
    if len(name) != 1:
        raise SqlError("INVALID_PARAMETER_VALUE", f"Catalog name {'.'.join(name)} must have one part.")
    with uc_errors():
        ctx.ms.create_catalog(name[0], ctx.user, comment=st["comment"],
                              storage_root=st["managed_location"], provider_name=st["provider"],
                              share_name=st["share"], options=st["options"] or None,
                              if_not_exists=st["if_not_exists"])
    return Result()


def create_schema(E, ctx, st):
    cat, sch = E.full2(ctx, st["name"])
    _check_write(ctx, cat)
    with uc_errors():
        ctx.ms.create_schema(cat, sch, ctx.user, comment=st["comment"],
                             properties=st["properties"] or None,
                             storage_root=st["managed_location"],
                             if_not_exists=st["if_not_exists"])
    return Result()


def create_volume(E, ctx, st):
    cat, sch, name = E.full3(ctx, st["name"], "VOLUME")
    _check_write(ctx, cat)
    if st["if_not_exists"]:
        try:
            ctx.ms.get_volume(fq([cat, sch, name]))
            return Result()
        except UCError:
            pass
    with uc_errors():
        ctx.ms.create_volume(cat, sch, name, ctx.user,
                             volume_type="EXTERNAL" if st["external"] or st["location"] else "MANAGED",
                             storage_location=st["location"], comment=st["comment"])
    return Result()


def create_view(E, ctx, st):
    if st["temporary"]:
        raise SqlError("NOT_SUPPORTED_WITH_DB_SQL",
                       "Temporary views need a session; the Statement Execution API has none.")
    full = E.full3(ctx, st["name"], "VIEW")
    _check_write(ctx, full[0])
    existing = E.local_table(ctx, full)
    if existing is not None:
        if not existing.is_view:
            raise SqlError("EXPECT_VIEW_NOT_TABLE",
                           f"{quote_name(*full)} is a table. CREATE OR REPLACE VIEW expects a view.")
        if not st["replace"]:
            if st["if_not_exists"]:
                return Result()
            raise SqlError("TABLE_OR_VIEW_ALREADY_EXISTS",
                           f"Cannot create table or view {quote_name(*full)} because it already exists.")
    tree = parse_sql(st["query"])
    if not isinstance(tree, exp.Query):
        raise SqlError("PARSE_SYNTAX_ERROR", "Syntax error: a view needs a query after AS.")
    if tree.find(exp.Placeholder):
        raise SqlError("UNSUPPORTED_FEATURE", "Parameter markers are not allowed in a view definition.")
    deps, fdeps = set(), set()
    work = tree.copy()
    E.prepare(ctx, work, deps=deps, fdeps=fdeps)
    res = E.run_duck(ctx, f"SELECT * FROM ({work.sql('duckdb')}) AS _v LIMIT 0")
    columns = [{"name": n, "type_text": t, "nullable": True} for n, t in res.columns]
    if st["columns"]:
        if len(st["columns"]) != len(columns):
            raise SqlError("CREATE_VIEW_COLUMN_ARITY_MISMATCH",
                           f"Cannot create view {quote_name(*full)}: {len(st['columns'])} column "
                           f"names for {len(columns)} query columns.")
        for c, spec in zip(columns, st["columns"]):
            c["name"] = spec["name"]
            if spec["comment"] is not None:
                c["comment"] = spec["comment"]
    props = dict(st["properties"])
    props.update({"view.catalogAndNamespace.numParts": "2",
                  "view.catalogAndNamespace.part.0": (ctx.catalog or full[0]).lower(),
                  "view.catalogAndNamespace.part.1": (ctx.schema or "default").lower(),
                  "view.query.out.numCols": str(len(res.columns))})
    for i, (name, _) in enumerate(res.columns):
        props[f"view.query.out.col.{i}"] = name
    with uc_errors():
        ctx.ms.create_table(fq(full), ctx.user, table_type="VIEW", columns=columns,
                            comment=st["comment"], properties=props,
                            view_definition=st["query"], view_dependencies=sorted(deps),
                            function_dependencies=sorted(fdeps), replace=existing is not None)
    return Result()


def create_function(E, ctx, st):
    if st["temporary"]:
        raise SqlError("NOT_SUPPORTED_WITH_DB_SQL",
                       "Temporary functions need a session; the Statement Execution API has none.")
    full = E.full3(ctx, st["name"], "FUNCTION")
    _check_write(ctx, full[0])
    exists = True
    try:
        ctx.ms.get_function(fq(full))
    except UCError:
        exists = False
    if exists and not st["replace"]:
        if st["if_not_exists"]:
            return Result()
        raise SqlError("ROUTINE_ALREADY_EXISTS",
                       f"Cannot create the routine {quote_name(*full)} because it already exists.")
    if st["body"] is None:
        raise SqlError("PARSE_SYNTAX_ERROR", "Syntax error: a function needs RETURN or AS $$...$$.")
    if st["language"] == "SQL" and not st["returns_table"]:
        parse_sql("SELECT " + st["body"])          # syntax check of the expression
    params = []
    for i, p in enumerate(st["params"]):
        tt = norm_dbx(p["type"])
        d = {"name": p["name"], "type_text": tt, "type_name": type_name_of(tt), "position": i,
             "parameter_mode": "IN", "parameter_type": "PARAM"}
        if p["default"] is not None:
            d["parameter_default"] = p["default"]
        if p["comment"] is not None:
            d["comment"] = p["comment"]
        params.append(d)
    spec = {
        "input_params": {"parameters": params},
        "data_type": "TABLE_TYPE" if st["returns_table"] else type_name_of(norm_dbx(st["returns"])),
        "full_data_type": st["returns"] if st["returns_table"] else norm_dbx(st["returns"]),
        "routine_body": "SQL" if st["language"] == "SQL" else "EXTERNAL",
        "routine_definition": st["body"],
        "parameter_style": "S",
        "is_deterministic": bool(st["deterministic"]) if st["deterministic"] is not None else True,
        "sql_data_access": "CONTAINS_SQL",
        "is_null_call": False,
        "security_type": "DEFINER",
        "specific_name": full[2],
    }
    if st["language"] != "SQL":
        spec["external_language"] = st["language"]
    with uc_errors():
        ctx.ms.create_function(fq(full), ctx.user, replace=exists, comment=st["comment"], **spec)
    return Result()


_CLONE_COLUMNS = [("source_table_size", "bigint"), ("source_num_of_files", "bigint"),
                  ("num_removed_files", "bigint"), ("num_copied_files", "bigint"),
                  ("removed_files_size", "bigint"), ("copied_files_size", "bigint")]


def clone(E, ctx, st):
    full = E.full3(ctx, st["name"])
    res, src_full = E.resolve_table(ctx, st["source"])
    src = res.table
    if src.is_view or src.data_source_format != "DELTA":
        raise SqlError("DELTA_CLONE_UNSUPPORTED_SOURCE",
                       f"Unsupported clone source {quote_name(*src_full)}: only Delta tables can be "
                       f"cloned (it is a {src.table_type} {src.data_source_format or ''} object).")
    if st["version"] is not None:
        sv = st["version"]
        if sv > src.current_version or sv < 0:
            raise SqlError("INVALID_TIME_TRAVEL_SPEC",
                           f"Cannot time travel Delta table to version {sv}. Available versions: "
                           f"[0, {src.current_version}].")
    elif st["timestamp"] is not None:
        sv = E.version_for(src, exp.Version(this="TIMESTAMP", kind="AS OF",
                                            expression=exp.Literal.string(st["timestamp"])))
    else:
        sv = src.current_version
    E.physical_for(ctx, src, sv if sv >= 0 else None)
    if sv < 0:
        sv = E.store.get(src.table_id).current
    _check_write(ctx, full[0])
    with uc_errors():
        cat = ctx.ms.get_catalog(full[0])
    if cat.catalog_type in ("DELTA_SHARING_CATALOG", "DELTASHARING_CATALOG"):
        raise SqlError("PERMISSION_DENIED", f"Catalog '{cat.name}' is read-only (created from a share).")
    existing = E.local_table(ctx, full)
    if existing is None and st.get("must_exist"):
        raise SqlError("TABLE_OR_VIEW_NOT_FOUND",
                       f"The table {quote_name(*full)} cannot be found: REPLACE TABLE needs an "
                       "existing table (use CREATE OR REPLACE).")
    if existing is not None:
        if existing.is_view:
            raise SqlError("EXPECT_TABLE_NOT_VIEW", f"{quote_name(*full)} is a view.")
        if not st["replace"]:
            if st["if_not_exists"]:
                return Result(list(_CLONE_COLUMNS), [[0, 0, 0, 0, 0, 0]])
            raise SqlError("TABLE_OR_VIEW_ALREADY_EXISTS",
                           f"Cannot create table or view {quote_name(*full)} because it already exists.")
    props = dict(src.properties or {})
    props.update(st["properties"])
    columns = []
    for c in src.columns:
        d = {"name": c.name, "type_text": c.type_text, "type_name": c.type_name, "nullable": c.nullable}
        if c.comment is not None:
            d["comment"] = c.comment
        if c.partition_index is not None:
            d["partition_index"] = c.partition_index
        columns.append(d)
    location = st["location"]
    with uc_errors():
        t = ctx.ms.create_table(fq(full), ctx.user,
                                table_type="EXTERNAL" if location else "MANAGED",
                                data_source_format="DELTA", columns=columns,
                                storage_location=location, comment=None, properties=props,
                                replace=existing is not None)
    n = t.current_version + 1
    E.data_key(t)                         # binds the target's location
    metrics = E.store.clone(ctx.cur, t.table_id, src.table_id, sv, n=n, target_exists=existing is not None)
    metrics.pop("_changed", None)
    t.data_ref = t.table_id
    E._history(ctx, full, "CLONE",
               {"source": dotted(src_full), "sourceVersion": str(sv),
                "isShallow": "false" if st["deep"] else "true"},
               {"sourceTableSize": metrics["source_table_size"],
                "sourceNumOfFiles": metrics["source_num_of_files"],
                "numRemovedFiles": metrics["num_removed_files"],
                "numCopiedFiles": metrics["num_copied_files"],
                "removedFilesSize": metrics["removed_files_size"],
                "copiedFilesSize": metrics["copied_files_size"]}, None)
    return Result(list(_CLONE_COLUMNS), [[metrics[c] for c, _ in _CLONE_COLUMNS]],
                  copied_files=metrics["num_copied_files"])


# ---- DROP ---------------------------------------------------------------------------------------

def _drop_data(E, ctx, t):
    """Dropping a table drops its data, except an EXTERNAL non-Delta table's files (they belong to
    the location). FIDELITY: an external Delta table's data goes with the table here."""
    key = E.data_key(t)
    if key == t.table_id:
        E.store.drop_data(ctx.cur, key)


def drop(E, ctx, st):
    typ = st["type"]
    try:
        if typ == "CATALOG":
            name = names_for(E, ctx, "CATALOG", st["name"])[0]
            c = ctx.ms.get_catalog(name)
            if st["cascade"] and c.catalog_type == "MANAGED_CATALOG":
                for s in list(c.schemas.values()):
                    for t in list(s.tables.values()):
                        _drop_data(E, ctx, t)
            ctx.ms.delete_catalog(name, force=st["cascade"])
        elif typ == "SCHEMA":
            cat, sch = E.full2(ctx, st["name"])
            _check_write(ctx, cat)
            s = ctx.ms.get_schema(fq([cat, sch]))
            if st["cascade"]:
                for t in list(s.tables.values()):
                    _drop_data(E, ctx, t)
            ctx.ms.delete_schema(fq([cat, sch]), force=st["cascade"])
        elif typ in ("TABLE", "VIEW"):
            full = E.full3(ctx, st["name"], typ)
            _check_write(ctx, full[0])
            t = ctx.ms.get_table(fq(full))
            if t.is_view and typ == "TABLE":
                raise SqlError("WRONG_COMMAND_FOR_OBJECT_TYPE",
                               f"The operation DROP TABLE requires a table. But {quote_name(*full)} is "
                               "a view. Use DROP VIEW instead.")
            if not t.is_view and typ == "VIEW":
                raise SqlError("WRONG_COMMAND_FOR_OBJECT_TYPE",
                               f"The operation DROP VIEW requires a view. But {quote_name(*full)} is "
                               "a table. Use DROP TABLE instead.")
            dropped = ctx.ms.delete_table(fq(full))
            _drop_data(E, ctx, dropped)
        elif typ == "FUNCTION":
            full = E.full3(ctx, st["name"], "FUNCTION")
            _check_write(ctx, full[0])
            ctx.ms.delete_function(fq(full))
        elif typ == "VOLUME":
            full = E.full3(ctx, st["name"], "VOLUME")
            _check_write(ctx, full[0])
            ctx.ms.delete_volume(fq(full))
    except UCError as e:
        if st["if_exists"] and e.status == 404:
            return Result()
        raise sql_error_from_uc(e) from None
    except SqlError as e:
        if st["if_exists"] and e.error_class in ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND",
                                                  "NO_SUCH_CATALOG_EXCEPTION", "ROUTINE_NOT_FOUND",
                                                  "VOLUME_NOT_FOUND"):
            return Result()
        raise
    return Result()


# ---- ALTER --------------------------------------------------------------------------------------

def owner(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    if typ in ("TABLE", "VIEW", "SCHEMA", "VOLUME", "FUNCTION", "CATALOG"):
        _check_write(ctx, parts[0])
    with uc_errors():
        ctx.ms.set_owner(REST_TYPE.get(typ, typ), sec_name(typ, parts), st["owner"], by=ctx.user)
    return Result()


def set_tags(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    _check_write(ctx, parts[0])
    with uc_errors():
        if st["column"]:
            ctx.ms.get_table(fq(parts)).column(st["column"])
        ctx.ms.set_tags(REST_TYPE.get(typ, typ), sec_name(typ, parts),
                        {k: ("" if v is None else v) for k, v in st["tags"].items()},
                        column=st["column"])
    return Result()


def unset_tags(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    _check_write(ctx, parts[0])
    with uc_errors():
        ctx.ms.unset_tags(REST_TYPE.get(typ, typ), sec_name(typ, parts), list(st["keys"]),
                          column=st["column"])
    return Result()


def _table_for_alter(E, ctx, st, expect_view=None):
    full = E.full3(ctx, st["name"], st["type"])
    _check_write(ctx, full[0])
    with uc_errors():
        t = ctx.ms.get_table(fq(full))
    if expect_view is False and t.is_view:
        raise SqlError("EXPECT_TABLE_NOT_VIEW", f"{quote_name(*full)} is a view; this ALTER needs a table.")
    return t, full


def set_properties(E, ctx, st):
    typ = st["type"]
    if typ in ("TABLE", "VIEW"):
        t, full = _table_for_alter(E, ctx, st)
        props = dict(t.properties or {})
        props.update({k: ("" if v is None else v) for k, v in st["properties"].items()})
        with uc_errors():
            ctx.ms.update_table(fq(full), by=ctx.user, properties=props)
        _delta_commit(E, ctx, t, full, "SET TBLPROPERTIES", {"properties": json.dumps(st["properties"])})
        return Result()
    parts = names_for(E, ctx, typ, st["name"])
    _check_write(ctx, parts[0])
    with uc_errors():
        obj = ctx.ms.get_securable(typ, sec_name(typ, parts))
        props = dict(getattr(obj, "properties", None) or {})
        props.update(st["properties"])
        if typ == "SCHEMA":
            ctx.ms.update_schema(fq(parts), by=ctx.user, properties=props)
        elif typ == "CATALOG":
            ctx.ms.update_catalog(parts[0], by=ctx.user, properties=props)
        else:
            raise SqlError("UNSUPPORTED_FEATURE", f"SET PROPERTIES is not supported on {typ}.")
    return Result()


def unset_properties(E, ctx, st):
    t, full = _table_for_alter(E, ctx, st)
    props = {k: v for k, v in (t.properties or {}).items() if k not in set(st["keys"])}
    with uc_errors():
        ctx.ms.update_table(fq(full), by=ctx.user, properties=props)
    _delta_commit(E, ctx, t, full, "UNSET TBLPROPERTIES", {"properties": json.dumps(st["keys"])})
    return Result()


def row_filter(E, ctx, st):
    t, full = _table_for_alter(E, ctx, st, expect_view=False)
    value = None
    if st["function"]:
        ffull = E.full3(ctx, st["function"], "FUNCTION")
        with uc_errors():
            ctx.ms.get_function(fq(ffull))
            for c in st["columns"]:
                t.column(c)
        value = {"function_name": dotted(ffull), "input_column_names": list(st["columns"])}
    with uc_errors():
        ctx.ms.update_table(fq(full), by=ctx.user, row_filter=value)
    return Result()


def column_mask(E, ctx, st):
    t, full = _table_for_alter(E, ctx, st, expect_view=False)
    fname = None
    if st["function"]:
        ffull = E.full3(ctx, st["function"], "FUNCTION")
        with uc_errors():
            ctx.ms.get_function(fq(ffull))
        fname = dotted(ffull)
    with uc_errors():
        t.column(st["column"])
        ctx.ms.set_column_mask(fq(full), st["column"], fname, using_column_names=list(st["using"]) or None)
    return Result()


def add_columns(E, ctx, st):
    t, full = _table_for_alter(E, ctx, st, expect_view=False)
    cols = [c.info() for c in t.columns]
    new = []
    for c in st["columns"]:
        tt = norm_dbx(c["type"])
        d = {"name": c["name"], "type_text": tt, "nullable": True}
        if c["comment"] is not None:
            d["comment"] = c["comment"]
        new.append(d)
    with uc_errors():
        ctx.ms.update_table(fq(full), by=ctx.user, columns=cols + new)
    E.physical_for(ctx, t)
    old, phys = E.store.begin_write(ctx.cur, E.data_key(t))
    for d in new:
        ctx.cur.execute(f"ALTER TABLE {qi(phys)} ADD COLUMN {qi(d['name'])} {dbx_to_duck(d['type_text'])}")
    td = E.store.get(E.data_key(t))
    td.columns = td.columns + [(d["name"], dbx_to_duck(d["type_text"])) for d in new]
    delta = t.data_source_format == "DELTA"
    E.store.commit_write(ctx.cur, E.data_key(t), phys, "rewrite", changed=False,
                         n=t.current_version + 1 if delta else None)
    if delta:
        E._history(ctx, full, "ADD COLUMNS", {"columns": json.dumps([d["name"] for d in new])}, None,
                   t.current_version)
    return Result()


def rename(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    _check_write(ctx, parts[0])
    new = st["new_name"][-1]
    with uc_errors():
        if typ in ("TABLE", "VIEW"):
            ctx.ms.update_table(fq(parts), by=ctx.user, new_name=new)
        elif typ == "SCHEMA":
            ctx.ms.update_schema(fq(parts), by=ctx.user, new_name=new)
        elif typ == "CATALOG":
            ctx.ms.update_catalog(parts[0], by=ctx.user, new_name=new)
        elif typ == "VOLUME":
            ctx.ms.update_volume(fq(parts), by=ctx.user, new_name=new)
        else:
            raise SqlError("UNSUPPORTED_FEATURE", f"RENAME is not supported on {typ}.")
    return Result()


def set_location(E, ctx, st):
    raise SqlError("UNSUPPORTED_FEATURE", "ALTER ... SET LOCATION is not supported by the simulator.")


def comment(E, ctx, st):
    typ = st["type"]
    if typ == "COLUMN":
        full = E.full3(ctx, st["name"])
        _check_write(ctx, full[0])
        with uc_errors():
            t = ctx.ms.get_table(fq(full))
            t.column(st["column"])
        cols = []
        for c in t.columns:
            d = c.info()
            if c.name.lower() == st["column"].lower():
                d["comment"] = st["comment"]
                if st["comment"] is None:
                    d.pop("comment", None)
            cols.append(d)
        with uc_errors():
            ctx.ms.update_table(fq(full), by=ctx.user, columns=cols)
        _delta_commit(E, ctx, t, full, "CHANGE COLUMN",
                      {"column": json.dumps({"name": st["column"], "comment": st["comment"]})})
        return Result()
    parts = names_for(E, ctx, typ, st["name"])
    _check_write(ctx, parts[0])
    with uc_errors():
        if typ in ("TABLE", "VIEW"):
            t = ctx.ms.get_table(fq(parts))
            ctx.ms.update_table(fq(parts), by=ctx.user, comment=st["comment"])
            _delta_commit(E, ctx, t, parts, "SET TBLPROPERTIES",
                          {"properties": json.dumps({"comment": st["comment"]})})
        elif typ == "SCHEMA":
            ctx.ms.update_schema(fq(parts), by=ctx.user, comment=st["comment"])
        elif typ == "CATALOG":
            ctx.ms.update_catalog(parts[0], by=ctx.user, comment=st["comment"])
        elif typ == "VOLUME":
            ctx.ms.update_volume(fq(parts), by=ctx.user, comment=st["comment"])
        else:
            raise SqlError("UNSUPPORTED_FEATURE", f"COMMENT ON {typ} is not supported.")
    return Result()


def alter_share(E, ctx, st):
    if st["object_type"] == "SCHEMA":
        name = E.full2(ctx, st["name"])
    else:
        name = E.full3(ctx, st["name"])
    obj = {"name": dotted(name), "data_object_type": st["object_type"]}
    if st["alias"]:
        obj["shared_as"] = st["alias"]
    if st["history"] is not None:
        obj["history_data_sharing_status"] = "ENABLED" if st["history"] else "DISABLED"
    if st["comment"]:
        obj["comment"] = st["comment"]
    with uc_errors():
        ctx.ms.update_share(st["share"], updates=[{"action": st["action"], "data_object": obj}],
                            by=ctx.user)
    return Result()


# ---- GRANT / REVOKE -----------------------------------------------------------------------------

def grant(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    privs = _privs_rest(st["privileges"])
    change = {"principal": st["principal"], ("add" if st["kind"] == "grant" else "remove"): privs}
    with uc_errors():
        if typ == "SHARE":
            ctx.ms.update_share_permissions(parts[0], [change])
            return Result()
        if typ in ("TABLE", "VIEW", "SCHEMA", "VOLUME", "FUNCTION", "CATALOG"):
            ctx.ms.check_catalog_access(parts[0], ctx.workspace_id)
        obj = ctx.ms.get_securable(REST_TYPE.get(typ, typ), sec_name(typ, parts))
        if typ == "VIEW" and not obj.is_view:
            raise SqlError("EXPECT_VIEW_NOT_TABLE", f"{quote_name(*parts)} is a table, not a view.")
        if ctx.enforce and ctx.user not in (obj.owner, ctx.ms.owner) and \
                typ in ("TABLE", "VIEW", "SCHEMA", "VOLUME", "FUNCTION", "CATALOG") and \
                not ctx.ms.has_privilege(ctx.user, REST_TYPE.get(typ, typ), sec_name(typ, parts), "MANAGE"):
            raise SqlError("PERMISSION_DENIED",
                           f"User does not have MANAGE on {typ.title()} '{'.'.join(parts)}' (needed to "
                           "grant or revoke; owners can).")
        ctx.ms.update_grants(REST_TYPE.get(typ, typ), sec_name(typ, parts), [change])
    return Result()


_GRANT_COLS = [("Principal", "string"), ("ActionType", "string"), ("ObjectType", "string"),
               ("ObjectKey", "string")]


def show_grants(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    rtype = REST_TYPE.get(typ, typ)
    name = sec_name(typ, parts)
    rows = []
    with uc_errors():
        if typ in ("TABLE", "VIEW", "SCHEMA", "VOLUME", "FUNCTION", "CATALOG"):
            ctx.ms.check_catalog_access(parts[0], ctx.workspace_id)
        obj = ctx.ms.get_securable(rtype, name)
        eff = ctx.ms.effective_grants(rtype, name, st["principal"])
    own_type = "VIEW" if getattr(obj, "is_view", False) else rtype
    key = ".".join(parts) if rtype != "METASTORE" else ctx.ms.metastore_id
    if obj.owner and (st["principal"] is None or st["principal"] == obj.owner):
        rows.append([obj.owner, "OWN", own_type, key.lower()])
    for e in eff:
        for p in e["privileges"]:
            otype = p.get("inherited_from_type") or own_type
            okey = p.get("inherited_from_name") or key.lower()
            rows.append([e["principal"], priv_sql(p["privilege"]), otype, okey])
    return Result(list(_GRANT_COLS), rows)


# ---- SHOW ---------------------------------------------------------------------------------------

def show(E, ctx, st):
    what = st["what"]
    with uc_errors():
        if what == "CATALOGS":
            names = [c.name for c in ctx.ms.list_catalogs(ctx.workspace_id)]
            return Result([("catalog", "string")], [[n] for n in names if _like(st["like"], n)])
        if what == "SCHEMAS":
            cat = st["in"][0] if st["in"] else E._cat(ctx, ["<schema>"])
            ctx.ms.check_catalog_access(cat, ctx.workspace_id)
            names = [s.name for s in ctx.ms.list_schemas(cat)]
            return Result([("databaseName", "string")], [[n] for n in names if _like(st["like"], n)])
        cat, sch = E.full2(ctx, st["in"]) if st["in"] else (E._cat(ctx, ["<table>"]), ctx.schema or "default")
        ctx.ms.check_catalog_access(cat, ctx.workspace_id)
        if what in ("TABLES", "VIEWS"):
            tables = ctx.ms.list_tables(cat, sch)
            if what == "TABLES":
                return Result([("database", "string"), ("tableName", "string"), ("isTemporary", "boolean")],
                              [[sch, t.name, False] for t in tables if _like(st["like"], t.name)])
            return Result([("namespace", "string"), ("viewName", "string"), ("isTemporary", "boolean"),
                           ("isMaterialized", "boolean")],
                          [[sch, t.name, False, t.table_type == "MATERIALIZED_VIEW"] for t in tables
                           if t.is_view and _like(st["like"], t.name)])
        if what == "VOLUMES":
            return Result([("database", "string"), ("volume_name", "string")],
                          [[sch, v.name] for v in ctx.ms.list_volumes(cat, sch) if _like(st["like"], v.name)])
        if what == "FUNCTIONS":
            return Result([("function", "string")],
                          [[f"{cat}.{sch}.{f.name}"] for f in ctx.ms.list_functions(cat, sch)
                           if _like(st["like"], f.name)])
    raise SqlError("PARSE_SYNTAX_ERROR", f"Unsupported SHOW {what}.")


def _sql_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def show_create(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    t = res.table
    name = ".".join(full).lower()
    if t.is_view:
        lines = [f"CREATE VIEW {name} ("]
        lines.append(",\n".join(f"  {c.name}" + (f" COMMENT {_sql_str(c.comment)}" if c.comment else "")
                                for c in t.columns) + ")")
        if t.comment:
            lines.append(f"COMMENT {_sql_str(t.comment)}")
        props = {k: v for k, v in (t.properties or {}).items() if not k.startswith("view.")}
        if props:
            lines.append("TBLPROPERTIES (\n" + ",\n".join(f"  {_sql_str(k)} = {_sql_str(str(v))}"
                                                        for k, v in sorted(props.items())) + ")")
        lines.append(f"AS {t.view_definition}")
        return Result([("createtab_stmt", "string")], [["\n".join(lines)]])
    lines = [f"CREATE TABLE {name} ("]
    lines.append(",\n".join(f"  {c.name} {c.type_text.upper()}" + ("" if c.nullable else " NOT NULL") +
                            (f" COMMENT {_sql_str(c.comment)}" if c.comment else "") for c in t.columns) + ")")
    lines.append(f"USING {(t.data_source_format or 'DELTA').lower()}")
    parts = sorted((c.partition_index, c.name) for c in t.columns if c.partition_index is not None)
    if parts:
        lines.append("PARTITIONED BY (" + ", ".join(n for _, n in parts) + ")")
    if t.table_type == "EXTERNAL" and t.storage_location:
        lines.append(f"LOCATION {_sql_str(t.storage_location)}")
    if t.comment:
        lines.append(f"COMMENT {_sql_str(t.comment)}")
    if t.properties:
        lines.append("TBLPROPERTIES (\n" + ",\n".join(f"  {_sql_str(k)} = {_sql_str(str(v))}"
                                                    for k, v in sorted(t.properties.items())) + ")")
    return Result([("createtab_stmt", "string")], [["\n".join(lines) + "\n"]])


def show_properties(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    props = res.table.properties or {}
    rows = [[k, str(v)] for k, v in sorted(props.items()) if st["key"] is None or k == st["key"]]
    if st["key"] is not None and not rows:
        rows = [[st["key"], f"Table {'.'.join(full)} does not have property: {st['key']}"]]
    return Result([("key", "string"), ("value", "string")], rows)


def show_columns(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    return Result([("col_name", "string")], [[c.name] for c in res.table.columns])


# ---- DESCRIBE -----------------------------------------------------------------------------------

_HISTORY_COLS = [("version", "bigint"), ("timestamp", "timestamp"), ("userId", "string"),
                 ("userName", "string"), ("operation", "string"),
                 ("operationParameters", "map<string,string>"), ("job", "struct<jobId:string>"),
                 ("notebook", "struct<notebookId:string>"), ("clusterId", "string"),
                 ("readVersion", "bigint"), ("isolationLevel", "string"), ("isBlindAppend", "boolean"),
                 ("operationMetrics", "map<string,string>"), ("userMetadata", "string"),
                 ("engineInfo", "string")]


def describe_history(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    t = res.table
    if t.is_view:
        raise SqlError("EXPECT_TABLE_NOT_VIEW",
                       f"'DESCRIBE HISTORY' expects a table. {quote_name(*full)} is a view.")
    if t.data_source_format != "DELTA":
        raise SqlError("DELTA_TABLE_NOT_FOUND",
                       f"{quote_name(*full)} is not a Delta table: DESCRIBE HISTORY is only "
                       "supported for Delta tables.")
    # the real log, read with delta-rs (the model's summary only for a table without a log yet)
    hist = E.store.read_history(E.data_key(t), st["limit"])
    if hist is None:
        with uc_errors():
            hist = ctx.ms.history(fq(full), st["limit"])
    rows = []
    for h in hist:
        rows.append([h["version"], _ts(h["timestamp"]), h.get("userId") or h.get("userName"),
                     h.get("userName"), h["operation"], dict(h.get("operationParameters") or {}),
                     None, None, None, h.get("readVersion"), h.get("isolationLevel", "WriteSerializable"),
                     h.get("isBlindAppend", False), dict(h.get("operationMetrics") or {}), None,
                     h.get("engineInfo")])
    return Result(list(_HISTORY_COLS), rows)


def describe_detail(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    t = res.table
    files, size = 0, 0
    td = E.store.get(E.data_key(t))
    if td is not None and td.current >= 0:
        fl = td.versions[td.current].files
        files, size = len(fl), sum(f.size for f in fl)
    cols = [("format", "string"), ("id", "string"), ("name", "string"), ("description", "string"),
            ("location", "string"), ("createdAt", "timestamp"), ("lastModified", "timestamp"),
            ("partitionColumns", "array<string>"), ("numFiles", "bigint"), ("sizeInBytes", "bigint"),
            ("properties", "map<string,string>"), ("minReaderVersion", "int"),
            ("minWriterVersion", "int")]
    last = t.history[-1]["timestamp"] if t.history else t.updated_at
    return Result(cols, [[(t.data_source_format or "delta").lower(), t.table_id, ".".join(full).lower(),
                          t.comment, t.storage_location, _ts(t.created_at), _ts(last), [], files, size,
                          dict(t.properties or {}), 1, 2]])


def describe_table(E, ctx, st):
    res, full = E.resolve_table(ctx, st["name"])
    t = res.table
    rows = [[c.name, c.type_text, c.comment] for c in t.columns]
    if st["extended"]:
        rows.append(["", "", ""])
        rows.append(["# Detailed Table Information", "", ""])
        info = [("Catalog", full[0].lower()), ("Database", full[1].lower()), ("Table", t.name),
                ("Created Time", _ts(t.created_at).strftime("%a %b %d %H:%M:%S UTC %Y") if t.created_at else None),
                ("Created By", "Spark"), ("Type", t.table_type),
                ("Comment", t.comment)]
        if t.is_view:
            info.append(("View Text", t.view_definition))
            info.append(("View Original Text", t.view_definition))
        else:
            info.append(("Location", t.storage_location))
            info.append(("Provider", (t.data_source_format or "delta").lower()))
        info.append(("Owner", t.owner))
        if t.properties:
            info.append(("Table Properties",
                         "[" + ",".join(f"{k}={v}" for k, v in sorted(t.properties.items())) + "]"))
        rows.extend([k, v, ""] for k, v in info if v is not None)
    return Result([("col_name", "string"), ("data_type", "string"), ("comment", "string")], rows)


def describe_object(E, ctx, st):
    typ = st["type"]
    parts = names_for(E, ctx, typ, st["name"])
    with uc_errors():
        obj = ctx.ms.get_securable(typ, sec_name(typ, parts))
    if typ == "CATALOG":
        rows = [["Catalog Name", obj.name], ["Comment", obj.comment or ""], ["Owner", obj.owner],
                ["Catalog Type", obj.catalog_type]]
        return Result([("info_name", "string"), ("info_value", "string")], rows)
    if typ == "SCHEMA":
        info = obj.info()
        rows = [["Catalog Name", parts[0].lower()], ["Namespace Name", obj.name],
                ["Comment", obj.comment or ""], ["Location", info.get("storage_location") or ""],
                ["Owner", obj.owner]]
        return Result([("database_description_item", "string"), ("database_description_value", "string")],
                      rows)
    if typ == "VOLUME":
        return Result([("name", "string"), ("catalog", "string"), ("database", "string"),
                       ("owner", "string"), ("storage_location", "string"), ("volume_type", "string"),
                       ("comment", "string")],
                      [[obj.name, parts[0].lower(), parts[1].lower(), obj.owner, obj.storage_location,
                        obj.volume_type, obj.comment]])
    spec = obj.spec
    prm = ", ".join(f"{p['name']} {p['type_text'].upper()}"
                    for p in (spec.get("input_params") or {}).get("parameters") or [])
    rows = [[f"Function: {obj.full_name}"], ["Type:     SCALAR"], [f"Input:    {prm}"],
            [f"Returns:  {str(spec.get('full_data_type', '')).upper()}"]]
    if st["extended"]:
        rows.append([f"Body:     {spec.get('routine_definition')}"])
    return Result([("function_desc", "string")], rows)


def use(E, ctx, st):
    with uc_errors():
        if st["type"] == "CATALOG":
            ctx.ms.check_catalog_access(st["name"][0], ctx.workspace_id)
        else:
            cat, sch = E.full2(ctx, st["name"])
            ctx.ms.get_schema(fq([cat, sch]))
    return Result()


_HANDLERS = {
    "create_catalog": create_catalog, "create_schema": create_schema, "create_volume": create_volume,
    "create_view": create_view, "create_function": create_function, "clone": clone, "drop": drop,
    "owner": owner, "set_tags": set_tags, "unset_tags": unset_tags, "set_properties": set_properties,
    "unset_properties": unset_properties, "row_filter": row_filter, "column_mask": column_mask,
    "add_columns": add_columns, "rename": rename, "set_location": set_location, "comment": comment,
    "alter_share": alter_share, "grant": grant, "revoke": grant, "show": show,
    "show_grants": show_grants, "show_create": show_create, "show_properties": show_properties,
    "show_columns": show_columns, "describe_history": describe_history,
    "describe_detail": describe_detail, "describe_table": describe_table,
    "describe_object": describe_object, "use": use,
}
