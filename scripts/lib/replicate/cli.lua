-- `drhost scripts/replicate.lua ENV COMMAND ...`: plan, apply, sync, status. Wires configuration,
-- connections, discovery, the plan and its execution; prints progress on stderr and the result
-- (text or --json) on stdout. Returns the process exit code.
local errors = require("errors")
local config = require("replicate.config")
local inventory = require("replicate.inventory")
local plan_lib = require("replicate.plan")
local apply = require("replicate.apply")
local report = require("replicate.report")

local M = {}

M.USAGE = [[
usage: drhost scripts/replicate.lua ENV COMMAND [options]
  plan   [-out FILE] [--json]   what would change in dr, and why (saved with -out)
  apply  FILE [--json]          execute a saved plan exactly
  sync   [-out FILE] [--json]   plan, then apply
  status [--json]               per table: in sync or behind, source vs last cloned version, lag
options: --config FILE (replication config; default: the `replication` key of env/ENV.lua)
exit: 0 ok; 1 an object failed or an error; 2 usage]]

local function stderr(s) io.stderr:write(s, "\n") end

function M.parse(args)
  local o = { json = false }
  local i = 1
  local function need(flag)
    i = i + 1
    if not args[i] then errors.raise("USAGE", flag .. " needs a value") end
    return args[i]
  end
  local pos = {}
  while i <= #args do
    local a = args[i]
    if a == "--json" then o.json = true
    elseif a == "-out" or a == "--out" then o.out = need(a)
    elseif a == "--config" then o.config = need(a)
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 1) == "-" then errors.raise("USAGE", "unknown option " .. a)
    else pos[#pos + 1] = a end
    i = i + 1
  end
  o.env, o.command, o.file = pos[1], pos[2], pos[3]
  if o.help then return o end
  if not o.env then errors.raise("USAGE", "missing ENV (e.g. dr)") end
  local cmds = { plan = true, apply = true, sync = true, status = true }
  if not cmds[o.command or ""] then errors.raise("USAGE", "unknown or missing COMMAND " .. tostring(o.command)) end
  if o.command == "apply" and not o.file then errors.raise("USAGE", "apply needs the plan FILE") end
  if pos[4] or (o.command ~= "apply" and o.file) then errors.raise("USAGE", "unexpected argument " .. tostring(pos[4] or o.file)) end
  return o
end

local function home()
  local h = os.getenv("DRHOST_HOME")
  if h and h ~= "" then return h end
  return "."
end

local function exists(p) local f = io.open(p, "r"); if f then f:close(); return true end return false end

local function resolve_path(p)
  if p:sub(1, 1) == "/" or exists(p) then return p end
  local hp = home() .. "/" .. p
  if exists(hp) then return hp end
  return p
end

-- The replication config file: --config, else env/ENV.lua's `replication`, else env/ENV.replication.lua.
function M.config_path(o)
  if o.config then return resolve_path(o.config) end
  local envfile = resolve_path("env/" .. o.env .. ".lua")
  if exists(envfile) then
    local chunk = loadfile(envfile, "t", { os = { getenv = os.getenv } })
    local ok, t = pcall(chunk or function() end)
    if ok and type(t) == "table" and type(t.replication) == "string" then return resolve_path(t.replication) end
  end
  return resolve_path("env/" .. o.env .. ".replication.lua")
end

-- The outputs of an environment's deployment, read in-process from its state (the state store
-- named by DRHOST_STATE / DRHOST_BLOB_* as for deploy.lua, docs/deploy.md); nil and why when the
-- state cannot be read.
function M.deployment_outputs(env_name)
  local ok, outputs = pcall(require("deploy.outputs").read, env_name)
  if not ok then return nil, errors.text(outputs) end
  return outputs
end

-- Where a workspace is (docs/replication.md, "Finding the workspaces"): DRHOST_SOURCE_HOST /
-- DRHOST_SOURCE_WAREHOUSE_ID (TARGET for dr) first, then the config's source/target fields, then
-- the deployment's outputs of that environment (read from its state, keys workspace_url and
-- warehouse_id), or an outputs JSON file named by `outputs`.
function M.locate(side_name, side_cfg, partial)
  local up = side_name:upper()
  local host = os.getenv("DRHOST_" .. up .. "_HOST")
  local wh = os.getenv("DRHOST_" .. up .. "_WAREHOUSE_ID")
  host = (host ~= "" and host) or side_cfg.host
  wh = (wh ~= "" and wh) or side_cfg.warehouse_id
  local from = "environment/config"
  if not host or not wh then
    local json = require("json")
    local text
    if side_cfg.outputs then
      local f = io.open(resolve_path(side_cfg.outputs), "r")
      if f then text = f:read("a"); f:close() end
      from = side_cfg.outputs
    elseif side_cfg.env then
      local outputs, why = M.deployment_outputs(side_cfg.env)
      if outputs then text = json.encode(outputs) end
      from = "deployment outputs of " .. side_cfg.env .. (why and (" (unreadable: " .. why .. ")") or "")
    end
    local ok, out = pcall(json.decode, text or "")
    if ok and type(out) == "table" and type(out.outputs) == "table" then out = out.outputs end
    if ok and type(out) == "table" then
      local function pick(...)
        for _, k in ipairs({ ... }) do
          local v = out[k]
          if type(v) == "table" and v.value then v = v.value end
          if type(v) == "string" and v ~= "" then return v end
        end
      end
      host = host or pick("workspace_url", "primary_workspace_url", "workspace_host", "replication_workspace_url")
      wh = wh or pick("warehouse_id", "replication_warehouse_id")
    end
  end
  if host and not host:match("^https?://") then host = "https://" .. host end
  if partial then return host, wh, from end
  if not host or not wh then
    errors.raise{ code = "WORKSPACE_NOT_FOUND", message = string.format(
      "cannot find the %s workspace (%s): set DRHOST_%s_HOST and DRHOST_%s_WAREHOUSE_ID, or %s.host/%s.warehouse_id "
      .. "in the replication config, or deploy %s first (its outputs give workspace_url and warehouse_id)",
      side_name, side_cfg.env or "?", up, up, side_name, side_name, side_cfg.env or "the environment") }
  end
  return host, wh, from
end

-- Connections for one side: a workspace client and SQL connections per default catalog/schema.
function M.connect(side_name, side_cfg, cfg, credential)
  local databricks = require("databricks")
  local sql = require("sql")
  local host, wh, from = M.locate(side_name, side_cfg)
  local ws = databricks.workspace{ host = host, credential = credential, concurrency = cfg.parallelism }
  local conns = {}
  local function conn_for(catalog, schema)
    local key = tostring(catalog) .. "." .. tostring(schema)
    if not conns[key] then
      conns[key] = sql.connect{ workspace = ws, warehouse_id = wh, catalog = catalog, schema = schema,
        concurrency = cfg.parallelism }
    end
    return conns[key]
  end
  return { ws = ws, conn = conn_for(nil, nil), conn_for = conn_for, host = host, warehouse_id = wh, from = from }
end

local function write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then errors.raise{ code = "WRITE_FAILED", message = "cannot write " .. path .. ": " .. tostring(err) } end
  f:write(text); f:close()
end

local function read_plan(path)
  local json = require("json")
  local f, err = io.open(path, "r")
  if not f then errors.raise{ code = "PLAN_NOT_FOUND", message = "cannot read plan " .. path .. ": " .. tostring(err) } end
  local text = f:read("a"); f:close()
  local ok, p = pcall(json.decode, text)
  if not ok or type(p) ~= "table" or p.format ~= "drhost-replication-plan" then
    errors.raise{ code = "PLAN_INVALID", message = path .. " is not a drhost replication plan (saved with plan -out)" }
  end
  return p
end

function M.status_rows(plan)
  local now = os.time()
  local rows = {}
  for _, t in ipairs(plan.tables or {}) do
    local state = t.missing and "missing" or (t.in_sync and "in sync" or "behind")
    if t.source_version == nil then state = "unknown" end
    local lag
    if state == "in sync" then lag = 0
    else
      local since = report.epoch(t.cloned_commit_ts)
      if since then lag = math.max(0, now - since) end
    end
    rows[#rows + 1] = { object = t.object, source = t.source, state = state, source_version = t.source_version,
      cloned_version = t.cloned_version, lag_s = lag, reason = t.reason, cloned_at = t.cloned_at }
  end
  table.sort(rows, function(a, b) return a.object < b.object end)
  return rows
end

--- check_fence(cfg, o, opts): replication writes into its target only while its source is the
-- active region (failover.topology; docs/failover.md, "Fencing"). Raises FENCED otherwise,
-- before anything is contacted but the two regions' state stores.
function M.check_fence(cfg, o, opts)
  local regions = require("failover.regions")
  local target = (cfg.target and cfg.target.env) or o.env
  local source = cfg.source and cfg.source.env
  if not source then
    local peer = require("deploy.envfile").load_file("env/" .. target .. ".lua").peer
    source = peer
  end
  local set = opts.regions or regions.pair(source, target, { getenv = opts.getenv })
  return regions.guard(set, source, target)
end

-- Discovery of both sides, then the plan; -> plan, or nil and the error when a workspace is
-- unreachable. The inventories live only in here, so they are garbage once the plan is built.
local function discover_and_plan(cfg, src, dst, o, stats, progress, run_id)
  local found, src_inv, dst_inv = pcall(inventory.discover, cfg, src, dst, stats, progress,
    { versions_only = o.command == "status" })
  if not found then
    if errors.is(src_inv, "CANCELLED") then error(src_inv, 0) end
    return nil, src_inv
  end
  return plan_lib.build(cfg, src_inv, dst_inv, { now = os.date("!%Y-%m-%dT%H:%M:%SZ"), run_id = run_id,
    source = src.host, target = dst.host, discovery = { sql = stats.sql, rest = stats.rest, versions = stats.versions } })
end

function M.main(args, opts)
  opts = opts or {}
  local out = opts.stdout or function(s) io.stdout:write(s, "\n") end
  local ok, o = pcall(M.parse, args)
  local errout = opts.stderr or stderr
  if not ok then
    if not errors.is(o, "USAGE") then error(o, 0) end
    errout("replicate: " .. o.message)
    errout(M.USAGE)
    return 2
  end
  if o.help then out(M.USAGE); return 0 end
  local json = require("json")
  local quiet = o.json and os.getenv("DRHOST_PROGRESS") ~= "1"
  local function progress(s) if not quiet or os.getenv("DRHOST_PROGRESS") == "1" then stderr("replicate: " .. s) end end
  if o.json then progress = function(s) stderr("replicate: " .. s) end end

  local cfg = opts.config or config.load(M.config_path(o))
  if (o.command == "sync" or o.command == "apply") and not opts.unfenced then M.check_fence(cfg, o, opts) end
  local credential = opts.credential or require("auth").from_env()
  local src = M.connect("source", cfg.source, cfg, credential)
  local dst = M.connect("target", cfg.target, cfg, credential)
  local stats = { sql = 0, rest = 0 }
  local run_id = require("crypto").uuid4()
  local started = apply.clock()

  local plan
  if o.command == "apply" then
    plan = read_plan(o.file)
    if plan.source ~= src.host or plan.target ~= dst.host then
      errors.raise{ code = "PLAN_MISMATCH", message = string.format("plan %s was made for %s -> %s, not %s -> %s",
        o.file, tostring(plan.source), tostring(plan.target), src.host, dst.host) }
    end
  else
    local failure
    plan, failure = discover_and_plan(cfg, src, dst, o, stats, progress, run_id)
    if not plan then   -- a workspace unreachable: the run ends with its summary
      return M.report_run(o, out, report.discovery_failed(failure), { run_id = run_id, stats = stats,
        elapsed = apply.clock() - started, warnings = {}, state = {} })
    end
    -- Both inventories are garbage now. What follows allocates mostly outside Lua's accounting
    -- (the JSON encoder's buffer, HTTP answers in C), which does not drive the collector; one full
    -- cycle here hands their memory back before that, instead of stacking it on the peak.
    collectgarbage("collect")
    if o.out then write_file(o.out, json.encode(plan)); progress("plan saved to " .. o.out) end
  end

  if o.command == "plan" then
    if o.json then out(json.encode(plan)) else for _, l in ipairs(report.plan_lines(plan)) do out(l) end end
    return #plan.failed > 0 and 1 or 0
  elseif o.command == "status" then
    local rows = M.status_rows(plan)
    if o.json then out(json.encode({ tables = json.array(rows), failed = plan.failed }))
    else for _, l in ipairs(report.status_lines(rows)) do out(l) end end
    return #plan.failed > 0 and 1 or 0
  end

  if not o.json then for _, l in ipairs(report.plan_lines(plan)) do out(l) end; out("") end
  local results = apply.run(plan, { src = src, dst = dst, cfg = cfg, run_id = run_id, progress = progress, stats = stats })
  local summary = report.summary(plan, results)
  local elapsed = apply.clock() - started
  -- the state as it now stands, mirrored in the report
  local mirror = {}
  for _, t in ipairs(plan.tables or {}) do
    mirror[#mirror + 1] = { object = t.object, source = t.source, source_version = t.source_version,
      cloned_version = t.in_sync and t.cloned_version or nil }
  end
  for _, c in ipairs(summary.clones) do
    for _, m in ipairs(mirror) do if m.object == c.object then m.cloned_version = c.source_version end end
  end
  return M.report_run(o, out, summary, { run_id = run_id, stats = stats, elapsed = elapsed,
    warnings = plan.warnings or {}, state = mirror })
end

--- report_run(o, out, summary, run): prints a run's summary (text or --json); -> the exit status.
function M.report_run(o, out, summary, run)
  local json, stats = require("json"), run.stats
  if o.json then
    out(json.encode({ run_id = run.run_id, command = o.command, elapsed_s = run.elapsed, statements = stats.sql,
      rest_calls = stats.rest, version_reads = stats.versions,
      totals = summary.totals, per_phase = summary.per, clones = json.array(summary.clones),
      failures = json.array(summary.failures), skipped = json.array(summary.skipped or {}),
      warnings = json.array(run.warnings), state = json.array(run.state) }))
  else
    for _, l in ipairs(report.summary_lines(summary)) do out(l) end
    out(string.format("run %s: %.1f s, %d SQL statement(s), %d REST call(s)", run.run_id, run.elapsed, stats.sql,
      stats.rest))
  end
  return summary.totals.failed > 0 and 1 or 0
end

return M
