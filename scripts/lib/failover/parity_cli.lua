-- drhost scripts/parity.lua: the workspace-asset parity check on its own (failover.parity).
-- Spoke workspaces are paired by name from the deployments' outputs (`deploy.lua ENV output`,
-- key `workspaces`), from outputs JSON files, or given with --pair.
local json = require("json")
local parity = require("failover.parity")

local M = {}

M.USAGE = [[
usage: drhost scripts/parity.lua [--json] [--spoke NAME]... [--prod-outputs FILE] [--dr-outputs FILE]
                                 [--pair NAME=PROD_URL,DR_URL]... [--exclude-job NAME]...
Compares prod and dr per spoke workspace: jobs (present, paused in dr, same definition apart from
per-region fields), cluster policies, SQL warehouses, secret scopes (names and keys, never values).
exit: 0 dr mirrors prod (warnings allowed), 1 findings with errors, 2 usage or configuration error]]

local function usage_error(msg)
  io.stderr:write("parity: " .. msg .. "\n" .. M.USAGE .. "\n")
  return 2
end

function M.parse(args)
  local o = { spokes = {}, pairs = {}, exclude_jobs = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function value()
      i = i + 1
      if not args[i] then error({ usage = a .. " needs a value" }, 0) end
      return args[i]
    end
    if a == "--json" then o.json = true
    elseif a == "--spoke" then o.spokes[#o.spokes + 1] = value()
    elseif a == "--prod-outputs" then o.prod_outputs = value()
    elseif a == "--dr-outputs" then o.dr_outputs = value()
    elseif a == "--exclude-job" then o.exclude_jobs[#o.exclude_jobs + 1] = value()
    elseif a == "--pair" then
      local v = value()
      local name, p, d = v:match("^([^=]+)=([^,]+),(.+)$")
      if not name then error({ usage = "--pair " .. v .. ": expected NAME=PROD_URL,DR_URL" }, 0) end
      o.pairs[#o.pairs + 1] = { spoke = name, prod = p, dr = d }
    elseif a == "-h" or a == "--help" then o.help = true
    else error({ usage = "unknown argument " .. a }, 0) end
    i = i + 1
  end
  return o
end

local function read_outputs(env_name, file)
  local text, from
  if file then
    local f = io.open(file, "r")
    if not f then return nil, "cannot read " .. file end
    text = f:read("a"); f:close()
    from = file
  else
    local home = os.getenv("DRHOST_HOME") or "."
    local bin = os.getenv("DRHOST_BIN") or (home .. "/build/drhost")
    local p = io.popen(string.format("%q %q %q output 2>/dev/null", bin, home .. "/scripts/deploy.lua", env_name))
    text = p and p:read("a") or ""
    if p then p:close() end
    from = "the deployment outputs of " .. env_name
  end
  local ok, out = pcall(json.decode, text)
  if ok and type(out) == "table" and type(out.outputs) == "table" then out = out.outputs end
  local ws = ok and type(out) == "table" and out.workspaces
  if type(ws) == "table" and ws.value then ws = ws.value end
  if type(ws) ~= "table" then
    return nil, string.format("no spoke workspaces in %s: deploy %s first, or give --%s-outputs FILE or --pair",
      from, env_name, env_name)
  end
  return ws
end

local function url(u)
  if type(u) == "table" then u = u.url end
  if type(u) ~= "string" or u == "" then return nil end
  if not u:match("^https?://") then u = "https://" .. u end
  return u
end

-- -> list of { spoke, prod_url, dr_url } or nil, message
function M.pairs_from(o)
  if #o.pairs > 0 then return o.pairs end
  local p, perr = read_outputs("prod", o.prod_outputs)
  if not p then return nil, perr end
  local d, derr = read_outputs("dr", o.dr_outputs)
  if not d then return nil, derr end
  local want = {}
  for _, s in ipairs(o.spokes) do want[s] = true end
  local names = {}
  for n in pairs(p) do if not next(want) or want[n] then names[#names + 1] = n end end
  table.sort(names)
  local out, missing = {}, {}
  for _, n in ipairs(names) do
    if d[n] then out[#out + 1] = { spoke = n, prod = url(p[n]), dr = url(d[n]) }
    else missing[#missing + 1] = n end
  end
  return out, missing
end

function M.main(args, opts)
  opts = opts or {}
  local ok, o = pcall(M.parse, args)
  if not ok then return usage_error(type(o) == "table" and o.usage or tostring(o)) end
  if o.help then print(M.USAGE); return 0 end
  local prs, missing = M.pairs_from(o)
  if not prs then return usage_error(missing) end
  if #prs == 0 then return usage_error("no spoke workspace to compare") end
  local databricks = require("databricks")
  local cred = opts.credential or require("auth").from_env()
  local clients = {}
  for i, pr in ipairs(prs) do
    clients[i] = { spoke = pr.spoke, prod = databricks.workspace{ host = pr.prod, credential = cred },
                   dr = databricks.workspace{ host = pr.dr, credential = cred } }
  end
  local exclude
  if #o.exclude_jobs > 0 then
    exclude = { jobs = {} }
    for _, j in ipairs(parity.DEFAULT_EXCLUDE.jobs) do exclude.jobs[#exclude.jobs + 1] = j end
    for _, j in ipairs(o.exclude_jobs) do exclude.jobs[#exclude.jobs + 1] = j end
    for k, v in pairs(parity.DEFAULT_EXCLUDE) do if k ~= "jobs" then exclude[k] = v end end
  end
  local findings = parity.compare_all(clients, { exclude = exclude })
  for _, n in ipairs(type(missing) == "table" and missing or {}) do
    findings[#findings + 1] = { spoke = n, kind = "workspace", name = n, problem = "missing_in_dr", severity = "error",
      detail = "prod has this spoke, dr's deployment does not", action = "add the spoke to env/dr.lua and deploy dr" }
  end
  if o.json then
    local list = {}
    for i, f in ipairs(findings) do list[i] = f end
    print(json.encode({ findings = list, checked = findings.checked, errors = parity.errors(findings) }))
  else
    print(parity.render(findings))
  end
  return parity.errors(findings) > 0 and 1 or 0
end

return M
