"""Unity Catalog REST (workspace hosts, /api/2.1/unity-catalog/...) on the UC model.

Bodies are checked against the databricks-sdk API method parameters (common.body); responses are
shaped by the SDK dataclasses (common.out). Every request acts on the metastore assigned to the
calling workspace; an ISOLATED catalog not bound to the workspace is hidden from lists and 403 on
access.

FIDELITY: every caller is treated as a metastore admin: grants are stored, listed and inherited
but not enforced on these REST calls (the SQL layer may check ucmodel has_privilege).
"""

from fnmatch import fnmatchcase

from databricks.sdk.service import catalog as C

from ...state import SIM
from ..common import (api, bad, body, check_fields, check_list_of, fields_of, listing, metastore, out, page,
                     params_of, qbool, required_query, who, ws_id)
from ..ucmodel import UC, split_name, split_parts

P = "/api/2.1/unity-catalog"

# Fields the SDK sends that the simulator accepts and ignores (FIDELITY: no predictive
# optimisation, retention, encryption or file events are modelled).
IGNORED = {"custom_max_retention_hours", "enable_predictive_optimization",
           "managed_encryption_settings", "skip_validation", "effective_enable_file_events",
           "effective_file_event_queue", "enable_file_events", "encryption_details", "fallback",
           "file_event_queue", "aws_iam_role", "cloudflare_api_token",
           "databricks_gcp_service_account", "force"}


def _keep(b, *names):
    return {k: b[k] for k in names if k in b}


def _cat(req, ms, full_name, write=False):
    """Workspace-binding check on the catalog part of a full name."""
    return ms.check_catalog_access(split_parts(full_name)[0], ws_id(req), write=write)


# ---- metastore ---------------------------------------------------------------------------------

@api("workspace", "GET", P + "/metastore_summary")
def metastore_summary(req):
    return out(C.GetMetastoreSummaryResponse, metastore(req).info())


@api("workspace", "GET", P + "/current-metastore-assignment")
def current_assignment(req):
    ms = metastore(req)
    a = UC.assignment(ws_id(req))
    return out(C.MetastoreAssignment, {"workspace_id": ws_id(req), "metastore_id": ms.metastore_id,
                                       "default_catalog_name": a[1] or "hive_metastore"})


@api("workspace", "GET", P + "/metastores")
def ws_list_metastores(req):
    # FIDELITY: the workspace-level list shows the metastores of the account.
    return {"metastores": [out(C.MetastoreInfo, m.info()) for m in UC.list_metastores()]}


@api("workspace", "GET", P + "/metastores/{id}")
def ws_get_metastore(req):
    return out(C.MetastoreInfo, UC.get_metastore(req.params["id"]).info())


@api("workspace", "PUT", P + "/workspaces/{workspace_id}/metastore")
def ws_assign(req):
    b = body(req, params_of(C.MetastoresAPI.assign), ("metastore_id",))
    wid = req.params["workspace_id"]
    rec = SIM.workspaces.get(str(wid))
    if rec is None:
        raise bad(f"Workspace {wid} does not exist.", "NOT_FOUND", 404)
    UC.assign(int(wid), b["metastore_id"], b.get("default_catalog_name"), rec.get("region"))
    rec["metastore_id"] = b["metastore_id"]
    return {}


# ---- catalogs ----------------------------------------------------------------------------------

@api("workspace", "POST", P + "/catalogs")
def create_catalog(req):
    b = body(req, params_of(C.CatalogsAPI.create), ("name",))
    ms = metastore(req)
    c = ms.create_catalog(b["name"], who(req), **_keep(b, "comment", "properties", "storage_root",
                                                        "provider_name", "share_name",
                                                        "connection_name", "options"))
    return out(C.CatalogInfo, c.info())


@api("workspace", "GET", P + "/catalogs")
def list_catalogs(req):
    ms = metastore(req)
    items, nxt = page(req, ms.list_catalogs(ws_id(req)))
    return listing("catalogs", [out(C.CatalogInfo, c.info()) for c in items], nxt)


@api("workspace", "GET", P + "/catalogs/{name}")
def get_catalog(req):
    ms = metastore(req)
    return out(C.CatalogInfo, ms.check_catalog_access(req.params["name"], ws_id(req)).info())


@api("workspace", "PATCH", P + "/catalogs/{name}")
def update_catalog(req):
    b = body(req, params_of(C.CatalogsAPI.update))
    ms = metastore(req)
    c = ms.check_catalog_access(req.params["name"], ws_id(req), write=True)
    fields = _keep(b, "comment", "properties", "owner", "isolation_mode", "new_name", "options")
    if "isolation_mode" in fields:
        fields["_workspace_id"] = ws_id(req)
    return out(C.CatalogInfo, ms.update_catalog(c.name, by=who(req), **fields).info())


@api("workspace", "DELETE", P + "/catalogs/{name}")
def delete_catalog(req):
    ms = metastore(req)
    c = ms.check_catalog_access(req.params["name"], ws_id(req), write=True)
    ms.delete_catalog(c.name, force=qbool(req, "force"))
    return {}


# ---- schemas -----------------------------------------------------------------------------------

@api("workspace", "POST", P + "/schemas")
def create_schema(req):
    b = body(req, params_of(C.SchemasAPI.create), ("name", "catalog_name"))
    ms = metastore(req)
    c = ms.check_catalog_access(b["catalog_name"], ws_id(req), write=True)
    s = ms.create_schema(c.name, b["name"], who(req),
                         **_keep(b, "comment", "properties", "storage_root"))
    return out(C.SchemaInfo, s.info())


@api("workspace", "GET", P + "/schemas")
def list_schemas(req):
    ms = metastore(req)
    c = ms.check_catalog_access(required_query(req, "catalog_name"), ws_id(req))
    items, nxt = page(req, ms.list_schemas(c.name))
    return listing("schemas", [out(C.SchemaInfo, s.info()) for s in items], nxt)


@api("workspace", "GET", P + "/schemas/{full_name}")
def get_schema(req):
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"])
    return out(C.SchemaInfo, ms.get_schema(req.params["full_name"]).info())


@api("workspace", "PATCH", P + "/schemas/{full_name}")
def update_schema(req):
    b = body(req, params_of(C.SchemasAPI.update))
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"], write=True)
    s = ms.update_schema(req.params["full_name"], by=who(req),
                         **_keep(b, "comment", "properties", "owner", "new_name"))
    return out(C.SchemaInfo, s.info())


@api("workspace", "DELETE", P + "/schemas/{full_name}")
def delete_schema(req):
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"], write=True)
    ms.delete_schema(req.params["full_name"], force=qbool(req, "force"))
    return {}


# ---- tables ------------------------------------------------------------------------------------

def _table_out(d, omit_columns=False, omit_properties=False):
    if omit_columns:
        d.pop("columns", None)
    if omit_properties:
        d.pop("properties", None)
    return out(C.TableInfo, d)


@api("workspace", "GET", P + "/tables")
def list_tables(req):
    ms = metastore(req)
    cat = ms.check_catalog_access(required_query(req, "catalog_name"), ws_id(req))
    sch = required_query(req, "schema_name").lower()
    ms.get_schema(f"`{cat.name}`.`{sch}`")
    tables = ms.list_tables(cat.name, sch)
    items, nxt = page(req, tables)
    # FIDELITY: `include_delta_metadata` is accepted and ignored: Delta tables' properties carry
    # the version stamps (delta.lastUpdateVersion / delta.lastCommitTimestamp) either way; whether
    # Databricks gates them on this flag is not documented.
    oc, op = qbool(req, "omit_columns"), qbool(req, "omit_properties")
    return listing("tables", [_table_out(ms.table_info(f"`{cat.name}`.`{sch}`.`{t.name}`"),
                                         oc, op) for t in items], nxt)


@api("workspace", "GET", P + "/table-summaries")
def table_summaries(req):
    ms = metastore(req)
    cat = ms.check_catalog_access(required_query(req, "catalog_name"), ws_id(req))
    spat = (req.query.get("schema_name_pattern") or "*").lower().replace("%", "*")
    tpat = (req.query.get("table_name_pattern") or "*").lower().replace("%", "*")
    rows = []
    for s in ms.list_schemas(cat.name):
        if not fnmatchcase(s.name, spat):
            continue
        for t in ms.list_tables(cat.name, s.name):
            if fnmatchcase(t.name, tpat):
                rows.append({"full_name": f"{cat.name}.{s.name}.{t.name}",
                             "table_type": t.table_type})
    items, nxt = page(req, rows, default=1000, maximum=10000)
    return listing("tables", [out(C.TableSummary, r) for r in items], nxt)


@api("workspace", "GET", P + "/tables/{full_name}")
def get_table(req):
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"])
    return _table_out(ms.table_info(req.params["full_name"]))


@api("workspace", "GET", P + "/tables/{full_name}/exists")
def table_exists(req):
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"])
    try:
        ms.resolve(req.params["full_name"])
        return {"table_exists": True}
    except Exception as e:  # noqa: BLE001 - any UC miss means "does not exist"
        if getattr(e, "status", None) == 404:
            return {"table_exists": False}
        raise


@api("workspace", "POST", P + "/tables")
def create_table(req):
    allowed = params_of(C.TablesAPI.create) if hasattr(C.TablesAPI, "create") else frozenset({
        "name", "catalog_name", "schema_name", "table_type", "data_source_format",
        "storage_location", "columns", "properties"})
    b = body(req, allowed, ("name", "catalog_name", "schema_name", "table_type",
                            "data_source_format", "storage_location"))
    check_list_of(b.get("columns"), C.ColumnInfo, "columns")
    ms = metastore(req)
    c = ms.check_catalog_access(b["catalog_name"], ws_id(req), write=True)
    if str(b["table_type"]).upper() != "EXTERNAL":
        # FIDELITY: like the real API, only external tables can be created through REST
        raise bad("Only EXTERNAL tables can be created through this API.")
    t = ms.create_table(f"`{c.name}`.`{b['schema_name']}`.`{b['name']}`", who(req),
                        table_type="EXTERNAL", data_source_format=b["data_source_format"],
                        columns=b.get("columns"), storage_location=b["storage_location"],
                        properties=b.get("properties"))
    return _table_out(t.info())


@api("workspace", "PATCH", P + "/tables/{full_name}")
def update_table(req):
    b = body(req, params_of(C.TablesAPI.update))
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"], write=True)
    if "owner" in b:
        ms.update_table(req.params["full_name"], by=who(req), owner=b["owner"])
    return {}


@api("workspace", "DELETE", P + "/tables/{full_name}")
def delete_table(req):
    ms = metastore(req)
    _cat(req, ms, req.params["full_name"], write=True)
    ms.delete_table(req.params["full_name"])
    return {}


# ---- volumes -----------------------------------------------------------------------------------

@api("workspace", "POST", P + "/volumes")
def create_volume(req):
    b = body(req, params_of(C.VolumesAPI.create),
             ("catalog_name", "schema_name", "name", "volume_type"))
    ms = metastore(req)
    c = ms.check_catalog_access(b["catalog_name"], ws_id(req), write=True)
    v = ms.create_volume(c.name, b["schema_name"], b["name"], who(req),
                         volume_type=b["volume_type"], storage_location=b.get("storage_location"),
                         comment=b.get("comment"))
    return out(C.VolumeInfo, v.info())


@api("workspace", "GET", P + "/volumes")
def list_volumes(req):
    ms = metastore(req)
    c = ms.check_catalog_access(required_query(req, "catalog_name"), ws_id(req))
    items, nxt = page(req, ms.list_volumes(c.name, required_query(req, "schema_name")))
    return listing("volumes", [out(C.VolumeInfo, v.info()) for v in items], nxt)


@api("workspace", "GET", P + "/volumes/{name}")
def get_volume(req):
    ms = metastore(req)
    _cat(req, ms, req.params["name"])
    return out(C.VolumeInfo, ms.get_volume(req.params["name"]).info())


@api("workspace", "PATCH", P + "/volumes/{name}")
def update_volume(req):
    b = body(req, params_of(C.VolumesAPI.update))
    ms = metastore(req)
    _cat(req, ms, req.params["name"], write=True)
    v = ms.update_volume(req.params["name"], by=who(req),
                         **_keep(b, "comment", "owner", "new_name"))
    return out(C.VolumeInfo, v.info())


@api("workspace", "DELETE", P + "/volumes/{name}")
def delete_volume(req):
    ms = metastore(req)
    _cat(req, ms, req.params["name"], write=True)
    ms.delete_volume(req.params["name"])
    return {}


# ---- functions ---------------------------------------------------------------------------------

FUNCTION_REQUIRED = ("name", "catalog_name", "schema_name", "input_params", "data_type",
                     "full_data_type", "routine_body", "routine_definition", "parameter_style",
                     "is_deterministic", "sql_data_access", "is_null_call", "security_type",
                     "specific_name")


@api("workspace", "POST", P + "/functions")
def create_function(req):
    b = body(req, params_of(C.FunctionsAPI.create), ("function_info",))
    fi = b["function_info"]
    check_fields(fi, fields_of(C.CreateFunction), "function_info.")
    for k in FUNCTION_REQUIRED:
        if fi.get(k) is None:
            raise bad(f"Missing required field: function_info.{k}")
    ms = metastore(req)
    c = ms.check_catalog_access(fi["catalog_name"], ws_id(req), write=True)
    spec = {k: v for k, v in fi.items() if k not in ("name", "catalog_name", "schema_name",
                                                      "comment")}
    f = ms.create_function(f"`{c.name}`.`{fi['schema_name']}`.`{fi['name']}`", who(req),
                           comment=fi.get("comment"), **spec)
    return out(C.FunctionInfo, f.info())


@api("workspace", "GET", P + "/functions")
def list_functions(req):
    ms = metastore(req)
    c = ms.check_catalog_access(required_query(req, "catalog_name"), ws_id(req))
    items, nxt = page(req, ms.list_functions(c.name, required_query(req, "schema_name")))
    return listing("functions", [out(C.FunctionInfo, f.info()) for f in items], nxt)


@api("workspace", "GET", P + "/functions/{name}")
def get_function(req):
    ms = metastore(req)
    _cat(req, ms, req.params["name"])
    return out(C.FunctionInfo, ms.get_function(req.params["name"]).info())


@api("workspace", "PATCH", P + "/functions/{name}")
def update_function(req):
    b = body(req, params_of(C.FunctionsAPI.update))
    ms = metastore(req)
    _cat(req, ms, req.params["name"], write=True)
    return out(C.FunctionInfo, ms.update_function(req.params["name"], by=who(req),
                                                  **_keep(b, "owner")).info())


@api("workspace", "DELETE", P + "/functions/{name}")
def delete_function(req):
    ms = metastore(req)
    _cat(req, ms, req.params["name"], write=True)
    ms.delete_function(req.params["name"])
    return {}


# ---- storage credentials / external locations -------------------------------------------------

def _check_identity(b):
    if b.get("azure_managed_identity") is not None:
            check_fields(b["azure_managed_identity"], fields_of(C.AzureManagedIdentity),
                     "azure_managed_identity.")
    if b.get("azure_service_principal") is not None:
            check_fields(b["azure_service_principal"], fields_of(C.AzureServicePrincipal),
                     "azure_service_principal.")


def _check_connector(b):
    """The access connector must exist in ARM (unless skip_validation, like UC)."""
    ami = b.get("azure_managed_identity") or {}
    acid = ami.get("access_connector_id")
    if acid and not b.get("skip_validation"):
        res = SIM.arm.get(acid)
        if res is None or res.get("type", "").lower() != "microsoft.databricks/accessconnectors":
            raise bad(f"azure_managed_identity.access_connector_id '{acid}' is not an existing "
                      "Azure Databricks access connector (create it through ARM first, or pass "
                      "skip_validation=true).")


@api("workspace", "POST", P + "/storage-credentials")
def create_credential(req):
    b = body(req, params_of(C.StorageCredentialsAPI.create), ("name",))
    _check_identity(b)
    _check_connector(b)
    c = metastore(req).create_storage_credential(
        b["name"], who(req), **_keep(b, "azure_managed_identity", "azure_service_principal",
                                     "comment", "read_only"))
    return out(C.StorageCredentialInfo, c.info())


@api("workspace", "GET", P + "/storage-credentials")
def list_credentials(req):
    ms = metastore(req)
    items, nxt = page(req, sorted(ms.storage_credentials.values(), key=lambda c: c.name))
    return listing("storage_credentials", [out(C.StorageCredentialInfo, c.info()) for c in items],
                   nxt)


@api("workspace", "GET", P + "/storage-credentials/{name}")
def get_credential(req):
    return out(C.StorageCredentialInfo,
               metastore(req).get_storage_credential(req.params["name"]).info())


@api("workspace", "PATCH", P + "/storage-credentials/{name}")
def update_credential(req):
    b = body(req, params_of(C.StorageCredentialsAPI.update))
    _check_identity(b)
    _check_connector(b)
    c = metastore(req).update_storage_credential(
        req.params["name"], by=who(req),
        **_keep(b, "comment", "owner", "read_only", "azure_managed_identity",
                "azure_service_principal", "isolation_mode", "new_name"))
    return out(C.StorageCredentialInfo, c.info())


@api("workspace", "DELETE", P + "/storage-credentials/{name}")
def delete_credential(req):
    metastore(req).delete_storage_credential(req.params["name"], force=qbool(req, "force"))
    return {}


@api("workspace", "POST", P + "/external-locations")
def create_location(req):
    b = body(req, params_of(C.ExternalLocationsAPI.create), ("name", "url", "credential_name"))
    loc = metastore(req).create_external_location(
        b["name"], b["url"], b["credential_name"], who(req), **_keep(b, "comment", "read_only"))
    return out(C.ExternalLocationInfo, loc.info())


@api("workspace", "GET", P + "/external-locations")
def list_locations(req):
    ms = metastore(req)
    items, nxt = page(req, sorted(ms.external_locations.values(), key=lambda c: c.name))
    return listing("external_locations", [out(C.ExternalLocationInfo, c.info()) for c in items],
                   nxt)


@api("workspace", "GET", P + "/external-locations/{name}")
def get_location(req):
    return out(C.ExternalLocationInfo,
               metastore(req).get_external_location(req.params["name"]).info())


@api("workspace", "PATCH", P + "/external-locations/{name}")
def update_location(req):
    b = body(req, params_of(C.ExternalLocationsAPI.update))
    loc = metastore(req).update_external_location(
        req.params["name"], by=who(req),
        **_keep(b, "comment", "owner", "read_only", "url", "credential_name", "isolation_mode",
                "new_name"))
    return out(C.ExternalLocationInfo, loc.info())


@api("workspace", "DELETE", P + "/external-locations/{name}")
def delete_location(req):
    metastore(req).delete_external_location(req.params["name"], force=qbool(req, "force"))
    return {}


# ---- permissions -------------------------------------------------------------------------------

def _securable_access(req, ms, stype, full_name, write=False):
    if stype.lower() in ("catalog", "schema", "table", "view", "volume", "function",
                         "materialized_view"):
        _cat(req, ms, full_name, write=write)


@api("workspace", "GET", P + "/permissions/{securable_type}/{full_name}")
def get_permissions(req):
    ms = metastore(req)
    st, fn = req.params["securable_type"], req.params["full_name"]
    _securable_access(req, ms, st, fn)
    items, nxt = page(req, ms.get_grants(st, fn, req.query.get("principal")))
    return out(C.GetPermissionsResponse, {"privilege_assignments": items,
                                          "next_page_token": nxt})


@api("workspace", "PATCH", P + "/permissions/{securable_type}/{full_name}")
def update_permissions(req):
    b = body(req, params_of(C.GrantsAPI.update), ("changes",))
    check_list_of(b["changes"], C.PermissionsChange, "changes")
    ms = metastore(req)
    st, fn = req.params["securable_type"], req.params["full_name"]
    _securable_access(req, ms, st, fn, write=True)
    res = ms.update_grants(st, fn, b["changes"])
    if b.get("omit_permissions_in_response"):
        return {}
    return out(C.UpdatePermissionsResponse, {"privilege_assignments": res})


@api("workspace", "GET", P + "/effective-permissions/{securable_type}/{full_name}")
def effective_permissions(req):
    ms = metastore(req)
    st, fn = req.params["securable_type"], req.params["full_name"]
    _securable_access(req, ms, st, fn)
    items, nxt = page(req, ms.effective_grants(st, fn, req.query.get("principal")))
    return out(C.EffectivePermissionsList, {"privilege_assignments": items,
                                            "next_page_token": nxt})


# ---- workspace bindings ------------------------------------------------------------------------

@api("workspace", "GET", P + "/bindings/{securable_type}/{securable_name}")
def get_bindings(req):
    ms = metastore(req)
    items, nxt = page(req, ms.get_bindings(req.params["securable_type"],
                                           req.params["securable_name"]))
    return out(C.GetWorkspaceBindingsResponse, {"bindings": items, "next_page_token": nxt})


@api("workspace", "PATCH", P + "/bindings/{securable_type}/{securable_name}")
def update_bindings(req):
    b = body(req, params_of(C.WorkspaceBindingsAPI.update_bindings))
    check_list_of(b.get("add"), C.WorkspaceBinding, "add")
    check_list_of(b.get("remove"), C.WorkspaceBinding, "remove")
    ms = metastore(req)
    res = ms.update_bindings(req.params["securable_type"], req.params["securable_name"],
                             b.get("add"), b.get("remove"))
    return out(C.UpdateWorkspaceBindingsResponse, {"bindings": res})


@api("workspace", "GET", P + "/workspace-bindings/catalogs/{name}")
def get_catalog_bindings(req):
    ms = metastore(req)
    ids = [b["workspace_id"] for b in ms.get_bindings("catalog", req.params["name"])]
    return out(C.GetCatalogWorkspaceBindingsResponse, {"workspaces": ids})


@api("workspace", "PATCH", P + "/workspace-bindings/catalogs/{name}")
def update_catalog_bindings(req):
    b = body(req, params_of(C.WorkspaceBindingsAPI.update))
    ms = metastore(req)
    for k in ("assign_workspaces", "unassign_workspaces"):
        v = b.get(k)
        if v is not None and (not isinstance(v, list) or
                              not all(isinstance(x, int) for x in v)):
            raise bad(f"Invalid value for {k}: expected an array of workspace ids (integers).")
    ms.update_bindings("catalog", req.params["name"],
                       [{"workspace_id": w} for w in b.get("assign_workspaces") or []],
                       [{"workspace_id": w} for w in b.get("unassign_workspaces") or []])
    ids = [x["workspace_id"] for x in ms.get_bindings("catalog", req.params["name"])]
    return out(C.UpdateCatalogWorkspaceBindingsResponse, {"workspaces": ids})


# ---- tags (entity-tag-assignments) -----------------------------------------------------------

ENTITY_TYPES = {"catalogs": "CATALOG", "schemas": "SCHEMA", "tables": "TABLE",
                "volumes": "VOLUME", "columns": "COLUMN"}


def _entity(ms, req, entity_type, entity_name):
    t = ENTITY_TYPES.get(str(entity_type).lower())
    if t is None:
        raise bad(f"Invalid entity_type '{entity_type}': expected one of "
                  f"{', '.join(sorted(ENTITY_TYPES))}.")
    if t == "COLUMN":
        parts = split_name(entity_name, 4, "column")
        _cat(req, ms, parts[0])
        return "TABLE", ".".join(f"`{p}`" for p in parts[:3]), parts[3]
    _cat(req, ms, entity_name)
    return t, entity_name, None


def _tag_dict(entity_type, entity_name, k, v):
    return out(C.EntityTagAssignment, {"entity_type": entity_type, "entity_name": entity_name,
                                       "tag_key": k, "tag_value": v or None})


@api("workspace", "POST", P + "/entity-tag-assignments")
def create_tag(req):
    b = body(req, params_of(C.EntityTagAssignmentsAPI.create), ("tag_assignment",))
    ta = b["tag_assignment"]
    check_fields(ta, fields_of(C.EntityTagAssignment), "tag_assignment.")
    for k in ("entity_type", "entity_name", "tag_key"):
        if not ta.get(k):
            raise bad(f"Missing required field: tag_assignment.{k}")
    ms = metastore(req)
    t, name, col = _entity(ms, req, ta["entity_type"], ta["entity_name"])
    ms.set_tags(t, name, {ta["tag_key"]: ta.get("tag_value") or ""}, column=col)
    return _tag_dict(ta["entity_type"], ta["entity_name"], ta["tag_key"], ta.get("tag_value"))


@api("workspace", "GET", P + "/entity-tag-assignments/{entity_type}/{entity_name}/tags")
def list_tags(req):
    ms = metastore(req)
    et, en = req.params["entity_type"], req.params["entity_name"]
    t, name, col = _entity(ms, req, et, en)
    tags = sorted(ms.get_tags(t, name, column=col).items())
    items, nxt = page(req, tags)
    return listing("tag_assignments", [_tag_dict(et, en, k, v) for k, v in items], nxt)


@api("workspace", "GET", P + "/entity-tag-assignments/{entity_type}/{entity_name}/tags/{tag_key}")
def get_tag(req):
    ms = metastore(req)
    et, en, key = req.params["entity_type"], req.params["entity_name"], req.params["tag_key"]
    t, name, col = _entity(ms, req, et, en)
    tags = ms.get_tags(t, name, column=col)
    if key not in tags:
        raise bad(f"Tag '{key}' is not assigned to {et} '{en}'.", "NOT_FOUND", 404)
    return _tag_dict(et, en, key, tags[key])


@api("workspace", "PATCH",
     P + "/entity-tag-assignments/{entity_type}/{entity_name}/tags/{tag_key}")
def update_tag(req):
    b = body(req, params_of(C.EntityTagAssignmentsAPI.update) - {"update_mask"},
             ("tag_assignment",))
    ms = metastore(req)
    et, en, key = req.params["entity_type"], req.params["entity_name"], req.params["tag_key"]
    t, name, col = _entity(ms, req, et, en)
    if key not in ms.get_tags(t, name, column=col):
        raise bad(f"Tag '{key}' is not assigned to {et} '{en}'.", "NOT_FOUND", 404)
    v = (b["tag_assignment"] or {}).get("tag_value") or ""
    ms.set_tags(t, name, {key: v}, column=col)
    return _tag_dict(et, en, key, v)


@api("workspace", "DELETE",
     P + "/entity-tag-assignments/{entity_type}/{entity_name}/tags/{tag_key}")
def delete_tag(req):
    ms = metastore(req)
    et, en, key = req.params["entity_type"], req.params["entity_name"], req.params["tag_key"]
    t, name, col = _entity(ms, req, et, en)
    if key not in ms.get_tags(t, name, column=col):
        raise bad(f"Tag '{key}' is not assigned to {et} '{en}'.", "NOT_FOUND", 404)
    ms.unset_tags(t, name, [key], column=col)
    return {}


# ---- credential vending ------------------------------------------------------------------------

def _service_sas(account, container, permissions, expiry):
    """A service SAS on one container, signed with the account key (Azurite validates it).
    FIDELITY: Databricks vends a user delegation SAS scoped to the table's directory; Azurite has
    no directory scope or user delegation without OAuth, so the token here covers the container.
    The shape the client uses (a query string to append to blob URLs) is the same. No `spr`:
    Azurite behind the simulator's TLS reports https requests as a protocol mismatch."""
    import base64
    import hashlib
    import hmac
    import urllib.parse

    from ...blob import BLOBS
    version = "2021-08-06"
    se = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    sts = "\n".join([permissions, "", se, f"/blob/{account}/{container}", "", "", "", version, "c",
                     "", "", "", "", "", "", ""])
    sig = base64.b64encode(hmac.new(base64.b64decode(BLOBS.key(account)), sts.encode(), hashlib.sha256).digest())
    return urllib.parse.urlencode({"sv": version, "sr": "c", "sp": permissions, "se": se, "sig": sig.decode()})


@api("workspace", "POST", P + "/temporary-table-credentials")
def temporary_table_credentials(req):
    """Credential vending for a table's storage (external engines, drhost's Delta log probe).
    Needs the metastore's external data access switch (`external_access_enabled`, off by default)
    and an explicit EXTERNAL USE SCHEMA grant to the caller on the table's schema (not implied by
    ownership or ALL PRIVILEGES, as in Databricks). READ gives read and list."""
    import datetime as dt

    from ...blob import parse_url
    ms = metastore(req)
    b = body(req, {"table_id", "operation"}, ("table_id", "operation"))
    if b["operation"] not in ("READ", "READ_WRITE"):
        raise bad(f"Invalid operation: {b['operation']!r} (READ or READ_WRITE).")
    table = ms.table_by_id(b["table_id"])
    if table is None:
        raise bad(f"Table '{b['table_id']}' does not exist.", "TABLE_DOES_NOT_EXIST", 404)
    schema = f"{table.schema.catalog.name}.{table.schema.name}"
    _cat(req, ms, schema)
    if not ms.external_access_enabled:
        raise bad(f"External data access is not enabled on metastore '{ms.metastore_id}' "
                  "(metastore_info.external_access_enabled).", "PERMISSION_DENIED", 403)
    principal = who(req)
    granted = any(p["privilege"] == "EXTERNAL_USE_SCHEMA"
                  for e in ms.effective_grants("schema", schema, principal) for p in e["privileges"])
    if not granted:
        raise bad(f"User does not have EXTERNAL USE SCHEMA on Schema '{schema}'.", "PERMISSION_DENIED", 403)
    loc = table.storage_location or ms.table_info(table.full_name).get("storage_location")
    if not loc:
        raise bad(f"Table '{table.full_name}' has no storage location.", "INVALID_STATE")
    where = parse_url(loc)
    exp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=1)
    sas = _service_sas(where.account, where.container, "rl" if b["operation"] == "READ" else "racwdl", exp)
    return out(C.GenerateTemporaryTableCredentialResponse, {
        "azure_user_delegation_sas": {"sas_token": sas}, "url": loc,
        "expiration_time": int(exp.timestamp() * 1000)})
