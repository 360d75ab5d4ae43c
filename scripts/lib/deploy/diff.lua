-- Property diff of what we declare against what the server returns. Only declared keys are
-- compared, so server-populated fields (ids, etags, provisioningState, defaults) never show up.
-- Arrays of objects with a `name` are matched by name; arrays of scalars compare as multisets.
local lazy = require("deploy.lazy")
local util = require("deploy.util")

local M = {}

M.MASK = "(sensitive value)"

local function is_null(v) return v == nil or v == require("json").null end

local function norm_scalar(key, v)
  if type(v) == "string" then
    if v:sub(1, 15):lower() == "/subscriptions/" then return v:lower() end
    if key == "location" or key == "region" then return (v:lower():gsub("%s+", "")) end
  elseif type(v) == "number" then
    local i = math.tointeger(v)
    if i then return i end
  end
  return v
end

local function scalar_equal(key, a, b)
  if is_null(a) and is_null(b) then return true end
  return norm_scalar(key, a) == norm_scalar(key, b)
end

local function path_join(base, key)
  if type(key) == "number" then return base .. "[" .. key .. "]" end
  if base == "" then return key end
  return base .. "." .. key
end

local function named_items(arr)
  for _, x in ipairs(arr) do
    if type(x) ~= "table" or type(x.name) ~= "string" then return false end
  end
  return #arr > 0
end

--- compare(desired, live, opts) -> list of {path, old, new, kind = "add"|"change"|"remove"}
-- opts.ignore: set of paths to skip; opts.prefix: path prefix.
function M.compare(desired, live, opts)
  opts = opts or {}
  local ignore = opts.ignore or {}
  local changes = {}
  local function add(path, old, new, kind)
    changes[#changes + 1] = { path = path, old = old, new = new, kind = kind }
  end

  local function go(path, key, d, l)
    if ignore[path] then return end
    if d == lazy.UNKNOWN then
      add(path, l, lazy.UNKNOWN, l == nil and "add" or "change")
      return
    end
    if type(d) ~= "table" then
      if not scalar_equal(key, d, l) then
        add(path, l, d, (l == nil) and "add" or (is_null(d) and "remove" or "change"))
      end
      return
    end
    if type(l) ~= "table" then
      -- servers commonly omit empty collections: a declared {} / [] matches an absent value
      if next(d) == nil and is_null(l) then return end
      add(path, l, d, l == nil and "add" or "change")
      return
    end
    if util.is_array(d) or (next(d) == nil and util.is_array(l)) then
      if named_items(d) and util.is_array(l) then
        local by = {}
        for _, x in ipairs(l) do if type(x) == "table" and x.name then by[x.name] = x end end
        local seen = {}
        for _, x in ipairs(d) do
          seen[x.name] = true
          local p = path .. "[name=" .. x.name .. "]"
          if by[x.name] == nil then add(p, nil, x, "add") else go(p, nil, x, by[x.name]) end
        end
        for _, x in ipairs(l) do
          if type(x) == "table" and x.name and not seen[x.name] then
            add(path .. "[name=" .. x.name .. "]", x, nil, "remove")
          end
        end
        return
      end
      if not util.is_array(l) and next(l) ~= nil then add(path, l, d, "change"); return end
      local scalars = true
      for _, x in ipairs(d) do if type(x) == "table" then scalars = false end end
      for _, x in ipairs(l) do if type(x) == "table" then scalars = false end end
      if scalars then
        local a, b = {}, {}
        for _, x in ipairs(d) do a[#a + 1] = util.canonical(norm_scalar(key, x)) end
        for _, x in ipairs(l) do b[#b + 1] = util.canonical(norm_scalar(key, x)) end
        table.sort(a); table.sort(b)
        if table.concat(a, "\0") ~= table.concat(b, "\0") then add(path, l, d, "change") end
        return
      end
      if #d ~= #l then add(path, l, d, "change"); return end
      for i = 1, #d do go(path_join(path, i), nil, d[i], l[i]) end
      return
    end
    for _, k in ipairs(util.sorted_keys(d)) do
      go(path_join(path, k), k, d[k], l[k])
    end
  end

  go(opts.prefix or "", nil, desired, live)
  return changes
end

--- mask(changes, sensitive_paths): replace old/new of sensitive paths (or below them) by MASK.
function M.mask(changes, sensitive)
  for _, c in ipairs(changes) do
    for _, p in ipairs(sensitive or {}) do
      if c.path == p or c.path:sub(1, #p + 1) == p .. "." or c.path:sub(1, #p + 1) == p .. "[" then
        if c.old ~= nil then c.old = M.MASK end
        if c.new ~= nil and c.new ~= lazy.UNKNOWN then c.new = M.MASK end
        c.sensitive = true
      end
    end
  end
  return changes
end

--- mask_value(v, sensitive_paths): a copy of v with sensitive paths replaced by MASK.
function M.mask_value(v, sensitive)
  if not sensitive or #sensitive == 0 or type(v) ~= "table" then return v end
  local c = util.deepcopy(v)
  for _, p in ipairs(sensitive) do
    if util.get(c, p) ~= nil then util.set(c, p, M.MASK) end
  end
  return c
end

--- touches(changes, paths): true when a change is at or below one of paths.
function M.touches(changes, paths)
  for _, c in ipairs(changes) do
    for _, p in ipairs(paths or {}) do
      if c.path == p or c.path:sub(1, #p + 1) == p .. "." or c.path:sub(1, #p + 1) == p .. "["
        or p:sub(1, #c.path + 1) == c.path .. "." then
        return true, p
      end
    end
  end
  return false
end

return M
