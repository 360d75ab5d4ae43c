--- The steps of a failover and of a failback, each idempotent: running one again after a kill
-- converges to the same end state. A step is `fn(ctx, step) -> detail` and raises on failure;
-- the runner (failover.cli) times it and records it in the journal, so a second run resumes at
-- the first step not done. docs/failover.md says what each step does on Azure Databricks.
--
-- ctx: set (failover.regions), cfg (the replication config), from / to (Region), journal (table,
-- saved by ctx.save()), progress(fn), replicate(cfg, args) -> exit code, result; discard (set of
-- table names or "*"), forced (bool), view (topology view), now() -> seconds.
local errors = require("errors")
local json = require("json")
local parity = require("failover.parity")
local regions = require("failover.regions")
local topology = require("failover.topology")

local M = {}

local JOBS = "/api/2.2/jobs"
local UC = "/api/2.1/unity-catalog"

M.CONNECTIONS = "failover/connections.json"

M.FAILOVER = { "freeze_source", "final_sync", "stop_replication", "commit_topology", "open_target",
  "start_target_jobs", "switch_entry", "smoke" }
M.FAILBACK = { "fence_source", "divergence", "reverse_sync", "commit_topology", "open_target",
  "start_target_jobs", "passive_source", "switch_entry", "smoke", "resync" }

M.REASONS = {
  freeze_source = "stop writes in %s: pause its scheduled and continuous jobs, bind its replicated catalogs read-only",
  final_sync = "replicate %s -> %s one last time, so the recovery point is \"nothing lost\"",
  stop_replication = "pause %s's replication job and cancel its runs: nothing may clone into the new active region",
  commit_topology = "make %s the active region: a new epoch in both regions' topology records (the old one is fenced)",
  open_target = "bind %s's replicated catalogs read-write to its workspaces",
  start_target_jobs = "unpause the jobs %s holds paused for this moment (deployed paused, or paused by the freeze)",
  switch_entry = "point the entry point (connection map, DNS record when configured) at %s",
  smoke = "a query per catalog in %s, every view resolves",
  fence_source = "fence %s's writers: pause the jobs the failover started, bind its catalogs read-only",
  divergence = "find tables changed in %s after the failover point (they would be overwritten)",
  reverse_sync = "replicate %s -> %s with the same engine, reversed",
  resync = "replicate %s -> %s now, so the standby is current again (its job keeps it so from here)",
  passive_source = "return %s to standby: replication workspace read-write, others read-only, its replication job resumed",
}

-- Which regions each reason names, in its order (default: the region being made active).
local REASON_REGIONS = {
  freeze_source = { "from" }, fence_source = { "from" }, passive_source = { "from" },
  final_sync = { "from", "to" }, reverse_sync = { "from", "to" }, resync = { "primary", "secondary" },
  stop_replication = { "secondary" },
}

--- reason(name, names) -> the step's reason; names = { from =, to =, primary =, secondary = }
function M.reason(name, names)
  local args = {}
  for i, role in ipairs(REASON_REGIONS[name] or { "to" }) do args[i] = names[role] end
  return string.format(M.REASONS[name], table.unpack(args))
end

-- ---- helpers ------------------------------------------------------------------------------------

local function primary_ws(region)
  for _, w in ipairs(region:workspaces()) do if w.primary then return w end end
  return region:workspaces()[1]
end

local function client(region, w) return region:client(w.url) end

--- The replicated catalogs of a region: source names in the primary, target names in the secondary.
function M.catalogs(ctx, region)
  local list = {}
  for src, dst in pairs(ctx.cfg.catalogs) do
    list[#list + 1] = region.role == "primary" and src or dst
  end
  table.sort(list)
  return list
end

--- Jobs of a region's workspaces with a schedule/trigger/continuous block (drhost's own excluded).
local function jobs_of(region)
  local out = {}
  for _, w in ipairs(region:workspaces()) do
    for _, j in ipairs(parity.standby_jobs(client(region, w))) do
      out[#out + 1] = { spoke = w.spoke, url = w.url, job_id = j.job_id, name = j.name, fields = j.fields }
    end
  end
  return out
end

local function set_pause(c, job_id, want, only_fields)
  local job = c:get(JOBS .. "/get", { job_id = tostring(job_id) })
  if not job then return false end
  local s, changed = job.settings or {}, {}
  for _, f in ipairs({ "schedule", "trigger", "continuous" }) do
    if type(s[f]) == "table" and (not only_fields or only_fields[f]) and (s[f].pause_status or "UNPAUSED") ~= want then
      local block = {}
      for k, v in pairs(s[f]) do block[k] = v end
      block.pause_status = want
      changed[f] = block
    end
  end
  if next(changed) == nil then return false end
  c:post(JOBS .. "/update", { job_id = job_id, new_settings = changed })
  return true
end

--- pause(region, journal_key): pause every unpaused job; remember which (to undo exactly those).
local function pause_all(ctx, region, key)
  local j = ctx.journal
  j[key] = j[key] or {}
  local seen = {}
  for _, x in ipairs(j[key]) do seen[x.url .. "#" .. x.job_id] = true end
  local n = 0
  for _, job in ipairs(jobs_of(region)) do
    local on = {}
    for _, f in ipairs(job.fields) do if f.status == "UNPAUSED" then on[f.field] = true end end
    if next(on) then
      if not seen[job.url .. "#" .. job.job_id] then
        local fields = {}
        for f in pairs(on) do fields[#fields + 1] = f end
        table.sort(fields)
        j[key][#j[key] + 1] = { spoke = job.spoke, url = job.url, job_id = job.job_id, name = job.name, fields = fields }
        ctx.save()
      end
      set_pause(region:client(job.url), job.job_id, "PAUSED", on)
      n = n + 1
    end
  end
  return n
end

local function set_of(list)
  local s = {}
  for _, f in ipairs(list or {}) do s[f] = true end
  return s
end

--- bind(region, catalogs, mode): ISOLATED, and each workspace bound with mode(w) -> binding type.
local function bind(region, catalogs, mode)
  local pw = primary_ws(region)
  local c = client(region, pw)
  local add = {}
  for _, w in ipairs(region:workspaces()) do
    if w.workspace_id ~= "" then
      add[#add + 1] = { workspace_id = tonumber(w.workspace_id), binding_type = mode(w) }
    end
  end
  local done = {}
  for _, cat in ipairs(catalogs) do
    local info = c:get(UC .. "/catalogs/" .. cat)
    if info then
      if info.isolation_mode ~= "ISOLATED" then c:patch(UC .. "/catalogs/" .. cat, { isolation_mode = "ISOLATED" }) end
      c:patch(UC .. "/bindings/catalog/" .. cat, { add = add })
      done[#done + 1] = cat
    end
  end
  return done
end

local function read_only() return "BINDING_TYPE_READ_ONLY" end
local function read_write() return "BINDING_TYPE_READ_WRITE" end

local function warehouse_conn(region)
  local out = region:outputs() or {}
  local wh = out.warehouse_id
  if type(wh) ~= "string" or wh == "" then
    errors.raise{ code = "WAREHOUSE_NOT_FOUND", message = region.name .. "'s deployment outputs have no warehouse_id" }
  end
  return require("sql").connect{ workspace = client(region, primary_ws(region)), warehouse_id = wh, timeout = regions.CALL_TIMEOUT }
end
M.warehouse_conn = warehouse_conn

local function replication_job(ctx)
  local sec = ctx.set.secondary
  local out = sec:outputs() or {}
  return out.job_id, client(sec, primary_ws(sec))
end

-- ---- the steps ------------------------------------------------------------------------------------

local S = {}
M.STEPS = S

-- fence(ctx, region, key): its jobs paused (recorded under journal[key]), its catalogs read-only
local function fence_writers(ctx, region, key)
  local n = pause_all(ctx, region, key)
  local cats = bind(region, M.catalogs(ctx, region), read_only)
  return { jobs_paused = n, catalogs_read_only = cats }
end

function S.freeze_source(ctx) return fence_writers(ctx, ctx.from, "paused_in_source") end

--- failures_text(res) -> ": first failure; second..." from a replicate --json result
function M.failures_text(res)
  local list = {}
  for i, f in ipairs(res and res.failures or {}) do
    if i > 3 then list[#list + 1] = "..."; break end
    local text = tostring(f.error or f.message or f.reason or "")
    if #text > 160 then text = text:sub(1, 157) .. "..." end
    list[#list + 1] = tostring(f.object or f.name or "?") .. ": " .. text
  end
  return #list > 0 and (": " .. table.concat(list, "; ")) or ""
end

function S.final_sync(ctx)
  local code, res = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "sync", "--json" })
  if code ~= 0 then
    errors.raise{ code = "FINAL_SYNC_FAILED", message = "the final sync reported failures (exit " .. code .. ")"
      .. M.failures_text(res) .. "; "
      .. "fix them and run again, or fail over with --forced to accept the last replicated state" }
  end
  ctx.journal.final_sync_at = os.date("!%Y-%m-%dT%H:%M:%SZ")
  return { clones = res and #(res.clones or {}) or nil, statements = res and res.statements }
end

function S.stop_replication(ctx)
  local job_id, c = replication_job(ctx)
  if not job_id then return { note = "no replication job in the deployment outputs" } end
  local paused = set_pause(c, job_id, "PAUSED")
  local runs = c:get(JOBS .. "/runs/list", { job_id = tostring(job_id), active_only = "true" }) or {}
  local cancelled = 0
  for _, r in ipairs(runs.runs or {}) do
    c:post(JOBS .. "/runs/cancel", { run_id = r.run_id })
    cancelled = cancelled + 1
  end
  return { job_id = job_id, paused = paused, runs_cancelled = cancelled }
end

function S.commit_topology(ctx)
  local j = ctx.journal
  local rec = topology.next(ctx.view, ctx.to.name, { action = j.action, forced = j.forced or false,
    at = os.date("!%Y-%m-%dT%H:%M:%SZ"), by = j.by, journal = j.id })
  if j.epoch and ctx.view.epoch >= j.epoch then   -- resumed after the record was written
    rec.epoch = j.epoch
  end
  j.epoch = rec.epoch
  ctx.save()
  local res = regions.write_topology(ctx.set, rec)
  if res[ctx.to.name] ~= "written" then
    errors.raise{ code = "TOPOLOGY_WRITE_FAILED", message = "cannot write the topology record into " .. ctx.to.name
      .. "'s store: " .. tostring(res[ctx.to.name]) }
  end
  return { epoch = rec.epoch, active = rec.active, written = res }
end

function S.open_target(ctx)
  return { catalogs_read_write = bind(ctx.to, M.catalogs(ctx, ctx.to), read_write) }
end

function S.start_target_jobs(ctx)
  local j = ctx.journal
  local started = {}
  if ctx.to.role == "primary" then
    -- failback: exactly the jobs the freeze (or the fence on return) paused
    local list = {}
    for _, x in ipairs((ctx.previous or {}).paused_in_source or {}) do list[#list + 1] = x end
    for _, x in ipairs(j.paused_on_return or {}) do list[#list + 1] = x end
    for _, x in ipairs(list) do
      if set_pause(ctx.to:client(x.url), x.job_id, "UNPAUSED", set_of(x.fields)) then started[#started + 1] = x.name end
    end
  else
    j.unpaused_in_target = j.unpaused_in_target or {}
    for _, job in ipairs(jobs_of(ctx.to)) do
      local off = {}
      for _, f in ipairs(job.fields) do if f.status == "PAUSED" then off[#off + 1] = f.field end end
      if #off > 0 then
        j.unpaused_in_target[#j.unpaused_in_target + 1] = { spoke = job.spoke, url = job.url, job_id = job.job_id,
          name = job.name, fields = off }
        ctx.save()
        set_pause(ctx.to:client(job.url), job.job_id, "UNPAUSED", set_of(off))
        started[#started + 1] = job.name
      end
    end
  end
  table.sort(started)
  return { unpaused = started }
end

function S.switch_entry(ctx)
  local out = ctx.to:outputs() or {}
  local wh = out.warehouse_id
  local map = { format = "drhost-connections", active = ctx.to.name, epoch = ctx.journal.epoch,
    at = os.date("!%Y-%m-%dT%H:%M:%SZ"), workspaces = {} }
  for _, w in ipairs(ctx.to:workspaces()) do
    map.workspaces[w.spoke] = { url = w.url, workspace_id = w.workspace_id, warehouse_id = wh,
      http_path = wh and ("/sql/1.0/warehouses/" .. wh) or nil }
  end
  local written = {}
  for _, name in ipairs(ctx.set.names) do
    local ok, e = pcall(ctx.set[name].write_doc, ctx.set[name], M.CONNECTIONS, map)
    written[name] = ok and "written" or errors.text(e)
  end
  if written[ctx.to.name] ~= "written" then
    errors.raise{ code = "ENTRY_POINT_FAILED", message = "cannot write the connection map in " .. ctx.to.name .. ": "
      .. tostring(written[ctx.to.name]) }
  end
  return { connections = written, dns = M.point_dns(ctx, ctx.to) }
end

--- point_dns(ctx, region) -> "fqdn -> host" | nil: the entry point's CNAME (named by the primary's
-- env file; Azure DNS is a global service, so this works while a region is down) now names the
-- region's replication workspace.
function M.point_dns(ctx, region)
  local ep = ctx.set.primary.env.entry_point
  if not ep then return nil end
  local w = primary_ws(region)
  local host = w.url:gsub("^https?://", ""):gsub("[:/].*$", "")
  local sub = ep.zone_id:match("^/subscriptions/([^/]+)/")
  local arm = require("azure").client{ credential = ctx.credential, subscription_id = sub, request_timeout = regions.CALL_TIMEOUT }
  local id = ep.zone_id .. "/CNAME/" .. ep.record
  arm:put(id, "2018-05-01", { properties = { TTL = ep.ttl or 60, CNAMERecord = { cname = host } } })
  return ep.record .. "." .. ep.zone_id:match("([^/]+)$") .. " -> " .. host
end

--- smoke(region, catalogs) -> { catalogs = n, tables = n, views = n, failures = {...} } (no raise)
function M.smoke_check(region, catalogs)
  local conn = warehouse_conn(region)
  local res = { catalogs = 0, tables = 0, views = 0, failures = {} }
  for _, cat in ipairs(catalogs) do
    local ok, rows = pcall(conn.query, conn, "SELECT table_schema, table_name, table_type FROM "
      .. cat .. ".information_schema.tables WHERE table_schema <> 'information_schema' ORDER BY 1, 2")
    if not ok then
      res.failures[#res.failures + 1] = cat .. ": " .. errors.text(rows)
    else
      res.catalogs = res.catalogs + 1
      local stmts, names = {}, {}
      for _, r in ipairs(rows) do
        local full = cat .. "." .. r.table_schema .. "." .. r.table_name
        local view = tostring(r.table_type):find("VIEW") ~= nil
        if view then res.views = res.views + 1 else res.tables = res.tables + 1 end
        stmts[#stmts + 1] = { (view and "SELECT * FROM " or "SELECT count(*) AS n FROM ") .. full .. (view and " LIMIT 1" or "") }
        names[#names + 1] = full
      end
      for i, r in ipairs(#stmts > 0 and conn:many(stmts) or {}) do
        if r.error then res.failures[#res.failures + 1] = names[i] .. ": " .. errors.text(r.error) end
      end
    end
  end
  return res
end

function S.smoke(ctx)
  local res = M.smoke_check(ctx.to, M.catalogs(ctx, ctx.to))
  if #res.failures > 0 then
    errors.raise{ code = "SMOKE_FAILED", message = #res.failures .. " smoke check(s) failed in " .. ctx.to.name
      .. ": " .. table.concat(res.failures, "; "), details = res }
  end
  return res
end

-- failback ------------------------------------------------------------------------------------------

-- the jobs the failover unpaused, and any other job someone started meanwhile
function S.fence_source(ctx) return fence_writers(ctx, ctx.from, "paused_in_source") end

--- divergence(ctx) -> tables changed in the primary after the failover point: the forward status
-- (primary -> secondary) lists, per table, the primary's version now and the one dr last cloned.
function M.divergence(ctx)
  local code, res = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "status", "--json" }, { unfenced = true })
  if code ~= 0 or not res then
    errors.raise{ code = "DIVERGENCE_UNKNOWN", message = "cannot read " .. ctx.set.primary.name
      .. "'s table versions (status exit " .. tostring(code) .. ")" }
  end
  local changed = {}
  for _, t in ipairs(res.tables or {}) do
    if t.state == "behind" and t.cloned_version ~= nil then
      changed[#changed + 1] = { table = t.source, version_at_failover = t.cloned_version, version_now = t.source_version }
    end
  end
  table.sort(changed, function(a, b) return a.table < b.table end)
  return changed
end

function S.divergence(ctx)
  local changed = M.divergence(ctx)
  ctx.journal.divergent = changed
  local refused = {}
  for _, c in ipairs(changed) do
    if not (ctx.discard["*"] or ctx.discard[c.table]) then refused[#refused + 1] = c end
  end
  if #refused > 0 then
    local names = {}
    for i, c in ipairs(refused) do
      names[i] = string.format("%s (version %s at the failover, %s now)", c.table, tostring(c.version_at_failover),
        tostring(c.version_now))
    end
    errors.raise{ code = "DIVERGED", user = true, exit = 4, details = { tables = refused },
      message = #refused .. " table(s) changed in " .. ctx.to.name .. " after the failover point and would be "
        .. "overwritten by dr's data: " .. table.concat(names, ", ") .. ". Save what you need, then run again "
        .. "with --discard-prod-changes naming them (comma-separated, or '*')." }
  end
  return { divergent = #changed, discarded = #changed }
end

--- reversed(cfg, set) -> the replication config for secondary -> primary (failback).
function M.reversed(cfg, set)
  local util = require("replicate.util")
  local rev = util.copy(cfg)
  local prim, sec = set.primary.name, set.secondary.name
  rev.source, rev.target = { env = sec }, { env = prim }
  rev.catalogs, rev.storage = {}, {}
  for s, d in pairs(cfg.catalogs) do rev.catalogs[d] = s end
  for s, d in pairs(cfg.storage or {}) do rev.storage[d] = s end
  rev.principals = util.copy(cfg.principals or {})
  rev.principals.map = {}
  for s, d in pairs((cfg.principals or {}).map or {}) do rev.principals.map[d] = s end
  rev.sharing = util.copy(cfg.sharing)
  rev.sharing.recipient = M.reverse_recipient(prim)
  rev.sharing.share_prefix = "drhost_" .. prim
  rev.sharing.catalog_prefix = "drhost_" .. sec .. "_src"
  rev.sharing.provider = nil
  if rev.state and rev.state.managed_location then
    local loc = rev.state.managed_location
    for from_prefix, to_prefix in pairs(rev.storage) do
      local f = from_prefix:gsub("/+$", "")
      if loc:sub(1, #f) == f then rev.state.managed_location = to_prefix:gsub("/+$", "") .. loc:sub(#f + 1) end
    end
  end
  rev.hooks = {}   -- hooks are written for prod -> dr
  rev.file = nil
  return require("replicate.config").validate(rev, tostring(cfg.file) .. " (reversed for failback)")
end

--- The recipient in the secondary's metastore for the primary's (the deployment of dr creates it).
function M.reverse_recipient(primary_name) return "drhost_" .. primary_name end

function S.reverse_sync(ctx)
  -- the primary's replication workspace writes the clones; every other workspace stays read-only
  bind(ctx.to, M.catalogs(ctx, ctx.to), function(w) return w.primary and "BINDING_TYPE_READ_WRITE" or "BINDING_TYPE_READ_ONLY" end)
  local rev = M.reversed(ctx.cfg, ctx.set)
  -- tables changed in the primary after the failover point (and discarded by the operator): their
  -- reverse-replication record goes, so the sync clones dr's data over them whatever it recorded
  local forget = {}
  for _, c in ipairs(ctx.journal.divergent or {}) do forget[#forget + 1] = c.table end
  if #forget > 0 then
    local q = require("replicate.sqltext")
    local st = rev.state
    local names, params = {}, {}
    for i, t in ipairs(forget) do names[i] = ":t" .. i; params["t" .. i] = t end
    local conn = warehouse_conn(ctx.to)
    local ok, e = pcall(conn.exec, conn, "DELETE FROM " .. q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
      .. " WHERE object IN (" .. table.concat(names, ", ") .. ")", params)
    if not ok and not require("replicate.inventory").is_missing(e) then error(e, 0) end
  end
  local code, res = ctx.replicate(rev, { ctx.to.name, "sync", "--json" })
  if code ~= 0 then
    errors.raise{ code = "REVERSE_SYNC_FAILED", message = "the reverse sync " .. ctx.from.name .. " -> " .. ctx.to.name
      .. " reported failures (exit " .. code .. ")" .. M.failures_text(res) .. "; fix them and run failback again (it resumes here)" }
  end
  return { clones = res and #(res.clones or {}) or nil, statements = res and res.statements, overwritten = #forget }
end

function S.passive_source(ctx)
  -- the secondary again: replication workspace read-write, workloads read-only, jobs re-paused
  local fo = ctx.previous or {}
  local repaused = {}
  for _, x in ipairs(fo.unpaused_in_target or {}) do
    if set_pause(ctx.from:client(x.url), x.job_id, "PAUSED", set_of(x.fields)) then repaused[#repaused + 1] = x.name end
  end
  local cats = bind(ctx.from, M.catalogs(ctx, ctx.from),
    function(w) return w.primary and "BINDING_TYPE_READ_WRITE" or "BINDING_TYPE_READ_ONLY" end)
  local job_id, c = replication_job(ctx)
  local resumed = job_id and set_pause(c, job_id, "UNPAUSED") or false
  return { catalogs = cats, replication_job_resumed = resumed, repaused = repaused }
end

function S.resync(ctx)
  local code, res = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "sync", "--json" })
  if code ~= 0 then
    errors.raise{ code = "RESYNC_FAILED", message = "the forward sync " .. ctx.to.name .. " -> " .. ctx.from.name
      .. " reported failures (exit " .. code .. ")" .. M.failures_text(res) .. "; prod is active, dr's job retries on schedule" }
  end
  return { clones = res and #(res.clones or {}) or nil, statements = res and res.statements }
end

-- ---- fencing a region that comes back -----------------------------------------------------------

--- fence(set, region, view, cfg) -> detail: a stale region (lower epoch) that answers again is
-- stopped before anything else runs there: jobs paused, catalogs read-only, the record updated.
function M.fence(ctx, region)
  local d = fence_writers(ctx, region, "paused_on_return")
  d.topology = regions.write_topology(ctx.set, ctx.view.record, { region.name })[region.name]
  return d
end

function M.json(v) return json.encode(v) end

return M
