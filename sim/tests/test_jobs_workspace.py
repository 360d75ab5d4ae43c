"""SQL warehouses, jobs, workspace objects, volume files, secrets, SCIM Me."""
import base64

import pytest

from drsim.databricks.testkit import estate
from drsim.databricks.warehouses import warehouse_state

TASK = {"task_key": "replicate", "spark_python_task": {"python_file": "/Workspace/Shared/drhost/run.py"},
        "environment_key": "default"}
ENV = [{"environment_key": "default", "spec": {"client": "1"}}]


@pytest.fixture
def e(client):
    return estate()


def test_warehouses(client, e):
    ws = e.dr.ws
    r = client.post(ws, "/api/2.0/sql/warehouses", json={"name": "wh", "cluster_size": "Tiny"})
    assert r.status_code == 400 and "cluster_size" in r.json()["message"]
    r = client.post(ws, "/api/2.0/sql/warehouses", json={"name": "wh", "clustr_size": "Small"})
    assert r.status_code == 400 and "clustr_size" in r.json()["message"]
    r = client.post(ws, "/api/2.0/sql/warehouses", json={
        "name": "wh", "cluster_size": "2X-Small", "enable_serverless_compute": True,
        "warehouse_type": "PRO", "auto_stop_mins": 10, "max_num_clusters": 1})
    assert r.status_code == 200, r.text
    wid = r.json()["id"]
    w = client.get(ws, f"/api/2.0/sql/warehouses/{wid}").json()
    assert w["state"] == "RUNNING" and w["odbc_params"]["path"] == f"/sql/1.0/warehouses/{wid}"
    assert warehouse_state(ws["id"], wid) == "RUNNING"
    client.post(ws, f"/api/2.0/sql/warehouses/{wid}/stop")
    assert client.get(ws, f"/api/2.0/sql/warehouses/{wid}").json()["state"] == "STOPPED"
    client.post(ws, f"/api/2.0/sql/warehouses/{wid}/start")
    assert [x["name"] for x in client.get(ws, "/api/2.0/sql/warehouses").json()["warehouses"]] == ["wh"]
    assert warehouse_state(e.prod.ws["id"], wid) is None       # per workspace
    assert client.get(e.prod.ws, f"/api/2.0/sql/warehouses/{wid}").status_code == 404


@pytest.mark.parametrize("prefix", ["/api/2.2/jobs", "/api/2.1/jobs"])
def test_jobs_create_run(client, e, prefix):
    ws = e.dr.ws
    r = client.post(ws, prefix + "/create", json={"name": "dr-replicate", "taks": [TASK]})
    assert r.status_code == 400 and "taks" in r.json()["message"]
    r = client.post(ws, prefix + "/create", json={"name": "x", "tasks": [dict(TASK, task_keyy="y")]})
    assert r.status_code == 400 and "tasks[0].task_keyy" in r.json()["message"]
    r = client.post(ws, prefix + "/create", json={
        "name": "dr-replicate", "tasks": [TASK], "environments": ENV,
        "parameters": [{"name": "mode", "default": "incremental"}],
        "schedule": {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}})
    assert r.status_code == 200, r.text
    jid = r.json()["job_id"]
    j = client.get(ws, prefix + "/get", params={"job_id": jid}).json()
    assert j["settings"]["name"] == "dr-replicate" and j["settings"]["tasks"][0]["task_key"] == "replicate"
    r = client.post(ws, prefix + "/reset", json={"job_id": jid, "new_settings": {
        "name": "dr-replicate", "tasks": [TASK], "environments": ENV, "max_concurrent_runs": 1,
        "parameters": [{"name": "mode", "default": "incremental"}]}})
    assert r.status_code == 200, r.text
    assert "schedule" not in client.get(ws, prefix + "/get", params={"job_id": jid}).json()["settings"]
    lst = client.get(ws, prefix + "/list", params={"name": "dr-replicate"}).json()
    assert [x["job_id"] for x in lst["jobs"]] == [jid]
    r = client.post(ws, prefix + "/run-now", json={"job_id": jid, "job_parameters": {"mode": "full"}})
    assert r.status_code == 200, r.text
    run = client.get(ws, prefix + "/runs/get", params={"run_id": r.json()["run_id"]}).json()
    assert run["state"]["life_cycle_state"] == "TERMINATED" and run["state"]["result_state"] == "SUCCESS"
    assert run["status"]["termination_details"]["code"] == "SUCCESS"
    assert {"name": "mode", "value": "full"} in run["job_parameters"]
    r = client.post(ws, prefix + "/run-now", json={"job_id": jid, "job_parameters": {"nope": 1}})
    assert r.status_code == 400
    # an injected failure through the admin endpoint
    assert client.post("admin", "/dbx/jobs/next-run-result", json={"result_state": "FAILED"}).status_code == 200
    r = client.post(ws, prefix + "/run-now", json={"job_id": jid})
    run = client.get(ws, prefix + "/runs/get", params={"run_id": r.json()["run_id"]}).json()
    assert run["state"]["result_state"] == "FAILED"
    runs = client.get(ws, prefix + "/runs/list", params={"job_id": jid}).json()["runs"]
    assert [x["state"]["result_state"] for x in runs] == ["FAILED", "SUCCESS"]
    assert client.post(ws, prefix + "/run-now", json={"job_id": 999999}).status_code == 400
    assert client.get(ws, prefix + "/list", params={"limit": "x"}).status_code == 400


def test_workspace_objects(client, e):
    ws = e.dr.ws
    src = base64.b64encode(b"print('hi')\n").decode()
    r = client.post(ws, "/api/2.0/workspace/import", json={"path": "/Shared/drhost/run.py", "content": src,
                                                           "format": "AUTO"})
    assert r.status_code == 404   # parent missing
    assert client.post(ws, "/api/2.0/workspace/mkdirs", json={"path": "/Workspace/Shared/drhost"}).status_code == 200
    r = client.post(ws, "/api/2.0/workspace/import", json={"path": "/Shared/drhost/run.py", "content": src,
                                                           "format": "AUTO", "overwrite": True})
    assert r.status_code == 200, r.text
    st = client.get(ws, "/api/2.0/workspace/get-status", params={"path": "/Shared/drhost/run.py"}).json()
    assert st["object_type"] == "FILE" and st["size"] == 12
    assert client.post(ws, "/api/2.0/workspace/import", json={"path": "/Shared/drhost/run.py",
                                                              "content": src, "format": "AUTO"}).status_code == 400
    ex = client.get(ws, "/api/2.0/workspace/export", params={"path": "/Shared/drhost/run.py"}).json()
    assert base64.b64decode(ex["content"]) == b"print('hi')\n"
    names = [o["path"] for o in client.get(ws, "/api/2.0/workspace/list", params={"path": "/Shared/drhost"}).json()["objects"]]
    assert names == ["/Shared/drhost/run.py"]
    assert client.post(ws, "/api/2.0/workspace/delete", json={"path": "/Shared/drhost"}).status_code == 400
    assert client.post(ws, "/api/2.0/workspace/delete", json={"path": "/Shared/drhost", "recursive": True}).status_code == 200
    assert client.get(ws, "/api/2.0/workspace/get-status", params={"path": "/Shared/drhost/run.py"}).status_code == 404


def test_volume_files(client, e):
    ms = e.prod.ms
    ms.create_catalog("ops", "admin", storage_root=e.prod.root + "ops")
    ms.create_schema("ops", "tools", "admin")
    ms.create_volume("ops", "tools", "drops", "admin")
    ws = e.prod.ws
    base = "/api/2.0/fs/files/Volumes/ops/tools/drops"
    r = client.put(ws, base + "/a/b/data.bin", data=b"\x00\x01payload")
    assert r.status_code == 204, r.text
    r = client.get(ws, base + "/a/b/data.bin")
    assert r.content == b"\x00\x01payload" and r.headers["Content-Type"] == "application/octet-stream"
    assert client.request("HEAD", ws, base + "/a/b/data.bin").headers["Content-Length"] == "9"
    assert client.put(ws, base + "/a/b/data.bin", data=b"x").status_code == 409
    assert client.put(ws, base + "/a/b/data.bin", data=b"x", params={"overwrite": "true"}).status_code == 204
    lst = client.get(ws, "/api/2.0/fs/directories/Volumes/ops/tools/drops/a").json()["contents"]
    assert lst == [{"path": "/Volumes/ops/tools/drops/a/b/", "is_directory": True, "name": "b"}]
    assert client.get(ws, "/api/2.0/fs/files/Volumes/ops/tools/nope/x").status_code == 404
    assert client.get(e.dr.ws, base + "/a/b/data.bin").status_code == 404    # other metastore
    assert client.delete(ws, base + "/a/b/data.bin").status_code == 204
    assert client.get(ws, base + "/a/b/data.bin").status_code == 404


def test_secrets(client, e):
    ws = e.dr.ws
    assert client.post(ws, "/api/2.0/secrets/scopes/create", json={"scope": "drhost"}).status_code == 200
    r = client.post(ws, "/api/2.0/secrets/scopes/create", json={"scope": "drhost"})
    assert r.status_code == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    r = client.post(ws, "/api/2.0/secrets/scopes/create", json={"scope": "kv", "scope_backend_type": "AZURE_KEYVAULT"})
    assert r.status_code == 400
    r = client.post(ws, "/api/2.0/secrets/put", json={"scope": "drhost", "key": "blob-key", "string_vale": "x"})
    assert r.status_code == 400 and "string_vale" in r.json()["message"]
    assert client.post(ws, "/api/2.0/secrets/put", json={"scope": "drhost", "key": "blob-key",
                                                          "string_value": "s3cr3t"}).status_code == 200
    keys = client.get(ws, "/api/2.0/secrets/list", params={"scope": "drhost"}).json()["secrets"]
    assert [k["key"] for k in keys] == ["blob-key"] and "value" not in keys[0]
    v = client.get(ws, "/api/2.0/secrets/get", params={"scope": "drhost", "key": "blob-key"}).json()
    assert base64.b64decode(v["value"]) == b"s3cr3t"
    assert [s["name"] for s in client.get(ws, "/api/2.0/secrets/scopes/list").json()["scopes"]] == ["drhost"]
    assert client.get(ws, "/api/2.0/secrets/list", params={"scope": "nope"}).status_code == 404
    me = client.get(ws, "/api/2.0/preview/scim/v2/Me").json()
    assert me["userName"] and me["active"] is True


def test_jobs_update_submit_delete(client, e):
    ws, prefix = e.dr.ws, "/api/2.2/jobs"
    jid = client.post(ws, prefix + "/create", json={"name": "j", "tasks": [TASK], "environments": ENV}).json()["job_id"]
    r = client.post(ws, prefix + "/update", json={"job_id": jid, "new_settings": {"max_concurrent_runs": 2},
                                                  "fields_to_remove": ["environments"]})
    assert r.status_code == 200
    s = client.get(ws, prefix + "/get", params={"job_id": jid}).json()["settings"]
    assert s["max_concurrent_runs"] == 2 and "environments" not in s
    r = client.post(ws, prefix + "/create", json={"name": "bad", "tasks": [
        dict(TASK, depends_on=[{"task_key": "ghost"}])]})
    assert r.status_code == 400 and "ghost" in r.json()["message"]
    r = client.post(ws, prefix + "/runs/submit", json={"run_name": "once", "tasks": [TASK]})
    assert r.status_code == 200, r.text
    run = client.get(ws, prefix + "/runs/get", params={"run_id": r.json()["run_id"]}).json()
    assert run["run_type"] == "SUBMIT_RUN" and run["state"]["result_state"] == "SUCCESS"
    assert client.post(ws, prefix + "/runs/cancel", json={"run_id": run["run_id"]}).status_code == 200
    assert client.post(ws, prefix + "/runs/delete", json={"run_id": run["run_id"]}).status_code == 200
    assert client.get(ws, prefix + "/runs/get", params={"run_id": run["run_id"]}).status_code == 400
    assert client.post(ws, prefix + "/delete", json={"job_id": jid}).status_code == 200
    assert client.get(ws, prefix + "/get", params={"job_id": jid}).status_code == 400
    for i in range(3):
        client.post(ws, prefix + "/create", json={"name": f"p{i}", "tasks": [TASK]})
    r = client.get(ws, prefix + "/list", params={"limit": 2}).json()
    assert len(r["jobs"]) == 2 and r["has_more"] is True and "tasks" not in r["jobs"][0]["settings"]
    r2 = client.get(ws, prefix + "/list", params={"limit": 2, "page_token": r["next_page_token"]}).json()
    assert len(r2["jobs"]) == 1 and r2["has_more"] is False


def test_warehouse_edit_delete(client, e):
    ws = e.dr.ws
    wid = client.post(ws, "/api/2.0/sql/warehouses", json={"name": "wh", "cluster_size": "Small"}).json()["id"]
    assert client.post(ws, "/api/2.0/sql/warehouses", json={"name": "wh", "cluster_size": "Small"}).status_code == 400
    r = client.post(ws, f"/api/2.0/sql/warehouses/{wid}/edit", json={"cluster_size": "Medium", "auto_stop_mins": 3})
    assert r.status_code == 400
    assert client.post(ws, f"/api/2.0/sql/warehouses/{wid}/edit", json={"cluster_size": "Medium"}).status_code == 200
    assert client.get(ws, f"/api/2.0/sql/warehouses/{wid}").json()["cluster_size"] == "Medium"
    assert client.delete(ws, f"/api/2.0/sql/warehouses/{wid}").status_code == 200
    assert client.get(ws, f"/api/2.0/sql/warehouses/{wid}").status_code == 404


def test_directories_and_secret_acls(client, e):
    ms, ws = e.prod.ms, e.prod.ws
    ms.create_catalog("ops", "admin", storage_root=e.prod.root + "ops")
    ms.create_volume("ops", "default", "v", "admin")
    d = "/api/2.0/fs/directories/Volumes/ops/default/v"
    assert client.put(ws, d + "/x/y").status_code == 204
    assert client.put(ws, "/api/2.0/fs/files/Volumes/ops/default/v/x/y/f.txt", data=b"hi").status_code == 204
    assert client.delete(ws, d + "/x/y").status_code == 400   # not empty
    client.delete(ws, "/api/2.0/fs/files/Volumes/ops/default/v/x/y/f.txt")
    assert client.delete(ws, d + "/x/y").status_code == 204
    assert client.get(ws, d + "/x/y").status_code == 404
    assert client.get(ws, "/api/2.0/fs/files/Other/x").status_code in (400, 404)
    client.post(ws, "/api/2.0/secrets/scopes/create", json={"scope": "s"})
    assert client.post(ws, "/api/2.0/secrets/acls/put", json={"scope": "s", "principal": "users",
                                                              "permission": "READ"}).status_code == 200
    assert client.post(ws, "/api/2.0/secrets/acls/put", json={"scope": "s", "principal": "users",
                                                              "permission": "OWN"}).status_code == 400
    acls = client.get(ws, "/api/2.0/secrets/acls/list", params={"scope": "s"}).json()["items"]
    assert {"principal": "users", "permission": "READ"} in acls
    assert client.post(ws, "/api/2.0/secrets/acls/delete", json={"scope": "s", "principal": "users"}).status_code == 200
    client.post(ws, "/api/2.0/secrets/put", json={"scope": "s", "key": "k", "string_value": "v"})
    assert client.post(ws, "/api/2.0/secrets/delete", json={"scope": "s", "key": "k"}).status_code == 200
    assert client.post(ws, "/api/2.0/secrets/delete", json={"scope": "s", "key": "k"}).status_code == 404
    assert client.post(ws, "/api/2.0/secrets/scopes/delete", json={"scope": "s"}).status_code == 200
