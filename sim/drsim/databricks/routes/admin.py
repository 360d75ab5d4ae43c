"""Admin helpers for tests and demos (admin host): pre-seed metastores and assignments without
going through the account API."""

from ...errors import DatabricksError
from ...http import route
from ...state import SIM
from ..common import to_dbx_error
from ..ucmodel import UC, UCError


@route("admin", "POST", "/dbx/metastores")
def seed_metastore(req):
    """{name, region, storage_root?, metastore_id?, owner?, workspace_ids?: [...]} -> MetastoreInfo."""
    b = req.json or {}
    try:
        m = UC.create_metastore(b.get("name"), b.get("region"), b.get("owner") or "admin",
                                b.get("storage_root"), b.get("metastore_id"))
        for ws in b.get("workspace_ids") or []:
            rec = SIM.workspaces.get(str(ws))
            if rec is None:
                raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"Workspace {ws} does not exist.")
            UC.assign(int(ws), m.metastore_id, None, rec.get("region"))
            rec["metastore_id"] = m.metastore_id
    except UCError as e:
        raise to_dbx_error(e) from None
    return m.info()


@route("admin", "GET", "/dbx/metastores")
def list_seeded(req):
    return {"metastores": [m.info() for m in UC.list_metastores()],
            "assignments": {str(ws): a[0] for ws, a in UC.assignments.items()}}


def dump_state():
    """JSON-able snapshot of the Databricks side (for --state-dir inspection)."""
    from . import account
    from .. import jobs, policies, warehouses, wsobjects

    def sec(o):
        d = {"owner": o.owner}
        if o.grants:
            d["grants"] = {p: sorted(v) for p, v in o.grants.items()}
        if o.tags:
            d["tags"] = dict(o.tags)
        return d

    with UC.lock:
        out = {"assignments": {str(ws): {"metastore_id": a[0], "default_catalog_name": a[1]}
                               for ws, a in UC.assignments.items()}, "metastores": {}}
        for m in UC.list_metastores():
            md = dict(m.info(), **sec(m), catalogs={}, storage_credentials={},
                      external_locations={}, shares={}, recipients={}, providers={})
            for c in m.catalogs.values():
                cd = dict(c.info(), **sec(c), bindings={str(k): v for k, v in c.bindings.items()},
                          schemas={})
                for s in c.schemas.values():
                    sd = dict(s.info(), **sec(s), tables={}, volumes={}, functions={})
                    for t in s.tables.values():
                        td = dict(t.info(), **sec(t), history=t.history,
                                  data_ref=str(t.data_ref) if t.data_ref is not None else None)
                        td["column_tags"] = {c_.name: c_.tags for c_ in t.columns if c_.tags}
                        sd["tables"][t.name] = td
                    for v in s.volumes.values():
                        sd["volumes"][v.name] = dict(v.info(), **sec(v))
                    for f in s.functions.values():
                        sd["functions"][f.name] = dict(f.info(), **sec(f))
                    cd["schemas"][s.name] = sd
                md["catalogs"][c.name] = cd
            for k, attr in (("storage_credentials", "storage_credentials"),
                            ("external_locations", "external_locations"),
                            ("recipients", "recipients"), ("providers", "providers")):
                for n, o in getattr(m, attr).items():
                    md[k][n] = dict(o.info(), **sec(o))
            for n, s in m.shares.items():
                md["shares"][n] = dict(s.info(), **sec(s))
            out["metastores"][m.metastore_id] = md
    acc = account.ACCOUNT
    with acc.lock:
        out["account"] = {
            "nccs": acc.nccs,
            "private_endpoint_rules": {k: {a: b for a, b in v.items()} for k, v in acc.rules.items()},
            "network_policies": acc.policies, "workspace_network": acc.ws_network,
            "service_principals": acc.sps, "groups": acc.groups, "users": acc.users,
            "permission_assignments": {f"{ws}/{p}": v for (ws, p), v in acc.assignments.items()}}
    out["warehouses"] = warehouses.STORE.by_ws
    out["cluster_policies"] = policies.STORE.by_ws
    with jobs.STORE.lock:
        out["jobs"] = {ws: {str(k): {a: b for a, b in v.items() if not a.startswith("_")}
                            for k, v in js.items()} for ws, js in jobs.STORE.jobs.items()}
    with wsobjects.STORE.lock:
        out["secret_scopes"] = {ws: sorted(s) for ws, s in wsobjects.STORE.scopes.items()}
        out["workspace_objects"] = {ws: sorted(o) for ws, o in wsobjects.STORE.objects.items()}
    return out


class _Snapshot:
    """Registered with SIM so that --state-dir writes the Databricks side into state.json.
    FIDELITY/limitation: dump only -- a restarted simulator does not reload it.

    SIM.save() calls dump() while holding SIM.lock, and Databricks handlers may hold their own
    locks while they call into SIM (ARM lookups): to never deadlock, dump() only waits briefly for
    our locks and otherwise returns the previous snapshot (the next change writes a fresh one)."""

    def __init__(self):
        self.last = {}

    def dump(self):
        from . import account
        from .. import jobs, policies, warehouses, wsobjects
        locks = [UC.lock, account.ACCOUNT.lock, warehouses.STORE.lock, jobs.STORE.lock,
                 wsobjects.STORE.lock, policies.STORE.lock]
        taken = []
        try:
            for lk in locks:
                if not lk.acquire(timeout=0.5):
                    return self.last
                taken.append(lk)
            self.last = dump_state()
            return self.last
        finally:
            for lk in reversed(taken):
                lk.release()


SIM.register_component("databricks", _Snapshot)


@route("admin", "GET", "/dbx/state")
def get_state(req):
    return dump_state()
