"""Credential vending (POST /api/2.1/unity-catalog/temporary-table-credentials): refused while the
metastore's external data access switch is off (the default) and without an explicit EXTERNAL USE
SCHEMA grant (ownership is not enough); with both, a READ SAS that lists the table's _delta_log/ in
Azurite, while the same listing without it is refused by storage."""
import requests

from drsim.blob import BLOBS, parse_url
from drsim.databricks.testkit import estate
from drsim.databricks.ucmodel import UC
from drsim.state import SIM
from test_sql_api import Sql

P = "/api/2.1/unity-catalog"


def test_vending_needs_external_use_schema_and_lists_the_log(client):
    e = estate()
    sql = Sql(client, e.prod.ws, catalog="main", schema="s")
    sql.run(f"CREATE CATALOG IF NOT EXISTS main MANAGED LOCATION '{e.prod.root}main'")
    sql.run("CREATE SCHEMA IF NOT EXISTS main.s")
    sql.run("CREATE TABLE t (id BIGINT)")
    sql.run("INSERT INTO t VALUES (1)")
    info = client.get(e.prod.ws, P + "/tables/main.s.t").json()
    ask = {"table_id": info["table_id"], "operation": "READ"}
    r = client.post(e.prod.ws, P + "/temporary-table-credentials", json=ask)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    assert client.post(e.prod.ws, P + "/temporary-table-credentials",
                       json={"table_id": "nope", "operation": "READ"}).status_code == 404
    assert client.post(e.prod.ws, P + "/temporary-table-credentials",
                       json=dict(ask, operation="WRITE")).status_code == 400
    sql.run(f"GRANT EXTERNAL USE SCHEMA ON SCHEMA main.s TO `{SIM.config.client_id}`")
    r = client.post(e.prod.ws, P + "/temporary-table-credentials", json=ask)   # the switch is still off
    assert r.status_code == 403 and "External data access" in r.json()["message"], r.text
    assert e.prod.ms.info()["external_access_enabled"] is False
    UC.update_metastore(e.prod.ms.metastore_id, external_access_enabled=True)
    r = client.post(e.prod.ws, P + "/temporary-table-credentials", json=ask)
    assert r.status_code == 200, r.text
    cred = r.json()
    assert cred["url"] == info["storage_location"] and cred["expiration_time"] > 0
    loc = parse_url(cred["url"])
    url = f"{BLOBS.endpoint}/{loc.account}/{loc.container}"
    q = {"restype": "container", "comp": "list", "prefix": loc.path + "/_delta_log/"}
    got = requests.get(url + "?" + cred["azure_user_delegation_sas"]["sas_token"], params=q, verify=BLOBS.ca,
                       timeout=30)
    assert got.status_code == 200, got.text
    assert got.text.count("<Name>") == 2 and f"{1:020d}.json" in got.text
    assert requests.get(url, params=q, verify=BLOBS.ca, timeout=30).status_code in (401, 403, 404)


def test_vending_finds_tables_by_id_after_drops_and_recreation(client):
    e = estate()
    sql = Sql(client, e.prod.ws, catalog="main", schema="s")
    sql.run(f"CREATE CATALOG IF NOT EXISTS main MANAGED LOCATION '{e.prod.root}main'")
    sql.run("CREATE SCHEMA IF NOT EXISTS main.s")
    sql.run(f"GRANT EXTERNAL USE SCHEMA ON SCHEMA main.s TO `{SIM.config.client_id}`")
    UC.update_metastore(e.prod.ms.metastore_id, external_access_enabled=True)

    def vend(table_id):
        return client.post(e.prod.ws, P + "/temporary-table-credentials",
                           json={"table_id": table_id, "operation": "READ"})

    ids = {}
    for n in ("a", "b"):
        sql.run(f"CREATE TABLE {n} (id BIGINT)")
        ids[n] = client.get(e.prod.ws, P + f"/tables/main.s.{n}").json()["table_id"]
    assert vend(ids["a"]).json()["url"].endswith(ids["a"]) and vend(ids["b"]).status_code == 200
    sql.run("DROP TABLE a")                      # the index still names it: it must not be found
    assert vend(ids["a"]).status_code == 404
    sql.run("CREATE TABLE a (id BIGINT)")        # the same name, a new id
    new = client.get(e.prod.ws, P + "/tables/main.s.a").json()["table_id"]
    assert new != ids["a"] and vend(new).status_code == 200 and vend(ids["a"]).status_code == 404
    sql.run("CREATE TABLE c (id BIGINT)")        # created after the index was built
    assert vend(client.get(e.prod.ws, P + "/tables/main.s.c").json()["table_id"]).status_code == 200
    sql.run("DROP SCHEMA main.s CASCADE")
    assert vend(ids["b"]).status_code == 404
