-- Small helpers shared by the replication library: set/list utilities and glob patterns.
-- No I/O here (errors: modules/errors.lua).
local M = {}

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
-- The elements first..first+size-1 of list (a new array; fewer at the end of the list).
function M.slice(list, first, size)
  return table.move(list, first, math.min(first + size - 1, #list), 1, {})
end

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

-- fn(...) with the collector's pause at `pause` percent, restored when fn returns or raises. Lua's default
-- (200) starts a cycle once the heap is twice what the last one left, so garbage can grow as
-- large as everything live: at 10,000 tables the inventories make that some 30 MB more at the peak.
-- discovery and plan.build run with M.GC_PAUSE.
M.GC_PAUSE = 120
function M.with_gc_pause(pause, fn, ...)
  local before = collectgarbage("setpause", pause)
  local out = table.pack(pcall(fn, ...))
  collectgarbage("setpause", before)
  if not out[1] then error(out[2], 0) end
  return table.unpack(out, 2, out.n)
end

return M
