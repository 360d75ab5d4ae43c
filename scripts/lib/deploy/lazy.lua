-- Lazy values: references to another resource's outputs, and values derived from them.
--   ref(res, "properties.workspaceId")   -- resolved at apply time from the live resource or state
--   lazy.fn(function(a, b) ... end, x, y) -- derived from other (lazy or plain) values
--   "azure:" .. region .. ":" .. ref(...) -- concatenation builds a derived value too
-- During plan an unresolved value is UNKNOWN and renders "(known after apply)".
local M = {}

local Lazy = { __lazy = true }
Lazy.__index = Lazy

M.UNKNOWN = setmetatable({}, {
  __lazy = true, __unknown = true,
  __tostring = function() return "(known after apply)" end,
})

local function is_lazy(v)
  local mt = getmetatable(v)
  return type(v) == "table" and mt ~= nil and mt.__lazy == true
end
M.is_lazy = is_lazy

local function derived(f, args)
  return setmetatable({ f = f, args = args }, Lazy)
end

Lazy.__concat = function(a, b)
  return derived(function(x, y) return tostring(x) .. tostring(y) end, { a, b })
end
Lazy.__tostring = function(v)
  if v.res then return "ref(" .. tostring(v.res.addr) .. ", " .. v.path .. ")" end
  return "derived value"
end

--- ref(res, path, default): output `path` of resource `res`.
function M.ref(res, path, default)
  assert(type(res) == "table" and res.addr, "ref: first argument must be a declared resource")
  assert(type(path) == "string" and path ~= "", "ref: path must be a non-empty string")
  return setmetatable({ res = res, path = path, default = default }, Lazy)
end

function M.fn(f, ...)
  return derived(f, table.pack(...))
end

--- deps(v, out): every resource referenced from v (deep), into the set `out` (res -> true).
function M.deps(v, out, seen)
  out = out or {}
  seen = seen or {}
  if type(v) ~= "table" or seen[v] then return out end
  seen[v] = true
  if is_lazy(v) then
    if v.res then out[v.res] = true end
    if v.args then for i = 1, (v.args.n or #v.args) do M.deps(v.args[i], out, seen) end end
    return out
  end
  for k, x in pairs(v) do
    M.deps(k, out, seen)
    M.deps(x, out, seen)
  end
  return out
end

--- resolve(v, lookup): replace lazy values; lookup(res) returns the resource's outputs or nil.
-- Returns the resolved copy and `true` when something stayed UNKNOWN.
function M.resolve(v, lookup)
  local unknown = false
  local util = require("deploy.util")
  local function go(x)
    if type(x) ~= "table" then return x end
    if x == M.UNKNOWN then unknown = true; return x end
    if is_lazy(x) then
      if x.res then
        local outputs = lookup(x.res)
        if outputs == nil then unknown = true; return M.UNKNOWN end
        local val = util.get(outputs, x.path)
        if val == nil then val = x.default end
        if val == nil then unknown = true; return M.UNKNOWN end
        return val
      end
      local args = {}
      local n = x.args.n or #x.args
      for i = 1, n do
        args[i] = go(x.args[i])
        if args[i] == M.UNKNOWN then unknown = true; return M.UNKNOWN end
      end
      return x.f(table.unpack(args, 1, n))
    end
    local out = {}
    for k, y in pairs(x) do out[k] = go(y) end
    local mt = getmetatable(x)
    if mt then setmetatable(out, mt) end
    return out
  end
  local r = go(v)
  return r, unknown
end

--- describe(v): a plain copy of v where lazy values become strings (for fingerprints).
function M.describe(v, seen)
  if type(v) ~= "table" then return v end
  if v == M.UNKNOWN then return "(known after apply)" end
  if is_lazy(v) then
    if v.res then return "ref(" .. tostring(v.res.addr) .. "," .. v.path .. ")" end
    local parts = {}
    for i = 1, (v.args.n or #v.args) do
      local a = M.describe(v.args[i], seen)
      parts[#parts + 1] = type(a) == "table" and require("deploy.util").canonical(a) or tostring(a)
    end
    return "fn(" .. table.concat(parts, ",") .. ")"
  end
  seen = seen or {}
  if seen[v] then return "(cycle)" end
  seen[v] = true
  local out = {}
  for k, x in pairs(v) do out[k] = M.describe(x, seen) end
  seen[v] = nil
  return out
end

--- contains_unknown(v): true when a resolved value still holds UNKNOWN somewhere.
function M.contains_unknown(v)
  if v == M.UNKNOWN then return true end
  if type(v) ~= "table" then return false end
  for _, x in pairs(v) do if M.contains_unknown(x) then return true end end
  return false
end

return M
