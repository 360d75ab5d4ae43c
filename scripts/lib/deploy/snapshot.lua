-- The live estate read in bulk through Azure Resource Graph, for the plan's refresh.
--
-- One query per Resource Graph table over the env's resource groups (Resources for resources,
-- ResourceContainers for the groups themselves, AuthorizationResources for role assignments), each
-- paged 1,000 rows at a time. The plan uses a row only to confirm that a resource is up to date: a
-- resource the snapshot lacks, or shows differing from its declaration, is read with its own GET
-- before anything is decided (Resource Graph follows ARM with a lag of seconds; it never decides an
-- update). A child resource that its parent's GET carries inline (subnets and peerings of a VNet,
-- private endpoint connections of a storage account) is found in the parent's row.
local json = require("json")
local log = require("log")
local err = require("errors")

local M = {}

M.TABLES = {
  { name = "Resources" },
  { name = "ResourceContainers", where = "type =~ 'microsoft.resources/subscriptions/resourcegroups'" },
  { name = "AuthorizationResources", where = "type =~ 'microsoft.authorization/roleassignments'" },
}
-- Resource Graph's own columns that a GET of the resource does not return
local GRAPH_COLUMNS = { "resourceGroup", "subscriptionId", "tenantId" }
-- envelope columns the service returns as null or "" when a resource has none
local OPTIONAL = { "kind", "managedBy", "sku", "plan", "zones", "identity", "extendedLocation", "tags" }

local function norm(id) return (tostring(id):gsub("/+$", "")):lower() end

--- resource_groups(stack) -> sorted list of the resource group names (lower case) that the stack's
-- ARM resources live in, read from the ids known at declaration time.
function M.resource_groups(stack)
  local seen, out = {}, {}
  local sub = tostring(stack.subscription_id or ""):lower()
  for _, r in ipairs(stack.resources) do
    if (r.provider == "arm" or r.provider == "arm_patch" or r.provider == "arm_approve") and type(r.id) == "string" then
      local s, g = r.id:lower():match("^/subscriptions/([^/]+)/resourcegroups/([^/]+)")
      if g and s == sub and not seen[g] then
        seen[g] = true
        out[#out + 1] = g
      end
    end
  end
  table.sort(out)
  return out
end

local function quote(s) return "'" .. s:gsub("\\", "\\\\"):gsub("'", "\\'") .. "'" end

--- query_text(table_spec, groups) -> the KQL of one table over the groups
function M.query_text(t, groups)
  local q = {}
  for i, g in ipairs(groups) do q[i] = quote(g) end
  local where = "resourceGroup in~ (" .. table.concat(q, ", ") .. ")"
  if t.where then where = t.where .. " and " .. where end
  return t.name .. " | where " .. where
end

local function to_arm_view(row)
  for _, k in ipairs(GRAPH_COLUMNS) do row[k] = nil end
  for _, k in ipairs(OPTIONAL) do
    if row[k] == json.null or row[k] == "" then row[k] = nil end
  end
  return row
end

local Snapshot = {}
Snapshot.__index = Snapshot

--- new(rows) -> snapshot over rows (as Resource Graph returns them); used by load and by specs.
function M.new(rows, stats)
  local by_id = {}
  for _, row in ipairs(rows) do
    if type(row) == "table" and type(row.id) == "string" then by_id[norm(row.id)] = to_arm_view(row) end
  end
  return setmetatable({ by_id = by_id, rows = #rows, stats = stats or { calls = 0 } }, Snapshot)
end

-- the parent of a child resource id (".../providers/NS/t1/n1/t2/n2" -> ".../providers/NS/t1/n1"),
-- nil for a top-level resource or a resource group
local function parent_of(id)
  local head, tail = id:match("^(.*/providers/[^/]+)/(.+)$")
  if not head then return nil end
  local segs = {}
  for s in tail:gmatch("[^/]+") do segs[#segs + 1] = s end
  if #segs < 4 then return nil end
  return head .. "/" .. table.concat(segs, "/", 1, #segs - 2)
end

local function find_inline(parent, id)
  for _, v in pairs(type(parent.properties) == "table" and parent.properties or {}) do
    if type(v) == "table" then
      for _, child in ipairs(v) do
        if type(child) == "table" and type(child.id) == "string" and norm(child.id) == id
          and type(child.properties) == "table" then
          return child
        end
      end
    end
  end
  return nil
end

--- snap:get(id) -> the resource as Resource Graph shows it (GET shape), or nil when it lacks it.
function Snapshot:get(id)
  if type(id) ~= "string" then return nil end
  local k = norm(id)
  local row = self.by_id[k]
  if row ~= nil then return row end
  local p = parent_of(k)
  if not p then return nil end
  local parent = self:get(p)
  return parent and find_inline(parent, k) or nil
end

--- load(ctx, stack) -> snapshot, or nil when there is nothing to query or Resource Graph refuses
-- (then every resource is read with its own GET, as before; said once).
function M.load(ctx, stack, opts)
  opts = opts or {}
  if not ctx or not ctx.arm or not ctx.arm.graph_query then return nil end
  local groups = M.resource_groups(stack)
  if #groups == 0 then return nil end
  local rows, calls = {}, 0
  for _, t in ipairs(M.TABLES) do
    local ok, got, pages = err.pcall(ctx.arm.graph_query, ctx.arm, M.query_text(t, groups), { page_size = opts.page_size })
    if not ok and err.is(got, "CANCELLED") then error(got, 0) end
    if not ok then
      log.warn("deploy: Resource Graph query failed (" .. err.text(got) .. "); reading every resource with its own GET")
      return nil
    end
    calls = calls + pages
    for _, row in ipairs(got) do rows[#rows + 1] = row end
  end
  return M.new(rows, { calls = calls, groups = #groups })
end

return M
