"""Unity Catalog model: a metastore (all securable operations mixed in), the
account's store of metastores and workspace assignments, and the process-wide UC."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from .base import UCError, invalid, norm_url
from .objects import (Securable, Catalog, Schema, StorageCredential, ExternalLocation, Share,
                      Recipient, Provider, Resolved)
from .catalogs import CatalogOps
from .schemas import SchemaOps
from .tables import TableOps
from .volumes import VolumeOps
from .functions import FunctionOps
from .storage import StorageOps
from .grants import GrantOps
from .sharing import SharingOps


SYSTEM_SCHEMAS = ("information_schema", "access", "billing", "compute", "storage")


class _NullLock:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


_NULL_LOCK = _NullLock()


class MetastoreOps(CatalogOps, SchemaOps, TableOps, VolumeOps, FunctionOps, StorageOps,
                   GrantOps, SharingOps):
    """Operations on one metastore; obtained with UC.get_metastore(id) or
    UC.for_workspace(ws). One mixin per securable family (catalogs.py, schemas.py, ...)."""

    # Metastore subclasses this class (see below); self is a Metastore.

    def _lock(self):
        return self.store.lock if self.store else _NULL_LOCK

    def _apply(self, obj: Securable, fields: dict, extra: tuple = ()) -> None:
        for k, v in fields.items():
            if k == "owner":
                if v is not None:
                    if not v:
                        raise invalid("owner must not be empty.")
                    obj.owner = v
            elif k == "comment":
                obj.comment = v
            elif k == "properties":
                if v is not None and not isinstance(v, dict):
                    raise invalid("properties: expected an object of strings.")
                obj.properties = {str(a): str(b) for a, b in (v or {}).items()}
            elif k == "options" and hasattr(obj, "options"):
                obj.options = dict(v or {})
            elif k in extra:
                setattr(obj, k, v)
            else:
                raise invalid(f"Field '{k}' cannot be updated on {obj.kind.lower()} "
                              f"'{obj.full_name}'.")


class Metastore(MetastoreOps, Securable):
    kind = "METASTORE"
    # "External data access": off by default, as in Databricks; credential vending is refused
    # while it is off (a class default, so metastores pickled before the field read as off)
    external_access_enabled = False

    def __init__(self, name: str, region: str, owner: str, storage_root: str | None = None,
                 metastore_id: str | None = None):
        super().__init__(name, owner)
        self.metastore_id = metastore_id or str(uuid.uuid4())
        self.region = region
        self.cloud = "azure"
        self.storage_root = storage_root
        self.delta_sharing_scope = "INTERNAL_AND_EXTERNAL"
        self.delta_sharing_organization_name: str | None = None
        self.catalogs: dict[str, Catalog] = {}
        self.storage_credentials: dict[str, StorageCredential] = {}
        self.external_locations: dict[str, ExternalLocation] = {}
        self.shares: dict[str, Share] = {}
        self.recipients: dict[str, Recipient] = {}
        self.providers: dict[str, Provider] = {}
        self.store: "UCStore | None" = None

    @property
    def global_metastore_id(self) -> str:
        return f"{self.cloud}:{self.region}:{self.metastore_id}"

    @property
    def full_name(self) -> str:
        return self.metastore_id

    def info(self) -> dict:
        return {
            "metastore_id": self.metastore_id, "name": self.name, "region": self.region,
            "cloud": self.cloud, "owner": self.owner, "storage_root": self.storage_root,
            "global_metastore_id": self.global_metastore_id,
            "delta_sharing_scope": self.delta_sharing_scope,
            "delta_sharing_organization_name": self.delta_sharing_organization_name,
            "privilege_model_version": "1.0",
            "external_access_enabled": bool(self.external_access_enabled),
            "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "updated_by": self.updated_by,
        }


class UCStore:
    """All metastores of the account + workspace assignments. The process-wide one is UC."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.metastores: dict[str, Metastore] = {}
        self.assignments: dict[int, tuple[str, str | None]] = {}   # ws -> (ms id, default cat)
        self._reset_hooks: list = []

    def reset(self) -> None:
        with self.lock:
            self.metastores.clear()
            self.assignments.clear()
            for h in list(self._reset_hooks):
                h()

    def __getstate__(self) -> dict:
        # Metastores point back at their store: pickling one pickles this, without the lock and
        # the reset hooks (they belong to the running process).
        return {"metastores": self.metastores, "assignments": self.assignments}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self.metastores.update(state["metastores"])
        self.assignments.update(state["assignments"])

    def dump_state(self) -> bytes:
        """The whole model (metastores, every securable, assignments) as bytes, for --state-dir."""
        import pickle
        with self.lock:
            return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    def load_state(self, data: bytes) -> None:
        """Replace the model with one written by dump_state() (a restart with --state-dir)."""
        import pickle
        with self.lock:
            other = pickle.loads(data)  # noqa: S301 - the simulator's own state file
            self.metastores.clear()
            self.assignments.clear()
            for m in other.metastores.values():
                m.store = self
            self.metastores.update(other.metastores)
            self.assignments.update(other.assignments)

    def on_reset(self, fn) -> None:
        """Register a callback run by reset() (other stores: warehouses, jobs, files...)."""
        self._reset_hooks.append(fn)

    # -- metastores ---------------------------------------------------------------------------
    def create_metastore(self, name: str, region: str, owner: str,
                         storage_root: str | None = None,
                         metastore_id: str | None = None) -> Metastore:
        """One metastore per region (400 like the real account API otherwise)."""
        with self.lock:
            if not name:
                raise invalid("metastore_info.name is required.")
            if not region:
                raise invalid("metastore_info.region is required.")
            region = region.lower()
            for m in self.metastores.values():
                if m.region == region:
                    raise invalid(f"This account already has a metastore in region {region} "
                                  f"({m.metastore_id}). Only one metastore per region is "
                                  "allowed.", "METASTORE_ALREADY_EXISTS_IN_REGION")
            if storage_root:
                norm_url(storage_root)
            m = Metastore(name, region, owner, storage_root, metastore_id)
            m.store = self
            self.metastores[m.metastore_id] = m
            syscat = Catalog(m, "system", "System user", catalog_type="SYSTEM_CATALOG",
                             comment="System catalog (auto-created)")
            for sname in SYSTEM_SCHEMAS:
                syscat.schemas[sname] = Schema(syscat, sname, "System user")
            m.catalogs["system"] = syscat
            return m

    def get_metastore(self, metastore_id: str) -> Metastore:
        with self.lock:
            m = self.metastores.get(str(metastore_id).lower())
            if m is None:
                raise UCError(404, "NOT_FOUND", f"Metastore '{metastore_id}' does not exist.",
                              "METASTORE_DOES_NOT_EXIST")
            return m

    def list_metastores(self) -> list[Metastore]:
        with self.lock:
            return sorted(self.metastores.values(), key=lambda m: m.created_at)

    def update_metastore(self, metastore_id: str, by: str | None = None,
                         **fields: Any) -> Metastore:
        """fields: name/new_name, owner, storage_root (only when unset), delta_sharing_scope,
        delta_sharing_organization_name, delta_sharing_recipient_token_lifetime_in_seconds,
        external_access_enabled."""
        with self.lock:
            m = self.get_metastore(metastore_id)
            for k, v in fields.items():
                if v is None:
                    continue
                if k in ("name", "new_name"):
                    m.name = v
                elif k == "owner":
                    m.owner = v
                elif k == "storage_root":
                    if m.storage_root and m.storage_root != v:
                        raise invalid("The metastore storage root cannot be changed once set.")
                    norm_url(v)
                    m.storage_root = v
                elif k in ("delta_sharing_scope", "delta_sharing_organization_name"):
                    setattr(m, k, v)
                elif k == "external_access_enabled":
                    if not isinstance(v, bool):
                        raise invalid("metastore_info.external_access_enabled must be a boolean.")
                    m.external_access_enabled = v
                elif k == "delta_sharing_recipient_token_lifetime_in_seconds":
                    pass
                else:
                    raise invalid(f"Field '{k}' cannot be updated on a metastore.")
            m.touch(by)
            return m

    def delete_metastore(self, metastore_id: str, force: bool = False) -> None:
        with self.lock:
            m = self.get_metastore(metastore_id)
            users = [c for c in m.catalogs.values() if c.catalog_type != "SYSTEM_CATALOG"]
            if users and not force:
                raise invalid(f"Metastore {m.metastore_id} is not empty: it has "
                              f"{len(users)} catalog(s). Use force=true.", "METASTORE_NOT_EMPTY")
            assigned = [ws for ws, (mid, _) in self.assignments.items() if mid == m.metastore_id]
            if assigned and not force:
                raise invalid(f"Metastore {m.metastore_id} is assigned to workspace(s) "
                              f"{', '.join(map(str, assigned))}.", "METASTORE_IN_USE")
            for ws in assigned:
                del self.assignments[ws]
            del self.metastores[m.metastore_id]

    def find_metastore_by_global_id(self, gid: str) -> Metastore | None:
        with self.lock:
            for m in self.metastores.values():
                if m.global_metastore_id == str(gid).lower() or \
                        m.global_metastore_id == str(gid):
                    return m
            return None

    def metastore_by_global_id(self, gid: str | None) -> Metastore:
        m = self.find_metastore_by_global_id(gid or "")
        if m is None:
            raise UCError(404, "NOT_FOUND", f"Provider metastore '{gid}' does not exist.",
                          "METASTORE_DOES_NOT_EXIST")
        return m

    # -- assignments --------------------------------------------------------------------------
    def assign(self, workspace_id: int, metastore_id: str,
               default_catalog_name: str | None = None, region: str | None = None) -> None:
        """Assign a workspace (its region given by the caller, from SIM.workspaces) to a
        metastore; the regions must match. Re-assigning to another metastore is allowed (like
        the real API, the old assignment is replaced)."""
        with self.lock:
            m = self.get_metastore(metastore_id)
            if region is not None and region.lower().replace(" ", "") != m.region:
                raise invalid(f"Workspace {workspace_id} is in region {region} but metastore "
                              f"{m.metastore_id} is in region {m.region}. A workspace can only "
                              "be assigned to a metastore in the same region.",
                              "REGION_MISMATCH")
            self.assignments[int(workspace_id)] = (m.metastore_id, default_catalog_name)

    def unassign(self, workspace_id: int, metastore_id: str | None = None) -> None:
        with self.lock:
            cur = self.assignments.get(int(workspace_id))
            if cur is None or (metastore_id and cur[0] != metastore_id):
                raise UCError(404, "NOT_FOUND", f"Workspace {workspace_id} is not assigned to "
                              f"metastore {metastore_id}.", "METASTORE_ASSIGNMENT_DOES_NOT_EXIST")
            del self.assignments[int(workspace_id)]

    def assignment(self, workspace_id: int) -> tuple[str, str | None] | None:
        with self.lock:
            return self.assignments.get(int(workspace_id))

    def for_workspace(self, workspace_id: int) -> Metastore:
        """The metastore assigned to a workspace; none -> 404 METASTORE_DOES_NOT_EXIST."""
        with self.lock:
            a = self.assignments.get(int(workspace_id))
            if a is None:
                raise UCError(404, "METASTORE_DOES_NOT_EXIST",
                              "No metastore assigned for the current workspace.",
                              "METASTORE_DOES_NOT_EXIST")
            return self.get_metastore(a[0])


UC = UCStore()


def resolve(metastore: Metastore, full_name: str) -> Resolved:
    """Module-level alias of Metastore.resolve (see there)."""
    return metastore.resolve(full_name)
