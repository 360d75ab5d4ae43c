"""Unity Catalog model: access on any securable: lookup by type, grants (direct and effective),
owners, tags and workspace bindings."""

from __future__ import annotations

from typing import Iterable

from .base import not_found, invalid, PRIVILEGES, securable_type, check_privileges, _locked
from .objects import Securable, Column, Table


class GrantOps:
    """Mixin of MetastoreOps; self is a Metastore."""

    @_locked
    def get_securable(self, stype: str, full_name: str) -> Securable:
        """Any securable by type (REST spelling, any case) and full name."""
        t = securable_type(stype)
        if t == "METASTORE":
            if str(full_name).lower() not in (self.metastore_id, self.name.lower()):
                raise not_found("METASTORE", full_name)
            return self
        getter = {
            "CATALOG": self.get_catalog, "SCHEMA": self.get_schema, "TABLE": self.get_table,
            "VOLUME": self.get_volume, "FUNCTION": self.get_function,
            "EXTERNAL_LOCATION": self.get_external_location,
            "STORAGE_CREDENTIAL": self.get_storage_credential, "SHARE": self.get_share,
        }[t]
        return getter(full_name)

    @_locked
    def get_grants(self, stype: str, full_name: str, principal: str | None = None) -> list[dict]:
        """Direct grants: [{"principal", "privileges": [sorted]}], sorted by principal."""
        obj = self.get_securable(stype, full_name)
        return _grant_list(obj.grants, principal)

    @_locked
    def update_grants(self, stype: str, full_name: str, changes: list[dict]) -> list[dict]:
        """changes: [{"principal", "add": [...], "remove": [...]}] (REST privilege names).
        Validated as a whole before anything changes. Returns the new direct grants."""
        t = securable_type(stype)
        obj = self.get_securable(t, full_name)
        if not isinstance(changes, list):
            raise invalid("changes: expected a list.")
        plan = []
        kind = _priv_kind(t, obj)
        for i, ch in enumerate(changes):
            if not isinstance(ch, dict) or not ch.get("principal"):
                raise invalid(f"changes[{i}].principal is required.")
            add = check_privileges(kind, ch.get("add") or [])
            rem = check_privileges(kind, ch.get("remove") or [])
            plan.append((ch["principal"], add, rem))
        for principal, add, rem in plan:
            cur = obj.grants.setdefault(principal, set())
            cur.update(add)
            cur.difference_update(rem)
            if not cur:
                del obj.grants[principal]
        return _grant_list(obj.grants, None)

    @_locked
    def effective_grants(self, stype: str, full_name: str,
                         principal: str | None = None) -> list[dict]:
        """Direct + inherited: [{"principal", "privileges": [{"privilege",
        "inherited_from_type", "inherited_from_name"}]}]. Inherited privileges come from the
        parents (schema, catalog, metastore) and are kept only when applicable to this type
        (FIDELITY: USE_CATALOG on a catalog is not listed on its tables)."""
        t = securable_type(stype)
        obj = self.get_securable(t, full_name)
        allowed = PRIVILEGES.get(_priv_kind(t, obj), frozenset())
        out: dict[str, list[dict]] = {}
        chain: list[Securable] = [obj]
        p = obj.parent()
        while p is not None:
            chain.append(p)
            p = p.parent()
        if t in ("CATALOG", "SCHEMA", "TABLE", "VOLUME", "FUNCTION"):
            chain.append(self)
        for i, node in enumerate(chain):
            for who, privs in node.grants.items():
                if principal and who != principal:
                    continue
                for priv in sorted(privs):
                    if i > 0 and priv not in allowed:
                        continue
                    e = {"privilege": priv}
                    if i > 0:
                        e["inherited_from_type"] = node.kind
                        e["inherited_from_name"] = node.full_name
                    out.setdefault(who, []).append(e)
        return [{"principal": k, "privileges": v} for k, v in sorted(out.items())]

    @_locked
    def has_privilege(self, principal: str, stype: str, full_name: str, privilege: str) -> bool:
        """True if principal is the owner or holds privilege (or ALL_PRIVILEGES) directly or
        inherited. FIDELITY: no group expansion, metastore admins not modelled."""
        obj = self.get_securable(stype, full_name)
        if obj.owner == principal:
            return True
        for e in self.effective_grants(stype, full_name, principal):
            for p in e["privileges"]:
                if p["privilege"] in (privilege, "ALL_PRIVILEGES"):
                    return True
        return False

    # -- owners, tags, bindings -----------------------------------------------------------------
    @_locked
    def set_owner(self, stype: str, full_name: str, owner: str, by: str | None = None) -> None:
        if not owner:
            raise invalid("owner must not be empty.")
        obj = self.get_securable(stype, full_name)
        obj.owner = owner
        obj.touch(by)

    @_locked
    def get_tags(self, stype: str, full_name: str, column: str | None = None) -> dict[str, str]:
        obj = self.get_securable(stype, full_name)
        if column is not None:
            return dict(self._column(obj, column).tags)
        return dict(obj.tags)

    @_locked
    def set_tags(self, stype: str, full_name: str, tags: dict[str, str],
                 column: str | None = None) -> dict[str, str]:
        """Add/overwrite tags (values may be ''). FIDELITY: max 50 tags per object, key <= 255
        chars and value <= 1000 like UC."""
        obj = self.get_securable(stype, full_name)
        target = self._column(obj, column) if column is not None else obj
        for k, v in tags.items():
            if not isinstance(k, str) or not k or len(k) > 255:
                raise invalid(f"Invalid tag key {k!r}.", "INVALID_TAG")
            if v is not None and (not isinstance(v, str) or len(v) > 1000):
                raise invalid(f"Invalid tag value for '{k}'.", "INVALID_TAG")
        merged = dict(target.tags)
        merged.update({k: ("" if v is None else v) for k, v in tags.items()})
        if len(merged) > 50:
            raise invalid("An object can have at most 50 tags.", "TAG_LIMIT_EXCEEDED")
        target.tags = merged
        return dict(merged)

    @_locked
    def unset_tags(self, stype: str, full_name: str, keys: Iterable[str],
                   column: str | None = None) -> dict[str, str]:
        obj = self.get_securable(stype, full_name)
        target = self._column(obj, column) if column is not None else obj
        for k in keys:
            target.tags.pop(k, None)
        return dict(target.tags)

    def _column(self, obj: Securable, column: str) -> Column:
        if not isinstance(obj, Table):
            raise invalid("Column tags exist only on tables.")
        return obj.column(column)

    @_locked
    def get_bindings(self, stype: str, name: str) -> list[dict]:
        obj = self._bindable(stype, name)
        return [{"workspace_id": ws, "binding_type": bt}
                for ws, bt in sorted(obj.bindings.items())]

    @_locked
    def update_bindings(self, stype: str, name: str, add: list[dict] | None = None,
                        remove: list[dict] | None = None) -> list[dict]:
        """add/remove: [{"workspace_id", "binding_type"}] (binding_type defaults
        BINDING_TYPE_READ_WRITE). FIDELITY: workspaces must be assigned to this metastore."""
        obj = self._bindable(stype, name)
        for i, b in enumerate(add or []):
            if not isinstance(b, dict) or "workspace_id" not in b:
                raise invalid(f"add[{i}].workspace_id is required.")
            bt = b.get("binding_type") or "BINDING_TYPE_READ_WRITE"
            if bt not in ("BINDING_TYPE_READ_WRITE", "BINDING_TYPE_READ_ONLY"):
                raise invalid(f"add[{i}].binding_type: invalid value '{bt}'.")
            ws = int(b["workspace_id"])
            if self.store and self.store.assignments.get(ws, (None,))[0] != self.metastore_id:
                raise invalid(f"Workspace {ws} is not assigned to metastore "
                              f"{self.metastore_id}.", "WORKSPACE_NOT_IN_METASTORE")
        for b in add or []:
            obj.bindings[int(b["workspace_id"])] = b.get("binding_type") or \
                "BINDING_TYPE_READ_WRITE"
        for b in remove or []:
            obj.bindings.pop(int(b["workspace_id"]), None)
        return self.get_bindings(stype, name)

    def _bindable(self, stype: str, name: str):
        t = {"catalog": "CATALOG", "catalogs": "CATALOG", "external_location": "EXTERNAL_LOCATION",
             "external_locations": "EXTERNAL_LOCATION", "storage_credential": "STORAGE_CREDENTIAL",
             "storage_credentials": "STORAGE_CREDENTIAL", "credential": "STORAGE_CREDENTIAL",
             }.get(str(stype).lower())
        if t is None:
            raise invalid(f"Invalid securable type '{stype}' for workspace bindings.")
        return self.get_securable(t, name)


def _priv_kind(stype: str, obj: Securable) -> str:
    """Privilege set key: views and materialized views accept fewer privileges than tables."""
    if isinstance(obj, Table):
        return {"VIEW": "VIEW", "METRIC_VIEW": "VIEW", "MATERIALIZED_VIEW": "MATERIALIZED_VIEW",
                "STREAMING_TABLE": "MATERIALIZED_VIEW"}.get(obj.table_type, "TABLE")
    return stype


def _grant_list(grants: dict[str, set[str]], principal: str | None) -> list[dict]:
    return [{"principal": p, "privileges": sorted(v)} for p, v in sorted(grants.items())
            if v and (principal is None or p == principal)]
