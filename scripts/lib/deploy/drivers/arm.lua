-- ARM drivers.
--   arm         a resource PUT at its id (create and update), GET to read, DELETE to delete.
--   arm_patch   a later change to another ARM resource (e.g. the DBFS CMK on a workspace, which
--               needs the workspace's storage identity first): PUT of the target's declared body
--               merged with this patch; destroy forgets it.
--   arm_approve approval of a Pending private endpoint connection on a resource (e.g. the
--               connection an NCC private endpoint rule opens on a storage account).
-- Each driver gets `rr`, the resource with its lazy fields resolved (id, body, ...).
-- from_snapshot(snap, rr, entry) is the resource as the plan's Resource Graph snapshot
-- (deploy.snapshot) shows it, nil when the snapshot lacks it; the engine uses it only to confirm
-- that nothing changed, and reads with `read` otherwise. list_of(rr, entry) names the parent's list
-- operation that returns the resource (deploy.snapshot.list_of), for children the snapshot lacks.
local util = require("deploy.util")
local snapshot = require("deploy.snapshot")
local err = require("errors")

local M = {}

local function arm(ctx)
  if not ctx.arm then err.raise("NO_CLIENT", "no ARM client in this run (AZURE_* env not set?)") end
  return ctx.arm
end

local function with_preserve(rr, body, live)
  body = util.deepcopy(body)
  for _, p in ipairs(rr.preserve or {}) do
    local v = util.get(live or {}, p)
    if v ~= nil and util.get(body, p) == nil then util.set(body, p, util.deepcopy(v)) end
  end
  return body
end

-- A PUT of a resource that is busy with another operation (409 AnotherOperationInProgress and
-- the like) is retried by the ARM client's request policy (modules/azure.lua, http's retry_codes).
local function put(ctx, id, api, body)
  return (arm(ctx):put(id, api, body))
end

M.arm = {}

function M.arm.read(ctx, rr, entry)
  local id = rr.id_known and rr.id or (entry and entry.id)
  if not id then return nil end
  return (arm(ctx):get(id, rr.api_version or entry.api_version))
end

function M.arm.create(ctx, rr)
  return put(ctx, rr.id, rr.api_version, rr.body)
end

-- A resource with write_once paths (a Key Vault secret's placeholder value) is updated by PATCH
-- of its other fields, so what was set out of band stays.
function M.arm.update(ctx, rr, live)
  if rr.write_once and #rr.write_once > 0 then
    local body = util.deepcopy(rr.body)
    for _, p in ipairs(rr.write_once) do util.set(body, p, nil) end
    for k, v in pairs(body) do if type(v) == "table" and next(v) == nil then body[k] = nil end end
    return (arm(ctx):patch(rr.id, rr.api_version, body))
  end
  return put(ctx, rr.id, rr.api_version, with_preserve(rr, rr.body, live))
end

function M.arm.delete(ctx, entry)
  arm(ctx):delete(entry.id, entry.api_version)
end

function M.arm.id(rr, live) return (live and live.id) or rr.id end

-- Resource Graph returns types in lower case; a GET returns them as declared
local function graph_view(row, rr)
  if row and type(row.type) == "string" and type(rr.type) == "string" and row.type:lower() == rr.type:lower() then
    row.type = rr.type
  end
  return row
end

function M.arm.from_snapshot(snap, rr, entry)
  local id = rr.id_known and rr.id or (entry and entry.id)
  return graph_view(snap:get(id), rr)
end

-- the parent's list operation that returns this child as its GET does (deploy.snapshot.LISTS), or nil
function M.arm.list_of(rr, entry)
  local id = rr.id_known and rr.id or (entry and entry.id)
  return snapshot.list_of(rr.type, id, rr.api_version or (entry and entry.api_version), rr.body)
end

M.arm_patch = {}

function M.arm_patch.read(ctx, rr, entry)
  local id = rr.id_known and rr.id or (entry and entry.id)
  if not id then return nil end
  local live = arm(ctx):get(id, rr.api_version)
  if live == nil then return nil end
  -- "exists" only once the patched properties are there; otherwise it is still to be created.
  return live
end

local function patched_body(rr, live)
  local body = util.merge(rr.base or {}, rr.body)
  return with_preserve(rr, body, live)
end

function M.arm_patch.create(ctx, rr)
  local live = arm(ctx):get(rr.id, rr.api_version)
  return put(ctx, rr.id, rr.api_version, patched_body(rr, live))
end

function M.arm_patch.update(ctx, rr, live)
  return put(ctx, rr.id, rr.api_version, patched_body(rr, live))
end

function M.arm_patch.delete() end -- forgetting a patch leaves the target as it is

function M.arm_patch.id(rr) return rr.id end

function M.arm_patch.from_snapshot(snap, rr, entry)
  local id = rr.id_known and rr.id or (entry and entry.id)
  return snap:get(id)
end

M.arm_approve = {}

local function pick_connection(conns, rr)
  local want = tostring(rr.body.endpoint_name or ""):lower()
  for _, c in ipairs(conns or {}) do
    local pe = c.properties and c.properties.privateEndpoint and c.properties.privateEndpoint.id
    local pe_name = type(pe) == "string" and pe:match("([^/]+)$") or ""
    if want ~= "" and (pe_name:lower() == want or tostring(c.name):lower():find(want, 1, true)) then
      return c
    end
  end
  return nil
end

local function find_connection(ctx, rr)
  return pick_connection(arm(ctx):list(rr.id .. "/privateEndpointConnections", rr.api_version), rr)
end

function M.arm_approve.read(ctx, rr)
  if not rr.id_known or rr.body.endpoint_name == nil or type(rr.body.endpoint_name) ~= "string" then
    return nil
  end
  return find_connection(ctx, rr)
end

-- the connections a storage account's GET (and so its Resource Graph row) carries inline
function M.arm_approve.from_snapshot(snap, rr)
  if not rr.id_known or type(rr.body.endpoint_name) ~= "string" then return nil end
  local target = snap:get(rr.id)
  local conns = target and type(target.properties) == "table" and target.properties.privateEndpointConnections
  if type(conns) ~= "table" then return nil end
  return pick_connection(conns, rr)
end

function M.arm_approve.view(_, live)
  local st = live.properties and live.properties.privateLinkServiceConnectionState or {}
  local pe = live.properties and live.properties.privateEndpoint and live.properties.privateEndpoint.id
  return { endpoint_name = type(pe) == "string" and pe:match("([^/]+)$") or nil, status = st.status }
end

local function approve(ctx, rr, conn)
  conn = conn or find_connection(ctx, rr)
  if not conn then
    err.raise("NOT_FOUND", "no private endpoint connection for endpoint '" ..
      tostring(rr.body.endpoint_name) .. "' on " .. rr.id, { target = rr.addr })
  end
  local body = { properties = { privateLinkServiceConnectionState = {
    status = "Approved", description = rr.body.description or "Approved by drhost deploy" } } }
  return put(ctx, conn.id, rr.api_version, body)
end

function M.arm_approve.create(ctx, rr) return approve(ctx, rr) end
function M.arm_approve.update(ctx, rr, live) return approve(ctx, rr, live) end
function M.arm_approve.delete() end
function M.arm_approve.id(rr, live) return live and live.id or rr.id end

return M
