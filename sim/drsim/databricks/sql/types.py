"""Type mapping between Databricks SQL and DuckDB, and JSON_ARRAY value formatting."""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
import uuid

from sqlglot import exp
from sqlglot.errors import ParseError

from .errors import SqlError

_COLUMN_INFO_TYPE_NAMES = {"ARRAY", "BINARY", "BOOLEAN", "BYTE", "CHAR", "DATE", "DECIMAL", "DOUBLE",
                           "FLOAT", "INT", "INTERVAL", "LONG", "MAP", "NULL", "SHORT", "STRING",
                           "STRUCT", "TIMESTAMP", "USER_DEFINED_TYPE"}


def _build(type_text: str) -> exp.DataType:
    try:
        return exp.DataType.build(type_text, dialect="databricks")
    except (ParseError, ValueError) as e:
        raise SqlError("UNSUPPORTED_DATATYPE" if "Unknown" in str(e) else "PARSE_SYNTAX_ERROR",
                       f"Unsupported data type {type_text!r}.") from None


def dbx_to_duck(type_text: str) -> str:
    """Databricks type text -> DuckDB column type."""
    d = _build(type_text)
    if d.this == exp.DataType.Type.TEXT or d.this == exp.DataType.Type.VARCHAR:
        return "VARCHAR"
    return d.sql("duckdb")


def norm_dbx(type_text: str) -> str:
    """Normalised Databricks type text, lower case, as UC stores it ('decimal(10,2)')."""
    d = _build(type_text)
    s = d.sql("databricks").lower()
    s = re.sub(r",\s+", ",", s)
    s = re.sub(r":\s+", ":", s)
    return s.replace("varchar", "string") if d.this == exp.DataType.Type.VARCHAR else s


def duck_to_dbx(duck_type: str) -> str:
    """DuckDB type (as in cursor.description / DESCRIBE) -> Databricks type text (lower case)."""
    t = str(duck_type).strip()
    u = t.upper()
    if u.endswith("[]"):
        return f"array<{duck_to_dbx(t[:-2])}>"
    m = re.match(r"^(\w+)\[\d+\]$", t)
    if m:
        return f"array<{duck_to_dbx(m.group(1))}>"
    if u.startswith("STRUCT("):
        inner = t[7:-1]
        fields = []
        for name, typ in _split_fields(inner):
            fields.append(f"{name.strip(chr(34))}:{duck_to_dbx(typ)}")
        return "struct<" + ",".join(fields) + ">"
    if u.startswith("MAP("):
        parts = _split_top(t[4:-1])
        return f"map<{duck_to_dbx(parts[0])},{duck_to_dbx(parts[1])}>"
    if u.startswith("DECIMAL"):
        return u.lower().replace(" ", "")
    return {
        "INTEGER": "int", "INT": "int", "BIGINT": "bigint", "SMALLINT": "smallint",
        "TINYINT": "tinyint", "HUGEINT": "decimal(38,0)", "UBIGINT": "decimal(20,0)",
        "UINTEGER": "bigint", "USMALLINT": "int", "UTINYINT": "smallint", "VARCHAR": "string",
        "DOUBLE": "double", "FLOAT": "float", "REAL": "float", "BOOLEAN": "boolean", "DATE": "date",
        "TIMESTAMP WITH TIME ZONE": "timestamp", "TIMESTAMPTZ": "timestamp",
        "TIMESTAMP": "timestamp_ntz", "TIMESTAMP_NS": "timestamp_ntz", "TIMESTAMP_MS": "timestamp_ntz",
        "TIMESTAMP_S": "timestamp_ntz", "BLOB": "binary", '"NULL"': "void", "NULL": "void",
        "INTERVAL": "interval", "UUID": "string", "JSON": "string", "TIME": "string",
    }.get(u, "string")


def _split_top(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _split_fields(s: str) -> list[tuple[str, str]]:
    out = []
    for part in _split_top(s):
        if part.startswith('"'):
            j = part.index('"', 1)
            out.append((part[1:j], part[j + 1:].strip()))
        else:
            name, _, typ = part.partition(" ")
            out.append((name, typ.strip()))
    return out


def manifest_type(dbx_text: str) -> dict:
    """ColumnInfo type fields for a Databricks type text."""
    t = dbx_text.lower()
    base = re.split(r"[(<]", t, maxsplit=1)[0].strip()
    name = {"bigint": "LONG", "int": "INT", "smallint": "SHORT", "tinyint": "BYTE", "string": "STRING",
            "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
            "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP", "binary": "BINARY",
            "decimal": "DECIMAL", "array": "ARRAY", "map": "MAP", "struct": "STRUCT", "void": "NULL",
            "interval": "INTERVAL"}.get(base, "STRING")
    out = {"type_name": name, "type_text": dbx_text.upper() if base not in ("array", "map", "struct")
           else _upper_complex(dbx_text)}
    m = re.match(r"decimal\((\d+),(\d+)\)", t.replace(" ", ""))
    if m:
        out["type_precision"], out["type_scale"] = int(m.group(1)), int(m.group(2))
    return out


def _upper_complex(t: str) -> str:
    # upper-case type keywords but keep struct field names as written
    return re.sub(r"(?<![\w`])(array|map|struct|string|int|bigint|smallint|tinyint|double|float|"
                  r"boolean|date|timestamp_ntz|timestamp|binary|decimal|void)(?![\w`])",
                  lambda m: m.group(1).upper(), t)


def format_value(v, top: bool = True):
    """A Python value from DuckDB -> the JSON_ARRAY representation (strings or null)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, decimal.Decimal)):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v) if top else v
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return v.isoformat(timespec="milliseconds") + "Z"
        return v.isoformat(timespec="milliseconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(_jsonable(v), separators=(",", ":"))
    return str(v)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v
    return format_value(v)
