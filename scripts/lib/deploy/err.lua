-- Structured errors for the deployment engine. Uses the host's `errors` module when present
-- (docs/architecture.md, "Errors"); falls back to a table of the same shape so the pure engine
-- can be exercised by plain busted too.
local M = {}

local ok_errors, errors = pcall(require, "errors")

local fallback_mt = {
  __name = "drhost.error",
  __tostring = function(e) return tostring(e.code) .. ": " .. tostring(e.message) end,
}

-- where(level): "file:line" of the caller `level` frames up.
local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info then return nil end
  return (info.short_src or "?") .. ":" .. tostring(info.currentline or 0)
end

--- new{code=, message=, ...}: build an error table (not raised).
function M.new(t)
  t = t or {}
  t.where = t.where or where(3)
  if ok_errors and type(errors) == "table" and type(errors.new) == "function" then
    return errors.new(t)
  end
  return setmetatable(t, fallback_mt)
end

--- raise(code, message, extra): raise a structured error.
function M.raise(code, message, extra)
  local t = {}
  for k, v in pairs(extra or {}) do t[k] = v end
  t.code, t.message = code, message
  t.where = where(2)
  error(M.new(t), 0)
end

--- is(e): true when e looks like a structured error.
function M.is(e)
  return type(e) == "table" and e.code ~= nil and e.message ~= nil
end

--- text(e): one line for any error value.
function M.text(e)
  if M.is(e) then
    local s = tostring(e.code) .. ": " .. tostring(e.message)
    if e.status then s = s .. " (HTTP " .. tostring(e.status) .. ")" end
    return s
  end
  return tostring(e)
end

return M
