"""Unity Catalog model: catalogs: create, update, delete, list, workspace visibility."""

from __future__ import annotations

from typing import Any

from .base import UCError, not_found, already_exists, invalid, _lname, _locked
from .objects import Catalog, Schema


class CatalogOps:
    """Mixin of MetastoreOps; self is a Metastore."""

    @_locked
    def get_catalog(self, name: str) -> "Catalog":
        c = self.catalogs.get(str(name).lower())
        if c is None:
            raise not_found("CATALOG", name)
        return c

    @_locked
    def create_catalog(self, name: str, owner: str, *, comment: str | None = None,
                       properties: dict | None = None, storage_root: str | None = None,
                       provider_name: str | None = None, share_name: str | None = None,
                       connection_name: str | None = None, options: dict | None = None,
                       if_not_exists: bool = False) -> Catalog:
        """MANAGED_CATALOG, or DELTASHARING_CATALOG when provider_name+share_name are given.
        A managed catalog needs a storage root: its own (under an external location) or the
        metastore's."""
        key = _lname(name, "Catalog")
        if key in self.catalogs:
            if if_not_exists:
                return self.catalogs[key]
            raise already_exists("CATALOG", name)
        ctype = "MANAGED_CATALOG"
        if provider_name or share_name:
            if not (provider_name and share_name):
                raise invalid("provider_name and share_name must be given together.")
            if storage_root:
                raise invalid("storage_root cannot be set on a catalog created from a share.")
            prov = self.get_provider(provider_name)
            pms = self.store.metastore_by_global_id(prov.data_provider_global_metastore_id)
            share = pms.get_share(share_name)
            self._check_share_access(pms, share)
            ctype = "DELTASHARING_CATALOG"
        elif connection_name:
            ctype = "FOREIGN_CATALOG"
        else:
            if storage_root:
                self._check_under_location(storage_root, "catalog storage_root")
            elif not self.storage_root:
                raise invalid("Metastore storage root URL does not exist. Please provide a "
                              "storage location for the catalog (for example 'CREATE CATALOG "
                              "myCatalog MANAGED LOCATION '<location-path>'').",
                              "STORAGE_ROOT_REQUIRED")
        c = Catalog(self, key, owner, comment=comment, properties=properties,
                    storage_root=storage_root, provider_name=provider_name and
                    provider_name.lower(), share_name=share_name and share_name.lower(),
                    connection_name=connection_name, options=options, catalog_type=ctype)
        self.catalogs[key] = c
        if ctype == "MANAGED_CATALOG":
            s = Schema(c, "information_schema", "System user")
            s.comment = "Information schema (auto-generated)"
            c.schemas["information_schema"] = s
            c.schemas["default"] = Schema(c, "default", owner,
                                          comment="Default schema (auto-created)")
        return c

    @_locked
    def update_catalog(self, name: str, by: str | None = None, **fields: Any) -> Catalog:
        """fields: comment, properties (replaces), owner, isolation_mode (OPEN|ISOLATED),
        new_name, options."""
        c = self.get_catalog(name)
        if c.catalog_type == "SYSTEM_CATALOG" and fields:
            raise UCError(403, "PERMISSION_DENIED", "The system catalog cannot be modified.")
        if "isolation_mode" in fields and fields["isolation_mode"] is not None:
            mode = str(fields.pop("isolation_mode")).upper()
            if mode not in ("OPEN", "ISOLATED"):
                raise invalid(f"isolation_mode: expected OPEN or ISOLATED, got '{mode}'.")
            if mode == "ISOLATED" and c.isolation_mode != "ISOLATED" and self.store:
                # like UC: the workspace making the change is bound automatically
                ws = fields.pop("_workspace_id", None)
                if ws is not None:
                    c.bindings.setdefault(int(ws), "BINDING_TYPE_READ_WRITE")
            c.isolation_mode = mode
        fields.pop("_workspace_id", None)
        new_name = fields.pop("new_name", None)
        self._apply(c, fields)
        if new_name and new_name.lower() != c.name:
            nk = _lname(new_name, "Catalog")
            if nk in self.catalogs:
                raise already_exists("CATALOG", new_name)
            del self.catalogs[c.name]
            c.name = nk
            self.catalogs[nk] = c
        c.touch(by)
        return c

    @_locked
    def delete_catalog(self, name: str, force: bool = False) -> None:
        c = self.get_catalog(name)
        if c.catalog_type == "SYSTEM_CATALOG":
            raise UCError(403, "PERMISSION_DENIED", "The system catalog cannot be deleted.")
        user = [s for s in c.schemas.values() if s.name not in ("information_schema", "default")
                or s.tables or s.volumes or s.functions]
        if user and not force:
            raise invalid(f"Catalog '{c.name}' is not empty. The catalog has "
                          f"{len(user)} schemas ({', '.join(s.name for s in user)}).",
                          "CATALOG_NOT_EMPTY")
        del self.catalogs[c.name]

    @_locked
    def list_catalogs(self, workspace_id: int | None = None) -> list[Catalog]:
        """Catalogs visible from workspace_id (ISOLATED ones only when bound), sorted by name."""
        return sorted((c for c in self.catalogs.values() if self.catalog_visible(c, workspace_id)),
                      key=lambda c: c.name)

    def catalog_visible(self, c: Catalog, workspace_id: int | None) -> bool:
        if workspace_id is None or c.isolation_mode != "ISOLATED":
            return True
        return int(workspace_id) in c.bindings

    @_locked
    def check_catalog_access(self, name: str, workspace_id: int | None,
                             write: bool = False) -> Catalog:
        """get_catalog + the workspace-binding check (ISOLATED catalog not bound -> 403)."""
        c = self.get_catalog(name)
        if workspace_id is not None and c.isolation_mode == "ISOLATED":
            b = c.bindings.get(int(workspace_id))
            if b is None:
                raise UCError(403, "PERMISSION_DENIED",
                              f"Catalog '{c.name}' is not accessible in current workspace.",
                              "CATALOG_NOT_ACCESSIBLE_IN_WORKSPACE")
            if write and b == "BINDING_TYPE_READ_ONLY":
                raise UCError(403, "PERMISSION_DENIED",
                              f"Catalog '{c.name}' is read-only in the current workspace.",
                              "CATALOG_READ_ONLY_IN_WORKSPACE")
        return c

    def _writable_catalog(self, c: Catalog) -> None:
        if c.catalog_type == "DELTASHARING_CATALOG":
            raise UCError(403, "PERMISSION_DENIED",
                          f"Catalog '{c.name}' is a Delta Sharing catalog and is read-only.",
                          "READ_ONLY_CATALOG")
        if c.catalog_type == "SYSTEM_CATALOG":
            raise UCError(403, "PERMISSION_DENIED", "The system catalog is read-only.",
                          "READ_ONLY_CATALOG")
