-- Executes a replication plan on the task runtime (modules/task.lua): phase by phase, each
-- phase's actions as tasks (at most `parallelism` at once; their statements and REST calls go out
-- together on the one HTTP multi handle), an action once every action of its phase it needs has
-- run (views on views; a share's batches after the share), prune one at a time. Failure is per
-- object: an action whose object, or an object it needs, already failed is skipped with the
-- reason; everything independent goes on. Every few dozen finished clones the replication state
-- in dr is written (one DELETE + one INSERT, named parameters), so a run killed at any point
-- converges on the next one.
local errors = require("errors")
local plan_lib = require("replicate.plan")
local q = require("replicate.sqltext")
local dag = require("dag")
local task = require("task")
local web = require("web")

local M = {}

-- The actions of one phase as a graph: an action depends on the actions of the same phase whose
-- object it needs.
local function phase_graph(acts)
  local by_object = {}
  for _, a in ipairs(acts) do
    by_object[a.object] = by_object[a.object] or {}
    table.insert(by_object[a.object], a)
  end
  return dag.new(acts, function(a)
    local deps = {}
    for _, n in ipairs(a.needs or {}) do
      if n ~= a.object then
        for _, b in ipairs(by_object[n] or {}) do deps[#deps + 1] = b end
      end
    end
    return deps
  end, { name = function(a) return a.object end })
end

local function now_iso()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

--- clock() -> seconds on the monotonic clock, fractional.
M.clock = web.now

-- ctx = { src = { ws=, conn_for = function(catalog, schema) }, dst = { ... }, cfg=, run_id=,
--         progress = function(text) | nil, stats = { sql=, rest= } }
function M.run(plan, ctx)
  local cfg = ctx.cfg
  local conc = cfg.parallelism
  local stats = ctx.stats or {}
  stats.sql, stats.rest = stats.sql or 0, stats.rest or 0
  local progress = ctx.progress or function() end
  local results = {}          -- action id -> { status=, error=, elapsed=, metrics= }
  local failed_objects = {}   -- object -> reason
  local total, done = #plan.actions, 0
  local clock = M.clock

  local function mark(a, status, err, extra)
    local r = results[a.id] or {}
    r.status, r.error = status, err
    for k, v in pairs(extra or {}) do r[k] = v end
    results[a.id] = r
    if status == "failed" or status == "skipped" then
      -- a skipped object is as absent as a failed one for whatever needs it
      failed_objects[a.object] = failed_objects[a.object] or err or status
      local base = a.object:match("^(.-)#%d+$")   -- share batches fail their share
      if base then failed_objects[base] = err end
    end
    done = done + 1
  end

  local function blocked(a)
    if failed_objects[a.object] then return a.object .. " failed earlier: " .. failed_objects[a.object] end
    for _, n in ipairs(a.needs or {}) do
      if failed_objects[n] then return "needs " .. n .. ", which failed: " .. failed_objects[n] end
    end
    return nil
  end

  -- One step of an action, inside its task: a REST call or a statement. Returns an error text.
  local function run_step(a, s)
    local side = ctx[s.side or "dst"]
    if s.rest then
      local r = side.ws:all({ { method = s.rest.method, path = s.rest.path, body = s.rest.body, query = s.rest.query } },
        { concurrency = 1 })[1]
      stats.rest = stats.rest + 1
      if r.error then
        -- "already exists" on a create is success for a rerun after a kill
        local code = tostring(r.error.code or "")
        if s.rest.method == "POST" and (code == "RESOURCE_ALREADY_EXISTS" or r.status == 409) then
          a.notes = "already existed"
        else
          return errors.text(r.error)
        end
      end
      return nil
    end
    local r = side.conn_for(s.catalog, s.schema):many({ { s.sql, s.params } }, { concurrency = 1 })[1]
    stats.sql = stats.sql + 1
    if r.error then return errors.text(r.error) end
    if s.clone and r.rows and r.rows[1] then
      local m = r.rows[1]
      results[a.id].metrics = { num_copied_files = m.num_copied_files, copied_files_size = m.copied_files_size,
        num_removed_files = m.num_removed_files, source_num_of_files = m.source_num_of_files }
    end
    return nil
  end

  local function run_action(a)
    local why = blocked(a)
    if why then return mark(a, "skipped", why) end
    results[a.id] = results[a.id] or {}
    local t0 = clock()
    for _, s in ipairs(a.steps) do
      local e = run_step(a, s)
      if e then
        results[a.id].elapsed = clock() - t0
        return mark(a, "failed", e)
      end
    end
    results[a.id].elapsed = clock() - t0
    mark(a, "ok", nil)
  end

  -- Record the source version each successful clone reflects: one DELETE + one INSERT per wave.
  local function record(acts)
    local rows = {}
    for _, a in ipairs(acts) do
      if a.record and results[a.id] and results[a.id].status == "ok" then rows[#rows + 1] = a end
    end
    if #rows == 0 then return end
    local st = cfg.state
    local tbl = q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
    local conn = ctx.dst.conn_for(nil, nil)
    local ts = now_iso()
    for _, chunk in ipairs(require("replicate.shares").batches(rows, 200)) do
      local del_names, del_params, ins_rows, ins_params = {}, {}, {}, {}
      for i, a in ipairs(chunk) do
        local r = a.record
        del_names[#del_names + 1] = ":o" .. i
        del_params["o" .. i] = r.object
        ins_rows[#ins_rows + 1] = string.format("(:o%d, :s%d, :id%d, :v%d, :ts%d, :at, :run)", i, i, i, i, i)
        ins_params["o" .. i] = r.object
        ins_params["s" .. i] = r.source
        ins_params["id" .. i] = r.source_table_id and tostring(r.source_table_id) or { value = nil, type = "STRING" }
        ins_params["v" .. i] = r.source_version ~= nil and { value = math.tointeger(r.source_version) or r.source_version, type = "BIGINT" }
          or { value = nil, type = "BIGINT" }
        ins_params["ts" .. i] = r.source_commit_ts ~= nil and tostring(r.source_commit_ts) or { value = nil, type = "STRING" }
      end
      ins_params.at, ins_params.run = ts, ctx.run_id or ""
      local res = conn:many({
        { "DELETE FROM " .. tbl .. " WHERE object IN (" .. table.concat(del_names, ", ") .. ")", del_params },
      })
      stats.sql = stats.sql + 1
      local err = res[1].error
      if not err then
        res = conn:many({ { "INSERT INTO " .. tbl .. " (object, source, source_table_id, source_version, "
          .. "source_commit_ts, cloned_at, run_id) VALUES " .. table.concat(ins_rows, ", "), ins_params } })
        stats.sql = stats.sql + 1
        err = res[1].error
      end
      for _, a in ipairs(chunk) do
        if err then
          results[a.id].status = "failed"
          results[a.id].error = "cloned, but the replication state could not be written: " .. errors.text(err)
          failed_objects[a.object] = results[a.id].error
        else
          results[a.id].recorded_version = a.record.source_version
        end
      end
    end
  end

  local by_phase = {}
  for _, a in ipairs(plan.actions) do
    by_phase[a.phase] = by_phase[a.phase] or {}
    table.insert(by_phase[a.phase], a)
  end
  local started = os.time()
  local batch = math.max(conc * 8, 64)   -- clones recorded together; progress lines
  for _, phase in ipairs(plan_lib.PHASES) do
    local acts = by_phase[phase]
    if acts and #acts > 0 then
      progress(string.format("%-14s %d action(s)  [%d/%d done, %ds]", phase, #acts, done, total, os.time() - started))
      local g, limit = phase_graph(acts), conc
      if phase == "prune" then limit = 1 end
      local records, finished = {}, 0
      local recording = phase == "clone" or phase == "external_clone"
      if not pcall(g.waves, g) then   -- cannot happen with a plan from plan.build
        for _, a in ipairs(acts) do mark(a, "failed", "dependencies could not be ordered") end
        g = dag.new({}, function() end)
      end
      task.walk(g, run_action, {
        concurrency = limit,
        on_skip = function(a, cause)
          mark(a, "skipped", blocked(a) or ("needs " .. cause.object .. ", which failed"))
        end,
        on_done = function(a, ok, e)
          if not ok then mark(a, "failed", errors.text(e)) end
          finished = finished + 1
          if recording and results[a.id].status == "ok" and a.record then records[#records + 1] = a end
          if #records >= batch then record(records); records = {} end
          if #acts > batch and finished % batch == 0 then progress(string.format("%-14s %d/%d done", phase, done, total)) end
        end,
      })
      if #records > 0 then record(records) end
    end
  end
  return results
end

return M
