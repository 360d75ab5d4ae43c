-- Small table helpers shared by the deployment engine: copies, paths, merges, sorted keys.
local M = {}

function M.deepcopy(v, seen)
  if type(v) ~= "table" then return v end
  if getmetatable(v) and getmetatable(v).__lazy then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local out = {}
  seen[v] = out
  for k, x in pairs(v) do out[M.deepcopy(k, seen)] = M.deepcopy(x, seen) end
  local mt = getmetatable(v)
  if mt then setmetatable(out, mt) end
  return out
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    return a < b
  end)
  return keys
end

-- An array is a table with keys 1..n only (or marked by json.array).
function M.is_array(t)
  if type(t) ~= "table" then return false end
  if require("json").is_array(t) then return true end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or math.type(k) ~= "integer" then return false end
    n = n + 1
  end
  return n > 0 and n == #t
end

--- parse_path("properties.subnets[name=host].id") -> list of steps:
--  {key="properties"}, {key="subnets"}, {match={"name","host"}}, {key="id"}; "[2]" -> {index=2}.
function M.parse_path(path)
  local steps = {}
  local i = 1
  local n = #path
  while i <= n do
    local c = path:sub(i, i)
    if c == "." then
      i = i + 1
    elseif c == "[" then
      local close = path:find("]", i, true)
      if not close then error("bad path '" .. path .. "': unclosed [", 2) end
      local inner = path:sub(i + 1, close - 1)
      local num = tonumber(inner)
      if num then
        steps[#steps + 1] = { index = math.tointeger(num) }
      else
        local k, v = inner:match("^([%w_]+)=(.*)$")
        if not k then error("bad path '" .. path .. "': expected [n] or [key=value]", 2) end
        steps[#steps + 1] = { match = { k, v } }
      end
      i = close + 1
    else
      local j = i
      while j <= n and path:sub(j, j) ~= "." and path:sub(j, j) ~= "[" do j = j + 1 end
      steps[#steps + 1] = { key = path:sub(i, j - 1) }
      i = j
    end
  end
  return steps
end

local function step_get(t, s)
  if type(t) ~= "table" then return nil end
  if s.key then return t[s.key] end
  if s.index then return t[s.index] end
  for _, item in ipairs(t) do
    if type(item) == "table" and tostring(item[s.match[1]]) == s.match[2] then return item end
  end
  return nil
end

--- get(t, path): value at path or nil.
function M.get(t, path)
  local cur = t
  for _, s in ipairs(M.parse_path(path)) do
    cur = step_get(cur, s)
    if cur == nil then return nil end
  end
  return cur
end

--- set(t, path, v): set the value at a dotted path (keys only), creating tables.
function M.set(t, path, v)
  local steps = M.parse_path(path)
  local cur = t
  for i = 1, #steps - 1 do
    local s = steps[i]
    local nxt = step_get(cur, s)
    if nxt == nil then
      if not s.key then return false end
      nxt = {}
      cur[s.key] = nxt
    end
    cur = nxt
  end
  local last = steps[#steps]
  if last.key then cur[last.key] = v elseif last.index then cur[last.index] = v else return false end
  return true
end

--- merge(base, over): deep merge of objects (arrays are replaced), returns a new table.
function M.merge(base, over)
  if type(base) ~= "table" or type(over) ~= "table" or M.is_array(over) or M.is_array(base) then
    return M.deepcopy(over)
  end
  local out = M.deepcopy(base)
  for k, v in pairs(over) do
    if type(v) == "table" and type(out[k]) == "table" and not M.is_array(v) then
      out[k] = M.merge(out[k], v)
    else
      out[k] = M.deepcopy(v)
    end
  end
  return out
end

--- canonical(v): a deterministic string for any plain value (used for hashes and equality).
function M.canonical(v)
  local t = type(v)
  if t == "table" then
    local parts = {}
    if M.is_array(v) then
      for _, x in ipairs(v) do parts[#parts + 1] = M.canonical(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for _, k in ipairs(M.sorted_keys(v)) do
      parts[#parts + 1] = string.format("%q", tostring(k)) .. ":" .. M.canonical(v[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and v > -2^53 and v < 2^53 then
      return tostring(math.tointeger(v))
    end
    return tostring(v)
  else
    return tostring(v)
  end
end

function M.hash(v)
  return require("crypto").sha256(M.canonical(v))
end

function M.keys_set(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

return M
