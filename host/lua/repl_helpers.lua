-- The REPL's helpers for ad-hoc Unity Catalog work, embedded in the binary as drhost.repl_helpers.
--
--   drhost> :env dr                      -- load env/dr.lua, build credentials, connect
--   drhost> sql("SELECT * FROM main.s.t WHERE id = :id", { id = 1 })
--   drhost> uc.ls("main.s")              -- catalogs / schemas / tables as rows
--   drhost> uc.grants("main.s.t")        -- direct grants as rows
--   drhost> api.get("/api/2.1/unity-catalog/metastore_summary")
--
-- The host's REPL (host/repl.c) calls install(_G) once and command(line) for ":..." lines.
-- Reference: docs/repl.md.
local M = {}

-- The current connection: env name, env table, workspace client, warehouse, sql connection.
local cur = {}
M.current = cur

local errors = require("errors")

local function getenv(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

-- The project directory: DRHOST_HOME, else the entry of package.path that ends in modules/?.lua.
local function home()
  local h = getenv("DRHOST_HOME")
  if h then return (h:gsub("/+$", "")) end
  for entry in package.path:gmatch("[^;]+") do
    local dir = entry:match("^(.*)/modules/%?%.lua$")
    if dir then return dir end
  end
  return "."
end

-- Path of env/NAME.lua: ./env/NAME.lua when it exists, else $DRHOST_HOME/env/NAME.lua.
function M.env_path(name)
  if name:find("/", 1, true) or name:match("%.lua$") then return name end
  if not name:match("^[%w_%-]+$") then
    errors.raise("BAD_INPUT", string.format(":env %s: an environment name is letters, digits, _ and - "
      .. "(or give a path to a .lua file)", name))
  end
  local local_path = "env/" .. name .. ".lua"
  if file_exists(local_path) then return local_path end
  return home() .. "/env/" .. name .. ".lua"
end

-- Loads an environment file (a plain Lua table) with read access to the globals.
function M.load_env(name)
  local path = M.env_path(name)
  if not file_exists(path) then
    errors.raise("ENV_NOT_FOUND", string.format(":env %s: %s does not exist", name, path), { path = path })
  end
  -- the one loader of env and config files; the REPL's env files may read the globals
  local value = require("loader").run(path, { sandbox = setmetatable({}, { __index = _G }), code = "ENV_INVALID",
    not_found_code = "ENV_NOT_FOUND", what = "environment file" })
  return value, path
end

-- The first string found at one of the dotted paths in t.
local function pick(t, paths)
  for _, p in ipairs(paths) do
    local v = t
    for key in p:gmatch("[^.]+") do
      if type(v) ~= "table" then v = nil; break end
      v = v[key]
    end
    if type(v) == "string" and v ~= "" then return v, p end
  end
  return nil
end

local HOST_FIELDS = { "workspace_host", "workspace_url", "workspace.host", "workspace.url",
                      "databricks.workspace_host", "databricks.host", "replication.workspace_host",
                      "outputs.workspace_url", "outputs.workspace_host" }
local WAREHOUSE_FIELDS = { "warehouse_id", "workspace.warehouse_id", "databricks.warehouse_id",
                           "replication.warehouse_id", "sql.warehouse_id", "outputs.warehouse_id" }

local function as_url(host)
  if not host:match("^https?://") then host = "https://" .. host end
  return (host:gsub("/+$", ""))
end

-- The deployment's outputs for environment `name` (deploy.outputs: its state in the store named by
-- DRHOST_STATE / DRHOST_BLOB_*), or nil when no state store is configured.
function M.deployment_outputs(name)
  local ok, outputs = pcall(require("deploy.outputs").read, name)
  if ok then return outputs end
  if type(outputs) == "table" and outputs.code == "STATE_BACKEND" then return nil end
  error(outputs, 0)
end

-- Where the workspace of environment `name` is: DRHOST_<NAME>_WORKSPACE_HOST or DRHOST_<NAME>_HOST,
-- then the env file's fields, then the deployment's outputs (primary_workspace_url, warehouse_id),
-- then DATABRICKS_HOST. Returns host, warehouse_id, where the host came from.
function M.resolve(name, env)
  local upper = name:upper():gsub("[^%w]", "_")
  local host, source
  for _, var in ipairs({ "DRHOST_" .. upper .. "_WORKSPACE_HOST", "DRHOST_" .. upper .. "_HOST" }) do
    if not host then host, source = getenv(var), var end
  end
  if not host then host, source = pick(env, HOST_FIELDS) end
  local warehouse = getenv("DRHOST_" .. upper .. "_WAREHOUSE_ID") or pick(env, WAREHOUSE_FIELDS)
  if not host or not warehouse then
    local outputs = M.deployment_outputs(name)
    if outputs then
      if not host and type(outputs.primary_workspace_url) == "string" then
        host, source = outputs.primary_workspace_url, "deployment outputs of " .. name
      end
      if not warehouse and type(outputs.warehouse_id) == "string" then warehouse = outputs.warehouse_id end
    end
  end
  if not host then host, source = getenv("DATABRICKS_HOST"), "DATABRICKS_HOST" end
  warehouse = warehouse or getenv("DRHOST_WAREHOUSE_ID")
  return host and as_url(host), warehouse, source
end

local function connect(host, opts)
  opts = opts or {}
  local auth = require("auth")
  local databricks = require("databricks")
  local cred = opts.credential or auth.from_env{ databricks = true }
  cur.ws = databricks.workspace{ host = host, credential = cred }
  cur.host = host
  cur.warehouse_id = opts.warehouse_id
  cur.conn, cur.user = nil, nil
  cur.catalog, cur.schema = opts.catalog, opts.schema
end

local function need_ws()
  if not cur.ws then
    errors.raise("NOT_CONNECTED", "no workspace: use :env NAME (e.g. :env dr) or :connect HOST first")
  end
  return cur.ws
end

-- The warehouse to run SQL on: the configured one, else the workspace's first running warehouse,
-- else its first one.
local function warehouse()
  if cur.warehouse_id then return cur.warehouse_id end
  local ws = need_ws()
  local list = ws:list("/api/2.0/sql/warehouses", nil, "warehouses")
  local chosen
  for _, w in ipairs(list) do
    if w.state == "RUNNING" then chosen = w; break end
  end
  chosen = chosen or list[1]
  if not chosen then
    errors.raise("NO_WAREHOUSE", "workspace " .. cur.host .. " has no SQL warehouse; set DRHOST_WAREHOUSE_ID or :warehouse ID")
  end
  cur.warehouse_id = chosen.id
  return chosen.id
end

local function conn()
  if not cur.conn then
    -- wait_timeout 0s: the statement id comes back at once, so Ctrl-C can cancel it on the warehouse
    cur.conn = require("sql").connect{ workspace = need_ws(), warehouse_id = warehouse(), wait_timeout = "0s",
                                       catalog = cur.catalog, schema = cur.schema }
  end
  return cur.conn
end

local function status()
  return { env = cur.name or "-", host = cur.host or "-", warehouse_id = cur.warehouse_id or "(first found)",
           catalog = cur.catalog or "-", schema = cur.schema or "-", host_from = cur.source or "-",
           user = cur.user or "-" }
end

-- Checks the connection (token and workspace reachable) and learns who we are.
local function verify()
  local me = need_ws():get("/api/2.0/preview/scim/v2/Me")
  cur.user = type(me) == "table" and (me.userName or me.displayName) or nil
end

---------------------------------------------------------------------------------------------------
-- helpers put into the REPL's globals
---------------------------------------------------------------------------------------------------
-- sql(statement [, params]) -> rows (the REPL prints them as a table).
function M.sql(statement, params)
  local rows, meta = conn():query(statement, params)
  if meta and type(meta.columns) == "table" and #meta.columns > 0 then
    -- the REPL prints the columns in the statement's order (pretty.columns reads __columns)
    local ordered = setmetatable({}, { __columns = meta.columns })
    for i, row in ipairs(rows) do ordered[i] = row end
    return ordered
  end
  return rows
end

local json_null
local function null()
  if json_null == nil then json_null = require("json").null end
  return json_null
end

local function val(v)
  if v == nil then return null() end
  return v
end

local function split(name)
  local parts = {}
  if name == nil or name == "" then return parts end
  if type(name) ~= "string" then errors.raise("BAD_INPUT", "expected a dotted name like catalog.schema, got " .. type(name)) end
  for p in (name .. "."):gmatch("([^.]*)%.") do
    if p == "" then errors.raise("BAD_INPUT", string.format("%q has an empty name part", name)) end
    parts[#parts + 1] = p
  end
  return parts
end

local function enc(s) return require("web").urlencode(s) end

M.uc = {}

-- uc.ls([path]) -> catalogs (no path), schemas of a catalog, or tables of catalog.schema.
function M.uc.ls(path)
  local ws = need_ws()
  local parts = split(path)
  local rows = {}
  if #parts == 0 then
    for _, c in ipairs(ws:list("/api/2.1/unity-catalog/catalogs", nil, "catalogs")) do
      rows[#rows + 1] = { name = c.name, type = val(c.catalog_type), owner = val(c.owner), comment = val(c.comment) }
    end
  elseif #parts == 1 then
    for _, s in ipairs(ws:list("/api/2.1/unity-catalog/schemas", { catalog_name = parts[1] }, "schemas")) do
      rows[#rows + 1] = { name = s.name, full_name = val(s.full_name), owner = val(s.owner), comment = val(s.comment) }
    end
  elseif #parts == 2 then
    for _, t in ipairs(ws:list("/api/2.1/unity-catalog/tables",
                               { catalog_name = parts[1], schema_name = parts[2] }, "tables")) do
      rows[#rows + 1] = { name = t.name, type = val(t.table_type), format = val(t.data_source_format),
                          owner = val(t.owner) }
    end
  else
    errors.raise("BAD_INPUT", "uc.ls: give nothing, a catalog or catalog.schema, got " .. tostring(path))
  end
  table.sort(rows, function(a, b) return a.name < b.name end)
  return rows
end

local SECURABLE_BY_DEPTH = { "catalog", "schema", "table" }

-- uc.grants(name [, securable_type]) -> direct grants as rows {principal, privilege}.
-- The type defaults to catalog / schema / table by the number of name parts.
function M.uc.grants(name, securable_type)
  local ws = need_ws()
  local parts = split(name)
  if #parts == 0 then errors.raise("BAD_INPUT", "uc.grants: give a securable name like catalog.schema.table") end
  securable_type = securable_type or SECURABLE_BY_DEPTH[#parts]
  if not securable_type then
    errors.raise("BAD_INPUT", "uc.grants: cannot tell the securable type of " .. name .. "; pass it as 2nd argument")
  end
  local body = ws:request{ method = "GET",
    path = "/api/2.1/unity-catalog/permissions/" .. enc(securable_type) .. "/" .. enc(name) }
  local rows = {}
  for _, a in ipairs((type(body) == "table" and body.privilege_assignments) or {}) do
    for _, p in ipairs(a.privileges or {}) do
      rows[#rows + 1] = { principal = a.principal, privilege = type(p) == "table" and p.privilege or p }
    end
  end
  table.sort(rows, function(x, y)
    if x.principal ~= y.principal then return x.principal < y.principal end
    return x.privilege < y.privilege
  end)
  return rows
end

M.api = {}
-- api.get(path [, query]) -> decoded body of a workspace GET (nil + error for 404).
function M.api.get(path, query) return need_ws():get(path, query) end
function M.api.post(path, body) return need_ws():post(path, body) end
function M.api.list(path, query, key) return need_ws():list(path, query, key) end

---------------------------------------------------------------------------------------------------
-- ":" commands
---------------------------------------------------------------------------------------------------
local HELP = [[
drhost REPL helpers
  :env NAME                 load env/NAME.lua (e.g. :env dr), credentials from the environment, connect
  :connect HOST [WAREHOUSE] connect to a workspace URL directly
  :warehouse ID             run SQL on this warehouse
  :use CATALOG [SCHEMA]     default catalog/schema for sql
  :status                   the current connection
  sql "SELECT ..."          run a statement, rows print as a table
  sql("SELECT ... :p", {p=1})  with named parameters (parentheses needed)
  uc.ls() uc.ls("cat") uc.ls("cat.schema")   catalogs / schemas / tables
  uc.grants("cat.schema.table")               direct grants
  api.get("/api/2.1/unity-catalog/metastore_summary")   raw workspace GET
  :q                        quit]]

local commands = {}

function commands.help() print(HELP) end
commands.h = commands.help

function commands.env(args)
  local name = args[1]
  if not name then return status() end
  local env, path = M.load_env(name)
  local host, wh, source = M.resolve(name, env)
  if not host then
    errors.raise("ENV_INVALID", string.format("%s: no workspace host: set DRHOST_%s_WORKSPACE_HOST, a field %s, "
      .. "or deploy it (its outputs give primary_workspace_url)",
      path, (name:upper():gsub("[^%w]", "_")), table.concat(HOST_FIELDS, " / ")))
  end
  connect(host, { warehouse_id = wh })
  cur.name, cur.env, cur.source = name, env, source
  verify()
  return status()
end

function commands.connect(args)
  if not args[1] then errors.raise("BAD_INPUT", ":connect HOST [WAREHOUSE_ID]") end
  connect(as_url(args[1]), { warehouse_id = args[2] })
  cur.name, cur.env, cur.source = nil, nil, ":connect"
  verify()
  return status()
end

function commands.warehouse(args)
  if not args[1] then errors.raise("BAD_INPUT", ":warehouse WAREHOUSE_ID") end
  cur.warehouse_id, cur.conn = args[1], nil
  return status()
end

function commands.use(args)
  if not args[1] then errors.raise("BAD_INPUT", ":use CATALOG [SCHEMA]") end
  cur.catalog, cur.schema, cur.conn = args[1], args[2], nil
  return status()
end

function commands.status() return status() end

-- command(":env dr") -> the command's result (the REPL prints it).
function M.command(line)
  local name, rest = line:match("^%s*:(%S+)%s*(.-)%s*$")
  if not name then errors.raise("BAD_INPUT", "not a command: " .. tostring(line)) end
  local f = commands[name]
  if not f then errors.raise("BAD_INPUT", string.format("unknown command :%s (:help lists them)", name)) end
  local args = {}
  for a in rest:gmatch("%S+") do args[#args + 1] = a end
  return f(args)
end

-- install(globals): sql, uc, api into the REPL's globals. `sql` is callable and also
-- gives the sql module's functions (sql.ident(...)).
function M.install(g)
  g.sql = setmetatable({}, {
    __call = function(_, statement, params) return M.sql(statement, params) end,
    __index = function(_, k) return require("sql")[k] end,
  })
  g.uc = M.uc
  g.api = M.api
end

return M
