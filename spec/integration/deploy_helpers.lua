-- Helpers for the deployment's integration specs: fixture environments in a temp directory, the
-- drhost child process, in-process clients for assertions, and the simulator's admin API.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
local json = require("json")

local M = {}

M.DRHOST = os.getenv("DRHOST") or os.getenv("DRHOST_BIN") or "build/drhost"
-- the simulator's AzureDatabricks first-party SP (a placeholder id, like the rest of the sim)
M.ADB_SP = os.getenv("DRHOST_DATABRICKS_SP_OBJECT_ID") or "00000000-0000-0000-0000-0000000000db"

function M.available()
  return os.getenv("DRHOST_ARM_ENDPOINT") ~= nil and os.getenv("DATABRICKS_ACCOUNT_HOST") ~= nil
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.q = q

local function serialize(v, indent)
  indent = indent or ""
  if type(v) == "table" then
    local parts = {}
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local key = type(k) == "number" and "" or ("[" .. string.format("%q", k) .. "] = ")
      parts[#parts + 1] = indent .. "  " .. key .. serialize(v[k], indent .. "  ")
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  elseif type(v) == "string" then
    return string.format("%q", v)
  end
  return tostring(v)
end

--- fixture(tag, o): writes <tag>p (primary) and <tag>s (secondary) env files into a temp dir.
-- o.regions = {primary, secondary}, o.base = second octet base, o.spokes = primary spoke count.
function M.fixture(tag, o)
  o = o or {}
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. q(dir))
  local function env(role)
    local n = role == "primary" and (o.spokes or 3) or 1
    local base = o.base + (role == "primary" and 0 or 20)
    local spokes = {}
    for i = 1, n do spokes[string.char(96 + i)] = { cidr = "10." .. (base + i) .. ".0.0/20" } end
    local e = {
      name = tag .. (role == "primary" and "p" or "s"), role = role,
      peer = tag .. (role == "primary" and "s" or "p"),
      region = role == "primary" and o.regions[1] or o.regions[2],
      prefix = tag, hub = { cidr = "10." .. base .. ".0.0/22" }, spokes = spokes,
      front_end_private_link = true,
      -- the DBFS private endpoints are left out to keep the fixtures quick (the demo deploys them
      -- to the simulator; docs/deploy.md, known limits)
      dbfs_private_endpoints = false,
      tags = { env = tag }, firewall = { allowed_fqdns = { "pypi-mirror.example.com" } },
      identities = { admin_group = "drhost-admins", databricks_sp_object_id_env = "DRHOST_DATABRICKS_SP_OBJECT_ID",
        replication_sp_app_id_env = "DRHOST_REPLICATION_SP_APP_ID" },
    }
    if role == "secondary" then
      -- the deployment reads the sharing names from it (a missing or broken config is an error)
      e.replication = dir .. "/" .. tag .. "s.replication.lua"
      local rf = assert(io.open(e.replication, "w"))
      rf:write('return { catalogs = { a = "a" } }\n')
      rf:close()
      e.replication_schedule = { quartz_cron = "0 0/30 * * * ?", timezone = "UTC" }
    end
    return e
  end
  for _, role in ipairs({ "primary", "secondary" }) do
    local e = env(role)
    local f = assert(io.open(dir .. "/" .. e.name .. ".lua", "w"))
    f:write("return ", serialize(e), "\n")
    f:close()
  end
  local state_dir = dir .. "/state"
  return { dir = dir, primary = tag .. "p", secondary = tag .. "s", state_dir = state_dir }
end

--- run(fx, env_name, args, extra_env) -> exit code, combined output.
function M.run(fx, env_name, args, extra)
  local vars = {
    "DRHOST_DATABRICKS_SP_OBJECT_ID=" .. q(M.ADB_SP),
    "DRHOST_REPLICATION_SP_APP_ID=00000000-0000-0000-0000-0000000000aa",
    "DRHOST_STATE_CONTAINER=" .. q("drhost-it-" .. fx.primary),
  }
  if not os.getenv("DRHOST_BLOB_ENDPOINT") then
    vars[#vars + 1] = "DRHOST_STATE=local DRHOST_STATE_DIR=" .. q(fx.state_dir)
  end
  for k, v in pairs(extra or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
  local cmd = table.concat(vars, " ") .. " " .. q(M.DRHOST) .. " scripts/deploy.lua " .. env_name .. " " ..
    args .. " --env-dir " .. q(fx.dir) .. " 2>&1; echo __rc=$?"
  local p = io.popen(cmd)
  local outp = p:read("a")
  p:close()
  local rc = tonumber(outp:match("__rc=(%d+)%s*$"))
  return rc, outp
end

--- spawn(...) -> pid, log file: the same command in the background.
function M.spawn(fx, env_name, args)
  local log = os.tmpname()
  local vars = "DRHOST_DATABRICKS_SP_OBJECT_ID=" .. q(M.ADB_SP) ..
    " DRHOST_REPLICATION_SP_APP_ID=00000000-0000-0000-0000-0000000000aa DRHOST_STATE_CONTAINER=" ..
    q("drhost-it-" .. fx.primary)
  if not os.getenv("DRHOST_BLOB_ENDPOINT") then
    vars = vars .. " DRHOST_STATE=local DRHOST_STATE_DIR=" .. q(fx.state_dir)
  end
  local p = io.popen("sh -c " .. q(vars .. " exec " .. q(M.DRHOST) .. " scripts/deploy.lua " .. env_name .. " " ..
    args .. " --env-dir " .. q(fx.dir) .. " > " .. q(log) .. " 2>&1 & echo $!"))
  local pid = tonumber(p:read("l"))
  p:close()
  return pid, log
end

function M.sleep(s) os.execute("sleep " .. s) end

--- outputs(fx, env) -> decoded `output` JSON
function M.outputs(fx, env_name)
  local rc, out = M.run(fx, env_name, "output")
  assert(rc == 0, out)
  return json.decode(out:gsub("__rc=%d+%s*$", ""))
end

--- state(fx, env) -> the state document (through the same backend as the CLI)
function M.state_doc(fx, env_name)
  local rc, out = M.run(fx, env_name, "state list")
  assert(rc == 0, out)
  local addrs = {}
  for line in out:gmatch("[^\n]+") do if not line:match("^__rc") then addrs[#addrs + 1] = line end end
  return addrs
end

local clients
function M.clients()
  if not clients then clients = require("deploy.cli").clients() end
  return clients
end

--- admin(method, path, body): the simulator's admin API (faults, stats).
function M.admin(method, path, body)
  local http = require("http")
  local resp = http.request{ method = method, url = os.getenv("DRHOST_SIM_ADMIN") .. path,
    headers = { ["Content-Type"] = "application/json" }, body = body and json.encode(body) or nil }
  return resp.status, resp.body and #resp.body > 0 and json.decode(resp.body) or nil
end

--- count of declared resources of an env (through `validate`)
function M.declared(fx, env_name)
  local rc, out = M.run(fx, env_name, "validate")
  assert(rc == 0, out)
  return tonumber(out:match("%((%d+) resources"))
end

return M
