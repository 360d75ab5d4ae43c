"""Delta Sharing REST (workspace hosts): shares, recipients, providers, share permissions.

Databricks-to-Databricks sharing across the account's metastores: a DATABRICKS recipient names
the other metastore by global id (azure:<region>:<metastore id>); the provider appears in that
metastore; a catalog created there with provider_name + share_name reads the provider's current
tables (ucmodel.resolve). FIDELITY: TOKEN recipients/providers are stored but no open-sharing
protocol server exists.
"""

from databricks.sdk.service import sharing as S

from ..common import (api, bad, body, check_fields, check_list_of, check_shape, fields_of, listing, metastore,
                     out, page, params_of, qbool, who)

P = "/api/2.1/unity-catalog"


def _share_out(share, include_objects=True):
    return out(S.ShareInfo, share.info(include_objects))


# ---- shares ------------------------------------------------------------------------------------

@api("workspace", "POST", P + "/shares")
def create_share(req):
    b = body(req, params_of(S.SharesAPI.create), ("name",))
    s = metastore(req).create_share(b["name"], who(req), b.get("comment"), b.get("storage_root"))
    return _share_out(s)


@api("workspace", "GET", P + "/shares")
def list_shares(req):
    ms = metastore(req)
    items, nxt = page(req, sorted(ms.shares.values(), key=lambda s: s.name))
    return listing("shares", [_share_out(s, False) for s in items], nxt)


@api("workspace", "GET", P + "/shares/{name}")
def get_share(req):
    s = metastore(req).get_share(req.params["name"])
    return _share_out(s, qbool(req, "include_shared_data", False))


@api("workspace", "PATCH", P + "/shares/{name}")
def update_share(req):
    b = body(req, params_of(S.SharesAPI.update))
    check_list_of(b.get("updates"), S.SharedDataObjectUpdate, "updates")
    for i, u in enumerate(b.get("updates") or []):
        if u.get("data_object") is not None:
            check_fields(u["data_object"], fields_of(S.SharedDataObject),
                         f"updates[{i}].data_object.")
    ms = metastore(req)
    fields = {k: b[k] for k in ("comment", "owner", "new_name", "storage_root") if k in b}
    s = ms.update_share(req.params["name"], b.get("updates"), by=who(req), **fields)
    return _share_out(s)


@api("workspace", "DELETE", P + "/shares/{name}")
def delete_share(req):
    metastore(req).delete_share(req.params["name"])
    return {}


@api("workspace", "GET", P + "/shares/{name}/permissions")
def share_permissions(req):
    ms = metastore(req)
    items, nxt = page(req, ms.share_permissions(req.params["name"]))
    return out(S.GetSharePermissionsResponse, {"privilege_assignments": items,
                                               "next_page_token": nxt})


@api("workspace", "PATCH", P + "/shares/{name}/permissions")
def update_share_permissions(req):
    b = body(req, params_of(S.SharesAPI.update_permissions), ("changes",))
    check_list_of(b["changes"], S.PermissionsChange, "changes")
    res = metastore(req).update_share_permissions(req.params["name"], b["changes"])
    if b.get("omit_permissions_list"):
        return {}
    return out(S.UpdateSharePermissionsResponse, {"privilege_assignments": res})


# ---- recipients --------------------------------------------------------------------------------

@api("workspace", "POST", P + "/recipients")
def create_recipient(req):
    b = body(req, params_of(S.RecipientsAPI.create), ("name", "authentication_type"))
    check_shape({k: v for k, v in b.items() if k in fields_of(S.RecipientInfo)}, S.RecipientInfo)
    for k in ("ip_access_list", "expiration_time", "sharing_code", "id"):
        if b.get(k) is not None:
            # FIDELITY: not modelled; refused rather than silently ignored
            raise bad(f"Field '{k}' is not supported by the simulator.")
    r = metastore(req).create_recipient(b["name"], b.get("owner") or who(req),
                                        b["authentication_type"],
                                        b.get("data_recipient_global_metastore_id"),
                                        b.get("comment"))
    if b.get("properties_kvpairs") is not None:
        r.properties_kvpairs = b["properties_kvpairs"]
    return out(S.RecipientInfo, r.info())


@api("workspace", "GET", P + "/recipients")
def list_recipients(req):
    ms = metastore(req)
    gid = req.query.get("data_recipient_global_metastore_id")
    rs = [r for r in sorted(ms.recipients.values(), key=lambda r: r.name)
          if not gid or r.data_recipient_global_metastore_id == gid]
    items, nxt = page(req, rs)
    return listing("recipients", [out(S.RecipientInfo, r.info()) for r in items], nxt)


@api("workspace", "GET", P + "/recipients/{name}")
def get_recipient(req):
    return out(S.RecipientInfo, metastore(req).get_recipient(req.params["name"]).info())


@api("workspace", "PATCH", P + "/recipients/{name}")
def update_recipient(req):
    b = body(req, params_of(S.RecipientsAPI.update))
    check_shape({k: v for k, v in b.items() if k in fields_of(S.RecipientInfo)}, S.RecipientInfo)
    for k in ("ip_access_list", "expiration_time", "id"):
        if b.get(k) is not None:
            raise bad(f"Field '{k}' is not supported by the simulator.")
    r = metastore(req).update_recipient(
        req.params["name"], by=who(req),
        **{k: b[k] for k in ("comment", "owner", "new_name", "properties_kvpairs") if k in b})
    return out(S.RecipientInfo, r.info())


@api("workspace", "DELETE", P + "/recipients/{name}")
def delete_recipient(req):
    metastore(req).delete_recipient(req.params["name"])
    return {}


@api("workspace", "GET", P + "/recipients/{name}/share-permissions")
def recipient_share_permissions(req):
    ms = metastore(req)
    r = ms.get_recipient(req.params["name"])
    perms = []
    for s in sorted(ms.shares.values(), key=lambda s: s.name):
        privs = s.grants.get(r.name)
        if privs:
            perms.append({"share_name": s.name, "privilege_assignments": [
                {"principal": r.name, "privileges": sorted(privs)}]})
    items, nxt = page(req, perms)
    return out(S.GetRecipientSharePermissionsResponse, {"permissions_out": items,
                                                        "next_page_token": nxt})


# ---- providers ---------------------------------------------------------------------------------

@api("workspace", "POST", P + "/providers")
def create_provider(req):
    b = body(req, params_of(S.ProvidersAPI.create), ("name", "authentication_type"))
    # FIDELITY: DATABRICKS providers appear when the provider side creates a recipient; only
    # TOKEN providers are created by hand, and the simulator has no open-sharing server.
    raise bad("Providers of authentication_type "
              f"{b['authentication_type']} cannot be created in the simulator; DATABRICKS "
              "providers are created automatically by the provider's recipient.")


@api("workspace", "GET", P + "/providers")
def list_providers(req):
    ms = metastore(req)
    gid = req.query.get("data_provider_global_metastore_id")
    ps = [p for p in sorted(ms.providers.values(), key=lambda p: p.name)
          if not gid or p.data_provider_global_metastore_id == gid]
    items, nxt = page(req, ps)
    return listing("providers", [out(S.ProviderInfo, p.info()) for p in items], nxt)


@api("workspace", "GET", P + "/providers/{name}")
def get_provider(req):
    return out(S.ProviderInfo, metastore(req).get_provider(req.params["name"]).info())


@api("workspace", "PATCH", P + "/providers/{name}")
def update_provider(req):
    b = body(req, params_of(S.ProvidersAPI.update))
    ms = metastore(req)
    p = ms.get_provider(req.params["name"])
    if "recipient_profile_str" in b:
        raise bad("recipient_profile_str can only be set on TOKEN providers.")
    ms._apply(p, {k: b[k] for k in ("comment", "owner") if k in b})
    nn = b.get("new_name")
    if nn and nn.lower() != p.name:
        if nn.lower() in ms.providers:
            raise bad(f"Provider '{nn}' already exists.", "RESOURCE_ALREADY_EXISTS", 409)
        for c in ms.catalogs.values():
            if c.provider_name == p.name:
                c.provider_name = nn.lower()
        del ms.providers[p.name]
        p.name = nn.lower()
        ms.providers[p.name] = p
    p.touch(who(req))
    return out(S.ProviderInfo, p.info())


@api("workspace", "DELETE", P + "/providers/{name}")
def delete_provider(req):
    metastore(req).delete_provider(req.params["name"])
    return {}


@api("workspace", "GET", P + "/providers/{name}/shares")
def provider_shares(req):
    ms = metastore(req)
    items, nxt = page(req, [{"name": s.name} for s in ms.provider_shares(req.params["name"])])
    return out(S.ListProviderSharesResponse, {"shares": items, "next_page_token": nxt})
