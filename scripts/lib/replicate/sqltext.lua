-- Quoting for the DDL the replication generates. Values go through named parameters wherever
-- Databricks SQL accepts them (the state table); DDL positions that only take literals (COMMENT,
-- LOCATION, TAGS, TBLPROPERTIES) get a string literal escaped here, and names are always
-- backtick-quoted. Both are covered by unit specs.
local errors = require("errors")
local util = require("replicate.util")

local M = {}

function M.ident(part)
  if type(part) ~= "string" or part == "" then
    errors.raise{ code = "INVALID_NAME", message = "empty or non-string name part: " .. tostring(part) }
  end
  if part:find("[%z\1-\31]") then
    errors.raise{ code = "INVALID_NAME", message = string.format("control character in name %q", part) }
  end
  return "`" .. part:gsub("`", "``") .. "`"
end

-- "a.b.c" (UC names never contain dots) -> `a`.`b`.`c`
function M.name(full)
  local out = {}
  for _, p in ipairs(util.split_name(full)) do out[#out + 1] = M.ident(p) end
  return table.concat(out, ".")
end

-- A Databricks SQL string literal: backslash escapes, so both \ and ' are escaped.
function M.literal(s)
  s = tostring(s)
  if s:find("%z") then errors.raise{ code = "INVALID_LITERAL", message = "NUL byte in a string literal" } end
  return "'" .. s:gsub("\\", "\\\\"):gsub("'", "\\'"):gsub("\n", "\\n"):gsub("\r", "\\r") .. "'"
end

-- ('k' = 'v', ...) sorted by key, for SET TAGS / TBLPROPERTIES
function M.kv_list(t)
  local parts = {}
  for _, k in ipairs(util.sorted_keys(t)) do
    parts[#parts + 1] = M.literal(k) .. " = " .. M.literal(t[k])
  end
  return "(" .. table.concat(parts, ", ") .. ")"
end

function M.key_list(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = M.literal(k) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

-- A comment as the plan compares it: nil for absent, empty or non-string.
function M.comment(c)
  if c == nil or c == "" or (type(c) ~= "string") then return nil end
  return c
end

-- One plan step running `sql` on dr (extra fields: clone=, catalog=, schema=).
function M.step(sql, extra)
  local s = { side = "dst", sql = sql }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

return M
