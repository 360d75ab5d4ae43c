"""Jobs API (workspace hosts, /api/2.2/jobs/... and the same under /api/2.1/jobs/...).

Schedules, triggers and continuous jobs: at most one of `schedule`, `trigger`, `continuous`; each
carries a `pause_status` (PAUSED | UNPAUSED, stored as UNPAUSED when left out, as the real API
reports it); a job is paused or resumed by `update` with the whole block in `new_settings`.

FIDELITY: nothing is executed. A run completes at once (TERMINATED / SUCCESS) unless a failure
was queued with the admin call `POST admin /dbx/jobs/next-run-result {"result_state": "FAILED",
"job_id": optional, "state_message": optional}` (or `queue_result(...)` from Python).
"""

import threading
import time
import zoneinfo

from databricks.sdk.service import jobs as J

from ..errors import DatabricksError
from ..http import route
from .common import api, bad, body, check_shape, fields_of, params_of, who
from .ucmodel import UC

TASK_KINDS = ("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
              "spark_submit_task", "sql_task", "pipeline_task", "dbt_task", "run_job_task",
              "condition_task", "for_each_task", "dashboard_task", "alert_task",
              "clean_rooms_notebook_task", "power_bi_task", "dbt_cloud_task",
              "python_operator_task", "gen_ai_compute_task", "ai_runtime_task",
              "dbt_platform_task")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.jobs = {}        # ws id -> {job_id -> job dict}
        self.runs = {}        # ws id -> {run_id -> run dict}
        self.next_id = 1000
        self.queued = []      # [{"job_id": None|int, "result_state": ..., "state_message": ...}]


STORE = Store()


def _reset():
    global STORE
    STORE = Store()


UC.on_reset(_reset)


def _new_id():
    with STORE.lock:
        STORE.next_id += 1
        return STORE.next_id


def queue_result(result_state="FAILED", job_id=None, state_message=None):
    """Make the next run (of job_id, or of any job) end with result_state."""
    if result_state not in [m.value for m in J.RunResultState]:
        raise ValueError(f"result_state {result_state!r}")
    with STORE.lock:
        STORE.queued.append({"job_id": job_id, "result_state": result_state,
                             "state_message": state_message})


def _now():
    return int(time.time() * 1000)


TRIGGER_KINDS = ("file_arrival", "periodic", "table_update", "model")


def _check_triggers(s, where):
    """schedule / trigger / continuous: the parts the dataclasses cannot say."""
    present = [k for k in ("schedule", "trigger", "continuous") if s.get(k) is not None]
    if len(present) > 1:
        raise bad(f"{where}{present[0]} and {where}{present[1]}: a job can have only one of "
                  "schedule, trigger and continuous.")
    sch = s.get("schedule")
    if sch is not None:
        for k in ("quartz_cron_expression", "timezone_id"):
            if not sch.get(k):
                raise bad(f"Missing required field: {where}schedule.{k}")
        if len(sch["quartz_cron_expression"].split()) not in (6, 7):
            raise bad(f"Invalid quartz_cron_expression '{sch['quartz_cron_expression']}' in "
                      f"{where}schedule: expected 6 or 7 fields (seconds first).")
        tz = sch["timezone_id"]
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad(f"Invalid timezone_id '{tz}' in {where}schedule.") from None
    trg = s.get("trigger")
    if trg is not None:
        kinds = [k for k in TRIGGER_KINDS if trg.get(k) is not None]
        if len(kinds) != 1:
            raise bad(f"{where}trigger: exactly one of {', '.join(TRIGGER_KINDS)} is required "
                      f"(got {', '.join(kinds) or 'none'}).")
        if trg.get("periodic") is not None:
            per = trg["periodic"]
            if not isinstance(per.get("interval"), int) or per["interval"] < 1 or not per.get("unit"):
                raise bad(f"{where}trigger.periodic needs a positive interval and a unit.")
        if trg.get("file_arrival") is not None and not trg["file_arrival"].get("url"):
            raise bad(f"Missing required field: {where}trigger.file_arrival.url")
        if trg.get("table_update") is not None and not trg["table_update"].get("table_names"):
            raise bad(f"Missing required field: {where}trigger.table_update.table_names")


def _with_defaults(s):
    """The stored settings: a schedule/trigger/continuous without pause_status is UNPAUSED."""
    s = dict(s)
    for k in ("schedule", "trigger", "continuous"):
        if s.get(k) is not None and not s[k].get("pause_status"):
            s[k] = dict(s[k], pause_status="UNPAUSED")
    s.setdefault("name", "Untitled")
    s.setdefault("max_concurrent_runs", 1)
    s.setdefault("format", "MULTI_TASK")
    return s


def _check_settings(s, where=""):
    check_shape(s, J.JobSettings, where)
    _check_triggers(s, where)
    tasks = s.get("tasks") or []
    keys = set()
    for i, t in enumerate(tasks):
        k = t.get("task_key")
        if not k:
            raise bad(f"Missing required field: {where}tasks[{i}].task_key")
        if k in keys:
            raise bad(f"Duplicate task_key '{k}' in {where}tasks.")
        keys.add(k)
        kinds = [x for x in TASK_KINDS if t.get(x) is not None]
        if len(kinds) != 1:
            raise bad(f"{where}tasks[{i}] ({k}): exactly one task type is required "
                      f"(got {', '.join(kinds) or 'none'}).")
    for i, t in enumerate(tasks):
        for d in t.get("depends_on") or []:
            if d.get("task_key") not in keys:
                raise bad(f"{where}tasks[{i}].depends_on: unknown task_key "
                          f"'{d.get('task_key')}'.")
    clusters = {c.get("job_cluster_key") for c in s.get("job_clusters") or []}
    for i, t in enumerate(tasks):
        if t.get("job_cluster_key") and t["job_cluster_key"] not in clusters:
            raise bad(f"{where}tasks[{i}].job_cluster_key '{t['job_cluster_key']}' is not "
                      "defined in job_clusters.")
    if "max_concurrent_runs" in s and not (0 <= int(s["max_concurrent_runs"]) <= 1000):
        raise bad("max_concurrent_runs must be between 0 and 1000.")


def _int(req, name, default):
    v = req.query.get(name)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except ValueError:
        raise bad(f"Invalid {name} '{v}': expected an integer.") from None


def _jobs(req):
    return STORE.jobs.setdefault(req.workspace["id"], {})


def _job(req, job_id):
    try:
        jid = int(job_id)
    except (TypeError, ValueError):
        raise bad(f"Invalid job_id '{job_id}'.") from None
    j = _jobs(req).get(jid)
    if j is None:
        # like the real Jobs API (legacy): a missing job is 400 INVALID_PARAMETER_VALUE, not 404
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE", f"Job {jid} does not exist.")
    return j


def _job_out(j):
    return J.Job.from_dict(j).as_dict()


def _routes(prefix):
    @api("workspace", "POST", prefix + "/create")
    def create(req):
        b = body(req, params_of(J.JobsAPI.create))
        acl = b.pop("access_control_list", None)
        _check_settings(b)
        with STORE.lock:
            jid = _new_id()
            _jobs(req)[jid] = {"job_id": jid, "creator_user_name": who(req),
                               "run_as_user_name": who(req), "created_time": _now(),
                               "settings": _with_defaults(b), "_acl": acl}
        return {"job_id": jid}

    @api("workspace", "POST", prefix + "/reset")
    def reset(req):
        b = body(req, params_of(J.JobsAPI.reset), ("job_id", "new_settings"))
        _check_settings(b["new_settings"], "new_settings.")
        with STORE.lock:
            j = _job(req, b["job_id"])
            j["settings"] = _with_defaults(b["new_settings"])
        return {}

    @api("workspace", "POST", prefix + "/update")
    def update(req):
        b = body(req, params_of(J.JobsAPI.update), ("job_id",))
        with STORE.lock:
            j = _job(req, b["job_id"])
            s = dict(j["settings"])
            s.update(b.get("new_settings") or {})
            for f in b.get("fields_to_remove") or []:
                s.pop(f, None)
            _check_settings(s, "new_settings.")
            j["settings"] = _with_defaults(s)
        return {}

    @api("workspace", "POST", prefix + "/delete")
    def delete(req):
        b = body(req, {"job_id"}, ("job_id",))
        with STORE.lock:
            j = _job(req, b["job_id"])
            del _jobs(req)[j["job_id"]]
        return {}

    @api("workspace", "GET", prefix + "/get")
    def get(req):
        with STORE.lock:
            return _job_out({k: v for k, v in _job(req, req.query.get("job_id")).items()
                             if not k.startswith("_")})

    @api("workspace", "GET", prefix + "/list")
    def list_(req):
        limit = _int(req, "limit", 20)
        if not 1 <= limit <= 100:
            raise bad("limit must be between 1 and 100.")
        offset = _int(req, "page_token", _int(req, "offset", 0))
        name = req.query.get("name")
        expand = req.query.get("expand_tasks") == "true"
        with STORE.lock:
            js = sorted(_jobs(req).values(), key=lambda j: j["job_id"])
            if name:    # the real filter: exact name, case-insensitive
                js = [j for j in js if (j["settings"].get("name") or "").lower() == name.lower()]
            chunk = js[offset:offset + limit]
            res = []
            for j in chunk:
                d = {k: v for k, v in j.items() if not k.startswith("_")}
                if not expand:
                    d["settings"] = {k: v for k, v in d["settings"].items()
                                     if k not in ("tasks", "job_clusters")}
                res.append(J.BaseJob.from_dict(d).as_dict())
            more = offset + limit < len(js)
            outd = {"jobs": res, "has_more": more}
            if more:
                outd["next_page_token"] = str(offset + limit)
            return outd

    @api("workspace", "POST", prefix + "/run-now")
    def run_now(req):
        b = body(req, params_of(J.JobsAPI.run_now), ("job_id",))
        with STORE.lock:
            j = _job(req, b["job_id"])
            params = {p["name"]: p.get("default") for p in j["settings"].get("parameters") or []}
            for k, v in (b.get("job_parameters") or {}).items():
                if k not in params:
                    raise bad(f"Job parameter '{k}' is not defined in job {j['job_id']}.")
                params[k] = v
            run = _start_run(req, j, params, b.get("idempotency_token"))
            return {"run_id": run["run_id"], "number_in_job": run["number_in_job"]}

    @api("workspace", "POST", prefix + "/runs/submit")
    def submit(req):
        b = body(req, params_of(J.JobsAPI.submit))
        b.pop("access_control_list", None)
        _check_settings({k: v for k, v in b.items() if k in fields_of(J.JobSettings)})
        with STORE.lock:
            fake = {"job_id": None, "settings": dict(b, name=b.get("run_name") or "Untitled")}
            run = _start_run(req, fake, {}, b.get("idempotency_token"))
            return {"run_id": run["run_id"]}

    @api("workspace", "GET", prefix + "/runs/get")
    def get_run(req):
        with STORE.lock:
            return J.Run.from_dict(_run(req, req.query.get("run_id"))).as_dict()

    @api("workspace", "GET", prefix + "/runs/list")
    def list_runs(req):
        limit = _int(req, "limit", 25)
        if not 1 <= limit <= 25:
            raise bad("limit must be between 1 and 25.")
        offset = _int(req, "page_token", _int(req, "offset", 0))
        with STORE.lock:
            rs = sorted(STORE.runs.get(req.workspace["id"], {}).values(),
                        key=lambda r: -r["run_id"])
            if req.query.get("job_id"):
                rs = [r for r in rs if str(r.get("job_id")) == req.query["job_id"]]
            if req.query.get("active_only") == "true":
                rs = [r for r in rs if r["state"]["life_cycle_state"] != "TERMINATED"]
            if req.query.get("completed_only") == "true":
                rs = [r for r in rs if r["state"]["life_cycle_state"] == "TERMINATED"]
            chunk = rs[offset:offset + limit]
            more = offset + limit < len(rs)
            d = {"runs": [J.BaseRun.from_dict(r).as_dict() for r in chunk], "has_more": more}
            if more:
                d["next_page_token"] = str(offset + limit)
            return d

    @api("workspace", "POST", prefix + "/runs/cancel")
    def cancel_run(req):
        b = body(req, {"run_id"}, ("run_id",))
        with STORE.lock:
            _run(req, b["run_id"])   # runs are already terminated: nothing to cancel
        return {}

    @api("workspace", "POST", prefix + "/runs/delete")
    def delete_run(req):
        b = body(req, {"run_id"}, ("run_id",))
        with STORE.lock:
            r = _run(req, b["run_id"])
            del STORE.runs[req.workspace["id"]][r["run_id"]]
        return {}


def _run(req, run_id):
    try:
        rid = int(run_id)
    except (TypeError, ValueError):
        raise bad(f"Invalid run_id '{run_id}'.") from None
    r = STORE.runs.get(req.workspace["id"], {}).get(rid)
    if r is None:
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE", f"Run {rid} does not exist.")
    return r


def _start_run(req, job, params, idem):
    runs = STORE.runs.setdefault(req.workspace["id"], {})
    if idem:
        for r in runs.values():
            if r.get("_idem") == idem:
                return r
    result, msg = "SUCCESS", ""
    for i, q in enumerate(STORE.queued):
        if q["job_id"] in (None, job["job_id"]):
            result, msg = q["result_state"], q["state_message"] or f"Injected {q['result_state']}"
            del STORE.queued[i]
            break
    rid = _new_id()
    t = _now()
    number = 1 + sum(1 for r in runs.values() if r.get("job_id") == job["job_id"]
                     and job["job_id"] is not None)
    host = req.workspace["url"]
    term = {"code": "SUCCESS" if result == "SUCCESS" else "RUN_EXECUTION_ERROR",
            "type": "SUCCESS" if result == "SUCCESS" else "CLIENT_ERROR", "message": msg}
    tasks = []
    for t_ in job["settings"].get("tasks") or []:
        trid = _new_id()
        tasks.append(dict({k: v for k, v in t_.items() if k in fields_of(J.RunTask)},
                          run_id=trid, start_time=t, end_time=t, attempt_number=0,
                          state={"life_cycle_state": "TERMINATED", "result_state": result,
                                 "state_message": msg},
                          run_page_url=f"{host}/#job/{job['job_id']}/run/{trid}"))
    run = {"run_id": rid, "job_id": job["job_id"], "number_in_job": number,
           "run_name": job["settings"].get("name"), "creator_user_name": who(req),
           "run_type": "JOB_RUN" if job["job_id"] is not None else "SUBMIT_RUN",
           "start_time": t, "end_time": t, "setup_duration": 0, "execution_duration": 0,
           "cleanup_duration": 0, "run_duration": 0, "attempt_number": 0,
           "trigger": "ONE_TIME",
           "state": {"life_cycle_state": "TERMINATED", "result_state": result,
                     "state_message": msg, "user_cancelled_or_timedout": False},
           "status": {"state": "TERMINATED", "termination_details": term},
           "job_parameters": [{"name": k, "value": v} for k, v in params.items()],
           "tasks": tasks, "run_page_url": f"{host}/#job/{job['job_id']}/run/{rid}",
           "_idem": idem}
    runs[rid] = run
    return {k: v for k, v in run.items()}


for _p in ("/api/2.2/jobs", "/api/2.1/jobs"):
    _routes(_p)


@route("admin", "POST", "/dbx/jobs/next-run-result")
def admin_queue(req):
    b = req.json or {}
    try:
        queue_result(b.get("result_state", "FAILED"), b.get("job_id"), b.get("state_message"))
    except ValueError as e:
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE", f"Invalid {e}.") from None
    return {}
