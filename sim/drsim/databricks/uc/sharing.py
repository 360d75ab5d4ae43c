"""Unity Catalog model: delta Sharing: shares, recipients, providers, share permissions, and
resolving a table through a DELTASHARING_CATALOG."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (UCError, not_found, _named, already_exists, invalid, now_ms, SHARE_LIMITS, quota,
                   check_privileges, split_name, _lname, _locked)
from .objects import Catalog, Schema, Table, Share, Recipient, Provider, Resolved
from .grants import _grant_list

if TYPE_CHECKING:
    from .metastore import Metastore


class SharingOps:
    """Mixin of MetastoreOps; self is a Metastore."""

    @_locked
    def get_share(self, name: str) -> Share:
        return _named(self.shares, "SHARE", name)

    @_locked
    def create_share(self, name: str, owner: str, comment: str | None = None,
                     storage_root: str | None = None) -> Share:
        key = _lname(name, "Share")
        if key in self.shares:
            raise already_exists("SHARE", name)
        if len(self.shares) >= SHARE_LIMITS["shares_per_metastore"]:
            raise quota(f"The metastore already has {len(self.shares)} shares; the limit is "
                        f"{SHARE_LIMITS['shares_per_metastore']}.")
        s = Share(self, key, owner, comment, storage_root)
        self.shares[key] = s
        return s

    @_locked
    def update_share(self, name: str, updates: list[dict] | None = None, by: str | None = None,
                     **fields: Any) -> Share:
        """updates: [{"action": ADD|REMOVE|UPDATE, "data_object": {name, data_object_type
        TABLE|SCHEMA, shared_as, comment, history_data_sharing_status ENABLED|DISABLED,
        cdf_enabled, start_version, partitions}}]. Validated as a whole first.
        fields: owner, comment, new_name."""
        share = self.get_share(name)
        staged = dict(share.objects)
        for i, u in enumerate(updates or []):
            if not isinstance(u, dict):
                raise invalid(f"updates[{i}]: expected an object.")
            action = str(u.get("action") or "").upper()
            obj = u.get("data_object") or {}
            if action not in ("ADD", "REMOVE", "UPDATE"):
                raise invalid(f"updates[{i}].action: expected ADD, REMOVE or UPDATE.")
            oname = str(obj.get("name") or "").lower()
            if not oname:
                raise invalid(f"updates[{i}].data_object.name is required.")
            dtype = str(obj.get("data_object_type") or "TABLE").upper()
            if dtype not in ("TABLE", "SCHEMA", "VIEW", "MATERIALIZED_VIEW", "STREAMING_TABLE"):
                raise invalid(f"updates[{i}].data_object.data_object_type: unsupported "
                              f"'{dtype}'.")
            if action == "REMOVE":
                if oname not in staged:
                    raise UCError(404, "NOT_FOUND", f"Data object '{oname}' is not in share "
                                  f"'{share.name}'.", "SHARED_OBJECT_DOES_NOT_EXIST")
                del staged[oname]
                continue
            if dtype == "SCHEMA":
                src = self.get_schema(oname)
                default_as = src.name
            else:
                src = self.get_table(oname)
                default_as = f"{src.schema.name}.{src.name}"
                if dtype == "TABLE" and src.is_view:
                    dtype = "VIEW"
            if src.schema.catalog.catalog_type != "MANAGED_CATALOG" if isinstance(src, Table) \
                    else src.catalog.catalog_type != "MANAGED_CATALOG":
                raise invalid(f"updates[{i}]: only objects of managed catalogs can be shared.")
            hist = str(obj.get("history_data_sharing_status") or "DISABLED").upper()
            if hist not in ("ENABLED", "DISABLED"):
                raise invalid(f"updates[{i}].data_object.history_data_sharing_status: expected "
                              "ENABLED or DISABLED.")
            shared_as = (obj.get("shared_as") or default_as).lower()
            if action == "ADD":
                if oname in staged:
                    raise already_exists("SHARED_OBJECT", oname)
                for other in staged.values():
                    if (other.get("shared_as") or "").lower() == shared_as:
                        raise invalid(f"updates[{i}]: shared_as '{shared_as}' is already used "
                                      f"in share '{share.name}'.")
                staged[oname] = {
                    "name": oname, "data_object_type": dtype, "shared_as": shared_as,
                    "comment": obj.get("comment"), "history_data_sharing_status": hist,
                    "cdf_enabled": obj.get("cdf_enabled"), "start_version":
                    obj.get("start_version"), "status": "ACTIVE", "added_at": now_ms(),
                    "added_by": by, "partitions": obj.get("partitions"),
                }
                staged[oname] = {k: v for k, v in staged[oname].items() if v is not None}
            else:
                if oname not in staged:
                    raise UCError(404, "NOT_FOUND", f"Data object '{oname}' is not in share "
                                  f"'{share.name}'.", "SHARED_OBJECT_DOES_NOT_EXIST")
                cur = dict(staged[oname])
                for k in ("comment", "cdf_enabled", "start_version", "partitions"):
                    if k in obj:
                        cur[k] = obj[k]
                if "history_data_sharing_status" in obj:
                    cur["history_data_sharing_status"] = hist
                staged[oname] = cur
        self._check_share_limits(share.name, staged)
        share.objects = staged
        new_name = fields.pop("new_name", None)
        self._apply(share, fields, extra=("storage_root",))
        if new_name and new_name.lower() != share.name:
            nk = _lname(new_name, "Share")
            if nk in self.shares:
                raise already_exists("SHARE", new_name)
            del self.shares[share.name]
            share.name = nk
            self.shares[nk] = share
        share.touch(by)
        return share

    def _check_share_limits(self, name: str, objects: dict) -> None:
        tables, schemas = 0, set()
        for o in objects.values():
            if o["data_object_type"] == "SCHEMA":
                schemas.add(o["name"])
                try:
                    tables += len(self.get_schema(o["name"]).tables)
                except UCError:
                    pass
            else:
                tables += 1
                schemas.add(o["name"].rsplit(".", 1)[0])
        if tables > SHARE_LIMITS["tables_per_share"]:
            raise quota(f"Share '{name}' would hold {tables} tables; the limit is "
                        f"{SHARE_LIMITS['tables_per_share']} per share.")
        if len(schemas) > SHARE_LIMITS["schemas_per_share"]:
            raise quota(f"Share '{name}' would span {len(schemas)} schemas; the limit is "
                        f"{SHARE_LIMITS['schemas_per_share']} per share.")

    @_locked
    def delete_share(self, name: str) -> None:
        s = self.get_share(name)
        del self.shares[s.name]

    @_locked
    def share_permissions(self, share_name: str) -> list[dict]:
        return _grant_list(self.get_share(share_name).grants, None)

    @_locked
    def update_share_permissions(self, share_name: str, changes: list[dict]) -> list[dict]:
        """changes: [{"principal": <recipient name>, "add": ["SELECT"], "remove": [...]}];
        principals must be recipients of this metastore."""
        share = self.get_share(share_name)
        for i, ch in enumerate(changes or []):
            if not isinstance(ch, dict) or not ch.get("principal"):
                raise invalid(f"changes[{i}].principal is required.")
            if str(ch["principal"]).lower() not in self.recipients:
                raise not_found("RECIPIENT", ch["principal"])
            check_privileges("SHARE", ch.get("add") or [])
            check_privileges("SHARE", ch.get("remove") or [])
        norm = [dict(ch, principal=str(ch["principal"]).lower()) for ch in changes or []]
        return self.update_grants("SHARE", share.name, norm)

    @_locked
    def get_recipient(self, name: str) -> Recipient:
        return _named(self.recipients, "RECIPIENT", name)

    @_locked
    def create_recipient(self, name: str, owner: str, authentication_type: str = "DATABRICKS",
                         data_recipient_global_metastore_id: str | None = None,
                         comment: str | None = None) -> Recipient:
        """DATABRICKS recipients name another metastore by global id
        ("azure:<region>:<metastore id>"); the provider is then auto-created in that metastore
        (named after this metastore's delta_sharing_organization_name or metastore name).
        FIDELITY: TOKEN recipients are accepted but no bearer tokens / activation URLs work."""
        key = _lname(name, "Recipient")
        if key in self.recipients:
            raise already_exists("RECIPIENT", name)
        if len(self.recipients) >= SHARE_LIMITS["recipients_per_metastore"]:
            raise quota(f"The metastore already has {len(self.recipients)} recipients; the limit "
                        f"is {SHARE_LIMITS['recipients_per_metastore']}.")
        at = str(authentication_type or "").upper()
        if at not in ("DATABRICKS", "TOKEN", "OIDC_FEDERATION"):
            raise invalid(f"authentication_type: invalid value '{authentication_type}'.")
        target = None
        if at == "DATABRICKS":
            if not data_recipient_global_metastore_id:
                raise invalid("data_recipient_global_metastore_id is required for "
                              "DATABRICKS recipients.")
            parts = str(data_recipient_global_metastore_id).split(":")
            if len(parts) != 3 or not all(parts):
                raise invalid(f"Invalid data_recipient_global_metastore_id "
                              f"'{data_recipient_global_metastore_id}': expected "
                              "<cloud>:<region>:<metastore-id>.")
            if self.store:
                target = self.store.find_metastore_by_global_id(
                    data_recipient_global_metastore_id)
                if target is None:
                    raise invalid(f"Metastore '{data_recipient_global_metastore_id}' does not "
                                  "exist.", "METASTORE_DOES_NOT_EXIST")
                if target is self:
                    raise invalid("A recipient cannot be the provider's own metastore.")
        elif data_recipient_global_metastore_id:
            raise invalid("data_recipient_global_metastore_id is only valid for DATABRICKS "
                          "recipients.")
        r = Recipient(self, key, owner, at, data_recipient_global_metastore_id, comment)
        self.recipients[key] = r
        if target is not None:
            target._ensure_provider(self, owner)
        return r

    def _ensure_provider(self, provider_ms: Metastore, owner: str) -> Provider:
        gid = provider_ms.global_metastore_id
        for p in self.providers.values():
            if p.data_provider_global_metastore_id == gid:
                return p
        pname = (provider_ms.delta_sharing_organization_name or provider_ms.name).lower()
        base, n = pname, 1
        while pname in self.providers:
            n += 1
            pname = f"{base}_{n}"
        p = Provider(self, pname, owner, "DATABRICKS", gid)
        self.providers[pname] = p
        return p

    @_locked
    def update_recipient(self, name: str, by: str | None = None, **fields: Any) -> Recipient:
        """fields: owner, comment, new_name, properties_kvpairs."""
        r = self.get_recipient(name)
        new_name = fields.pop("new_name", None)
        self._apply(r, fields, extra=("properties_kvpairs",))
        if new_name and new_name.lower() != r.name:
            nk = _lname(new_name, "Recipient")
            if nk in self.recipients:
                raise already_exists("RECIPIENT", new_name)
            for s in self.shares.values():
                if r.name in s.grants:
                    s.grants[nk] = s.grants.pop(r.name)
            del self.recipients[r.name]
            r.name = nk
            self.recipients[nk] = r
        r.touch(by)
        return r

    @_locked
    def delete_recipient(self, name: str) -> None:
        r = self.get_recipient(name)
        del self.recipients[r.name]
        for s in self.shares.values():
            s.grants.pop(r.name, None)

    @_locked
    def recipient_shares(self, recipient_name: str) -> list[Share]:
        r = self.get_recipient(recipient_name)
        return [s for s in sorted(self.shares.values(), key=lambda s: s.name)
                if "SELECT" in s.grants.get(r.name, ())]

    @_locked
    def get_provider(self, name: str) -> Provider:
        return _named(self.providers, "PROVIDER", name)

    @_locked
    def provider_shares(self, provider_name: str) -> list[Share]:
        """Shares of the provider's metastore that a recipient for THIS metastore may read."""
        p = self.get_provider(provider_name)
        pms = self.store.metastore_by_global_id(p.data_provider_global_metastore_id)
        out = []
        for r in pms.recipients.values():
            if r.data_recipient_global_metastore_id == self.global_metastore_id:
                out.extend(pms.recipient_shares(r.name))
        seen, res = set(), []
        for s in out:
            if s.name not in seen:
                seen.add(s.name)
                res.append(s)
        return res

    @_locked
    def delete_provider(self, name: str) -> None:
        p = self.get_provider(name)
        del self.providers[p.name]

    def _check_share_access(self, pms: Metastore, share: Share) -> Recipient:
        for r in pms.recipients.values():
            if r.data_recipient_global_metastore_id == self.global_metastore_id and \
                    r.activated and "SELECT" in share.grants.get(r.name, ()):
                return r
        raise UCError(403, "PERMISSION_DENIED",
                      f"Share '{share.name}' is not shared with this metastore "
                      f"({self.global_metastore_id}), or the recipient is no longer active.",
                      "SHARE_NOT_ACCESSIBLE")

    def _share_of(self, c: Catalog) -> tuple[Metastore, Share]:
        prov = self.get_provider(c.provider_name)
        pms = self.store.metastore_by_global_id(prov.data_provider_global_metastore_id)
        share = pms.get_share(c.share_name)
        self._check_share_access(pms, share)
        return pms, share

    def _shared_schema_names(self, c: Catalog) -> list[str]:
        pms, share = self._share_of(c)
        names = set()
        for o in share.objects.values():
            names.add(o["shared_as"].split(".")[0])
        return sorted(names)

    def _shared_table_names(self, c: Catalog, schema: str) -> list[str]:
        pms, share = self._share_of(c)
        names = set()
        for o in share.objects.values():
            if o["data_object_type"] == "SCHEMA":
                if o["shared_as"] == schema:
                    try:
                        names.update(pms.get_schema(o["name"]).tables)
                    except UCError:
                        pass
            else:
                sch, _, tbl = o["shared_as"].partition(".")
                if sch == schema:
                    names.add(tbl)
        return sorted(names)

    def _shared_schema(self, c: Catalog, name: str) -> Schema:
        if name not in self._shared_schema_names(c):
            raise not_found("SCHEMA", f"{c.name}.{name}")
        s = Schema(c, name, c.owner)   # a transient view of the shared schema
        s.created_at = c.created_at
        return s

    @_locked
    def resolve(self, full_name: str) -> Resolved:
        """Find the table holding the data for 'cat.sch.tbl' as seen by this metastore. In a
        DELTASHARING_CATALOG, follow provider -> provider metastore -> share -> object; fails
        with 403 SHARE_NOT_ACCESSIBLE when the recipient is gone / lost SELECT, and 404 when the
        share no longer holds the table (or the provider dropped it)."""
        cat, sch, tbl = split_name(full_name, 3, "TABLE")
        c = self.get_catalog(cat)
        if c.catalog_type != "DELTASHARING_CATALOG":
            return Resolved(self.get_table(full_name), self, f"{cat}.{sch}.{tbl}", catalog=c)
        pms, share = self._share_of(c)
        for o in share.objects.values():
            if o["data_object_type"] == "SCHEMA":
                if o["shared_as"] == sch:
                    src = pms.get_schema(o["name"])
                    t = src.tables.get(tbl)
                    if t is not None:
                        return Resolved(t, pms, f"{cat}.{sch}.{tbl}", share, c, dict(o))
            elif o["shared_as"] == f"{sch}.{tbl}":
                try:
                    t = pms.get_table(o["name"])
                except UCError:
                    raise UCError(404, "NOT_FOUND", f"Table '{cat}.{sch}.{tbl}' does not exist: "
                                  f"the provider's table '{o['name']}' was dropped.",
                                  "TABLE_DOES_NOT_EXIST")
                return Resolved(t, pms, f"{cat}.{sch}.{tbl}", share, c, dict(o))
        raise UCError(404, "NOT_FOUND", f"Table '{cat}.{sch}.{tbl}' does not exist (not in share "
                      f"'{share.name}').", "TABLE_DOES_NOT_EXIST")
