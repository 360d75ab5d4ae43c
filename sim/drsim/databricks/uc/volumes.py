"""Unity Catalog model: volumes of a schema."""

from __future__ import annotations

from typing import Any

from .base import already_exists, invalid, _lname, _locked
from .objects import Volume


class VolumeOps:
    """Mixin of MetastoreOps; self is a Metastore."""

    @_locked
    def get_volume(self, full_name: str) -> Volume:
        return self._child(full_name, "volumes", "VOLUME")

    @_locked
    def create_volume(self, catalog_name: str, schema_name: str, name: str, owner: str, *,
                      volume_type: str = "MANAGED", storage_location: str | None = None,
                      comment: str | None = None, if_not_exists: bool = False) -> Volume:
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        self._writable_catalog(s.catalog)
        key = _lname(name, "Volume")
        if key in s.volumes:
            if if_not_exists:
                return s.volumes[key]
            raise already_exists("VOLUME", f"{s.full_name}.{key}")
        if key in s.tables:
            raise already_exists("TABLE", f"{s.full_name}.{key}")
        volume_type = str(volume_type or "MANAGED").upper()
        if volume_type not in ("MANAGED", "EXTERNAL"):
            raise invalid(f"volume_type: expected MANAGED or EXTERNAL, got '{volume_type}'.")
        v = Volume(s, key, owner, volume_type=volume_type, comment=comment)
        if volume_type == "EXTERNAL":
            if not storage_location:
                raise invalid("storage_location is required for an EXTERNAL volume.")
            self._check_under_location(storage_location, "volume storage_location")
            self._check_no_overlap(storage_location)
            v.storage_location = storage_location
        else:
            if storage_location:
                raise invalid("storage_location cannot be specified for a MANAGED volume.")
            root = s.managed_root()
            v.storage_location = root and f"{root.rstrip('/')}/volumes/{v.volume_id}"
        s.volumes[key] = v
        return v

    @_locked
    def update_volume(self, full_name: str, by: str | None = None, **fields: Any) -> Volume:
        """fields: owner, comment, new_name."""
        v = self.get_volume(full_name)
        new_name = fields.pop("new_name", None)
        self._apply(v, fields)
        if new_name and new_name.lower() != v.name:
            nk = _lname(new_name, "Volume")
            if nk in v.schema.volumes:
                raise already_exists("VOLUME", f"{v.schema.full_name}.{nk}")
            del v.schema.volumes[v.name]
            v.name = nk
            v.schema.volumes[nk] = v
        v.touch(by)
        return v

    @_locked
    def delete_volume(self, full_name: str) -> None:
        v = self.get_volume(full_name)
        del v.schema.volumes[v.name]

    @_locked
    def list_volumes(self, catalog_name: str, schema_name: str) -> list[Volume]:
        s = self.get_schema(f"`{catalog_name}`.`{schema_name}`")
        return sorted(s.volumes.values(), key=lambda v: v.name)
