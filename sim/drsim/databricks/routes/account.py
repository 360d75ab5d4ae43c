"""Databricks account API (accounts host, /api/2.0/accounts/{account_id}/...): metastores and
their workspace assignments, workspaces (records from ARM), network connectivity configs with
private endpoint rules, network policies and workspace network options, SCIM service
principals / groups / users, workspace permission assignments."""

import re
import threading
import time
import uuid

from databricks.sdk.service import catalog as C
from databricks.sdk.service import iam as I
from databricks.sdk.service import provisioning as PV
from databricks.sdk.service import settings as ST

from ...errors import DatabricksError
from ...state import SIM
from ..common import (api, bad, body, check_account, check_shape, fields_of, out, page, qbool,
                     qint, who)
from ..ucmodel import UC

A = "/api/2.0/accounts/{account_id}"

MAX_NCC_PER_REGION = 10   # FIDELITY: Azure documents 10 NCCs per region per account
MAX_PE_RULES_PER_NCC = 100
NCC_NAME = re.compile(r"^[0-9a-zA-Z_-]{3,30}$")
STORAGE_GROUP_IDS = {"blob", "dfs", "file", "queue", "table", "web"}
OTHER_GROUP_IDS = {"sqlServer", "mysqlServer", "postgresqlServer", "vault", "sites",
                   "namespace", "registry", "account", "searchService", "managedInstance"}


class Account:
    """Account-level objects other than metastores (those live in ucmodel.UC)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.nccs = {}            # id -> NetworkConnectivityConfiguration dict
        self.rules = {}           # rule id -> rule dict (+ "_conn": ARM connection id)
        self.policies = {}        # id -> AccountNetworkPolicy dict
        self.ws_network = {}      # workspace id (str) -> network_policy_id
        self.sps = {}             # scim id -> ServicePrincipal dict
        self.groups = {}          # scim id -> Group dict
        self.users = {}           # scim id -> User dict
        self.assignments = {}     # (ws id str, principal id str) -> [permissions]
        self.policies["default-policy"] = {
            "network_policy_id": "default-policy", "account_id": SIM.config.account_id,
            "egress": {"network_access": {"restriction_mode": "FULL_ACCESS"}}}


ACCOUNT = Account()


def _reset():
    global ACCOUNT
    ACCOUNT = Account()


UC.on_reset(_reset)


def now_ms():
    return int(time.time() * 1000)


def _ws_record(ws_id):
    rec = SIM.workspaces.get(str(ws_id))
    if rec is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"Workspace {ws_id} does not exist.")
    return rec


def _region(r):
    return str(r or "").lower().replace(" ", "")


def _known_region(r, where):
    """Azure region names the simulator's ARM knows (FIDELITY: the real list is longer)."""
    try:
        from ...arm.engine import REGIONS
    except ImportError:   # pragma: no cover - ARM part absent
        return
    if r and _region(r) not in REGIONS:
        raise bad(f"Invalid {where} '{r}': not an Azure region (e.g. westeurope, "
                  "swedencentral).")


# ---- metastores --------------------------------------------------------------------------------

def _ms_out(m):
    return out(C.MetastoreInfo, m.info())


@api("accounts", "POST", A + "/metastores")
def create_metastore(req):
    check_account(req)
    b = body(req, {"metastore_info"}, ("metastore_info",))
    mi = check_shape(b["metastore_info"], C.CreateAccountsMetastore, "metastore_info.")
    _known_region(mi.get("region"), "metastore_info.region")
    m = UC.create_metastore(mi.get("name"), mi.get("region"), who(req), mi.get("storage_root"))
    if mi.get("external_access_enabled") is not None:
        m = UC.update_metastore(m.metastore_id, by=who(req), external_access_enabled=mi["external_access_enabled"])
    return {"metastore_info": _ms_out(m)}


@api("accounts", "GET", A + "/metastores")
def list_metastores(req):
    check_account(req)
    return {"metastores": [_ms_out(m) for m in UC.list_metastores()]}


@api("accounts", "GET", A + "/metastores/{metastore_id}")
def get_metastore(req):
    check_account(req)
    return {"metastore_info": _ms_out(UC.get_metastore(req.params["metastore_id"]))}


@api("accounts", "PUT", A + "/metastores/{metastore_id}")
def update_metastore(req):
    check_account(req)
    b = body(req, {"metastore_info"}, ("metastore_info",))
    mi = check_shape(b["metastore_info"], C.UpdateAccountsMetastore, "metastore_info.")
    fields = {k: v for k, v in mi.items() if k in (
        "new_name", "owner", "storage_root", "delta_sharing_scope",
        "delta_sharing_organization_name", "delta_sharing_recipient_token_lifetime_in_seconds",
        "external_access_enabled")}
    m = UC.update_metastore(req.params["metastore_id"], by=who(req), **fields)
    return {"metastore_info": _ms_out(m)}


@api("accounts", "DELETE", A + "/metastores/{metastore_id}")
def delete_metastore(req):
    check_account(req)
    mid = req.params["metastore_id"]
    UC.get_metastore(mid)
    for ws in SIM.workspaces.values():
        if ws.get("metastore_id") == mid and qbool(req, "force"):
            ws["metastore_id"] = None
    UC.delete_metastore(mid, force=qbool(req, "force"))
    return {}


@api("accounts", "GET", A + "/metastores/{metastore_id}/workspaces")
def metastore_workspaces(req):
    check_account(req)
    mid = UC.get_metastore(req.params["metastore_id"]).metastore_id
    ids = sorted(ws for ws, (m, _) in UC.assignments.items() if m == mid)
    return out(C.ListAccountMetastoreAssignmentsResponse, {"workspace_ids": ids})


def _assignment_body(req):
    b = body(req, {"metastore_assignment"})
    ma = b.get("metastore_assignment") or {}
    check_shape(ma, C.CreateMetastoreAssignment, "metastore_assignment.")
    if ma.get("metastore_id") and ma["metastore_id"] != req.params["metastore_id"]:
        raise bad("metastore_assignment.metastore_id does not match the metastore id in the path.")
    if ma.get("workspace_id") and str(ma["workspace_id"]) != req.params["workspace_id"]:
        raise bad("metastore_assignment.workspace_id does not match the workspace id in the path.")
    return ma


@api("accounts", "POST", A + "/workspaces/{workspace_id}/metastores/{metastore_id}")
def create_assignment(req):
    check_account(req)
    ma = _assignment_body(req)
    rec = _ws_record(req.params["workspace_id"])
    cur = UC.assignment(int(rec["id"]))
    if cur is not None:
        # FIDELITY: the real API refuses a second assignment; use PUT to change it.
        raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                              f"Workspace {rec['id']} already has metastore {cur[0]} assigned.")
    UC.assign(int(rec["id"]), req.params["metastore_id"], ma.get("default_catalog_name"),
              rec.get("region"))
    rec["metastore_id"] = req.params["metastore_id"]
    return {}


@api("accounts", "PUT", A + "/workspaces/{workspace_id}/metastores/{metastore_id}")
def update_assignment(req):
    check_account(req)
    ma = _assignment_body(req)
    rec = _ws_record(req.params["workspace_id"])
    UC.assign(int(rec["id"]), req.params["metastore_id"], ma.get("default_catalog_name"),
              rec.get("region"))
    rec["metastore_id"] = req.params["metastore_id"]
    return {}


@api("accounts", "DELETE", A + "/workspaces/{workspace_id}/metastores/{metastore_id}")
def delete_assignment(req):
    check_account(req)
    rec = _ws_record(req.params["workspace_id"])
    UC.unassign(int(rec["id"]), req.params["metastore_id"])
    rec["metastore_id"] = None
    return {}


@api("accounts", "GET", A + "/workspaces/{workspace_id}/metastore")
def get_assignment(req):
    check_account(req)
    rec = _ws_record(req.params["workspace_id"])
    a = UC.assignment(int(rec["id"]))
    if a is None:
        raise DatabricksError(404, "NOT_FOUND",
                              f"Workspace {rec['id']} has no metastore assigned.")
    return {"metastore_assignment": out(C.MetastoreAssignment, {
        "workspace_id": int(rec["id"]), "metastore_id": a[0],
        "default_catalog_name": a[1]})}


# ---- workspaces --------------------------------------------------------------------------------

def _ws_out(rec):
    rg = sub = None
    arm = rec.get("arm_id") or ""
    m = re.match(r"(?i)/subscriptions/([^/]+)/resourceGroups/([^/]+)/", arm)
    if m:
        sub, rg = m.group(1), m.group(2)
    d = {"workspace_id": int(rec["id"]), "workspace_name": rec.get("name"),
         "account_id": SIM.config.account_id, "cloud": "azure", "location": rec.get("region"),
         "deployment_name": f"adb-{rec['id']}", "workspace_status": "RUNNING",
         "pricing_tier": rec.get("pricing_tier") or "PREMIUM",
         "creation_time": rec.get("created"),
         "network_connectivity_config_id": rec.get("ncc_id")}
    if sub:
        d["azure_workspace_info"] = {"subscription_id": sub, "resource_group": rg}
    return out(PV.Workspace, d)


@api("accounts", "GET", A + "/workspaces")
def list_workspaces(req):
    check_account(req)
    return [_ws_out(r) for r in sorted(SIM.workspaces.values(), key=lambda r: r["id"])]


@api("accounts", "GET", A + "/workspaces/{workspace_id}")
def get_workspace(req):
    check_account(req)
    return _ws_out(_ws_record(req.params["workspace_id"]))


@api("accounts", "PATCH", A + "/workspaces/{workspace_id}")
def update_workspace(req):
    """Azure: only the NCC binding (network_connectivity_config_id) is updatable here."""
    check_account(req)
    b = body(req, fields_of(PV.Workspace))
    rec = _ws_record(req.params["workspace_id"])
    other = sorted(set(b) - {"network_connectivity_config_id", "workspace_id"})
    if other:
        raise bad(f"Field '{other[0]}' cannot be updated on an Azure workspace through the account "
                  "API (only network_connectivity_config_id).")
    mask = req.query.get("update_mask")
    if mask and set(mask.split(",")) - {"network_connectivity_config_id"}:
        raise bad(f"Invalid update_mask '{mask}'.")
    nid = b.get("network_connectivity_config_id")
    if nid:
        with ACCOUNT.lock:
            ncc = ACCOUNT.nccs.get(nid)
            if ncc is None:
                raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                                      f"Network connectivity config {nid} does not exist.")
            if _region(ncc["region"]) != _region(rec.get("region")):
                raise bad(f"Network connectivity config {nid} is in region {ncc['region']} but "
                          f"workspace {rec['id']} is in {rec.get('region')}.")
    rec["ncc_id"] = nid or None
    return _ws_out(rec)


# ---- network connectivity configs ---------------------------------------------------------------

def _refresh_rule(rule):
    """PENDING until the storage side approves through ARM; then ESTABLISHED (on this read)."""
    conn = rule.get("_conn")
    if not conn or rule.get("deactivated"):
        return
    try:
        st = SIM.arm.private_endpoint_connection_status(conn)
    except KeyError:
        st = "Disconnected"
    state = {"Pending": "PENDING", "Approved": "ESTABLISHED", "Rejected": "REJECTED",
             "Disconnected": "DISCONNECTED"}.get(st, "PENDING")
    if state != rule["connection_state"]:
        rule["connection_state"] = state
        rule["updated_time"] = now_ms()


def _rule_out(rule):
    _refresh_rule(rule)
    return out(ST.NccPrivateEndpointRule, {k: v for k, v in rule.items() if not k.startswith("_")})


def _ncc_out(ncc):
    rules = [r for r in ACCOUNT.rules.values()
             if r["network_connectivity_config_id"] == ncc["network_connectivity_config_id"]]
    d = dict(ncc)
    azr = []
    for r in rules:
        _refresh_rule(r)
        azr.append({k: v for k, v in r.items() if not k.startswith("_") and k in
                    fields_of(ST.NccAzurePrivateEndpointRule)})
    d["egress_config"] = {
        "default_rules": {"azure_service_endpoint_rule": {
            "subnets": [f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                        f"databricks-serverless-{ncc['region']}/providers/Microsoft.Network/"
                        f"virtualNetworks/serverless/subnets/subnet-{i}" for i in (1, 2)],
            "target_region": ncc["region"], "target_services": ["AZURE_BLOB_STORAGE"]}},
        "target_rules": {"azure_private_endpoint_rules": azr}}
    return out(ST.NetworkConnectivityConfiguration, d)


def _ncc(req):
    nid = req.params["ncc_id"]
    ncc = ACCOUNT.nccs.get(nid)
    if ncc is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Network connectivity config {nid} does not exist.")
    return ncc


@api("accounts", "POST", A + "/network-connectivity-configs")
def create_ncc(req):
    check_account(req)
    b = body(req, fields_of(ST.CreateNetworkConnectivityConfiguration), ("name", "region"))
    if not NCC_NAME.match(b["name"]):
        raise bad(f"Invalid name '{b['name']}': 3-30 characters among letters, digits, '-' and "
                  "'_'.")
    _known_region(b["region"], "region")
    region = _region(b["region"])
    with ACCOUNT.lock:
        n = sum(1 for x in ACCOUNT.nccs.values() if x["region"] == region)
        if n >= MAX_NCC_PER_REGION:
            raise bad(f"The account already has {n} network connectivity configs in region "
                      f"{region} (limit {MAX_NCC_PER_REGION}).", "QUOTA_EXCEEDED")
        nid = str(uuid.uuid4())
        t = now_ms()
        ncc = {"network_connectivity_config_id": nid, "account_id": SIM.config.account_id,
               "name": b["name"], "region": region, "creation_time": t, "updated_time": t}
        ACCOUNT.nccs[nid] = ncc
        return _ncc_out(ncc)


@api("accounts", "GET", A + "/network-connectivity-configs")
def list_nccs(req):
    check_account(req)
    with ACCOUNT.lock:
        items, nxt = page(req, sorted(ACCOUNT.nccs.values(), key=lambda n: n["creation_time"]),
                          size_param="__none__")
        d = {"items": [_ncc_out(n) for n in items]}
        if nxt:
            d["next_page_token"] = nxt
        return d


@api("accounts", "GET", A + "/network-connectivity-configs/{ncc_id}")
def get_ncc(req):
    check_account(req)
    with ACCOUNT.lock:
        return _ncc_out(_ncc(req))


@api("accounts", "DELETE", A + "/network-connectivity-configs/{ncc_id}")
def delete_ncc(req):
    check_account(req)
    with ACCOUNT.lock:
        ncc = _ncc(req)
        nid = ncc["network_connectivity_config_id"]
        users = [w["id"] for w in SIM.workspaces.values() if w.get("ncc_id") == nid]
        if users:
            raise bad(f"Network connectivity config {nid} is attached to workspace(s) "
                      f"{', '.join(users)}.")
        del ACCOUNT.nccs[nid]
        for rid in [r for r, v in ACCOUNT.rules.items()
                    if v["network_connectivity_config_id"] == nid]:
            del ACCOUNT.rules[rid]
        return {}


@api("accounts", "POST", A + "/network-connectivity-configs/{ncc_id}/private-endpoint-rules")
def create_pe_rule(req):
    check_account(req)
    b = body(req, fields_of(ST.CreatePrivateEndpointRule), ("resource_id",))
    with ACCOUNT.lock:
        ncc = _ncc(req)
        nid = ncc["network_connectivity_config_id"]
        rid_arm = b["resource_id"]
        m = re.match(r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                     r"([^/]+/[^/]+)/[^/]+$", rid_arm)
        if not m:
            raise bad(f"Invalid resource_id '{rid_arm}': expected an Azure resource id.")
        rtype = m.group(1).lower()
        gid = b.get("group_id")
        if rtype == "microsoft.storage/storageaccounts":
            if gid not in STORAGE_GROUP_IDS:
                raise bad(f"Invalid group_id '{gid}' for a storage account: expected one of "
                          f"{', '.join(sorted(STORAGE_GROUP_IDS))}.")
        elif not gid and not b.get("domain_names"):
            raise bad("group_id is required.")
        elif gid and gid not in OTHER_GROUP_IDS | STORAGE_GROUP_IDS:
            raise bad(f"Invalid group_id '{gid}'.")
        existing = [r for r in ACCOUNT.rules.values()
                    if r["network_connectivity_config_id"] == nid and not r.get("deactivated")]
        for r in existing:
            if r["resource_id"].lower() == rid_arm.lower() and r.get("group_id") == gid:
                raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                                      f"A private endpoint rule for {rid_arm} ({gid}) already "
                                      f"exists in {nid}: {r['rule_id']}.")
        if len(existing) >= MAX_PE_RULES_PER_NCC:
            raise bad("Too many private endpoint rules in this network connectivity config.",
                      "QUOTA_EXCEEDED")
        rule_id = str(uuid.uuid4())
        pe_name = f"databricks-{nid[:8]}-pe-{rule_id[:8]}"
        conn = None
        if rtype == "microsoft.storage/storageaccounts":
            try:
                conn = SIM.arm.add_private_endpoint_connection(rid_arm, gid, pe_name)
            except KeyError:
                raise bad(f"Resource {rid_arm} does not exist or is not accessible.",
                          "RESOURCE_DOES_NOT_EXIST") from None
        t = now_ms()
        rule = {"rule_id": rule_id, "network_connectivity_config_id": nid,
                "account_id": SIM.config.account_id, "resource_id": rid_arm, "group_id": gid,
                "endpoint_name": pe_name, "connection_state": "PENDING" if conn else "CREATING",
                "creation_time": t, "updated_time": t, "deactivated": False, "_conn": conn}
        if b.get("domain_names"):
            rule["domain_names"] = list(b["domain_names"])
        ACCOUNT.rules[rule_id] = rule
        ncc["updated_time"] = t
        return _rule_out(rule)


@api("accounts", "GET", A + "/network-connectivity-configs/{ncc_id}/private-endpoint-rules")
def list_pe_rules(req):
    check_account(req)
    with ACCOUNT.lock:
        nid = _ncc(req)["network_connectivity_config_id"]
        rules = sorted((r for r in ACCOUNT.rules.values()
                        if r["network_connectivity_config_id"] == nid),
                       key=lambda r: r["creation_time"])
        items, nxt = page(req, rules, size_param="__none__")
        d = {"items": [_rule_out(r) for r in items]}
        if nxt:
            d["next_page_token"] = nxt
        return d


def _rule(req):
    nid = _ncc(req)["network_connectivity_config_id"]
    r = ACCOUNT.rules.get(req.params["rule_id"])
    if r is None or r["network_connectivity_config_id"] != nid:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Private endpoint rule {req.params['rule_id']} does not exist.")
    return r


R = A + "/network-connectivity-configs/{ncc_id}/private-endpoint-rules/{rule_id}"


@api("accounts", "GET", R)
def get_pe_rule(req):
    check_account(req)
    with ACCOUNT.lock:
        return _rule_out(_rule(req))


@api("accounts", "PATCH", R)
def update_pe_rule(req):
    check_account(req)
    b = body(req, fields_of(ST.UpdatePrivateEndpointRule) if hasattr(ST, "UpdatePrivateEndpointRule")
             else {"domain_names", "enabled", "resource_names"})
    with ACCOUNT.lock:
        r = _rule(req)
        if "domain_names" in b:
            r["domain_names"] = list(b["domain_names"] or [])
        r["updated_time"] = now_ms()
        return _rule_out(r)


@api("accounts", "DELETE", R)
def delete_pe_rule(req):
    """FIDELITY: like the real one, the rule is deactivated (kept, deactivated=true) rather than
    removed at once."""
    check_account(req)
    with ACCOUNT.lock:
        r = _rule(req)
        r["deactivated"] = True
        r["deactivated_at"] = now_ms()
        r["connection_state"] = "DISCONNECTED"
        return _rule_out(r)


# ---- network policies (serverless egress) --------------------------------------------------------

def _policy(req):
    p = ACCOUNT.policies.get(req.params["policy_id"])
    if p is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Network policy {req.params['policy_id']} does not exist.")
    return p


def _policy_body(req):
    b = body(req, {"network_policy"} | fields_of(ST.AccountNetworkPolicy))
    # the SDK sends the policy object itself as the body
    np_ = b.get("network_policy", b)
    check_shape(np_, ST.AccountNetworkPolicy)
    na = ((np_.get("egress") or {}).get("network_access") or {})
    if na and not na.get("restriction_mode"):
        raise bad("Missing required field: egress.network_access.restriction_mode")
    return np_


@api("accounts", "POST", A + "/network-policies")
def create_policy(req):
    check_account(req)
    np_ = _policy_body(req)
    with ACCOUNT.lock:
        pid = np_.get("network_policy_id") or str(uuid.uuid4())
        if pid in ACCOUNT.policies:
            raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                                  f"Network policy {pid} already exists.")
        p = dict(np_, network_policy_id=pid, account_id=SIM.config.account_id)
        ACCOUNT.policies[pid] = p
        return out(ST.AccountNetworkPolicy, p)


@api("accounts", "GET", A + "/network-policies")
def list_policies(req):
    check_account(req)
    with ACCOUNT.lock:
        items, nxt = page(req, sorted(ACCOUNT.policies.values(),
                                      key=lambda p: p["network_policy_id"]),
                          size_param="__none__")
        d = {"items": [out(ST.AccountNetworkPolicy, p) for p in items]}
        if nxt:
            d["next_page_token"] = nxt
        return d


@api("accounts", "GET", A + "/network-policies/{policy_id}")
def get_policy(req):
    check_account(req)
    with ACCOUNT.lock:
        return out(ST.AccountNetworkPolicy, _policy(req))


@api("accounts", "PUT", A + "/network-policies/{policy_id}")
def update_policy(req):
    check_account(req)
    np_ = _policy_body(req)
    with ACCOUNT.lock:
        p = _policy(req)
        new = dict(np_, network_policy_id=p["network_policy_id"], account_id=SIM.config.account_id)
        ACCOUNT.policies[p["network_policy_id"]] = new
        return out(ST.AccountNetworkPolicy, new)


@api("accounts", "DELETE", A + "/network-policies/{policy_id}")
def delete_policy(req):
    check_account(req)
    with ACCOUNT.lock:
        p = _policy(req)
        if p["network_policy_id"] == "default-policy":
            raise bad("The default network policy cannot be deleted.")
        users = [w for w, pid in ACCOUNT.ws_network.items() if pid == p["network_policy_id"]]
        if users:
            raise bad(f"Network policy {p['network_policy_id']} is used by workspace(s) "
                      f"{', '.join(users)}.")
        del ACCOUNT.policies[p["network_policy_id"]]
        return {}


@api("accounts", "GET", A + "/workspaces/{workspace_id}/network")
def get_ws_network(req):
    check_account(req)
    rec = _ws_record(req.params["workspace_id"])
    return out(ST.WorkspaceNetworkOption, {
        "workspace_id": int(rec["id"]),
        "network_policy_id": ACCOUNT.ws_network.get(rec["id"], "default-policy")})


@api("accounts", "PUT", A + "/workspaces/{workspace_id}/network")
def put_ws_network(req):
    check_account(req)
    b = body(req, {"workspace_network_option"} | fields_of(ST.WorkspaceNetworkOption))
    opt = b.get("workspace_network_option", b)
    check_shape(opt, ST.WorkspaceNetworkOption)
    rec = _ws_record(req.params["workspace_id"])
    pid = opt.get("network_policy_id")
    if not pid:
        raise bad("Missing required field: network_policy_id")
    with ACCOUNT.lock:
        if pid not in ACCOUNT.policies:
            raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                                  f"Network policy {pid} does not exist.")
        ACCOUNT.ws_network[rec["id"]] = pid
    rec["network_policy_id"] = pid
    return out(ST.WorkspaceNetworkOption, {"workspace_id": int(rec["id"]),
                                           "network_policy_id": pid})


# ---- SCIM (account) ----------------------------------------------------------------------------

SCIM = A + "/scim/v2"
SP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

SCIM_KINDS = {
    "ServicePrincipals": ("sps", I.ServicePrincipal, SP_SCHEMA),
    "Groups": ("groups", I.Group, GROUP_SCHEMA),
    "Users": ("users", I.User, USER_SCHEMA),
}


def _scim_id():
    return str(uuid.uuid4().int)[:16]


def _scim_filter(items, flt):
    """Supports `attr eq "value"` (and `co`, `sw`) filters, as clients use them."""
    if not flt:
        return items
    m = re.match(r'^\s*(\w+)\s+(eq|co|sw)\s+"([^"]*)"\s*$', flt)
    if not m:
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE", f"Unsupported filter '{flt}'.")
    attr, op, val = m.groups()
    keymap = {"displayName": "displayName", "applicationId": "applicationId",
              "userName": "userName", "id": "id", "externalId": "externalId"}
    key = keymap.get(attr)
    if key is None:
        raise DatabricksError(400, "INVALID_PARAMETER_VALUE", f"Unsupported filter attribute "
                              f"'{attr}'.")
    res = []
    for it in items:
        v = str(it.get(key) or "")
        if (op == "eq" and v.lower() == val.lower()) or (op == "co" and val.lower() in v.lower()) \
                or (op == "sw" and v.lower().startswith(val.lower())):
            res.append(it)
    return res


# SCIM bodies use camelCase; check against the SDK fields (snake_case) via their JSON names.
def _scim_allowed(cls):
    names = set()
    for f in fields_of(cls):
        parts = f.split("_")
        names.add(parts[0] + "".join(p.capitalize() for p in parts[1:]))
    return names | {"schemas"}


def _make_scim_routes(kind):
    attr, cls, schema = SCIM_KINDS[kind]
    allowed = _scim_allowed(cls)

    def store():
        return getattr(ACCOUNT, attr)

    def validate(b):
        unknown = sorted(set(b) - allowed)
        if unknown:
            raise bad(f"Invalid field '{unknown[0]}' in request. Expected one of: "
                      f"{', '.join(sorted(allowed))}.")

    def get_one(req):
        it = store().get(req.params["id"])
        if it is None:
            raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                                  f"{kind[:-1]} {req.params['id']} does not exist.")
        return it

    @api("accounts", "POST", SCIM + "/" + kind)
    def create(req):
        check_account(req)
        b = body(req, allowed)
        validate(b)
        with ACCOUNT.lock:
            if kind == "ServicePrincipals":
                if not b.get("applicationId"):
                    b["applicationId"] = str(uuid.uuid4())
                for x in store().values():
                    if x.get("applicationId") == b["applicationId"]:
                        raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                                              f"Service principal with application id "
                                              f"{b['applicationId']} already exists.")
            elif kind == "Groups":
                if not b.get("displayName"):
                    raise bad("Missing required field: displayName")
                for x in store().values():
                    if x.get("displayName") == b["displayName"]:
                        raise DatabricksError(409, "RESOURCE_ALREADY_EXISTS",
                                              f"Group with name {b['displayName']} already "
                                              "exists.")
            else:
                if not b.get("userName"):
                    raise bad("Missing required field: userName")
            it = dict(b, id=_scim_id(), schemas=[schema])
            if kind != "Groups":
                it.setdefault("active", True)
            if kind == "ServicePrincipals":
                it.setdefault("displayName", it["applicationId"])
            store()[it["id"]] = it
            return 201, it

    @api("accounts", "GET", SCIM + "/" + kind)
    def list_(req):
        check_account(req)
        with ACCOUNT.lock:
            items = _scim_filter(sorted(store().values(), key=lambda x: x["id"]),
                                 req.query.get("filter"))
            start = max(qint(req, "startIndex", 1), 1)
            count = qint(req, "count", 100)
            chunk = items[start - 1:start - 1 + count]
            return {"schemas": [LIST_SCHEMA], "totalResults": len(items), "startIndex": start,
                    "itemsPerPage": len(chunk), "Resources": chunk}

    @api("accounts", "GET", SCIM + "/" + kind + "/{id}")
    def get(req):
        check_account(req)
        with ACCOUNT.lock:
            return get_one(req)

    @api("accounts", "PUT", SCIM + "/" + kind + "/{id}")
    def put(req):
        check_account(req)
        b = body(req, allowed)
        validate(b)
        with ACCOUNT.lock:
            it = get_one(req)
            new = dict(b, id=it["id"], schemas=[schema])
            store()[it["id"]] = new
            return new

    @api("accounts", "PATCH", SCIM + "/" + kind + "/{id}")
    def patch(req):
        check_account(req)
        b = body(req, {"schemas", "Operations"}, ("Operations",))
        with ACCOUNT.lock:
            it = get_one(req)
            for i, op in enumerate(b["Operations"]):
                o = str(op.get("op", "")).lower()
                path = op.get("path")
                val = op.get("value")
                if o not in ("add", "remove", "replace"):
                    raise bad(f"Operations[{i}].op: expected add, remove or replace.")
                if path in ("members", "entitlements", "roles", "groups"):
                    cur = it.setdefault(path, [])
                    if o == "add":
                        for v in val or []:
                            if v not in cur:
                                cur.append(v)
                    elif o == "replace":
                        it[path] = list(val or [])
                    else:
                        vals = {v.get("value") for v in (val or [])}
                        it[path] = [v for v in cur if v.get("value") not in vals] if vals else []
                elif path is None and isinstance(val, dict):
                    validate(val)
                    it.update(val)
                elif path in allowed:
                    if o == "remove":
                        it.pop(path, None)
                    else:
                        it[path] = val
                else:
                    raise bad(f"Operations[{i}].path: unsupported path '{path}'.")
            return it

    @api("accounts", "DELETE", SCIM + "/" + kind + "/{id}")
    def delete(req):
        check_account(req)
        with ACCOUNT.lock:
            it = get_one(req)
            del store()[it["id"]]
            return {}


for _k in SCIM_KINDS:
    _make_scim_routes(_k)


# ---- workspace permission assignments ----------------------------------------------------------

def _principal(pid):
    pid = str(pid)
    if pid in ACCOUNT.sps:
        sp = ACCOUNT.sps[pid]
        return {"principal_id": int(pid), "display_name": sp.get("displayName"),
                "service_principal_name": sp.get("applicationId")}
    if pid in ACCOUNT.groups:
        g = ACCOUNT.groups[pid]
        return {"principal_id": int(pid), "display_name": g.get("displayName"),
                "group_name": g.get("displayName")}
    if pid in ACCOUNT.users:
        u = ACCOUNT.users[pid]
        return {"principal_id": int(pid), "display_name": u.get("displayName"),
                "user_name": u.get("userName")}
    raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST", f"Principal {pid} does not exist.")


PA = A + "/workspaces/{workspace_id}/permissionassignments"


@api("accounts", "PUT", PA + "/principals/{principal_id}")
def put_assignment(req):
    check_account(req)
    b = body(req, {"permissions"}, ("permissions",))
    rec = _ws_record(req.params["workspace_id"])
    perms = b["permissions"]
    if not isinstance(perms, list) or not perms or \
            any(p not in ("USER", "ADMIN") for p in perms):
        raise bad("permissions: expected a non-empty array of USER and/or ADMIN.")
    with ACCOUNT.lock:
        pr = _principal(req.params["principal_id"])
        ACCOUNT.assignments[(rec["id"], str(req.params["principal_id"]))] = list(perms)
        return out(I.PermissionAssignment, {"principal": pr, "permissions": list(perms)})


@api("accounts", "GET", PA)
def list_assignments(req):
    check_account(req)
    rec = _ws_record(req.params["workspace_id"])
    with ACCOUNT.lock:
        res = []
        for (ws, pid), perms in sorted(ACCOUNT.assignments.items()):
            if ws == rec["id"]:
                try:
                    res.append(out(I.PermissionAssignment,
                                   {"principal": _principal(pid), "permissions": perms}))
                except DatabricksError:
                    continue
        return {"permission_assignments": res}


@api("accounts", "DELETE", PA + "/principals/{principal_id}")
def delete_assignment_pa(req):
    check_account(req)
    rec = _ws_record(req.params["workspace_id"])
    with ACCOUNT.lock:
        if ACCOUNT.assignments.pop((rec["id"], str(req.params["principal_id"])), None) is None:
            raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                                  f"Principal {req.params['principal_id']} has no assignment "
                                  f"on workspace {rec['id']}.")
        return {}


# ---- SCIM at workspace level (identity federation: the account's principals) ----------------------

WSCIM = "/api/2.0/preview/scim/v2"


def _make_ws_scim_routes(kind):
    attr = SCIM_KINDS[kind][0]

    @api("workspace", "GET", WSCIM + "/" + kind)
    def ws_list(req):
        """FIDELITY: every account principal is visible in every workspace."""
        with ACCOUNT.lock:
            items = _scim_filter(sorted(getattr(ACCOUNT, attr).values(), key=lambda x: x["id"]),
                                 req.query.get("filter"))
            return {"schemas": [LIST_SCHEMA], "totalResults": len(items), "startIndex": 1,
                    "itemsPerPage": len(items), "Resources": items}

    @api("workspace", "GET", WSCIM + "/" + kind + "/{id}")
    def ws_get(req):
        with ACCOUNT.lock:
            it = getattr(ACCOUNT, attr).get(req.params["id"])
            if it is None:
                raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                                      f"{kind[:-1]} {req.params['id']} does not exist.")
            return it


for _k in SCIM_KINDS:
    _make_ws_scim_routes(_k)
