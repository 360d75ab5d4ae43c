"""Table data is real Delta in blob storage (Azurite): delta-rs opens what the SQL engine wrote, at the
table's storage location, with one commit per statement; the engine reads it back after a restart."""
import pytest
from deltalake import DeltaTable

from drsim.blob import BLOBS, parse_url
from drsim.databricks.sql.engine import ENGINE
from drsim.databricks.testkit import estate
from test_sql_api import Sql

P = "/api/2.1/unity-catalog"


@pytest.fixture
def e(client):
    return estate()


@pytest.fixture
def sql(client, e):
    s = Sql(client, e.prod.ws, catalog="main", schema="s")
    s.run(f"CREATE CATALOG IF NOT EXISTS main MANAGED LOCATION '{e.prod.root}main'")
    s.run("CREATE SCHEMA IF NOT EXISTS main.s")
    return s


def delta(url):
    loc = parse_url(url)
    return DeltaTable(BLOBS.delta_uri(loc), storage_options=BLOBS.storage_options(loc.account))


def location(client, e, name):
    r = client.get(e.prod.ws, P + "/tables/" + name)
    assert r.status_code == 200, r.text
    return r.json()["storage_location"]


def test_managed_table_is_a_delta_table_under_its_managed_location(client, e, sql):
    sql.run("CREATE TABLE t (id BIGINT, s STRING) TBLPROPERTIES ('quality' = 'gold')")
    sql.run("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    sql.run("UPDATE t SET s = 'c' WHERE id = 2")
    sql.run("DELETE FROM t WHERE id = 1")
    url = location(client, e, "main.s.t")
    assert url.startswith(e.prod.root + "main/")
    dt = delta(url)
    assert dt.version() == 3
    assert dt.to_pyarrow_table().to_pylist() == [{"id": 2, "s": "c"}]
    assert DeltaTable(dt.table_uri, version=1,
                      storage_options=BLOBS.storage_options(parse_url(url).account)
                      ).to_pyarrow_table().num_rows == 2
    assert [h["operation"] for h in dt.history()] == ["DELETE", "UPDATE", "WRITE", "CREATE TABLE"]
    assert dt.metadata().configuration == {"quality": "gold"}
    loc = parse_url(url)
    logs = sorted(n for n in BLOBS.list(loc, "_delta_log/"))
    assert logs == [f"_delta_log/{i:020d}.json" for i in range(4)]
    # DESCRIBE HISTORY reads that log
    rows = sql.rows("DESCRIBE HISTORY t")
    assert [r[0] for r in rows] == ["3", "2", "1", "0"]
    assert [r[4] for r in rows] == ["DELETE", "UPDATE", "WRITE", "CREATE TABLE"]


def test_clone_target_is_a_delta_table_with_a_clone_commit(client, e, sql):
    sql.run("CREATE TABLE src AS SELECT * FROM VALUES (1, 'x'), (2, 'y') AS v(id, s)")
    sql.run("CREATE TABLE cp DEEP CLONE src")
    dt = delta(location(client, e, "main.s.cp"))
    assert sorted(r["id"] for r in dt.to_pyarrow_table().to_pylist()) == [1, 2]
    assert dt.history(1)[0]["operation"] == "CLONE"


def test_data_is_read_back_from_the_log_after_a_restart(client, e, sql):
    sql.run("CREATE TABLE t (id BIGINT, s STRING)")
    sql.run("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    sql.run("UPDATE t SET s = 'c' WHERE id = 2")
    with ENGINE.lock:
        ENGINE.store.reset()          # the engine's cache is gone (a restart); the blobs stay
    assert sql.rows("SELECT id, s FROM t ORDER BY id") == [["1", "a"], ["2", "c"]]
    assert sql.rows("SELECT count(*) FROM t VERSION AS OF 1") == [["2"]]
    sql.run("INSERT INTO t VALUES (3, 'd')")
    assert delta(location(client, e, "main.s.t")).version() == 3


def test_deep_clone_copies_the_files_of_the_version_it_names(client, e, sql):
    sql.run("CREATE TABLE src (id BIGINT)")
    sql.run("INSERT INTO src VALUES (1), (2)")            # v1: one file
    sql.run("INSERT INTO src VALUES (3)")                 # v2: two files
    sql.run("INSERT INTO src VALUES (4)")                 # v3: three files
    m = dict(zip(["size", "files", "removed", "copied", "removed_size", "copied_size"],
                 map(int, sql.rows("CREATE OR REPLACE TABLE cp DEEP CLONE src VERSION AS OF 2")[0])))
    assert (m["files"], m["copied"], m["removed"]) == (2, 2, 0)
    src_loc = parse_url(location(client, e, "main.s.src"))
    cp_loc = parse_url(location(client, e, "main.s.cp"))
    src_files = {n: sz for n, sz in BLOBS.list(src_loc).items() if n.endswith(".parquet")}
    cp_files = {n: sz for n, sz in BLOBS.list(cp_loc).items() if n.endswith(".parquet")}
    assert len(cp_files) == 2 and set(cp_files) < set(src_files)
    assert m["copied_size"] == sum(cp_files.values())
    cp = delta(location(client, e, "main.s.cp"))
    assert sorted(r["id"] for r in cp.to_pyarrow_table().to_pylist()) == [1, 2, 3]
    last = cp.history(1)[0]
    assert last["operation"] == "CLONE"
    assert last["operationParameters"]["sourceVersion"] == "2"
    assert last["operationMetrics"]["numCopiedFiles"] == "2"
    # again at the latest version: only the file the target lacks is copied
    m2 = list(map(int, sql.rows("CREATE OR REPLACE TABLE cp DEEP CLONE src")[0]))
    assert m2[1:4] == [3, 0, 1]
    assert len([n for n in BLOBS.list(cp_loc) if n.endswith(".parquet")]) == 3
    # and after a restart of the engine (its cache gone), still incremental
    with ENGINE.lock:
        ENGINE.store.reset()
    assert list(map(int, sql.rows("CREATE OR REPLACE TABLE cp DEEP CLONE src")[0]))[1:4] == [3, 0, 0]
    assert delta(location(client, e, "main.s.cp")).version() == 2


def test_geo_replication_of_non_delta_files_lags(client, e, sql):
    import time
    loc = f"{e.prod.root}ext/clicks"
    sql.run(f"CREATE TABLE clicks (id INT) USING PARQUET LOCATION '{loc}'")
    sql.run("INSERT INTO clicks VALUES (1), (2), (3)")
    dr = Sql(client, e.dr.ws)
    dr.run(f"CREATE CATALOG dr_main MANAGED LOCATION '{e.dr.root}main'")
    dr.run("CREATE SCHEMA dr_main.s")
    dr.run(f"CREATE TABLE dr_main.s.clicks (id INT) USING PARQUET LOCATION '{e.dr.root}ext/clicks'")
    r = client.post("admin", "/sql/storage/replicate",
                    json={"source": e.prod.root, "target": e.dr.root, "lag_ms": 400})
    assert r.status_code == 200 and r.json()["pending"] is True and r.json()["copied"] == [loc]
    assert dr.rows("SELECT count(*) FROM dr_main.s.clicks") == [["0"]]       # not there yet
    deadline = time.monotonic() + 10
    while dr.rows("SELECT count(*) FROM dr_main.s.clicks") != [["3"]]:
        assert time.monotonic() < deadline, "the copy never arrived"
        time.sleep(0.1)
    assert client.post("admin", "/sql/storage/replicate",
                       json={"source": e.prod.root, "target": e.dr.root, "lag_ms": -1}).status_code == 400
