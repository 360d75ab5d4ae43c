"""Resolve a Databricks Asset Bundle (databricks.yml + its includes) for one target, the way
`databricks bundle validate -t TARGET` does for the parts drhost relies on: includes, target
overrides, variables (default < target < BUNDLE_VAR_<name> < --var), `${var.*}` and `${bundle.*}`
references, and the presets `name_prefix`, `tags` and `trigger_pause_status` (applied, as the
CLI does, to schedules/triggers/continuous that do not set their own pause_status).

Not the CLI: artifacts are not built, paths are not rewritten to the workspace (the caller does
that), `mode: development` is not applied, and only jobs are resolved. Used by
tools/bundle-check.py (the local contract check) and tools/bundle-deploy-sim.py (the simulator's
stand-in for `databricks bundle deploy`).
"""

import copy
import glob
import os
import re

import yaml

REF = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")
PRESET_KEYS = {"name_prefix", "tags", "trigger_pause_status", "pipelines_development",
               "jobs_max_concurrent_runs", "source_linked_deployment"}
TRIGGER_FIELDS = ("schedule", "trigger", "continuous")
# FIDELITY: the CLI's default is under /Workspace/Users/<deploying identity>/; a shared path
# here keeps the stand-in free of a user lookup.
DEFAULT_ROOT = "/Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"


class BundleError(Exception):
    """A user mistake in the bundle: names the file and key."""


def _load(path):
    try:
        with open(path, encoding="utf-8") as f:
            d = yaml.safe_load(f) or {}
    except OSError as e:
        raise BundleError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise BundleError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(d, dict):
        raise BundleError(f"{path}: expected a mapping at the top level")
    return d


def _merge(a, b):
    """Deep merge b over a (mappings merge, everything else is replaced)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(a[k], v) if k in a else copy.deepcopy(v)
        return out
    return copy.deepcopy(b)


def load(root):
    """-> (config dict with includes merged, {job key: file it came from})."""
    main = os.path.join(root, "databricks.yml")
    cfg = _load(main)
    origin = {k: "databricks.yml" for k in ((cfg.get("resources") or {}).get("jobs") or {})}
    for pattern in cfg.get("include") or []:
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            part = _load(path)
            rel = os.path.relpath(path, root)
            bad = set(part) - {"resources", "variables", "targets", "artifacts", "sync"}
            if bad:
                raise BundleError(f"{rel}: top-level key(s) {sorted(bad)} are not allowed in "
                                  "an included file")
            for k in ((part.get("resources") or {}).get("jobs") or {}):
                if k in origin:
                    raise BundleError(f"{rel}: job '{k}' is already defined in {origin[k]}")
                origin[k] = rel
            cfg = _merge(cfg, part)
    return cfg, origin


def _variables(cfg, target, tcfg, overrides, environ):
    decl = cfg.get("variables") or {}
    vals = {}
    for name, spec in decl.items():
        spec = spec if isinstance(spec, dict) else {"default": spec}
        if "default" in spec:
            vals[name] = spec["default"]
    for name, v in (tcfg.get("variables") or {}).items():
        if name not in decl:
            raise BundleError(f"databricks.yml: targets.{target}.variables.{name} is not "
                              "declared under variables")
        vals[name] = v.get("default") if isinstance(v, dict) else v
    for name in decl:
        if "BUNDLE_VAR_" + name in environ:
            vals[name] = environ["BUNDLE_VAR_" + name]
    for name, v in (overrides or {}).items():
        if name not in decl:
            raise BundleError(f"--var {name}: no such variable in databricks.yml")
        vals[name] = v
    missing = sorted(set(decl) - set(vals))
    if missing:
        raise BundleError(f"databricks.yml: variable(s) {', '.join(missing)} have no value for "
                          f"target {target} (set --var {missing[0]}=... or "
                          f"BUNDLE_VAR_{missing[0]})")
    return vals


def _interpolate(v, ctx, path):
    if isinstance(v, dict):
        return {k: _interpolate(x, ctx, f"{path}.{k}") for k, x in v.items()}
    if isinstance(v, list):
        return [_interpolate(x, ctx, f"{path}[{i}]") for i, x in enumerate(v)]
    if not isinstance(v, str):
        return v

    def sub(m):
        ref = m.group(1)
        if ref not in ctx:
            raise BundleError(f"{path}: unknown reference ${{{ref}}}")
        return str(ctx[ref])
    whole = REF.fullmatch(v)
    if whole and whole.group(1) in ctx and not isinstance(ctx[whole.group(1)], str):
        return ctx[whole.group(1)]       # a complex or numeric variable keeps its type
    return REF.sub(sub, v)


def resolve(root, target, overrides=None, environ=None):
    """-> {"bundle": name, "target": t, "presets": {...}, "jobs": {key: settings},
           "origin": {key: file}}"""
    environ = os.environ if environ is None else environ
    cfg, origin = load(root)
    targets = cfg.get("targets") or {}
    if target not in targets:
        raise BundleError(f"databricks.yml: no target '{target}' (targets: "
                          f"{', '.join(targets) or 'none'})")
    tcfg = targets[target] or {}
    name = (cfg.get("bundle") or {}).get("name")
    if not name:
        raise BundleError("databricks.yml: bundle.name is required")
    vals = _variables(cfg, target, tcfg, overrides, environ)
    presets = dict(cfg.get("presets") or {}, **(tcfg.get("presets") or {}))
    unknown = sorted(set(presets) - PRESET_KEYS)
    if unknown:
        raise BundleError(f"databricks.yml: targets.{target}.presets.{unknown[0]} is not a "
                          f"preset (expected one of {', '.join(sorted(PRESET_KEYS))})")
    tps = presets.get("trigger_pause_status")
    if tps not in (None, "PAUSED", "UNPAUSED"):
        raise BundleError(f"databricks.yml: targets.{target}.presets.trigger_pause_status "
                          f"'{tps}': expected PAUSED or UNPAUSED")
    resources = _merge(cfg.get("resources") or {}, tcfg.get("resources") or {})
    ctx = {f"var.{k}": v for k, v in vals.items()}
    ctx.update({"bundle.name": name, "bundle.target": target})
    run_as = _interpolate(tcfg.get("run_as") or cfg.get("run_as"), ctx, "run_as")
    jobs = {}
    for key, job in (resources.get("jobs") or {}).items():
        j = _interpolate(copy.deepcopy(job or {}), ctx, f"resources.jobs.{key}")
        if presets.get("name_prefix"):
            j["name"] = presets["name_prefix"] + (j.get("name") or key)
        if presets.get("tags"):
            j["tags"] = dict(presets["tags"], **(j.get("tags") or {}))
        if tps:
            for f in TRIGGER_FIELDS:
                if isinstance(j.get(f), dict) and not j[f].get("pause_status"):
                    j[f] = dict(j[f], pause_status=tps)
        if run_as and "run_as" not in j:
            j["run_as"] = run_as
        jobs[key] = j
    ws = dict(cfg.get("workspace") or {}, **(tcfg.get("workspace") or {}))
    root_path = _interpolate(ws.get("root_path") or DEFAULT_ROOT, ctx, "workspace.root_path")
    return {"bundle": name, "target": target, "presets": presets, "jobs": jobs,
            "origin": origin, "targets": list(targets), "root_path": root_path}
