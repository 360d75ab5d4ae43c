"""Delta version stamps in Unity Catalog TableInfo.properties: `delta.lastUpdateVersion` and
`delta.lastCommitTimestamp` move only when a commit changes the table's metadata (schema, properties,
comment), as Delta's catalog-update hook and open-source Unity Catalog move them -- never on a
data-only commit -- and tables.list returns them too."""
import pytest

from drsim.databricks.testkit import estate
from test_sql_api import Sql

P = "/api/2.1/unity-catalog"
V, TS = "delta.lastUpdateVersion", "delta.lastCommitTimestamp"


@pytest.fixture
def e(client):
    return estate()


@pytest.fixture
def sql(client, e):
    s = Sql(client, e.prod.ws, catalog="main", schema="s")
    s.run(f"CREATE CATALOG IF NOT EXISTS main MANAGED LOCATION '{e.prod.root}main'")
    s.run("CREATE SCHEMA IF NOT EXISTS main.s")
    return s


def get(client, e, name):
    r = client.get(e.prod.ws, P + "/tables/" + name)
    assert r.status_code == 200, r.text
    return r.json()


def listed(client, e, schema="s", **query):
    r = client.get(e.prod.ws, P + "/tables", params={"catalog_name": "main", "schema_name": schema, **query})
    assert r.status_code == 200, r.text
    return {t["name"]: t for t in r.json().get("tables", [])}


def test_stamps_move_on_metadata_changes_only(client, e, sql):
    sql.run("CREATE TABLE t (id BIGINT) TBLPROPERTIES ('quality' = 'gold')")
    p0 = get(client, e, "main.s.t")["properties"]
    assert p0[V] == "0" and p0["quality"] == "gold"
    assert isinstance(p0[TS], str) and int(p0[TS]) > 1_600_000_000_000
    hist = e.prod.ms.history("main.s.t", 1)[0]
    assert int(p0[TS]) == hist["timestamp"]
    # data-only commits (Delta's UpdateCatalog hook, open-source UC PR #1617): the stamps stay
    sql.run("INSERT INTO t VALUES (1), (2)")
    sql.run("UPDATE t SET id = id + 1")
    sql.run("DELETE FROM t WHERE id = 3")
    p3 = get(client, e, "main.s.t")["properties"]
    assert (p3[V], p3[TS]) == (p0[V], p0[TS])
    assert e.prod.ms.get_table("main.s.t").current_version == 3
    # ... while the table's log moved: DESCRIBE HISTORY is the version
    assert sql.run("DESCRIBE HISTORY t LIMIT 1")["result"]["data_array"][0][0] == "3"
    # a metadata change that commits (SET TBLPROPERTIES) moves them; user properties survive
    sql.run("ALTER TABLE t SET TBLPROPERTIES ('owner_team' = 'x')")
    p4 = get(client, e, "main.s.t")["properties"]
    assert p4[V] == "4" and p4["owner_team"] == "x" and p4["quality"] == "gold"
    assert int(p4[TS]) >= int(p0[TS])
    # so does a schema change
    sql.run("ALTER TABLE t ADD COLUMNS (note STRING)")
    assert get(client, e, "main.s.t")["properties"][V] == "5"
    sql.run("INSERT INTO t VALUES (9, 'n')")
    assert get(client, e, "main.s.t")["properties"][V] == "5"


def test_stamps_in_list_results_and_clones(client, e, sql):
    sql.run("CREATE TABLE a (id INT)")
    sql.run("INSERT INTO a VALUES (1)")
    sql.run("CREATE TABLE b AS SELECT 1 AS x")
    sql.run("CREATE VIEW v AS SELECT * FROM a")
    sql.run(f"CREATE TABLE p (id INT) USING PARQUET LOCATION '{e.prod.root}files/p'")
    sql.run("CREATE TABLE c DEEP CLONE a")
    ts = listed(client, e)
    assert ts["a"]["properties"][V] == "0"           # the INSERT (v1) changed data only
    assert ts["b"]["properties"][V] == "0"
    # the clone has its own history (version 0 = the CLONE), not the source's stamps
    assert ts["c"]["properties"][V] == "0"
    assert (ts["v"].get("properties") or {}).get(V) is None
    assert (ts["p"].get("properties") or {}).get(V) is None
    # a write does not move the listed stamp
    sql.run("INSERT INTO a VALUES (2)")
    ts2 = listed(client, e)
    assert ts2["a"]["properties"] == ts["a"]["properties"]
    # a re-clone that brings data only is a new version of the clone, its stamp stays
    sql.run("CREATE OR REPLACE TABLE c DEEP CLONE a")
    assert e.prod.ms.get_table("main.s.c").current_version == 1
    assert listed(client, e)["c"]["properties"][V] == "0"
    # one that brings changed properties moves it
    sql.run("ALTER TABLE a SET TBLPROPERTIES ('tier' = 'gold')")
    sql.run("CREATE OR REPLACE TABLE c DEEP CLONE a")
    assert listed(client, e)["c"]["properties"][V] == "2"
    # omit_properties drops them with the rest
    assert "properties" not in listed(client, e, omit_properties="true")["a"]


def test_external_delta_tables_are_stamped(client, e, sql):
    sql.run(f"CREATE TABLE x (id INT) LOCATION '{e.prod.root}ext/x'")
    sql.run("INSERT INTO x VALUES (1)")
    t = get(client, e, "main.s.x")
    assert t["table_type"] == "EXTERNAL" and t["properties"][V] == "0"
