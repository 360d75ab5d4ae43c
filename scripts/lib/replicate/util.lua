-- Small helpers shared by the replication library: structured errors, set/list utilities,
-- glob patterns. No I/O here.
local M = {}

local ok_errors, errors = pcall(require, "errors")

-- Raise (or build) a drhost.error table. Uses the host's `errors` module when present so the
-- error carries the drhost.error metatable; otherwise a plain table with the same fields.
function M.error(fields, level)
  if ok_errors and type(errors) == "table" and errors.new then
    local e = errors.new(fields)
    error(e, (level or 1) + 1)
  end
  local info = debug.getinfo((level or 1) + 1, "Sl")
  fields.where = fields.where or (info and (info.short_src .. ":" .. tostring(info.currentline)))
  setmetatable(fields, { __tostring = function(t) return tostring(t.code) .. ": " .. tostring(t.message) end })
  error(fields, (level or 1) + 1)
end

-- Build an error value without raising it (for per-object failures kept in reports).
function M.make_error(fields)
  if ok_errors and type(errors) == "table" and errors.new then
    local okn, e = pcall(errors.new, fields)
    if okn and type(e) == "table" then return e end
  end
  return fields
end

-- Text of any error value (a drhost.error table, a string, anything).
function M.errtext(e)
  if type(e) == "table" then
    local code = e.code or e.error_code
    local msg = e.message or e.msg
    if code or msg then
      return (code and (tostring(code) .. ": ") or "") .. tostring(msg or "")
    end
    local mt = getmetatable(e)
    if mt and mt.__tostring then return tostring(e) end
    return "error"
  end
  return tostring(e)
end

function M.set(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

function M.copy(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = M.copy(v) end
  return r
end

-- Glob pattern ("sales.*", "*.tmp_*", "a?c") to a Lua pattern anchored at both ends.
function M.glob_to_pattern(glob)
  local out = { "^" }
  for i = 1, #glob do
    local c = glob:sub(i, i)
    if c == "*" then out[#out + 1] = ".*"
    elseif c == "?" then out[#out + 1] = "."
    elseif c:match("[%^%$%(%)%%%.%[%]%+%-]") then out[#out + 1] = "%" .. c
    else out[#out + 1] = c end
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

function M.glob_match(glob, s)
  return s:lower():match(M.glob_to_pattern(glob:lower())) ~= nil
end

-- A JSON value with JSON null (and nil) as nil.
local json = require("json")
function M.val(v)
  if v == json.null then return nil end
  return v
end

-- A properties map from the API with its values as strings (nulls dropped).
function M.props(p)
  local out = {}
  if type(p) == "table" then for k, v in pairs(p) do if v ~= json.null then out[k] = tostring(v) end end end
  return out
end

-- Split a dotted full name made of plain parts ("a.b.c"); names in UC are stored without quotes.
function M.split_name(full)
  local parts = {}
  for p in (full .. "."):gmatch("(.-)%.") do parts[#parts + 1] = p end
  return parts
end

return M
