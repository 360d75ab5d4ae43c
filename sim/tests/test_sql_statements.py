"""SQL statement families through the Statement Execution API, acting on the UC model:
DDL, DML + Delta history, DEEP CLONE (incremental counts, sourceVersion), views (checked, resolving,
views on views across schemas), functions, grants (SQL <-> REST), tags/owners/comments,
SHOW/DESCRIBE, information_schema, shared catalogs."""
import json

import pytest

from drsim.databricks.testkit import estate
from test_sql_api import Sql

P = "/api/2.1/unity-catalog"


@pytest.fixture
def e(client):
    return estate()


@pytest.fixture
def sql(client, e):
    s = Sql(client, e.prod.ws, catalog="main", schema="sales")
    s.run(f"CREATE CATALOG IF NOT EXISTS main MANAGED LOCATION '{e.prod.root}main' COMMENT 'main cat'")
    s.run("CREATE SCHEMA IF NOT EXISTS main.sales COMMENT 'sales data'")
    s.run("CREATE SCHEMA main.finance")
    s.run("CREATE TABLE main.sales.orders (id BIGINT NOT NULL COMMENT 'key', amount DECIMAL(10,2), "
          "region STRING) USING DELTA COMMENT 'all orders' TBLPROPERTIES ('quality' = 'gold')")
    s.run("INSERT INTO main.sales.orders VALUES (1, 10, 'eu'), (2, 20, 'us'), (3, 30, 'eu')")
    return s


def user_props(t):
    """TableInfo.properties without UC's Delta version stamps (delta.lastUpdateVersion/...)."""
    return {k: v for k, v in (t.get("properties") or {}).items()
            if k not in ("delta.lastUpdateVersion", "delta.lastCommitTimestamp")}


def history(sql, name):
    d = sql.run(f"DESCRIBE HISTORY {name}")
    names = [c["name"] for c in d["manifest"]["schema"]["columns"]]
    return [dict(zip(names, r)) for r in d["result"]["data_array"]]


def test_ddl_lands_in_the_model(client, e, sql):
    ws = e.prod.ws
    c = client.get(ws, P + "/catalogs/main").json()
    assert c["comment"] == "main cat" and c["storage_root"].endswith("/main")
    assert client.get(ws, P + "/schemas/main.sales").json()["comment"] == "sales data"
    t = client.get(ws, P + "/tables/main.sales.orders").json()
    assert t["table_type"] == "MANAGED" and t["data_source_format"] == "DELTA"
    assert t["comment"] == "all orders" and user_props(t) == {"quality": "gold"}
    assert [(c["name"], c["type_text"], c.get("comment"), c["nullable"]) for c in t["columns"]] == [
        ("id", "bigint", "key", False), ("amount", "decimal(10,2)", None, True),
        ("region", "string", None, True)]
    # CREATE ... IF NOT EXISTS is idempotent, plain CREATE is not
    sql.run("CREATE SCHEMA IF NOT EXISTS main.sales")
    assert sql.fail("CREATE SCHEMA main.sales")[0] == "SCHEMA_ALREADY_EXISTS"
    # external Delta and external Parquet tables need their location under an external location
    sql.run(f"CREATE TABLE main.sales.ext (a INT) USING DELTA LOCATION '{e.prod.root}ext/a'")
    sql.run(f"CREATE TABLE main.sales.pq (a INT, b STRING) USING PARQUET LOCATION '{e.prod.root}ext/pq'")
    pq = client.get(ws, P + "/tables/main.sales.pq").json()
    assert pq["table_type"] == "EXTERNAL" and pq["data_source_format"] == "PARQUET"
    assert pq["storage_location"] == f"{e.prod.root}ext/pq"
    cls, st = sql.fail("CREATE TABLE main.sales.bad (a INT) LOCATION 'abfss://x@nowhere.dfs.core.windows.net/t'")
    assert cls == "INVALID_PARAMETER_VALUE"
    assert sql.fail(f"CREATE TABLE main.sales.pq2 USING PARQUET LOCATION '{e.prod.root}ext/pq2'")[0] == \
        "UNABLE_TO_INFER_SCHEMA"
    # volumes
    sql.run(f"CREATE EXTERNAL VOLUME main.sales.landing LOCATION '{e.prod.root}vol/landing' COMMENT 'files'")
    v = client.get(ws, P + "/volumes/main.sales.landing").json()
    assert v["volume_type"] == "EXTERNAL" and v["comment"] == "files"
    sql.run("DROP VOLUME main.sales.landing")
    assert client.get(ws, P + "/volumes/main.sales.landing").status_code == 404
    sql.run("DROP VOLUME IF EXISTS main.sales.landing")
    # drops
    assert sql.fail("DROP SCHEMA main.sales")[0] == "SCHEMA_NOT_EMPTY"
    sql.run("DROP TABLE main.sales.ext")
    assert client.get(ws, P + "/tables/main.sales.ext").status_code == 404
    assert sql.fail("DROP TABLE main.sales.ext")[0] == "TABLE_OR_VIEW_NOT_FOUND"
    sql.run("DROP TABLE IF EXISTS main.sales.ext")
    sql.run("DROP SCHEMA main.sales CASCADE")
    assert client.get(ws, P + "/schemas/main.sales").status_code == 404


def test_dml_and_history(client, e, sql):
    sql.run("INSERT INTO orders SELECT id + 10, amount, region FROM orders")
    d = sql.run("UPDATE orders SET amount = amount * 2 WHERE region = 'eu'")
    assert d["result"]["data_array"] == [["4"]]
    d = sql.run("DELETE FROM orders WHERE id = 12")
    assert d["result"]["data_array"] == [["1"]]
    sql.run("CREATE TABLE staging AS SELECT * FROM orders WHERE id < 3")
    sql.run("UPDATE staging SET amount = 0")
    sql.run("INSERT INTO staging VALUES (99, 1, 'apac')")
    d = sql.run("MERGE INTO orders t USING staging s ON t.id = s.id "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    cols = [c["name"] for c in d["manifest"]["schema"]["columns"]]
    assert cols == ["num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows"]
    assert d["result"]["data_array"] == [["3", "2", "0", "1"]]
    assert sql.rows("SELECT id, amount FROM orders ORDER BY id") == [
        ["1", "0.00"], ["2", "0.00"], ["3", "60.00"], ["11", "20.00"], ["13", "60.00"], ["99", "1.00"]]
    h = history(sql, "main.sales.orders")
    assert [x["operation"] for x in h] == ["MERGE", "DELETE", "UPDATE", "WRITE", "WRITE", "CREATE TABLE"]
    assert [x["version"] for x in h] == ["5", "4", "3", "2", "1", "0"]
    assert json.loads(h[3]["operationParameters"])["mode"] == "Append"
    # time travel reads an older version
    assert sql.rows("SELECT count(*) FROM orders VERSION AS OF 1") == [["3"]]
    assert sql.rows("SELECT count(*) FROM orders VERSION AS OF 2") == [["6"]]
    assert sql.fail("SELECT * FROM orders VERSION AS OF 42")[0] == "INVALID_TIME_TRAVEL_SPEC"
    # history through REST-visible model
    assert e.prod.ms.get_table("main.sales.orders").current_version == 5


def test_deep_clone_incremental(client, e, sql):
    clone = "CREATE OR REPLACE TABLE main.finance.orders_copy DEEP CLONE main.sales.orders"
    cols = ["source_table_size", "source_num_of_files", "num_removed_files", "num_copied_files",
            "removed_files_size", "copied_files_size"]

    def run_clone(stmt=clone):
        d = sql.run(stmt)
        assert [c["name"] for c in d["manifest"]["schema"]["columns"]] == cols
        return dict(zip(cols, (int(x) for x in d["result"]["data_array"][0])))

    sql.run("ALTER TABLE main.sales.orders SET TAGS ('tier' = 'gold')")
    sql.run("GRANT SELECT ON TABLE main.sales.orders TO `analysts`")
    first = run_clone()
    assert first["source_num_of_files"] == 1 and first["num_copied_files"] == 1
    assert first["copied_files_size"] == first["source_table_size"] > 0
    again = run_clone()
    assert again["num_copied_files"] == 0 and again["copied_files_size"] == 0
    assert again["num_removed_files"] == 0
    sql.run("INSERT INTO main.sales.orders VALUES (4, 40, 'us')")
    inc = run_clone()
    assert inc["source_num_of_files"] == 2 and inc["num_copied_files"] == 1
    assert 0 < inc["copied_files_size"] < inc["source_table_size"]
    assert sql.rows("SELECT count(*) FROM main.finance.orders_copy") == [["4"]]
    # copies data, columns and properties; not the comment, tags or grants
    t = client.get(e.prod.ws, P + "/tables/main.finance.orders_copy").json()
    assert user_props(t) == {"quality": "gold"} and t.get("comment") is None
    assert [c["name"] for c in t["columns"]] == ["id", "amount", "region"]
    assert e.prod.ms.get_tags("TABLE", "main.finance.orders_copy") == {}
    assert e.prod.ms.get_grants("TABLE", "main.finance.orders_copy") == []
    # history records CLONE with the source version
    h = history(sql, "main.finance.orders_copy")
    assert [x["operation"] for x in h] == ["CLONE", "CLONE", "CLONE"]
    src_version = e.prod.ms.get_table("main.sales.orders").current_version
    p = json.loads(h[0]["operationParameters"])
    assert p == {"source": "main.sales.orders", "sourceVersion": str(src_version), "isShallow": "false"}
    assert json.loads(h[0]["operationMetrics"])["numCopiedFiles"] == "1"
    # VERSION AS OF clones an older state; going back removes the newer file
    old = run_clone(clone + " VERSION AS OF 1")
    assert old["num_removed_files"] == 1 and old["num_copied_files"] == 0
    assert sql.rows("SELECT count(*) FROM main.finance.orders_copy") == [["3"]]
    assert json.loads(history(sql, "main.finance.orders_copy")[0]["operationParameters"])["sourceVersion"] == "1"
    # to an external location
    ext = run_clone("CREATE OR REPLACE TABLE main.finance.ext_copy "
                    f"LOCATION '{e.prod.root}dr/ext_copy' DEEP CLONE main.sales.orders")
    assert ext["num_copied_files"] == 2
    t = client.get(e.prod.ws, P + "/tables/main.finance.ext_copy").json()
    assert t["table_type"] == "EXTERNAL" and t["storage_location"] == f"{e.prod.root}dr/ext_copy"
    assert sql.fail("CREATE TABLE main.finance.orders_copy DEEP CLONE main.sales.orders")[0] == \
        "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert sql.fail("CREATE OR REPLACE TABLE main.finance.x DEEP CLONE main.sales.nope")[0] == \
        "TABLE_OR_VIEW_NOT_FOUND"
    # REPLACE TABLE (without CREATE OR) needs an existing target
    assert sql.fail("REPLACE TABLE main.finance.x DEEP CLONE main.sales.orders")[0] == "TABLE_OR_VIEW_NOT_FOUND"
    assert run_clone("REPLACE TABLE main.finance.orders_copy CLONE main.sales.orders")["num_copied_files"] == 1


def test_views_checked_and_resolving(client, e, sql):
    sql.run("CREATE VIEW main.sales.by_region COMMENT 'totals' AS "
            "SELECT region, sum(amount) AS total FROM orders GROUP BY region")
    # a view on a view in another schema, referenced with a two-part name
    s2 = Sql(client, e.prod.ws, catalog="main", schema="finance")
    s2.run("CREATE VIEW big_regions AS SELECT region FROM sales.by_region WHERE total > 25")
    assert s2.rows("SELECT * FROM big_regions") == [["eu"]]
    # resolution of a view's names does not depend on the caller's defaults
    other = Sql(client, e.prod.ws)
    assert other.rows("SELECT * FROM main.finance.big_regions") == [["eu"]]
    t = client.get(e.prod.ws, P + "/tables/main.finance.big_regions").json()
    assert t["table_type"] == "VIEW"
    assert t["view_definition"] == "SELECT region FROM sales.by_region WHERE total > 25"
    assert t["view_dependencies"] == {"dependencies": [{"table": {"table_full_name": "main.sales.by_region"}}]}
    assert [c["name"] for c in t["columns"]] == ["region"]
    v = client.get(e.prod.ws, P + "/tables/main.sales.by_region").json()
    assert v["comment"] == "totals" and v["columns"][1]["type_text"] == "decimal(38,2)"
    # checked: missing table, missing column
    assert sql.fail("CREATE VIEW v_bad AS SELECT * FROM main.sales.missing")[0] == "TABLE_OR_VIEW_NOT_FOUND"
    assert sql.fail("CREATE VIEW v_bad AS SELECT nope FROM orders")[0] == "UNRESOLVED_COLUMN"
    assert client.get(e.prod.ws, P + "/tables/main.sales.v_bad").status_code == 404
    # replace, and writes to a view are refused
    sql.run("CREATE OR REPLACE VIEW main.sales.by_region AS SELECT region, count(*) AS n FROM orders GROUP BY region")
    assert sql.rows("SELECT n FROM by_region WHERE region = 'eu'") == [["2"]]
    assert sql.fail("INSERT INTO by_region VALUES ('x', 1)")[0] == "EXPECT_TABLE_NOT_VIEW"
    assert sql.fail("CREATE VIEW by_region AS SELECT 1")[0] == "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert sql.fail("DROP TABLE by_region")[0] == "WRONG_COMMAND_FOR_OBJECT_TYPE"
    # the stale dependent view fails when its source column disappears
    assert s2.fail("SELECT * FROM big_regions")[0] == "UNRESOLVED_COLUMN"
    sql.run("DROP VIEW main.finance.big_regions")


def test_functions(client, e, sql):
    sql.run("CREATE FUNCTION main.sales.with_tax(x DECIMAL(10,2), rate DOUBLE DEFAULT 0.2) "
            "RETURNS DOUBLE COMMENT 'gross' RETURN x * (1 + rate)")
    f = client.get(e.prod.ws, P + "/functions/main.sales.with_tax").json()
    assert f["routine_body"] == "SQL" and f["routine_definition"] == "x * (1 + rate)"
    assert f["comment"] == "gross" and f["data_type"] == "DOUBLE"
    assert [p["name"] for p in f["input_params"]["parameters"]] == ["x", "rate"]
    assert sql.rows("SELECT with_tax(amount) FROM orders WHERE id = 1") == [["12.0"]]
    assert sql.rows("SELECT main.sales.with_tax(amount, 0.5) AS g FROM orders WHERE id = 1") == [["15.0"]]
    sql.run("CREATE VIEW taxed AS SELECT id, main.sales.with_tax(amount) AS gross FROM orders")
    v = client.get(e.prod.ws, P + "/tables/main.sales.taxed").json()
    assert {"function": {"function_full_name": "main.sales.with_tax"}} in v["view_dependencies"]["dependencies"]
    assert sql.fail("CREATE VIEW v2 AS SELECT main.sales.nofn(id) FROM orders")[0] == "UNRESOLVED_ROUTINE"
    assert sql.fail("CREATE FUNCTION main.sales.with_tax(x INT) RETURNS INT RETURN x")[0] == \
        "ROUTINE_ALREADY_EXISTS"
    sql.run("CREATE OR REPLACE FUNCTION main.sales.with_tax(x INT) RETURNS INT RETURN x + 1")
    sql.run("DROP FUNCTION main.sales.with_tax")
    assert client.get(e.prod.ws, P + "/functions/main.sales.with_tax").status_code == 404


def test_grants_sql_and_rest_agree(client, e, sql):
    ws = e.prod.ws
    sql.run("GRANT USE CATALOG, USE SCHEMA, SELECT ON CATALOG main TO `analysts`")
    sql.run("GRANT SELECT, MODIFY ON TABLE main.sales.orders TO `etl@example.com`")
    sql.run("GRANT ALL PRIVILEGES ON SCHEMA main.finance TO `admins`")
    r = client.get(ws, P + "/permissions/catalog/main").json()
    assert r["privilege_assignments"] == [{"principal": "analysts",
                                           "privileges": ["SELECT", "USE_CATALOG", "USE_SCHEMA"]}]
    r = client.get(ws, P + "/permissions/table/main.sales.orders").json()
    assert r["privilege_assignments"] == [{"principal": "etl@example.com", "privileges": ["MODIFY", "SELECT"]}]
    assert client.get(ws, P + "/permissions/schema/main.finance").json()["privilege_assignments"] == [
        {"principal": "admins", "privileges": ["ALL_PRIVILEGES"]}]
    # REST -> SQL
    r = client.patch(ws, P + "/permissions/table/main.sales.orders",
                     json={"changes": [{"principal": "bi", "add": ["SELECT"]}]})
    assert r.status_code == 200, r.text
    rows = sql.rows("SHOW GRANTS ON TABLE main.sales.orders")
    assert ["bi", "SELECT", "TABLE", "main.sales.orders"] in rows
    assert ["etl@example.com", "MODIFY", "TABLE", "main.sales.orders"] in rows
    assert ["analysts", "SELECT", "CATALOG", "main"] in rows         # inherited, shown with its origin
    owner = e.prod.ms.get_table("main.sales.orders").owner
    assert [owner, "OWN", "TABLE", "main.sales.orders"] in rows
    assert sql.rows("SHOW GRANTS `bi` ON TABLE main.sales.orders") == [["bi", "SELECT", "TABLE", "main.sales.orders"]]
    assert ["analysts", "USE CATALOG", "CATALOG", "main"] in sql.rows("SHOW GRANTS ON CATALOG main")
    # revoke; an invalid privilege for the securable is refused
    sql.run("REVOKE MODIFY ON TABLE main.sales.orders FROM `etl@example.com`")
    r = client.get(ws, P + "/permissions/table/main.sales.orders").json()
    assert {"principal": "etl@example.com", "privileges": ["SELECT"]} in r["privilege_assignments"]
    cls, st = sql.fail("GRANT USE CATALOG ON TABLE main.sales.orders TO `x`")
    assert cls == "INVALID_PARAMETER_VALUE" and "USE_CATALOG" in st["error"]["message"]
    assert sql.fail("GRANT SELECT ON TABLE main.sales.nope TO `x`")[0] == "TABLE_OR_VIEW_NOT_FOUND"
    # information_schema shows direct and inherited privileges
    rows = sql.rows("SELECT grantee, privilege_type, inherited_from FROM main.information_schema.table_privileges "
                    "WHERE table_name = 'orders' ORDER BY grantee, privilege_type")
    assert ["analysts", "SELECT", "CATALOG"] in rows and ["bi", "SELECT", "NONE"] in rows
    rows = sql.rows("SELECT grantee, privilege_type FROM system.information_schema.catalog_privileges")
    assert ["analysts", "USE CATALOG"] in rows


def test_owner_comment_tags_properties(client, e, sql):
    ws = e.prod.ws
    sql.run("ALTER TABLE main.sales.orders OWNER TO `data-owners`")
    sql.run("ALTER SCHEMA main.sales OWNER TO `data-owners`")
    assert client.get(ws, P + "/tables/main.sales.orders").json()["owner"] == "data-owners"
    assert client.get(ws, P + "/schemas/main.sales").json()["owner"] == "data-owners"
    sql.run("COMMENT ON TABLE main.sales.orders IS 'orders v2'")
    sql.run("COMMENT ON SCHEMA main.sales IS 'sales v2'")
    sql.run("COMMENT ON CATALOG main IS 'cat v2'")
    sql.run("ALTER TABLE main.sales.orders ALTER COLUMN region COMMENT 'ISO region'")
    sql.run("COMMENT ON COLUMN main.sales.orders.amount IS 'EUR'")
    t = client.get(ws, P + "/tables/main.sales.orders").json()
    assert t["comment"] == "orders v2"
    assert {c["name"]: c.get("comment") for c in t["columns"]} == {"id": "key", "amount": "EUR",
                                                                   "region": "ISO region"}
    assert client.get(ws, P + "/schemas/main.sales").json()["comment"] == "sales v2"
    assert client.get(ws, P + "/catalogs/main").json()["comment"] == "cat v2"
    sql.run("ALTER TABLE main.sales.orders SET TAGS ('pii' = 'false', 'domain' = 'sales')")
    sql.run("ALTER TABLE main.sales.orders ALTER COLUMN region SET TAGS ('geo' = '')")
    sql.run("ALTER SCHEMA main.sales SET TAGS ('team' = 'a')")
    sql.run("ALTER TABLE main.sales.orders UNSET TAGS ('pii')")
    ms = e.prod.ms
    assert ms.get_tags("TABLE", "main.sales.orders") == {"domain": "sales"}
    assert ms.get_tags("TABLE", "main.sales.orders", column="region") == {"geo": ""}
    assert sql.rows("SELECT tag_name, tag_value FROM main.information_schema.table_tags") == [["domain", "sales"]]
    assert sql.rows("SELECT column_name, tag_name FROM main.information_schema.column_tags") == [["region", "geo"]]
    assert sql.rows("SELECT schema_name, tag_name FROM system.information_schema.schema_tags") == [["sales", "team"]]
    before = ms.get_table("main.sales.orders").current_version
    sql.run("ALTER TABLE main.sales.orders SET TBLPROPERTIES ('quality' = 'silver', 'x' = '1')")
    sql.run("ALTER TABLE main.sales.orders UNSET TBLPROPERTIES ('x')")
    assert user_props(client.get(ws, P + "/tables/main.sales.orders").json()) == {"quality": "silver"}
    assert ms.get_table("main.sales.orders").current_version == before + 2     # Delta commits
    assert history(sql, "main.sales.orders")[1]["operation"] == "SET TBLPROPERTIES"
    # row filter / column mask metadata
    sql.run("CREATE FUNCTION main.sales.only_eu(r STRING) RETURNS BOOLEAN RETURN r = 'eu'")
    sql.run("CREATE FUNCTION main.sales.mask(a DECIMAL(10,2)) RETURNS DECIMAL(10,2) RETURN NULL")
    sql.run("ALTER TABLE main.sales.orders SET ROW FILTER main.sales.only_eu ON (region)")
    sql.run("ALTER TABLE main.sales.orders ALTER COLUMN amount SET MASK main.sales.mask")
    t = client.get(ws, P + "/tables/main.sales.orders").json()
    assert t["row_filter"] == {"function_name": "main.sales.only_eu", "input_column_names": ["region"]}
    assert [c.get("mask") for c in t["columns"]][1]["function_name"] == "main.sales.mask"
    assert sql.rows("SELECT filter_name FROM main.information_schema.row_filters") == [["main.sales.only_eu"]]
    # enforced on reads: rows filtered, masked column nulled
    assert sql.rows("SELECT id, amount FROM main.sales.orders ORDER BY id") == [["1", None], ["3", None]]
    assert sql.rows("SELECT count(*) FROM main.sales.orders o JOIN main.sales.orders p ON o.id = p.id") == [["2"]]
    sql.run("ALTER TABLE main.sales.orders DROP ROW FILTER")
    sql.run("ALTER TABLE main.sales.orders ALTER COLUMN amount DROP MASK")
    t = client.get(ws, P + "/tables/main.sales.orders").json()
    assert t.get("row_filter") is None and "mask" not in t["columns"][1]


def test_show_and_describe(client, e, sql):
    sql.run("CREATE VIEW main.sales.v AS SELECT id FROM orders")
    assert ["main"] in sql.rows("SHOW CATALOGS")
    assert sql.rows("SHOW CATALOGS LIKE 'ma*'") == [["main"]]
    assert ["finance"] in sql.rows("SHOW SCHEMAS IN main")
    assert sql.rows("SHOW TABLES IN main.sales") == [["sales", "orders", "false"], ["sales", "v", "false"]]
    assert sql.rows("SHOW VIEWS IN main.sales") == [["sales", "v", "false", "false"]]
    d = sql.rows("DESCRIBE TABLE main.sales.orders")
    assert d == [["id", "bigint", "key"], ["amount", "decimal(10,2)", None], ["region", "string", None]]
    ext = dict((r[0], r[1]) for r in sql.rows("DESCRIBE TABLE EXTENDED main.sales.orders"))
    assert ext["Type"] == "MANAGED" and ext["Provider"] == "delta" and ext["Comment"] == "all orders"
    (stmt,), = sql.rows("SHOW CREATE TABLE main.sales.orders")
    assert stmt.startswith("CREATE TABLE main.sales.orders (\n  id BIGINT NOT NULL COMMENT 'key',")
    assert "USING delta" in stmt and "'quality' = 'gold'" in stmt
    # SHOW CREATE TABLE output runs again as a statement
    sql.run("DROP TABLE main.sales.orders")
    sql.run(stmt)
    assert client.get(e.prod.ws, P + "/tables/main.sales.orders").json()["comment"] == "all orders"
    (vstmt,), = sql.rows("SHOW CREATE TABLE main.sales.v")
    assert vstmt.startswith("CREATE VIEW main.sales.v (") and vstmt.endswith("AS SELECT id FROM orders")
    assert sql.rows("SHOW TBLPROPERTIES main.sales.orders") == [["quality", "gold"]]
    assert sql.rows("SHOW COLUMNS IN main.sales.orders") == [["id"], ["amount"], ["region"]]
    rows = dict(sql.rows("DESCRIBE SCHEMA main.sales"))
    assert rows["Namespace Name"] == "sales" and rows["Comment"] == "sales data"
    assert sql.fail("DESCRIBE HISTORY main.sales.v")[0] == "EXPECT_TABLE_NOT_VIEW"


def test_information_schema(client, e, sql):
    sql.run("CREATE VIEW main.finance.v AS SELECT * FROM main.sales.orders")
    sql.run(f"CREATE EXTERNAL VOLUME main.sales.vol LOCATION '{e.prod.root}vol/v'")
    sql.run("CREATE FUNCTION main.sales.f(x INT) RETURNS INT RETURN x")
    rows = sql.rows("SELECT table_schema, table_name, table_type, data_source_format "
                    "FROM main.information_schema.tables ORDER BY 1, 2")
    assert rows == [["finance", "v", "VIEW", None], ["sales", "orders", "MANAGED", "DELTA"]]
    assert sql.rows("SELECT schema_name FROM main.information_schema.schemata ORDER BY 1") == [
        ["default"], ["finance"], ["information_schema"], ["sales"]]
    assert sql.rows("SELECT column_name, ordinal_position, full_data_type FROM main.information_schema.columns "
                    "WHERE table_name = 'orders' ORDER BY 2") == [
        ["id", "0", "bigint"], ["amount", "1", "decimal(10,2)"], ["region", "2", "string"]]
    assert sql.rows("SELECT view_definition FROM main.information_schema.views") == [
        ["SELECT * FROM main.sales.orders"]]
    assert sql.rows("SELECT volume_name, volume_type FROM main.information_schema.volumes") == [["vol", "EXTERNAL"]]
    assert sql.rows("SELECT routine_name, routine_definition FROM main.information_schema.routines") == [["f", "x"]]
    assert ["main"] in sql.rows("SELECT catalog_name FROM system.information_schema.catalogs")
    # joins and aggregates across information_schema and data
    assert sql.rows("SELECT t.table_name, count(c.column_name) FROM main.information_schema.tables t "
                    "JOIN main.information_schema.columns c USING (table_schema, table_name) "
                    "GROUP BY t.table_name ORDER BY 1") == [["orders", "3"], ["v", "3"]]
    assert sql.fail("SELECT * FROM main.information_schema.nope")[0] == "TABLE_OR_VIEW_NOT_FOUND"


def test_shared_catalog_reads_provider_current_data(client, e, sql):
    pms, dms = e.prod.ms, e.dr.ms
    pms.create_share("dr_share", "admin")
    sql.run("ALTER SHARE dr_share ADD TABLE main.sales.orders WITH HISTORY")
    pms.create_recipient("dr", "admin", "DATABRICKS",
                         data_recipient_global_metastore_id=dms.global_metastore_id)
    pms.update_share_permissions("dr_share", [{"principal": "dr", "add": ["SELECT"]}])
    provider = dms.list_providers()[0].name if hasattr(dms, "list_providers") else next(iter(dms.providers))
    dr = Sql(client, e.dr.ws)
    dr.run(f"CREATE CATALOG dr_main MANAGED LOCATION '{e.dr.root}main'")
    dr.run("CREATE SCHEMA dr_main.sales")
    dr.run(f"CREATE CATALOG prod_shared USING SHARE `{provider}`.dr_share")
    assert dr.rows("SELECT count(*) FROM prod_shared.sales.orders") == [["3"]]
    sql.run("INSERT INTO main.sales.orders VALUES (4, 40, 'us')")
    assert dr.rows("SELECT count(*) FROM prod_shared.sales.orders") == [["4"]]     # current data
    d = dr.run("CREATE OR REPLACE TABLE dr_main.sales.orders DEEP CLONE prod_shared.sales.orders")
    assert d["result"]["data_array"][0][3] == "2"          # num_copied_files
    h = history(dr, "dr_main.sales.orders")
    assert json.loads(h[0]["operationParameters"])["sourceVersion"] == str(
        pms.get_table("main.sales.orders").current_version)
    assert dr.rows("SELECT count(*) FROM dr_main.sales.orders") == [["4"]]
    # shared catalogs are read-only; a table removed from the share is unreadable
    assert dr.fail("INSERT INTO prod_shared.sales.orders VALUES (5, 1, 'x')")[0] == "PERMISSION_DENIED"
    sql.run("ALTER SHARE dr_share REMOVE TABLE main.sales.orders")
    assert dr.fail("SELECT * FROM prod_shared.sales.orders")[0] == "TABLE_OR_VIEW_NOT_FOUND"
    assert dr.rows("SELECT count(*) FROM dr_main.sales.orders") == [["4"]]


def test_external_non_delta_files_belong_to_the_location(client, e, sql):
    loc = f"{e.prod.root}ext/events"
    sql.run(f"CREATE TABLE main.sales.events (id INT, kind STRING) USING PARQUET LOCATION '{loc}'")
    sql.run("INSERT INTO main.sales.events VALUES (1, 'a'), (2, 'b')")
    assert sql.fail("DESCRIBE HISTORY main.sales.events")[0] == "DELTA_TABLE_NOT_FOUND"
    # dropping an external table keeps its files; registering it again reads them
    sql.run("DROP TABLE main.sales.events")
    sql.run(f"CREATE TABLE main.sales.events2 (id INT, kind STRING) USING PARQUET LOCATION '{loc}'")
    assert sql.rows("SELECT count(*) FROM main.sales.events2") == [["2"]]
    # storage geo-replication (admin stand-in) brings the files to the dr account
    dr = Sql(client, e.dr.ws)
    dr.run(f"CREATE CATALOG dr_main MANAGED LOCATION '{e.dr.root}main'")
    dr.run("CREATE SCHEMA dr_main.sales")
    dloc = f"{e.dr.root}ext/events"
    dr.run(f"CREATE TABLE dr_main.sales.events (id INT, kind STRING) USING PARQUET LOCATION '{dloc}'")
    assert dr.rows("SELECT count(*) FROM dr_main.sales.events") == [["0"]]
    r = client.post("admin", "/sql/storage/replicate", json={"source": e.prod.root, "target": e.dr.root})
    assert r.status_code == 200 and r.json()["copied"] == [loc]
    assert dr.rows("SELECT id, kind FROM dr_main.sales.events ORDER BY id") == [["1", "a"], ["2", "b"]]
    r = client.post("admin", "/sql/storage/replicate", json={"source": e.prod.root})
    assert r.status_code == 400


def test_grants_and_tags_on_other_securables(client, e, sql):
    ws = e.prod.ws
    sql.run(f"CREATE EXTERNAL VOLUME main.sales.files LOCATION '{e.prod.root}vol/files'")
    sql.run("CREATE FUNCTION main.sales.f(x INT) RETURNS INT RETURN x")
    sql.run("CREATE VIEW main.sales.v AS SELECT id FROM orders")
    sql.run("GRANT READ VOLUME, WRITE VOLUME ON VOLUME main.sales.files TO `etl`")
    sql.run("GRANT EXECUTE ON FUNCTION main.sales.f TO `bi`")
    sql.run("GRANT SELECT ON VIEW main.sales.v TO `bi`")
    sql.run("GRANT READ FILES, CREATE EXTERNAL TABLE ON EXTERNAL LOCATION `prod-root` TO `etl`")
    assert client.get(ws, P + "/permissions/volume/main.sales.files").json()["privilege_assignments"] == [
        {"principal": "etl", "privileges": ["READ_VOLUME", "WRITE_VOLUME"]}]
    assert client.get(ws, P + "/permissions/function/main.sales.f").json()["privilege_assignments"] == [
        {"principal": "bi", "privileges": ["EXECUTE"]}]
    assert client.get(ws, P + "/permissions/table/main.sales.v").json()["privilege_assignments"] == [
        {"principal": "bi", "privileges": ["SELECT"]}]
    assert client.get(ws, P + "/permissions/external_location/prod-root").json()["privilege_assignments"] == [
        {"principal": "etl", "privileges": ["CREATE_EXTERNAL_TABLE", "READ_FILES"]}]
    assert sql.fail("GRANT SELECT ON VIEW main.sales.orders TO `bi`")[0] == "EXPECT_VIEW_NOT_TABLE"
    assert sql.fail("GRANT SELECT ON VOLUME main.sales.files TO `bi`")[0] == "INVALID_PARAMETER_VALUE"
    assert ["etl", "READ VOLUME", "VOLUME", "main.sales.files"] in sql.rows("SHOW GRANTS ON VOLUME main.sales.files")
    assert sql.rows("SELECT grantee, privilege_type FROM main.information_schema.volume_privileges "
                    "ORDER BY privilege_type") == [["etl", "READ VOLUME"], ["etl", "WRITE VOLUME"]]
    assert sql.rows("SELECT grantee, routine_name, privilege_type FROM main.information_schema.routine_privileges") \
        == [["bi", "f", "EXECUTE"]]
    sql.run("ALTER CATALOG main SET TAGS ('env' = 'prod')")
    sql.run("ALTER VIEW main.sales.v SET TAGS ('kind' = 'report')")
    sql.run("ALTER VOLUME main.sales.files SET TAGS ('landing' = 'yes')")
    sql.run("ALTER VOLUME main.sales.files OWNER TO `etl`")
    ms = e.prod.ms
    assert ms.get_tags("CATALOG", "main") == {"env": "prod"}
    assert ms.get_tags("TABLE", "main.sales.v") == {"kind": "report"}
    assert ms.get_tags("VOLUME", "main.sales.files") == {"landing": "yes"}
    assert client.get(ws, P + "/volumes/main.sales.files").json()["owner"] == "etl"
    assert sql.rows("SELECT catalog_name, tag_name, tag_value FROM system.information_schema.catalog_tags") == [
        ["main", "env", "prod"]]
    assert sql.rows("SELECT volume_name, tag_name FROM main.information_schema.volume_tags") == [["files", "landing"]]


def test_isolated_catalog_not_reachable_from_unbound_workspace(client, e, sql):
    from drsim.databricks.ucmodel import UC
    from drsim.state import SIM
    other = SIM.register_workspace("prod-ws2", "westeurope")
    UC.assign(int(other["id"]), e.prod.ms.metastore_id, "main", "westeurope")
    s2 = Sql(client, other, schema="sales")
    assert s2.rows("SELECT count(*) FROM orders") == [["3"]]      # default catalog from the assignment
    e.prod.ms.update_catalog("main", isolation_mode="ISOLATED", _workspace_id=int(e.prod.ws["id"]))
    assert sql.rows("SELECT count(*) FROM orders") == [["3"]]     # bound workspace
    assert s2.fail("SELECT count(*) FROM orders")[0] == "PERMISSION_DENIED"
    assert s2.fail("INSERT INTO main.sales.orders VALUES (9, 1, 'x')")[0] == "PERMISSION_DENIED"
    assert ["main"] not in s2.rows("SHOW CATALOGS")


def test_privileges_enforced_when_turned_on(client, e, sql):
    from drsim.state import SIM
    analyst_id = "00000000-0000-0000-0000-00000000a001"
    SIM.register_app(analyst_id, secret="analyst-secret")
    tok = client.token("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default", analyst_id, "analyst-secret")

    class AsAnalyst(Sql):
        def post(self, statement, params=None, **kw):
            body = {"statement": statement, "warehouse_id": self.wid, "wait_timeout": "30s",
                    "catalog": "main", "schema": "sales"}
            return self.client.post(self.ws, "/api/2.0/sql/statements", json=body, token=tok)

    analyst = AsAnalyst(client, e.prod.ws)
    # off by default: everyone acts as an admin
    assert analyst.rows("SELECT count(*) FROM orders") == [["3"]]
    assert client.post("admin", "/sql/config", json={"enforce_privileges": True}).status_code == 200
    cls, st = analyst.fail("SELECT count(*) FROM orders")
    assert cls == "PERMISSION_DENIED" and "USE CATALOG" in st["error"]["message"]
    sql.run(f"GRANT USE CATALOG ON CATALOG main TO `{analyst_id}`")
    sql.run(f"GRANT USE SCHEMA ON SCHEMA main.sales TO `{analyst_id}`")
    assert "SELECT" in analyst.fail("SELECT count(*) FROM orders")[1]["error"]["message"]
    sql.run(f"GRANT SELECT ON TABLE main.sales.orders TO `{analyst_id}`")
    assert analyst.rows("SELECT count(*) FROM orders") == [["3"]]
    assert analyst.fail("DELETE FROM orders")[0] == "PERMISSION_DENIED"
    assert analyst.fail("GRANT SELECT ON TABLE main.sales.orders TO `someone`")[0] == "PERMISSION_DENIED"
    sql.run(f"GRANT MODIFY ON SCHEMA main.sales TO `{analyst_id}`")              # inherited
    assert analyst.rows("DELETE FROM orders WHERE id = 3") == [["1"]]
    # the owner passes without grants
    assert sql.rows("SELECT count(*) FROM orders") == [["2"]]


def test_partitioned_table_round_trip(client, e, sql):
    sql.run("CREATE TABLE main.sales.events (id BIGINT, day DATE, region STRING) USING DELTA "
            "PARTITIONED BY (day, region)")
    t = client.get(e.prod.ws, P + "/tables/main.sales.events").json()
    assert [c.get("partition_index") for c in t["columns"]] == [None, 0, 1]
    (stmt,), = sql.rows("SHOW CREATE TABLE main.sales.events")
    assert "PARTITIONED BY (day, region)" in stmt
    sql.run("CREATE OR REPLACE TABLE main.finance.events DEEP CLONE main.sales.events")
    c = client.get(e.prod.ws, P + "/tables/main.finance.events").json()
    assert [x.get("partition_index") for x in c["columns"]] == [None, 0, 1]
    assert sql.fail("CREATE TABLE main.sales.bad (id INT) PARTITIONED BY (nope)")[0] == "UNRESOLVED_COLUMN"
