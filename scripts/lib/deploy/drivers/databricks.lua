-- Databricks drivers: account-level objects (provider "account") and workspace-level objects
-- (provider "workspace", `rr.workspace` is the workspace URL). Each kind says how to read by id
-- or natural key, create, update and delete; `view` turns the server's object into the shape the
-- declared body is compared with.
local util = require("deploy.util")
local err = require("errors")
local lazy = require("deploy.lazy")

local M = {}

local urlencode = require("web").urlencode

local function host_url(h)
  if type(h) ~= "string" then return nil end
  if h:match("^https?://") then return h end
  return "https://" .. h
end

local function client(ctx, rr)
  if rr.provider == "account" then
    if not ctx.account then
      err.raise("NO_CLIENT", "no Databricks account client (DATABRICKS_ACCOUNT_HOST/ID not set?)")
    end
    return ctx.account
  end
  local host = host_url(rr.workspace)
  if host == nil or rr.workspace == lazy.UNKNOWN then return nil end
  if not ctx.workspace_client then err.raise("NO_CLIENT", "no Databricks workspace client factory") end
  return ctx.workspace_client(host)
end

local function pick(t, fields)
  if not fields then return util.deepcopy(t) end
  local out = {}
  for _, f in ipairs(fields) do if t[f] ~= nil then out[f] = util.deepcopy(t[f]) end end
  return out
end

local function omit(t, fields)
  local out = util.deepcopy(t)
  for _, f in ipairs(fields or {}) do out[f] = nil end
  return out
end

local function get_or_nil(c, path, query)
  local body = c:get(path, query)
  return body
end

--- rest(spec): a driver for a typical CRUD object.
-- spec.collection: path (or function(rr)) of the collection (POST to create, GET to list)
-- spec.item(rr, id): path of one object; spec.id_field: field holding the server id
-- spec.key: natural key field in the body (name); spec.get_by_key: item path takes the key
-- spec.wrap/unwrap: request/response envelope key; spec.items: list key
-- spec.create_fields / spec.update_omit; spec.update_method (PATCH) / spec.update_path(rr, id)
local function rest(spec)
  local d = {}
  local function coll(rr) return type(spec.collection) == "function" and spec.collection(rr) or spec.collection end
  local function unwrap(b)
    if spec.unwrap and type(b) == "table" and b[spec.unwrap] ~= nil then return b[spec.unwrap] end
    return b
  end
  local function wrap(b)
    if spec.wrap then return { [spec.wrap] = b } end
    return b
  end
  local function id_of(live, rr)
    if live and spec.id_field and live[spec.id_field] ~= nil then return tostring(live[spec.id_field]) end
    if spec.get_by_key then return rr.body[spec.key] end
    return nil
  end
  function d.read(ctx, rr, entry)
    local c = client(ctx, rr)
    if not c then return nil end
    if entry and entry.id and not spec.get_by_key then
      local live = get_or_nil(c, spec.item(rr, entry.id))
      if live ~= nil then return unwrap(live) end
    end
    local key = spec.key and rr.body[spec.key]
    if key == nil or key == lazy.UNKNOWN then return nil end
    if spec.get_by_key then
      return unwrap(get_or_nil(c, spec.item(rr, key)))
    end
    if spec.items then
      for _, x in ipairs(c:list(coll(rr), spec.list_query, spec.items)) do
        x = unwrap(x)
        if x[spec.key] == key then
          if spec.full_get and x[spec.id_field] then
            return unwrap(get_or_nil(c, spec.item(rr, x[spec.id_field]))) or x
          end
          return x
        end
      end
    end
    return nil
  end
  function d.create(ctx, rr)
    local c = client(ctx, rr)
    if not c then err.raise("UNRESOLVED", rr.addr .. ": workspace URL unknown") end
    local body = pick(rr.body, spec.create_fields)
    local live = unwrap(c:post(coll(rr), wrap(body)))
    if spec.after_create then live = spec.after_create(ctx, c, rr, live) or live end
    -- fields the create call does not take (e.g. isolation_mode) go through an update
    if spec.create_fields then
      local rest_fields = omit(rr.body, spec.create_fields)
      if next(rest_fields) ~= nil then live = d.update(ctx, rr, live) or live end
    end
    if spec.reread then
      local again = get_or_nil(c, spec.item(rr, id_of(live, rr)))
      if again then live = unwrap(again) end
    end
    return live
  end
  function d.update(ctx, rr, live)
    local c = client(ctx, rr)
    if spec.no_update then
      err.raise("NOT_UPDATABLE", rr.addr .. ": " .. rr.type .. " cannot be updated in place")
    end
    local id = id_of(live, rr)
    local body = omit(rr.body, spec.update_omit or { spec.key })
    local method = (spec.update_method or "PATCH"):lower()
    local path = spec.update_path and spec.update_path(rr, id) or spec.item(rr, id)
    local out = c[method](c, path, spec.update_wrap and { [spec.update_wrap] = body } or wrap(body))
    out = unwrap(out)
    if type(out) ~= "table" or next(out) == nil or spec.reread then
      out = unwrap(get_or_nil(c, spec.item(rr, id)))
    end
    return out
  end
  function d.delete(ctx, entry)
    local rr = { provider = entry.provider, workspace = entry.workspace, body = entry.key or {} }
    local c = client(ctx, rr)
    if not c then return end
    c:delete(spec.item(rr, entry.id), spec.delete_query)
  end
  function d.id(rr, live) return id_of(live, rr) end
  d.view = spec.view
  return d
end
M.rest = rest

local UC = "/api/2.1/unity-catalog"

-- account level -------------------------------------------------------------------------------

M.metastore = rest{
  collection = "/metastores", items = "metastores", key = "name", id_field = "metastore_id",
  item = function(_, id) return "/metastores/" .. id end,
  wrap = "metastore_info", unwrap = "metastore_info", update_method = "PUT",
  create_fields = { "name", "region", "storage_root", "external_access_enabled" },
  -- UpdateAccountsMetastore has no name (new_name) or region field
  update_omit = { "name", "region" }, delete_query = { force = "true" },
}
do
  -- One metastore per region per account: when none has our name, the region's metastore is
  -- adopted as it is (its name is not compared then).
  local by_name = M.metastore.read
  function M.metastore.read(ctx, rr, entry)
    local live = by_name(ctx, rr, entry)
    if live or rr.body.region == nil then return live end
    local c = client(ctx, rr)
    for _, x in ipairs(c:list("/metastores", nil, "metastores")) do
      x = x.metastore_info or x
      if tostring(x.region):lower() == tostring(rr.body.region):lower() then return x end
    end
    return nil
  end
  function M.metastore.view(rr, live)
    local v = util.deepcopy(live)
    if v.name ~= rr.body.name then v.name = rr.body.name end
    return v
  end
end

M.ncc = rest{
  collection = "/network-connectivity-configs", items = "items", key = "name",
  id_field = "network_connectivity_config_id",
  item = function(_, id) return "/network-connectivity-configs/" .. id end,
  no_update = true,
}

M.ncc_pe_rule = {}
do
  local d = M.ncc_pe_rule
  local function base(rr) return "/network-connectivity-configs/" .. tostring(rr.body.ncc_id) .. "/private-endpoint-rules" end
  function d.read(ctx, rr, entry)
    if rr.body.ncc_id == lazy.UNKNOWN or rr.body.resource_id == lazy.UNKNOWN then return nil end
    local c = client(ctx, rr)
    if entry and entry.id then
      local live = c:get(base(rr) .. "/" .. entry.id)
      if live then return live end
    end
    local ok, items = pcall(c.list, c, base(rr), nil, "items")
    if not ok then
      if type(items) == "table" and items.status == 404 then return nil end
      error(items, 0)
    end
    for _, r in ipairs(items) do
      if tostring(r.resource_id):lower() == tostring(rr.body.resource_id):lower()
        and r.group_id == rr.body.group_id and not r.deactivated then
        return r
      end
    end
    return nil
  end
  function d.view(rr, live)
    return { ncc_id = rr.body.ncc_id, resource_id = live.resource_id, group_id = live.group_id }
  end
  function d.create(ctx, rr)
    local c = client(ctx, rr)
    return c:post(base(rr), { resource_id = rr.body.resource_id, group_id = rr.body.group_id })
  end
  function d.update() err.raise("NOT_UPDATABLE", "an NCC private endpoint rule is replaced, not updated") end
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "account" })
    c:delete("/network-connectivity-configs/" .. tostring(entry.key and entry.key.ncc_id) ..
      "/private-endpoint-rules/" .. entry.id)
  end
  function d.id(_, live) return live and live.rule_id end
end

-- Bind an NCC to a workspace: PATCH /workspaces/{id} {network_connectivity_config_id}.
M.ncc_binding = {}
do
  local d = M.ncc_binding
  function d.read(ctx, rr)
    if rr.body.workspace_id == lazy.UNKNOWN then return nil end
    local c = client(ctx, rr)
    local ws = c:get("/workspaces/" .. tostring(rr.body.workspace_id))
    if not ws or ws.network_connectivity_config_id == nil then return nil end
    return ws
  end
  function d.view(_, live)
    return { workspace_id = tostring(live.workspace_id), network_connectivity_config_id = live.network_connectivity_config_id }
  end
  local function bind(ctx, rr)
    local c = client(ctx, rr)
    c:patch("/workspaces/" .. tostring(rr.body.workspace_id),
      { network_connectivity_config_id = rr.body.network_connectivity_config_id })
    return c:get("/workspaces/" .. tostring(rr.body.workspace_id))
  end
  d.create = bind
  function d.update(ctx, rr) return bind(ctx, rr) end
  function d.delete() end
  function d.id(rr) return tostring(rr.body.workspace_id) end
end

M.metastore_assignment = {}
do
  local d = M.metastore_assignment
  function d.read(ctx, rr)
    if rr.body.workspace_id == lazy.UNKNOWN or rr.body.metastore_id == lazy.UNKNOWN then return nil end
    local c = client(ctx, rr)
    local ok, body = pcall(c.get, c, "/workspaces/" .. tostring(rr.body.workspace_id) .. "/metastore")
    if not ok then
      if type(body) == "table" and (body.status == 404 or body.status == 400) then return nil end
      error(body, 0)
    end
    local a = body and (body.metastore_assignment or body)
    if not a or a.metastore_id == nil then return nil end
    return a
  end
  function d.view(_, live)
    return { workspace_id = tostring(live.workspace_id), metastore_id = live.metastore_id,
      default_catalog_name = live.default_catalog_name }
  end
  local function path(rr)
    return "/workspaces/" .. tostring(rr.body.workspace_id) .. "/metastores/" .. tostring(rr.body.metastore_id)
  end
  local function assign(ctx, rr, method)
    local c = client(ctx, rr)
    local a = { metastore_id = rr.body.metastore_id, default_catalog_name = rr.body.default_catalog_name }
    c[method](c, path(rr), { metastore_assignment = a })
    return d.read(ctx, rr)
  end
  function d.create(ctx, rr) return assign(ctx, rr, "post") end
  function d.update(ctx, rr) return assign(ctx, rr, "put") end
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "account" })
    c:delete("/workspaces/" .. tostring(entry.key.workspace_id) .. "/metastores/" .. tostring(entry.key.metastore_id))
  end
  function d.id(rr) return tostring(rr.body.workspace_id) .. "/" .. tostring(rr.body.metastore_id) end
end

M.network_policy = rest{
  collection = "/network-policies", key = "network_policy_id", id_field = "network_policy_id",
  get_by_key = true, item = function(_, id) return "/network-policies/" .. id end,
  update_method = "PUT", update_omit = {},
}

M.workspace_network_option = {}
do
  local d = M.workspace_network_option
  local function path(rr) return "/workspaces/" .. tostring(rr.body.workspace_id) .. "/network" end
  function d.read(ctx, rr)
    if rr.body.workspace_id == lazy.UNKNOWN then return nil end
    local c = client(ctx, rr)
    local ok, body = pcall(c.get, c, path(rr))
    if not ok then
      if type(body) == "table" and body.status == 404 then return nil end
      error(body, 0)
    end
    if body and body.network_policy_id == nil then return nil end
    return body
  end
  function d.view(_, live) return { workspace_id = tostring(live.workspace_id), network_policy_id = live.network_policy_id } end
  local function put(ctx, rr)
    local c = client(ctx, rr)
    return c:put(path(rr), { workspace_id = tonumber(rr.body.workspace_id) or rr.body.workspace_id,
      network_policy_id = rr.body.network_policy_id })
  end
  d.create = put
  function d.update(ctx, rr) return put(ctx, rr) end
  -- back to the account's default policy, so that our policy can be deleted after
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "account" })
    local id = entry.key and entry.key.workspace_id
    if id then
      pcall(c.put, c, "/workspaces/" .. tostring(id) .. "/network",
        { workspace_id = tonumber(id) or id, network_policy_id = "default-policy" })
    end
  end
  function d.id(rr) return tostring(rr.body.workspace_id) end
end

-- workspace level -----------------------------------------------------------------------------

local function uc_named(collection, extra)
  local spec = {
    collection = UC .. "/" .. collection, key = "name", get_by_key = true,
    item = function(_, name) return UC .. "/" .. collection .. "/" .. urlencode(name) end,
  }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return rest(spec)
end

M.storage_credential = uc_named("storage-credentials", {
  create_fields = { "name", "azure_managed_identity", "comment", "read_only", "skip_validation" },
  update_omit = { "name", "skip_validation" }, delete_query = { force = "true" } })
M.external_location = uc_named("external-locations", {
  create_fields = { "name", "url", "credential_name", "comment", "read_only", "skip_validation" },
  update_omit = { "name", "skip_validation" }, delete_query = { force = "true" } })
M.catalog = uc_named("catalogs", {
  create_fields = { "name", "comment", "storage_root", "properties", "provider_name", "share_name" },
  update_omit = { "name", "storage_root", "provider_name", "share_name" },
  delete_query = { force = "true" } })
M.share = uc_named("shares", { create_fields = { "name", "comment" }, update_omit = { "name" } })
M.recipient = uc_named("recipients", {
  create_fields = { "name", "comment", "authentication_type", "data_recipient_global_metastore_id" },
  update_omit = { "name", "authentication_type", "data_recipient_global_metastore_id" } })

-- Grants of one principal on one securable: {securable_type, full_name, principal, privileges}.
-- The principal ends up with exactly the declared privileges (extras are removed).
M.grants = {}
do
  local d = M.grants
  local function path(rr)
    local b = rr.body
    if b.securable_type == "share" then return UC .. "/shares/" .. urlencode(b.full_name) .. "/permissions" end
    return UC .. "/permissions/" .. b.securable_type .. "/" .. urlencode(b.full_name)
  end
  local function current(ctx, rr)
    local c = client(ctx, rr)
    local body = c:get(path(rr))
    if body == nil then return nil end
    for _, a in ipairs(body.privilege_assignments or {}) do
      if a.principal == rr.body.principal then return a.privileges or {} end
    end
    return {}
  end
  function d.read(ctx, rr)
    if lazy.contains_unknown(rr.body) or not client(ctx, rr) then return nil end
    local privs = current(ctx, rr)
    if privs == nil or #privs == 0 then return nil end
    return { securable_type = rr.body.securable_type, full_name = rr.body.full_name,
      principal = rr.body.principal, privileges = privs }
  end
  local function apply(ctx, rr, remove_all)
    local c = client(ctx, rr)
    local have = current(ctx, rr) or {}
    local want = remove_all and {} or rr.body.privileges
    local hs, ws = util.keys_set(have), util.keys_set(want)
    local add, rem = {}, {}
    for _, p in ipairs(want) do if not hs[p] then add[#add + 1] = p end end
    for _, p in ipairs(have) do if not ws[p] then rem[#rem + 1] = p end end
    local change = { principal = rr.body.principal }
    if #add > 0 then change.add = add end
    if #rem > 0 then change.remove = rem end
    if #add + #rem > 0 then c:patch(path(rr), { changes = { change } }) end
    return d.read(ctx, rr)
  end
  function d.create(ctx, rr) return apply(ctx, rr) end
  function d.update(ctx, rr) return apply(ctx, rr) end
  function d.delete(ctx, entry)
    local rr = { provider = "workspace", workspace = entry.workspace, body = entry.key }
    if client(ctx, rr) then pcall(apply, ctx, rr, true) end
  end
  function d.id(rr) return rr.body.securable_type .. "/" .. rr.body.full_name .. "/" .. rr.body.principal end
end

-- Privileges one principal must hold on a securable, leaving alone any others it holds (where
-- `grants` makes the listed set the principal's whole set): {securable_type, full_name,
-- principal, privileges}. Read shows the listed ones it holds; create and update add the
-- missing ones; delete revokes the listed ones only. The replication identity's EXTERNAL USE
-- SCHEMA is one: the replication run and the catalogs' owners grant it other privileges there.
M.privileges = {}
do
  local d = M.privileges
  local grants = M.grants
  local function held(ctx, rr)
    local c = client(ctx, rr)
    local body = c:get(UC .. "/permissions/" .. rr.body.securable_type .. "/" .. urlencode(rr.body.full_name))
    if body == nil then return nil end
    local have = {}
    for _, a in ipairs(body.privilege_assignments or {}) do
      if a.principal == rr.body.principal then
        for _, p in ipairs(a.privileges or {}) do have[type(p) == "table" and p.privilege or p] = true end
      end
    end
    return have
  end
  function d.read(ctx, rr)
    if lazy.contains_unknown(rr.body) or not client(ctx, rr) then return nil end
    local have = held(ctx, rr)
    if have == nil then return nil end
    local privs = {}
    for _, p in ipairs(rr.body.privileges) do if have[p] then privs[#privs + 1] = p end end
    if #privs == 0 then return nil end
    return { securable_type = rr.body.securable_type, full_name = rr.body.full_name,
      principal = rr.body.principal, privileges = privs }
  end
  local function change(ctx, rr, verb)
    local c = client(ctx, rr)
    local have = held(ctx, rr) or {}
    local list = {}
    for _, p in ipairs(rr.body.privileges) do
      if (verb == "add") == not have[p] then list[#list + 1] = p end
    end
    if #list > 0 then
      c:patch(UC .. "/permissions/" .. rr.body.securable_type .. "/" .. urlencode(rr.body.full_name),
        { changes = { { principal = rr.body.principal, [verb] = list } } })
    end
    return d.read(ctx, rr)
  end
  function d.create(ctx, rr) return change(ctx, rr, "add") end
  function d.update(ctx, rr) return change(ctx, rr, "add") end
  function d.delete(ctx, entry)
    local rr = { provider = "workspace", workspace = entry.workspace, body = entry.key }
    if client(ctx, rr) and type(rr.body.privileges) == "table" then pcall(change, ctx, rr, "remove") end
  end
  d.id = grants.id
end

-- A workspace binding of a securable: {securable_type, securable_name, workspace_id, binding_type}.
M.workspace_binding = {}
do
  local d = M.workspace_binding
  local function path(rr)
    return UC .. "/bindings/" .. rr.body.securable_type .. "/" .. urlencode(rr.body.securable_name)
  end
  function d.read(ctx, rr)
    if lazy.contains_unknown(rr.body) or not client(ctx, rr) then return nil end
    local c = client(ctx, rr)
    local body = c:get(path(rr))
    for _, b in ipairs(body and body.bindings or {}) do
      if tostring(b.workspace_id) == tostring(rr.body.workspace_id) then
        return { securable_type = rr.body.securable_type, securable_name = rr.body.securable_name,
          workspace_id = tostring(b.workspace_id), binding_type = b.binding_type }
      end
    end
    return nil
  end
  local function bind(ctx, rr)
    local c = client(ctx, rr)
    c:patch(path(rr), { add = { { workspace_id = tonumber(rr.body.workspace_id) or rr.body.workspace_id,
      binding_type = rr.body.binding_type or "BINDING_TYPE_READ_WRITE" } } })
    return d.read(ctx, rr)
  end
  d.create = bind
  function d.update(ctx, rr) return bind(ctx, rr) end
  -- Removing the binding of an ISOLATED catalog's own workspace would lock that workspace out of
  -- the catalog (and make its deletion fail): the binding is only forgotten; deleting the catalog
  -- removes its bindings.
  function d.delete() end
  function d.id(rr) return rr.body.securable_type .. "/" .. rr.body.securable_name .. "@" .. tostring(rr.body.workspace_id) end
end

-- The provider (in the recipient metastore) for a given global metastore id: looked up, never
-- created (Databricks creates it with the recipient on the other side).
M.provider_lookup = {}
do
  local d = M.provider_lookup
  function d.read(ctx, rr)
    if lazy.contains_unknown(rr.body) or not client(ctx, rr) then return nil end
    local c = client(ctx, rr)
    for _, p in ipairs(c:list(UC .. "/providers", nil, "providers")) do
      if p.data_provider_global_metastore_id == rr.body.data_provider_global_metastore_id then return p end
    end
    return nil
  end
  function d.view(_, live)
    return { data_provider_global_metastore_id = live.data_provider_global_metastore_id }
  end
  function d.create(ctx, rr)
    local p = d.read(ctx, rr)
    if not p then
      err.raise("NOT_FOUND", "no Delta Sharing provider for " .. tostring(rr.body.data_provider_global_metastore_id) ..
        " in this metastore: deploy the peer environment (prod) first, so its recipient exists",
        { target = rr.addr })
    end
    return p
  end
  d.update = d.create
  function d.delete() end
  function d.id(_, live) return live and live.name end
end

M.warehouse = rest{
  collection = "/api/2.0/sql/warehouses", items = "warehouses", key = "name", id_field = "id",
  item = function(_, id) return "/api/2.0/sql/warehouses/" .. id end, full_get = true,
  update_method = "POST", update_path = function(_, id) return "/api/2.0/sql/warehouses/" .. id .. "/edit" end,
  update_omit = {}, reread = true,
}

-- A secret scope: {scope} (Databricks-backed) or {scope, scope_backend_type = "AZURE_KEYVAULT",
-- backend_azure_keyvault = {resource_id, dns_name}} (a read-only view of a Key Vault; its creator
-- must authenticate with an Entra ID token). Scopes cannot be updated: declare the backend fields
-- create_only, so a change replaces the scope.
M.secret_scope = {}
do
  local d = M.secret_scope
  function d.read(ctx, rr)
    local c = client(ctx, rr)
    if not c then return nil end
    local body = c:get("/api/2.0/secrets/scopes/list")
    for _, s in ipairs(body and body.scopes or {}) do
      if s.name == rr.body.scope then
        return { scope = s.name, backend_type = s.backend_type, keyvault_metadata = s.keyvault_metadata }
      end
    end
    return nil
  end
  function d.view(_, live)
    return { scope = live.scope, scope_backend_type = live.backend_type,
      backend_azure_keyvault = live.keyvault_metadata }
  end
  function d.create(ctx, rr)
    local c = client(ctx, rr)
    local req = { scope = rr.body.scope }
    if rr.body.scope_backend_type then
      req.scope_backend_type = rr.body.scope_backend_type
      req.backend_azure_keyvault = rr.body.backend_azure_keyvault
    end
    c:post("/api/2.0/secrets/scopes/create", req)
    return d.read(ctx, rr) or { scope = rr.body.scope, backend_type = rr.body.scope_backend_type,
      keyvault_metadata = rr.body.backend_azure_keyvault }
  end
  function d.update(_, _, live) return live end
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "workspace", workspace = entry.workspace })
    if c then c:post("/api/2.0/secrets/scopes/delete", { scope = entry.id }) end
  end
  function d.id(rr) return rr.body.scope end
end

-- A secret in a scope: {scope, key, string_value}. Values cannot be read back, so only the key's
-- presence is compared; the value is sensitive (masked in plans and state).
M.secret = {}
do
  local d = M.secret
  function d.read(ctx, rr)
    local c = client(ctx, rr)
    if not c then return nil end
    local ok, body = pcall(c.get, c, "/api/2.0/secrets/list", { scope = rr.body.scope })
    if not ok then
      if type(body) == "table" and (body.status == 404 or body.code == "RESOURCE_DOES_NOT_EXIST") then return nil end
      error(body, 0)
    end
    for _, x in ipairs(body and body.secrets or {}) do
      if x.key == rr.body.key then return { scope = rr.body.scope, key = x.key } end
    end
    return nil
  end
  function d.view(rr, live) return { scope = live.scope, key = live.key, string_value = rr.body.string_value } end
  local function put(ctx, rr)
    local c = client(ctx, rr)
    c:post("/api/2.0/secrets/put", { scope = rr.body.scope, key = rr.body.key, string_value = rr.body.string_value })
    return { scope = rr.body.scope, key = rr.body.key }
  end
  d.create = put
  function d.update(ctx, rr) return put(ctx, rr) end
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "workspace", workspace = entry.workspace })
    if c then pcall(c.post, c, "/api/2.0/secrets/delete", { scope = entry.key.scope, key = entry.key.key }) end
  end
  function d.id(rr) return rr.body.scope .. "/" .. rr.body.key end
end

-- Jobs: body = job settings (name, tasks, schedule, ...).
M.job = {}
do
  local d = M.job
  local JOBS = "/api/2.1/jobs"
  function d.read(ctx, rr, entry)
    local c = client(ctx, rr)
    if not c then return nil end
    if entry and entry.id then
      local j = c:get(JOBS .. "/get", { job_id = entry.id })
      if j then return j end
    end
    for _, j in ipairs(c:list(JOBS .. "/list", { name = rr.body.name }, "jobs")) do
      if j.settings and j.settings.name == rr.body.name then
        return c:get(JOBS .. "/get", { job_id = tostring(j.job_id) }) or j
      end
    end
    return nil
  end
  function d.view(_, live) return live.settings or {} end
  function d.create(ctx, rr)
    local c = client(ctx, rr)
    local r = c:post(JOBS .. "/create", rr.body)
    return c:get(JOBS .. "/get", { job_id = tostring(r.job_id) }) or { job_id = r.job_id, settings = rr.body }
  end
  function d.update(ctx, rr, live)
    local c = client(ctx, rr)
    c:post(JOBS .. "/reset", { job_id = live.job_id, new_settings = rr.body })
    return c:get(JOBS .. "/get", { job_id = tostring(live.job_id) })
  end
  function d.delete(ctx, entry)
    local c = client(ctx, { provider = "workspace", workspace = entry.workspace })
    if c then c:post(JOBS .. "/delete", { job_id = tonumber(entry.id) or entry.id }) end
  end
  function d.id(_, live) return live and tostring(live.job_id) end
end

return M
