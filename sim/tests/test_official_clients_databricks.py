"""The official databricks-sdk clients (WorkspaceClient, AccountClient) against the simulator.

Where the other tests check request and response shapes against the SDK's models, these run the
SDK itself: its OAuth M2M login, paging iterators, error mapping (NotFound, ResourceAlreadyExists,
...), retries and waiters. A mismatch found here is fixed in the simulator, not worked around."""
import pytest
from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied, ResourceAlreadyExists
from databricks.sdk.service import catalog, jobs, sharing, sql

from drsim.databricks.testkit import estate
from drsim.routes.entra import register_databricks_client
from drsim.state import SIM

CLIENT_ID, SECRET = "00000000-0000-0000-0000-0000000000d1", "sim-dbx-secret"


@pytest.fixture
def env(client, monkeypatch, sim):
    """The two-region estate, an OAuth M2M service principal, and the SDK pointed at the
    simulator's CA (requests reads REQUESTS_CA_BUNDLE; no other Databricks settings leak in)."""
    for k in list(__import__("os").environ):
        if k.startswith("DATABRICKS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca)
    monkeypatch.setenv("HOME", "/nonexistent")   # no ~/.databrickscfg
    e = estate()
    register_databricks_client(CLIENT_ID, SECRET)
    return e


def ws_client(ws):
    return WorkspaceClient(host=ws["url"], client_id=CLIENT_ID, client_secret=SECRET,
                           auth_type="oauth-m2m")


def warehouse(w):
    """A serverless SQL warehouse, created and waited for (RUNNING) by the SDK's waiter."""
    wh = w.warehouses.create(name="sim-wh", cluster_size="2X-Small", max_num_clusters=1,
                             enable_serverless_compute=True,
                             warehouse_type=sql.CreateWarehouseRequestWarehouseType.PRO).result()
    assert wh.state == sql.State.RUNNING
    assert [x.id for x in w.warehouses.list()] == [wh.id]
    return wh


def sql_ok(w, warehouse_id, statement):
    r = w.statement_execution.execute_statement(statement=statement, warehouse_id=warehouse_id,
                                                wait_timeout="30s")
    assert r.status.state == sql.StatementState.SUCCEEDED, (statement, r.status)
    return r


def test_unity_catalog_through_workspace_client(env):
    w = ws_client(env.prod.ws)
    assert w.metastores.current().metastore_id == env.prod.ms.metastore_id
    root = env.prod.root
    c = w.catalogs.create(name="Sales", storage_root=root + "sales", comment="c1")
    assert c.name == "sales" and c.catalog_type == catalog.CatalogType.MANAGED_CATALOG
    with pytest.raises(ResourceAlreadyExists):
        w.catalogs.create(name="sales", storage_root=root + "sales")
    with pytest.raises(NotFound):
        w.catalogs.get("nope")
    w.catalogs.update("sales", comment="c2")
    assert w.catalogs.get("sales").comment == "c2"
    names = {x.name for x in w.catalogs.list()}
    assert {"sales", "system"} <= names
    s = w.schemas.create(name="orders", catalog_name="sales")
    assert s.full_name == "sales.orders"
    assert {x.name for x in w.schemas.list(catalog_name="sales")} >= {"orders", "default"}
    w.grants.update("schema", "sales.orders", changes=[
        catalog.PermissionsChange(principal="analysts", add=[catalog.Privilege.SELECT,
                                                              catalog.Privilege.USE_SCHEMA])])
    g = w.grants.get("schema", "sales.orders")
    assert [(a.principal, sorted(p.value for p in a.privileges)) for a in g.privilege_assignments] \
        == [("analysts", ["SELECT", "USE_SCHEMA"])]
    eff = w.grants.get_effective("schema", "sales.orders", principal="analysts")
    assert eff.privilege_assignments[0].principal == "analysts"
    v = w.volumes.create(catalog_name="sales", schema_name="orders", name="files",
                         volume_type=catalog.VolumeType.MANAGED)
    assert v.full_name == "sales.orders.files"
    assert [x.name for x in w.volumes.list(catalog_name="sales", schema_name="orders")] == ["files"]
    w.volumes.delete("sales.orders.files")
    w.schemas.delete("sales.orders")
    with pytest.raises(NotFound):
        w.schemas.get("sales.orders")


def test_tables_and_statement_execution(env):
    w = ws_client(env.prod.ws)
    wh = warehouse(w)
    w.catalogs.create(name="sales", storage_root=env.prod.root + "sales")
    w.schemas.create(name="orders", catalog_name="sales")
    sql_ok(w, wh.id, "CREATE TABLE sales.orders.t (id INT, amount DOUBLE)")
    sql_ok(w, wh.id, "INSERT INTO sales.orders.t VALUES (1, 2.5), (2, 4.0)")
    r = sql_ok(w, wh.id, "SELECT id, amount FROM sales.orders.t ORDER BY id")
    assert [c.name for c in r.manifest.schema.columns] == ["id", "amount"]
    assert r.result.data_array == [["1", "2.5"], ["2", "4.0"]]
    t = w.tables.get("sales.orders.t")
    assert t.table_type == catalog.TableType.MANAGED and [c.name for c in t.columns] == ["id", "amount"]
    assert [x.full_name for x in w.tables.list(catalog_name="sales", schema_name="orders")] \
        == ["sales.orders.t"]
    assert w.tables.exists("sales.orders.t").table_exists
    assert [x.full_name for x in w.tables.list_summaries(catalog_name="sales")] == ["sales.orders.t"]
    bad = w.statement_execution.execute_statement(statement="SELECT * FROM sales.orders.nope",
                                                  warehouse_id=wh.id, wait_timeout="30s")
    assert bad.status.state == sql.StatementState.FAILED
    assert "TABLE_OR_VIEW_NOT_FOUND" in (bad.status.error.message or "")
    w.tables.delete("sales.orders.t")
    with pytest.raises(NotFound):
        w.tables.get("sales.orders.t")


def test_paging_follows_next_page_token(env):
    w = ws_client(env.prod.ws)
    w.catalogs.create(name="big", storage_root=env.prod.root + "big")
    for i in range(120):
        w.schemas.create(name=f"s{i:03d}", catalog_name="big")
    got = [s.name for s in w.schemas.list(catalog_name="big", max_results=50)]
    assert len(got) == 122 and len(set(got)) == 122       # + default, information_schema


def test_shares_recipients_providers(env):
    wp, wd = ws_client(env.prod.ws), ws_client(env.dr.ws)
    wp.catalogs.create(name="sales", storage_root=env.prod.root + "sales")
    wh = warehouse(wp)
    sql_ok(wp, wh.id, "CREATE TABLE sales.default.t (id INT)")
    wp.shares.create(name="dr_share")
    wp.shares.update("dr_share", updates=[sharing.SharedDataObjectUpdate(
        action=sharing.SharedDataObjectUpdateAction.ADD,
        data_object=sharing.SharedDataObject(
            name="sales.default.t",
            data_object_type=sharing.SharedDataObjectDataObjectType.TABLE))])
    sh = wp.shares.get("dr_share", include_shared_data=True)
    assert [o.name for o in sh.objects] == ["sales.default.t"]
    gid = wd.metastores.summary().global_metastore_id
    r = wp.recipients.create(name="dr", authentication_type=sharing.AuthenticationType.DATABRICKS,
                             data_recipient_global_metastore_id=gid)
    assert r.name == "dr"
    wp.shares.update_permissions("dr_share", changes=[
        sharing.PermissionsChange(principal="dr", add=["SELECT"])])
    perms = wp.shares.share_permissions("dr_share")
    assert [(a.principal, [p.value for p in a.privileges]) for a in perms.privilege_assignments] \
        == [("dr", ["SELECT"])]
    provs = list(wd.providers.list())
    assert len(provs) == 1
    assert [s.name for s in wd.providers.list_shares(provs[0].name)] == ["dr_share"]
    wd.catalogs.create(name="sales_replica", provider_name=provs[0].name, share_name="dr_share")
    assert [t.name for t in wd.tables.list(catalog_name="sales_replica", schema_name="default")] == ["t"]
    with pytest.raises(NotFound):
        wp.shares.get("nope")
    wp.recipients.delete("dr")
    with pytest.raises(PermissionDenied):
        wd.tables.get("sales_replica.default.t")


def test_jobs_run_and_wait(env):
    w = ws_client(env.prod.ws)
    j = w.jobs.create(name="replicate", tasks=[jobs.Task(
        task_key="main", notebook_task=jobs.NotebookTask(notebook_path="/Shared/replicate"))])
    assert any(x.job_id == j.job_id for x in w.jobs.list())
    run = w.jobs.run_now(job_id=j.job_id).result()      # the SDK's waiter polls runs/get
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert [r.run_id for r in w.jobs.list_runs(job_id=j.job_id)] == [run.run_id]
    w.jobs.delete(j.job_id)
    with pytest.raises(Exception) as ei:
        w.jobs.get(j.job_id)
    assert ei.value.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")


def test_account_client(env):
    a = AccountClient(host=SIM.config.url("accounts"), account_id=SIM.config.account_id,
                      client_id=CLIENT_ID, client_secret=SECRET, auth_type="oauth-m2m")
    ids = {m.metastore_id for m in a.metastores.list()}
    assert {env.prod.ms.metastore_id, env.dr.ms.metastore_id} <= ids
    got = a.metastores.get(env.prod.ms.metastore_id)
    assert got.metastore_info.region == "westeurope"
    with pytest.raises(NotFound):
        a.metastores.get("00000000-0000-0000-0000-00000000dead")


def test_sdk_retries_throttling_and_unavailable(env):
    """429 with Retry-After and 503 are retried by the SDK itself; the call then succeeds."""
    from drsim.faults import FAULTS
    w = ws_client(env.prod.ws)
    w.catalogs.create(name="sales", storage_root=env.prod.root + "sales")
    r429 = FAULTS.add(host_kind="workspace", method="GET", path=r"/catalogs/sales$", retry_after=0,
                      times=1)
    r503 = FAULTS.add(host_kind="workspace", method="GET", path=r"/schemas$", status=503, times=1)
    assert w.catalogs.get("sales").name == "sales"
    assert "default" in {s.name for s in w.schemas.list(catalog_name="sales")}
    fired = {r["id"]: r["fired"] for r in FAULTS.list()}
    assert fired[r429["id"]] == 1 and fired[r503["id"]] == 1


def test_error_classes_follow_error_codes(env):
    """The SDK picks its exception class from error_code (and HTTP status): the simulator's codes
    must be ones it maps."""
    from databricks.sdk.errors import BadRequest, InvalidParameterValue
    w = ws_client(env.prod.ws)
    with pytest.raises(InvalidParameterValue):
        w.catalogs.create(name="c")                      # no storage root anywhere
    with pytest.raises(BadRequest):
        w.grants.update("catalog", "system", changes=[
            catalog.PermissionsChange(principal="x", add=[catalog.Privilege.WRITE_FILES])])
    with pytest.raises(NotFound) as ei:
        w.tables.get("system.information_schema.nope")
    assert ei.value.error_code == "NOT_FOUND"
