--- Structured errors (docs/architecture.md, "Errors").
-- An error is a table {code=, message=, where="file:line", status=, target=, details=, ...} whose
-- metatable is the one C code uses (registry "drhost.error"); tostring(e) gives "code: message".
local M = {}

local registry = debug.getregistry()
local mt = registry["drhost.error"]
if mt == nil then
  mt = { __name = "drhost.error" }
  registry["drhost.error"] = mt
end
if mt.__tostring == nil then
  mt.__tostring = function(e)
    return tostring(e.code or "ERROR") .. ": " .. tostring(e.message or "(no message)")
  end
end
M.mt = mt

--- True when e is a structured error (optionally with the given code).
function M.is(e, code)
  if type(e) ~= "table" or getmetatable(e) ~= mt then return false end
  return code == nil or e.code == code
end

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return nil
end

--- Builds an error object (not raised). fields.code and fields.message are required strings;
-- every other field is copied. `level` (default 1 = the caller of new) picks the `where`.
function M.new(fields, level)
  if type(fields) ~= "table" then
    error(("errors.new: expected a table of fields, got %s"):format(type(fields)), 2)
  end
  if type(fields.code) ~= "string" or fields.code == "" then
    error("errors.new: field 'code' must be a non-empty string", 2)
  end
  local e = {}
  for k, v in pairs(fields) do e[k] = v end
  e.message = e.message ~= nil and tostring(e.message) or e.code
  e.where = e.where or where((level or 1) + 1)
  return setmetatable(e, mt)
end

--- Raises an error: raise{code=, message=, ...} or raise(code, message, fields).
function M.raise(code_or_fields, message, fields, level)
  local e
  if type(code_or_fields) == "table" then
    e = M.new(code_or_fields, 2)
  else
    local f = {}
    for k, v in pairs(fields or {}) do f[k] = v end
    f.code, f.message = code_or_fields, message
    e = M.new(f, (level or 1) + 1)
  end
  error(e, 0)
end

--- Turns any error value into a structured error (strings become LUA_ERROR).
function M.wrap(err, code)
  if M.is(err) then return err end
  if type(err) == "table" and type(err.code) == "string" then
    return M.new(err, 2)
  end
  local msg = tostring(err)
  local file, line, rest = msg:match("^([^:\n]+):(%d+): (.*)$")
  return setmetatable({
    code = code or "LUA_ERROR",
    message = rest or msg,
    where = file and (file .. ":" .. line) or nil,
  }, mt)
end

--- pcall that returns structured errors: ok, result... or false, err.
function M.pcall(f, ...)
  local r = table.pack(pcall(f, ...))
  if r[1] then return table.unpack(r, 1, r.n) end
  return false, M.wrap(r[2])
end

--- Checks a condition about user input; raises a BAD_INPUT error naming where it came from.
function M.check(cond, code, message, fields)
  if cond then return cond end
  M.raise(code or "BAD_INPUT", message, fields, 2)
end

return M
