"""Parsing ARM resource ids."""
import re

from ..errors import ArmError


class ResourceId:
    """Parsed id. .subscription .resource_group .namespace .types (list) .names (list)
    .type ("Microsoft.Network/virtualNetworks/subnets") .name .parent (id str or None)
    .scope (for extension resources: the id of what it extends) .kind ("subscription",
    "resourceGroup", "resource", "resourceGroups" (collection)...)."""

    def __init__(self, raw):
        self.raw = raw
        self.id = "/" + raw.strip("/")
        self.subscription = None
        self.resource_group = None
        self.namespace = None
        self.types = []
        self.names = []
        self.scope = None
        self.kind = None
        self.collection = False

    @property
    def type(self):
        if self.kind == "resourceGroup":
            return "Microsoft.Resources/resourceGroups"
        if self.namespace:
            return self.namespace + "/" + "/".join(self.types)
        return None

    @property
    def type_key(self):
        return (self.type or "").lower()

    @property
    def name(self):
        if self.kind == "resourceGroup":
            return self.resource_group
        return self.names[-1] if self.names else None

    @property
    def parent(self):
        """Id of the parent resource (nested) or None for top-level."""
        if self.kind == "resource" and len(self.types) > 1:
            segs = self.id.split("/")
            return "/".join(segs[:-2])
        return None

    @property
    def rg_id(self):
        if self.subscription and self.resource_group:
            return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
        return None


def parse(path):
    """Parse a request path into a ResourceId; raises ArmError(400/404) for malformed ids."""
    segs = [s for s in path.strip("/").split("/")]
    rid = ResourceId(path)
    if len(segs) < 2 or segs[0].lower() != "subscriptions":
        rid.kind = "root"
        return rid
    rid.subscription = segs[1]
    rest = segs[2:]
    if not rest:
        rid.kind = "subscription"
        return rid
    # Extension resources: the last /providers/ splits scope and the provider part.
    prov_idx = None
    for i in range(len(rest) - 1, -1, -1):
        if rest[i].lower() == "providers":
            prov_idx = i
            break
    head = rest if prov_idx is None else rest[:prov_idx]
    tail = [] if prov_idx is None else rest[prov_idx + 1:]
    if head and head[0].lower() == "resourcegroups":
        if len(head) == 1:
            rid.kind = "resourceGroups"
            rid.collection = True
            return rid
        rid.resource_group = head[1]
        if len(head) == 2 and not tail:
            rid.kind = "resourceGroup"
            return rid
        if len(head) == 3 and head[2].lower() == "resources" and not tail:
            rid.kind = "rgResources"
            return rid
        if len(head) > 2 and prov_idx is None:
            raise ArmError(400, "InvalidResourceId", f"The resource id '{path}' is not valid.")
    elif head:
        if head == ["resources"] or (len(head) == 1 and head[0].lower() == "resources"):
            rid.kind = "subResources"
            return rid
        raise ArmError(400, "InvalidResourceId", f"The resource id '{path}' is not valid.")
    if prov_idx is None:
        rid.kind = "subscription"
        return rid
    # scope of an extension resource = the path before the last /providers/ when that path is itself
    # a resource (contains an earlier /providers/ or is a subscription/resource group).
    scope_segs = segs[:2 + prov_idx]
    if not tail:
        rid.kind = "providers"
        return rid
    rid.namespace = tail[0]
    pairs = tail[1:]
    if len(pairs) == 0:
        rid.kind = "provider"
        return rid
    rid.types = pairs[0::2]
    rid.names = pairs[1::2]
    if len(rid.types) > len(rid.names):
        rid.collection = True
    rid.kind = "resource"
    inner = [s.lower() for s in scope_segs[2:]]
    if "providers" in inner:
        rid.scope = "/" + "/".join(scope_segs)
    elif rid.namespace.lower() == "microsoft.authorization" or (
            rid.resource_group is None and rid.namespace):
        rid.scope = "/" + "/".join(scope_segs)
    if rid.scope and "providers" in inner:
        # keep resource group of the scope for listing purposes
        pass
    return rid


GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
