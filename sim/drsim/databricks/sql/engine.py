"""The SQL engine: Databricks SQL on DuckDB, acting on the Unity Catalog model.

Entry point: ``ENGINE.execute(ctx, text) -> Result``.

* SELECT / WITH / VALUES / INSERT / UPDATE / DELETE / MERGE and CREATE TABLE (columns or AS SELECT)
  are parsed by sqlglot (dialect "databricks"); table references are resolved through the model
  (``ms.resolve`` — shared catalogs reach the provider's table) and rewritten to physical DuckDB
  tables (store.py), views are expanded from their stored definition, SQL UDFs are inlined, named
  parameters become typed sqlglot literals (never string substitution), and the tree is generated
  in DuckDB's dialect.
* Everything else (DDL on catalogs/schemas/volumes/views/functions, DEEP CLONE, GRANT/REVOKE,
  SHOW, DESCRIBE, tags, owners, comments...) is parsed by ddl.py and run by meta.py.

Statements run one at a time under ENGINE.lock (the simulator is small; this keeps the DuckDB
versions and the model's history in step).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import threading
from dataclasses import dataclass, field

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ...blob import BLOBS, Loc, parse_url
from ..ucmodel import UC, UCError
from .ddl import parse_other
from .errors import SqlError, quote_name
from .lexer import split_statements, tokenize
from .store import Store, qi
from .types import dbx_to_duck, duck_to_dbx, norm_dbx

MAX_VIEW_DEPTH = 32
DEFAULT_MANAGED_ACCOUNT = "drsimmanaged"


@dataclass
class Ctx:
    ms: object                    # ucmodel.Metastore of the caller's workspace
    workspace_id: int | None
    user: str
    catalog: str | None
    schema: str | None
    params: dict = field(default_factory=dict)   # name -> (value or None, TYPE or None)
    cancel: threading.Event | None = None
    cur: object = None            # DuckDB cursor of this statement
    depth: int = 0
    enforce: bool = False         # check privileges (admin /sql/config enforce_privileges)

    def child(self, **kw) -> "Ctx":
        d = dict(self.__dict__)
        d.update(kw)
        return Ctx(**d)


@dataclass
class Result:
    columns: list = field(default_factory=list)    # [(name, databricks type text)]
    rows: list = field(default_factory=list)       # [[python values]]
    copied_files: int = 0                          # files a CLONE copied (simulated copy time)


# ---------------------------------------------------------------------------------------------
# model errors -> SQL error classes

_REASONS = {
    "CATALOG_DOES_NOT_EXIST": "NO_SUCH_CATALOG_EXCEPTION",
    "SCHEMA_DOES_NOT_EXIST": "SCHEMA_NOT_FOUND",
    "TABLE_DOES_NOT_EXIST": "TABLE_OR_VIEW_NOT_FOUND",
    "VOLUME_DOES_NOT_EXIST": "VOLUME_NOT_FOUND",
    "FUNCTION_DOES_NOT_EXIST": "ROUTINE_NOT_FOUND",
    "COLUMN_DOES_NOT_EXIST": "UNRESOLVED_COLUMN",
    "CATALOG_ALREADY_EXISTS": "CATALOG_ALREADY_EXISTS",
    "SCHEMA_ALREADY_EXISTS": "SCHEMA_ALREADY_EXISTS",
    "TABLE_ALREADY_EXISTS": "TABLE_OR_VIEW_ALREADY_EXISTS",
    "VOLUME_ALREADY_EXISTS": "VOLUME_ALREADY_EXISTS",
    "FUNCTION_ALREADY_EXISTS": "ROUTINE_ALREADY_EXISTS",
    "SCHEMA_NOT_EMPTY": "SCHEMA_NOT_EMPTY",
    "CATALOG_NOT_EMPTY": "SCHEMA_NOT_EMPTY",
}


_NOT_FOUND_KIND = {"TABLE_DOES_NOT_EXIST": "TABLE", "SCHEMA_DOES_NOT_EXIST": "SCHEMA",
                   "CATALOG_DOES_NOT_EXIST": "CATALOG", "FUNCTION_DOES_NOT_EXIST": "FUNCTION",
                   "VOLUME_DOES_NOT_EXIST": "VOLUME"}


def sql_error_from_uc(e: UCError) -> SqlError:
    kind = _NOT_FOUND_KIND.get(e.reason)
    if kind is not None:
        import re
        m = re.search(r"'([^']+)'", e.message)
        if m:
            name = m.group(1)
            if kind != "CATALOG":
                name = quote_name(*name.split("."))
            return SqlError.not_found(kind, name)
    cls = _REASONS.get(e.reason)
    if cls is None:
        if e.status == 403:
            cls = "PERMISSION_DENIED"
        elif e.status == 404:
            cls = e.reason if e.reason.endswith("DOES_NOT_EXIST") else "TABLE_OR_VIEW_NOT_FOUND"
        else:
            cls = "INVALID_PARAMETER_VALUE"
    return SqlError(cls, e.message)


@contextlib.contextmanager
def uc_errors():
    try:
        yield
    except UCError as e:
        raise sql_error_from_uc(e) from None


def fq(parts) -> str:
    return quote_name(*parts)


def dotted(parts) -> str:
    return ".".join(p.lower() for p in parts)


# ---------------------------------------------------------------------------------------------
# parameters

_INT_TYPES = {"INT", "INTEGER", "BIGINT", "LONG", "SMALLINT", "SHORT", "TINYINT", "BYTE"}


def literal_for(value, typ: str | None) -> exp.Expression:
    """A typed sqlglot literal for a statement parameter (value is the API's string or None)."""
    t = (typ or "STRING").upper().strip()
    base = t.split("(")[0].strip()
    if value is None:
        return exp.Null() if base in ("STRING", "VOID", "NULL") else \
            exp.Cast(this=exp.Null(), to=exp.DataType.build(t, dialect="databricks"))
    s = str(value)
    try:
        if base in ("STRING", "CHAR", "VARCHAR"):
            return exp.Literal.string(s)
        if base in _INT_TYPES:
            n = int(s.strip())
            lit = exp.Literal.number(n)
            return lit if base in ("INT", "INTEGER") else \
                exp.Cast(this=lit, to=exp.DataType.build(t, dialect="databricks"))
        if base in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "DEC", "NUMERIC"):
            decimal.Decimal(s.strip())
            if s.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
                raise ValueError(s)
            return exp.Cast(this=exp.Literal.number(s.strip()),
                            to=exp.DataType.build(t, dialect="databricks"))
        if base == "BOOLEAN":
            low = s.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(s)
            return exp.Boolean(this=low == "true")
        if base == "DATE":
            dt.date.fromisoformat(s.strip())
            return exp.Cast(this=exp.Literal.string(s.strip()), to=exp.DataType.build("DATE"))
        if base in ("TIMESTAMP", "TIMESTAMP_NTZ"):
            dt.datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
            return exp.Cast(this=exp.Literal.string(s.strip()),
                            to=exp.DataType.build(t, dialect="databricks"))
    except (ValueError, decimal.InvalidOperation, ParseError):
        raise SqlError("CAST_INVALID_INPUT",
                       f"The value '{s}' of the type \"STRING\" cannot be cast to \"{t}\" because it "
                       "is malformed.") from None
    raise SqlError("INVALID_PARAMETER_VALUE", f"Unsupported parameter type '{t}'.")


# ---------------------------------------------------------------------------------------------

_PHYS_RE = None


def _duck_error(e: Exception) -> SqlError:
    import re
    global _PHYS_RE
    if _PHYS_RE is None:
        _PHYS_RE = re.compile(r'"?d_[0-9A-Za-z_]+?_v\d+(?:_w\d+)?"?')
    msg = _PHYS_RE.sub("the table", str(e).split("\n")[0])
    if isinstance(e, duckdb.BinderException):
        if "not found" in msg and ("column" in msg.lower()):
            return SqlError("UNRESOLVED_COLUMN", f"A column or function parameter cannot be resolved: {msg}")
        if "columns but" in msg or "values were supplied" in msg:
            return SqlError("INSERT_COLUMN_ARITY_MISMATCH", msg)
        if "function" in msg.lower() and "does not exist" in msg.lower():
            return SqlError("UNRESOLVED_ROUTINE", msg)
        return SqlError("DATATYPE_MISMATCH", msg)
    if isinstance(e, duckdb.ConversionException):
        return SqlError("CAST_INVALID_INPUT", msg)
    if isinstance(e, duckdb.ConstraintException):
        return SqlError("DELTA_NOT_NULL_CONSTRAINT_VIOLATED", msg, sql_state="23502")
    if isinstance(e, duckdb.ParserException):
        return SqlError("PARSE_SYNTAX_ERROR", msg)
    if isinstance(e, duckdb.CatalogException):
        if "function" in msg.lower():
            return SqlError("UNRESOLVED_ROUTINE", msg)
        return SqlError("TABLE_OR_VIEW_NOT_FOUND", msg)
    if "[DIVIDE_BY_ZERO]" in msg:
        return SqlError("DIVIDE_BY_ZERO", "Division by zero. Use `try_divide` to tolerate divisor being 0 "
                        "and return NULL instead.", sql_state="22012")
    if isinstance(e, duckdb.InterruptException):
        return SqlError("CANCELLED", "The statement was cancelled.")
    return SqlError("INVALID_PARAMETER_VALUE" if isinstance(e, duckdb.InvalidInputException)
                    else "INTERNAL_ERROR", msg)


def parse_sql(text: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(text, read="databricks")
    except (ParseError, TokenError) as e:
        first = str(e).split("\n")[0]
        raise SqlError("PARSE_SYNTAX_ERROR", f"Syntax error: {first}.") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise SqlError("PARSE_SYNTAX_ERROR", "Expected exactly one SQL statement.")
    return trees[0]


_SQLGLOT_FIRST = {"SELECT", "WITH", "VALUES", "FROM", "INSERT", "UPDATE", "DELETE", "MERGE", "TABLE"}


class Engine:
    def __init__(self):
        self.store = Store()
        self.lock = threading.RLock()
        self._tmp = 0

    def reset(self):
        with self.lock:
            self.store.reset()
            BLOBS.wipe()

    # ---- entry --------------------------------------------------------------------------------
    def execute(self, ctx: Ctx, text: str) -> Result:
        pieces = split_statements(text)
        if not pieces:
            raise SqlError("PARSE_SYNTAX_ERROR", "Syntax error: empty statement.")
        if len(pieces) > 1:
            raise SqlError("PARSE_SYNTAX_ERROR",
                           "Syntax error: only one statement per request is supported (found "
                           f"{len(pieces)}).")
        text = pieces[0]
        with self.lock, UC.lock:
            cur = self.store.cursor()
            try:
                ctx.cur = cur
                return self._dispatch(ctx, text)
            except UCError as e:
                raise sql_error_from_uc(e) from None
            except duckdb.Error as e:
                raise _duck_error(e) from None
            except (ParseError, TokenError) as e:
                raise SqlError("PARSE_SYNTAX_ERROR", f"Syntax error: {str(e).splitlines()[0]}.") from None
            except sqlglot.errors.SqlglotError as e:
                raise SqlError("UNSUPPORTED_FEATURE", f"Not supported by the simulator: {e}") from None
            finally:
                try:
                    cur.close()
                except duckdb.Error:
                    pass

    def _dispatch(self, ctx: Ctx, text: str) -> Result:
        toks = tokenize(text)
        words = [t.value.upper() for t in toks[:6] if t.kind == "WORD"]
        first = toks[0]
        if first.kind == "OP" and first.value == "(":
            return self.run_query(ctx, parse_sql(text))
        if not words:
            raise SqlError("PARSE_SYNTAX_ERROR", "Syntax error: expected a statement.")
        head = words[0]
        if head in _SQLGLOT_FIRST:
            tree = parse_sql(text)
            if isinstance(tree, exp.Insert):
                return self.run_insert(ctx, tree)
            if isinstance(tree, exp.Update):
                return self.run_update_delete(ctx, tree, "UPDATE")
            if isinstance(tree, exp.Delete):
                return self.run_update_delete(ctx, tree, "DELETE")
            if isinstance(tree, exp.Merge):
                return self.run_merge(ctx, tree)
            if isinstance(tree, (exp.Query, exp.Values)):
                return self.run_query(ctx, tree)
            raise SqlError("PARSE_SYNTAX_ERROR", f"Syntax error: unsupported statement {head}.")
        if head == "CREATE" and self._is_plain_create_table(toks):
            tree = parse_sql(text)
            if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
                return self.run_create_table(ctx, tree, text)
            raise SqlError("PARSE_SYNTAX_ERROR", "Syntax error: unsupported CREATE TABLE form.")
        from . import meta
        params = {k: v[0] for k, v in ctx.params.items()}
        st = parse_other(text, params)
        return meta.run(self, ctx, st)

    @staticmethod
    def _is_plain_create_table(toks) -> bool:
        """CREATE [OR REPLACE] TABLE ... without CLONE (CLONE goes to ddl.py)."""
        i = 1
        if toks[i].is_word("OR") and toks[i + 1].is_word("REPLACE"):
            i += 2
        if toks[i].is_word("EXTERNAL"):
            i += 1
        if not toks[i].is_word("TABLE"):
            return False
        depth = 0
        for t in toks[i:]:
            if t.kind == "OP" and t.value == "(":
                depth += 1
            elif t.kind == "OP" and t.value == ")":
                depth -= 1
            elif depth == 0 and t.is_word("CLONE"):
                return False
            elif depth == 0 and t.is_word("AS"):
                break
        return True

    # ---- name resolution ----------------------------------------------------------------------
    def full3(self, ctx: Ctx, parts: list[str], kind: str = "TABLE") -> list[str]:
        parts = list(parts)
        if len(parts) == 3:
            return parts
        if len(parts) == 2:
            return [self._cat(ctx, parts), *parts]
        if len(parts) == 1:
            return [self._cat(ctx, parts), ctx.schema or "default", parts[0]]
        raise SqlError("REQUIRES_SINGLE_PART_NAMESPACE" if len(parts) > 3 else "PARSE_SYNTAX_ERROR",
                       f"{kind.lower()} name {'.'.join(parts)} has too many parts (expected "
                       "catalog.schema.name).")

    def full2(self, ctx: Ctx, parts: list[str]) -> list[str]:
        if len(parts) == 2:
            return list(parts)
        if len(parts) == 1:
            return [self._cat(ctx, parts), parts[0]]
        raise SqlError("REQUIRES_SINGLE_PART_NAMESPACE",
                       f"schema name {'.'.join(parts)} must have one or two parts.")

    @staticmethod
    def _cat(ctx: Ctx, parts) -> str:
        if not ctx.catalog:
            raise SqlError("NO_SUCH_CATALOG_EXCEPTION",
                           f"No current catalog to resolve {'.'.join(parts)}: pass 'catalog' in the "
                           "request or qualify the name with its catalog.")
        return ctx.catalog

    def resolve_table(self, ctx: Ctx, parts: list[str]):
        """-> ucmodel.Resolved for a table or view name (consumer naming)."""
        full = self.full3(ctx, parts)
        with uc_errors():
            ctx.ms.check_catalog_access(full[0], ctx.workspace_id)
            return ctx.ms.resolve(fq(full)), full

    def require(self, ctx: Ctx, ms, privilege: str, stype: str, full: list[str], what: str = ""):
        """With privilege enforcement on: the caller needs USE CATALOG + USE SCHEMA on the parents
        and `privilege` on the object (owners and the metastore owner pass). FIDELITY: no groups."""
        if not ctx.enforce or ctx.depth > 0:
            return
        if ctx.user == getattr(ms, "owner", None):
            return
        with uc_errors():
            checks = [("USE_CATALOG", "CATALOG", full[0])]
            if stype != "CATALOG":
                checks.append(("USE_SCHEMA", "SCHEMA", fq(full[:2])))
            if privilege:
                checks.append((privilege, stype, fq(full) if stype != "CATALOG" else full[0]))
            for priv, t, name in checks:
                if not ms.has_privilege(ctx.user, t, name, priv):
                    raise SqlError("PERMISSION_DENIED",
                                   f"User does not have {priv.replace('_', ' ')} on {t.title()} "
                                   f"'{name.replace('`', '')}'{what}.")

    def local_table(self, ctx: Ctx, full: list[str]):
        try:
            return ctx.ms.get_table(fq(full))
        except UCError as e:
            if e.status == 404 and e.reason == "TABLE_DOES_NOT_EXIST":
                return None
            raise sql_error_from_uc(e) from None

    # ---- physical data --------------------------------------------------------------------------
    def data_key(self, table) -> str:
        """Store key of a table's data: its table_id, or for an EXTERNAL non-Delta table its
        storage location (the files belong to the location: DROP TABLE keeps them, a table
        registered again at the location reads them, storage replication copies them). Binds
        the key to the table's place in blob storage (store.bind)."""
        if table.table_type == "EXTERNAL" and (table.data_source_format or "DELTA") != "DELTA" \
                and table.storage_location:
            key = location_key(table.storage_location)
            self.store.bind(key, parse_url(table.storage_location), delta=False)
            return key
        if table.storage_location:
            loc = parse_url(table.storage_location)
        else:
            # FIDELITY: Databricks refuses a managed table without a managed location; the
            # simulator's model allows one (tests create catalogs without storage roots), and
            # its data goes to this account, under the metastore's id.
            ms = table.schema.catalog.metastore
            loc = Loc(DEFAULT_MANAGED_ACCOUNT, "unity", f"{ms.metastore_id}/tables/{table.table_id}")
        self.store.bind(table.table_id, loc, delta=(table.data_source_format or "DELTA") == "DELTA")
        return table.table_id

    def physical_for(self, ctx: Ctx, table, version: int | None = None) -> str:
        key = self.data_key(table)
        td = self.store.get(key, probe=table.current_version >= 0)
        if td is None:
            cols = [(c.name, dbx_to_duck(c.type_text)) for c in table.columns]
            if not cols:
                raise SqlError("UNABLE_TO_INFER_SCHEMA",
                               f"Unable to infer schema for {table.full_name}: it has no columns.")
            self.store.materialize(ctx.cur, key, cols, n=max(table.current_version, 0))
            table.data_ref = key
        return self.store.physical(key, version)

    def version_for(self, table, ver: exp.Expression | None) -> int | None:
        if ver is None:
            return None
        kind = str(ver.this).upper()
        val = ver.expression
        if kind == "VERSION":
            if not isinstance(val, exp.Literal) or val.is_string or not val.name.isdigit():
                raise SqlError("INVALID_TIME_TRAVEL_SPEC", "VERSION AS OF needs a version number.")
            n = int(val.name)
            if n > table.current_version:
                raise SqlError("INVALID_TIME_TRAVEL_SPEC",
                               f"Cannot time travel Delta table to version {n}. Available versions: "
                               f"[0, {table.current_version}].")
            return n
        ts_text = val.name
        try:
            ts = dt.datetime.fromisoformat(ts_text.replace("Z", "+00:00"))
        except ValueError:
            raise SqlError("INVALID_TIME_TRAVEL_SPEC", f"Invalid timestamp '{ts_text}'.") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.timezone.utc)
        ms = ts.timestamp() * 1000
        best = None
        for h in table.history:
            if h["timestamp"] <= ms:
                best = h["version"]
        if best is None:
            raise SqlError("INVALID_TIME_TRAVEL_SPEC",
                           f"The provided timestamp ({ts_text}) is before the earliest version "
                           "available to this table.")
        return best

    # ---- query rewriting ------------------------------------------------------------------------
    def prepare(self, ctx: Ctx, tree: exp.Expression, skip=(), deps: set | None = None,
                fdeps: set | None = None) -> exp.Expression:
        self.bind_params(ctx, tree)
        self.inline_functions(ctx, tree, fdeps)
        self.rewrite_tables(ctx, tree, skip, deps)
        _ansi_division(tree)
        return tree

    def bind_params(self, ctx: Ctx, tree: exp.Expression):
        for ph in list(tree.find_all(exp.Placeholder)):
            name = ph.name
            if not name or name == "?":
                raise SqlError("UNSUPPORTED_FEATURE",
                               "Positional parameters (?) are not supported by the Statement Execution "
                               "API; use named parameters (:name).")
            if name not in ctx.params:
                raise SqlError("UNBOUND_SQL_PARAMETER",
                               f"Found the unbound parameter: {name}. Please, fix `args` and provide a "
                               "mapping of the parameter to either a SQL literal or collection "
                               "constructor functions such as `map()`, `array()`, `struct()`.")
            value, typ = ctx.params[name]
            ph.replace(literal_for(value, typ))

    def inline_functions(self, ctx: Ctx, tree: exp.Expression, fdeps: set | None):
        for node in list(tree.find_all(exp.CurrentUser)):
            node.replace(exp.Literal.string(ctx.user))
        for node in list(tree.find_all(exp.CurrentCatalog)):
            node.replace(exp.Literal.string(ctx.catalog) if ctx.catalog else exp.Null())
        for cls in (exp.CurrentSchema, ):
            for node in list(tree.find_all(cls)):
                node.replace(exp.Literal.string(ctx.schema or "default"))
        for name in ("CurrentDatabase",):
            klass = getattr(exp, name, None)
            if klass is not None:
                for node in list(tree.find_all(klass)):
                    node.replace(exp.Literal.string(ctx.schema or "default"))
        for node in list(tree.find_all(exp.Anonymous)):
            fname = node.name.lower()
            parent = node.parent
            qual: list[str] = []
            target = node
            if isinstance(parent, exp.Dot) and parent.expression is node:
                qual = _dot_parts(parent.this)
                target = parent
                if qual is None:
                    continue
            if not qual:
                if fname == "current_metastore":
                    node.replace(exp.Literal.string(f"azure:{ctx.ms.region}:{ctx.ms.metastore_id}"))
                    continue
                if fname in ("current_user", "session_user", "user"):
                    node.replace(exp.Literal.string(ctx.user))
                    continue
                if fname == "is_account_group_member" or fname == "is_member":
                    node.replace(exp.Boolean(this=False))
                    continue
                if not ctx.catalog:
                    continue
            try:
                full = self.full3(ctx, qual + [fname], "FUNCTION")
            except SqlError:
                continue
            try:
                fn = ctx.ms.get_function(fq(full))
            except UCError:
                if qual:
                    raise SqlError("UNRESOLVED_ROUTINE",
                                   f"Cannot resolve routine {quote_name(*full)} on search path.") from None
                continue
            if fdeps is not None and ctx.depth == 0:
                fdeps.add(dotted(full))
            target.replace(self._expand_udf(ctx, fn, node.expressions))

    def _expand_udf(self, ctx: Ctx, fn, args) -> exp.Expression:
        spec = fn.spec if hasattr(fn, "spec") else {}
        if spec.get("routine_body", "SQL") != "SQL" or spec.get("data_type") == "TABLE_TYPE":
            raise SqlError("UNSUPPORTED_FEATURE",
                           f"The simulator only inlines scalar SQL functions ({fn.full_name}).")
        params = (spec.get("input_params") or {}).get("parameters") or []
        if len(args) > len(params):
            raise SqlError("WRONG_NUM_ARGS", f"{fn.full_name} takes {len(params)} arguments, got {len(args)}.")
        body = parse_sql("SELECT " + spec.get("routine_definition", "NULL")).expressions[0]
        mapping = {}
        for i, p in enumerate(params):
            if i < len(args):
                arg = args[i].copy()
            elif p.get("parameter_default") is not None:
                arg = sqlglot.parse_one(p["parameter_default"], read="databricks")
            else:
                raise SqlError("WRONG_NUM_ARGS", f"{fn.full_name} needs argument {p['name']}.")
            mapping[p["name"].lower()] = exp.Cast(this=arg, to=exp.DataType.build(p["type_text"], dialect="databricks"))
        for col in list(body.find_all(exp.Column)):
            if not col.table and col.name.lower() in mapping:
                col.replace(mapping[col.name.lower()].copy())
        if isinstance(body, exp.Column) and not body.table and body.name.lower() in mapping:
            body = mapping[body.name.lower()].copy()
        inner = ctx.child(catalog=fn.schema.catalog.name, schema=fn.schema.name, depth=ctx.depth + 1)
        if inner.depth > MAX_VIEW_DEPTH:
            raise SqlError("RECURSIVE_VIEW", "Function nesting too deep.")
        wrapper = exp.select(body)
        self.inline_functions(inner, wrapper, None)
        self.rewrite_tables(inner, wrapper, (), None)
        return exp.Paren(this=wrapper.expressions[0])

    def rewrite_tables(self, ctx: Ctx, tree: exp.Expression, skip=(), deps: set | None = None):
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        skip_ids = {id(s) for s in skip}
        for tbl in list(tree.find_all(exp.Table)):
            if id(tbl) in skip_ids or not isinstance(tbl.this, exp.Identifier):
                continue
            parts = [p.name for p in tbl.parts]
            if len(parts) == 1 and parts[0].lower() in ctes:
                continue
            tbl.replace(self.relation(ctx, tbl, parts, deps))

    def relation(self, ctx: Ctx, tbl: exp.Table, parts: list[str], deps: set | None) -> exp.Expression:
        alias = tbl.alias or parts[-1]
        if len(parts) >= 2 and parts[-2].lower() == "information_schema":
            from . import infoschema
            cat = parts[0] if len(parts) == 3 else self._cat(ctx, parts)
            name = infoschema.materialize(self, ctx, cat, parts[-1])
            return exp.Table(this=exp.to_identifier(name, quoted=True),
                             alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        res, full = self.resolve_table(ctx, parts)
        t = res.table
        if not res.via_share:
            self.require(ctx, ctx.ms, "SELECT", "TABLE", full)
        else:
            self.require(ctx, ctx.ms, None, "SCHEMA", full[:2])
        if deps is not None and ctx.depth == 0:
            deps.add(dotted(full))
        if t.is_view:
            if tbl.args.get("version") is not None:
                raise SqlError("UNSUPPORTED_FEATURE", "Time travel on a view is not supported.")
            if ctx.depth >= MAX_VIEW_DEPTH:
                raise SqlError("RECURSIVE_VIEW", f"View nesting too deep at {t.full_name}.")
            vcat, vsch = _view_context(t)
            inner = ctx.child(ms=res.metastore, catalog=vcat, schema=vsch, depth=ctx.depth + 1)
            sub = parse_sql(t.view_definition)
            if not isinstance(sub, exp.Query):
                raise SqlError("INVALID_VIEW_TEXT", f"The view {t.full_name} has an invalid definition.")
            self.inline_functions(inner, sub, None)
            self.rewrite_tables(inner, sub, (), None)
            cols = [exp.to_identifier(c.name, quoted=True) for c in t.columns]
            out_names = sub.named_selects if hasattr(sub, "named_selects") else []
            talias = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
            if cols and len(cols) == len(out_names) and "*" not in out_names:
                talias.set("columns", cols)
            return exp.Subquery(this=sub, alias=talias)
        version = self.version_for(t, tbl.args.get("version"))
        phys = self.physical_for(ctx, t, version)
        talias = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
        masked = [c for c in t.columns if c.mask]
        if t.row_filter or masked:
            return exp.Subquery(this=self._policy_query(ctx, res, t, phys, masked), alias=talias)
        return exp.Table(this=exp.to_identifier(phys, quoted=True), alias=talias)

    def _policy_query(self, ctx: Ctx, res, t, phys: str, masked) -> exp.Expression:
        """Row filter and column masks applied on read: SELECT <masked cols> FROM phys WHERE filter."""
        fctx = ctx.child(ms=res.metastore, catalog=t.schema.catalog.name, schema=t.schema.name,
                         depth=ctx.depth + 1)

        def call(fname: str, cols: list[str]) -> exp.Expression:
            with uc_errors():
                fn = res.metastore.get_function(fname)
            args = [exp.column(c, table="_src", quoted=True) for c in cols]
            return self._expand_udf(fctx, fn, args)

        projections = []
        for c in t.columns:
            col = exp.column(c.name, table="_src", quoted=True)
            if c.mask:
                col = exp.alias_(call(c.mask["function_name"], [c.name] + list(c.mask.get("using_column_names") or [])),
                                 c.name, quoted=True)
            projections.append(col)
        q = exp.select(*projections).from_(exp.Table(this=exp.to_identifier(phys, quoted=True),
                                                     alias=exp.TableAlias(this=exp.to_identifier("_src"))))
        if t.row_filter:
            q = q.where(call(t.row_filter["function_name"], list(t.row_filter.get("input_column_names") or [])))
        return q

    # ---- queries --------------------------------------------------------------------------------
    def run_duck(self, ctx: Ctx, sql: str) -> Result:
        if ctx.cancel is not None and ctx.cancel.is_set():
            raise SqlError("CANCELLED", "The statement was cancelled.")
        try:
            ctx.cur.execute(sql)
            desc = ctx.cur.description or []
            rows = ctx.cur.fetchall() if desc else []
        except duckdb.Error as e:
            raise _duck_error(e) from None
        cols = [(d[0], duck_to_dbx(str(d[1]))) for d in desc]
        return Result(cols, [list(r) for r in rows])

    def run_query(self, ctx: Ctx, tree: exp.Expression) -> Result:
        _name_projections(tree)
        self.prepare(ctx, tree)
        return self.run_duck(ctx, tree.sql("duckdb"))

    # ---- writes ---------------------------------------------------------------------------------
    def writable_table(self, ctx: Ctx, tbl: exp.Table):
        parts = [p.name for p in tbl.parts]
        full = self.full3(ctx, parts)
        with uc_errors():
            ctx.ms.check_catalog_access(full[0], ctx.workspace_id, write=True)
            cat = ctx.ms.get_catalog(full[0])
            if cat.catalog_type in ("DELTA_SHARING_CATALOG", "DELTASHARING_CATALOG"):
                raise SqlError("PERMISSION_DENIED",
                               f"Catalog '{cat.name}' is a read-only catalog created from a Delta "
                               "Sharing share.")
            t = ctx.ms.get_table(fq(full))
        if t.is_view:
            raise SqlError("EXPECT_TABLE_NOT_VIEW",
                           f"{quote_name(*full)} is a view. Writes need a table.")
        self.require(ctx, ctx.ms, "MODIFY", "TABLE", full)
        return t, full

    def _history(self, ctx: Ctx, full, operation: str, params: dict, metrics: dict | None = None,
                 read_version: int | None = None, blind: bool = False):
        extra = {"operationMetrics": {k: str(v) for k, v in (metrics or {}).items()},
                 "isBlindAppend": blind, "userId": ctx.user, "isolationLevel": "WriteSerializable",
                 "engineInfo": "Databricks-Runtime/drsim"}
        if read_version is not None and read_version >= 0:
            extra["readVersion"] = read_version
        with uc_errors():
            entry = ctx.ms.history_append(fq(full), operation,
                                          {k: (v if isinstance(v, str) else json.dumps(v))
                                           for k, v in params.items()},
                                          user=ctx.user, **extra)
            t = ctx.ms.get_table(fq(full))
        # the Delta commit in the table's _delta_log; whether it changed the table's metadata
        # (schema, properties, comment) is what moves UC's version stamps (objects.version_stamps)
        changed = self.store.flush(ctx.cur, self.data_key(t), entry, t.properties, t.comment)
        t.history[-1]["_metadata"] = bool(changed)
        return entry

    def run_insert(self, ctx: Ctx, tree: exp.Insert) -> Result:
        target = tree.this
        tbl = target.this if isinstance(target, exp.Schema) else target
        if not isinstance(tbl, exp.Table):
            raise SqlError("UNSUPPORTED_FEATURE", "INSERT target must be a table.")
        t, full = self.writable_table(ctx, tbl)
        self.physical_for(ctx, t)
        self.prepare(ctx, tree, skip=(tbl,))
        overwrite = bool(tree.args.get("overwrite"))
        read_version = t.current_version
        old, new = self.store.begin_write(ctx.cur, self.data_key(t))
        try:
            tbl.replace(exp.Table(this=exp.to_identifier(new, quoted=True)))
            tree.set("overwrite", None)
            if overwrite:
                ctx.cur.execute(f"DELETE FROM {qi(new)}")
            sql = tree.sql("duckdb")
            try:
                n = ctx.cur.execute(sql).fetchone()[0]
            except duckdb.Error as e:
                raise _duck_error(e) from None
        except BaseException:
            self.store.abort_write(ctx.cur, new)
            raise
        delta = t.data_source_format == "DELTA"
        self.store.commit_write(ctx.cur, self.data_key(t), new, "rewrite" if overwrite else "append",
                                added_rows=n, n=t.current_version + 1 if delta else None)
        if delta:
            self._history(ctx, full, "WRITE", {"mode": "Overwrite" if overwrite else "Append",
                                                "partitionBy": "[]"},
                          {"numOutputRows": n, "numFiles": 1 if n else 0}, read_version,
                          blind=not overwrite)
        return Result([("num_affected_rows", "bigint"), ("num_inserted_rows", "bigint")], [[n, n]])

    def run_update_delete(self, ctx: Ctx, tree: exp.Expression, op: str) -> Result:
        tbl = tree.this
        if not isinstance(tbl, exp.Table):
            raise SqlError("UNSUPPORTED_FEATURE", f"{op} target must be a table.")
        t, full = self.writable_table(ctx, tbl)
        self.physical_for(ctx, t)
        where = tree.args.get("where")
        predicate = where.this.sql("databricks") if where is not None else None
        self.prepare(ctx, tree, skip=(tbl,))
        read_version = t.current_version
        old, new = self.store.begin_write(ctx.cur, self.data_key(t))
        try:
            alias = tbl.alias or tbl.name
            tbl.replace(exp.Table(this=exp.to_identifier(new, quoted=True),
                                  alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
            try:
                n = ctx.cur.execute(tree.sql("duckdb")).fetchone()[0]
            except duckdb.Error as e:
                raise _duck_error(e) from None
        except BaseException:
            self.store.abort_write(ctx.cur, new)
            raise
        delta = t.data_source_format == "DELTA"
        self.store.commit_write(ctx.cur, self.data_key(t), new, "rewrite", changed=n > 0,
                                n=t.current_version + 1 if delta else None)
        if delta:
            key = "numUpdatedRows" if op == "UPDATE" else "numDeletedRows"
            self._history(ctx, full, op, {"predicate": json.dumps([predicate] if predicate else [])},
                          {key: n}, read_version)
        return Result([("num_affected_rows", "bigint")], [[n]])

    def run_merge(self, ctx: Ctx, tree: exp.Merge) -> Result:
        tbl = tree.this
        if not isinstance(tbl, exp.Table):
            raise SqlError("UNSUPPORTED_FEATURE", "MERGE target must be a table.")
        t, full = self.writable_table(ctx, tbl)
        self.physical_for(ctx, t)
        on = tree.args.get("on")
        predicate = on.sql("databricks") if on is not None else ""
        self.prepare(ctx, tree, skip=(tbl,))
        read_version = t.current_version
        old, new = self.store.begin_write(ctx.cur, self.data_key(t))
        try:
            alias = tbl.alias or tbl.name
            tbl.replace(exp.Table(this=exp.to_identifier(new, quoted=True),
                                  alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
            try:
                acts = ctx.cur.execute(tree.sql("duckdb") + " RETURNING merge_action").fetchall()
            except duckdb.Error as e:
                raise _duck_error(e) from None
        except BaseException:
            self.store.abort_write(ctx.cur, new)
            raise
        upd = sum(1 for a in acts if a[0] == "UPDATE")
        dele = sum(1 for a in acts if a[0] == "DELETE")
        ins = sum(1 for a in acts if a[0] == "INSERT")
        delta = t.data_source_format == "DELTA"
        self.store.commit_write(ctx.cur, self.data_key(t), new, "rewrite", changed=bool(acts),
                                n=t.current_version + 1 if delta else None)
        if delta:
            self._history(ctx, full, "MERGE", {"predicate": json.dumps([predicate])},
                          {"numTargetRowsUpdated": upd, "numTargetRowsDeleted": dele,
                           "numTargetRowsInserted": ins, "numOutputRows": upd + ins}, read_version)
        return Result([("num_affected_rows", "bigint"), ("num_updated_rows", "bigint"),
                       ("num_deleted_rows", "bigint"), ("num_inserted_rows", "bigint")],
                      [[len(acts), upd, dele, ins]])

    # ---- CREATE TABLE ---------------------------------------------------------------------------
    def run_create_table(self, ctx: Ctx, tree: exp.Create, text: str) -> Result:
        node = tree.this
        coldefs = []
        if isinstance(node, exp.Schema):
            coldefs = [c for c in node.expressions if isinstance(c, exp.ColumnDef)]
            tbl = node.this
        else:
            tbl = node
        full = self.full3(ctx, [p.name for p in tbl.parts])
        fmt, location, comment, props, partitions = "DELTA", None, None, {}, []
        for p in (tree.args.get("properties").expressions if tree.args.get("properties") else []):
            if isinstance(p, exp.PartitionedByProperty):
                node = p.this
                items = node.expressions if isinstance(node, (exp.Schema, exp.Tuple)) else [node]
                partitions = [i.name for i in items]
            elif isinstance(p, exp.FileFormatProperty):
                fmt = p.name.upper() or (p.this.sql() if p.this else "DELTA").upper()
            elif isinstance(p, exp.LocationProperty):
                location = p.this.name
            elif isinstance(p, exp.SchemaCommentProperty):
                comment = p.this.name
            elif isinstance(p, exp.Property):
                key = p.this.name if isinstance(p.this, exp.Expression) else str(p.this)
                val = p.args.get("value")
                props[key] = val.name if isinstance(val, exp.Expression) else str(val)
        replace = bool(tree.args.get("replace"))
        if_not_exists = bool(tree.args.get("exists"))
        query = tree.expression
        with uc_errors():
            ctx.ms.check_catalog_access(full[0], ctx.workspace_id, write=True)
        existing = self.local_table(ctx, full)
        if existing is not None:
            if existing.is_view:
                raise SqlError("EXPECT_TABLE_NOT_VIEW" if replace else "TABLE_OR_VIEW_ALREADY_EXISTS",
                               f"Cannot create table {quote_name(*full)}: a view with that name exists.")
            if not replace:
                if if_not_exists:
                    return Result()
                raise SqlError("TABLE_OR_VIEW_ALREADY_EXISTS",
                               f"Cannot create table or view {quote_name(*full)} because it already exists.")
        select_sql = None
        tmp = None
        if query is not None:
            self.prepare(ctx, query)
            self._tmp += 1
            tmp = f"_ctas_{self._tmp}"
            try:
                ctx.cur.execute(f"CREATE TEMP TABLE {qi(tmp)} AS {query.sql('duckdb')}")
            except duckdb.Error as e:
                raise _duck_error(e) from None
            dcols = self.store.columns_of(ctx.cur, tmp)
            columns = [{"name": c, "type_text": duck_to_dbx(t), "nullable": True} for c, t in dcols]
            select_sql = f"SELECT * FROM {qi(tmp)}"
        else:
            columns = []
            for cd in coldefs:
                ctype = cd.args.get("kind")
                if ctype is None:
                    raise SqlError("PARSE_SYNTAX_ERROR", f"Column {cd.name} needs a data type.")
                col = {"name": cd.name, "type_text": norm_dbx(ctype.sql("databricks")), "nullable": True}
                for cons in cd.args.get("constraints") or []:
                    k = cons.args.get("kind")
                    if isinstance(k, exp.CommentColumnConstraint):
                        col["comment"] = k.this.name
                    elif isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null"):
                        col["nullable"] = False
                columns.append(col)
            names = {c["name"].lower(): c for c in columns}
            for i, pc in enumerate(partitions):
                if pc.lower() not in names:
                    raise SqlError("UNRESOLVED_COLUMN",
                                   f"Partition column `{pc}` is not a column of {quote_name(*full)}.")
                names[pc.lower()]["partition_index"] = i
            if not columns:
                raise SqlError("UNABLE_TO_INFER_SCHEMA",
                               f"Unable to infer schema for {fmt}. It must be specified manually "
                               f"(no column list for {quote_name(*full)} and no data at "
                               f"{location or 'its location'}).", sql_state="42KD9")
        try:
            with uc_errors():
                t = ctx.ms.create_table(fq(full), ctx.user,
                                        table_type="EXTERNAL" if location else "MANAGED",
                                        data_source_format=fmt, columns=columns,
                                        storage_location=location, comment=comment,
                                        properties=props, replace=existing is not None)
            dcols = [(c["name"], dbx_to_duck(c["type_text"]) + ("" if c.get("nullable", True) else " NOT NULL"))
                     for c in columns]
            delta = fmt == "DELTA"
            n = t.current_version + 1 if delta else None
            key = self.data_key(t)
            held = self.store.get(key, probe=existing is not None)
            if key != t.table_id and held is not None and select_sql is None and \
                    [c for c, _ in held.columns] == [c for c, _ in dcols]:
                v = held.versions[held.current]        # files already at the location
            elif existing is not None and held is not None:
                v = self.store.replace_contents(ctx.cur, key, dcols, select_sql, n=n)
            else:
                v = self.store.create(ctx.cur, key, dcols, select_sql, n=n if n is not None else 0)
            t.data_ref = key
        finally:
            if tmp:
                ctx.cur.execute(f"DROP TABLE IF EXISTS {qi(tmp)}")
        rows = sum(f.rows for f in v.files)
        if delta:
            op = ("CREATE OR REPLACE TABLE" if replace else "CREATE TABLE") + \
                 (" AS SELECT" if query is not None else "")
            self._history(ctx, full, op, {"isManaged": "false" if location else "true",
                                          "description": comment, "partitionBy": json.dumps(partitions),
                                          "properties": json.dumps(props)},
                          {"numFiles": len(v.files), "numOutputRows": rows} if query is not None else {},
                          None)
        if query is not None:
            return Result([("num_affected_rows", "bigint"), ("num_inserted_rows", "bigint")], [[rows, rows]])
        return Result()


def _ansi_division(tree: exp.Expression):
    """ANSI mode (Databricks SQL): x / 0 raises DIVIDE_BY_ZERO instead of DuckDB's NULL."""
    for div in list(tree.find_all(exp.Div)):
        den = div.expression
        if isinstance(den, exp.Literal) and not den.is_string and den.name not in ("0", "0.0"):
            continue
        guarded = exp.Case(ifs=[exp.If(this=exp.EQ(this=den.copy(), expression=exp.Literal.number(0)),
                                       true=exp.Anonymous(this="error", expressions=[
                                           exp.Literal.string("[DIVIDE_BY_ZERO] Division by zero.")]))],
                           default=div.copy())
        div.replace(exp.Paren(this=guarded))


def location_key(url: str) -> str:
    return "loc:" + url.rstrip("/")


def _name_projections(tree: exp.Expression):
    """Alias unnamed top-level expressions the way Databricks names result columns
    (count(*) -> "count(1)", current_user() -> "current_user()", x * 2 -> "(x * 2)")."""
    if not isinstance(tree, exp.Select):
        return
    new = []
    for e in tree.expressions:
        if isinstance(e, (exp.Alias, exp.Column, exp.Star)) or (isinstance(e, exp.Dot) and
                                                                e.find(exp.Anonymous) is None):
            new.append(e)
            continue
        if isinstance(e, exp.Count) and isinstance(e.this, exp.Star):
            name = "count(1)"
        elif isinstance(e, exp.Literal):
            name = e.name
        else:
            name = e.sql("databricks")
            if isinstance(e, exp.Binary):
                name = f"({name})"
            name = _lower_funcs(name)
        new.append(exp.alias_(e, name, quoted=True))
    tree.set("expressions", new)


def _lower_funcs(text: str) -> str:
    import re
    return re.sub(r"\b([A-Z_][A-Z0-9_]*)\(", lambda m: m.group(1).lower() + "(", text)


def _dot_parts(node) -> list[str] | None:
    if isinstance(node, exp.Identifier):
        return [node.name]
    if isinstance(node, exp.Column) and not node.table:
        return [node.name]
    if isinstance(node, exp.Column):
        return [p.name for p in node.parts]
    if isinstance(node, exp.Dot):
        left = _dot_parts(node.this)
        right = _dot_parts(node.expression)
        if left is None or right is None:
            return None
        return left + right
    return None


def _view_context(t) -> tuple[str, str]:
    """The catalog/schema a view's unqualified names resolve against (stored at creation like
    Spark's view.catalogAndNamespace.* properties; the view's own schema otherwise)."""
    p = t.properties or {}
    if p.get("view.catalogAndNamespace.numParts") == "2":
        return p.get("view.catalogAndNamespace.part.0"), p.get("view.catalogAndNamespace.part.1")
    return t.schema.catalog.name, t.schema.name


ENGINE = Engine()
