"""ARM resource store: id -> resource (as GET returns it), case-insensitive ids like ARM."""
import threading

from ..state import new_guid

PEC_TYPE = "Microsoft.Storage/storageAccounts/privateEndpointConnections"


def norm(resource_id):
    return "/" + resource_id.strip("/").lower()


class ArmStore:
    def __init__(self, sim):
        self.sim = sim
        self.lock = sim.lock if sim is not None else threading.RLock()
        self.resources = {}     # norm id -> resource dict
        self.meta = {}          # norm id -> {"api_version", "busy_op", "created_by"...}
        self.operations = {}    # operation id -> operation dict

    # ---- basic store -------------------------------------------------------------------------
    def get(self, resource_id):
        with self.lock:
            return self.resources.get(norm(resource_id))

    def exists(self, resource_id):
        return self.get(resource_id) is not None

    def put(self, resource_id, resource, **meta):
        with self.lock:
            k = norm(resource_id)
            self.resources[k] = resource
            self.meta.setdefault(k, {}).update(meta)
            return resource

    def delete(self, resource_id):
        """Delete a resource and everything under it; -> number removed."""
        with self.lock:
            k = norm(resource_id)
            gone = [x for x in self.resources if x == k or x.startswith(k + "/")]
            for x in gone:
                self.resources.pop(x, None)
                self.meta.pop(x, None)
            return len(gone)

    def children(self, parent_id, type_segment=None):
        """Direct children of parent_id: resources whose id is parent_id + [/providers/ns]/type/name."""
        with self.lock:
            p = norm(parent_id)
            out = []
            for k, r in self.resources.items():
                if not k.startswith(p + "/"):
                    continue
                rest = k[len(p) + 1:].split("/")
                if rest and rest[0] == "providers":
                    rest = rest[2:]
                if len(rest) != 2:
                    continue
                if type_segment and rest[0] != type_segment.lower():
                    continue
                out.append(r)
            return out

    def all(self):
        with self.lock:
            return list(self.resources.values())

    def dump(self):
        with self.lock:
            return {"resources": self.resources, "meta": {k: {kk: vv for kk, vv in v.items() if kk != "busy_op"}
                                                          for k, v in self.meta.items()}}

    def load(self, data):
        with self.lock:
            self.resources = dict(data.get("resources") or {})
            self.meta = dict(data.get("meta") or {})

    # ---- private endpoint connections (storage accounts) ---------------------------------------
    def add_private_endpoint_connection(self, storage_account_id, group_id, pe_name, pe_id=None,
                                        status="Pending", description=None):
        """Create a privateEndpointConnection on a storage account; -> the connection's ARM id.

        Used by ARM private endpoints (Approved when the creator has rights) and by the account API's NCC
        private endpoint rules (Pending until approved through ARM PUT on the connection).
        """
        with self.lock:
            sa = self.get(storage_account_id)
            if sa is None:
                raise KeyError(f"storage account {storage_account_id} not found")
            sa_id = sa["id"]
            name = f"{pe_name}.{new_guid()}"
            conn_id = f"{sa_id}/privateEndpointConnections/{name}"
            if pe_id is None:
                # FIDELITY: NCC endpoints live in a Databricks-managed subscription we do not model.
                pe_id = ("/subscriptions/00000000-0000-0000-0000-00000000dbdb/resourceGroups/"
                         f"databricks-ncc/providers/Microsoft.Network/privateEndpoints/{pe_name}")
            conn = {"id": conn_id, "name": name, "type": PEC_TYPE,
                    "properties": {"privateEndpoint": {"id": pe_id},
                                   "privateLinkServiceConnectionState": {
                                       "status": status,
                                       "description": description or ("Auto-Approved" if status == "Approved"
                                                                       else "Awaiting approval"),
                                       "actionRequired": "None"},
                                   "provisioningState": "Succeeded",
                                   "groupIds": [group_id]}}
            self.put(conn_id, conn, group_id=group_id)
            return conn_id

    def private_endpoint_connection_status(self, conn_id):
        """-> 'Pending' | 'Approved' | 'Rejected' | 'Disconnected' (KeyError if unknown)."""
        with self.lock:
            c = self.get(conn_id)
            if c is None:
                raise KeyError(f"private endpoint connection {conn_id} not found")
            return c["properties"]["privateLinkServiceConnectionState"]["status"]

    def private_endpoint_connections(self, storage_account_id):
        return self.children(storage_account_id, "privateEndpointConnections")
