"""Generic ARM semantics: api-version checks, contract checks, parents, LROs, GET/PUT/PATCH/DELETE,
collections, resource groups. Per-type behaviour lives in drsim/arm/types.py (TYPES)."""
import copy
import datetime
import time
import uuid

from ..errors import ArmError
from ..faults import FAULTS
from ..state import SIM, new_guid
from . import contract
from .ids import parse
from .store import norm

RG_VERSIONS = ("2019-10-01", "2020-06-01", "2021-01-01", "2021-04-01", "2022-09-01", "2023-07-01",
               "2024-03-01", "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01", "2025-04-01")
# Azure regions the simulator knows (lower-case names, as ARM normalises them).
REGIONS = ("eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus",
           "southcentralus", "westcentralus", "canadacentral", "canadaeast", "brazilsouth", "northeurope",
           "westeurope", "uksouth", "ukwest", "francecentral", "germanywestcentral", "switzerlandnorth",
           "norwayeast", "swedencentral", "italynorth", "polandcentral", "spaincentral", "uaenorth",
           "southafricanorth", "australiaeast", "australiasoutheast", "centralindia", "southindia",
           "japaneast", "japanwest", "koreacentral", "eastasia", "southeastasia")
PAIRED = {"eastus": "westus", "eastus2": "centralus", "westus": "eastus", "westus2": "westcentralus",
          "centralus": "eastus2", "northeurope": "westeurope", "westeurope": "northeurope",
          "uksouth": "ukwest", "ukwest": "uksouth", "francecentral": "francesouth",
          "germanywestcentral": "germanynorth", "swedencentral": "swedensouth",
          "australiaeast": "australiasoutheast", "japaneast": "japanwest", "southeastasia": "eastasia"}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def arm_url(path, api_version=None):
    q = f"?api-version={api_version}" if api_version else ""
    return SIM.config.url("management", path + q)


# ---- operations (LROs) ------------------------------------------------------------------------
class Operation:
    def __init__(self, kind, resource_id, namespace, location, polls, on_done, api_version):
        self.id = str(uuid.uuid4())
        self.kind = kind                      # "put" | "delete" | "patch" | "action"
        self.resource_id = resource_id
        self.namespace = namespace
        self.location = (location or "global").lower().replace(" ", "")
        self.polls_left = polls
        self.on_done = on_done                # callable() -> None, may raise ArmError (-> Failed)
        self.api_version = api_version
        self.status = "InProgress"
        self.error = None
        self.start = now_iso()
        self.end = None
        # FIDELITY: besides polls, an operation also completes by wall time (as the real service
        # finishes its work whether or not anyone polls): a client killed mid-operation finds it done.
        self.deadline = time.monotonic() + SIM.config.lro_max_seconds + 0.5 * max(0, polls - SIM.config.lro_polls)

    def status_path(self):
        return (f"/subscriptions/{SIM.config.subscription_id}/providers/{self.namespace}/locations/"
                f"{self.location}/operationStatuses/{self.id}")

    def result_path(self):
        return (f"/subscriptions/{SIM.config.subscription_id}/providers/{self.namespace}/locations/"
                f"{self.location}/operationResults/{self.id}")

    def advance(self):
        """One poll. Completes the operation when no polls are left."""
        if self.status != "InProgress":
            return
        if self.polls_left > 0:
            self.polls_left -= 1
            return
        try:
            self.on_done()
            self.status = "Succeeded"
        except ArmError as e:
            self.status = "Failed"
            self.error = e.body()["error"]
        self.end = now_iso()


def start_operation(kind, resource_id, namespace, location, on_done, api_version, method, path):
    polls = SIM.config.lro_polls + FAULTS.lro_extra_polls("management", method, path)
    fail = FAULTS.lro_failure("management", method, path)
    if fail is not None:
        code, message = fail

        def on_done():
            with SIM.lock:
                r = SIM.arm.get(resource_id) if resource_id else None
                if r is not None and kind != "delete":
                    if isinstance(r.get("properties"), dict):
                        r["properties"]["provisioningState"] = "Failed"
                    else:
                        r["provisioningState"] = "Failed"
            raise ArmError(500, code, message)
    op = Operation(kind, resource_id, namespace, location, polls, on_done, api_version)
    with SIM.lock:
        SIM.arm.operations[op.id] = op
        if resource_id:
            SIM.arm.meta.setdefault(norm(resource_id), {})["busy_op"] = op.id
    if polls == 0:
        advance_op(op)
    return op


def advance_op(op):
    with SIM.lock:
        op.advance()
        if op.status != "InProgress" and op.resource_id:
            m = SIM.arm.meta.get(norm(op.resource_id))
            if m and m.get("busy_op") == op.id:
                m.pop("busy_op", None)


def busy_op(resource_id):
    with SIM.lock:
        m = SIM.arm.meta.get(norm(resource_id)) or {}
        op_id = m.get("busy_op")
        op = SIM.arm.operations.get(op_id) if op_id else None
        if op is not None and op.status == "InProgress" and time.monotonic() > op.deadline:
            op.polls_left = 0
            advance_op(op)
        return op if op and op.status == "InProgress" else None


def settle(resource_id):
    # FIDELITY: LROs advance per poll (SIM.config.lro_polls polls in progress, then done), not by time,
    # so tests are fast and deterministic; real ARM advances by wall time.
    """A GET on a resource counts as a poll of its running operation (clients that poll the
    resource's provisioningState instead of the operation still see it finish)."""
    op = busy_op(resource_id)
    if op is not None:
        advance_op(op)


def lro_headers(op, api_version, location_header=False):
    ra = str(SIM.config.retry_after)
    h = {"Azure-AsyncOperation": arm_url(op.status_path(), api_version), "Retry-After": ra}
    if location_header:
        h["Location"] = arm_url(op.result_path(), api_version)
    return h


def operation_status(op_id, result=False):
    with SIM.lock:
        op = SIM.arm.operations.get(op_id)
    if op is None:
        raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
    if op.status == "InProgress" and time.monotonic() > op.deadline:
        op.polls_left = 0
    advance_op(op)
    if result:
        if op.status == "InProgress":
            return 202, None, {"Location": arm_url(op.result_path(), op.api_version),
                               "Retry-After": str(SIM.config.retry_after)}
        if op.status == "Failed":
            return 400, {"error": op.error}, {}
        return (204, None, {}) if op.kind == "delete" else (200, SIM.arm.get(op.resource_id), {})
    body = {"id": op.status_path(), "name": op.id, "status": op.status, "startTime": op.start}
    if op.end:
        body["endTime"] = op.end
    if op.error:
        body["error"] = op.error
    # ARM repeats Retry-After on the status of a running operation; pollers (azure-core's among
    # them) take their next wait from the latest response, not from the first one.
    return 200, body, ({"Retry-After": str(SIM.config.retry_after)} if op.status == "InProgress" else {})


# ---- helpers -----------------------------------------------------------------------------------
def check_api_version(req, spec_versions, type_name, location=None):
    v = req.query.get("api-version")
    if not v:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    if v not in spec_versions:
        if type_name == "Microsoft.Resources/resourceGroups":
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{v}' is invalid. The supported versions are "
                           f"'{','.join(reversed(spec_versions))}'.")
        ns, _, t = type_name.partition("/")
        raise ArmError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for location '{location or 'global'}' and API "
                       f"version '{v}' for type '{t}'. The supported api-versions are "
                       f"'{', '.join(spec_versions)}'. The supported locations are '{', '.join(REGIONS)}'.")
    return v


def check_subscription(rid):
    if rid.subscription is None or rid.subscription.lower() != SIM.config.subscription_id:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{rid.subscription}' could not be found.")


def check_rg(rid):
    if rid.resource_group is None:
        return None
    rg = SIM.arm.get(rid.rg_id)
    if rg is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rid.resource_group}' could not be found.")
    return rg


def check_location(loc, type_name, allow_global=False):
    if loc is None:
        return None
    n = loc.lower().replace(" ", "")
    if n == "global" and allow_global:
        return "global"
    if n not in REGIONS:
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The provided location '{loc}' is not available for resource type '{type_name}'. List of "
                       f"available regions for the resource type is '{','.join(REGIONS)}'.")
    return n


def not_found(rid):
    if rid.kind == "resourceGroup":
        return ArmError(404, "ResourceGroupNotFound", f"Resource group '{rid.resource_group}' could not be found.")
    if rid.parent:
        return ArmError(404, "NotFound" if rid.namespace.lower() == "microsoft.network" else "ResourceNotFound",
                        f"Resource '{rid.id}' not found.")
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{rid.type}/{rid.name}' under resource group '{rid.resource_group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def ref_exists(ref_id, want_type=None):
    """The resource a body refers to, or None."""
    if not isinstance(ref_id, str) or not ref_id.startswith("/"):
        return None
    r = SIM.arm.get(ref_id)
    if r is None:
        return None
    if want_type and r.get("type", "").lower() != want_type.lower():
        return None
    return r


def invalid_reference(ref_id, by_id):
    return ArmError(400, "InvalidResourceReference",
                    f"Resource {ref_id} referenced by resource {by_id} was not found. Please make sure that the "
                    "referenced resource exists, and that both resources are in the same region.")


def deep_merge(base, patch):
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def etag():
    return f'W/"{new_guid()}"'


def system_data(principal):
    t = now_iso()
    who = (principal or {}).get("appid") or (principal or {}).get("oid") or "unknown"
    return {"createdBy": who, "createdByType": "Application", "createdAt": t,
            "lastModifiedBy": who, "lastModifiedByType": "Application", "lastModifiedAt": t}


# ---- resource groups ---------------------------------------------------------------------------
def rg_put(req, rid):
    check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resourceGroups")
    check_subscription(rid)
    body = req.json
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "'a JSON object is expected'.")
    model = contract.load_model("azure.mgmt.resource.resources.models", "ResourceGroup")
    clean = contract.check(model, body)
    loc = check_location(clean.get("location"), "resourceGroups")
    with SIM.lock:
        existing = SIM.arm.get(rid.id)
        if existing is not None and existing["location"] != loc:
            raise ArmError(409, "InvalidResourceGroupLocation",
                           f"Invalid resource group location '{loc}'. The Resource group already exists in location "
                           f"'{existing['location']}'.")
        name = existing["name"] if existing else rid.resource_group
        res = {"id": f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/{name}", "name": name,
               "type": "Microsoft.Resources/resourceGroups", "location": loc,
               "properties": {"provisioningState": "Succeeded"}}
        if clean.get("tags") is not None:
            res["tags"] = clean["tags"]
        if clean.get("managedBy"):
            res["managedBy"] = clean["managedBy"]
        elif existing and existing.get("managedBy"):
            res["managedBy"] = existing["managedBy"]
        SIM.arm.put(res["id"], res)
    return (200 if existing else 201), res


def rg_delete(req, rid):
    check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resourceGroups")
    check_subscription(rid)
    rg = SIM.arm.get(rid.id)
    if rg is None:
        raise not_found(rid)
    if rg.get("managedBy") and SIM.arm.get(rg["managedBy"]) is not None:
        # FIDELITY: a workspace's managed resource group carries a deny assignment.
        raise ArmError(403, "DenyAssignmentAuthorizationFailed",
                       f"The resource group '{rg['name']}' is managed by '{rg['managedBy']}' and cannot be deleted "
                       "directly; delete the managing resource.")
    rg["properties"]["provisioningState"] = "Deleting"

    def done():
        delete_tree(rg["id"])

    op = start_operation("delete", rg["id"], "Microsoft.Resources", "global", done, req.query["api-version"],
                         req.method, req.path)
    return 202, None, {"Location": arm_url(op.result_path(), req.query["api-version"]),
                       "Retry-After": str(SIM.config.retry_after)}


def delete_tree(resource_id):
    """Delete a resource, its children, and run type hooks for each (workspaces unregister...)."""
    from .types import TYPES
    with SIM.lock:
        prefix = norm(resource_id)
        doomed = [r for k, r in SIM.arm.resources.items() if k == prefix or k.startswith(prefix + "/")]
        for r in doomed:
            spec = TYPES.get((r.get("type") or "").lower())
            if spec and spec.on_delete:
                spec.on_delete(r)
        SIM.arm.delete(resource_id)
        # managed resource groups go with their owner
        for r in list(SIM.arm.resources.values()):
            if r.get("type") == "Microsoft.Resources/resourceGroups" and r.get("managedBy") and \
                    norm(r["managedBy"]).startswith(prefix) and SIM.arm.get(r["managedBy"]) is None:
                delete_tree(r["id"])


def rg_list(req, rid):
    check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resourceGroups")
    check_subscription(rid)
    with SIM.lock:
        items = [r for r in SIM.arm.all() if r.get("type") == "Microsoft.Resources/resourceGroups"]
    return page(req, items)


def rg_resources(req, rid):
    """GET .../resourceGroups/{rg}/resources and /subscriptions/{s}/resources (generic listing,
    $filter=resourceType eq '...' supported)."""
    if not req.query.get("api-version"):
        check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resources")
    check_subscription(rid)
    if rid.kind == "subResources":
        with SIM.lock:
            items = [{k: r.get(k) for k in ("id", "name", "type", "location", "tags", "managedBy") if r.get(k) is not None}
                     for kk, r in SIM.arm.resources.items() if "/providers/" in kk and
                     kk.split("/providers/", 1)[1].count("/") == 2 and kk.count("/providers/") == 1]
        return page(req, _filter_type(req, items))
    check_rg(rid)
    prefix = norm(rid.rg_id) + "/providers/"
    with SIM.lock:
        items = [{k: r.get(k) for k in ("id", "name", "type", "location", "tags", "managedBy") if r.get(k) is not None}
                 for kk, r in SIM.arm.resources.items() if kk.startswith(prefix)
                 and kk[len(prefix):].count("/") == 2]
    return page(req, _filter_type(req, items))


def _filter_type(req, items):
    flt = req.query.get("$filter") or ""
    if "resourcetype eq" in flt.lower():
        i = flt.lower().index("resourcetype eq") + len("resourcetype eq")
        want = flt[i:].strip().split(" ")[0].strip("'").lower()
        items = [x for x in items if x["type"].lower() == want]
    return items


# ---- generic resources -------------------------------------------------------------------------
def get_spec(rid, req=None):
    from .types import TYPES
    spec = TYPES.get(rid.type_key)
    if spec is None:
        ns = rid.namespace
        t = "/".join(rid.types)
        v = req.query.get("api-version") if req is not None else None
        if ns.lower() in _KNOWN_NS:
            raise ArmError(400, "InvalidResourceType",
                           f"The resource type '{t}' could not be found in the namespace '{ns}' for api version "
                           f"'{v}'. (The simulator models: {', '.join(sorted(s.type_name for s in TYPES.values() if s.namespace.lower() == ns.lower()))})")
        raise ArmError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for namespace '{ns}' and API version '{v}'.")
    return spec


_KNOWN_NS = ("microsoft.network", "microsoft.storage", "microsoft.keyvault", "microsoft.databricks",
             "microsoft.authorization", "microsoft.managedidentity", "microsoft.resources", "microsoft.compute")


def resource_get(req, rid):
    spec = get_spec(rid, req)
    check_api_version(req, spec.versions, spec.type_name)
    check_subscription(rid)
    if rid.collection:
        if not spec.extension:
            check_rg(rid)
        return page(req, list_collection(rid, spec))
    check_rg(rid)
    settle(rid.id)
    with SIM.lock:
        r = SIM.arm.get(rid.id)
        if r is None:
            raise not_found(rid)
        return 200, render(spec, r)


def page(req, items):
    """Lists come in pages of SIM.config.page_size with a nextLink ($skiptoken = offset), as ARM pages."""
    size = max(1, int(SIM.config.page_size))
    try:
        start = int(req.query.get("$skiptoken") or 0)
    except ValueError:
        raise ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from None
    items = sorted(items, key=lambda r: r.get("id", "").lower())
    out = {"value": items[start:start + size]}
    if start + size < len(items):
        q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        q["$skiptoken"] = str(start + size)
        import urllib.parse
        out["nextLink"] = SIM.config.url("management", req.path + "?" + urllib.parse.urlencode(q))
    return out


def list_collection(rid, spec):
    with SIM.lock:
        if rid.parent:
            parent = "/".join(rid.id.split("/")[:-1])
            if SIM.arm.get(parent) is None:
                # FIDELITY: ARM's answer to a list under a parent that does not exist
                raise ArmError(404, "ParentResourceNotFound",
                               f"Failed to perform 'read' on resource(s) of type '{'/'.join(rid.types)}', "
                               f"because the parent resource '{parent}' could not be found.")
            items = SIM.arm.children(parent, rid.types[-1])
            if spec.list_view:
                return [spec.list_view(render(spec, r)) for r in items]
        else:
            scope = rid.rg_id or f"/subscriptions/{SIM.config.subscription_id}"
            if spec.extension:
                scope = rid.scope or scope
            want = spec.type_name.lower()
            items = [r for k, r in SIM.arm.resources.items() if r.get("type", "").lower() == want
                     and k.startswith(norm(scope) + "/")]
        return [render(spec, r) for r in items]


def render(spec, r):
    """The GET view of a stored resource (children composed in by the type)."""
    out = copy.deepcopy(r)
    if spec.render:
        out = spec.render(out)
    return out


def resource_put(req, rid):
    from . import types as T
    spec = get_spec(rid, req)
    if rid.collection:
        raise ArmError(405, "MethodNotAllowed", "PUT on a collection is not allowed.")
    v = check_api_version(req, spec.versions, spec.type_name)
    check_subscription(rid)
    if not spec.extension:
        check_rg(rid)
    if spec.read_only:
        raise ArmError(405, "MethodNotAllowed", f"The simulator serves {spec.type_name} read-only "
                       "(created by other resources).")
    body = req.json
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: 'a JSON object is expected'.")
    with SIM.lock:
        parent = None
        if rid.parent:
            parent = SIM.arm.get(rid.parent)
            if parent is None:
                raise ArmError(404, "ParentResourceNotFound",
                               f"Can not perform requested operation on nested resource. Parent resource "
                               f"'{'/'.join(rid.names[:-1])}' not found.")
        if spec.extension and rid.scope:
            if SIM.arm.get(rid.scope) is None and rid.scope.count("/") > 2:
                raise ArmError(404, "ResourceNotFound" if "/providers/" in rid.scope.lower()
                               else "ResourceGroupNotFound", f"The scope '{rid.scope}' was not found.")
        existing = SIM.arm.get(rid.id)
        # the body's contract first: a malformed request is a 400 whatever the resource's state
        not_req = spec.not_required(v) if spec.not_required else ()
        clean = contract.check(spec.model(), body, not_required=not_req)
        op = busy_op(rid.id)
        if op is not None and spec.conflict_when_busy:
            raise spec.busy_error(rid)
        if spec.serialize_with_parent and parent is not None:
            # FIDELITY: the resource provider runs one write at a time per parent (e.g. rule collection
            # groups of one firewall policy): a write while the parent or a sibling is updating -> 409.
            if busy_op(parent["id"]) is not None or any(
                    busy_op(sib["id"]) is not None for sib in SIM.arm.children(parent["id"], rid.types[-1])
                    if sib["id"].lower() != rid.id.lower()):
                raise spec.busy_error(rid)
        if spec.serialize_children:
            kids = [k for seg in spec.serialize_children for k in SIM.arm.children(rid.id, seg)]
            if any(busy_op(k["id"]) is not None for k in kids):
                raise spec.busy_error(rid)
        if spec.has_location:
            loc = check_location(clean.get("location"), spec.type_name, allow_global=spec.global_location)
            if existing is not None and existing.get("location") and loc != existing["location"]:
                raise ArmError(400, "InvalidResourceLocation",
                               f"The resource '{rid.name}' already exists in location '{existing['location']}' in "
                               f"resource group '{rid.resource_group}'. A resource with the same name cannot be "
                               f"created in location '{loc}'. Please select a new resource name.")
            clean["location"] = loc
        ctx = T.Ctx(req, rid, spec, parent, existing, v)
        if existing is not None and spec.put_existing == "return":
            return 200, render(spec, existing)
        res = spec.build(ctx, clean)      # validates references, fills server fields
        res.setdefault("id", canonical_id(rid, parent))
        res.setdefault("name", rid.name)
        res.setdefault("type", spec.type_name)
        if spec.etag:
            res["etag"] = etag()
        final_state = "Succeeded"
        if spec.lro:
            set_state(res, spec, "Updating" if existing else "Creating")
        else:
            set_state(res, spec, final_state)
        SIM.arm.put(res["id"], res, api_version=v)
        if spec.after_put:
            spec.after_put(ctx, res)
        if not spec.lro:
            if spec.on_complete:
                spec.on_complete(ctx, res)
            return (200 if existing else 201), render(spec, SIM.arm.get(res["id"]))

        def done():
            with SIM.lock:
                cur = SIM.arm.get(res["id"])
                if cur is None:
                    return
                if spec.on_complete:
                    spec.on_complete(ctx, cur)
                set_state(cur, spec, final_state)

        op = start_operation("put", res["id"], spec.namespace, res.get("location"), done, v, req.method, req.path)
        status = 200 if existing else 201
        return status, render(spec, SIM.arm.get(res["id"])), lro_headers(op, v)


def canonical_id(rid, parent):
    if parent is not None:
        return parent["id"] + "/" + rid.types[-1] + "/" + rid.name
    return rid.id


def set_state(res, spec, state):
    if not spec.provisioning_state:
        return
    if spec.state_in_properties:
        res.setdefault("properties", {})["provisioningState"] = state
    else:
        res["provisioningState"] = state


def resource_patch(req, rid):
    from . import types as T
    spec = get_spec(rid, req)
    v = check_api_version(req, spec.versions, spec.type_name)
    check_subscription(rid)
    if not spec.extension:
        check_rg(rid)
    body = req.json
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    with SIM.lock:
        existing = SIM.arm.get(rid.id)
        if existing is None:
            raise not_found(rid)
        if busy_op(rid.id) is not None and spec.conflict_when_busy:
            raise spec.busy_error(rid)
        model = spec.update_model() if spec.update_model else spec.model()
        clean = contract.check(model, body, mode="update")
        if spec.patch:
            res = spec.patch(T.Ctx(req, rid, spec, None, existing, v), existing, clean)
        else:
            res = deep_merge(existing, clean)
        if spec.etag:
            res["etag"] = etag()
        SIM.arm.put(res["id"], res)
        if spec.lro and spec.patch_lro:
            set_state(res, spec, "Updating")
            op = start_operation("patch", res["id"], spec.namespace, res.get("location"),
                                 lambda: set_state(SIM.arm.get(res["id"]) or {}, spec, "Succeeded"), v,
                                 req.method, req.path)
            return 202, render(spec, res), lro_headers(op, v, location_header=True)
        return 200, render(spec, res)


def resource_delete(req, rid):
    spec = get_spec(rid, req)
    v = check_api_version(req, spec.versions, spec.type_name)
    check_subscription(rid)
    if not spec.extension:
        check_rg(rid)
    with SIM.lock:
        existing = SIM.arm.get(rid.id)
        if existing is None:
            return 204, None      # FIDELITY: ARM answers 204 for a DELETE of something absent
        if busy_op(rid.id) is not None and spec.conflict_when_busy:
            raise spec.busy_error(rid)
        if spec.before_delete:
            spec.before_delete(existing)
        if not spec.lro:
            gone = render(spec, existing)
            delete_tree(existing["id"])
            return 200, gone
        set_state(existing, spec, "Deleting")
        op = start_operation("delete", existing["id"], spec.namespace, existing.get("location"),
                             lambda: delete_tree(existing["id"]), v, req.method, req.path)
        return 202, None, lro_headers(op, v, location_header=True)


def resource_post(req, rid):
    """POST .../{resource}/{action}"""
    from .types import ACTIONS
    segs = rid.id.rstrip("/").split("/")
    action = segs[-1].lower()
    target = parse("/".join(segs[:-1]))
    key = (target.type_key if target.kind == "resource" else "", action)
    fn = ACTIONS.get(key)
    if fn is None:
        raise ArmError(404, "NotFound", f"No action '{action}' on '{target.type or target.id}' in the simulator.")
    return fn(req, target)


def dispatch(req):
    path = req.path
    low = path.lower()
    if "/operationstatuses/" in low or "/operationresults/" in low or "/asyncoperations/" in low:
        op_id = path.rstrip("/").split("/")[-1]
        return operation_status(op_id, result="/operationresults/" in low)
    if low.rstrip("/") == "/subscriptions":
        return {"value": [subscription_body()]}
    rid = parse(path)
    if rid.kind == "root":
        raise ArmError(404, "NotFound", f"The requested path {path} was not found.")
    m = req.method
    if rid.kind == "subscription":
        check_subscription(rid)
        if m != "GET":
            raise ArmError(405, "MethodNotAllowed", f"{m} on a subscription is not allowed.")
        return subscription_body()
    if rid.kind == "resourceGroups":
        if m != "GET":
            raise ArmError(405, "MethodNotAllowed", f"{m} not allowed on resource group collection.")
        return rg_list(req, rid)
    if rid.kind in ("rgResources", "subResources"):
        return rg_resources(req, rid)
    if rid.kind == "resourceGroup":
        if m in ("GET", "HEAD"):
            check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resourceGroups")
            check_subscription(rid)
            settle(rid.id)
            r = SIM.arm.get(rid.id)
            if r is None:
                raise not_found(rid)
            return (204 if m == "HEAD" else 200), (None if m == "HEAD" else r)
        if m == "PUT":
            return rg_put(req, rid)
        if m == "DELETE":
            return rg_delete(req, rid)
        if m == "PATCH":
            check_api_version(req, RG_VERSIONS, "Microsoft.Resources/resourceGroups")
            r = SIM.arm.get(rid.id)
            if r is None:
                raise not_found(rid)
            b = req.json or {}
            if "tags" in b:
                r["tags"] = b["tags"]
            return r
        raise ArmError(405, "MethodNotAllowed", f"{m} not allowed on a resource group.")
    if rid.kind in ("providers", "provider"):
        return provider_info(req, rid)
    if rid.kind != "resource":
        raise ArmError(404, "NotFound", f"The requested path {path} was not found.")
    if rid.type_key == "microsoft.authorization/roledefinitions":
        from .types import role_definitions
        scope = rid.scope or f"/subscriptions/{SIM.config.subscription_id}"
        items = role_definitions(req, scope)
        if rid.collection:
            return {"value": items}
        for i in items:
            if i["name"].lower() == rid.name.lower():
                return i
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The role definition '{rid.name}' does not exist.")
    if m == "POST":
        return resource_post(req, rid)
    if m == "GET":
        return resource_get(req, rid)
    if m == "HEAD":
        resource_get(req, rid)
        return 204, None
    if m == "PUT":
        return resource_put(req, rid)
    if m == "PATCH":
        return resource_patch(req, rid)
    if m == "DELETE":
        return resource_delete(req, rid)
    raise ArmError(405, "MethodNotAllowed", f"{m} is not supported.")


def subscription_body():
    s = SIM.config.subscription_id
    return {"id": f"/subscriptions/{s}", "subscriptionId": s, "tenantId": SIM.config.tenant_id,
            "displayName": "drhost simulated subscription", "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Sim_2026",
                                     "spendingLimit": "Off"}, "authorizationSource": "RoleBased"}


def provider_info(req, rid):
    check_subscription(rid)
    from .types import TYPES
    nss = {}
    for spec in TYPES.values():
        nss.setdefault(spec.namespace, []).append(spec)
    if rid.kind == "providers":
        return {"value": [_provider_body(ns, specs) for ns, specs in nss.items()]}
    for ns, specs in nss.items():
        if ns.lower() == rid.namespace.lower():
            return _provider_body(ns, specs)
    raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{rid.namespace}' is invalid.")


def _provider_body(ns, specs):
    return {"id": f"/subscriptions/{SIM.config.subscription_id}/providers/{ns}", "namespace": ns,
            "registrationState": "Registered", "resourceTypes": [
                {"resourceType": s.type_name.split("/", 1)[1], "locations": list(REGIONS),
                 "apiVersions": list(reversed(s.versions))} for s in specs]}


def wait_all_ops():
    """Test helper: finish every running operation."""
    for _ in range(1000):
        with SIM.lock:
            running = [o for o in SIM.arm.operations.values() if o.status == "InProgress"]
        if not running:
            return
        for o in running:
            advance_op(o)
    time.sleep(0)
