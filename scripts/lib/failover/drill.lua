--- Drill (a rehearsal that moves no traffic) and verify (dr's replicas against prod at the
-- versions dr recorded). docs/failover.md, "Drills" and "Verify".
local errors = require("errors")
local json = require("json")
local regions = require("failover.regions")
local steps = require("failover.steps")
local report = require("failover.report")

local M = {}

-- Tables above this many rows are compared by row count only (the content hash reads every row
-- through the SQL API); the report says which.
M.HASH_MAX_ROWS = 100000

local function mono() return require("http").now() end

-- ---- verify ---------------------------------------------------------------------------------------

local function canonical(row)
  local parts = {}
  for i, k in ipairs(require("replicate.util").sorted_keys(row)) do
    local v = row[k]
    if v == json.null then v = "\0null" end
    parts[i] = k .. "=" .. (type(v) == "table" and json.encode(v) or tostring(v))
  end
  return table.concat(parts, "\31")
end

--- content(conn, sql) -> { rows = n, hash = hex } : an order-independent digest of the rows.
local function content(conn, stmt)
  local crypto = require("crypto")
  local rows = conn:query(stmt)
  local hashes = {}
  for i, r in ipairs(rows) do hashes[i] = crypto.sha256(canonical(r)) end
  table.sort(hashes)
  return { rows = #rows, hash = crypto.sha256(table.concat(hashes)) }
end

--- verify(ctx) -> rows {table, source, version, prod_rows, dr_rows, prod_hash, dr_hash, ok, detail}, error
function M.verify(ctx)
  local pts, why = require("failover.cli").replica_points(ctx)
  if not pts then return nil, why end
  local q = require("replicate.sqltext")
  local pconn = steps.warehouse_conn(ctx.set.primary)
  local dconn = steps.warehouse_conn(ctx.set.secondary)
  local out = {}
  for _, p in ipairs(pts) do
    local r = { table = p.table, source = p.source, version = p.source_version }
    local v = math.tointeger(p.source_version)
    local ok, e = pcall(function()
      local at = v and (" VERSION AS OF " .. v) or ""
      local pn = pconn:query("SELECT count(*) AS n FROM " .. q.name(p.source) .. at)[1].n
      local dn = dconn:query("SELECT count(*) AS n FROM " .. q.name(p.table))[1].n
      r.prod_rows, r.dr_rows = tonumber(pn), tonumber(dn)
      if r.prod_rows == r.dr_rows and r.prod_rows <= M.HASH_MAX_ROWS then
        local a = content(pconn, "SELECT * FROM " .. q.name(p.source) .. at)
        local b = content(dconn, "SELECT * FROM " .. q.name(p.table))
        r.prod_hash, r.dr_hash = a.hash:sub(1, 16), b.hash:sub(1, 16)
        r.ok = a.hash == b.hash
        if not r.ok then r.detail = "same row count, different content" end
      else
        r.ok = r.prod_rows == r.dr_rows
        r.detail = r.ok and ("row count only (more than " .. M.HASH_MAX_ROWS .. " rows)")
          or string.format("prod has %d rows at version %s, dr %d", r.prod_rows, tostring(v), r.dr_rows)
      end
    end)
    if not ok then r.ok, r.detail = false, errors.text(e) end
    out[#out + 1] = r
  end
  return out
end

--- metadata(ctx) -> { grants_pending, views_pending, other_pending, view_failures = {...}, ok }:
-- grants (through the principal mapping) and view definitions compared by a dry replication plan
-- (an action pending is a difference), and every replica view selected in dr.
function M.metadata(ctx)
  local m = { grants_pending = 0, views_pending = 0, other_pending = 0, view_failures = json.array({}) }
  local code, plan = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "plan", "--json" }, { unfenced = true })
  if code ~= 0 or not plan then
    m.ok, m.detail = false, "the replication plan could not be made (exit " .. tostring(code) .. ")"
    return m
  end
  m.actions = #(plan.actions or {})
  for _, a in ipairs(plan.actions or {}) do
    if a.phase == "grants" or a.phase == "owner" then m.grants_pending = m.grants_pending + 1
    elseif a.kind == "view" then m.views_pending = m.views_pending + 1
    else m.other_pending = m.other_pending + 1 end
  end
  local smoke = steps.smoke_check(ctx.set.secondary, steps.catalogs(ctx, ctx.set.secondary))
  for _, f in ipairs(smoke.failures) do m.view_failures[#m.view_failures + 1] = f end
  m.views = smoke.views
  m.ok = m.grants_pending == 0 and m.views_pending == 0 and #m.view_failures == 0
  return m
end

local function verify_lines(rows)
  local L = { string.format("%-40s %8s %10s %10s %-18s %s", "table", "version", "prod rows", "dr rows", "content", "result") }
  for _, r in ipairs(rows) do
    L[#L + 1] = string.format("%-40s %8s %10s %10s %-18s %s%s", r.table, tostring(r.version or "-"), tostring(r.prod_rows or "-"),
      tostring(r.dr_rows or "-"), r.prod_hash and (r.prod_hash == r.dr_hash and r.dr_hash or "DIFFERS") or "-",
      r.ok and "ok" or "MISMATCH", r.detail and (" (" .. r.detail .. ")") or "")
  end
  return L
end

function M.verify_cmd(ctx, o, out)
  local rows, why = M.verify(ctx)
  if not rows then
    errors.raise{ code = "VERIFY_FAILED", message = "cannot read dr's replication state: " .. tostring(why) }
  end
  local bad = 0
  for _, r in ipairs(rows) do if not r.ok then bad = bad + 1 end end
  local meta = M.metadata(ctx)
  if not meta.ok then bad = bad + 1 end
  if o.json then out(json.encode({ tables = json.array(rows), metadata = meta, mismatches = bad }))
  else
    for _, l in ipairs(verify_lines(rows)) do out(l) end
    out(string.format("grants and owners: %s; views: %d resolve, %s%s; other changes pending: %d",
      meta.grants_pending == 0 and "equal through the mapping" or (meta.grants_pending .. " difference(s)"),
      meta.views or 0, meta.views_pending == 0 and "definitions equal" or (meta.views_pending .. " definition(s) differ"),
      #meta.view_failures > 0 and ("; FAILING: " .. table.concat(meta.view_failures, "; ")) or "", meta.other_pending))
    out(string.format("verify: %d table(s), %d mismatch(es)", #rows, bad))
  end
  return bad > 0 and 3 or 0
end

-- ---- drill ---------------------------------------------------------------------------------------

-- Each check: name, fn(ctx) -> ok, detail. They run in this order; a failure does not stop the
-- others (the report lists every one).
local function check_topology(ctx)
  local v = regions.topology(ctx.set)
  ctx.view = v
  if v.conflict then return false, v.conflict end
  if v.active ~= ctx.set.primary.name then
    return false, v.active .. " is the active region (epoch " .. v.epoch .. "): a drill rehearses a failover from "
      .. ctx.set.primary.name .. "; fail back first"
  end
  return true, string.format("%s active, epoch %d, records agree", v.active, v.epoch)
end

local function check_reachable(ctx)
  local ok, d = ctx.set.secondary:probe()
  return ok, d
end

local function check_credentials(ctx)
  local ok, e = pcall(ctx.credential.token, ctx.credential, require("auth").DATABRICKS_SCOPE)
  return ok, ok and "a Databricks token for the replication identity" or errors.text(e)
end

local function check_catalogs(ctx)
  local sec = ctx.set.secondary
  local w = sec:workspaces()[1]
  if not w then return false, "dr has no workspaces in its deployment outputs" end
  local c = sec:client(w.url)
  local missing = {}
  local cats = steps.catalogs(ctx, sec)
  for _, cat in ipairs(cats) do
    if not c:get("/api/2.1/unity-catalog/catalogs/" .. cat) then missing[#missing + 1] = cat end
  end
  if #missing > 0 then return false, "not replicated into dr yet: " .. table.concat(missing, ", ") .. " (run replicate.lua dr sync)" end
  return true, #cats .. " catalog(s) present: " .. table.concat(cats, ", ")
end

local function check_warehouse(ctx)
  local sec = ctx.set.secondary
  local wh = (sec:outputs() or {}).warehouse_id
  if not wh then return false, "no warehouse_id in dr's deployment outputs" end
  local c = sec:client((sec:outputs() or {}).workspace_url)
  local w = c:get("/api/2.0/sql/warehouses/" .. wh)
  if not w then return false, "warehouse " .. wh .. " does not exist in dr" end
  if w.state == "STOPPED" then
    c:post("/api/2.0/sql/warehouses/" .. wh .. "/start", {})
    w = c:get("/api/2.0/sql/warehouses/" .. wh) or w
  end
  local ok = w.state == "RUNNING" or w.state == "STARTING"
  return ok, "warehouse " .. tostring(w.name) .. ": " .. tostring(w.state)
end

local function check_replication_job(ctx)
  local sec = ctx.set.secondary
  local out = sec:outputs() or {}
  if not out.job_id then return false, "no replication job in dr's deployment outputs (deploy dr)" end
  local c = sec:client(out.workspace_url)
  local job = c:get("/api/2.2/jobs/get", { job_id = tostring(out.job_id) })
  if not job then return false, "replication job " .. tostring(out.job_id) .. " does not exist in dr" end
  local sch = (job.settings or {}).schedule
  if not sch then return false, "the replication job has no schedule" end
  if (sch.pause_status or "UNPAUSED") ~= "UNPAUSED" then
    return false, "the replication job is paused: dr is not being kept in step"
  end
  return true, "replication job " .. tostring(out.job_id) .. " scheduled (" .. tostring(sch.quartz_cron_expression) .. ")"
end

local function check_parity(ctx)
  local parity = require("failover.parity")
  local prod, dr = ctx.set.primary, ctx.set.secondary
  local by = {}
  for _, w in ipairs(dr:workspaces()) do by[w.spoke] = w end
  local pairs_ = {}
  for _, w in ipairs(prod:workspaces()) do
    if by[w.spoke] then pairs_[#pairs_ + 1] = { spoke = w.spoke, prod = prod:client(w.url), dr = dr:client(by[w.spoke].url) } end
  end
  local findings = parity.compare_all(pairs_)
  ctx.parity = findings
  local n = parity.errors(findings)
  local first
  for _, f in ipairs(findings) do if f.severity == "error" then first = f; break end end
  if n > 0 then
    return false, string.format("%d finding(s); first: %s %s %s (%s)", n, first.spoke, first.kind, first.name, first.problem)
  end
  return true, string.format("dr mirrors prod over %d spoke(s)", #pairs_)
end

local function check_verify(ctx)
  local rows, why = M.verify(ctx)
  if not rows then return false, why end
  ctx.verify = rows
  local bad = {}
  for _, r in ipairs(rows) do if not r.ok then bad[#bad + 1] = r.table .. ": " .. tostring(r.detail) end end
  if #bad > 0 then return false, #bad .. " replica(s) differ: " .. table.concat(bad, "; ") end
  return true, #rows .. " replica(s) equal prod at their recorded versions"
end

local function check_smoke(ctx)
  local res = steps.smoke_check(ctx.set.secondary, steps.catalogs(ctx, ctx.set.secondary))
  if #res.failures > 0 then return false, table.concat(res.failures, "; ") end
  return true, string.format("%d catalog(s), %d table(s) counted, %d view(s) resolve", res.catalogs, res.tables, res.views)
end

M.CHECKS = {
  { "topology", check_topology }, { "dr_reachable", check_reachable }, { "credentials", check_credentials },
  { "catalogs_replicated", check_catalogs }, { "warehouse_starts", check_warehouse },
  { "replication_job", check_replication_job }, { "jobs_parity", check_parity }, { "verify", check_verify },
  { "smoke_queries", check_smoke },
}

-- The failover plan's steps, each timed as a dry run: what it reads to decide (nothing written).
local function scheduled_jobs(region)
  local n = 0
  for _, w in ipairs(region:workspaces()) do n = n + #require("failover.parity").standby_jobs(region:client(w.url)) end
  return n
end

local DRY = {
  freeze_source = function(ctx) return { jobs_to_pause = scheduled_jobs(ctx.set.primary) } end,
  final_sync = function(ctx)
    local code, res = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "plan", "--json" }, { unfenced = true })
    return { exit = code, actions = res and res.actions and #res.actions or nil }
  end,
  stop_replication = function(ctx) return { job_id = (ctx.set.secondary:outputs() or {}).job_id } end,
  commit_topology = function(ctx) return { epoch = regions.topology(ctx.set).epoch + 1 } end,
  open_target = function(ctx) return { catalogs = #steps.catalogs(ctx, ctx.set.secondary) } end,
  start_target_jobs = function(ctx) return { jobs_to_unpause = scheduled_jobs(ctx.set.secondary) } end,
  switch_entry = function(ctx) return { workspaces = #ctx.set.secondary:workspaces() } end,
  smoke = function() return { note = "timed by the smoke_queries check" } end,
}

function M.run(ctx, o, out)
  if o.full then return M.full(ctx, o, out) end
  local started_wall = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local t0 = mono()
  local checks = {}
  for _, c in ipairs(M.CHECKS) do
    local s = mono()
    local ok, good, detail = pcall(c[2], ctx)
    if not ok then good, detail = false, errors.text(good) end
    checks[#checks + 1] = { name = c[1], ok = good and true or false, detail = detail, seconds = mono() - s }
    ctx.progress(string.format("check %s: %s", c[1], good and "ok" or ("FAILED: " .. tostring(detail))))
  end
  -- the dry run of the failover plan
  local dry = {}
  for _, name in ipairs(steps.FAILOVER) do
    local s = mono()
    local ok, d = pcall(DRY[name], ctx)
    dry[#dry + 1] = { name = name, status = ok and "dry-run" or "failed", started = s, ended = mono(),
      seconds = mono() - s, reason = steps.reason(name, { from = ctx.set.primary.name, to = ctx.set.secondary.name,
        primary = ctx.set.primary.name, secondary = ctx.set.secondary.name }),
      detail = ok and d or nil, error = not ok and errors.text(d) or nil }
  end
  local prod_up = ctx.set.primary:probe()
  local rows, basis = require("failover.cli").lag(ctx, prod_up)
  local j = { id = tostring(os.time()), action = "drill", from = ctx.set.primary.name, to = ctx.set.secondary.name,
    epoch = ctx.view and ctx.view.epoch, started_at = started_wall, finished_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    steps = dry, started_mono = t0, finished_mono = mono() }
  local r = report.build(j, rows, { rpo_basis = basis })
  r.checks = json.array(checks)
  r.parity = ctx.parity and json.array((function() local l = {} for i, f in ipairs(ctx.parity) do l[i] = f end return l end)()) or nil
  r.verify = ctx.verify and json.array(ctx.verify) or nil
  local est = 0
  for _, s in ipairs(dry) do est = est + (s.seconds or 0) end
  r.rto.dry_run_s = est
  require("failover.cli").save_report(ctx, r)
  local failed = 0
  for _, c in ipairs(checks) do if not c.ok then failed = failed + 1 end end
  if o.json then out(json.encode(r)) else
    for _, l in ipairs(report.summary(r)) do out(l) end
    if ctx.verify then for _, l in ipairs(verify_lines(ctx.verify)) do out(l) end end
    out(string.format("drill: %d check(s), %d failed; dry run of the failover plan %s", #checks, failed, report.fmt_s(est)))
    if r.stored then out("report: " .. r.stored.path .. ".md in " .. table.concat(r.stored.regions, ", ") .. "'s state store") end
  end
  return failed > 0 and 3 or 0
end

--- drill --full: a real planned failover then failback (a test estate; say so in the runbook).
function M.full(ctx, o, out)
  local cli = require("failover.cli")
  local p = cli.plan(ctx, "failover")
  local code = cli.act(ctx, p, function(r) for _, l in ipairs(report.summary(r)) do out(l) end end)
  if code ~= 0 then return code end
  ctx.set = regions.load({ env = "dr", dir = o.env_dir, getenv = ctx.set.opts.getenv, credential = ctx.credential,
    stores = ctx.set.opts.stores })
  local p2 = cli.plan(ctx, "failback")
  return cli.act(ctx, p2, function(r) for _, l in ipairs(report.summary(r)) do out(l) end end)
end

return M
