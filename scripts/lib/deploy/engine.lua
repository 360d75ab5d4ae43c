-- The deployment engine: plan (state + live reads -> actions with reasons), apply (dependency
-- order, bounded parallelism, state written after each resource), destroy, refresh, import.
-- A plan is data (JSON-serialisable); apply executes exactly its actions.
local lazy = require("deploy.lazy")
local util = require("deploy.util")
local diff = require("deploy.diff")
local dag = require("dag")
local task = require("task")
local resource = require("deploy.resource")
local drivers = require("deploy.drivers")
local snapshot = require("deploy.snapshot")
local err = require("errors")

local M = {}

M.PLAN_FORMAT = "drhost-plan/1"
M.CHANGING = { create = true, update = true, replace = true, delete = true, adopt = true, forget = true }

local function union(a, b)
  local out, seen = {}, {}
  for _, l in ipairs({ a or {}, b or {} }) do
    for _, x in ipairs(l) do if not seen[x] then seen[x] = true; out[#out + 1] = x end end
  end
  return out
end

--- resolve(res, lookup) -> rr: the resource with its lazy fields resolved.
function M.resolve(res, lookup)
  local rr = { addr = res.addr, provider = res.provider, type = res.type, api_version = res.api_version,
    create_only = res.create_only, sensitive = res.sensitive, ignore = res.ignore,
    preserve = res.preserve, retain = res.retain, write_once = res.write_once, spec = res }
  local u_id, u_ws, u_base = false, false, false
  local u_body
  if res.target then
    rr.base, u_base = lazy.resolve(res.target.body, lookup)
    rr.preserve = union(res.target.preserve, res.preserve)
    if res.id == nil then rr.id, u_id = lazy.resolve(res.target.id, lookup) end
  end
  if res.id ~= nil then rr.id, u_id = lazy.resolve(res.id, lookup) end
  rr.id_known = rr.id ~= nil and not u_id
  rr.body, u_body = lazy.resolve(res.body, lookup)
  if res.workspace ~= nil then rr.workspace, u_ws = lazy.resolve(res.workspace, lookup) end
  rr.unknown = u_id or u_body or u_ws or u_base
  rr.unknown_identity = u_id or u_ws
  return rr
end

--- fingerprint(stack): hash of every declaration (lazy values described, not resolved).
function M.fingerprint(stack)
  local parts = {}
  for _, r in ipairs(stack.resources) do
    parts[#parts + 1] = util.canonical({ r.addr, r.provider, r.type, r.api_version or "",
      lazy.describe(r.id), lazy.describe(r.body), lazy.describe(r.workspace) })
  end
  table.sort(parts)
  return util.hash(table.concat(parts, "\n"))
end

local function plainify(v)
  if v == lazy.UNKNOWN then return "(known after apply)" end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = plainify(x) end
  return out
end

local function new_run(ctx, stack, doc)
  local run = { ctx = ctx, stack = stack, state = doc, outputs = {}, pending = {} }
  run.lookup = function(res)
    local o = run.outputs[res.addr]
    if o ~= nil then return o end
    if run.pending[res.addr] then return nil end
    local e = doc.resources[res.addr]
    if e and e.outputs then return e.outputs end
    return nil
  end
  return run
end

--- graph(resources) -> the dependency graph (modules/dag.lua) of declared resources; raises
-- UNKNOWN_DEPENDENCY for a reference to a resource not declared in the stack.
function M.graph(resources)
  return dag.new(resources, resource.deps, {
    set = true,
    name = function(r) return r.addr end,
    unknown = function(r, d)
      err.raise("UNKNOWN_DEPENDENCY", r.addr .. " depends on " .. tostring(d.addr) ..
        ", which is not declared in this stack", { target = r.addr })
    end,
  })
end

local function target_set(stack, g, targets)
  if not targets or #targets == 0 then return nil end
  local list = {}
  for _, t in ipairs(targets) do
    local hit = false
    for _, r in ipairs(stack.resources) do
      if r.addr == t or r.addr:sub(1, #t + 1) == t .. "." then list[#list + 1] = r; hit = true end
    end
    if not hit then err.raise("UNKNOWN_TARGET", "--target " .. t .. ": no declared resource has this address") end
  end
  return g:closure(list)
end

local function classify(rr, live, entry, d)
  if live == nil then
    if entry then return "create", "recorded in state but not found live (deleted outside drhost?)", {} end
    if rr.unknown_identity then return "create", "new (its identity depends on resources not yet created)", {} end
    return "create", "not found", {}
  end
  local view = d.view and d.view(rr, live) or live
  local changes = diff.compare(rr.body, view, { ignore = util.keys_set(union(rr.ignore, rr.write_once)) })
  diff.mask(changes, rr.sensitive)
  if #changes == 0 then
    if entry then return "noop", "up to date", changes end
    return "adopt", "exists and matches; not in state yet: adopted", changes
  end
  local touches, p = diff.touches(changes, rr.create_only)
  local n = #changes
  local what = n == 1 and ("property " .. changes[1].path .. " differs") or (n .. " properties differ")
  if touches then
    return "replace", "create-only property " .. p .. " changed (" .. what .. ")", changes
  end
  if not entry and rr.provider ~= "arm_patch" and rr.provider ~= "arm_approve" then
    what = what .. "; exists but not in state: adopted"
  end
  return "update", what, changes
end

-- read_live(ctx, snap, rr, entry, d, reads) -> live: from the Resource Graph snapshot when it shows
-- the resource up to date (nothing to do), else with the driver's own read (GET). The snapshot
-- never decides a change: a resource it lacks or shows differing is read again before deciding.
-- reads counts what confirmed (graph: a Resource Graph row; list: an item of its parent's ARM list)
-- and what was read on its own (get, and get_types per provider and type).
local function count_get(reads, rr)
  reads.get = reads.get + 1
  local kind = tostring(rr.provider) .. " " .. tostring(rr.type)
  reads.get_types[kind] = (reads.get_types[kind] or 0) + 1
end

local function live_id(rr, entry) return rr.id_known and rr.id or (entry and entry.id) end

local function read_live(ctx, snap, rr, entry, d, reads)
  if snap and d.from_snapshot and not rr.unknown then
    local seen = d.from_snapshot(snap, rr, entry)
    if seen ~= nil and classify(rr, seen, entry, d) == "noop" then
      if snap:origin(live_id(rr, entry)) == "list" then reads.list = reads.list + 1 else reads.graph = reads.graph + 1 end
      return seen
    end
  end
  count_get(reads, rr)
  return d.read(ctx, rr, entry)
end

-- Children in state that the snapshot lacks (types Resource Graph does not index) and whose driver
-- names a list operation (d.list_of) are read, before the waves, with one list per parent that
-- holds 2+ of them, the lists at once (deploy.snapshot.load_lists); their items confirm as rows do.
-- -> ARM list calls made.
local function list_children(ctx, snap, stack, subset, run, doc)
  local wanted = {}
  for _, res in ipairs(stack.resources) do
    local entry = doc.resources[res.addr]
    if entry and (subset == nil or subset[res]) then
      -- a resource that cannot be resolved yet is left to its wave, which reports what is wrong
      local ok, l = pcall(function()
        local d = drivers.get(res.provider, res.type)
        if not (d.list_of and d.from_snapshot) then return nil end
        local rr = M.resolve(res, run.lookup)
        if rr.unknown or d.from_snapshot(snap, rr, entry) ~= nil then return nil end
        return d.list_of(rr, entry)
      end)
      if ok and l then wanted[#wanted + 1] = l end
    end
  end
  return snapshot.load_lists(ctx, snap, wanted)
end

--- plan(ctx, stack, doc, opts) -> plan (data). opts: targets, concurrency, destroy, read ("graph"
-- (default): the live estate from Resource Graph, and lists of the children it does not index,
-- where they confirm a resource, else GET; "each":
-- every resource with its own read), snapshot (a deploy.snapshot, for specs).
function M.plan(ctx, stack, doc, opts)
  opts = opts or {}
  local g = M.graph(stack.resources)
  local subset = target_set(stack, g, opts.targets)
  local run = new_run(ctx, stack, doc)
  local actions, errors = {}, {}
  local replaced = {}
  local snap = nil
  if not opts.destroy and opts.read ~= "each" then snap = opts.snapshot or snapshot.load(ctx, stack) end
  local reads = { graph = 0, list = 0, get = 0, get_types = {}, graph_calls = snap and snap.stats.calls or 0,
    list_calls = 0 }
  if snap and not opts.destroy then reads.list_calls = list_children(ctx, snap, stack, subset, run, doc) end
  if not opts.destroy then
    for _, wave in ipairs(g:waves(subset)) do
      local results = task.map(wave, function(res)
        local rr = M.resolve(res, run.lookup)
        local d = drivers.get(res.provider, res.type)
        local entry = doc.resources[res.addr]
        local live = read_live(ctx, snap, rr, entry, d, reads)
        return { rr = rr, live = live, d = d, entry = entry }
      end, { concurrency = opts.concurrency })
      for i, res in ipairs(wave) do
        local r = results[i]
        if not r.ok then
          errors[#errors + 1] = { addr = res.addr, error = r.error }
          run.pending[res.addr] = true
          actions[#actions + 1] = { addr = res.addr, provider = res.provider, type = res.type,
            action = "error", reason = err.text(r.error) }
        else
          local v = r.value
          local action, reason, changes = classify(v.rr, v.live, v.entry, v.d)
          if action == "noop" then
            -- a replaced dependency takes what hangs off it (grants, bindings) along: re-applied
            local by = nil
            for dep in pairs(resource.deps(res)) do
              if replaced[dep.addr] and (by == nil or dep.addr < by) then by = dep.addr end
            end
            if by then action, reason = "update", "re-applied: " .. by .. " is replaced" end
          end
          if action == "replace" then replaced[res.addr] = true end
          if action == "create" or action == "replace" then
            run.pending[res.addr] = true
          elseif v.live ~= nil then
            run.outputs[res.addr] = v.live
          end
          local a = { addr = res.addr, provider = res.provider, type = res.type, action = action,
            reason = reason, changes = plainify(changes) }
          if action == "create" then
            a.body = plainify(diff.mask_value(v.rr.body, v.rr.sensitive))
          end
          actions[#actions + 1] = a
        end
      end
    end
  end
  -- deletions: in state, not declared (or everything for destroy)
  local declared = stack.by_addr
  local dels = {}
  for addr, e in pairs(doc.resources) do
    local wanted = declared[addr] and not opts.destroy
    local in_target = true
    if opts.targets and #opts.targets > 0 then
      in_target = false
      for _, t in ipairs(opts.targets) do
        if addr == t or addr:sub(1, #t + 1) == t .. "." then in_target = true end
      end
    end
    if not wanted and in_target then
      dels[#dels + 1] = { addr = addr, provider = e.provider, type = e.type,
        action = e.retain and "forget" or "delete",
        reason = opts.destroy and "destroy requested" or "in state but no longer declared",
        changes = {} }
    end
  end
  table.sort(dels, function(a, b) return a.addr < b.addr end)
  for _, a in ipairs(dels) do actions[#actions + 1] = a end
  local summary = { create = 0, update = 0, replace = 0, delete = 0, adopt = 0, forget = 0, noop = 0, error = 0 }
  for _, a in ipairs(actions) do summary[a.action] = (summary[a.action] or 0) + 1 end
  local changed = 0
  for k in pairs(M.CHANGING) do changed = changed + summary[k] end
  return {
    format = M.PLAN_FORMAT, env = doc.env, serial = doc.serial or 0, lineage = doc.lineage,
    config = M.fingerprint(stack), targets = opts.targets, destroy = opts.destroy or false,
    created_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    actions = actions, summary = summary, changes = changed, errors = #errors, reads = reads,
    _run = run, _errors = errors,
  }
end

--- check_plan(plan, doc, stack): refuse a stale or foreign plan.
function M.check_plan(plan, doc, stack)
  if plan.format ~= M.PLAN_FORMAT then
    err.raise("BAD_PLAN", "not a drhost plan file (format " .. tostring(plan.format) .. ")")
  end
  if plan.env ~= doc.env then
    err.raise("BAD_PLAN", "plan is for env " .. tostring(plan.env) .. ", not " .. tostring(doc.env))
  end
  local foreign = plan.lineage and doc.lineage and plan.lineage ~= doc.lineage and (doc.serial or 0) > 0
  if (plan.serial or 0) ~= (doc.serial or 0) or foreign then
    err.raise("STALE_PLAN", "the state changed since this plan was made (plan serial " ..
      tostring(plan.serial) .. ", state serial " .. tostring(doc.serial) .. "): plan again")
  end
  if plan.config ~= M.fingerprint(stack) then
    err.raise("STALE_PLAN", "the configuration (env file or components) changed since this plan was made: plan again")
  end
  if (plan.errors or 0) > 0 then
    err.raise("BAD_PLAN", "the plan has errors; it cannot be applied")
  end
end

local function make_entry(rr, live, d, g, res)
  local deps = {}
  if g and res then for _, x in ipairs(g.deps[res] or {}) do deps[#deps + 1] = x.addr end end
  local outputs = d.outputs and d.outputs(rr, live) or live
  outputs = diff.mask_value(outputs, rr.sensitive)
  return {
    id = d.id and d.id(rr, live) or rr.id, provider = rr.provider, type = rr.type,
    api_version = rr.api_version,
    workspace = type(rr.workspace) == "string" and rr.workspace or nil,
    key = diff.mask_value(rr.body, rr.sensitive),
    outputs = outputs, body_hash = util.hash(rr.body), deps = deps, retain = rr.retain or nil,
  }
end

local function unresolved_paths(v, path, out)
  out = out or {}
  if v == lazy.UNKNOWN then out[#out + 1] = path; return out end
  if type(v) == "table" then
    for k, x in pairs(v) do unresolved_paths(x, path == "" and tostring(k) or (path .. "." .. tostring(k)), out) end
  end
  return out
end

--- apply(ctx, stack, st, plan, opts) -> report {applied = {...}, failed = {...}, skipped = {...}}
-- st: a state handle (deploy.statefile) holding the lease; opts.concurrency; opts.on_event(ev).
function M.apply(ctx, stack, st, plan, opts)
  opts = opts or {}
  local doc = st.doc
  local run = plan._run or new_run(ctx, stack, doc)
  run.state = doc
  local on_event = opts.on_event or function() end
  local g = M.graph(stack.resources)
  local acts = {}
  for _, a in ipairs(plan.actions) do acts[a.addr] = a end
  local report = { applied = {}, failed = {}, skipped = {}, started = os.time() }
  -- stale outputs of resources to be created/replaced must not satisfy references
  for addr, a in pairs(acts) do
    if a.action == "create" or a.action == "replace" then run.pending[addr] = true end
  end
  local work = {}
  for _, res in ipairs(stack.resources) do
    local a = acts[res.addr]
    if a and (a.action == "create" or a.action == "update" or a.action == "replace" or a.action == "adopt") then
      work[res] = true
    end
  end
  local function put(res)
    local a = acts[res.addr]
    local t0 = os.time()
    on_event{ kind = "start", addr = res.addr, action = a.action }
    local rr = M.resolve(res, run.lookup)
    if rr.unknown then
      local paths = unresolved_paths(rr.body, "body")
      if rr.unknown_identity then paths[#paths + 1] = "id/workspace" end
      err.raise("UNRESOLVED", res.addr .. ": references still unknown at apply time: " ..
        table.concat(paths, ", "), { target = res.addr })
    end
    local d = drivers.get(res.provider, res.type)
    local entry = doc.resources[res.addr]
    local live
    if a.action == "create" then
      live = d.create(ctx, rr)
    elseif a.action == "update" then
      local cur = d.read(ctx, rr, entry)
      if cur == nil then live = d.create(ctx, rr) else live = d.update(ctx, rr, cur, entry) end
    elseif a.action == "replace" then
      local old = entry or make_entry(rr, d.read(ctx, rr, nil) or {}, d)
      d.delete(ctx, old)
      live = d.create(ctx, rr)
    elseif a.action == "adopt" then
      live = d.read(ctx, rr, entry)
      if live == nil then live = d.create(ctx, rr) end
    end
    if live == nil then
      -- some APIs answer writes with an empty body; read back
      live = d.read(ctx, rr, entry) or {}
    end
    run.outputs[res.addr] = live
    run.pending[res.addr] = nil
    st:put(res.addr, make_entry(rr, live, d, g, res))
    return { elapsed = os.time() - t0 }
  end
  task.walk(g, put, {
    concurrency = opts.concurrency, subset = work,
    on_done = function(res, ok, v)
      local action = acts[res.addr].action
      if ok then
        report.applied[#report.applied + 1] = { addr = res.addr, action = action }
        on_event{ kind = "done", addr = res.addr, action = action, elapsed = v and v.elapsed }
      else
        on_event{ kind = "failed", addr = res.addr, action = action, error = v }
        report.failed[#report.failed + 1] = { addr = res.addr, error = err.text(v), raw = v }
      end
    end,
    -- a failure skips everything that depends on it, transitively
    on_skip = function(res, cause)
      report.skipped[#report.skipped + 1] = { addr = res.addr, reason = "dependency " .. cause.addr .. " failed" }
      on_event{ kind = "skipped", addr = res.addr, reason = "dependency " .. cause.addr .. " did not apply" }
    end,
  })
  -- deletions, dependents first (by the deps recorded in state)
  local dels, del_addrs = {}, {}
  for _, a in ipairs(plan.actions) do
    if a.action == "delete" or a.action == "forget" then dels[a.addr] = a; del_addrs[#del_addrs + 1] = a.addr end
  end
  if #del_addrs > 0 then
    table.sort(del_addrs)
    -- an address is deleted once everything in state that depends on it is gone
    local dependents = {}
    for _, addr in ipairs(del_addrs) do dependents[addr] = {} end
    for _, addr in ipairs(del_addrs) do
      local e = doc.resources[addr]
      for _, dep in ipairs(e and e.deps or {}) do
        if dels[dep] then table.insert(dependents[dep], addr) end
      end
    end
    local dg = dag.new(del_addrs, function(addr) return dependents[addr] end)
    task.walk(dg, function(addr)
      local a = dels[addr]
      on_event{ kind = "start", addr = addr, action = a.action }
      local e = doc.resources[addr]
      if e and a.action == "delete" then
        local d = drivers.get(e.provider, e.type)
        d.delete(ctx, e)
      end
      st:remove(addr)
    end, {
      concurrency = opts.concurrency,
      on_done = function(addr, ok, v)
        local action = dels[addr].action
        if ok then
          report.applied[#report.applied + 1] = { addr = addr, action = action }
          on_event{ kind = "done", addr = addr, action = action }
        else
          report.failed[#report.failed + 1] = { addr = addr, error = err.text(v), raw = v }
          on_event{ kind = "failed", addr = addr, action = action, error = v }
        end
      end,
      on_skip = function(addr, cause)
        report.skipped[#report.skipped + 1] = { addr = addr, reason = "dependent " .. cause .. " not deleted" }
      end,
    })
  end
  report.elapsed = os.time() - report.started
  report.ok = #report.failed == 0 and #report.skipped == 0
  return report
end

--- refresh(ctx, stack, st, opts) -> drift list; updates outputs in state (one save).
function M.refresh(ctx, stack, st, opts)
  local plan = M.plan(ctx, stack, st.doc, opts)
  local drift = {}
  for _, a in ipairs(plan.actions) do
    local e = st.doc.resources[a.addr]
    if e and (a.action == "update" or a.action == "replace" or a.action == "create") then
      drift[#drift + 1] = a
    end
    local live = plan._run.outputs[a.addr]
    if e and live ~= nil then
      local res = stack.by_addr[a.addr]
      e.outputs = diff.mask_value(live, res and res.sensitive)
    end
  end
  if #plan._errors > 0 then
    err.raise("REFRESH_FAILED", "refresh could not read " .. #plan._errors .. " resource(s): " ..
      err.text(plan._errors[1].error))
  end
  st:save()
  return drift, plan
end

--- import(ctx, stack, st, addr, id): adopt an existing object into state under addr.
function M.import(ctx, stack, st, addr, id)
  local res = stack.by_addr[addr]
  if not res then err.raise("UNKNOWN_TARGET", "import: no declared resource at " .. addr) end
  local run = new_run(ctx, stack, st.doc)
  local rr = M.resolve(res, run.lookup)
  local d = drivers.get(res.provider, res.type)
  if res.provider == "arm" then rr.id = id; rr.id_known = true end
  local live = d.read(ctx, rr, { id = id })
  if live == nil then err.raise("NOT_FOUND", "import: " .. addr .. ": nothing found at " .. tostring(id)) end
  st:put(addr, make_entry(rr, live, d, M.graph(stack.resources), res))
  return live
end

--- outputs(stack, doc): the stack's outputs resolved against state.
function M.outputs(stack, doc)
  local run = new_run(nil, stack, doc)
  local out = {}
  for name, v in pairs(stack.outputs) do
    local r = lazy.resolve(v, run.lookup)
    out[name] = plainify(r)
  end
  return out
end

return M
