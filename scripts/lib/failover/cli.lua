--- drhost scripts/failover.lua: status, failover, failback, drill, verify, fence (docs/failover.md).
-- Plans are data (plan -out FILE, apply FILE, --json); every action is a list of timed,
-- idempotent steps recorded in a journal, so a run killed half-way resumes where it stopped.
local errors = require("errors")
local json = require("json")
local regions = require("failover.regions")
local topology = require("failover.topology")
local steps = require("failover.steps")
local report = require("failover.report")

local M = {}

M.USAGE = [[
usage: drhost scripts/failover.lua COMMAND [options]
  status [--json]                   active region and epoch, reachability, replication lag per table, dr jobs
  plan failover|failback [-out FILE] [--forced] [--discard-prod-changes T,...] [--json]
  apply FILE [--json]               run a saved plan (refused when the topology moved since)
  failover [--forced] [--json]      make dr the active region (planned: prod answers; --forced: it does not)
  failback [--discard-prod-changes T,...|'*'] [--json]
                                    reverse-replicate dr -> prod, then make prod active again
  drill [--full] [--json]           rehearse in dr without moving traffic (--full: a real failover + failback)
  verify [--json]                   dr's replicas against prod at the versions dr recorded
  fence                             fence a region that came back with an old epoch
  report failover|failback|drill    print the newest report of that kind (markdown, from the state stores)
options: --env-dir DIR (default env)   --config FILE (the replication config; default dr's)
exit: 0 ok; 1 a step or check failed (run the same command again to resume); 2 usage;
      3 status beyond rpo_target, or a drill/verify check failed; 4 refused (topology, divergence, region down)]]

M.EXIT = { ok = 0, failed = 1, usage = 2, check = 3, refused = 4 }

local JOURNAL = "failover/journal-%s.json"
local REPORTS = "failover/reports/"

local function now_iso() return os.date("!%Y-%m-%dT%H:%M:%SZ") end
local function mono() return require("http").now() end

-- ---- command line -------------------------------------------------------------------------------

function M.parse(args)
  local o = { discard = {} }
  local pos = {}
  local i = 1
  local function value(flag)
    i = i + 1
    if args[i] == nil then errors.raise("USAGE", flag .. " needs a value") end
    return args[i]
  end
  while i <= #args do
    local a = args[i]
    if a == "--json" then o.json = true
    elseif a == "--forced" or a == "--force" then o.forced = true
    elseif a == "--full" then o.full = true
    elseif a == "-out" or a == "--out" then o.out = value(a)
    elseif a == "--config" then o.config = value(a)
    elseif a == "--env-dir" then o.env_dir = value(a)
    elseif a == "--discard-prod-changes" then
      for t in value(a):gmatch("[^,%s]+") do o.discard[t:lower()] = true end
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 1) == "-" then errors.raise("USAGE", "unknown option " .. a)
    else pos[#pos + 1] = a end
    i = i + 1
  end
  o.command = pos[1]
  if o.help then return o end
  local arity = { status = 0, plan = 1, apply = 1, failover = 0, failback = 0, drill = 0, verify = 0, fence = 0,
    report = 1 }
  if not o.command or not arity[o.command] then
    errors.raise("USAGE", "unknown or missing COMMAND " .. tostring(o.command))
  end
  if #pos - 1 ~= arity[o.command] then
    errors.raise("USAGE", o.command .. (arity[o.command] == 0 and " takes no argument" or " needs one argument"))
  end
  if o.command == "plan" then
    o.action = pos[2]
    if o.action ~= "failover" and o.action ~= "failback" then
      errors.raise("USAGE", "plan failover | plan failback, got plan " .. tostring(o.action))
    end
  elseif o.command == "failover" or o.command == "failback" then
    o.action = o.command
  end
  if o.command == "apply" then o.file = pos[2] end
  if o.command == "report" then
    o.kind = pos[2]
    if o.kind ~= "failover" and o.kind ~= "failback" and o.kind ~= "drill" then
      errors.raise("USAGE", "report failover | report failback | report drill, got report " .. tostring(o.kind))
    end
  end
  if o.forced and o.action ~= "failover" then errors.raise("USAGE", "--forced applies to failover only") end
  if next(o.discard) and o.action ~= "failback" then errors.raise("USAGE", "--discard-prod-changes applies to failback only") end
  if o.full and o.command ~= "drill" then errors.raise("USAGE", "--full applies to drill only") end
  return o
end

-- ---- context ------------------------------------------------------------------------------------

local function capture_replicate(credential, progress)
  return function(cfg, args, ropts)
    local lines = {}
    local rcli = require("replicate.cli")
    local code = rcli.main(args, { config = cfg, credential = credential, unfenced = ropts and ropts.unfenced,
      stdout = function(s) lines[#lines + 1] = s end, stderr = progress })
    local ok, res = pcall(json.decode, table.concat(lines, "\n"))
    return code, ok and type(res) == "table" and res or nil
  end
end

--- context(o, opts) -> ctx: regions, replication config, credential, progress.
function M.context(o, opts)
  opts = opts or {}
  local ctx = { o = o, discard = o.discard or {}, forced = o.forced, journal = {}, t0 = mono() }
  ctx.progress = opts.progress or function(s) io.stderr:write("failover: ", s, "\n") end
  ctx.credential = opts.credential or require("auth").from_env()
  ctx.set = regions.load({ env = "dr", dir = o.env_dir, getenv = opts.getenv, credential = ctx.credential,
    stores = opts.stores })
  local rcli = require("replicate.cli")
  local cfg_path = rcli.config_path({ env = ctx.set.secondary.name, config = o.config })
  ctx.cfg = require("replicate.config").load(cfg_path)
  ctx.replicate = opts.replicate or capture_replicate(ctx.credential, function(s) ctx.progress(s) end)
  return ctx
end

-- ---- lag and recovery point ----------------------------------------------------------------------

--- replica_points(ctx) -> rows {table, source, source_version, source_commit_ts, cloned_at} read from
-- the secondary's replication state table (what each replica reflects), or nil + why.
function M.replica_points(ctx)
  local st = ctx.cfg.state
  local ok, conn = pcall(steps.warehouse_conn, ctx.set.secondary)
  if not ok then return nil, errors.text(conn) end
  local q = require("replicate.sqltext")
  local rok, rows = pcall(conn.query, conn, "SELECT object, source, source_version, source_commit_ts, cloned_at FROM "
    .. q.name(st.catalog .. "." .. st.schema .. "." .. st.table) .. " ORDER BY object")
  if not rok then return nil, errors.text(rows) end
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = { table = r.object, source = r.source, source_version = tonumber(r.source_version),
      source_commit_ts = r.source_commit_ts, cloned_at = r.cloned_at }
  end
  return out
end

--- lag(ctx) -> rows {table, state, rpo_s, ...}, basis: per table how far dr is behind prod now.
-- With prod answering: the replication status (0 for a table in sync, else now minus the commit
-- its replica reflects). Without: now minus that commit for every table (an upper bound).
function M.lag(ctx, prod_up, label)
  local now = os.time()
  if prod_up then
    local code, res = ctx.replicate(ctx.cfg, { ctx.set.secondary.name, "status", "--json" }, { unfenced = true })
    if code == 0 and res then
      local rows = {}
      for _, t in ipairs(res.tables or {}) do
        rows[#rows + 1] = { table = t.object, source = t.source, state = t.state, rpo_s = t.lag_s,
          source_version = t.source_version, cloned_version = t.cloned_version }
      end
      return rows, "replication status: 0 when in sync, else now minus the last replicated commit"
    end
  end
  local pts, why = M.replica_points(ctx)
  if not pts then return {}, "unknown: " .. tostring(why) end
  for _, p in ipairs(pts) do
    local t = report.epoch(p.source_commit_ts)
    p.rpo_s = t and math.max(0, now - t) or nil
    p.state = label or "unknown (prod unreachable)"
  end
  return pts, "prod unreachable: now minus the source commit each replica reflects (an upper bound)"
end

-- ---- journal ------------------------------------------------------------------------------------

local function journal_path(action) return string.format(JOURNAL, action) end

local function read_journal(region, action)
  local j, why = region:read_doc(journal_path(action))
  if j == nil then return nil, why end
  return j or nil
end

--- who() -> "user@host" (and the CI run) for the journal and the topology record
function M.who()
  local user = os.getenv("USER") or os.getenv("GITHUB_ACTOR") or "unknown"
  local host = os.getenv("HOSTNAME")
  local run = os.getenv("GITHUB_RUN_ID")
  return user .. (host and host ~= "" and ("@" .. host) or "") .. (run and (" (CI run " .. run .. ")") or "")
end

local function new_id()
  local ok, crypto = pcall(require, "crypto")
  return ok and crypto.uuid4 and crypto.uuid4():sub(1, 8) or tostring(os.time())
end

-- ---- planning ------------------------------------------------------------------------------------

--- plan(ctx, action) -> plan {action, forced, from, to, epoch_before, steps = {{name, reason, skip}}}
-- or raises REFUSED (exit 4) with the reason.
function M.plan(ctx, action)
  local set = ctx.set
  local view = regions.topology(set)
  ctx.view = view
  local prim, sec = set.primary, set.secondary
  local tr, why = topology.transition(view, action, prim.name, sec.name)
  if not tr then errors.raise{ code = "REFUSED", user = true, exit = 4, message = action .. " refused: " .. why } end
  local from, to = set[tr.from], set[tr.to]
  local from_up, from_detail = from:probe()
  local to_up, to_detail = to:probe()
  if not to_up then
    errors.raise{ code = "REFUSED", user = true, exit = 4, message = string.format(
      "%s refused: %s, the region to make active, does not answer (%s)", action, to.name, to_detail) }
  end
  local forced = ctx.forced or false
  if action == "failover" and not from_up and not forced then
    errors.raise{ code = "REFUSED", user = true, exit = 4, message = string.format(
      "failover refused: %s does not answer (%s). If it is down, run `failover --forced`: dr then takes over "
      .. "from the last replicated state, and %s is fenced when it comes back.", from.name, from_detail, from.name) }
  end
  if action == "failback" and not from_up then
    errors.raise{ code = "REFUSED", user = true, exit = 4, message = string.format(
      "failback refused: %s (the active region) does not answer (%s)", from.name, from_detail) }
  end
  local list = {}
  local names = action == "failover" and steps.FAILOVER or steps.FAILBACK
  if action == "failback" then
    for _, s in ipairs(view.stale) do
      if s == to.name then
        list[#list + 1] = { name = "fence_returned", reason = to.name .. " holds an older epoch (it was down during a "
          .. "forced failover): pause its jobs, bind its catalogs read-only, update its topology record" }
      end
    end
  end
  for _, n in ipairs(names) do
    local s = { name = n, reason = steps.reason(n, { from = from.name, to = to.name, primary = prim.name,
      secondary = sec.name }) }
    if action == "failover" and not from_up and (n == "freeze_source" or n == "final_sync") then
      s.skip = from.name .. " does not answer (forced failover): it is fenced when it comes back"
    elseif action == "failover" and forced and n == "final_sync" then
      s.skip = "forced: dr takes over from the last replicated state"
    end
    list[#list + 1] = s
  end
  return { format = "drhost-failover-plan", action = action, forced = forced, from = from.name, to = to.name,
    epoch_before = view.epoch, active_before = view.active, made_at = now_iso(),
    reachable = { [from.name] = from_up, [to.name] = to_up },
    probe = { [from.name] = from_detail, [to.name] = to_detail },
    discard = (function() local l = {} for k in pairs(ctx.discard) do l[#l + 1] = k end table.sort(l) return json.array(l) end)(),
    steps = list }
end

function M.plan_lines(p)
  local L = { string.format("%s %s -> %s (%s; epoch %d -> %d)", p.action, p.from, p.to,
    p.forced and "forced" or "planned", p.epoch_before, p.epoch_before + 1) }
  for i, s in ipairs(p.steps) do
    L[#L + 1] = string.format("  %d. %-18s %s%s", i, s.name, s.skip and "SKIP: " or "", s.skip or s.reason)
  end
  return L
end

-- ---- running --------------------------------------------------------------------------------------

local function run_step(ctx, s)
  if s.name == "fence_returned" then return steps.fence(ctx, ctx.to) end
  return steps.STEPS[s.name](ctx, s)
end

--- execute(ctx, plan, journal) -> report, failed_step (nil when every step is done)
function M.execute(ctx, p, j)
  local set = ctx.set
  ctx.from, ctx.to = set[p.from], set[p.to]
  ctx.journal = j
  local target = ctx.to
  ctx.save = function()
    local ok, e = pcall(target.write_doc, target, journal_path(p.action), j)
    if not ok then
      errors.raise{ code = "JOURNAL_WRITE_FAILED", message = "cannot record progress in " .. target.name .. "'s store: "
        .. errors.text(e) }
    end
  end
  if p.action == "failback" then
    ctx.previous = read_journal(set.secondary, "failover") or read_journal(set.primary, "failover") or {}
  end
  j.started_mono = j.started_mono or ctx.t0 or mono()
  local by_name = {}
  for _, s in ipairs(j.steps) do by_name[s.name] = s end
  local failed
  for _, ps in ipairs(p.steps) do
    local s = by_name[ps.name]
    if not s then
      s = { name = ps.name, reason = ps.reason, status = "pending" }
      j.steps[#j.steps + 1] = s
      by_name[ps.name] = s
    end
    if s.status ~= "done" and s.status ~= "skipped" then
      if ps.skip then
        s.status, s.detail, s.seconds = "skipped", ps.skip, 0
        s.started, s.ended = mono(), mono()
      else
        ctx.progress(ps.name .. ": " .. ps.reason)
        s.started, s.error = mono(), nil
        local ok, detail = pcall(run_step, ctx, ps)
        s.ended = mono()
        s.seconds = s.ended - s.started
        if ok then s.status, s.detail = "done", detail
        else
          s.status, s.error = "failed", errors.text(detail)
          s.exit = type(detail) == "table" and detail.exit or nil
          failed = s
        end
      end
      ctx.save()
      if failed then break end
    end
  end
  if not failed then
    j.finished_at = now_iso()
    j.finished_mono = mono()
  end
  local rows, basis
  if p.action == "failover" then
    if ctx.journal.final_sync_at then
      rows, basis = {}, "planned failover after a final sync of a frozen prod: nothing lost"
      local pts = M.replica_points(ctx) or {}
      for _, r in ipairs(pts) do rows[#rows + 1] = { table = r.table, source_commit_ts = r.source_commit_ts, rpo_s = 0 } end
    else
      rows, basis = M.lag(ctx, false)
    end
  else
    rows, basis = {}, "failback: the reverse sync copies every change made in dr"
  end
  local r = report.build(j, rows, { rpo_basis = basis })
  if not failed then
    ctx.save()
    M.save_report(ctx, r)
  end
  return r, failed
end

function M.save_report(ctx, r)
  local base = REPORTS .. r.action .. "-" .. os.date("!%Y%m%dT%H%M%SZ") .. "-" .. tostring(r.id)
  local stored = {}
  for _, name in ipairs(ctx.set.names) do
    local store = ctx.set[name]:store()
    if store then
      local ok = pcall(function()
        store:write(base .. ".json", json.encode(r))
        store:write(base .. ".md", report.markdown(r))
      end)
      if ok then stored[#stored + 1] = name end
    end
  end
  r.stored = { path = base, regions = stored }
  for _, name in ipairs(stored) do
    pcall(function() ctx.set[name]:store():write(REPORTS .. "latest-" .. r.action .. ".md", report.markdown(r)) end)
  end
  return base
end

--- unfinished(ctx, action) -> the journal of an unfinished run of action that the topology still
-- matches (before its new epoch, or at it), or nil.
function M.unfinished(ctx, action)
  local set = ctx.set
  local to = action == "failover" and set.secondary or set.primary
  local j = read_journal(to, action)
  if not j or j.finished_at then return nil end
  local view = ctx.view or regions.topology(set)
  if view.epoch == j.epoch_before or (j.epoch and view.epoch == j.epoch and view.active == j.to) then return j end
  return nil
end

--- act(ctx, p, out, j) -> exit code: run a plan (or resume journal j), print the report.
function M.act(ctx, p, out, j)
  if j then
    ctx.progress(string.format("resuming %s %s (started %s)", j.action, tostring(j.id), tostring(j.started_at)))
    p = j.plan
    ctx.forced = j.forced
  else
    j = { id = new_id(), action = p.action, forced = p.forced, from = p.from, to = p.to, started_at = now_iso(),
      epoch_before = p.epoch_before, by = M.who(), plan = p, steps = {} }
  end
  local r, failed = M.execute(ctx, p, j)
  out(r, failed)
  if failed then return failed.exit or M.EXIT.failed end
  return M.EXIT.ok
end

-- ---- status ---------------------------------------------------------------------------------------

function M.status(ctx)
  local set = ctx.set
  local view = regions.topology(set)
  local st = { active = view.active, epoch = view.epoch, conflict = view.conflict, stale = view.stale,
    record = view.record, regions = {}, errors = view.errors }
  local up = {}
  for _, name in ipairs(set.names) do
    local ok, detail = set[name]:probe()
    up[name] = ok
    st.regions[#st.regions + 1] = { name = name, role = set[name].role, reachable = ok, detail = detail,
      probe_ms = set[name].probe_ms, epoch = view.records[name] and view.records[name].epoch or nil,
      active = name == view.active }
  end
  local rows, basis = M.lag(ctx, up[set.primary.name] and view.active == set.primary.name,
    view.active ~= set.primary.name and "replica" or nil)
  if view.active ~= set.primary.name then
    basis = view.active .. " is the active region: forward replication is stopped; the age of each replica's source commit"
  end
  st.lag = { tables = json.array(rows), basis = basis }
  local s = report.rpo_stats(rows)
  st.lag.worst_s, st.lag.median_s = s.worst, s.median
  st.rpo_target_s = set.secondary.env.rpo_target
  st.jobs = json.array({})
  if up[set.secondary.name] then
    for _, w in ipairs(set.secondary:workspaces()) do
      local ok, jobs = pcall(require("failover.parity").standby_jobs, set.secondary:client(w.url))
      for _, jb in ipairs(ok and jobs or {}) do
        for _, f in ipairs(jb.fields) do
          st.jobs[#st.jobs + 1] = { spoke = w.spoke, name = jb.name, job_id = jb.job_id, trigger = f.field, pause_status = f.status }
        end
      end
    end
    local out = set.secondary:outputs() or {}
    if out.job_id then
      local c = set.secondary:client(out.workspace_url)
      local okj, job = pcall(c.get, c, "/api/2.2/jobs/get", { job_id = tostring(out.job_id) })
      local sch = okj and job and job.settings and job.settings.schedule
      st.replication_job = { job_id = out.job_id, pause_status = sch and (sch.pause_status or "UNPAUSED") or "unknown" }
    end
  end
  return st
end

function M.status_lines(st)
  local L = {}
  L[#L + 1] = string.format("active region: %s (epoch %d%s)", st.active, st.epoch,
    st.record and st.record.at and (", since " .. st.record.at .. " by " .. tostring(st.record.action)) or "")
  if st.conflict then L[#L + 1] = "CONFLICT: " .. st.conflict end
  for _, s in ipairs(st.stale or {}) do L[#L + 1] = "STALE: " .. s .. " holds an older epoch: run `failover.lua fence`" end
  for _, r in ipairs(st.regions) do
    L[#L + 1] = string.format("  %-6s %-9s %-11s epoch %-3s %s", r.name, r.role, r.reachable and "reachable" or "UNREACHABLE",
      tostring(r.epoch or "-"), r.detail or "")
  end
  L[#L + 1] = string.format("replication lag: worst %s, median %s over %d table(s) (%s)%s", report.fmt_s(st.lag.worst_s),
    report.fmt_s(st.lag.median_s), #st.lag.tables, st.lag.basis,
    st.rpo_target_s and (", target " .. report.fmt_s(st.rpo_target_s)) or "")
  for _, t in ipairs(st.lag.tables) do
    L[#L + 1] = string.format("  %-40s %-10s %s", t.table, tostring(t.state or ""), report.fmt_s(t.rpo_s))
  end
  if st.replication_job then
    L[#L + 1] = string.format("replication job %s: %s", tostring(st.replication_job.job_id), st.replication_job.pause_status)
  end
  for _, jb in ipairs(st.jobs) do
    L[#L + 1] = string.format("  dr job %-28s %-10s %s (%s)", jb.name, jb.trigger, jb.pause_status, jb.spoke)
  end
  return L
end

-- ---- main -----------------------------------------------------------------------------------------

function M.main(args, opts)
  opts = opts or {}
  local out = opts.stdout or function(s) io.stdout:write(s, "\n") end
  local o = M.parse(args)
  if o.help then out(M.USAGE); return 0 end
  local plan_file
  if o.command == "apply" then
    local f, e = io.open(o.file, "r")
    if not f then errors.raise{ code = "PLAN_NOT_FOUND", message = "cannot read plan " .. o.file .. ": " .. tostring(e) } end
    local ok, p = pcall(json.decode, f:read("a"))
    f:close()
    if not ok or type(p) ~= "table" or p.format ~= "drhost-failover-plan" then
      errors.raise{ code = "PLAN_INVALID", message = o.file .. " is not a failover plan (saved with plan -out)" }
    end
    plan_file = p
    o.action, o.forced = p.action, p.forced
    for _, t in ipairs(p.discard or {}) do o.discard[t] = true end
  end
  local ctx = M.context(o, opts)
  local function emit_report(r, failed)
    if o.json then out(json.encode(r)) else
      for _, l in ipairs(report.summary(r)) do out(l) end
      if failed then out(string.format("%s stopped at step %s: %s\nrun the same command again to resume there.",
        r.action, failed.name, failed.error)) end
      if r.stored then out("report: " .. r.stored.path .. ".md in " .. table.concat(r.stored.regions, ", ") .. "'s state store") end
    end
  end

  if o.command == "status" then
    local st = M.status(ctx)
    if o.json then out(json.encode(st)) else for _, l in ipairs(M.status_lines(st)) do out(l) end end
    if st.conflict then return M.EXIT.refused end
    if st.rpo_target_s and st.lag.worst_s and st.lag.worst_s > st.rpo_target_s then return M.EXIT.check end
    return M.EXIT.ok
  elseif o.command == "fence" then
    ctx.view = regions.topology(ctx.set)
    ctx.journal, ctx.save = {}, function() end
    local n = 0
    for _, name in ipairs(ctx.view.stale) do
      local r = ctx.set[name]
      if r:probe() then
        local d = steps.fence(ctx, r)
        out(name .. " fenced: " .. report.detail_text(d))
        n = n + 1
      else out(name .. " is stale but does not answer: fence it when it does") end
    end
    if n == 0 and #ctx.view.stale == 0 then out("nothing to fence: every region holds epoch " .. ctx.view.epoch) end
    return M.EXIT.ok
  elseif o.command == "report" then
    for _, name in ipairs({ ctx.set.secondary.name, ctx.set.primary.name }) do
      local store = ctx.set[name]:store()
      local ok, body = pcall(function() return store and store:read(REPORTS .. "latest-" .. o.kind .. ".md") end)
      if ok and body then out(body); return M.EXIT.ok end
    end
    errors.raise{ code = "REPORT_NOT_FOUND", user = true, message = "no " .. o.kind .. " report in either region's state store" }
  elseif o.command == "drill" then
    return require("failover.drill").run(ctx, o, out)
  elseif o.command == "verify" then
    return require("failover.drill").verify_cmd(ctx, o, out)
  end

  local action = o.action
  if o.command ~= "plan" and not plan_file then
    ctx.view = regions.topology(ctx.set)
    local j = M.unfinished(ctx, action)
    if j then
      if not o.json then for _, l in ipairs(M.plan_lines(j.plan)) do out(l) end; out("") end
      return M.act(ctx, j.plan, emit_report, j)
    end
  end
  local p = M.plan(ctx, action)
  if plan_file then
    if plan_file.epoch_before ~= p.epoch_before or plan_file.active_before ~= p.active_before then
      errors.raise{ code = "STALE_PLAN", message = string.format("%s was planned at epoch %d (active %s); the topology is "
        .. "now at epoch %d (active %s): plan again", o.file, plan_file.epoch_before, plan_file.active_before,
        p.epoch_before, p.active_before) }
    end
    p = plan_file
  end
  if o.command == "plan" then
    if o.out then
      local f = assert(io.open(o.out, "w"))
      f:write(json.encode(p)); f:close()
      ctx.progress("plan saved to " .. o.out)
    end
    if o.json then out(json.encode(p)) else for _, l in ipairs(M.plan_lines(p)) do out(l) end end
    return M.EXIT.ok
  end
  if not o.json then for _, l in ipairs(M.plan_lines(p)) do out(l) end; out("") end
  return M.act(ctx, p, emit_report)
end

--- run(args): main for scripts/failover.lua; a refusal (exit 4) is a user error printed by the host.
function M.run(args)
  local ok, code = pcall(M.main, args)
  if ok then return code end
  local e = code
  if type(e) == "table" and e.exit then
    io.stderr:write("failover: ", errors.report(e, false), "\n")
    return e.exit
  end
  error(e, 0)
end

return M
