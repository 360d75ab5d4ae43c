"""tools/deltacheck.py, the independent check of the replicas: run as its own process in Python's
isolated mode (-I: no PYTHONPATH, so it cannot import drsim), against the tables the simulator wrote
to Azurite. Equal replicas pass; a corrupted replica file or a replica behind its recorded version fails."""
import io
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drsim.blob import BLOBS, parse_url
from drsim.databricks.testkit import estate
from test_sql_api import Sql

P = "/api/2.1/unity-catalog"
TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "deltacheck.py")


@pytest.fixture
def e(client):
    return estate()


def location(client, ws, name):
    r = client.get(ws, P + "/tables/" + name)
    assert r.status_code == 200, r.text
    return r.json()["storage_location"]


def deltacheck(sim, tmp_path, entries):
    m = tmp_path / "manifest.json"
    m.write_text(json.dumps(entries))
    p = subprocess.run([sys.executable, "-I", TOOL, str(m), "--azurite", sim.azurite.config_file, "--json"],
                       capture_output=True, text=True, timeout=120, env={"PATH": os.environ.get("PATH", "")})
    assert p.stdout, p.stderr
    return p.returncode, json.loads(p.stdout)


def test_deltacheck_passes_equal_replicas_and_fails_a_corrupted_one(client, sim, e, tmp_path):
    prod = Sql(client, e.prod.ws)
    prod.run(f"CREATE CATALOG sales MANAGED LOCATION '{e.prod.root}sales'")
    prod.run("CREATE SCHEMA sales.core")
    prod.run("CREATE TABLE sales.core.orders (id INT, amount DOUBLE, note STRING)")
    prod.run("INSERT INTO sales.core.orders VALUES (1, 9.5, 'a'), (2, 3.0, NULL)")
    prod.run("INSERT INTO sales.core.orders VALUES (3, 1.25, 'c')")
    # the "replica": a deep clone at version 1 in dr's storage (what a sync makes through a share)
    prod.run("CREATE TABLE sales.core.orders_v1 DEEP CLONE sales.core.orders VERSION AS OF 1")
    src = location(client, e.prod.ws, "sales.core.orders")
    dst = location(client, e.prod.ws, "sales.core.orders_v1")
    entry = {"table": "sales.core.orders_v1", "source": "sales.core.orders", "source_version": 1,
             "source_location": src, "target_location": dst}
    rc, out = deltacheck(sim, tmp_path, [entry])
    assert rc == 0, out
    assert out["tables"][0]["result"] == "equal" and out["tables"][0]["prod_rows"] == 2
    # recorded at the wrong version: prod at 2 has 3 rows
    rc, out = deltacheck(sim, tmp_path, [dict(entry, source_version=2)])
    assert rc == 1 and out["tables"][0]["result"] == "DIFFERENT (rows, content)"
    # corrupt the replica: one of its Parquet files rewritten with a changed value (a valid file)
    loc = parse_url(dst)
    name = sorted(n for n in BLOBS.list(loc) if n.endswith(".parquet"))[0]
    table = pq.read_table(io.BytesIO(BLOBS.get(loc, name)))
    rows = table.to_pylist()
    rows[0]["amount"] = rows[0]["amount"] + 100
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), buf)
    BLOBS.put(loc, name, buf.getvalue())
    rc, out = deltacheck(sim, tmp_path, [entry])
    assert rc == 1 and out["tables"][0]["result"] == "DIFFERENT (content)", out
    # and with garbage bytes it cannot be read at all: also a failure
    BLOBS.put(loc, name, b"not parquet")
    rc, out = deltacheck(sim, tmp_path, [entry])
    assert rc == 1 and out["tables"][0]["result"] == "ERROR", out
    code = open(TOOL, encoding="utf-8").read().split('"""', 2)[2]
    assert "drsim" not in code
