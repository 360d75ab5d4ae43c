"""Statement Execution API on the simulator: request contract, result shape, parameters, chunked
results, asynchronous execution with polling, cancellation, error classes."""
import re
import time

import pytest

from databricks.sdk.service.sql import ResultData, StatementResponse

from drsim.databricks import warehouses
from drsim.databricks.testkit import estate

S = "/api/2.0/sql/statements"


@pytest.fixture
def e(client):
    return estate()


class Sql:
    """A tiny Statement Execution API client over the simulator's HTTP API."""

    def __init__(self, client, ws, catalog=None, schema=None):
        self.client, self.ws, self.catalog, self.schema = client, ws, catalog, schema
        self.wid = warehouses.seed(ws["id"])

    def post(self, statement, params=None, **kw):
        body = {"statement": statement, "warehouse_id": self.wid, "wait_timeout": "30s"}
        if self.catalog:
            body["catalog"] = self.catalog
        if self.schema:
            body["schema"] = self.schema
        if params:
            body["parameters"] = [{"name": k, "value": v} if not isinstance(v, tuple)
                                  else {"name": k, "value": v[0], "type": v[1]} for k, v in params.items()]
        body.update(kw)
        return self.client.post(self.ws, S, json=body)

    def run(self, statement, params=None, **kw):
        r = self.post(statement, params, **kw)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["status"]["state"] == "SUCCEEDED", (statement, d["status"])
        return d

    def rows(self, statement, params=None):
        d = self.run(statement, params)
        out = list(d["result"].get("data_array") or [])
        nxt = d["result"].get("next_chunk_internal_link")
        while nxt:
            r = self.client.get(self.ws, nxt)
            assert r.status_code == 200, r.text
            out += r.json()["data_array"]
            nxt = r.json().get("next_chunk_internal_link")
        return out

    def fail(self, statement, params=None):
        r = self.post(statement, params)
        assert r.status_code == 200, r.text
        st = r.json()["status"]
        assert st["state"] == "FAILED", (statement, st)
        cls = st["error"]["message"].split("]")[0].lstrip("[")
        return cls, st


def setup_main(client, e):
    sql = Sql(client, e.prod.ws, catalog="main", schema="sales")
    sql.run(f"CREATE CATALOG main MANAGED LOCATION '{e.prod.root}main'")
    sql.run("CREATE SCHEMA main.sales")
    sql.run("CREATE TABLE orders (id BIGINT, amount DECIMAL(10,2), region STRING, ok BOOLEAN, d DATE)")
    sql.run("INSERT INTO orders VALUES (1, 10.50, 'eu', true, DATE'2024-01-02'), "
            "(2, 20, 'us', false, NULL), (3, 5.25, 'eu', NULL, DATE'2024-03-04')")
    return sql


def test_result_shape_and_types(client, e):
    sql = setup_main(client, e)
    d = sql.run("SELECT id, amount, region, ok, d, count(*) OVER () AS n FROM orders ORDER BY id")
    assert set(d) == {"statement_id", "status", "manifest", "result"}
    m = d["manifest"]
    assert m["format"] == "JSON_ARRAY" and m["total_row_count"] == 3 and m["total_chunk_count"] == 1
    cols = m["schema"]["columns"]
    assert [c["name"] for c in cols] == ["id", "amount", "region", "ok", "d", "n"]
    assert [c["type_name"] for c in cols] == ["LONG", "DECIMAL", "STRING", "BOOLEAN", "DATE", "LONG"]
    assert cols[1]["type_text"] == "DECIMAL(10,2)" and cols[1]["type_precision"] == 10
    assert [c["position"] for c in cols] == list(range(6))
    assert d["result"]["data_array"] == [["1", "10.50", "eu", "true", "2024-01-02", "3"],
                                         ["2", "20.00", "us", "false", None, "3"],
                                         ["3", "5.25", "eu", None, "2024-03-04", "3"]]
    assert d["result"]["chunk_index"] == 0 and d["result"]["row_offset"] == 0
    # the shapes are the SDK's: they round-trip through StatementResponse / ResultData
    assert StatementResponse.from_dict(d).as_dict() == d
    failed = sql.post("SELECT * FROM nope").json()
    assert StatementResponse.from_dict(failed).as_dict() == failed
    client.post("admin", "/sql/config", json={"chunk_rows": 1})
    multi = sql.run("SELECT id FROM orders")
    assert StatementResponse.from_dict(multi).as_dict() == multi
    chunk = client.get(e.prod.ws, multi["result"]["next_chunk_internal_link"]).json()
    assert ResultData.from_dict(chunk).as_dict() == chunk
    # GET returns the same statement with its result
    g = client.get(e.prod.ws, f"{S}/{d['statement_id']}").json()
    assert g["status"]["state"] == "SUCCEEDED" and g["result"]["data_array"] == d["result"]["data_array"]


def test_request_contract(client, e):
    sql = setup_main(client, e)
    r = sql.post("SELECT 1", wait_timeout="3s")
    assert r.status_code == 400 and "wait_timeout" in r.json()["message"]
    r = sql.post("SELECT 1", wait_timeout="51s")
    assert r.status_code == 400
    r = sql.post("SELECT 1", disposition="EXTERNAL_LINKS")
    assert r.json()["error_code"] == "NOT_IMPLEMENTED"
    r = sql.post("SELECT 1", format="CSV")
    assert r.status_code == 400 and "EXTERNAL_LINKS" in r.json()["message"]
    r = client.post(e.prod.ws, S, json={"statement": "SELECT 1", "warehouse_id": sql.wid, "wait_timout": "5s"})
    assert r.status_code == 400 and "wait_timout" in r.json()["message"]
    r = client.post(e.prod.ws, S, json={"statement": "SELECT 1"})
    assert r.status_code == 400 and "warehouse_id" in r.json()["message"]
    r = client.post(e.prod.ws, S, json={"statement": "SELECT 1", "warehouse_id": "w"}, token=False)
    assert r.status_code == 401
    r = client.get(e.prod.ws, f"{S}/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404
    assert sql.run("SELECT 1", wait_timeout="5s")["status"]["state"] == "SUCCEEDED"
    # the warehouse must exist in this workspace and be running
    r = client.post(e.prod.ws, S, json={"statement": "SELECT 1", "warehouse_id": "0123456789abcdef"})
    assert r.status_code == 404
    r = client.post(e.dr.ws, S, json={"statement": "SELECT 1", "warehouse_id": sql.wid})
    assert r.status_code == 404
    r = client.post(e.prod.ws, f"/api/2.0/sql/warehouses/{sql.wid}/stop")
    assert r.status_code == 200, r.text
    r = sql.post("SELECT 1")
    assert r.status_code == 400 and "not running" in r.json()["message"]


def test_named_parameters_are_bound_not_substituted(client, e):
    sql = setup_main(client, e)
    assert sql.rows("SELECT id FROM orders WHERE region = :r ORDER BY id", {"r": "eu"}) == [["1"], ["3"]]
    assert sql.rows("SELECT id FROM orders WHERE id > :n", {"n": ("2", "INT")}) == [["3"]]
    assert sql.rows("SELECT :d + INTERVAL 1 DAY AS x", {"d": ("2024-02-28", "DATE")})[0][0].startswith("2024-02-29")
    # an injection attempt stays a string value
    evil = "x' OR '1'='1"
    assert sql.rows("SELECT count(*) FROM orders WHERE region = :r", {"r": evil}) == [["0"]]
    assert sql.rows("SELECT :r AS v", {"r": evil}) == [[evil]]
    assert sql.rows("SELECT :v IS NULL", {"v": None}) == [["true"]]
    cls, _ = sql.fail("SELECT :missing")
    assert cls == "UNBOUND_SQL_PARAMETER"
    cls, _ = sql.fail("SELECT :n", {"n": ("abc", "INT")})
    assert cls == "CAST_INVALID_INPUT"


def test_chunked_results(client, e):
    sql = setup_main(client, e)
    r = client.post("admin", "/sql/config", json={"chunk_rows": 7})
    assert r.status_code == 200
    d = sql.run("SELECT range AS i FROM range(30)")
    m = d["manifest"]
    assert m["total_row_count"] == 30 and m["total_chunk_count"] == 5
    assert [c["row_count"] for c in m["chunks"]] == [7, 7, 7, 7, 2]
    assert [c["row_offset"] for c in m["chunks"]] == [0, 7, 14, 21, 28]
    assert d["result"]["next_chunk_index"] == 1
    assert sql.rows("SELECT range AS i FROM range(30)") == [[str(i)] for i in range(30)]
    last = client.get(e.prod.ws, f"{S}/{d['statement_id']}/result/chunks/4").json()
    assert last["row_offset"] == 28 and "next_chunk_index" not in last
    r = client.get(e.prod.ws, f"{S}/{d['statement_id']}/result/chunks/5")
    assert r.status_code == 400
    # row_limit truncates and says so
    d = sql.run("SELECT range AS i FROM range(30)", row_limit=10)
    assert d["manifest"]["total_row_count"] == 10 and d["manifest"]["truncated"] is True


def test_async_wait_0s_then_poll(client, e):
    sql = setup_main(client, e)
    client.post("admin", "/sql/config", json={"delay_ms": 300})
    d = sql.post("SELECT count(*) AS n FROM orders", wait_timeout="0s").json()
    assert d["status"]["state"] in ("PENDING", "RUNNING") and "result" not in d
    sid = d["statement_id"]
    for _ in range(100):
        g = client.get(e.prod.ws, f"{S}/{sid}").json()
        if g["status"]["state"] not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.05)
    assert g["status"]["state"] == "SUCCEEDED" and g["result"]["data_array"] == [["3"]]


def test_cancel_and_on_wait_timeout_cancel(client, e):
    sql = setup_main(client, e)
    client.post("admin", "/sql/config", json={"delay_ms": 3000})
    d = sql.post("INSERT INTO orders VALUES (9, 1, 'x', true, NULL)", wait_timeout="0s").json()
    r = client.post(e.prod.ws, f"{S}/{d['statement_id']}/cancel")
    assert r.status_code == 200
    for _ in range(100):
        g = client.get(e.prod.ws, f"{S}/{d['statement_id']}").json()
        if g["status"]["state"] not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.05)
    assert g["status"]["state"] == "CANCELED"
    client.post("admin", "/sql/config", json={"delay_ms": 7000})
    d = sql.post("SELECT 1", wait_timeout="5s", on_wait_timeout="CANCEL").json()
    assert d["status"]["state"] == "CANCELED"
    client.post("admin", "/sql/config", json={"delay_ms": 0})
    assert sql.rows("SELECT count(*) FROM orders") == [["3"]]     # the cancelled insert never ran


def test_error_classes(client, e):
    sql = setup_main(client, e)
    cls, st = sql.fail("SELECT * FROM main.sales.nope")
    assert cls == "TABLE_OR_VIEW_NOT_FOUND" and st["sql_state"] == "42P01"
    assert st["error"]["error_code"] == "BAD_REQUEST" and "SQLSTATE: 42P01" in st["error"]["message"]
    assert sql.fail("SELEC 1")[0] == "PARSE_SYNTAX_ERROR"
    assert sql.fail("SELECT * FROM main.nope.t")[0] == "SCHEMA_NOT_FOUND"
    assert sql.fail("SELECT * FROM nocat.s.t")[0] == "NO_SUCH_CATALOG_EXCEPTION"
    assert sql.fail("SELECT nope FROM orders")[0] == "UNRESOLVED_COLUMN"
    assert sql.fail("CREATE TABLE orders (a INT)")[0] == "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert sql.fail("SELECT 1; SELECT 2")[0] == "PARSE_SYNTAX_ERROR"
    # a statement in a workspace without a metastore is refused
    from drsim import testing
    lone = testing.make_workspace("lone", "eastus2")
    r = client.post(lone, S, json={"statement": "SELECT 1", "warehouse_id": warehouses.seed(lone["id"])})
    assert r.status_code == 404 and r.json()["error_code"] == "METASTORE_DOES_NOT_EXIST"


def test_statements_are_per_workspace(client, e):
    sql = setup_main(client, e)
    d = sql.run("SELECT 1")
    r = client.get(e.dr.ws, f"{S}/{d['statement_id']}")
    assert r.status_code == 404


def test_bad_statements_fail_cleanly(client, e):
    """Malformed or unsupported statements fail with a Databricks error class, never a simulator
    bug, and never leak physical table names."""
    sql = setup_main(client, e)
    sql.run("CREATE TABLE nn (a INT NOT NULL, b STRING)")
    cases = {
        "SELECT": "PARSE_SYNTAX_ERROR", "SELECT * FROM": "PARSE_SYNTAX_ERROR", "OPTIMIZE orders": "PARSE_SYNTAX_ERROR",
        "INSERT INTO nn VALUES (1)": "INSERT_COLUMN_ARITY_MISMATCH",
        "INSERT INTO nn VALUES ('x', 'y')": "CAST_INVALID_INPUT",
        "INSERT INTO nn VALUES (NULL, 'y')": "DELTA_NOT_NULL_CONSTRAINT_VIOLATED",
        "UPDATE nn SET nope = 1": "UNRESOLVED_COLUMN",
        "CREATE TABLE x (a FOO)": "PARSE_SYNTAX_ERROR",
        "CREATE TABLE x (a INT) LOCATION 'relative/path'": "INVALID_PARAMETER_VALUE",
        "CREATE VIEW v AS INSERT INTO nn VALUES (1, 'a')": "PARSE_SYNTAX_ERROR",
        "SELECT * FROM orders TIMESTAMP AS OF 'garbage'": "INVALID_TIME_TRAVEL_SPEC",
        "SELECT unknown_fn(1)": "UNRESOLVED_ROUTINE",
        "ALTER TABLE orders ALTER COLUMN nope COMMENT 'x'": "UNRESOLVED_COLUMN",
        "GRANT FOO ON TABLE orders TO `x`": "INVALID_PARAMETER_VALUE",
        "DROP CATALOG main": "SCHEMA_NOT_EMPTY",
        "SELECT ?": "UNSUPPORTED_FEATURE",
        "SELECT amount / (id - 1) FROM orders": "DIVIDE_BY_ZERO",      # ANSI mode, like Databricks SQL
    }
    for stmt, want in cases.items():
        cls, st = sql.fail(stmt)
        assert cls == want, (stmt, st)
        assert not re.search(r"d_[0-9a-f]{8}_", st["error"]["message"]), st
    assert sql.rows("SELECT count(*) FROM nn") == [["0"]]
    assert sql.rows("SELECT try_divide(1, 0), 3 / 2") == [[None, "1.5"]]


def test_clone_copy_time_is_simulated(client, e):
    sql = setup_main(client, e)
    client.post("admin", "/sql/config", json={"clone_ms_per_file": 2000})
    t0 = time.monotonic()
    sql.run("CREATE OR REPLACE TABLE main.sales.c DEEP CLONE main.sales.orders")     # copies 1 file
    first = time.monotonic() - t0
    t0 = time.monotonic()
    sql.run("CREATE OR REPLACE TABLE main.sales.c DEEP CLONE main.sales.orders")     # copies nothing
    again = time.monotonic() - t0
    assert first >= 2.0 and again < first - 1.0
    r = client.post("admin", "/sql/config", json={"clone_ms_per_fil": 1})
    assert r.status_code == 400 and "clone_ms_per_fil" in r.json()["message"]
