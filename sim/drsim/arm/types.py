"""Resource types the simulator models: which SDK model checks each body, which api-versions are
accepted, and per-type behaviour (references, server-populated fields, LROs, side effects).

Models and api-versions (recorded here, see TYPES):
- The current azure-mgmt-* packages ship ONE api-version each (no per-version modules): network
  2026-03-01, storage 2026-09-01, keyvault 2026-05-15, databricks 2026-01-01, privatedns 2024-06-01,
  resource 2025-04-01. Bodies for any accepted api-version of these types are checked against that
  model. FIDELITY: a property added after the requested api-version is accepted (looser); a property
  the newest model requires but older api-versions did not is listed in `not_required`.
- azure-mgmt-authorization and azure-mgmt-msi keep per-version modules: role assignments use
  v2022_04_01, user-assigned identities v2024_11_30 (for 2023-01-31 and 2024-11-30 requests).

FIDELITY (error codes): where the real service's code is known it is used (NetcfgSubnetRangesOverlap,
InUseSubnetCannotBeDeleted, SubnetMissingRequiredDelegation, StorageAccountAlreadyTaken, VaultAlreadyExists,
RoleAssignmentExists, ConcurrentUpdateError, ...); where it is not, a generic one (InvalidParameter,
InvalidRequestFormat, BadRequest) with a specific message. Clients should branch on status, not on those.
"""
import copy
import hashlib
import ipaddress

from ..errors import ArmError
from ..state import DATABRICKS_SP_OBJECT_ID, SIM, new_guid
from . import contract
from .engine import (PAIRED, deep_merge, invalid_reference, now_iso, ref_exists, busy_op,
                     system_data)
from .ids import GUID_RE, parse

NET = ("2023-04-01", "2023-05-01", "2023-06-01", "2023-09-01", "2023-11-01", "2024-01-01", "2024-03-01",
       "2024-05-01", "2024-07-01", "2024-10-01", "2025-01-01", "2025-03-01", "2025-05-01", "2025-07-01",
       "2026-01-01", "2026-03-01")
DNS = ("2018-09-01", "2020-01-01", "2020-06-01", "2024-06-01")
STORAGE = ("2022-09-01", "2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01", "2025-06-01",
           "2026-09-01")
KV = ("2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01", "2025-05-01", "2026-05-15")
DBX = ("2023-02-01", "2024-05-01", "2024-09-01-preview", "2025-03-01-preview", "2025-08-01-preview",
       "2025-10-01-preview", "2026-01-01")
DBX_AC = ("2023-05-01", "2024-05-01", "2024-09-01-preview", "2025-03-01-preview", "2026-01-01")
AUTHZ = ("2020-04-01-preview", "2022-04-01")
MSI = ("2023-01-31", "2024-11-30")

SUB_RESOURCES = {  # private link group ids per target type
    "microsoft.storage/storageaccounts": ("blob", "blob_secondary", "dfs", "dfs_secondary", "file", "queue",
                                          "table", "web"),
    "microsoft.keyvault/vaults": ("vault",),
    "microsoft.databricks/workspaces": ("databricks_ui_api", "browser_authentication"),
}

# Built-in role definitions (public, well-known ids).
ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
}


class Ctx:
    def __init__(self, req, rid, spec, parent, existing, api_version):
        self.req, self.rid, self.spec, self.parent, self.existing, self.api_version = \
            req, rid, spec, parent, existing, api_version


class Spec:
    def __init__(self, type_name, module, model, versions, **kw):
        self.type_name = type_name
        self.namespace = type_name.split("/")[0]
        self.module = module
        self.model_name = model
        self.versions = versions
        self.lro = kw.get("lro", True)
        self.patch_lro = kw.get("patch_lro", False)
        self.has_location = kw.get("has_location", True)
        self.global_location = kw.get("global_location", False)
        self.etag = kw.get("etag", False)
        self.state_in_properties = kw.get("state_in_properties", True)
        # False for types whose model has no provisioningState (blob services, containers, vault keys)
        self.provisioning_state = kw.get("provisioning_state", True)
        self.conflict_when_busy = kw.get("conflict_when_busy", False)
        self.serialize_with_parent = kw.get("serialize_with_parent", False)
        self.serialize_children = kw.get("serialize_children", ())
        self.extension = kw.get("extension", False)
        self.read_only = kw.get("read_only", False)
        self.put_existing = kw.get("put_existing")
        self.update_model_name = kw.get("update_model")
        self.builder = kw.get("build")
        self.render = kw.get("render")
        # list_view(item) -> the item as the parent's list returns it, where the list leaves out part
        # of the GET (list_model: the SDK model of a list item, for the contract tests)
        self.list_view = kw.get("list_view")
        self.list_model_name = kw.get("list_model") or model
        self.after_put = kw.get("after_put")
        self.on_complete = kw.get("on_complete")
        self.on_delete = kw.get("on_delete")
        self.before_delete = kw.get("before_delete")
        self.patch = kw.get("patch")
        self.not_required = kw.get("not_required")
        self.busy_error = kw.get("busy_error") or (lambda rid: ArmError(
            409, "AnotherOperationInProgress",
            f"Another operation on this or dependent resource is in progress. To retrieve status of the operation "
            f"use uri: {rid.id}. (simulator)"))

    def model(self):
        return contract.load_model(self.module, self.model_name)

    def list_model(self):
        return contract.load_model(self.module, self.list_model_name)

    def update_model(self):
        return contract.load_model(self.module, self.update_model_name) if self.update_model_name else None

    def build(self, ctx, clean):
        res = {"id": None, "name": ctx.rid.name, "type": self.type_name}
        res.update(copy.deepcopy(clean))
        res.pop("id")
        if res.get("id") is None:
            res.pop("id", None)
        res.setdefault("properties", {})
        if self.builder:
            res = self.builder(ctx, res) or res
        return res


TYPES = {}
ACTIONS = {}


def register(spec):
    # FIDELITY: PATCH on Microsoft.Network top-level resources updates tags only (TagsObject), as the
    # network resource provider does; child resources have no PATCH.
    if spec.module == NETMOD_ and spec.update_model_name is None and spec.type_name.count("/") == 1:
        spec.update_model_name = "TagsObject"
    TYPES[spec.type_name.lower()] = spec
    return spec


NETMOD_ = "azure.mgmt.network.models"


def action(type_name, name):
    def deco(fn):
        ACTIONS[(type_name.lower(), name.lower())] = fn
        return fn
    return deco


def _props(r):
    return r.setdefault("properties", {})


def _id_of(ref):
    return ref.get("id") if isinstance(ref, dict) else None


def _need(ref_id, by_id, want_type=None):
    r = ref_exists(ref_id, want_type)
    if r is None:
        raise invalid_reference(ref_id, by_id)
    return r


def _rid_of(ctx):
    if ctx.parent is not None:
        return ctx.parent["id"] + "/" + ctx.rid.types[-1] + "/" + ctx.rid.name
    return ctx.rid.id


def _guid_for(*parts):
    h = hashlib.sha256("/".join(parts).lower().encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# ==== Microsoft.Network =============================================================================
NETMOD = "azure.mgmt.network.models"


def _inline_children(parent_prop, child_segment):
    """render: compose children stored as their own resources into the parent's properties."""
    def render(r):
        kids = SIM.arm.children(r["id"], child_segment)
        _props(r)[parent_prop] = [_render_child(k) for k in kids]
        return r
    return render


def _render_child(k):
    spec = TYPES.get(k.get("type", "").lower())
    out = copy.deepcopy(k)
    if spec and spec.render:
        out = spec.render(out)
    return out


def _sync_children(ctx, res, prop, segment, child_type):
    """A parent PUT carrying `prop` (a list of children) creates/replaces those children and deletes
    the others -- as ARM does for subnets in a VNet PUT. FIDELITY: real behaviour; omitting `subnets`
    (the key itself) keeps the existing ones; an explicit list replaces them."""
    kids = _props(res).pop(prop, None)
    if kids is None:
        return
    from .engine import delete_tree
    spec = TYPES[child_type.lower()]
    wanted = set()
    for i, k in enumerate(kids):
        name = k.get("name")
        if not name:
            raise ArmError(400, "InvalidRequestFormat", f"Cannot parse the request: properties.{prop}[{i}].name "
                                                         "is required.")
        wanted.add(name.lower())
        cid = res["id"] + "/" + segment + "/" + name
        cctx = Ctx(ctx.req, parse(cid), spec, res, SIM.arm.get(cid), ctx.api_version)
        child = spec.build(cctx, {k2: v for k2, v in k.items() if k2 != "id"})
        child["id"], child["name"], child["type"] = cid, name, spec.type_name
        child["etag"] = f'W/"{new_guid()}"'
        _props(child)["provisioningState"] = "Succeeded"
        SIM.arm.put(cid, child)
    for old in SIM.arm.children(res["id"], segment):
        if old["name"].lower() not in wanted:
            if segment == "subnets":
                _check_subnet_unused(old)
            delete_tree(old["id"])


def _check_subnet_unused(subnet):
    users = _subnet_users(subnet["id"])
    if users:
        raise ArmError(400, "InUseSubnetCannotBeDeleted",
                       f"Subnet {subnet['name']} is in use by {users[0]} and cannot be deleted. In order to delete "
                       "the subnet, delete all the resources within the subnet.")


def _subnet_users(subnet_id):
    s = subnet_id.lower()
    out = []
    for r in SIM.arm.all():
        t = r.get("type", "").lower()
        p = r.get("properties") or {}
        if t == "microsoft.network/privateendpoints" and (_id_of(p.get("subnet")) or "").lower() == s:
            out.append(r["id"])
        elif t == "microsoft.network/azurefirewalls":
            for ipc in p.get("ipConfigurations") or []:
                if (_id_of((ipc.get("properties") or {}).get("subnet")) or "").lower() == s:
                    out.append(r["id"])
        elif t == "microsoft.databricks/workspaces":
            prm = p.get("parameters") or {}
            vnet = ((prm.get("customVirtualNetworkId") or {}).get("value") or "").lower()
            for key in ("customPublicSubnetName", "customPrivateSubnetName"):
                n = (prm.get(key) or {}).get("value")
                if n and s == f"{vnet}/subnets/{n}".lower():
                    out.append(r["id"])
    return out


def _vnet_build(ctx, res):
    p = _props(res)
    prefixes = ((p.get("addressSpace") or {}).get("addressPrefixes")) or []
    if not prefixes:
        raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request. properties.addressSpace.addressPrefixes "
                       "must contain at least one prefix.")
    nets = []
    for pr in prefixes:
        try:
            nets.append(ipaddress.ip_network(pr, strict=True))
        except ValueError:
            raise ArmError(400, "InvalidAddressPrefixFormat",
                           f"Address prefix {pr} of resource {_rid_of(ctx)} is not formatted correctly. It should "
                           "follow CIDR notation, for example 10.0.0.0/24.") from None
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            if a.overlaps(b):
                raise ArmError(400, "VnetAddressSpacesOverlap",
                               f"Cannot create or update virtual network {ctx.rid.name}: its address spaces {a} and {b} overlap.")
    p["resourceGuid"] = (ctx.existing or {}).get("properties", {}).get("resourceGuid") or new_guid()
    return res


def _vnet_after_put(ctx, res):
    _sync_children(ctx, res, "subnets", "subnets", "Microsoft.Network/virtualNetworks/subnets")
    _sync_children(ctx, res, "virtualNetworkPeerings", "virtualNetworkPeerings",
                   "Microsoft.Network/virtualNetworks/virtualNetworkPeerings")
    SIM.arm.put(res["id"], res)


def _subnet_build(ctx, res):
    vnet = ctx.parent
    p = _props(res)
    prefixes = list(p.get("addressPrefixes") or []) + ([p["addressPrefix"]] if p.get("addressPrefix") else [])
    if not prefixes and not p.get("ipamPoolPrefixAllocations"):
        raise ArmError(400, "NoAddressPrefixOrPoolProvided",
                       f"Subnet {ctx.rid.name} must have an addressPrefix, addressPrefixes or an IPAM pool allocation.")
    space = [ipaddress.ip_network(x) for x in ((vnet.get("properties") or {}).get("addressSpace") or {})
             .get("addressPrefixes", [])]
    for pr in prefixes:
        try:
            net = ipaddress.ip_network(pr, strict=True)
        except ValueError:
            raise ArmError(400, "InvalidAddressPrefixFormat",
                           f"Address prefix {pr} of resource {_rid_of(ctx)} is not formatted correctly.") from None
        if not any(net.subnet_of(s) for s in space if s.version == net.version):
            raise ArmError(400, "NetcfgSubnetRangeOutsideVnet",
                           f"Subnet '{ctx.rid.name}' is not valid because its IP address range is outside the IP "
                           f"address range of virtual network '{vnet['name']}'.")
        for sib in SIM.arm.children(vnet["id"], "subnets"):
            if sib["name"].lower() == ctx.rid.name.lower():
                continue
            sp = sib.get("properties") or {}
            for other in list(sp.get("addressPrefixes") or []) + ([sp["addressPrefix"]] if sp.get("addressPrefix") else []):
                if net.overlaps(ipaddress.ip_network(other)):
                    raise ArmError(400, "NetcfgSubnetRangesOverlap",
                                   f"Subnet '{ctx.rid.name}' is not valid because its IP address range overlaps with "
                                   f"that of an existing subnet '{sib['name']}' in virtual network '{vnet['name']}'.")
    sid = _rid_of(ctx)
    for key, t in (("networkSecurityGroup", "Microsoft.Network/networkSecurityGroups"),
                   ("routeTable", "Microsoft.Network/routeTables"), ("natGateway", "Microsoft.Network/natGateways")):
        ref = _id_of(p.get(key))
        if ref:
            _need(ref, sid, t)
    for i, d in enumerate(p.get("delegations") or []):
        sn = (d.get("properties") or {}).get("serviceName")
        if not sn:
            raise ArmError(400, "InvalidRequestFormat", f"properties.delegations[{i}].properties.serviceName is required.")
        if sn.lower() == "microsoft.databricks/workspaces":
            d.setdefault("properties", {})["actions"] = [
                "Microsoft.Network/virtualNetworks/subnets/join/action",
                "Microsoft.Network/virtualNetworks/subnets/prepareNetworkPolicies/action",
                "Microsoft.Network/virtualNetworks/subnets/unprepareNetworkPolicies/action"]
        d.setdefault("id", f"{sid}/delegations/{d.get('name') or i}")
        d.setdefault("type", "Microsoft.Network/virtualNetworks/subnets/delegations")
    return res


def _subnet_render(r):
    users = _subnet_users(r["id"])
    pes = [u for u in users if "/privateendpoints/" in u.lower()]
    if pes:
        _props(r)["privateEndpoints"] = [{"id": u} for u in pes]
    return r


def _peering_build(ctx, res):
    p = _props(res)
    remote = _id_of(p.get("remoteVirtualNetwork"))
    if not remote:
        raise ArmError(400, "InvalidRequestFormat", "properties.remoteVirtualNetwork.id is required for a peering.")
    rv = _need(remote, _rid_of(ctx), "Microsoft.Network/virtualNetworks")
    local = ctx.parent
    mine = [ipaddress.ip_network(x) for x in local["properties"]["addressSpace"]["addressPrefixes"]]
    theirs = [ipaddress.ip_network(x) for x in rv["properties"]["addressSpace"]["addressPrefixes"]]
    for a in mine:
        for b in theirs:
            if a.overlaps(b):
                raise ArmError(400, "VnetAddressSpacesOverlap",
                               f"Cannot create or update peering {ctx.rid.name}. Virtual networks {local['id']} and "
                               f"{rv['id']} cannot be peered because their address spaces overlap.")
    back = [pp for pp in SIM.arm.children(rv["id"], "virtualNetworkPeerings")
            if (_id_of(pp["properties"].get("remoteVirtualNetwork")) or "").lower() == local["id"].lower()]
    p["peeringState"] = "Connected" if back else "Initiated"
    p["peeringSyncLevel"] = "FullyInSync"
    p["remoteAddressSpace"] = {"addressPrefixes": [str(x) for x in theirs]}
    p["remoteVirtualNetworkAddressSpace"] = {"addressPrefixes": [str(x) for x in theirs]}
    for b in back:
        b["properties"]["peeringState"] = "Connected"
    return res


def _nsg_after_put(ctx, res):
    _sync_children(ctx, res, "securityRules", "securityRules", "Microsoft.Network/networkSecurityGroups/securityRules")
    SIM.arm.put(res["id"], res)


def _nsg_render(r):
    r = _inline_children("securityRules", "securityRules")(r)
    _props(r)["subnets"] = [{"id": s["id"]} for s in _all_of("microsoft.network/virtualnetworks/subnets")
                            if (_id_of(s["properties"].get("networkSecurityGroup")) or "").lower() == r["id"].lower()]
    return r


def _rt_after_put(ctx, res):
    _sync_children(ctx, res, "routes", "routes", "Microsoft.Network/routeTables/routes")
    SIM.arm.put(res["id"], res)


def _rt_render(r):
    r = _inline_children("routes", "routes")(r)
    _props(r)["subnets"] = [{"id": s["id"]} for s in _all_of("microsoft.network/virtualnetworks/subnets")
                            if (_id_of(s["properties"].get("routeTable")) or "").lower() == r["id"].lower()]
    return r


def _route_build(ctx, res):
    p = _props(res)
    if not p.get("addressPrefix"):
        raise ArmError(400, "InvalidRequestFormat", f"Route {ctx.rid.name}: properties.addressPrefix is required.")
    if (p.get("nextHopType") or "").lower() == "virtualappliance" and not p.get("nextHopIpAddress"):
        raise ArmError(400, "InvalidRequestFormat",
                       f"Route {ctx.rid.name} has next hop type VirtualAppliance but no nextHopIpAddress.")
    if not p.get("nextHopType"):
        raise ArmError(400, "InvalidRequestFormat", f"Route {ctx.rid.name}: properties.nextHopType is required.")
    return res


def _all_of(type_key):
    return [r for r in SIM.arm.all() if r.get("type", "").lower() == type_key]


_ip_counter = [10]


def _pip_build(ctx, res):
    p = _props(res)
    if ctx.existing and ctx.existing.get("properties", {}).get("ipAddress"):
        p["ipAddress"] = ctx.existing["properties"]["ipAddress"]
    else:
        _ip_counter[0] += 1
        n = _ip_counter[0]
        p["ipAddress"] = f"198.51.{100 + (n // 250) % 100}.{n % 250 + 1}"   # documentation range
    p.setdefault("publicIPAllocationMethod", "Static" if (res.get("sku") or {}).get("name") == "Standard" else "Dynamic")
    p.setdefault("publicIPAddressVersion", "IPv4")
    p["resourceGuid"] = new_guid()
    return res


def _alloc_ip(subnet):
    """Next free host address in a subnet (Azure reserves .0-.3)."""
    p = subnet.get("properties") or {}
    prefix = p.get("addressPrefix") or (p.get("addressPrefixes") or [None])[0]
    net = ipaddress.ip_network(prefix)
    meta = SIM.arm.meta.setdefault("/" + subnet["id"].strip("/").lower(), {})
    n = meta.get("next_ip", 4)
    meta["next_ip"] = n + 1
    if n >= net.num_addresses - 1:
        raise ArmError(400, "SubnetIsFull", f"Subnet {subnet['name']} has no free address left.")
    return str(net.network_address + n)


def _firewall_build(ctx, res):
    p = _props(res)
    fid = _rid_of(ctx)
    ipcs = p.get("ipConfigurations") or []
    sku = p.get("sku") or {}
    if (sku.get("name") or "AZFW_VNet") == "AZFW_VNet" and not ipcs:
        raise ArmError(400, "InvalidRequestFormat",
                       f"Azure Firewall {ctx.rid.name} needs at least one ipConfiguration with a subnet.")
    old = {c.get("name"): c for c in ((ctx.existing or {}).get("properties") or {}).get("ipConfigurations") or []}
    for i, c in enumerate(ipcs):
        cp = c.setdefault("properties", {})
        sub_id = _id_of(cp.get("subnet"))
        if i == 0 or sub_id:
            if not sub_id:
                raise ArmError(400, "InvalidRequestFormat", "properties.ipConfigurations[0].properties.subnet.id is required.")
            subnet = _need(sub_id, fid, "Microsoft.Network/virtualNetworks/subnets")
            if subnet["name"] != "AzureFirewallSubnet":
                raise ArmError(400, "InvalidRequestFormat",
                               f"Azure Firewall {ctx.rid.name} must use a subnet named 'AzureFirewallSubnet', "
                               f"not '{subnet['name']}'.")
            prev = (old.get(c.get("name")) or {}).get("properties", {}).get("privateIPAddress")
            cp["privateIPAddress"] = prev or _alloc_ip(subnet)
            cp["privateIPAllocationMethod"] = "Dynamic"
        pip = _id_of(cp.get("publicIPAddress"))
        if pip:
            _need(pip, fid, "Microsoft.Network/publicIPAddresses")
        c.setdefault("id", f"{fid}/azureFirewallIpConfigurations/{c.get('name') or i}")
        cp["provisioningState"] = "Succeeded"
    pol = _id_of(p.get("firewallPolicy"))
    if pol:
        _need(pol, fid, "Microsoft.Network/firewallPolicies")
    if ipcs:
        p["hubIPAddresses"] = {"privateIPAddress": ipcs[0]["properties"]["privateIPAddress"]}
    return res


def _rcg_build(ctx, res):
    p = _props(res)
    gid = _rid_of(ctx)
    for rc in p.get("ruleCollections") or []:
        for rule in rc.get("rules") or []:
            for key in ("sourceIpGroups", "destinationIpGroups"):
                for g in rule.get(key) or []:
                    _need(g, gid, "Microsoft.Network/ipGroups")
    return res


def _fp_render(r):
    _props(r)["ruleCollectionGroups"] = [{"id": g["id"]} for g in SIM.arm.children(r["id"], "ruleCollectionGroups")]
    _props(r)["firewalls"] = [{"id": f["id"]} for f in _all_of("microsoft.network/azurefirewalls")
                              if (_id_of(f["properties"].get("firewallPolicy")) or "").lower() == r["id"].lower()]
    return r


def _pe_build(ctx, res):
    p = _props(res)
    pid = _rid_of(ctx)
    sub_id = _id_of(p.get("subnet"))
    if not sub_id:
        raise ArmError(400, "InvalidRequestFormat", "properties.subnet.id is required for a private endpoint.")
    subnet = _need(sub_id, pid, "Microsoft.Network/virtualNetworks/subnets")
    conns = (p.get("privateLinkServiceConnections") or [])
    manual = (p.get("manualPrivateLinkServiceConnections") or [])
    if not conns and not manual:
        raise ArmError(400, "PrivateEndpointMustHaveConnection",
                       "A private endpoint needs one privateLinkServiceConnection or manualPrivateLinkServiceConnection.")
    prev_ip = None
    if ctx.existing:
        cfg = (ctx.existing["properties"].get("customDnsConfigs") or [{}])
        prev_ip = (cfg[0].get("ipAddresses") or [None])[0] if cfg else None
    dns = []
    for is_manual, lst in ((False, conns), (True, manual)):
        for i, c in enumerate(lst):
            cp = c.setdefault("properties", {})
            target_id = cp.get("privateLinkServiceId")
            if not target_id:
                raise ArmError(400, "InvalidRequestFormat", "privateLinkServiceId is required.")
            target = ref_exists(target_id)
            if target is None:
                raise ArmError(400, "InvalidResourceReference",
                               f"Resource {target_id} referenced by resource {pid} was not found.")
            ttype = target["type"].lower()
            groups = cp.get("groupIds") or []
            allowed = SUB_RESOURCES.get(ttype)
            if allowed is None:
                raise ArmError(400, "InvalidRequestFormat",
                               f"Resource type {target['type']} does not support private link in the simulator.")
            if len(groups) != 1 or groups[0] not in allowed:
                raise ArmError(400, "PrivateEndpointBadRequest",
                               f"Call to {target['type']} failed. Error message: The group id(s) {groups} are not "
                               f"valid for {target['type']}; valid ones are {list(allowed)}.")
            # FIDELITY: a private endpoint puts its workspace into "updating" (real pitfall: parallel
            # PEs / CMK updates on one workspace fail); here a PE to a busy workspace gets 409.
            if ttype == "microsoft.databricks/workspaces":
                op = busy_op(target["id"])
                if op is not None:
                    raise _dbx_busy(parse(target["id"]))
            # FIDELITY: automatic (non-manual) connections are approved at once: the simulated caller
            # has rights on every target. Manual ones start Pending.
            status = "Pending" if is_manual else "Approved"
            cp["privateLinkServiceConnectionState"] = {"status": status, "description":
                                                       "Auto-Approved" if status == "Approved" else (cp.get("requestMessage") or ""),
                                                       "actionsRequired": "None"}
            c.setdefault("id", f"{pid}/{'manualPrivateLinkServiceConnections' if is_manual else 'privateLinkServiceConnections'}/{c.get('name') or i}")
            cp["provisioningState"] = "Succeeded"
            dns.append({"fqdn": _pl_fqdn(target, groups[0]), "ipAddresses": []})
            cp["_target_type"] = ttype
    ip = prev_ip or _alloc_ip(subnet)     # after every check: a refused PUT takes no address
    for d in dns:
        d["ipAddresses"] = [ip]
    p["customDnsConfigs"] = dns
    nic = f"{pid.split('/providers/')[0]}/providers/Microsoft.Network/networkInterfaces/{ctx.rid.name}.nic.{_guid_for(pid)}"
    p["networkInterfaces"] = [{"id": nic}]
    p["ipConfigurations"] = p.get("ipConfigurations") or []
    return res


def _pl_fqdn(target, group):
    t = target["type"].lower()
    name = target["name"]
    if t == "microsoft.storage/storageaccounts":
        return f"{name}.{group.replace('_secondary', '-secondary')}.core.windows.net"
    if t == "microsoft.keyvault/vaults":
        return f"{name}.vault.azure.net"
    wsid = ((target.get("properties") or {}).get("workspaceId")) or "0"
    if group == "browser_authentication":
        return f"{target.get('location', 'region')}.pl-auth.azuredatabricks.net"
    return f"adb-{wsid}.sim.azuredatabricks.net"


def _pe_after_put(ctx, res):
    """Storage targets get a privateEndpointConnection on the account."""
    p = _props(res)
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for c in p.get(key) or []:
            cp = c["properties"]
            ttype = cp.pop("_target_type", "")
            if ttype == "microsoft.storage/storageaccounts":
                existing = [x for x in SIM.arm.private_endpoint_connections(cp["privateLinkServiceId"])
                            if (x["properties"]["privateEndpoint"]["id"]).lower() == res["id"].lower()]
                if not existing:
                    SIM.arm.add_private_endpoint_connection(
                        cp["privateLinkServiceId"], cp["groupIds"][0], ctx.rid.name, pe_id=res["id"],
                        status=cp["privateLinkServiceConnectionState"]["status"])
            elif ttype == "microsoft.databricks/workspaces":
                ws = SIM.arm.get(cp["privateLinkServiceId"])
                lst = _props(ws).setdefault("privateEndpointConnections", [])
                if not any(x["properties"]["privateEndpoint"]["id"].lower() == res["id"].lower() for x in lst):
                    lst.append({"id": f"{ws['id']}/privateEndpointConnections/{ctx.rid.name}.{_guid_for(res['id'])}",
                                "name": f"{ctx.rid.name}.{_guid_for(res['id'])}",
                                "type": "Microsoft.Databricks/workspaces/privateEndpointConnections",
                                "properties": {"privateEndpoint": {"id": res["id"]}, "groupIds": cp["groupIds"],
                                               "privateLinkServiceConnectionState":
                                                   cp["privateLinkServiceConnectionState"],
                                               "provisioningState": "Succeeded"}})
    SIM.arm.put(res["id"], res)


def _pe_on_delete(r):
    for sa_conn in _all_of("microsoft.storage/storageaccounts/privateendpointconnections"):
        if sa_conn["properties"]["privateEndpoint"]["id"].lower() == r["id"].lower():
            SIM.arm.delete(sa_conn["id"])
    for ws in _all_of("microsoft.databricks/workspaces"):
        lst = _props(ws).get("privateEndpointConnections") or []
        _props(ws)["privateEndpointConnections"] = [x for x in lst if
                                                    x["properties"]["privateEndpoint"]["id"].lower() != r["id"].lower()]


def _dzg_build(ctx, res):
    p = _props(res)
    gid = _rid_of(ctx)
    pe = ctx.parent
    ips = [c for c in (pe["properties"].get("customDnsConfigs") or [])]
    for i, cfg in enumerate(p.get("privateDnsZoneConfigs") or []):
        cp = cfg.setdefault("properties", {})
        zid = cp.get("privateDnsZoneId")
        if not zid:
            raise ArmError(400, "InvalidRequestFormat",
                           f"properties.privateDnsZoneConfigs[{i}].properties.privateDnsZoneId is required.")
        zone = _need(zid, gid, "Microsoft.Network/privateDnsZones")
        recs = []
        for c in ips:
            fqdn = c["fqdn"]
            rel = fqdn.split(".")[0]
            recs.append({"recordType": "A", "recordSetName": rel, "fqdn": f"{rel}.{zone['name']}",
                         "ttl": 10, "ipAddresses": c["ipAddresses"], "provisioningState": "Succeeded"})
            rs_id = f"{zone['id']}/A/{rel}"
            SIM.arm.put(rs_id, {"id": rs_id, "name": rel, "type": "Microsoft.Network/privateDnsZones/A",
                                "etag": new_guid(), "properties": {"ttl": 10, "fqdn": f"{rel}.{zone['name']}.",
                                                                    "aRecords": [{"ipv4Address": a} for a in c["ipAddresses"]],
                                                                    "isAutoRegistered": False}})
        cp["recordSets"] = recs
    return res


def _dzg_render(r):
    # the model (a SubResource) has no `type`: the GET and the list return id, name, etag, properties
    r.pop("type", None)
    return r


def _pe_render(r):
    groups = SIM.arm.children(r["id"], "privateDnsZoneGroups")
    if groups:
        _props(r)["privateDnsZoneGroups"] = [{"id": g["id"]} for g in groups]  # not in the real GET; harmless
        _props(r).pop("privateDnsZoneGroups")
    return r


# ---- private DNS -------------------------------------------------------------------------------
DNSMOD = "azure.mgmt.privatedns.models"


def _zone_build(ctx, res):
    # FIDELITY: private DNS zones and their links are global resources (location 'global' only).
    if res.get("location") != "global":
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The provided location '{res.get('location')}' is not available for resource type "
                       "'Microsoft.Network/privateDnsZones'. List of available regions for the resource type is 'global'.")
    p = _props(res)
    p["maxNumberOfRecordSets"] = 25000
    p["maxNumberOfVirtualNetworkLinks"] = 1000
    p["maxNumberOfVirtualNetworkLinksWithRegistration"] = 100
    p["internalId"] = _guid_for(ctx.rid.id)
    return res


# ---- public DNS (the entry point a failover flips) ---------------------------------------------
PUBDNSMOD = "azure.mgmt.dns.models"
PUBDNS = ("2018-05-01", "2023-07-01-preview")


def _pubzone_build(ctx, res):
    if res.get("location") != "global":
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The provided location '{res.get('location')}' is not available for resource type "
                       "'Microsoft.Network/dnsZones'. List of available regions for the resource type is 'global'.")
    p = _props(res)
    p["maxNumberOfRecordSets"] = 10000
    p["maxNumberOfRecordsPerRecordSet"] = 20
    p["numberOfRecordSets"] = 2
    p["zoneType"] = "Public"
    # FIDELITY: placeholder name servers; the zone is not delegated or served anywhere.
    p["nameServers"] = [f"ns{i}-01.azure-dns.example." for i in range(1, 5)]
    return res


def _cname_build(ctx, res):
    p = _props(res)
    target = (p.get("CNAMERecord") or {}).get("cname")
    if not target:
        raise ArmError(400, "BadRequest", "properties.CNAMERecord.cname is required for a CNAME record set.")
    zone = ctx.parent or {}
    p["fqdn"] = f"{ctx.rid.name}.{zone.get('name', '')}."
    p["provisioningState"] = "Succeeded"
    p.setdefault("TTL", 3600)
    return res


def _zone_render(r):
    p = _props(r)
    p["numberOfRecordSets"] = 1 + len([x for x in SIM.arm.all() if x["id"].lower().startswith(r["id"].lower() + "/a/")])
    links = SIM.arm.children(r["id"], "virtualNetworkLinks")
    p["numberOfVirtualNetworkLinks"] = len(links)
    p["numberOfVirtualNetworkLinksWithRegistration"] = len([x for x in links if x["properties"].get("registrationEnabled")])
    return r


def _link_build(ctx, res):
    if res.get("location") != "global":
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       "The location of a virtual network link must be 'global'.")
    p = _props(res)
    vnet = _id_of(p.get("virtualNetwork"))
    if not vnet:
        raise ArmError(400, "BadRequest",
                       "properties.virtualNetwork.id is required for a virtual network link.")
    _need(vnet, _rid_of(ctx), "Microsoft.Network/virtualNetworks")
    for other in SIM.arm.children(ctx.parent["id"], "virtualNetworkLinks"):
        if other["name"].lower() != ctx.rid.name.lower() and \
                (_id_of(other["properties"].get("virtualNetwork")) or "").lower() == vnet.lower():
            raise ArmError(409, "BadRequest",
                           f"A virtual network cannot be linked to the same private DNS zone twice "
                           f"(already linked by '{other['name']}').")
    p["virtualNetworkLinkState"] = "Completed"
    return res


# ==== Microsoft.Storage =============================================================================
STMOD = "azure.mgmt.storage.models"


def _sa_build(ctx, res):
    name = ctx.rid.name
    import re
    if not re.fullmatch(r"[a-z0-9]{3,24}", name):
        raise ArmError(400, "AccountNameInvalid",
                       f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                       "characters in length and use numbers and lower-case letters only.")
    # FIDELITY: account (and vault) names are globally unique; here unique within the simulator.
    for other in _all_of("microsoft.storage/storageaccounts"):
        if other["name"] == name and other["id"].lower() != ctx.rid.id.lower():
            raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
    p = _props(res)
    sku = (res.get("sku") or {}).get("name", "")
    loc = res["location"]
    endpoints = {k: f"https://{name}.{k}.core.windows.net/" for k in ("blob", "queue", "table", "file", "dfs", "web")}
    p["primaryEndpoints"] = endpoints
    p["primaryLocation"] = loc
    p["statusOfPrimary"] = "available"
    if any(x in sku for x in ("GRS", "GZRS")):
        p["secondaryLocation"] = PAIRED.get(loc, loc)
        p["statusOfSecondary"] = "available"
        if "RAGRS" in sku or "RAGZRS" in sku:
            p["secondaryEndpoints"] = {k: f"https://{name}-secondary.{k}.core.windows.net/"
                                       for k in ("blob", "queue", "table", "web", "dfs")}
    p["creationTime"] = ((ctx.existing or {}).get("properties") or {}).get("creationTime") or now_iso()
    p.setdefault("isHnsEnabled", False)
    if ctx.existing is not None and bool(ctx.existing["properties"].get("isHnsEnabled")) != bool(p["isHnsEnabled"]):
        raise ArmError(400, "OperationNotAllowed",
                       "isHnsEnabled cannot be changed on an existing account (an upgrade is a separate operation).")
    p.setdefault("encryption", {"services": {"blob": {"enabled": True, "keyType": "Account"},
                                              "file": {"enabled": True, "keyType": "Account"}},
                                "keySource": "Microsoft.Storage"})
    p.setdefault("accessTier", "Hot")
    p.setdefault("minimumTlsVersion", "TLS1_2")
    p.setdefault("allowBlobPublicAccess", False)
    p.setdefault("supportsHttpsTrafficOnly", True)
    net = p.get("networkAcls")
    if net:
        for i, rule in enumerate(net.get("virtualNetworkRules") or []):
            _need(rule.get("id"), ctx.rid.id, "Microsoft.Network/virtualNetworks/subnets")
        for i, rule in enumerate(net.get("resourceAccessRules") or []):
            if not rule.get("resourceId"):
                raise ArmError(400, "InvalidValuesForRequestParameters",
                               f"properties.networkAcls.resourceAccessRules[{i}].resourceId is required.")
    ident = res.get("identity")
    if ident and "systemassigned" in (ident.get("type") or "").lower():
        old = (ctx.existing or {}).get("identity") or {}
        ident["principalId"] = old.get("principalId") or _guid_for("sa-mi", ctx.rid.id)
        ident["tenantId"] = SIM.config.tenant_id
    res["kind"] = res.get("kind") or "StorageV2"
    return res


def _sa_patch(ctx, existing, clean):
    out = deep_merge(existing, clean)
    fake = Ctx(ctx.req, ctx.rid, ctx.spec, None, existing, ctx.api_version)
    return _sa_build(fake, out)


def _sa_render(r):
    _props(r)["privateEndpointConnections"] = SIM.arm.private_endpoint_connections(r["id"])
    return r


def _blobsvc_build(ctx, res):
    if ctx.rid.name != "default":
        raise ArmError(400, "ResourceNameInvalid",
                       f"The blob service name must be 'default', not '{ctx.rid.name}'.")
    res.pop("location", None)
    return res


def _container_build(ctx, res):
    import re
    name = ctx.rid.name
    if not re.fullmatch(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name) and name != "$root":
        raise ArmError(400, "ContainerOperationFailure",
                       f"The specified resource name '{name}' is not a valid container name: 3-63 characters, "
                       "lower-case letters, digits and single hyphens.")
    p = _props(res)
    p.setdefault("publicAccess", "None")
    p["lastModifiedTime"] = now_iso()
    p["leaseStatus"] = "Unlocked"
    p["leaseState"] = "Available"
    p["hasImmutabilityPolicy"] = False
    p["hasLegalHold"] = False
    return res


def _container_list_view(item):
    # FIDELITY: BlobContainers_List (ListContainerItems of ListContainerItem) returns the container's
    # properties without the immutability policy and legal hold details its GET adds
    p = _props(item)
    p.pop("immutabilityPolicy", None)
    p.pop("legalHold", None)
    return item


def _pec_build(ctx, res):
    if ctx.existing is None:
        raise ArmError(404, "ResourceNotFound",
                       f"Private endpoint connection '{ctx.rid.name}' does not exist on storage account "
                       f"'{ctx.rid.names[0]}'. Connections are created by private endpoints.")
    p = _props(res)
    st = (p.get("privateLinkServiceConnectionState") or {}).get("status")
    if st not in ("Approved", "Rejected", "Pending", "Disconnected"):
        raise ArmError(400, "InvalidValuesForRequestParameters",
                       "properties.privateLinkServiceConnectionState.status must be Approved, Rejected, Pending or "
                       "Disconnected.")
    old = ctx.existing["properties"]
    if old["privateLinkServiceConnectionState"]["status"] == "Rejected" and st == "Approved":
        # FIDELITY: Storage refuses to approve a rejected connection; the endpoint must be recreated.
        raise ArmError(400, "OperationNotAllowed",
                       "A rejected private endpoint connection cannot be approved; recreate the private endpoint.")
    merged = copy.deepcopy(ctx.existing)
    merged["properties"]["privateLinkServiceConnectionState"] = {
        "status": st, "description": (p.get("privateLinkServiceConnectionState") or {}).get("description") or st,
        "actionRequired": "None"}
    return merged


# ==== Microsoft.KeyVault ===========================================================================
KVMOD = "azure.mgmt.keyvault.models"


def _vault_build(ctx, res):
    import re
    name = ctx.rid.name
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", name) or "--" in name:
        raise ArmError(400, "VaultNameNotValid",
                       f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric "
                       "characters. The name must begin with a letter, end with a letter or digit, and not contain "
                       "consecutive hyphens.")
    for other in _all_of("microsoft.keyvault/vaults"):
        if other["name"].lower() == name.lower() and other["id"].lower() != ctx.rid.id.lower():
            raise ArmError(409, "VaultAlreadyExists", f"The vault name '{name}' is already in use.")
    p = _props(res)
    if p.get("tenantId") != SIM.config.tenant_id:
        raise ArmError(400, "BadRequest", f"The tenant id '{p.get('tenantId')}' of vault '{name}' is not the tenant of "
                       f"the subscription ({SIM.config.tenant_id}).")
    old = (ctx.existing or {}).get("properties") or {}
    if old.get("enablePurgeProtection") and p.get("enablePurgeProtection") is False:
        raise ArmError(400, "BadRequest",
                       'The property "enablePurgeProtection" cannot be set to false. Enabling the purge protection '
                       "for a vault is an irreversible action.")
    if old.get("enablePurgeProtection"):
        p["enablePurgeProtection"] = True
    if p.get("enableSoftDelete") is False:
        raise ArmError(400, "BadRequest", "Soft delete cannot be disabled on a vault (always on since 2020).")
    p["enableSoftDelete"] = True
    p.setdefault("softDeleteRetentionInDays", 90)
    p.setdefault("enableRbacAuthorization", False)
    if not p["enableRbacAuthorization"] and p.get("accessPolicies") is None:
        p["accessPolicies"] = []
    p["vaultUri"] = f"https://{name.lower()}.vault.azure.net/"
    p.setdefault("publicNetworkAccess", "Enabled")
    return res


def _vault_render(r):
    pecs = []
    for pe in _all_of("microsoft.network/privateendpoints"):
        for c in pe["properties"].get("privateLinkServiceConnections") or []:
            if c["properties"]["privateLinkServiceId"].lower() == r["id"].lower():
                pecs.append({"id": f"{r['id']}/privateEndpointConnections/{pe['name']}",
                             "properties": {"privateEndpoint": {"id": pe["id"]},
                                            "privateLinkServiceConnectionState": c["properties"]["privateLinkServiceConnectionState"],
                                            "provisioningState": "Succeeded"}})
    if pecs:
        _props(r)["privateEndpointConnections"] = pecs
    return r


def _key_build(ctx, res):
    vault = ctx.parent
    p = _props(res)
    kty = p.get("kty") or "RSA"
    if kty not in ("RSA", "RSA-HSM", "EC", "EC-HSM"):
        raise ArmError(400, "BadRequest", f"Key type '{kty}' is not supported.")
    if kty.startswith("RSA"):
        size = p.get("keySize") or 2048
        if size not in (2048, 3072, 4096):
            raise ArmError(400, "BadRequest", f"RSA key size {size} is not valid (2048, 3072 or 4096).")
        p["keySize"] = size
    version = new_guid().replace("-", "")
    base = vault["properties"]["vaultUri"].rstrip("/")
    p["kty"] = kty
    p["keyUri"] = f"{base}/keys/{ctx.rid.name}"
    p["keyUriWithVersion"] = f"{base}/keys/{ctx.rid.name}/{version}"
    p.setdefault("attributes", {})
    p["attributes"].update({"enabled": p["attributes"].get("enabled", True), "created": 1700000000,
                            "updated": 1700000000, "recoveryLevel": "Recoverable" if vault["properties"].get(
                                "enablePurgeProtection") else "Recoverable+Purgeable", "exportable": False})
    p.setdefault("keyOps", ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"])
    res.pop("location", None)
    return res


def _key_list_view(item):
    # FIDELITY: Keys_List returns, as the vault's own key list documents, the key's identifier,
    # attributes and tags; its type, size and operations come with its GET only
    p = _props(item)
    item["properties"] = {k: p[k] for k in ("attributes", "keyUri", "keyUriWithVersion") if k in p}
    return item


def _secret_version(vault, name, p, value):
    """A new version of a secret: its value is stored, never rendered (ARM never returns it)."""
    import time
    version = new_guid().replace("-", "")
    base = vault["properties"]["vaultUri"].rstrip("/")
    p["value"] = value
    p["secretUri"] = f"{base}/secrets/{name}"
    p["secretUriWithVersion"] = f"{base}/secrets/{name}/{version}"
    a = p.setdefault("attributes", {})
    t = int(time.time())
    a.setdefault("enabled", True)
    a.setdefault("created", t)
    a["updated"] = t
    a["recoveryLevel"] = "Recoverable" if vault["properties"].get("enablePurgeProtection") else "Recoverable+Purgeable"


def _secret_build(ctx, res):
    import re
    name = ctx.rid.name
    if not re.fullmatch(r"[0-9a-zA-Z-]{1,127}", name):
        raise ArmError(400, "BadRequest", f"The secret name '{name}' is invalid: 1-127 letters, digits and dashes.")
    p = _props(res)
    value = p.get("value")
    if value is None:
        # FIDELITY: ARM deployments create a secret with its value; here a PUT without one is refused.
        raise ArmError(400, "BadRequest", "properties.value is required to create or update a secret.")
    if len(value.encode()) > 25 * 1024:
        raise ArmError(400, "BadRequest", "A secret value is limited to 25 KB.")
    old = ((ctx.existing or {}).get("properties") or {}).get("attributes") or {}
    if old.get("created"):
        p.setdefault("attributes", {})["created"] = old["created"]
    # every PUT is a new version (the latest is what readers get)
    _secret_version(ctx.parent, name, p, value)
    res.pop("location", None)
    return res


def _secret_patch(ctx, existing, clean):
    """PATCH: tags, contentType and attributes merged; a value, if given, is a new version."""
    res = deep_merge(existing, {k: v for k, v in clean.items() if k != "properties"})
    cp = dict(clean.get("properties") or {})
    value = cp.pop("value", None)
    res["properties"] = deep_merge(res.get("properties") or {}, cp)
    if value is not None:
        vault = SIM.arm.get(existing["id"].rsplit("/secrets/", 1)[0])
        _secret_version(vault, existing["name"], res["properties"], value)
    return res


def _secret_render(r):
    _props(r).pop("value", None)   # 'value' is never returned from the service
    return r


def vault_secrets(vault_id):
    """-> {name: (value, updated unix seconds)} of the vault's enabled secrets (the data plane's view)."""
    out = {}
    pre = (vault_id or "").rstrip("/").lower() + "/secrets/"
    for s in _all_of("microsoft.keyvault/vaults/secrets"):
        if s["id"].lower().startswith(pre):
            p = s["properties"]
            if (p.get("attributes") or {}).get("enabled", True):
                out[s["name"]] = (p.get("value"), (p.get("attributes") or {}).get("updated"))
    return out


def has_secret_access(vault, principal_id):
    """May principal_id get and list the vault's secrets (RBAC role or access policy)?"""
    vp = vault["properties"]
    if vp.get("enableRbacAuthorization"):
        for ra in _all_of("microsoft.authorization/roleassignments"):
            rp = ra["properties"]
            if rp["principalId"] != principal_id or not vault["id"].lower().startswith(rp["scope"].lower()):
                continue
            if ROLES.get(rp["roleDefinitionId"].rsplit("/", 1)[-1]) in (
                    "Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Administrator"):
                return True
        return False
    for ap in vp.get("accessPolicies") or []:
        if ap.get("objectId") == principal_id:
            perms = {k.lower() for k in ((ap.get("permissions") or {}).get("secrets") or [])}
            if {"get", "list"} <= perms or "all" in perms:
                return True
    return False


def find_vault(vault_id):
    r = SIM.arm.get(vault_id) if vault_id else None
    return r if r is not None and r.get("type", "").lower() == "microsoft.keyvault/vaults" else None


def find_key(vault_uri, key_name, key_version=None):
    """-> the key resource for a vault URI + key name (+ version) or None."""
    vu = (vault_uri or "").rstrip("/").lower()
    for k in _all_of("microsoft.keyvault/vaults/keys"):
        p = k["properties"]
        if p["keyUri"].lower() == f"{vu}/keys/{(key_name or '').lower()}":
            if key_version and not p["keyUriWithVersion"].lower().endswith("/" + key_version.lower()):
                return None
            return k
    return None


# ==== Microsoft.Databricks ==========================================================================
DBXMOD = "azure.mgmt.databricks.models"


def _dbx_busy(rid):
    # The real service answers concurrent writes with ConcurrentUpdateError ("Workspace update could not
    # be completed because it has been updated by another process").
    return ArmError(409, "ConcurrentUpdateError",
                    f"Call to Microsoft.Databricks/workspaces failed. Error message: Workspace update could not be "
                    f"completed because it has been updated by another process. (workspace '{rid.name}' has an "
                    "operation in progress)")


def _param(p, name):
    v = (p.get("parameters") or {}).get(name)
    return v.get("value") if isinstance(v, dict) else None


def _ws_build(ctx, res):
    p = _props(res)
    wid = _rid_of(ctx)
    sku = ((res.get("sku") or {}).get("name") or "").lower()
    compute = (p.get("computeMode") or "Hybrid")
    old = (ctx.existing or {}).get("properties") or {}
    if sku not in ("premium", "standard", "trial"):
        raise ArmError(400, "InvalidParameter",
                       f"sku.name must be premium, standard or trial (got '{(res.get('sku') or {}).get('name')}').")
    mrg = p.get("managedResourceGroupId")
    if compute == "Hybrid":
        if not mrg:
            raise ArmError(400, "InvalidParameter", "properties.managedResourceGroupId is required for a workspace with "
                           "classic compute (computeMode Hybrid).")
        r = parse(mrg)
        if r.kind != "resourceGroup" or (r.subscription or "").lower() != SIM.config.subscription_id:
            raise ArmError(400, "InvalidParameter",
                           f"properties.managedResourceGroupId '{mrg}' is not a resource group id of this subscription.")
        if r.resource_group.lower() == ctx.rid.resource_group.lower():
            raise ArmError(400, "InvalidParameter", "The managed resource group cannot be the workspace's own resource group.")
        existing_mrg = SIM.arm.get(mrg)
        if existing_mrg is not None and (existing_mrg.get("managedBy") or "").lower() != wid.lower():
            # FIDELITY: the real error text differs; the rule (the managed RG must not exist) is real.
            raise ArmError(409, "InvalidParameter",
                           f"The managed resource group '{r.resource_group}' already exists and is not managed by this "
                           "workspace. Provide a new resource group name.")
        if old.get("managedResourceGroupId") and old["managedResourceGroupId"].lower() != mrg.lower():
            raise ArmError(400, "InvalidParameter", "properties.managedResourceGroupId cannot be changed.")
    vnet_id = _param(p, "customVirtualNetworkId")
    if vnet_id:
        vnet = _need(vnet_id, wid, "Microsoft.Network/virtualNetworks")
        if vnet["location"] != res["location"]:
            raise ArmError(400, "InvalidParameter",
                           f"The virtual network {vnet['name']} is in {vnet['location']}; the workspace is in {res['location']}.")
        names = [_param(p, "customPublicSubnetName"), _param(p, "customPrivateSubnetName")]
        if not all(names):
            raise ArmError(400, "InvalidParameter", "customPublicSubnetName and customPrivateSubnetName are required with "
                           "customVirtualNetworkId.")
        for n in names:
            sub = SIM.arm.get(f"{vnet['id']}/subnets/{n}")
            if sub is None:
                raise ArmError(400, "InvalidResourceReference",
                               f"Subnet '{n}' was not found in virtual network '{vnet['name']}'.")
            sp = sub["properties"]
            dels = [d["properties"]["serviceName"].lower() for d in sp.get("delegations") or []]
            if "microsoft.databricks/workspaces" not in dels:
                raise ArmError(400, "SubnetMissingRequiredDelegation",
                               f"Subnet '{n}' requires any of the following delegation(s) "
                               "[Microsoft.Databricks/workspaces] to reference service association link.")
            # FIDELITY: VNet injection requires an NSG on both subnets (real rule; generic error code).
            if not _id_of(sp.get("networkSecurityGroup")):
                raise ArmError(400, "InvalidParameter",
                               f"Subnet '{n}' must have a network security group associated for VNet injection.")
        for other in _all_of("microsoft.databricks/workspaces"):
            if other["id"].lower() == wid.lower():
                continue
            op = other["properties"]
            if (_param(op, "customVirtualNetworkId") or "").lower() == vnet_id.lower() and \
                    {_param(op, "customPublicSubnetName"), _param(op, "customPrivateSubnetName")} & set(names):
                raise ArmError(400, "InvalidParameter",
                               f"The subnets {names} are already used by workspace '{other['name']}'; one workspace "
                               "per subnet pair.")
    elif _param(p, "customPublicSubnetName") or _param(p, "customPrivateSubnetName"):
        raise ArmError(400, "InvalidParameter", "Subnet names given without customVirtualNetworkId.")
    pna = p.get("publicNetworkAccess") or "Enabled"
    nsg_rules = p.get("requiredNsgRules") or "AllRules"
    if compute == "Hybrid" and pna == "Disabled" and nsg_rules == "AllRules":
        # FIDELITY: the service refuses a workspace without public access that still expects the NSG rules
        # for public control-plane connectivity (back-end Private Link needs NoAzureDatabricksRules).
        raise ArmError(400, "InvalidParameter",
                       "When publicNetworkAccess is Disabled, requiredNsgRules must be 'NoAzureDatabricksRules' "
                       "(or 'NoAzureServiceRules').")
    if compute == "Hybrid" and nsg_rules == "NoAzureDatabricksRules" and not vnet_id:
        raise ArmError(400, "InvalidParameter",
                       "requiredNsgRules 'NoAzureDatabricksRules' needs VNet injection (customVirtualNetworkId).")
    enc = (p.get("encryption") or {}).get("entities") or {}
    # FIDELITY: CMK (all three surfaces) is a premium-tier feature (real rule; generic error code).
    if (enc or _param(p, "prepareEncryption") or _param(p, "encryption")) and sku != "premium":
        raise ArmError(400, "InvalidParameter",
                       "Customer-managed keys need the premium SKU.")
    for ent in ("managedServices", "managedDisk"):
        e = enc.get(ent)
        if not e:
            continue
        kv = e.get("keyVaultProperties") or {}
        if (e.get("keySource") or "").lower() != "microsoft.keyvault":
            raise ArmError(400, "InvalidParameter", f"encryption.entities.{ent}.keySource must be Microsoft.Keyvault.")
        key = find_key(kv.get("keyVaultUri"), kv.get("keyName"), kv.get("keyVersion"))
        if key is None:
            raise ArmError(400, "InvalidParameter",
                           f"Key '{kv.get('keyName')}' version '{kv.get('keyVersion')}' was not found in key vault "
                           f"'{kv.get('keyVaultUri')}' (encryption.entities.{ent}).")
        vault = SIM.arm.get(key["id"].rsplit("/keys/", 1)[0])
        if not vault["properties"].get("enablePurgeProtection"):
            raise ArmError(400, "InvalidParameter",
                           f"Key vault '{vault['name']}' must have purge protection enabled for customer-managed keys.")
        # FIDELITY: the real service checks key access at create time (KeyVault access errors); the
        # AzureDatabricks first-party service principal has object id DATABRICKS_SP_OBJECT_ID here.
        if ent == "managedServices" and not _has_key_access(vault, DATABRICKS_SP_OBJECT_ID):
            raise ArmError(400, "InvalidParameter",
                           f"The AzureDatabricks application (object id {DATABRICKS_SP_OBJECT_ID}) has no "
                           f"get/wrapKey/unwrapKey access to key vault '{vault['name']}'. Grant 'Key Vault Crypto "
                           "Service Encryption User' (RBAC vault) or an access policy before enabling managed services CMK.")
    dbfs = _param(p, "encryption")
    if dbfs and (dbfs.get("keySource") or "").lower() == "microsoft.keyvault":
        if not (_param(p, "prepareEncryption") or old.get("storageAccountIdentity")):
            raise ArmError(400, "InvalidParameter",
                           "DBFS customer-managed key needs parameters.prepareEncryption first (storageAccountIdentity).")
        key = find_key(dbfs.get("keyvaulturi"), dbfs.get("KeyName"), dbfs.get("keyversion") or None)
        if key is None:
            raise ArmError(400, "InvalidParameter",
                           f"DBFS key '{dbfs.get('KeyName')}' was not found in '{dbfs.get('keyvaulturi')}'.")
        vault = SIM.arm.get(key["id"].rsplit("/keys/", 1)[0])
        sa_principal = (old.get("storageAccountIdentity") or {}).get("principalId")
        if sa_principal and not _has_key_access(vault, sa_principal):
            raise ArmError(400, "InvalidParameter",
                           f"The workspace storage identity {sa_principal} has no key access on vault '{vault['name']}'.")
    ac = p.get("accessConnector")
    if ac and ac.get("id"):
        _need(ac["id"], wid, "Microsoft.Databricks/accessConnectors")
    if (p.get("defaultStorageFirewall") or "") == "Enabled" and not (ac and ac.get("id")):
        raise ArmError(400, "InvalidParameter", "defaultStorageFirewall Enabled needs an accessConnector.")
    # server-populated (kept across updates)
    for k in ("workspaceId", "workspaceUrl", "createdDateTime", "storageAccountIdentity", "managedDiskIdentity",
              "diskEncryptionSetId", "privateEndpointConnections"):
        if old.get(k) is not None:
            p[k] = old[k]
    p.setdefault("privateEndpointConnections", [])
    p["isUcEnabled"] = True
    p.setdefault("authorizations", [{"principalId": DATABRICKS_SP_OBJECT_ID,
                                     "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}])
    p["createdBy"] = old.get("createdBy") or {"oid": (ctx.req.principal or {}).get("oid"),
                                              "applicationId": (ctx.req.principal or {}).get("appid")}
    p["updatedBy"] = {"oid": (ctx.req.principal or {}).get("oid"), "applicationId": (ctx.req.principal or {}).get("appid")}
    res["systemData"] = system_data(ctx.req.principal)
    return res


def _has_key_access(vault, principal_id):
    vp = vault["properties"]
    if vp.get("enableRbacAuthorization"):
        for ra in _all_of("microsoft.authorization/roleassignments"):
            rp = ra["properties"]
            if rp["principalId"] != principal_id:
                continue
            scope = rp["scope"].lower()
            if vault["id"].lower().startswith(scope):
                role = rp["roleDefinitionId"].rsplit("/", 1)[-1]
                if ROLES.get(role) in ("Key Vault Crypto Service Encryption User", "Key Vault Crypto User",
                                       "Key Vault Crypto Officer", "Key Vault Administrator", "Owner"):
                    return True
        return False
    for ap in vp.get("accessPolicies") or []:
        if ap.get("objectId") == principal_id:
            keys = [k.lower() for k in ((ap.get("permissions") or {}).get("keys") or [])]
            if {"get", "wrapkey", "unwrapkey"} <= set(keys) or "all" in keys:
                return True
    return False


def _ws_complete(ctx, res):
    p = _props(res)
    wid = res["id"]
    mrg = p.get("managedResourceGroupId")
    if mrg and SIM.arm.get(mrg) is None:
        r = parse(mrg)
        SIM.arm.put(mrg, {"id": f"/subscriptions/{SIM.config.subscription_id}/resourceGroups/{r.resource_group}",
                          "name": r.resource_group, "type": "Microsoft.Resources/resourceGroups",
                          "location": res["location"], "managedBy": wid,
                          "properties": {"provisioningState": "Succeeded"}})
    rec = SIM.workspace_by_arm_id(wid)
    if rec is None:
        rec = SIM.register_workspace(res["name"], res["location"], arm_id=wid,
                                     pricing_tier=((res.get("sku") or {}).get("name") or "premium").upper())
    p["workspaceId"] = rec["id"]
    p["workspaceUrl"] = rec["host"]
    p.setdefault("createdDateTime", now_iso())
    rec["region"] = res["location"]
    if _param(p, "prepareEncryption") and not p.get("storageAccountIdentity"):
        p["storageAccountIdentity"] = {"principalId": _guid_for("dbfs-mi", wid), "tenantId": SIM.config.tenant_id,
                                       "type": "SystemAssigned"}
    enc = (p.get("encryption") or {}).get("entities") or {}
    if enc.get("managedDisk") and mrg:
        des_name = f"dbdiskencryptionset{_guid_for('des', wid)[:12].replace('-', '')}"
        des_id = f"{SIM.arm.get(mrg)['id']}/providers/Microsoft.Compute/diskEncryptionSets/{des_name}"
        principal = _guid_for("des-mi", wid)
        if SIM.arm.get(des_id) is None:
            kv = enc["managedDisk"]["keyVaultProperties"]
            SIM.arm.put(des_id, {"id": des_id, "name": des_name, "type": "Microsoft.Compute/diskEncryptionSets",
                                 "location": res["location"],
                                 "identity": {"type": "SystemAssigned", "principalId": principal,
                                              "tenantId": SIM.config.tenant_id},
                                 "properties": {"activeKey": {"keyUrl": f"{kv['keyVaultUri'].rstrip('/')}/keys/"
                                                                        f"{kv['keyName']}/{kv['keyVersion']}"},
                                                "encryptionType": "EncryptionAtRestWithCustomerKey",
                                                "provisioningState": "Succeeded"}})
        p["managedDiskIdentity"] = {"principalId": principal, "tenantId": SIM.config.tenant_id, "type": "SystemAssigned"}
        p["diskEncryptionSetId"] = des_id
    dbfs = _param(p, "encryption")
    if mrg and _param(p, "storageAccountName") is None:
        p.setdefault("parameters", {})["storageAccountName"] = {"type": "String",
                                                                "value": "dbstorage" + _guid_for("dbfs", wid)[:13].replace("-", "")}
    if dbfs:
        p["parameters"]["encryption"]["type"] = "Object"
    _ws_dbfs_account(res, mrg)
    SIM.arm.put(wid, res)


def _ws_dbfs_account(ws, mrg):
    """The workspace's root (DBFS) storage account, which Azure Databricks creates in the managed
    resource group; private endpoints (blob/dfs) and NCC rules target it by id."""
    name = _param(_props(ws), "storageAccountName") if mrg else None
    if not name or SIM.arm.get(mrg) is None:
        return
    sid = f"{SIM.arm.get(mrg)['id']}/providers/Microsoft.Storage/storageAccounts/{name}"
    if SIM.arm.get(sid) is not None:
        return
    sku = _param(_props(ws), "storageAccountSkuName") or "Standard_GRS"
    # FIDELITY: the real account carries Databricks' deny assignment and firewall settings; here only
    # the fields the estate reads (id, endpoints, kind, sku, HNS) are modelled.
    SIM.arm.put(sid, {"id": sid, "name": name, "type": "Microsoft.Storage/storageAccounts",
                      "location": ws["location"], "kind": "StorageV2", "sku": {"name": sku},
                      "managedBy": ws["id"],
                      "properties": {"provisioningState": "Succeeded", "isHnsEnabled": True,
                                     "primaryLocation": ws["location"], "statusOfPrimary": "available",
                                     "creationTime": now_iso(),
                                     "primaryEndpoints": {k: f"https://{name}.{k}.core.windows.net/"
                                                          for k in ("blob", "dfs", "queue", "table", "file",
                                                                    "web")}}})


def _ws_on_delete(r):
    rec = SIM.workspace_by_arm_id(r["id"])
    if rec is not None:
        SIM.workspaces.pop(rec["id"], None)


def _ws_not_required(v):
    # computeMode arrived with the serverless workspaces (2025 previews; required in 2026-01-01).
    return () if v >= "2026-01-01" else ("properties.computeMode",)


def _ws_patch(ctx, existing, clean):
    out = copy.deepcopy(existing)
    if "tags" in clean:
        out["tags"] = clean["tags"]
    return out


def _ac_build(ctx, res):
    ident = res.get("identity") or {}
    t = (ident.get("type") or "").lower()
    if not t or t == "none":
        raise ArmError(400, "InvalidParameter", "An access connector needs a managed identity "
                       "(identity.type SystemAssigned or UserAssigned).")
    old = (ctx.existing or {}).get("identity") or {}
    if "systemassigned" in t:
        ident["principalId"] = old.get("principalId") or _guid_for("ac-mi", ctx.rid.id)
        ident["tenantId"] = SIM.config.tenant_id
    for uid in (ident.get("userAssignedIdentities") or {}):
        u = _need(uid, ctx.rid.id, "Microsoft.ManagedIdentity/userAssignedIdentities")
        ident["userAssignedIdentities"][uid] = {"principalId": u["properties"]["principalId"],
                                                "clientId": u["properties"]["clientId"]}
    res["identity"] = ident
    _props(res)["referedBy"] = []
    return res


# ==== Microsoft.Authorization ========================================================================
def _ra_build(ctx, res):
    name = ctx.rid.name
    if not GUID_RE.match(name):
        raise ArmError(400, "InvalidRoleAssignmentId",
                       f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
    p = _props(res)
    scope = ctx.rid.scope or f"/subscriptions/{SIM.config.subscription_id}"
    role = (p.get("roleDefinitionId") or "").rsplit("/", 1)[-1].lower()
    if role not in ROLES:
        raise ArmError(400, "RoleDefinitionDoesNotExist",
                       f"The specified role definition with ID '{role}' does not exist.")
    pid = p.get("principalId") or ""
    if not GUID_RE.match(pid):
        raise ArmError(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.")
    # FIDELITY: any well-formed principal id is accepted (ARM checks the directory; we do not model
    # every group/user the estate may grant to) -- looser.
    if ctx.existing is not None:
        ep = ctx.existing["properties"]
        if ep["principalId"] != pid or ep["roleDefinitionId"].rsplit("/", 1)[-1].lower() != role:
            raise ArmError(400, "RoleAssignmentUpdateNotPermitted",
                           "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
    for ra in _all_of("microsoft.authorization/roleassignments"):
        rp = ra["properties"]
        if ra["name"].lower() != name.lower() and rp["principalId"] == pid and \
                rp["scope"].lower() == scope.lower() and rp["roleDefinitionId"].rsplit("/", 1)[-1].lower() == role:
            raise ArmError(409, "RoleAssignmentExists", f"The role assignment already exists. ID: {ra['name']}")
    p["scope"] = scope
    p["roleDefinitionId"] = f"/subscriptions/{SIM.config.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    p.setdefault("principalType", "ServicePrincipal")
    t = now_iso()
    p["createdOn"] = ((ctx.existing or {}).get("properties") or {}).get("createdOn") or t
    p["updatedOn"] = t
    p["createdBy"] = (ctx.req.principal or {}).get("oid")
    p["updatedBy"] = (ctx.req.principal or {}).get("oid")
    res["id"] = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    return res


# ==== Microsoft.ManagedIdentity =====================================================================
def _uai_build(ctx, res):
    old = (ctx.existing or {}).get("properties") or {}
    p = _props(res)
    p["tenantId"] = SIM.config.tenant_id
    p["principalId"] = old.get("principalId") or _guid_for("uai-p", ctx.rid.id)
    p["clientId"] = old.get("clientId") or _guid_for("uai-c", ctx.rid.id)
    SIM.identities[p["clientId"]] = {"client_id": p["clientId"], "object_id": p["principalId"], "name": ctx.rid.id}
    return res


# ==== registry ======================================================================================
N = "Microsoft.Network/"
register(Spec(N + "virtualNetworks", NETMOD, "VirtualNetwork", NET, etag=True, build=_vnet_build,
              after_put=_vnet_after_put,
              render=lambda r: _inline_children("virtualNetworkPeerings", "virtualNetworkPeerings")(
                  _inline_children("subnets", "subnets")(r))))
register(Spec(N + "virtualNetworks/subnets", NETMOD, "Subnet", NET, etag=True, has_location=False,
              build=_subnet_build, render=_subnet_render))
register(Spec(N + "virtualNetworks/virtualNetworkPeerings", NETMOD, "VirtualNetworkPeering", NET, etag=True,
              has_location=False, build=_peering_build))
register(Spec(N + "networkSecurityGroups", NETMOD, "NetworkSecurityGroup", NET, etag=True,
              after_put=_nsg_after_put, render=_nsg_render))
register(Spec(N + "networkSecurityGroups/securityRules", NETMOD, "SecurityRule", NET, etag=True, has_location=False))
register(Spec(N + "routeTables", NETMOD, "RouteTable", NET, etag=True, after_put=_rt_after_put, render=_rt_render))
register(Spec(N + "routeTables/routes", NETMOD, "Route", NET, etag=True, has_location=False, build=_route_build))
register(Spec(N + "publicIPAddresses", NETMOD, "PublicIPAddress", NET, etag=True, build=_pip_build))
register(Spec(N + "natGateways", NETMOD, "NatGateway", NET, etag=True))
register(Spec(N + "azureFirewalls", NETMOD, "AzureFirewall", NET, etag=True, build=_firewall_build))
# A new PUT on a network resource supersedes its running one (no 409 on the same resource), but the
# rule collection groups of one policy are written one at a time.
register(Spec(N + "firewallPolicies", NETMOD, "FirewallPolicy", NET, etag=True, render=_fp_render,
              serialize_children=("ruleCollectionGroups",)))
register(Spec(N + "firewallPolicies/ruleCollectionGroups", NETMOD, "FirewallPolicyRuleCollectionGroup", NET,
              etag=True, has_location=False, build=_rcg_build, serialize_with_parent=True))
register(Spec(N + "ipGroups", NETMOD, "IpGroup", NET, etag=True))
register(Spec(N + "privateEndpoints", NETMOD, "PrivateEndpoint", NET, etag=True, build=_pe_build,
              after_put=_pe_after_put, on_delete=_pe_on_delete, render=_pe_render))
register(Spec(N + "privateEndpoints/privateDnsZoneGroups", NETMOD, "PrivateDnsZoneGroup", NET, etag=True,
              has_location=False, build=_dzg_build, render=_dzg_render))
register(Spec(N + "privateDnsZones", DNSMOD, "PrivateZone", DNS, etag=True, global_location=True,
              build=_zone_build, render=_zone_render))
register(Spec(N + "privateDnsZones/virtualNetworkLinks", DNSMOD, "VirtualNetworkLink", DNS, etag=True,
              global_location=True, build=_link_build))
register(Spec(N + "privateDnsZones/A", DNSMOD, "RecordSet", DNS, etag=True, has_location=False, lro=False,
              state_in_properties=False))
register(Spec(N + "dnsZones", PUBDNSMOD, "Zone", PUBDNS, etag=True, global_location=True, build=_pubzone_build))
register(Spec(N + "dnsZones/CNAME", PUBDNSMOD, "RecordSet", PUBDNS, etag=True, has_location=False, lro=False,
              state_in_properties=False, build=_cname_build))
register(Spec("Microsoft.Storage/storageAccounts", STMOD, "StorageAccountCreateParameters", STORAGE,
              update_model="StorageAccountUpdateParameters", build=_sa_build, patch=_sa_patch, render=_sa_render))
register(Spec("Microsoft.Storage/storageAccounts/blobServices", STMOD, "BlobServiceProperties", STORAGE,
              has_location=False, lro=False, build=_blobsvc_build, provisioning_state=False))
register(Spec("Microsoft.Storage/storageAccounts/blobServices/containers", STMOD, "BlobContainer", STORAGE,
              has_location=False, lro=False, etag=True, build=_container_build, provisioning_state=False,
              list_view=_container_list_view, list_model="ListContainerItem"))
register(Spec("Microsoft.Storage/storageAccounts/privateEndpointConnections", STMOD, "PrivateEndpointConnection",
              STORAGE, has_location=False, lro=False, build=_pec_build))
register(Spec("Microsoft.KeyVault/vaults", KVMOD, "VaultCreateOrUpdateParameters", KV,
              update_model="VaultPatchParameters", build=_vault_build, render=_vault_render))
register(Spec("Microsoft.KeyVault/vaults/keys", KVMOD, "KeyCreateParameters", KV, has_location=False, lro=False,
              put_existing="return", build=_key_build, provisioning_state=False, list_view=_key_list_view, list_model="Key"))
register(Spec("Microsoft.KeyVault/vaults/secrets", KVMOD, "SecretCreateOrUpdateParameters", KV, has_location=False,
              lro=False, update_model="SecretPatchParameters", build=_secret_build, patch=_secret_patch,
              render=_secret_render))
register(Spec("Microsoft.Databricks/workspaces", DBXMOD, "Workspace", DBX, update_model="WorkspaceUpdate",
              build=_ws_build, on_complete=_ws_complete, on_delete=_ws_on_delete, conflict_when_busy=True,
              busy_error=_dbx_busy, patch=_ws_patch, patch_lro=True, not_required=_ws_not_required))
register(Spec("Microsoft.Databricks/accessConnectors", DBXMOD, "AccessConnector", DBX_AC,
              update_model="AccessConnectorUpdate", build=_ac_build))
register(Spec("Microsoft.Authorization/roleAssignments", "azure.mgmt.authorization.v2022_04_01.models",
              "RoleAssignmentCreateParameters", AUTHZ, has_location=False, lro=False, extension=True,
              build=_ra_build))
register(Spec("Microsoft.ManagedIdentity/userAssignedIdentities", "azure.mgmt.msi.v2024_11_30.models", "Identity",
              MSI, lro=False, build=_uai_build))
register(Spec("Microsoft.Compute/diskEncryptionSets", NETMOD, "Resource", ("2022-07-02", "2023-04-02", "2024-03-02"),
              read_only=True))


# ==== actions (POST) =================================================================================
@action("Microsoft.Storage/storageAccounts", "listKeys")
def _list_keys(req, rid):
    sa = SIM.arm.get(rid.id)
    if sa is None:
        raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Storage/storageAccounts/{rid.name}' under "
                       f"resource group '{rid.resource_group}' was not found.")
    if sa["properties"].get("allowSharedKeyAccess") is False:
        pass  # keys are still listed; data-plane use is refused by the real service
    import base64
    k = base64.b64encode(hashlib.sha512(sa["id"].lower().encode()).digest()).decode()
    return {"keys": [{"keyName": "key1", "value": k, "permissions": "FULL"},
                     {"keyName": "key2", "value": k[::-1], "permissions": "FULL"}]}


def role_definitions(req, scope):
    flt = req.query.get("$filter") or ""
    items = []
    for gid, name in ROLES.items():
        if "roleName eq" in flt and flt.split("roleName eq", 1)[1].strip().strip("'") != name:
            continue
        items.append({"id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{gid}", "name": gid,
                      "type": "Microsoft.Authorization/roleDefinitions",
                      "properties": {"roleName": name, "type": "BuiltInRole", "assignableScopes": ["/"]}})
    return items


