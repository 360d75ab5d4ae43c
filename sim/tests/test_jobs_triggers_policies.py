"""Jobs with schedules, triggers and continuous mode (pause state), and cluster policies."""
import json

import pytest
from databricks.sdk.service import compute as C
from databricks.sdk.service import jobs as J

from drsim.databricks.testkit import estate

JOBS = "/api/2.2/jobs"
POL = "/api/2.0/policies/clusters"
TASK = {"task_key": "rollup", "spark_python_task": {"python_file": "/Workspace/Shared/x/run.py"},
        "environment_key": "default"}
CRON = {"quartz_cron_expression": "0 30 2 * * ?", "timezone_id": "Europe/Amsterdam"}


@pytest.fixture
def e(client):
    return estate()


def _create(client, ws, **settings):
    return client.post(ws, JOBS + "/create", json=dict({"name": "daily", "tasks": [TASK]}, **settings))


def _settings(client, ws, jid):
    r = client.get(ws, JOBS + "/get", params={"job_id": jid})
    assert r.status_code == 200, r.text
    J.Job.from_dict(r.json())      # the SDK reads it
    return r.json()["settings"]


def test_schedule_defaults_unpaused_and_pauses_by_update(client, e):
    ws = e.prod.ws
    jid = _create(client, ws, schedule=CRON).json()["job_id"]
    assert _settings(client, ws, jid)["schedule"]["pause_status"] == "UNPAUSED"
    r = client.post(ws, JOBS + "/update", json={"job_id": jid, "new_settings": {
        "schedule": dict(CRON, pause_status="PAUSED")}})
    assert r.status_code == 200, r.text
    s = _settings(client, ws, jid)
    assert s["schedule"] == dict(CRON, pause_status="PAUSED") and s["tasks"][0]["task_key"] == "rollup"
    lst = client.get(ws, JOBS + "/list", params={"name": "DAILY"}).json()["jobs"]   # case-insensitive
    assert [j["settings"]["schedule"]["pause_status"] for j in lst] == ["PAUSED"]
    # reset replaces everything: a schedule given without pause_status is UNPAUSED again
    client.post(ws, JOBS + "/reset", json={"job_id": jid, "new_settings": {
        "name": "daily", "tasks": [TASK], "schedule": CRON}})
    assert _settings(client, ws, jid)["schedule"]["pause_status"] == "UNPAUSED"


@pytest.mark.parametrize("bad,needle", [
    ({"schedule": dict(CRON, pause_status="STOPPED")}, "schedule.pause_status"),
    ({"schedule": {"timezone_id": "UTC"}}, "schedule.quartz_cron_expression"),
    ({"schedule": dict(CRON, quartz_cron_expression="30 2 * * *")}, "6 or 7 fields"),
    ({"schedule": dict(CRON, timezone_id="Mars/Olympus")}, "timezone_id"),
    ({"schedule": dict(CRON, quartz_cron="x")}, "schedule.quartz_cron"),
    ({"trigger": {"periodic": {"interval": 1, "unit": "DAYS"}, "pause_status": "PAUSED",
                  "file_arrival": {"url": "/Volumes/a/b/c/"}}}, "exactly one of"),
    ({"trigger": {"periodic": {"interval": 1, "unit": "FORTNIGHTS"}}}, "trigger.periodic.unit"),
    ({"trigger": {"table_update": {}}}, "trigger.table_update.table_names"),
    ({"schedule": CRON, "continuous": {"pause_status": "PAUSED"}}, "only one of"),
    ({"continuous": {"pause_status": "paused"}}, "continuous.pause_status"),
])
def test_trigger_contract(client, e, bad, needle):
    r = _create(client, e.prod.ws, **bad)
    assert r.status_code == 400 and needle in r.json()["message"], r.text


def test_trigger_and_continuous(client, e):
    ws = e.dr.ws
    jid = _create(client, ws, trigger={"pause_status": "PAUSED", "table_update": {
        "table_names": ["main.sales.orders"], "condition": "ALL_UPDATED"}}).json()["job_id"]
    assert _settings(client, ws, jid)["trigger"]["pause_status"] == "PAUSED"
    # switching a triggered job to continuous: remove the trigger in the same update
    r = client.post(ws, JOBS + "/update", json={"job_id": jid, "new_settings": {"continuous": {}}})
    assert r.status_code == 400 and "only one of" in r.json()["message"]
    r = client.post(ws, JOBS + "/update", json={"job_id": jid, "new_settings": {"continuous": {}},
                                                "fields_to_remove": ["trigger"]})
    assert r.status_code == 200, r.text
    s = _settings(client, ws, jid)
    assert "trigger" not in s and s["continuous"]["pause_status"] == "UNPAUSED"
    r = client.post(ws, JOBS + "/update", json={"job_id": jid, "new_settings": {"schedul": CRON}})
    assert r.status_code == 400 and "new_settings.schedul" in r.json()["message"]
    assert client.get(e.prod.ws, JOBS + "/get", params={"job_id": jid}).status_code == 400


DEF = json.dumps({"spark_version": {"type": "fixed", "value": "15.4.x-scala2.12"},
                  "autotermination_minutes": {"type": "range", "maxValue": 60}})


def test_cluster_policies(client, e):
    ws = e.prod.ws
    r = client.post(ws, POL + "/create", json={"name": "jobs-small", "definition": DEF,
                                               "max_clusters_per_user": 2})
    assert r.status_code == 200, r.text
    pid = r.json()["policy_id"]
    p = client.get(ws, POL + "/get", params={"policy_id": pid}).json()
    assert C.Policy.from_dict(p).name == "jobs-small" and json.loads(p["definition"]) == json.loads(DEF)
    assert p["is_default"] is False and p["creator_user_name"]
    assert client.post(ws, POL + "/create", json={"name": "jobs-small", "definition": DEF}).status_code == 400
    r = client.post(ws, POL + "/create", json={"name": "x", "definiton": DEF})
    assert r.status_code == 400 and "definiton" in r.json()["message"]
    r = client.post(ws, POL + "/create", json={"name": "x", "definition": '{"a": {"type": "fixd"}}'})
    assert r.status_code == 400 and "'a'" in r.json()["message"]
    r = client.post(ws, POL + "/create", json={"name": "x", "definition": "{not json"})
    assert r.status_code == 400
    client.post(ws, POL + "/create", json={"name": "alpha", "definition": "{}"})
    names = [x["name"] for x in client.get(ws, POL + "/list", params={
        "sort_column": "POLICY_NAME", "sort_order": "ASC"}).json()["policies"]]
    assert names == ["alpha", "jobs-small"]
    assert client.get(ws, POL + "/list", params={"sort_column": "NAME"}).status_code == 400
    assert client.get(e.dr.ws, POL + "/list").json()["policies"] == []     # per workspace
    r = client.post(ws, POL + "/edit", json={"policy_id": pid, "name": "jobs-small",
                                             "definition": "{}"})
    assert r.status_code == 200, r.text
    p = client.get(ws, POL + "/get", params={"policy_id": pid}).json()
    assert p["definition"] == "{}" and "max_clusters_per_user" not in p    # edit replaces
    assert client.post(ws, POL + "/edit", json={"policy_id": pid, "name": "alpha"}).status_code == 400
    assert client.post(ws, POL + "/delete", json={"policy_id": pid}).status_code == 200
    assert client.get(ws, POL + "/get", params={"policy_id": pid}).status_code == 400
