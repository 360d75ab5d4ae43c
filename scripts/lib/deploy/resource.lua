-- Declaring resources. A stack collects them under unique addresses.
--   local s = resource.stack{ subscription_id = "..." }
--   local rg = s:arm{ addr = "hub.rg", type = "Microsoft.Resources/resourceGroups",
--                     api_version = "2024-03-01", name = "rg-hub", body = { location = "westeurope" } }
--   local vnet = s:arm{ addr = "hub.vnet", type = "Microsoft.Network/virtualNetworks",
--                       api_version = "2024-05-01", resource_group = rg, name = "vnet-hub", body = {...} }
--   s:account{ addr = "hub.metastore", kind = "metastore", body = { name = ..., region = ... } }
--   s:workspace_obj{ addr = "ws.a.catalog", workspace = ref(ws, "properties.workspaceUrl"),
--                    kind = "catalog", body = { name = "a" } }
-- Fields every resource may carry: depends_on (list of resources), create_only (paths whose change
-- forces a replace), sensitive (paths masked in plans), ignore (paths left out of the diff),
-- preserve (paths carried over from the live body on update), retain (destroy forgets instead of
-- deleting), write_once (paths sent with the create only: never compared, never sent again, e.g.
-- the placeholder value of a Key Vault secret whose real value the operator sets out of band).
local lazy = require("deploy.lazy")
local err = require("errors")

local M = {}
M.ref = lazy.ref
M.fn = lazy.fn

local Stack = {}
Stack.__index = Stack

function M.stack(opts)
  opts = opts or {}
  return setmetatable({ resources = {}, by_addr = {}, outputs = {},
    subscription_id = opts.subscription_id or "00000000-0000-0000-0000-000000000000" }, Stack)
end

local function check_list(addr, field, v)
  if v ~= nil and type(v) ~= "table" then
    err.raise("INVALID_RESOURCE", addr .. ": " .. field .. " must be a list", { target = addr })
  end
end

function Stack:add(res)
  if type(res.addr) ~= "string" or res.addr == "" then
    err.raise("INVALID_RESOURCE", "resource without addr (type " .. tostring(res.type) .. ")")
  end
  if self.by_addr[res.addr] then
    err.raise("DUPLICATE_ADDRESS", "resource address declared twice: " .. res.addr,
      { target = res.addr })
  end
  for _, f in ipairs({ "depends_on", "create_only", "sensitive", "ignore", "preserve", "write_once" }) do
    check_list(res.addr, f, res[f])
  end
  res.index = #self.resources + 1
  self.resources[res.index] = res
  self.by_addr[res.addr] = res
  return res
end

-- ARM id of a (possibly nested) type under a resource group: type "A.B/x/y", name "n1/n2".
function M.arm_id(subscription_id, rg, rtype, name)
  if rtype:lower() == "microsoft.resources/resourcegroups" then
    return "/subscriptions/" .. subscription_id .. "/resourceGroups/" .. name
  end
  local ns, rest = rtype:match("^([^/]+)/(.+)$")
  local types = {}
  for t in rest:gmatch("[^/]+") do types[#types + 1] = t end
  local names = {}
  for n in name:gmatch("[^/]+") do names[#names + 1] = n end
  if #types ~= #names then
    err.raise("INVALID_RESOURCE", "name '" .. name .. "' does not match type " .. rtype ..
      " (" .. #types .. " segment(s) expected)")
  end
  local parts = { "/subscriptions/", subscription_id, "/resourceGroups/", rg, "/providers/", ns }
  for i = 1, #types do
    parts[#parts + 1] = "/" .. types[i] .. "/" .. names[i]
  end
  return table.concat(parts)
end

function Stack:arm(r)
  r.provider = "arm"
  if type(r.type) ~= "string" or not r.type:find("/") then
    err.raise("INVALID_RESOURCE", tostring(r.addr) .. ": arm{} needs type = 'Namespace/type'")
  end
  if type(r.api_version) ~= "string" then
    err.raise("INVALID_RESOURCE", tostring(r.addr) .. ": arm{} needs api_version")
  end
  if r.id == nil then
    if type(r.name) ~= "string" then
      err.raise("INVALID_RESOURCE", tostring(r.addr) .. ": arm{} needs id= or name=")
    end
    local sub = self.subscription_id
    local rg = r.resource_group
    if type(rg) == "table" and rg.addr then rg = rg.name end
    if r.type:lower() ~= "microsoft.resources/resourcegroups" and type(rg) ~= "string" then
      err.raise("INVALID_RESOURCE", r.addr .. ": arm{} with name= needs resource_group=")
    end
    r.id = M.arm_id(sub, rg, r.type, r.name)
  end
  r.body = r.body or {}
  return self:add(r)
end

-- A resource of a Databricks provider ("account", "workspace") declared by `constructor`{kind=, ...}.
local function databricks_resource(r, provider, constructor)
  r.provider = provider
  r.type = r.kind or r.type
  if type(r.type) ~= "string" then
    err.raise("INVALID_RESOURCE", tostring(r.addr) .. ": " .. constructor .. "{} needs kind=")
  end
end

function Stack:account(r)
  databricks_resource(r, "account", "account")
  r.body = r.body or {}
  return self:add(r)
end

function Stack:workspace_obj(r)
  databricks_resource(r, "workspace", "workspace_obj")
  if r.workspace == nil then
    err.raise("INVALID_RESOURCE", tostring(r.addr) .. ": workspace_obj{} needs workspace= (host URL)")
  end
  r.body = r.body or {}
  return self:add(r)
end

--- output(name, value): a named output of the stack (plain or lazy).
function Stack:output(name, value)
  self.outputs[name] = value
end

--- deps(res): the set of resources `res` depends on (refs anywhere + depends_on).
function M.deps(res)
  local set = {}
  for _, f in ipairs({ "id", "body", "workspace", "key", "target", "args" }) do
    if res[f] ~= nil then lazy.deps(res[f], set) end
  end
  for _, d in ipairs(res.depends_on or {}) do set[d] = true end
  set[res] = nil
  return set
end

return M
