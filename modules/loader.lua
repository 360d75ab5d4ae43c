--- One loader for the user's env and config files (env/*.lua, env/*.replication.lua).
-- A file is plain Lua that returns a table; it runs in a sandbox that holds only the globals the
-- caller names. The table is checked against a declared schema: every key at every level is
-- type-checked, an unknown key is an error naming its full path, and every error names the
-- user's file, the key and what was expected (docs/deploy.md, "Environment reference").
--
--   local loader = require("loader")
--   local S = loader.schema
--   local schema = S.record{ name = S.string{ required = true }, debug = S.boolean{ default = false },
--     spokes = S.map(S.record{ cidr = S.string{ required = true } }) }
--   local t = loader.load("env/prod.lua", { schema = schema, globals = { os = { getenv = os.getenv } } })
--
-- Errors are raised through `errors` with a code (CONFIG_INVALID unless opts.code says otherwise;
-- CONFIG_NOT_FOUND when the file is missing) and details = { file =, problems = { {path=, text=} } }.
local errors = require("errors")

local M = {}

--- describe(v): how a value reads in an error ("string \"false\"", "number 3", "a table", "nothing").
function M.describe(v)
  local t = type(v)
  if v == nil then return "nothing"
  elseif t == "string" then return string.format("string %q", v)
  elseif t == "number" or t == "boolean" then return t .. " " .. tostring(v)
  elseif t == "table" then return "a table"
  end
  return "a " .. t
end

local function key_path(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then
    return path == "" and k or (path .. "." .. k)
  end
  local inner = type(k) == "string" and string.format("%q", k) or tostring(k)
  return (path == "" and "" or path) .. "[" .. inner .. "]"
end
M.key_path = key_path

-- Schemas -------------------------------------------------------------------------------------
-- A schema is a table { what = "text for 'expected ...'", check = function(v, path, add) },
-- plus `required` and `default` for a record's fields. add(path, expected, got) records a problem.
local S = {}
M.schema = S

local function scalar(lua_type, default_what)
  return function(o)
    o = o or {}
    local s = { what = o.what or default_what, required = o.required, default = o.default }
    function s.check(v, path, add)
      if type(v) ~= lua_type then return add(path, s.what, v) end
      if o.pattern and not v:match(o.pattern) then return add(path, s.what, v) end
      if o.nonempty and v == "" then return add(path, s.what, v) end
      if o.integer and math.type(v) ~= "integer" then return add(path, s.what, v) end
      if (o.min and v < o.min) or (o.max and v > o.max) then return add(path, s.what, v) end
      if o.test then
        local ok, why = o.test(v)
        if not ok then return add(path, s.what .. (why and (" (" .. why .. ")") or ""), v) end
      end
    end
    return s
  end
end

--- string{ pattern=, nonempty=, what=, test=function(v) -> ok, why }
S.string = scalar("string", "a string")
--- boolean{}: true or false (a string "false" is an error, never read as true)
S.boolean = scalar("boolean", "boolean")
--- number{ min=, max=, integer= }
S.number = scalar("number", "a number")
--- integer{ min=, max= }
function S.integer(o)
  o = o or {}
  o.integer = true
  o.what = o.what or ("an integer" .. ((o.min and o.max) and (" from " .. o.min .. " to " .. o.max) or ""))
  return S.number(o)
end
--- func{}: a function (hooks)
S.func = scalar("function", "a function")

--- enum{ "a", "b", what= }: one of the listed values.
function S.enum(o)
  local ok, names = {}, {}
  for _, v in ipairs(o) do ok[v] = true; names[#names + 1] = string.format("%q", v) end
  local s = { what = o.what or ("one of " .. table.concat(names, ", ")), required = o.required, default = o.default }
  function s.check(v, path, add) if not ok[v] then add(path, s.what, v) end end
  return s
end

--- list(elem, { what=, min= }): an array (keys 1..n) whose elements match elem.
function S.list(elem, o)
  o = o or {}
  local s = { what = o.what or ("a list of " .. elem.what), required = o.required, default = o.default }
  function s.check(v, path, add)
    if type(v) ~= "table" then return add(path, s.what, v) end
    local n = #v
    for k in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > n then
        return add(key_path(path, k), s.what .. " (a list, not a map)", v[k])
      end
    end
    if o.min and n < o.min then return add(path, s.what .. " with at least " .. o.min .. " element(s)", v) end
    for i = 1, n do elem.check(v[i], path .. "[" .. i .. "]", add) end
  end
  return s
end

--- map(value, { key = string schema, what=, min= }): string keys (checked by o.key) to values.
function S.map(value, o)
  o = o or {}
  local key = o.key or S.string{ nonempty = true, what = "a name" }
  local s = { what = o.what or ("a map of names to " .. value.what), required = o.required, default = o.default }
  function s.check(v, path, add)
    if type(v) ~= "table" then return add(path, s.what, v) end
    if o.min and next(v) == nil then return add(path, s.what .. " with at least " .. o.min .. " entry", "an empty table") end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local kp = key_path(path, k)
      local before = 0
      key.check(k, kp, function(p, what, got) before = before + 1; add(p, "a key that is " .. what, got) end)
      if before == 0 then value.check(v[k], kp, add) end
    end
  end
  return s
end

--- record(fields, { what=, open=, known= }): a table with the named fields (schemas with
-- required/default); any other key is an error naming its path ("expected one of the known keys
-- (a, b), got unknown key"; o.known replaces that text), unless open = true.
function S.record(fields, o)
  o = o or {}
  local names = {}
  for k in pairs(fields) do names[#names + 1] = k end
  table.sort(names)
  local s = { what = o.what or "a table", required = o.required, default = o.default, fields = fields }
  function s.check(v, path, add)
    if type(v) ~= "table" then return add(path, s.what, v) end
    for _, k in ipairs(names) do
      local f = fields[k]
      if v[k] == nil then
        if f.required then add(key_path(path, k), f.what, nil) end
      else
        f.check(v[k], key_path(path, k), add)
      end
    end
    if not o.open then
      local extra = {}
      for k in pairs(v) do if fields[k] == nil then extra[#extra + 1] = k end end
      table.sort(extra, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(extra) do
        add(key_path(path, k), o.known or ("one of the known keys (" .. table.concat(names, ", ") .. ")"), v[k],
          "unknown key")
      end
    end
  end
  return s
end

--- any{}: any value (checked elsewhere)
function S.any(o)
  o = o or {}
  return { what = o.what or "a value", required = o.required, default = o.default, check = function() end }
end

-- Checking ------------------------------------------------------------------------------------

--- problems(value, schema, file) -> list of { path=, expected=, got=, text= } (empty when valid).
function M.problems(value, schema, file)
  local out = {}
  local function add(path, expected, got, got_text)
    out[#out + 1] = { path = path, expected = expected, got = got,
      text = string.format("%s: %s: expected %s, got %s", file, path == "" and "(file)" or path, expected,
        got_text or M.describe(got)) }
  end
  schema.check(value, "", add)
  return out
end

local function raise_problems(list, file, code)
  local lines = {}
  for i, p in ipairs(list) do lines[i] = p.text end
  errors.raise{ code = code or "CONFIG_INVALID", message = table.concat(lines, "\n"), target = file,
    details = { file = file, problems = list } }
end
M.raise_problems = raise_problems

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

--- defaults(value, schema): fills absent record fields that declare a default (copies), in place.
function M.defaults(value, schema)
  if type(value) ~= "table" then return value end
  if schema.fields then
    for k, f in pairs(schema.fields) do
      if value[k] == nil and f.default ~= nil then value[k] = copy(f.default) end
      if value[k] ~= nil then M.defaults(value[k], f) end
    end
  end
  return value
end

--- check(value, schema, file, code) -> value with defaults; raises `code` listing every problem.
function M.check(value, schema, file, code)
  local list = M.problems(value, schema, file)
  if #list > 0 then raise_problems(list, file, code) end
  return M.defaults(value, schema)
end

-- Loading -------------------------------------------------------------------------------------

--- run(path, opts) -> the table the file returns (no schema check).
-- opts.globals: what the sandbox holds (default: nothing; copied), or opts.sandbox: the chunk's
-- environment table itself (e.g. one that reads through to _G); opts.code: the error code
-- (default CONFIG_INVALID); opts.not_found_code (default CONFIG_NOT_FOUND), opts.syntax_code and
-- opts.run_code (a syntax error, an error while the file runs; default opts.code); opts.what:
-- what the file is, for messages ("environment file").
function M.run(path, opts)
  opts = opts or {}
  local code = opts.code or "CONFIG_INVALID"
  local what = opts.what or "config file"
  local f = io.open(path, "r")
  if not f then
    errors.raise{ code = opts.not_found_code or "CONFIG_NOT_FOUND", message = path .. ": " .. what .. " not found",
      target = path, details = { file = path } }
  end
  local src = f:read("a")
  f:close()
  local sandbox = opts.sandbox
  if sandbox == nil then
    sandbox = {}
    for k, v in pairs(opts.globals or {}) do sandbox[k] = v end
  end
  local chunk, perr = load(src, "@" .. path, "t", sandbox)
  if not chunk then
    errors.raise{ code = opts.syntax_code or code, message = tostring(perr), target = path, details = { file = path } }
  end
  local ok, t = pcall(chunk)
  if not ok then
    local msg = errors.is(t) and tostring(t.message) or tostring(t)
    if not msg:find(path, 1, true) then msg = path .. ": " .. msg end
    errors.raise{ code = opts.run_code or code, message = msg, target = path, details = { file = path } }
  end
  if type(t) ~= "table" then
    raise_problems({ { path = "", text = string.format("%s: expected the file to return a table, got %s", path,
      M.describe(t)) } }, path, code)
  end
  return t
end

--- load(path, opts) -> the file's table, checked against opts.schema (when given) and with its
-- defaults filled in. See run for the other options.
function M.load(path, opts)
  opts = opts or {}
  local t = M.run(path, opts)
  if opts.schema then M.check(t, opts.schema, path, opts.code) end
  return t
end

return M
