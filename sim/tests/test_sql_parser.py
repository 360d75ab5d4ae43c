"""Unit tests of the SQL engine's own tokenizer and the parser for Databricks-only statements
(no server needed), plus type mapping and JSON_ARRAY formatting."""
import datetime as dt
import decimal

import pytest

from drsim.databricks.sql.ddl import parse_other
from drsim.databricks.sql.engine import Engine, literal_for
from drsim.databricks.sql.errors import SqlError
from drsim.databricks.sql.lexer import split_statements, tokenize
from drsim.databricks.sql.types import duck_to_dbx, format_value, manifest_type, norm_dbx


def kinds(text):
    return [(t.kind, t.value) for t in tokenize(text)][:-1]


def test_tokenizer_respects_strings_backticks_comments():
    assert kinds("SELECT 'a;b' -- c;\n, `x``y`.z /* ; */ :p") == [
        ("WORD", "SELECT"), ("STRING", "a;b"), ("OP", ","), ("QIDENT", "x`y"), ("OP", "."),
        ("WORD", "z"), ("PARAM", "p")]
    assert kinds(r"'it\'s' 'it''s' r'\n'") == [("STRING", "it's"), ("STRING", "it's"), ("STRING", "\\n")]
    assert kinds("a::int") == [("WORD", "a"), ("OP", "::"), ("WORD", "int")]
    assert kinds("AS $$ return 1; $$") == [("WORD", "AS"), ("DOLLAR", " return 1; ")]
    with pytest.raises(SqlError) as e:
        tokenize("SELECT 'open")
    assert e.value.error_class == "PARSE_SYNTAX_ERROR"


def test_split_statements():
    assert split_statements("SELECT ';' ; SELECT 2;  ") == ["SELECT ';'", "SELECT 2"]
    assert split_statements("-- only a comment") == ["-- only a comment"]
    assert split_statements("  ;  ") == []


def test_clone_forms():
    st = parse_other("CREATE OR REPLACE TABLE `c`.s.`t 1` LOCATION 'abfss://x' DEEP CLONE c.s.src VERSION AS OF 7")
    assert st == {"kind": "clone", "replace": True, "if_not_exists": False, "name": ["c", "s", "t 1"],
                  "location": "abfss://x", "deep": True, "source": ["c", "s", "src"], "version": 7,
                  "timestamp": None, "properties": {}}
    st = parse_other("CREATE TABLE IF NOT EXISTS t SHALLOW CLONE s TBLPROPERTIES ('a'='1') LOCATION 'l'")
    assert not st["deep"] and st["if_not_exists"] and st["properties"] == {"a": "1"} and st["location"] == "l"
    st = parse_other("CREATE TABLE t CLONE s TIMESTAMP AS OF '2024-01-01'")
    assert st["deep"] and st["timestamp"] == "2024-01-01"
    st = parse_other("REPLACE TABLE t CLONE s")
    assert st["replace"] and st["must_exist"] and st["source"] == ["s"]
    with pytest.raises(SqlError):
        parse_other("CREATE TABLE t DEEP CLONE s VERSION AS OF x")


def test_grant_revoke_privileges_and_principals():
    st = parse_other("GRANT USE CATALOG, ALL PRIVILEGES ON CATALOG main TO `grp with space`")
    assert st["privileges"] == ["USE CATALOG", "ALL PRIVILEGES"] and st["principal"] == "grp with space"
    st = parse_other("REVOKE CREATE EXTERNAL TABLE ON EXTERNAL LOCATION loc FROM `sp`")
    assert st["kind"] == "revoke" and st["type"] == "EXTERNAL_LOCATION" and st["name"] == ["loc"]
    assert parse_other("GRANT SELECT ON t TO u")["type"] == "TABLE"
    assert parse_other("GRANT SELECT ON SHARE s TO RECIPIENT r")["principal"] == "r"
    with pytest.raises(SqlError):
        parse_other("GRANT ON TABLE t TO u")
    with pytest.raises(SqlError):
        parse_other("GRANT SELECT ON TABLE t u")


def test_alter_family():
    assert parse_other("ALTER TABLE t SET OWNER TO `a@b`")["owner"] == "a@b"
    assert parse_other("ALTER VIEW v OWNER TO g")["type"] == "VIEW"
    st = parse_other("ALTER TABLE t ALTER COLUMN c SET TAGS ('k' = 'v', 'e')")
    assert st["kind"] == "set_tags" and st["column"] == "c" and st["tags"] == {"k": "v", "e": None}
    assert parse_other("ALTER SCHEMA s UNSET TAGS ('a', 'b')")["keys"] == ["a", "b"]
    st = parse_other("ALTER TABLE t SET ROW FILTER c.s.f ON (region, `x y`)")
    assert st["function"] == ["c", "s", "f"] and st["columns"] == ["region", "x y"]
    st = parse_other("ALTER TABLE t ALTER COLUMN ssn SET MASK m USING COLUMNS (region)")
    assert st["kind"] == "column_mask" and st["using"] == ["region"]
    assert parse_other("ALTER TABLE t ALTER COLUMN ssn DROP MASK")["function"] is None
    st = parse_other("ALTER TABLE t ADD COLUMNS (a INT COMMENT 'x', b DECIMAL(10,2))")
    assert [(c["name"], c["type"], c["comment"]) for c in st["columns"]] == [("a", "INT", "x"),
                                                                              ("b", "DECIMAL(10,2)", None)]
    st = parse_other("ALTER SHARE s ADD TABLE c.s.t AS s2.t2 WITH HISTORY")
    assert st["alias"] == "s2.t2" and st["history"] is True
    assert parse_other("ALTER TABLE t CHANGE COLUMN c COMMENT NULL")["comment"] is None
    with pytest.raises(SqlError):
        parse_other("ALTER TABLE t FROBNICATE")


def test_create_view_function_catalog_schema_volume():
    st = parse_other("CREATE OR REPLACE VIEW v (a COMMENT 'x', b) COMMENT 'c' TBLPROPERTIES ('p'='1') "
                     "AS SELECT 1 AS a, 'AS' AS b;")
    assert st["query"] == "SELECT 1 AS a, 'AS' AS b" and st["columns"][0] == {"name": "a", "comment": "x"}
    assert st["comment"] == "c" and st["properties"] == {"p": "1"}
    st = parse_other("CREATE FUNCTION f(x DECIMAL(10, 2) DEFAULT 1.0 COMMENT 'in', y ARRAY<STRING>) "
                     "RETURNS STRUCT<a: INT> COMMENT 'cf' DETERMINISTIC RETURN named_struct('a', 1)")
    assert [(p["name"], p["type"], p["default"]) for p in st["params"]] == [
        ("x", "DECIMAL(10, 2)", "1.0"), ("y", "ARRAY<STRING>", None)]
    assert st["returns"] == "STRUCT<a: INT>" and st["deterministic"] is True and st["comment"] == "cf"
    assert st["body"] == "named_struct('a', 1)"
    st = parse_other("CREATE FUNCTION f() RETURNS INT LANGUAGE PYTHON AS $$ return 1 $$")
    assert st["language"] == "PYTHON" and st["body"] == " return 1 "
    st = parse_other("CREATE CATALOG c USING SHARE prov.sh COMMENT 'x'")
    assert (st["provider"], st["share"]) == ("prov", "sh")
    st = parse_other("CREATE DATABASE IF NOT EXISTS c.s WITH DBPROPERTIES ('a'='b')")
    assert st["kind"] == "create_schema" and st["properties"] == {"a": "b"}
    with pytest.raises(SqlError) as e:
        parse_other("CREATE EXTERNAL VOLUME v")
    assert "LOCATION" in e.value.text


def test_show_describe_use_comment_drop():
    assert parse_other("SHOW SCHEMAS FROM c LIKE 'a*'") == {"kind": "show", "what": "SCHEMAS", "in": ["c"],
                                                            "like": "a*"}
    assert parse_other("SHOW GRANTS ON METASTORE")["type"] == "METASTORE"
    assert parse_other("SHOW TBLPROPERTIES t ('delta.x')")["key"] == "delta.x"
    assert parse_other("DESC EXTENDED t")["extended"] is True
    assert parse_other("DESCRIBE HISTORY t LIMIT 1")["limit"] == 1
    assert parse_other("DESCRIBE SCHEMA EXTENDED c.s")["type"] == "SCHEMA"
    assert parse_other("USE CATALOG c") == {"kind": "use", "type": "CATALOG", "name": ["c"]}
    assert parse_other("COMMENT ON COLUMN c.s.t.col IS 'x'")["column"] == "col"
    assert parse_other("COMMENT ON VOLUME c.s.v IS NULL")["comment"] is None
    assert parse_other("DROP SCHEMA IF EXISTS c.s CASCADE")["cascade"] is True
    assert parse_other("DROP MATERIALIZED VIEW v")["type"] == "VIEW"
    assert parse_other("COMMENT ON TABLE t IS :c", {"c": "param"})["comment"] == "param"
    with pytest.raises(SqlError) as e:
        parse_other("COMMENT ON TABLE t IS :missing")
    assert e.value.error_class == "UNBOUND_SQL_PARAMETER"
    with pytest.raises(SqlError):
        parse_other("DROP TABLE t extra")


def test_create_table_routing():
    from drsim.databricks.sql.lexer import tokenize as tk
    assert Engine._is_plain_create_table(tk("CREATE TABLE t (a INT) USING DELTA"))
    assert Engine._is_plain_create_table(tk("CREATE OR REPLACE TABLE t AS SELECT 'CLONE' AS x"))
    assert not Engine._is_plain_create_table(tk("CREATE OR REPLACE TABLE t DEEP CLONE s"))
    assert not Engine._is_plain_create_table(tk("CREATE VIEW v AS SELECT 1"))


def test_parameter_literals_are_typed():
    assert literal_for("O'Brien", None).sql("duckdb") == "'O''Brien'"
    assert literal_for("42", "INT").sql("duckdb") == "42"
    assert literal_for("42", "BIGINT").sql("duckdb") == "CAST(42 AS BIGINT)"
    assert literal_for("1.5", "DOUBLE").sql("duckdb") == "CAST(1.5 AS DOUBLE)"
    assert literal_for("true", "BOOLEAN").sql("duckdb") == "TRUE"
    assert literal_for(None, "BIGINT").sql("duckdb") == "CAST(NULL AS BIGINT)"
    assert literal_for("2024-01-01", "DATE").sql("duckdb") == "CAST('2024-01-01' AS DATE)"
    for v, t in (("1; DROP TABLE x", "INT"), ("nan", "DOUBLE"), ("yes", "BOOLEAN"), ("2024-13-01", "DATE")):
        with pytest.raises(SqlError) as e:
            literal_for(v, t)
        assert e.value.error_class == "CAST_INVALID_INPUT"


def test_types_and_formatting():
    assert norm_dbx("DECIMAL(10, 2)") == "decimal(10,2)"
    assert norm_dbx("STRING") == "string" and norm_dbx("long") == "bigint"
    assert norm_dbx("STRUCT<a: INT, b: STRING>") == "struct<a:int,b:string>"
    assert duck_to_dbx("INTEGER[]") == "array<int>"
    assert duck_to_dbx("STRUCT(a INTEGER, \"b c\" VARCHAR)") == "struct<a:int,b c:string>"
    assert duck_to_dbx("MAP(VARCHAR, BIGINT)") == "map<string,bigint>"
    assert duck_to_dbx("TIMESTAMP WITH TIME ZONE") == "timestamp"
    assert manifest_type("bigint") == {"type_name": "LONG", "type_text": "BIGINT"}
    assert manifest_type("decimal(10,2)") == {"type_name": "DECIMAL", "type_text": "DECIMAL(10,2)",
                                              "type_precision": 10, "type_scale": 2}
    assert manifest_type("map<string,string>")["type_name"] == "MAP"
    assert format_value(True) == "true" and format_value(None) is None
    assert format_value(decimal.Decimal("1.50")) == "1.50" and format_value(2.0) == "2.0"
    assert format_value(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == "2024-01-02T03:04:05.000Z"
    assert format_value(dt.date(2024, 1, 2)) == "2024-01-02"
    assert format_value({"k": "v"}) == '{"k":"v"}' and format_value([1, None]) == "[1,null]"
    assert format_value(b"\x00\x01") == "AAE="
