--- Structured errors: the one Lua module that builds, raises and formats drhost errors
-- (docs/host.md, "Errors"). C modules raise the same shape through modules/common/dh_error.h.
-- An error is a table {code=, message=, where="file:line", status=, target=, details=, ...} whose
-- metatable is the one C code uses (registry "drhost.error"); tostring(e) gives "code: message".
--
-- A *user error* is a mistake of the person running drhost (a config file, a command line, a
-- plan file): the host prints it as one readable block naming the file, key and what was
-- expected, without drhost's source positions or a traceback (those only with -v).
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

--- Codes that are user errors whatever raised them (any error can also set `user = true`).
M.user_codes = {
  USAGE = true, BAD_INPUT = true, VALIDATION_FAILED = true, LOCKED = true,
  PLAN_NOT_FOUND = true, PLAN_INVALID = true, PLAN_MISMATCH = true, STALE_PLAN = true, BAD_PLAN = true,
  JOB_INVALID = true, WORKSPACE_NOT_FOUND = true, UNKNOWN_TARGET = true, STATE_BACKEND = true,
  CANCELLED = true,
}
--- Code prefixes that are user errors: CONFIG_INVALID, ENV_NOT_FOUND, ...
M.user_prefixes = { "CONFIG_", "ENV_" }

--- True when e is a structured error (optionally with the given code).
function M.is(e, code)
  if type(e) ~= "table" or getmetatable(e) ~= mt then return false end
  return code == nil or e.code == code
end

--- True when e is a user error (see above): its report shows no internals.
function M.is_user(e)
  if type(e) ~= "table" then return false end
  if e.user ~= nil then return e.user == true end
  local code = e.code
  if type(code) ~= "string" then return false end
  if M.user_codes[code] then return true end
  for _, p in ipairs(M.user_prefixes) do
    if code:sub(1, #p) == p then return true end
  end
  return false
end

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return nil
end

--- Builds an error object (not raised). fields.code is a required string; every other field is
-- copied. `level` (default 1 = the caller of new) picks the `where`.
function M.new(fields, level)
  if type(fields) ~= "table" then
    error(M.new({ code = "BAD_ARGUMENT", message = ("errors.new: expected a table of fields, got %s")
      :format(type(fields)) }, 2), 0)
  end
  if type(fields.code) ~= "string" or fields.code == "" then
    error(M.new({ code = "BAD_ARGUMENT", message = "errors.new: field 'code' must be a non-empty string" }, 2), 0)
  end
  local e = {}
  for k, v in pairs(fields) do e[k] = v end
  e.message = e.message ~= nil and tostring(e.message) or e.code
  e.where = e.where or where((level or 1) + 1)
  return setmetatable(e, mt)
end

--- Raises an error: raise{code=, message=, ...}, raise(fields, level) or
-- raise(code, message, fields, level). `level` (default 1 = the caller of raise) picks `where`.
function M.raise(code_or_fields, message, fields, level)
  local e
  if type(code_or_fields) == "table" then
    e = M.new(code_or_fields, (tonumber(message) or 1) + 1)
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

--- One line for any error value: "CODE: message (HTTP 404)"; service error bodies
-- ({error_code=, message=}) and strings too.
function M.text(e)
  if type(e) ~= "table" then return tostring(e) end
  local code = e.code or e.error_code
  local msg = e.message or e.msg
  if code == nil and msg == nil then
    local m = getmetatable(e)
    if m and m.__tostring then return tostring(e) end
    return "error"
  end
  local s = (code and (tostring(code) .. ": ") or "") .. tostring(msg or "")
  if math.type(e.status) == "integer" and e.status >= 100 then
    s = s .. " (HTTP " .. tostring(e.status) .. ")"
  end
  return s
end

local cleanups = registry["drhost.cancel_cleanups"]
if cleanups == nil then
  cleanups = {}
  registry["drhost.cancel_cleanups"] = cleanups
end

--- Registers fn to run once the host has unwound a cancellation (SIGINT): a pcall cannot catch
-- CANCELLED, so work to undo on the way out (cancel a running SQL statement) goes here. The host
-- runs it with the cancellation cleared, so it can make requests. Returns a function that
-- unregisters fn (call it when the work finished normally).
function M.on_cancel(fn)
  if type(fn) ~= "function" then
    M.raise("BAD_ARGUMENT", "errors.on_cancel: expected a function, got " .. type(fn), nil, 2)
  end
  local key = {}
  cleanups[key] = fn
  return function() cleanups[key] = nil end
end

-- Fields a report prints in its own way (or never).
local headline_fields = { code = true, message = true, where = true, user = true, traceback = true }
-- User-error fields, in this order, when the message does not already say them.
local user_fields = { "file", "key", "expected", "got", "hint", "holder", "since", "expires_in" }

local function relative(path)
  local pwd = os.getenv("PWD")
  if type(path) == "string" and pwd and pwd ~= "" and path:sub(1, #pwd + 1) == pwd .. "/" then
    return path:sub(#pwd + 2)
  end
  return path
end

-- A field's value in a report: strings as they are for user errors, Lua-like text otherwise.
local function show(v, raw_strings)
  if raw_strings and type(v) ~= "table" then return tostring(v) end
  return (require("drhost.pretty").format(v, { depth = 4 }):gsub("\n", "\n  "))
end

--- The report the host prints for an uncaught error (without the "drhost: " prefix and without
-- the traceback, which the host adds). A user error gives "CODE: message" and the user's file/key
-- fields; with verbose (or any other error) also `where` and every other field. brief (the REPL)
-- gives any other error as its one line (M.text) unless verbose.
function M.report(e, verbose, brief)
  if type(e) ~= "table" then return tostring(e) end
  if type(e.code) ~= "string" and e.message == nil then return show(e, false) end
  if brief and not verbose and not M.is_user(e) then return M.text(e) end
  local message = tostring(e.message or "(no message)")
  local out = {}
  if M.is_user(e) and not verbose then
    local pwd = os.getenv("PWD")
    if pwd and pwd ~= "" then message = message:gsub(pwd:gsub("%p", "%%%0") .. "/", "") end
    out[1] = tostring(e.code) .. ": " .. message
    local details = type(e.details) == "table" and e.details or {}
    for _, k in ipairs(user_fields) do
      local v = e[k]
      if v == nil then v = details[k] end
      if k == "file" and v ~= nil then v = relative(v) end
      if v ~= nil and not message:find(tostring(v), 1, true) then
        out[#out + 1] = "  " .. k .. ": " .. show(v, true)
      end
    end
    return table.concat(out, "\n")
  end
  out[1] = (e.where and (tostring(e.where) .. ": ") or "") .. tostring(e.code or "ERROR") .. ": " .. message
  local keys = {}
  for k in pairs(e) do
    if not headline_fields[k] then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    out[#out + 1] = "  " .. tostring(k) .. ": " .. show(e[k], false)
  end
  return table.concat(out, "\n")
end

return M
