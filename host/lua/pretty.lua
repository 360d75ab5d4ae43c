--- Pretty-printing of Lua values for the REPL and the uncaught-error report (embedded in the
-- host as module "drhost.pretty").
local M = {}

local function is_ident(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local type_rank = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return (type_rank[ta] or 9) < (type_rank[tb] or 9) or
      ((type_rank[ta] or 9) == (type_rank[tb] or 9) and ta < tb)
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function is_null(v)
  local json = package.loaded.json
  return type(v) == "userdata" and type(json) == "table" and rawequal(v, json.null)
end

local function scalar(v)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if is_null(v) then return "null" end
  if math.type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
    return string.format("%.1f", v)
  end
  return tostring(v)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, key_less)
  return keys
end

--- Text for any value: nested tables with sorted keys, cycles as <cycle>, depth-limited.
function M.format(v, opts)
  opts = opts or {}
  local indent = opts.indent or "  "
  local max_depth = opts.depth or 8
  local out, seen = {}, {}
  local function emit(x, depth)
    if type(x) ~= "table" then
      out[#out + 1] = scalar(x)
      return
    end
    local mt = getmetatable(x)
    if mt and mt.__tostring and mt.__name == "drhost.error" then
      out[#out + 1] = "<" .. tostring(x) .. "> "
    end
    if seen[x] then
      out[#out + 1] = "<cycle>"
      return
    end
    if depth >= max_depth then
      out[#out + 1] = "{...}"
      return
    end
    local keys = sorted_keys(x)
    if #keys == 0 then
      out[#out + 1] = "{}"
      return
    end
    seen[x] = true
    local n = #x
    local simple = n == #keys and n <= 16
    for i = 1, n do
      if type(x[i]) == "table" then simple = false end
    end
    if simple then
      local parts = {}
      for i = 1, n do parts[i] = scalar(x[i]) end
      out[#out + 1] = "{ " .. table.concat(parts, ", ") .. " }"
      seen[x] = nil
      return
    end
    out[#out + 1] = "{\n"
    local pad = indent:rep(depth + 1)
    for _, k in ipairs(keys) do
      out[#out + 1] = pad
      local listed = math.type(k) == "integer" and k >= 1 and k <= n -- list part: no key
      if listed then
        out[#out + 1] = ""
      elseif is_ident(k) then
        out[#out + 1] = k .. " = "
      else
        out[#out + 1] = "[" .. scalar(k) .. "] = "
      end
      emit(x[k], depth + 1)
      out[#out + 1] = ",\n"
    end
    out[#out + 1] = indent:rep(depth) .. "}"
    seen[x] = nil
  end
  emit(v, 0)
  return table.concat(out)
end

--- Columns when v is a non-empty list of row tables that all have the same keys, else nil.
function M.columns(v)
  if type(v) ~= "table" or #v == 0 then return nil end
  -- a result set that names its column order (sql results in the REPL) keeps that order
  local mt = getmetatable(v)
  if mt and type(mt.__columns) == "table" and #mt.__columns > 0 then
    for _, row in ipairs(v) do
      if type(row) ~= "table" then return nil end
    end
    return mt.__columns
  end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n ~= #v then return nil end
  local cols
  for _, row in ipairs(v) do
    if type(row) ~= "table" or getmetatable(row) and getmetatable(row).__name == "drhost.error" then
      return nil
    end
    local keys = sorted_keys(row)
    if #keys == 0 then return nil end
    for _, k in ipairs(keys) do
      if type(k) ~= "string" then return nil end
      if type(row[k]) == "table" then return nil end
    end
    if cols == nil then
      cols = keys
    elseif #cols ~= #keys then
      return nil
    else
      for i = 1, #keys do
        if keys[i] ~= cols[i] then return nil end
      end
    end
  end
  return cols
end

local function cell(v)
  if type(v) == "string" then return v end
  return scalar(v)
end

--- Aligned text table of rows (list of tables with the same keys); cols gives the order.
function M.table(rows, cols)
  cols = cols or M.columns(rows)
  local width = {}
  local text = {}
  for c, name in ipairs(cols) do width[c] = utf8.len(name) or #name end
  for r, row in ipairs(rows) do
    text[r] = {}
    for c, name in ipairs(cols) do
      local s = cell(row[name]):gsub("\n", "\\n")
      text[r][c] = s
      local w = utf8.len(s) or #s
      if w > width[c] then width[c] = w end
    end
  end
  local function line(cells)
    local parts = {}
    for c, s in ipairs(cells) do
      local w = utf8.len(s) or #s
      parts[c] = s .. string.rep(" ", width[c] - w)
    end
    return (table.concat(parts, " | "):gsub("%s+$", ""))
  end
  local out = { line(cols) }
  local rule = {}
  for c = 1, #cols do rule[c] = string.rep("-", width[c]) end
  out[2] = table.concat(rule, "-+-")
  for r = 1, #rows do out[#out + 1] = line(text[r]) end
  out[#out + 1] = ("(%d row%s)"):format(#rows, #rows == 1 and "" or "s")
  return table.concat(out, "\n")
end

--- What the REPL prints for a value: a table of rows when it looks like one, else format().
function M.show(v)
  local cols = M.columns(v)
  if cols then return M.table(v, cols) end
  return M.format(v)
end

return M
