-- The live estate read in bulk through Azure Resource Graph, for the plan's refresh.
--
-- One query per Resource Graph table over the env's resource groups (Resources for resources,
-- ResourceContainers for the groups themselves, AuthorizationResources for role assignments), each
-- paged 1,000 rows at a time. The plan uses a row only to confirm that a resource is up to date: a
-- resource the snapshot lacks, or shows differing from its declaration, is read with its own GET
-- before anything is decided (Resource Graph follows ARM with a lag of seconds; it never decides an
-- update). A child resource that its parent's GET carries inline (subnets and peerings of a VNet,
-- private endpoint connections of a storage account) is found in the parent's row.
--
-- Children Resource Graph does not index (M.LISTS) are read with their parent's ARM list operation
-- where one list covers two or more of them (load_lists); a list item, like a row, only ever
-- confirms: a child missing from its list, or listed differing, is read with its own GET.
local json = require("json")
local log = require("log")
local err = require("errors")
local task = require("task")

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
  return setmetatable({ by_id = by_id, listed = {}, rows = #rows, stats = stats or { calls = 0 } }, Snapshot)
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

local function lookup(self, k)
  local row = self.by_id[k]
  if row ~= nil then return row, "graph" end
  local p = parent_of(k)
  local parent = p and lookup(self, p)
  local child = parent and find_inline(parent, k)
  if child then return child, "graph" end
  if self.listed[k] ~= nil then return self.listed[k], "list" end
  return nil
end

--- snap:get(id) -> the resource as Resource Graph (or its parent's list) shows it (GET shape), or
-- nil when the snapshot lacks it.
function Snapshot:get(id)
  if type(id) ~= "string" then return nil end
  return (lookup(self, norm(id)))
end

--- snap:origin(id) -> "graph" (a row, or inline in its parent's row), "list" (an item of its
-- parent's list) or nil.
function Snapshot:origin(id)
  if type(id) ~= "string" then return nil end
  return select(2, lookup(self, norm(id)))
end

--- snap:add_listed(items): the items of an ARM list (GET shape) join the snapshot.
function Snapshot:add_listed(items)
  for _, item in ipairs(items or {}) do
    if type(item) == "table" and type(item.id) == "string" then self.listed[norm(item.id)] = item end
  end
end

-- Child types Resource Graph does not index whose parent has a documented ARM list operation whose
-- items deserialise to the same SDK model as the child's GET. A list item is trusted only for what
-- it carries: `omits` names the properties the list leaves out although its model has them, `carries`
-- (when set) the only ones it returns; a declaration that sets anything else is read with GET.
M.LISTS = {
  -- PrivateDnsZoneGroups_List: PrivateDnsZoneGroupListResult of PrivateDnsZoneGroup
  ["microsoft.network/privateendpoints/privatednszonegroups"] = {},
  -- FirewallPolicyRuleCollectionGroups_List: of FirewallPolicyRuleCollectionGroup
  ["microsoft.network/firewallpolicies/rulecollectiongroups"] = {},
  -- BlobServices_List: BlobServiceItems of BlobServiceProperties
  ["microsoft.storage/storageaccounts/blobservices"] = {},
  -- BlobContainers_List: ListContainerItems of ListContainerItem (ContainerProperties, as the GET's
  -- BlobContainer), without the immutability policy and legal hold details a GET adds
  ["microsoft.storage/storageaccounts/blobservices/containers"] = {
    omits = { "properties.immutabilityPolicy", "properties.legalHold" } },
  -- Keys_List: of Key, but (as the vault's own key list) only the key's identifier, attributes and
  -- tags: a declared key type, size or operations is confirmed by its GET
  ["microsoft.keyvault/vaults/keys"] = { carries = { "tags", "properties.attributes", "properties.keyUri" } },
}

local function leaf_paths(v, prefix, out)
  if type(v) == "table" and next(v) ~= nil and v[1] == nil then
    for k, x in pairs(v) do leaf_paths(x, prefix == "" and tostring(k) or (prefix .. "." .. tostring(k)), out) end
  elseif prefix ~= "" then
    out[#out + 1] = prefix
  end
  return out
end

local function under(path, prefixes)
  for _, p in ipairs(prefixes) do
    if path == p or path:sub(1, #p + 1) == p .. "." then return true end
  end
  return false
end

--- list_of(type, id, api_version, body) -> {path=, api_version=, id=}: the list operation that
-- returns this child with everything its declaration sets, or nil when there is none.
function M.list_of(type_name, id, api_version, body)
  local spec = type(type_name) == "string" and M.LISTS[type_name:lower()]
  if not spec or type(id) ~= "string" or type(api_version) ~= "string" then return nil end
  local path = id:gsub("/+$", ""):match("^(.+/providers/.+)/[^/]+$")
  if not path then return nil end
  for _, p in ipairs(leaf_paths(body, "", {})) do
    if (spec.carries and not under(p, spec.carries)) or (spec.omits and under(p, spec.omits)) then return nil end
  end
  return { path = path, api_version = api_version, id = id }
end

--- list_groups(wanted) -> the lists worth issuing: those covering 2+ of the wanted children
-- (one list for one child costs what its GET does), in a stable order.
function M.list_groups(wanted)
  local by_key, groups = {}, {}
  for _, w in ipairs(wanted) do
    local k = norm(w.path) .. " " .. w.api_version
    local g = by_key[k]
    if not g then
      g = { path = w.path, api_version = w.api_version, ids = {}, seen = {} }
      by_key[k] = g
    end
    if not g.seen[norm(w.id)] then
      g.seen[norm(w.id)] = true
      g.ids[#g.ids + 1] = w.id
    end
  end
  for _, g in pairs(by_key) do
    if #g.ids >= 2 then groups[#groups + 1] = { path = g.path, api_version = g.api_version, ids = g.ids } end
  end
  table.sort(groups, function(a, b) return a.path:lower() < b.path:lower() end)
  return groups
end

--- load_lists(ctx, snap, wanted) -> ARM calls made. Issues the lists of list_groups(wanted) at once
-- (modules/task.lua) and adds their items to the snapshot; a list that fails is skipped (its
-- children are read with their own GET), said once.
function M.load_lists(ctx, snap, wanted)
  local groups = M.list_groups(wanted)
  if #groups == 0 or not (ctx and ctx.arm and ctx.arm.list) then return 0 end
  local results = task.map(groups, function(g)
    local items, pages = ctx.arm:list(g.path, g.api_version)
    return { items = items, pages = pages or 1 }
  end)
  local calls, failed = 0, nil
  for i, r in ipairs(results) do
    if r.ok then
      snap:add_listed(r.value.items)
      calls = calls + r.value.pages
    else
      if err.is(r.error, "CANCELLED") then error(r.error, 0) end
      calls = calls + 1
      failed = failed or (groups[i].path .. ": " .. err.text(r.error))
    end
  end
  if failed then log.warn("deploy: an ARM list failed (" .. failed .. "); its children are read with their own GET") end
  snap.stats.list_calls = (snap.stats.list_calls or 0) + calls
  return calls
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
