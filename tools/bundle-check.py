#!/usr/bin/env python3
"""Check a Databricks Asset Bundle's jobs here, without the Databricks CLI or a workspace.

For each target: resolve databricks.yml (tools/bundle_resolve.py), then walk every job field by
field against the databricks-sdk `jobs.JobSettings` dataclasses (the Jobs API contract the
simulator also enforces): unknown keys, enum values and JSON types, each reported with its path
and the file it came from. Then the rules the API cannot express in types: task keys, one task
type per task, dependencies, environment and cluster keys; the standby target's schedules,
triggers and continuous jobs PAUSED; the same jobs (keys and names) in primary and standby.

    tools/bundle-check.py [--bundle DIR] [--target T]... [--primary prod] [--standby dr]
                          [--var name=value]...

Variables without a value get a placeholder (the check is about shape, not tenants' ids).
Exit 0 when clean, 1 with one line per finding, 2 on a usage error.
"""

import argparse
import dataclasses
import enum
import os
import sys
import typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from databricks.sdk.service import jobs as J  # noqa: E402

import bundle_resolve  # noqa: E402

BUNDLE_ONLY = {"permissions"}     # job keys of the bundle schema that are not JobSettings
TASK_KINDS = [f.name for f in dataclasses.fields(J.Task) if f.name.endswith("_task")]
JSON_TYPES = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


def walk(value, tp, path, out):
    """Append (path, message) for everything in value that tp does not allow."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else tp
        origin = typing.get_origin(tp)
    if value is None:
        return
    if origin in (list, typing.List):
        if not isinstance(value, list):
            out.append((path, f"expected a list, got {type(value).__name__}"))
            return
        (item,) = typing.get_args(tp) or (None,)
        for i, x in enumerate(value):
            walk(x, item, f"{path}[{i}]", out)
        return
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            out.append((path, f"expected a mapping, got {type(value).__name__}"))
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            out.append((path, f"expected a mapping ({tp.__name__}), got "
                              f"{type(value).__name__}"))
            return
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        for k, v in value.items():
            if k not in names:
                near = sorted(n for n in names if _close(k, n))
                out.append((f"{path}.{k}", f"unknown key for {tp.__name__}"
                            + (f" (did you mean {near[0]}?)" if near else
                               f"; expected one of {', '.join(sorted(names))}")))
            else:
                walk(v, hints[k], f"{path}.{k}", out)
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if value not in allowed:
            out.append((path, f"'{value}' is not one of {', '.join(allowed)}"))
        return
    if tp in JSON_TYPES:
        ok = isinstance(value, JSON_TYPES[tp]) and not (tp is not bool and isinstance(value, bool))
        if not ok:
            out.append((path, f"expected {tp.__name__}, got {type(value).__name__} "
                              f"{value!r}"))


def _close(a, b):
    """Edit distance <= 2 (cheap typo hint)."""
    if abs(len(a) - len(b)) > 2:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= 2


def rules(job, path, out):
    tasks = job.get("tasks") or []
    if not isinstance(tasks, list):
        return
    if not tasks:
        out.append((f"{path}.tasks", "a job needs at least one task"))
    keys = []
    envs = {e.get("environment_key") for e in job.get("environments") or [] if isinstance(e, dict)}
    clusters = {c.get("job_cluster_key") for c in job.get("job_clusters") or []
                if isinstance(c, dict)}
    for i, t in enumerate(tasks):
        if not isinstance(t, dict):
            continue
        p = f"{path}.tasks[{i}]"
        if not t.get("task_key"):
            out.append((f"{p}.task_key", "required"))
        elif t["task_key"] in keys:
            out.append((f"{p}.task_key", f"duplicate task_key '{t['task_key']}'"))
        keys.append(t.get("task_key"))
        kinds = [k for k in TASK_KINDS if t.get(k) is not None]
        if len(kinds) != 1:
            out.append((p, f"exactly one task type is required (got {', '.join(kinds) or 'none'})"))
        if t.get("environment_key") and t["environment_key"] not in envs:
            out.append((f"{p}.environment_key", f"'{t['environment_key']}' is not defined in "
                                                 "environments"))
        if t.get("job_cluster_key") and t["job_cluster_key"] not in clusters:
            out.append((f"{p}.job_cluster_key", f"'{t['job_cluster_key']}' is not defined in "
                                                 "job_clusters"))
    for i, t in enumerate(tasks):
        for d in (t.get("depends_on") or []) if isinstance(t, dict) else []:
            if isinstance(d, dict) and d.get("task_key") not in keys:
                out.append((f"{path}.tasks[{i}].depends_on", f"unknown task_key "
                                                              f"'{d.get('task_key')}'"))
    sch = job.get("schedule")
    if isinstance(sch, dict):
        for k in ("quartz_cron_expression", "timezone_id"):
            if not sch.get(k):
                out.append((f"{path}.schedule.{k}", "required"))
        cron = sch.get("quartz_cron_expression")
        if isinstance(cron, str) and len(cron.split()) not in (6, 7):
            out.append((f"{path}.schedule.quartz_cron_expression", f"'{cron}' is not a Quartz "
                        "expression (6 or 7 fields, seconds first)"))
    present = [f for f in bundle_resolve.TRIGGER_FIELDS if job.get(f) is not None]
    if len(present) > 1:
        out.append((path, f"only one of schedule, trigger, continuous (got {', '.join(present)})"))


def check_target(root, target, overrides, standby):
    """-> (resolved, [(file, target, path, message)])"""
    decl = (bundle_resolve.load(root)[0].get("variables") or {})
    ov = {n: f"placeholder-{n}" for n in decl}
    ov.update(overrides)
    r = bundle_resolve.resolve(root, target, ov, environ={})
    found = []
    for key, job in r["jobs"].items():
        path = f"resources.jobs.{key}"
        out = []
        walk({k: v for k, v in job.items() if k not in BUNDLE_ONLY}, J.JobSettings, path, out)
        rules(job, path, out)
        if target == standby:
            for f in bundle_resolve.TRIGGER_FIELDS:
                blk = job.get(f)
                if isinstance(blk, dict) and blk.get("pause_status") != "PAUSED":
                    out.append((f"{path}.{f}.pause_status",
                                f"is {blk.get('pause_status') or 'unset'} in standby target "
                                f"'{target}': it would run against the replicas (set presets."
                                "trigger_pause_status: PAUSED and no explicit UNPAUSED)"))
        found += [(r["origin"].get(key, "databricks.yml"), target, p, m) for p, m in out]
    return r, found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "examples", "bundle"))
    ap.add_argument("--target", action="append", help="default: every target")
    ap.add_argument("--primary", default="prod")
    ap.add_argument("--standby", default="dr")
    ap.add_argument("--var", action="append", default=[], help="name=value")
    a = ap.parse_args(argv)
    overrides = {}
    for kv in a.var:
        if "=" not in kv:
            ap.error(f"--var {kv}: expected name=value")
        k, v = kv.split("=", 1)
        overrides[k] = v
    root = os.path.normpath(a.bundle)
    findings, resolved = [], {}
    try:
        targets = a.target or list((bundle_resolve.load(root)[0].get("targets") or {}))
        for t in targets:
            resolved[t], f = check_target(root, t, overrides, a.standby)
            findings += f
    except bundle_resolve.BundleError as e:
        print(f"bundle-check: {root}: {e}", file=sys.stderr)
        return 1
    p, s = resolved.get(a.primary), resolved.get(a.standby)
    if p and s:
        for key in sorted(set(p["jobs"]) ^ set(s["jobs"])):
            where = a.primary if key in p["jobs"] else a.standby
            findings.append((p["origin"].get(key, "databricks.yml"), where,
                             f"resources.jobs.{key}", f"defined only in target '{where}': dr "
                             "must have the same jobs as prod"))
        for key in sorted(set(p["jobs"]) & set(s["jobs"])):
            if p["jobs"][key].get("name") != s["jobs"][key].get("name"):
                findings.append((p["origin"].get(key, "databricks.yml"), a.standby,
                                 f"resources.jobs.{key}.name",
                                 f"'{s['jobs'][key].get('name')}' differs from "
                                 f"'{p['jobs'][key].get('name')}' in '{a.primary}': failover "
                                 "finds dr jobs by name"))
    for file, target, path, msg in findings:
        print(f"{os.path.join(root, file)} [target {target}]: {path}: {msg}")
    njobs = len({k for r in resolved.values() for k in r["jobs"]})
    if findings:
        print(f"bundle-check: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print(f"bundle-check: ok ({len(resolved)} targets, {njobs} job(s), "
          "checked against databricks-sdk JobSettings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
