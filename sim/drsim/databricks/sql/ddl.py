"""Parser for the Databricks-only statement families.

sqlglot (databricks dialect) parses SELECT/INSERT/UPDATE/DELETE/MERGE and CREATE TABLE (columns or
AS SELECT) into real ASTs; those stay with sqlglot. For the statements it turns into a generic
``Command`` (or parses only partly), this module is a small recursive-descent parser over lexer.py's
tokens. It covers:

  CREATE CATALOG | SCHEMA/DATABASE | [EXTERNAL] VOLUME | [OR REPLACE] VIEW | [OR REPLACE] FUNCTION
  CREATE [OR REPLACE] TABLE t [LOCATION 'x'] {DEEP|SHALLOW} CLONE src [VERSION|TIMESTAMP AS OF v]
      [TBLPROPERTIES (..)] [LOCATION 'x']
  DROP CATALOG|SCHEMA|DATABASE|TABLE|VIEW|FUNCTION|VOLUME [IF EXISTS] name [CASCADE|RESTRICT]
  ALTER <securable> name OWNER TO p | SET OWNER TO p | SET TAGS (..) | UNSET TAGS (..)
      | SET TBLPROPERTIES (..) | UNSET TBLPROPERTIES [IF EXISTS] (..) | SET DBPROPERTIES (..)
      | {ALTER|CHANGE} [COLUMN] c {COMMENT 'x' | SET MASK f [USING COLUMNS (..)] | DROP MASK
                                   | SET TAGS (..) | UNSET TAGS (..)}
      | SET ROW FILTER f ON (cols) | DROP ROW FILTER | ADD COLUMN[S] (c type [COMMENT 'x'], ..)
  ALTER SHARE s {ADD|REMOVE} [TABLE] name [AS alias] [WITH|WITHOUT HISTORY]
  COMMENT ON <securable>|COLUMN name IS 'x'|NULL
  GRANT privs ON <securable> name TO principal ; REVOKE privs ON <securable> name FROM principal
  SHOW CATALOGS|SCHEMAS|DATABASES|TABLES|VIEWS|VOLUMES|FUNCTIONS [IN|FROM x] [[LIKE] 'pat']
  SHOW GRANTS [principal] ON <securable> name ; SHOW CREATE TABLE t ; SHOW TBLPROPERTIES t
  SHOW COLUMNS {IN|FROM} t
  DESCRIBE|DESC [TABLE] [EXTENDED|FORMATTED] t ; DESCRIBE HISTORY t [LIMIT n] ; DESCRIBE DETAIL t
  DESCRIBE CATALOG|SCHEMA|DATABASE|VOLUME|FUNCTION [EXTENDED] name
  USE [CATALOG|SCHEMA|DATABASE] name

Every statement becomes a plain dict with a "kind" key. Names are lists of parts (unquoted).
"""
from __future__ import annotations

from .errors import SqlError
from .lexer import Token, tokenize

# Securable keywords (as written in SQL) -> canonical securable type.
SECURABLES = {
    ("CATALOG",): "CATALOG", ("SCHEMA",): "SCHEMA", ("DATABASE",): "SCHEMA",
    ("TABLE",): "TABLE", ("VIEW",): "VIEW", ("MATERIALIZED", "VIEW"): "VIEW",
    ("VOLUME",): "VOLUME", ("FUNCTION",): "FUNCTION",
    ("EXTERNAL", "LOCATION"): "EXTERNAL_LOCATION", ("STORAGE", "CREDENTIAL"): "STORAGE_CREDENTIAL",
    ("METASTORE",): "METASTORE", ("SHARE",): "SHARE", ("CONNECTION",): "CONNECTION",
}


class Parser:
    def __init__(self, text: str, params: dict | None = None):
        self.text = text
        self.toks: list[Token] = tokenize(text)
        self.i = 0
        self.params = params or {}

    # ---- token helpers -------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def at_kw(self, *words: str) -> bool:
        for k, w in enumerate(words):
            if not self.peek(k).is_word(w):
                return False
        return True

    def accept_kw(self, *words: str) -> bool:
        if self.at_kw(*words):
            self.i += len(words)
            return True
        return False

    def expect_kw(self, *words: str) -> None:
        if not self.accept_kw(*words):
            self.fail(f"expected {' '.join(words)}")

    def at_op(self, op: str) -> bool:
        return self.tok.kind == "OP" and self.tok.value == op

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            self.fail(f"expected '{op}'")

    def fail(self, what: str):
        t = self.tok
        near = "end of input" if t.kind == "EOF" else repr(self.text[t.pos:t.end])
        raise SqlError("PARSE_SYNTAX_ERROR", f"Syntax error at or near {near}: {what} (pos {t.pos}).")

    def at_end(self) -> bool:
        return self.tok.kind == "EOF" or (self.at_op(";") and self.peek(1).kind == "EOF")

    def expect_end(self) -> None:
        self.accept_op(";")
        if self.tok.kind != "EOF":
            self.fail("unexpected input")

    # ---- value helpers -------------------------------------------------
    def ident(self) -> str:
        t = self.tok
        if t.kind in ("WORD", "QIDENT"):
            self.i += 1
            return t.value
        self.fail("expected an identifier")

    def qname(self) -> list[str]:
        parts = [self.ident()]
        while self.at_op(".") and self.peek(1).kind in ("WORD", "QIDENT"):
            self.i += 1
            parts.append(self.ident())
        return parts

    def string(self) -> str:
        t = self.tok
        if t.kind == "STRING":
            self.i += 1
            return t.value
        if t.kind == "PARAM":
            self.i += 1
            if t.value not in self.params:
                raise SqlError("UNBOUND_SQL_PARAMETER", f"Found the unbound parameter: {t.value}.")
            v = self.params[t.value]
            if v is None:
                self.fail("a NULL parameter is not a string")
            return str(v)
        self.fail("expected a string literal")

    def string_or_null(self) -> str | None:
        if self.accept_kw("NULL"):
            return None
        return self.string()

    def principal(self) -> str:
        t = self.tok
        if t.kind in ("QIDENT", "STRING", "WORD"):
            self.i += 1
            return t.value
        if t.kind == "PARAM":
            return self.string()
        self.fail("expected a principal")

    def prop_list(self, values: bool = True) -> dict | list:
        """('k'='v', k2 = 'v2') or, with values=False, ('k', k2)."""
        self.expect_op("(")
        out: dict | list = {} if values else []
        if self.accept_op(")"):
            return out
        while True:
            t = self.tok
            if t.kind == "STRING":
                key = self.string()
            else:
                key = ".".join(self.qname())
            if values:
                val = None
                if self.accept_op("="):
                    tv = self.tok
                    if tv.kind == "STRING" or tv.kind == "PARAM":
                        val = self.string()
                    elif tv.kind in ("NUMBER", "WORD"):
                        self.i += 1
                        val = tv.value
                    else:
                        self.fail("expected a property value")
                out[key] = val
            else:
                out.append(key)
            if self.accept_op(")"):
                return out
            self.expect_op(",")

    def securable(self) -> str | None:
        for words, typ in sorted(SECURABLES.items(), key=lambda kv: -len(kv[0])):
            if self.accept_kw(*words):
                return typ
        return None

    def rest_text(self) -> str:
        """Raw text from the current token to the end (trailing ';' removed)."""
        t = self.tok
        if t.kind == "EOF":
            self.fail("expected more input")
        text = self.text[t.pos:].rstrip()
        if text.endswith(";"):
            text = text[:-1].rstrip()
        self.i = len(self.toks) - 1
        return text

    def balanced_text(self) -> str:
        """The text of a parenthesised group (without the outer parentheses)."""
        start = self.tok
        self.expect_op("(")
        depth = 1
        while depth:
            t = self.advance()
            if t.kind == "EOF":
                self.fail("unbalanced parentheses")
            if t.kind == "OP" and t.value == "(":
                depth += 1
            elif t.kind == "OP" and t.value == ")":
                depth -= 1
        return self.text[start.end:self.toks[self.i - 1].pos]

    def type_text(self, stop=(",", ")")) -> str:
        """A data type, e.g. DECIMAL(10,2) or ARRAY<STRUCT<a: INT>>, as text."""
        start = self.tok.pos
        depth = 0
        while True:
            t = self.tok
            if t.kind == "EOF":
                break
            if t.kind == "OP" and t.value in ("(", "<"):
                depth += 1
            elif t.kind == "OP" and t.value in (")", ">"):
                if depth == 0:
                    break
                depth -= 1
            elif t.kind == "OP" and t.value == ">>":
                depth -= 2
            elif depth == 0 and ((t.kind == "OP" and t.value in stop) or
                                 t.is_word("COMMENT", "NOT", "DEFAULT", "MASK", "RETURN", "LANGUAGE",
                                           "DETERMINISTIC", "AS", "CONTAINS", "READS", "SQL")):
                break
            self.i += 1
        end = self.toks[self.i - 1].end
        text = self.text[start:end].strip()
        if not text:
            self.fail("expected a data type")
        return text


def parse_other(text: str, params: dict | None = None) -> dict:
    """Parse one Databricks-only statement (see the module doc) into a dict."""
    p = Parser(text, params)
    if p.accept_kw("CREATE"):
        st = _create(p)
    elif p.accept_kw("REPLACE", "TABLE"):
        # REPLACE TABLE t CLONE s (without CREATE OR): the table must exist
        st = _clone(p, True)
        st["must_exist"] = True
    elif p.accept_kw("DROP"):
        st = _drop(p)
    elif p.accept_kw("ALTER"):
        st = _alter(p)
    elif p.accept_kw("COMMENT", "ON"):
        st = _comment(p)
    elif p.at_kw("GRANT") or p.at_kw("REVOKE"):
        st = _grant(p)
    elif p.accept_kw("SHOW"):
        st = _show(p)
    elif p.accept_kw("DESCRIBE") or p.accept_kw("DESC"):
        st = _describe(p)
    elif p.accept_kw("USE"):
        typ = "SCHEMA"
        if p.accept_kw("CATALOG"):
            typ = "CATALOG"
        elif p.accept_kw("SCHEMA") or p.accept_kw("DATABASE"):
            typ = "SCHEMA"
        st = {"kind": "use", "type": typ, "name": p.qname()}
    else:
        p.fail("unsupported statement")
    if st.get("kind") not in ("create_view", "create_function"):
        p.expect_end()
    return st


def _create(p: Parser) -> dict:
    replace = p.accept_kw("OR", "REPLACE")
    if p.accept_kw("CATALOG"):
        st = {"kind": "create_catalog", "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"),
              "name": p.qname(), "comment": None, "managed_location": None, "provider": None,
              "share": None, "options": {}}
        while not p.at_end():
            if p.accept_kw("MANAGED", "LOCATION"):
                st["managed_location"] = p.string()
            elif p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            elif p.accept_kw("USING", "SHARE"):
                parts = p.qname()
                if len(parts) != 2:
                    p.fail("expected USING SHARE provider.share")
                st["provider"], st["share"] = parts
            elif p.accept_kw("DEFAULT", "COLLATION"):
                p.ident()
            elif p.accept_kw("OPTIONS"):
                st["options"] = p.prop_list()
            else:
                p.fail("expected MANAGED LOCATION, COMMENT, USING SHARE or OPTIONS")
        return st
    if p.accept_kw("SCHEMA") or p.accept_kw("DATABASE"):
        st = {"kind": "create_schema", "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"),
              "name": p.qname(), "comment": None, "managed_location": None, "properties": {}}
        while not p.at_end():
            if p.accept_kw("MANAGED", "LOCATION"):
                st["managed_location"] = p.string()
            elif p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            elif p.accept_kw("WITH", "DBPROPERTIES") or p.accept_kw("WITH", "PROPERTIES"):
                st["properties"] = p.prop_list()
            elif p.accept_kw("DEFAULT", "COLLATION"):
                p.ident()
            else:
                p.fail("expected MANAGED LOCATION, COMMENT or WITH DBPROPERTIES")
        return st
    if p.at_kw("EXTERNAL", "VOLUME") or p.at_kw("VOLUME"):
        external = p.accept_kw("EXTERNAL")
        p.expect_kw("VOLUME")
        st = {"kind": "create_volume", "external": external, "replace": replace,
              "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"), "name": p.qname(),
              "location": None, "comment": None}
        while not p.at_end():
            if p.accept_kw("LOCATION"):
                st["location"] = p.string()
            elif p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            else:
                p.fail("expected LOCATION or COMMENT")
        if external and not st["location"]:
            raise SqlError("PARSE_SYNTAX_ERROR", "CREATE EXTERNAL VOLUME requires LOCATION.")
        return st
    temporary = p.accept_kw("TEMPORARY") or p.accept_kw("TEMP")
    if p.accept_kw("VIEW") or p.accept_kw("MATERIALIZED", "VIEW"):
        st = {"kind": "create_view", "replace": replace, "temporary": temporary,
              "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"), "name": p.qname(),
              "columns": [], "comment": None, "properties": {}, "query": None}
        if p.at_op("("):
            p.expect_op("(")
            while True:
                col = {"name": p.ident(), "comment": None}
                if p.accept_kw("COMMENT"):
                    col["comment"] = p.string()
                st["columns"].append(col)
                if p.accept_op(")"):
                    break
                p.expect_op(",")
        while not p.at_kw("AS"):
            if p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            elif p.accept_kw("TBLPROPERTIES"):
                st["properties"] = p.prop_list()
            elif p.accept_kw("WITH", "SCHEMA"):
                while not p.at_kw("AS") and not p.at_end():
                    p.advance()
            else:
                p.fail("expected COMMENT, TBLPROPERTIES or AS")
        p.expect_kw("AS")
        st["query"] = p.rest_text()
        return st
    if p.accept_kw("FUNCTION"):
        st = {"kind": "create_function", "replace": replace, "temporary": temporary,
              "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"), "name": p.qname(),
              "params": [], "returns": None, "returns_table": False, "comment": None,
              "language": "SQL", "deterministic": None, "body": None}
        p.expect_op("(")
        if not p.accept_op(")"):
            while True:
                prm = {"name": p.ident(), "type": p.type_text(), "default": None, "comment": None}
                while not (p.at_op(",") or p.at_op(")")):
                    if p.accept_kw("DEFAULT"):
                        prm["default"] = p.type_text()
                    elif p.accept_kw("COMMENT"):
                        prm["comment"] = p.string()
                    else:
                        p.fail("expected DEFAULT, COMMENT, ',' or ')'")
                st["params"].append(prm)
                if p.accept_op(")"):
                    break
                p.expect_op(",")
        p.expect_kw("RETURNS")
        if p.accept_kw("TABLE"):
            st["returns_table"] = True
            st["returns"] = "TABLE(" + p.balanced_text() + ")" if p.at_op("(") else "TABLE"
        else:
            st["returns"] = p.type_text(stop=())
        while True:
            if p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            elif p.accept_kw("LANGUAGE"):
                st["language"] = p.ident().upper()
            elif p.accept_kw("NOT", "DETERMINISTIC"):
                st["deterministic"] = False
            elif p.accept_kw("DETERMINISTIC"):
                st["deterministic"] = True
            elif p.accept_kw("CONTAINS", "SQL") or p.accept_kw("READS", "SQL", "DATA"):
                pass
            elif p.accept_kw("SQL", "SECURITY"):
                p.ident()
            elif p.accept_kw("RETURN"):
                st["body"] = p.rest_text()
                break
            elif p.accept_kw("AS"):
                t = p.advance()
                if t.kind not in ("DOLLAR", "STRING"):
                    p.fail("expected a $$ body")
                st["body"] = t.value
                p.expect_end()
                break
            else:
                p.fail("expected COMMENT, LANGUAGE, RETURN or AS")
        return st
    if p.accept_kw("TABLE"):
        return _clone(p, replace)
    p.fail("unsupported CREATE statement")


def _clone(p: Parser, replace: bool) -> dict:
    st = {"kind": "clone", "replace": replace, "if_not_exists": p.accept_kw("IF", "NOT", "EXISTS"),
          "name": p.qname(), "location": None, "deep": True, "source": None,
          "version": None, "timestamp": None, "properties": {}}
    if p.accept_kw("LOCATION"):
        st["location"] = p.string()
    if p.accept_kw("SHALLOW"):
        st["deep"] = False
    else:
        p.accept_kw("DEEP")
    p.expect_kw("CLONE")
    st["source"] = p.qname()
    while not p.at_end():
        if p.accept_kw("VERSION", "AS", "OF"):
            t = p.advance()
            if t.kind == "NUMBER" and t.value.isdigit():
                st["version"] = int(t.value)
            elif t.kind == "PARAM" and str(p.params.get(t.value, "")).isdigit():
                st["version"] = int(p.params[t.value])
            else:
                p.i -= 1
                p.fail("expected a version number")
        elif p.accept_kw("TIMESTAMP", "AS", "OF"):
            st["timestamp"] = p.string()
        elif p.accept_kw("TBLPROPERTIES"):
            st["properties"] = p.prop_list()
        elif p.accept_kw("LOCATION"):
            st["location"] = p.string()
        else:
            p.fail("expected VERSION AS OF, TIMESTAMP AS OF, TBLPROPERTIES or LOCATION")
    return st


def _drop(p: Parser) -> dict:
    typ = None
    for words, t in (((("CATALOG",)), "CATALOG"), (("SCHEMA",), "SCHEMA"), (("DATABASE",), "SCHEMA"),
                     (("TABLE",), "TABLE"), (("MATERIALIZED", "VIEW"), "VIEW"), (("VIEW",), "VIEW"),
                     (("TEMPORARY", "FUNCTION"), "FUNCTION"), (("FUNCTION",), "FUNCTION"),
                     (("VOLUME",), "VOLUME")):
        if p.accept_kw(*words):
            typ = t
            break
    if typ is None:
        p.fail("unsupported DROP statement")
    st = {"kind": "drop", "type": typ, "if_exists": p.accept_kw("IF", "EXISTS"), "name": p.qname(),
          "cascade": False}
    if p.accept_kw("CASCADE"):
        st["cascade"] = True
    else:
        p.accept_kw("RESTRICT")
    return st


def _alter(p: Parser) -> dict:
    if p.accept_kw("SHARE"):
        share = p.ident()
        if p.accept_kw("ADD"):
            action = "ADD"
        elif p.accept_kw("REMOVE"):
            action = "REMOVE"
        elif p.accept_kw("OWNER", "TO") or p.accept_kw("SET", "OWNER", "TO"):
            return {"kind": "owner", "type": "SHARE", "name": [share], "owner": p.principal()}
        else:
            p.fail("expected ADD, REMOVE or OWNER TO")
        obj_type = "TABLE"
        if p.accept_kw("SCHEMA"):
            obj_type = "SCHEMA"
        else:
            p.accept_kw("TABLE")
        st = {"kind": "alter_share", "share": share, "action": action, "object_type": obj_type,
              "name": p.qname(), "alias": None, "history": None, "comment": None}
        while not p.at_end():
            if p.accept_kw("AS"):
                st["alias"] = ".".join(p.qname())
            elif p.accept_kw("WITH", "HISTORY"):
                st["history"] = True
            elif p.accept_kw("WITHOUT", "HISTORY"):
                st["history"] = False
            elif p.accept_kw("COMMENT"):
                st["comment"] = p.string()
            else:
                p.fail("expected AS, WITH HISTORY, WITHOUT HISTORY or COMMENT")
        return st
    typ = p.securable()
    if typ is None:
        p.fail("expected CATALOG, SCHEMA, TABLE, VIEW, VOLUME, FUNCTION or EXTERNAL LOCATION")
    name = p.qname()
    base = {"type": typ, "name": name}
    if p.accept_kw("OWNER", "TO") or p.accept_kw("SET", "OWNER", "TO"):
        return {"kind": "owner", **base, "owner": p.principal()}
    if p.accept_kw("SET", "TAGS"):
        return {"kind": "set_tags", **base, "column": None, "tags": p.prop_list()}
    if p.accept_kw("UNSET", "TAGS"):
        return {"kind": "unset_tags", **base, "column": None, "keys": p.prop_list(values=False)}
    if p.accept_kw("SET", "TBLPROPERTIES") or p.accept_kw("SET", "DBPROPERTIES") or \
            p.accept_kw("SET", "PROPERTIES"):
        return {"kind": "set_properties", **base, "properties": p.prop_list()}
    if p.accept_kw("UNSET", "TBLPROPERTIES"):
        p.accept_kw("IF", "EXISTS")
        return {"kind": "unset_properties", **base, "keys": p.prop_list(values=False)}
    if p.accept_kw("SET", "ROW", "FILTER"):
        fn = p.qname()
        p.expect_kw("ON")
        cols = p.prop_list(values=False)
        return {"kind": "row_filter", **base, "function": fn, "columns": cols}
    if p.accept_kw("DROP", "ROW", "FILTER"):
        return {"kind": "row_filter", **base, "function": None, "columns": []}
    if p.accept_kw("ADD", "COLUMNS") or p.accept_kw("ADD", "COLUMN"):
        paren = p.accept_op("(")
        cols = []
        while True:
            col = {"name": p.ident(), "type": p.type_text(), "comment": None}
            if p.accept_kw("COMMENT"):
                col["comment"] = p.string()
            cols.append(col)
            if not p.accept_op(","):
                break
        if paren:
            p.expect_op(")")
        return {"kind": "add_columns", **base, "columns": cols}
    if p.accept_kw("RENAME", "TO"):
        return {"kind": "rename", **base, "new_name": p.qname()}
    if p.accept_kw("ALTER") or p.accept_kw("CHANGE"):
        p.accept_kw("COLUMN")
        col = p.ident()
        if p.accept_kw("COMMENT"):
            return {"kind": "comment", "type": "COLUMN", "name": name, "column": col,
                    "comment": p.string_or_null()}
        if p.accept_kw("SET", "MASK"):
            fn = p.qname()
            using = []
            if p.accept_kw("USING", "COLUMNS"):
                using = p.prop_list(values=False)
            return {"kind": "column_mask", **base, "column": col, "function": fn, "using": using}
        if p.accept_kw("DROP", "MASK"):
            return {"kind": "column_mask", **base, "column": col, "function": None, "using": []}
        if p.accept_kw("SET", "TAGS"):
            return {"kind": "set_tags", **base, "column": col, "tags": p.prop_list()}
        if p.accept_kw("UNSET", "TAGS"):
            return {"kind": "unset_tags", **base, "column": col, "keys": p.prop_list(values=False)}
        p.fail("expected COMMENT, SET MASK, DROP MASK, SET TAGS or UNSET TAGS")
    if p.accept_kw("SET", "LOCATION"):
        return {"kind": "set_location", **base, "location": p.string()}
    p.fail("unsupported ALTER clause")


def _comment(p: Parser) -> dict:
    if p.accept_kw("COLUMN"):
        parts = p.qname()
        if len(parts) < 2:
            p.fail("expected table.column")
        p.expect_kw("IS")
        return {"kind": "comment", "type": "COLUMN", "name": parts[:-1], "column": parts[-1],
                "comment": p.string_or_null()}
    typ = p.securable()
    if typ is None:
        p.fail("expected CATALOG, SCHEMA, TABLE, VOLUME or COLUMN")
    name = p.qname()
    p.expect_kw("IS")
    return {"kind": "comment", "type": typ, "name": name, "column": None,
            "comment": p.string_or_null()}


def _grant(p: Parser) -> dict:
    revoke = p.at_kw("REVOKE")
    p.advance()
    privs: list[str] = []
    words: list[str] = []
    while True:
        t = p.tok
        if t.is_word("ON") and words:
            privs.append(" ".join(words))
            break
        if t.kind == "OP" and t.value == ",":
            if not words:
                p.fail("expected a privilege")
            privs.append(" ".join(words))
            words = []
            p.advance()
            continue
        if t.kind != "WORD":
            p.fail("expected a privilege")
        words.append(t.value.upper())
        p.advance()
    p.expect_kw("ON")
    typ = p.securable() or "TABLE"
    name = p.qname() if typ != "METASTORE" else []
    if revoke:
        p.expect_kw("FROM")
    else:
        p.expect_kw("TO")
    if typ == "SHARE":
        p.accept_kw("RECIPIENT")
    principal = p.principal()
    return {"kind": "revoke" if revoke else "grant", "privileges": privs, "type": typ, "name": name,
            "principal": principal}


def _show(p: Parser) -> dict:
    def in_like(st):
        if p.accept_kw("IN") or p.accept_kw("FROM"):
            st["in"] = p.qname()
        if p.accept_kw("LIKE") or p.tok.kind == "STRING":
            st["like"] = p.string()
        return st
    if p.accept_kw("CATALOGS"):
        return in_like({"kind": "show", "what": "CATALOGS", "in": None, "like": None})
    if p.accept_kw("SCHEMAS") or p.accept_kw("DATABASES"):
        return in_like({"kind": "show", "what": "SCHEMAS", "in": None, "like": None})
    if p.accept_kw("TABLES"):
        return in_like({"kind": "show", "what": "TABLES", "in": None, "like": None})
    if p.accept_kw("VIEWS"):
        return in_like({"kind": "show", "what": "VIEWS", "in": None, "like": None})
    if p.accept_kw("VOLUMES"):
        return in_like({"kind": "show", "what": "VOLUMES", "in": None, "like": None})
    if p.accept_kw("USER", "FUNCTIONS") or p.accept_kw("FUNCTIONS"):
        return in_like({"kind": "show", "what": "FUNCTIONS", "in": None, "like": None})
    if p.accept_kw("GRANTS") or p.accept_kw("GRANT"):
        principal = None
        if not p.at_kw("ON"):
            principal = p.principal()
        p.expect_kw("ON")
        typ = p.securable() or "TABLE"
        name = p.qname() if typ != "METASTORE" else []
        return {"kind": "show_grants", "principal": principal, "type": typ, "name": name}
    if p.accept_kw("CREATE", "TABLE"):
        return {"kind": "show_create", "name": p.qname()}
    if p.accept_kw("TBLPROPERTIES"):
        name = p.qname()
        key = None
        if p.at_op("("):
            p.expect_op("(")
            key = p.string() if p.tok.kind == "STRING" else ".".join(p.qname())
            p.expect_op(")")
        return {"kind": "show_properties", "name": name, "key": key}
    if p.accept_kw("COLUMNS"):
        if not (p.accept_kw("IN") or p.accept_kw("FROM")):
            p.fail("expected IN or FROM")
        name = p.qname()
        if p.accept_kw("IN") or p.accept_kw("FROM"):
            name = p.qname() + name
        return {"kind": "show_columns", "name": name}
    p.fail("unsupported SHOW statement")


def _describe(p: Parser) -> dict:
    if p.accept_kw("HISTORY"):
        st = {"kind": "describe_history", "name": p.qname(), "limit": None}
        if p.accept_kw("LIMIT"):
            t = p.advance()
            if t.kind != "NUMBER" or not t.value.isdigit():
                p.fail("expected a number")
            st["limit"] = int(t.value)
        return st
    if p.accept_kw("DETAIL"):
        return {"kind": "describe_detail", "name": p.qname()}
    for words, typ in ((("CATALOG",), "CATALOG"), (("SCHEMA",), "SCHEMA"), (("DATABASE",), "SCHEMA"),
                       (("VOLUME",), "VOLUME"), (("FUNCTION",), "FUNCTION")):
        if p.accept_kw(*words):
            extended = p.accept_kw("EXTENDED")
            return {"kind": "describe_object", "type": typ, "name": p.qname(), "extended": extended}
    p.accept_kw("TABLE")
    extended = p.accept_kw("EXTENDED") or p.accept_kw("FORMATTED")
    return {"kind": "describe_table", "name": p.qname(), "extended": extended}
