"""Cluster policies (workspace hosts, /api/2.0/policies/clusters/...): create, edit, delete,
get, list. Bodies are checked against `ClusterPoliciesAPI`, responses shaped by `compute.Policy`.

FIDELITY: a new workspace has no policies; a real one lists its built-in policy-family policies
(Personal Compute, Job Compute, ...), the same in every workspace, so a prod/dr comparison is
unaffected. Policy families are not served: `policy_family_id` is stored as given.
"""

import json
import threading
import time
import uuid

from databricks.sdk.service import compute as C

from ..errors import DatabricksError
from .common import api, bad, body, check_list_of, out, params_of, who
from .ucmodel import UC

P = "/api/2.0/policies/clusters"
RULE_TYPES = ("fixed", "forbidden", "allowlist", "blocklist", "regex", "range", "unlimited")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_ws = {}      # ws id (str) -> {policy id -> Policy dict}


STORE = Store()


def _reset():
    global STORE
    STORE = Store()


UC.on_reset(_reset)


def _check_definition(text, where):
    """A policy definition is a JSON object of attribute path -> rule {"type": ...}."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError):
        raise bad(f"Invalid {where}: not valid JSON.") from None
    if not isinstance(d, dict):
        raise bad(f"Invalid {where}: expected a JSON object of attribute rules.")
    for attr, rule in d.items():
        if not isinstance(rule, dict) or rule.get("type") not in RULE_TYPES:
            raise bad(f"Invalid {where}: rule for '{attr}' needs a type, one of "
                      f"{', '.join(RULE_TYPES)}.")


def _validate(b):
    if "definition" in b and b["definition"] is not None:
        _check_definition(b["definition"], "policy definition")
    if b.get("policy_family_definition_overrides") is not None:
        _check_definition(b["policy_family_definition_overrides"],
                          "policy_family_definition_overrides")
    if b.get("policy_family_definition_overrides") and not b.get("policy_family_id"):
        raise bad("policy_family_definition_overrides requires policy_family_id.")
    if b.get("definition") and b.get("policy_family_id"):
        raise bad("Either definition or policy_family_id may be given, not both.")
    m = b.get("max_clusters_per_user")
    if m is not None and (not isinstance(m, int) or m < 1):
        raise bad("max_clusters_per_user must be a positive integer.")
    check_list_of(b.get("libraries"), C.Library, "libraries")


def _policies(req):
    return STORE.by_ws.setdefault(req.workspace["id"], {})


def _get(req, pid):
    p = _policies(req).get(pid or "")
    if p is None:
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE",
                              f"Cluster policy {pid} does not exist.")
    return p


def _name_free(req, name, pid=None):
    if any(p["name"] == name and p["policy_id"] != pid for p in _policies(req).values()):
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE",
                              f"Cluster policy with name {name} already exists.")


@api("workspace", "POST", P + "/create")
def create(req):
    b = body(req, params_of(C.ClusterPoliciesAPI.create), ("name",))
    _validate(b)
    with STORE.lock:
        _name_free(req, b["name"])
        pid = uuid.uuid4().hex[:16].upper()
        _policies(req)[pid] = dict({k: v for k, v in b.items() if v is not None},
                                   policy_id=pid, creator_user_name=who(req), is_default=False,
                                   created_at_timestamp=int(time.time() * 1000),
                                   definition=b.get("definition") or "{}")
    return {"policy_id": pid}


@api("workspace", "POST", P + "/edit")
def edit(req):
    b = body(req, params_of(C.ClusterPoliciesAPI.edit), ("policy_id", "name"))
    _validate(b)
    with STORE.lock:
        p = _get(req, b["policy_id"])
        _name_free(req, b["name"], p["policy_id"])
        # edit replaces the policy's settings (like the real API: fields left out are cleared)
        keep = {k: p[k] for k in ("policy_id", "creator_user_name", "is_default",
                                  "created_at_timestamp")}
        p.clear()
        p.update(keep, **{k: v for k, v in b.items() if v is not None})
        p.setdefault("definition", "{}")
    return {}


@api("workspace", "POST", P + "/delete")
def delete(req):
    b = body(req, params_of(C.ClusterPoliciesAPI.delete), ("policy_id",))
    with STORE.lock:
        _get(req, b["policy_id"])
        del _policies(req)[b["policy_id"]]
    return {}


@api("workspace", "GET", P + "/get")
def get(req):
    with STORE.lock:
        return out(C.Policy, dict(_get(req, req.query.get("policy_id"))))


@api("workspace", "GET", P + "/list")
def list_(req):
    col = req.query.get("sort_column") or "POLICY_CREATION_TIME"
    order = req.query.get("sort_order") or "DESC"
    if col not in [m.value for m in C.ListSortColumn]:
        raise bad(f"Invalid sort_column '{col}'.")
    if order not in [m.value for m in C.ListSortOrder]:
        raise bad(f"Invalid sort_order '{order}'.")
    key = (lambda p: p["name"]) if col == "POLICY_NAME" else \
        (lambda p: (p["created_at_timestamp"], p["policy_id"]))
    with STORE.lock:
        ps = sorted(_policies(req).values(), key=key, reverse=order == "DESC")
        return {"policies": [out(C.Policy, dict(p)) for p in ps]}
